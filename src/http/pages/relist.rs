//! The admin page that relists an unsold lot: the new-auction form,
//! prefilled with the old lot's prices and a new end as far away as the old
//! lot ran, posting to the same relisting as the JSON API
//! (`crate::http::relist`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{Duration, Utc};

use super::admin::{field_errors, parse_new_auction, NewAuctionForm, NewAuctionPage};
use super::bidder::load_auction;
use super::context::PageCtx;
use super::errors::{sentence, PageError};
use super::render::{money_input, time_input, time_text, Flash, Section};
use crate::http::admin::MAX_TITLE_CHARS;
use crate::http::relist::{is_unsold, relist_auction, RelistAuction};
use crate::store::AuctionRecord;

/// How long a relisted lot runs when the old one ran for less (or its times
/// make no sense): one day.
const DEFAULT_RUN: Duration = Duration::days(1);

fn page(
    ctx: &PageCtx,
    old: &AuctionRecord,
    form: NewAuctionForm,
    errors: &serde_json::Map<String, serde_json::Value>,
) -> NewAuctionPage {
    let (errors, error_list) = field_errors(errors);
    NewAuctionPage {
        layout: ctx.layout(format!("Relist “{}”", old.title), Section::Admin),
        form,
        errors,
        error_list,
        now_text: time_text(Utc::now()),
        max_title: MAX_TITLE_CHARS,
        relisting: Some((old.id.to_string(), old.title.clone())),
    }
}

/// The form as the old lot suggests it: its prices, starting now, running
/// as long as it ran.
fn prefilled(old: &AuctionRecord) -> NewAuctionForm {
    let rules = &old.auction.rules;
    let ran = old.auction.initial_ends_at - rules.starts_at;
    let run = if ran > Duration::minutes(1) {
        ran
    } else {
        DEFAULT_RUN
    };
    NewAuctionForm {
        starting_price: money_input(rules.starting_price),
        reserve_price: rules.reserve_price.map(money_input).unwrap_or_default(),
        buy_now_price: rules.buy_now_price.map(money_input).unwrap_or_default(),
        ends_at: time_input(Utc::now() + run),
        extend_window_secs: rules.extend_window_secs.to_string(),
        ..NewAuctionForm::default()
    }
}

/// Sends the admin back to the old lot when it cannot be relisted.
async fn refuse_unless_relistable(
    ctx: &PageCtx,
    old: &AuctionRecord,
) -> Result<Option<HttpResponse>, PageError> {
    let back = format!("/admin/auctions/{}", old.id);
    if !is_unsold(old) {
        let flash = Flash::error("Only a lot that ended without a winner can be relisted.");
        return Ok(Some(ctx.redirect(&back, Some(flash))));
    }
    if ctx
        .state
        .store
        .relist_links(old.id)
        .await?
        .relisted_as
        .is_some()
    {
        let flash = Flash::error("This lot was relisted already.");
        return Ok(Some(ctx.redirect(&back, Some(flash))));
    }
    Ok(None)
}

/// `GET /admin/auctions/{id}/relist`
pub async fn relist_form(ctx: PageCtx, id: web::Path<String>) -> Result<HttpResponse, PageError> {
    ctx.require_admin()?;
    let old = load_auction(&ctx, &id).await?;
    if let Some(refused) = refuse_unless_relistable(&ctx, &old).await? {
        return Ok(refused);
    }
    let form = prefilled(&old);
    ctx.page(&page(&ctx, &old, form, &serde_json::Map::new()))
}

/// `POST /admin/auctions/{id}/relist`
pub async fn relist(
    ctx: PageCtx,
    id: web::Path<String>,
    form: web::Form<NewAuctionForm>,
) -> Result<HttpResponse, PageError> {
    ctx.check_csrf(&form.csrf)?;
    let admin = ctx.require_admin()?;
    let old = load_auction(&ctx, &id).await?;
    if let Some(refused) = refuse_unless_relistable(&ctx, &old).await? {
        return Ok(refused);
    }
    // The form's title, description and currency are not used: the new lot
    // keeps the old one's. Fill them in so the form's own checks pass.
    let mut typed = form.into_inner();
    typed.title = old.title.clone();
    typed.currency = old.currency.clone();
    let (input, mut errors) = parse_new_auction(&typed);
    if errors.is_empty() {
        let relisting = RelistAuction {
            starts_at: input.starts_at.clone(),
            ends_at: input.ends_at.clone(),
            starting_price: Some(input.starting_price),
            reserve_price: Some(input.reserve_price),
            buy_now_price: Some(input.buy_now_price),
            extend_window_secs: input.extend_window_secs,
        };
        match relist_auction(&ctx.state, admin, &old, &relisting).await {
            Ok(record) => {
                let flash = Flash::success(format!(
                    "“{}” relisted as a new lot; the old lot links to it.",
                    record.title
                ));
                return Ok(ctx.redirect(&format!("/admin/auctions/{}", record.id), Some(flash)));
            }
            Err(error) if error.status() == StatusCode::UNPROCESSABLE_ENTITY => {
                if let Some(fields) = error.error_object()["fields"].as_object() {
                    errors.extend(fields.clone());
                }
            }
            Err(error) if error.status() == StatusCode::CONFLICT => {
                let flash = Flash::error(sentence(error.message()));
                return Ok(ctx.redirect(&format!("/admin/auctions/{}", old.id), Some(flash)));
            }
            Err(error) => return Err(error.into()),
        }
    }
    let page = page(&ctx, &old, typed, &errors);
    ctx.page_with_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
}
