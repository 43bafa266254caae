//! Editing a lot (docs/api.md, "Editing a lot"): before its first bid an
//! admin may change the title, description, reserve and buy-now price;
//! after it only the description. The lot's actor decides the edit in
//! order with bids (`crate::auction::batch::apply_edit`), so a bid and an
//! edit never cross; every edit is audited with what changed, and the lot's
//! page says it was edited. Shared by the JSON admin API and the pages.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::admin::{admin_snapshot, audit, check_reason, MAX_DESCRIPTION_CHARS, MAX_TITLE_CHARS};
use super::auctions::load;
use super::identity::AdminUser;
use super::relist::present;
use super::{ApiError, ApiResult, AppState};
use crate::auction::{AdminAction, LotEdit, PriceEdit};
use crate::domain::text::{check_text, Lines};
use crate::domain::{buy_now_problem, Money, MAX_AMOUNT};
use crate::store::{AuctionRecord, User};

/// The body of `PATCH /api/v1/admin/auctions/{id}`: the fields to change;
/// `null` removes a reserve or buy-now price.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditAuction {
    pub title: Option<String>,
    pub description: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub reserve_price: Option<Option<Money>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub buy_now_price: Option<Option<Money>>,
    /// Why (kept in the audit log).
    pub reason: Option<String>,
}

/// The edit the body asks for, checked field by field.
pub fn validate_edit(input: &EditAuction) -> Result<LotEdit, ApiError> {
    let mut fields = Map::new();
    let title = input.title.as_deref().map(str::trim).map(str::to_owned);
    if let Some(title) = &title {
        let chars = title.chars().count();
        if let Err(control) = check_text(title, Lines::Single) {
            fields.insert("title".into(), control.to_string().into());
        } else if chars == 0 || chars > MAX_TITLE_CHARS {
            fields.insert(
                "title".into(),
                format!("must be 1 to {MAX_TITLE_CHARS} characters").into(),
            );
        }
    }
    let description = input
        .description
        .as_ref()
        .map(|text| text.replace("\r\n", "\n"));
    if let Some(description) = &description {
        if let Err(control) = check_text(description, Lines::Multi) {
            fields.insert(
                "description".into(),
                format!("{control}, other than line breaks and tabs").into(),
            );
        } else if description.chars().count() > MAX_DESCRIPTION_CHARS {
            fields.insert(
                "description".into(),
                format!("must be at most {MAX_DESCRIPTION_CHARS} characters").into(),
            );
        }
    }
    for (name, price) in [
        ("reserve_price", input.reserve_price),
        ("buy_now_price", input.buy_now_price),
    ] {
        if let Some(Some(amount)) = price {
            if !(1..=MAX_AMOUNT).contains(&amount) {
                fields.insert(
                    name.into(),
                    format!("must be between 1 and {MAX_AMOUNT} minor units").into(),
                );
            }
        }
    }
    let edit = LotEdit {
        title,
        description,
        reserve_price: input.reserve_price.map(|amount| PriceEdit { amount }),
        buy_now_price: input.buy_now_price.map(|amount| PriceEdit { amount }),
    };
    if edit == LotEdit::default() && fields.is_empty() {
        fields.insert("body".into(), "names nothing to change".into());
    }
    if fields.is_empty() {
        Ok(edit)
    } else {
        Err(ApiError::validation(fields))
    }
}

/// The buy-now price against the starting price and reserve as they will
/// be (the lot's actor checks again, against the lot as it is then).
fn check_prices(record: &AuctionRecord, edit: &LotEdit) -> Result<(), ApiError> {
    let rules = &record.auction.rules;
    let reserve = edit
        .reserve_price
        .map_or(rules.reserve_price, |edit| edit.amount);
    let buy_now = edit
        .buy_now_price
        .map_or(rules.buy_now_price, |edit| edit.amount);
    match buy_now.and_then(|buy_now| buy_now_problem(rules.starting_price, reserve, buy_now)) {
        Some(problem) => Err(ApiError::invalid_field("buy_now_price", problem)),
        None => Ok(()),
    }
}

/// `{"field": {"from": …, "to": …}}` for every field the edit changed.
fn changes(before: &AuctionRecord, after: &AuctionRecord) -> Value {
    let mut changed = Map::new();
    let mut note = |name: &str, from: Value, to: Value| {
        if from != to {
            changed.insert(name.into(), json!({ "from": from, "to": to }));
        }
    };
    note("title", json!(before.title), json!(after.title));
    note(
        "description",
        json!(before.description),
        json!(after.description),
    );
    let (was, now) = (&before.auction.rules, &after.auction.rules);
    note(
        "reserve_price",
        json!(was.reserve_price),
        json!(now.reserve_price),
    );
    note(
        "buy_now_price",
        json!(was.buy_now_price),
        json!(now.buy_now_price),
    );
    Value::Object(changed)
}

/// Edits lot `id` through its actor (shared with the pages), audited.
pub async fn edit_auction(
    state: &AppState,
    admin: &User,
    id: &str,
    input: &EditAuction,
) -> Result<AuctionRecord, ApiError> {
    let edit = validate_edit(input)?;
    let reason = input.reason.as_deref().map(check_reason).transpose()?;
    let before = load(state, id).await?;
    check_prices(&before, &edit)?;
    let after = state
        .registry
        .admin(before.id, AdminAction::Edit(edit))
        .await?;
    tracing::info!(auction.id = %before.id, admin.id = %admin.id, "lot edited");
    audit(
        state,
        admin,
        "auction.edit",
        before.id.to_string(),
        json!({ "title": after.title, "changes": changes(&before, &after), "reason": reason }),
    )
    .await;
    Ok(after)
}

/// `PATCH /api/v1/admin/auctions/{id}`
pub async fn edit(
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<String>,
    body: web::Json<EditAuction>,
) -> ApiResult<HttpResponse> {
    let record = edit_auction(&state, &admin.0, &id, &body).await?;
    let mut body = admin_snapshot(&record);
    body["edited_at"] = json!(state
        .store
        .last_edit(record.id)
        .await?
        .map(crate::auction::view::rfc3339));
    Ok(HttpResponse::Ok().json(body))
}
