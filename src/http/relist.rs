//! Relisting: an admin puts a lot that ended without a winner up again as a
//! new lot, linked to the old one (docs/api.md, "Relisting"). The new lot
//! takes the old one's title, description and currency; its times, and
//! optionally its prices, are given. A lot is relisted at most once: the
//! store's link table decides, in the transaction that creates the new lot.
//! Shared by the JSON admin API and the admin pages.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::Utc;
use serde::{Deserialize, Deserializer};
use serde_json::json;

use super::admin::{admin_snapshot, audit, new_auction_record, start_if_due, CreateAuction};
use super::auctions::load;
use super::identity::AdminUser;
use super::{ApiError, ApiResult, AppState};
use crate::domain::{AuctionStatus, Money};
use crate::store::{AuctionRecord, RelistOutcome, User};

/// The body of `POST /api/v1/admin/auctions/{id}/relist`. A price left out
/// is the old lot's; `null` removes a reserve or a buy-now price.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RelistAuction {
    pub starts_at: Option<String>,
    pub ends_at: String,
    #[schema(value_type = Option<i64>)]
    pub starting_price: Option<Money>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub reserve_price: Option<Option<Money>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub buy_now_price: Option<Option<Money>>,
    pub extend_window_secs: Option<i64>,
}

/// A field that is present: `Some(value)`, where `value` may be `None` for
/// `null` (an absent field stays `None` through `#[serde(default)]`).
pub(crate) fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Why a lot cannot be relisted.
fn not_relistable(message: &str) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, "not_relistable", message)
}

/// Whether the lot ended without a winner: closed unsold (no bids, reserve
/// not met, withdrawn) or cancelled.
pub fn is_unsold(record: &AuctionRecord) -> bool {
    match record.auction.state.status {
        AuctionStatus::Closed => record.auction.state.winner.is_none(),
        AuctionStatus::Cancelled => true,
        AuctionStatus::Live => false,
    }
}

/// The new lot's fields: the old lot's, with the relisting's overrides.
fn new_lot_input(old: &AuctionRecord, input: &RelistAuction) -> CreateAuction {
    let rules = &old.auction.rules;
    CreateAuction {
        title: old.title.clone(),
        description: old.description.clone(),
        currency: old.currency.clone(),
        starting_price: input.starting_price.unwrap_or(rules.starting_price),
        reserve_price: input.reserve_price.unwrap_or(rules.reserve_price),
        buy_now_price: input.buy_now_price.unwrap_or(rules.buy_now_price),
        starts_at: input.starts_at.clone(),
        ends_at: input.ends_at.clone(),
        extend_window_secs: Some(input.extend_window_secs.unwrap_or(rules.extend_window_secs)),
    }
}

/// Relists the lot `old` (shared by the JSON API and the pages): the new
/// lot, created and audited, or why not.
pub async fn relist_auction(
    state: &AppState,
    admin: &User,
    old: &AuctionRecord,
    input: &RelistAuction,
) -> Result<AuctionRecord, ApiError> {
    if !is_unsold(old) {
        return Err(not_relistable(
            "only a lot that ended without a winner can be relisted",
        ));
    }
    if let Some(new) = state.store.relist_links(old.id).await?.relisted_as {
        return Err(not_relistable(&format!(
            "this lot was relisted already, as {new}"
        )));
    }
    let record = new_auction_record(admin, &new_lot_input(old, input), Utc::now())?;
    match state
        .store
        .relist_auction(&record, old.id, admin.id)
        .await?
    {
        RelistOutcome::Relisted => {}
        RelistOutcome::AlreadyRelisted => {
            return Err(not_relistable("this lot was relisted already"))
        }
        RelistOutcome::OfferStands => {
            return Err(not_relistable(
                "a second-chance offer on this lot is open or was accepted",
            ))
        }
    }
    tracing::info!(auction.id = %old.id, relisted_as = %record.id, admin.id = %admin.id, "lot relisted");
    audit(
        state,
        admin,
        "auction.relist",
        old.id.to_string(),
        json!({ "title": old.title, "relisted_as": record.id.to_string() }),
    )
    .await;
    audit(
        state,
        admin,
        "auction.create",
        record.id.to_string(),
        json!({ "title": record.title, "relisted_from": old.id.to_string() }),
    )
    .await;
    start_if_due(state).await;
    Ok(record)
}

/// `POST /api/v1/admin/auctions/{id}/relist`
pub async fn relist(
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<String>,
    body: web::Json<RelistAuction>,
) -> ApiResult<HttpResponse> {
    let old = load(&state, &id).await?;
    let record = relist_auction(&state, &admin.0, &old, &body).await?;
    let mut body = admin_snapshot(&record);
    body["relisted_from"] = json!(old.id.to_string());
    Ok(HttpResponse::Created().json(body))
}
