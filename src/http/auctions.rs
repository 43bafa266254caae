//! Public reads: the auction list, a snapshot, the bid history, server time.

use actix_web::{web, HttpResponse};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::parse_id;
use super::{ApiError, ApiResult, AppState};
use crate::auction::view::{rfc3339, Snapshot};
use crate::domain::alias::bidder_alias;
use crate::domain::{Money, PublicStatus};
use crate::store::AuctionRecord;

/// The most auctions one list answer carries.
const LIST_LIMIT: i64 = 500;
/// The most bids one history answer carries (docs/api.md, Pagination).
pub const HISTORY_LIMIT: i64 = 1000;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only auctions of this status; empty or absent = all.
    #[param(value_type = Option<PublicStatus>)]
    status: Option<String>,
}

/// `GET /api/v1/auctions`: at most 500 auctions, soonest end first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuctionList {
    pub auctions: Vec<Snapshot>,
}

/// One bid of the public history.
#[derive(Debug, Serialize, ToSchema)]
pub struct BidEntry {
    pub seq: i64,
    #[schema(value_type = Option<i64>)]
    pub amount: Option<Money>,
    /// The bidder's alias.
    pub bidder: Option<String>,
    #[schema(value_type = Option<BidKindName>)]
    pub kind: Option<String>,
    pub at: String,
    /// Struck out by an admin's void (the bid, or an automatic bid placed
    /// from it); it no longer counts, and stays in the history.
    pub voided: bool,
}

/// How a bid was placed: by the bidder, by the engine from the bidder's
/// maximum, or by buying now.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BidKindName {
    Bid,
    Auto,
    BuyNow,
}

/// `GET /api/v1/auctions/{id}/bids`: a page of bids, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct BidHistory {
    pub bids: Vec<BidEntry>,
}

/// `GET /api/v1/time`: the server's clock.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServerTime {
    pub now: String,
}

/// Parses a `?status=` value.
pub fn parse_status(text: &str) -> Option<PublicStatus> {
    match text {
        "scheduled" => Some(PublicStatus::Scheduled),
        "open" => Some(PublicStatus::Open),
        "closed" => Some(PublicStatus::Closed),
        "cancelled" => Some(PublicStatus::Cancelled),
        _ => None,
    }
}

/// `GET /api/v1/auctions?status=…`
pub async fn list(
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> ApiResult<HttpResponse> {
    let filter = match query.status.as_deref() {
        None | Some("") => None,
        Some(text) => Some(parse_status(text).ok_or_else(|| {
            ApiError::bad_request("status must be scheduled, open, closed or cancelled")
        })?),
    };
    let now = Utc::now();
    let records = state.store.list_auctions(filter, now, LIST_LIMIT).await?;
    let auctions: Vec<Snapshot> = records.iter().map(|r| Snapshot::of(r, now)).collect();
    Ok(HttpResponse::Ok().json(AuctionList { auctions }))
}

/// Loads an auction or answers 404.
pub async fn load(state: &AppState, id: &str) -> ApiResult<AuctionRecord> {
    let id = parse_id(id, "auction")?;
    state
        .store
        .auction(id)
        .await?
        .ok_or_else(|| ApiError::not_found("auction"))
}

/// `GET /api/v1/auctions/{id}`
pub async fn show(state: web::Data<AppState>, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let record = load(&state, &id).await?;
    Ok(HttpResponse::Ok().json(Snapshot::of(&record, Utc::now())))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Bids with a greater `seq` (default 0, not negative).
    #[param(minimum = 0)]
    after: Option<i64>,
    /// The most bids in the answer (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

/// `GET /api/v1/auctions/{id}/bids?after=SEQ&limit=N`
pub async fn bids(
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<HistoryQuery>,
) -> ApiResult<HttpResponse> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=HISTORY_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and {HISTORY_LIMIT}"
        )));
    }
    let after = query.after.unwrap_or(0);
    if after < 0 {
        return Err(ApiError::bad_request("after must not be negative"));
    }
    let record = load(&state, &id).await?;
    let events = state
        .store
        .bid_events_after(record.id, after, limit)
        .await?;
    let struck = crate::auction::history::struck_bids(state.store.as_ref(), record.id).await?;
    let bids = events
        .iter()
        .map(|event| BidEntry {
            voided: struck.contains(&event.seq),
            seq: event.seq,
            amount: event.amount,
            bidder: event.bidder.map(|user| bidder_alias(record.id, user)),
            kind: event.bid_kind.clone(),
            at: rfc3339(event.at),
        })
        .collect();
    Ok(HttpResponse::Ok().json(BidHistory { bids }))
}

/// `GET /api/v1/time`
pub async fn time() -> HttpResponse {
    HttpResponse::Ok().json(ServerTime {
        now: rfc3339(Utc::now()),
    })
}
