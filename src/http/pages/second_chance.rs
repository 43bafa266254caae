//! Second-chance offers on the pages: the banner on the lot page and the
//! list on My bids that let the bidder accept or decline, the public line on
//! a lot sold by an accepted offer, and the admin's form on the lot's admin
//! page. Everything goes through `crate::http::second_chance`.

use actix_web::{web, HttpResponse};
use chrono::Utc;
use serde::Deserialize;

use super::bidder::load_auction;
use super::context::PageCtx;
use super::errors::{sentence, PageError};
use super::render::{money, time_text, Flash};
use crate::auction::view::rfc3339;
use crate::http::second_chance::{decide_offer, make_offer, offer_terms, offers_of};
use crate::store::{AuctionRecord, SecondChanceOffer, User};

/// An offer as the pages show it.
#[derive(Debug, Clone)]
pub struct OfferView {
    pub auction_id: String,
    pub title: String,
    /// `open`, `accepted`, `declined` or `expired`.
    pub status: &'static str,
    pub amount_text: String,
    pub expires_at: String,
    pub expires_text: String,
}

impl OfferView {
    pub fn of(record: &AuctionRecord, offer: &SecondChanceOffer) -> Self {
        Self {
            auction_id: record.id.to_string(),
            title: record.title.clone(),
            status: offer.status_at(Utc::now()),
            amount_text: money(offer.amount, &record.currency),
            expires_at: rfc3339(offer.expires_at),
            expires_text: time_text(offer.expires_at),
        }
    }

    pub fn is_open(&self) -> bool {
        self.status == "open"
    }
}

/// What the lot page says about the lot's offer: to its bidder, the offer
/// (to answer while open); to everyone, that it sold by an accepted offer.
#[derive(Debug, Clone, Default)]
pub struct OfferBanner {
    /// The viewer's own offer on this lot.
    pub mine: Option<OfferView>,
    /// "Sold after the close by a second-chance offer for €X." or empty.
    pub public_text: String,
}

/// The banner for `viewer` on `record`'s page.
pub async fn banner(
    ctx: &PageCtx,
    record: &AuctionRecord,
    viewer: Option<&User>,
) -> Result<OfferBanner, PageError> {
    let Some(offer) = ctx.state.store.offer(record.id).await? else {
        return Ok(OfferBanner::default());
    };
    let public_text = if offer.status_at(Utc::now()) == "accepted" {
        format!(
            "Sold after the close by a second-chance offer for {}.",
            money(offer.amount, &record.currency)
        )
    } else {
        String::new()
    };
    let mine = viewer
        .filter(|user| user.id == offer.user_id)
        .map(|_| OfferView::of(record, &offer));
    Ok(OfferBanner { mine, public_text })
}

/// The viewer's offers, newest first, for My bids.
pub async fn my_offers(ctx: &PageCtx, user: &User) -> Result<Vec<OfferView>, PageError> {
    Ok(offers_of(&ctx.state, user)
        .await?
        .iter()
        .map(|(record, offer)| OfferView::of(record, offer))
        .collect())
}

#[derive(Debug, Deserialize)]
pub struct AnswerForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    answer: String,
    /// Where to go back to (`/me/bids` or the lot page).
    #[serde(default)]
    back: String,
}

/// `POST /auctions/{id}/second-chance`: accept or decline.
pub async fn answer(
    ctx: PageCtx,
    id: web::Path<String>,
    form: web::Form<AnswerForm>,
) -> Result<HttpResponse, PageError> {
    ctx.check_csrf(&form.csrf)?;
    let user = ctx.require_user()?;
    let accept = match form.answer.as_str() {
        "accept" => true,
        "decline" => false,
        _ => return Err(PageError::BadRequest("Choose accept or decline.".into())),
    };
    let back = if form.back == "/me/bids" {
        "/me/bids".to_owned()
    } else {
        format!("/auctions/{id}")
    };
    let flash = match decide_offer(&ctx.state, user, &id, accept).await {
        Ok((record, offer)) if accept => Flash::success(format!(
            "You bought “{}” for {}. The auction house will be in touch about payment.",
            record.title,
            money(offer.amount, &record.currency)
        )),
        Ok((record, _)) => Flash::success(format!("You declined the offer on “{}”.", record.title)),
        Err(error) if error.status().is_client_error() && error.status().as_u16() != 403 => {
            Flash::error(sentence(error.message()))
        }
        Err(error) => return Err(error.into()),
    };
    Ok(ctx.redirect(&back, Some(flash)))
}

/// The admin page's view of the lot's offer: what it is, or whether one
/// may be made and to whom.
#[derive(Debug, Clone, Default)]
pub struct AdminOfferView {
    /// "Offered to bidder-… (ada) at €20.50 until …: open." or empty.
    pub text: String,
    /// Set when an offer may be made: "bidder-… (ada) at €20.50".
    pub can_offer_to: String,
    /// An offer is open or accepted: the lot is not relisted.
    pub holds_lot: bool,
}

/// The admin page's offer section for `record`.
pub async fn admin_view(
    ctx: &PageCtx,
    record: &AuctionRecord,
    relisted: bool,
) -> Result<AdminOfferView, PageError> {
    let store = &ctx.state.store;
    let name = |user: Option<User>, id| match user {
        Some(user) => format!(
            "{} ({})",
            crate::domain::alias::bidder_alias(record.id, id),
            user.username
        ),
        None => crate::domain::alias::bidder_alias(record.id, id),
    };
    if let Some(offer) = store.offer(record.id).await? {
        let who = name(store.user_by_id(offer.user_id).await?, offer.user_id);
        return Ok(AdminOfferView {
            text: format!(
                "Second-chance offer to {who} at {}, until {}: {}.",
                money(offer.amount, &record.currency),
                time_text(offer.expires_at),
                offer.status_at(Utc::now())
            ),
            can_offer_to: String::new(),
            holds_lot: offer.stands_at(Utc::now()),
        });
    }
    match offer_terms(record) {
        Ok((user, amount)) if !relisted => Ok(AdminOfferView {
            text: String::new(),
            can_offer_to: format!(
                "{} at {}",
                name(store.user_by_id(user).await?, user),
                money(amount, &record.currency)
            ),
            holds_lot: false,
        }),
        _ => Ok(AdminOfferView::default()),
    }
}

#[derive(Debug, Deserialize)]
pub struct OfferForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    hours: String,
}

/// `POST /admin/auctions/{id}/second-chance`
pub async fn make(
    ctx: PageCtx,
    id: web::Path<String>,
    form: web::Form<OfferForm>,
) -> Result<HttpResponse, PageError> {
    ctx.check_csrf(&form.csrf)?;
    let admin = ctx.require_admin()?;
    let record = load_auction(&ctx, &id).await?;
    let back = format!("/admin/auctions/{}", record.id);
    let Ok(hours) = form.hours.trim().parse::<i64>() else {
        return Ok(ctx.redirect(
            &back,
            Some(Flash::error("Choose how long the offer stays open.")),
        ));
    };
    let flash = match make_offer(&ctx.state, admin, &id, Some(hours)).await {
        Ok((_, offer)) => Flash::success(format!(
            "Offer made; the bidder has until {} to answer.",
            time_text(offer.expires_at)
        )),
        Err(error) if error.status().is_client_error() => Flash::error(sentence(error.message())),
        Err(error) => return Err(error.into()),
    };
    Ok(ctx.redirect(&back, Some(flash)))
}
