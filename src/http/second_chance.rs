//! Second-chance offers (docs/api.md, "Second-chance offers"): after a lot
//! closes with its reserve not met, an admin may offer it to its highest
//! bidder at their highest bid (the price they led at); the bidder accepts
//! or declines before the deadline, after which the offer has expired. One
//! offer per lot; a lot with a standing offer is not relisted, and a
//! relisted lot gets no offer (the store decides both one after the other).
//! Shared by the JSON API and the pages.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::admin::audit;
use super::auctions::load;
use super::extract::parse_id;
use super::identity::{AdminUser, AuthUser};
use super::{ApiError, ApiResult, AppState};
use crate::auction::view::rfc3339;
use crate::domain::alias::bidder_alias;
use crate::domain::{AuctionStatus, Money, UserId};
use crate::store::{AuctionRecord, SecondChanceOffer, User};

/// How long an offer stays open unless the admin says otherwise.
pub const DEFAULT_OFFER_HOURS: i64 = 48;
/// The longest an offer may stay open: a week.
pub const MAX_OFFER_HOURS: i64 = 168;

/// The body of `POST /api/v1/admin/auctions/{id}/second-chance`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfferRequest {
    /// How long the bidder has to answer, 1 to 168 hours (default 48).
    pub hours: Option<i64>,
}

fn no_second_chance(message: &str) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, "no_second_chance", message)
}

/// To whom, and at what price, the lot may be offered: its leader at the
/// close, at the price they led at. Only for a lot closed without a winner
/// because its reserve was not met, whose leader is not barred.
pub fn offer_terms(record: &AuctionRecord) -> Result<(UserId, Money), &'static str> {
    let auction = &record.auction;
    if auction.state.status != AuctionStatus::Closed || auction.state.winner.is_some() {
        return Err("only a lot closed without a winner can get a second-chance offer");
    }
    let Some(leader) = auction.state.leader else {
        return Err("the lot had no bids");
    };
    if auction.rules.reserve_price.is_none() || auction.reserve_met() {
        return Err("the lot did not fail on its reserve");
    }
    if auction.barred.contains(&leader.user) {
        return Err("the highest bidder is barred on this lot");
    }
    Ok((leader.user, auction.state.price))
}

/// The offer as the API shows it; `admin` adds who it is for.
pub fn offer_json(
    offer: &SecondChanceOffer,
    record: &AuctionRecord,
    now: DateTime<Utc>,
    admin: bool,
) -> Value {
    let mut value = json!({
        "auction_id": offer.auction_id.to_string(),
        "title": record.title,
        "currency": record.currency,
        "amount": offer.amount,
        "status": offer.status_at(now),
        "created_at": rfc3339(offer.created_at),
        "expires_at": rfc3339(offer.expires_at),
        "decided_at": offer.decided_at.map(rfc3339),
    });
    if admin {
        value["user_id"] = json!(offer.user_id.to_string());
        value["bidder"] = json!(bidder_alias(record.id, offer.user_id));
    }
    value
}

/// Makes the offer on lot `id` (shared with the pages), audited.
pub async fn make_offer(
    state: &AppState,
    admin: &User,
    id: &str,
    hours: Option<i64>,
) -> Result<(AuctionRecord, SecondChanceOffer), ApiError> {
    let hours = hours.unwrap_or(DEFAULT_OFFER_HOURS);
    if !(1..=MAX_OFFER_HOURS).contains(&hours) {
        return Err(ApiError::invalid_field(
            "hours",
            format!("must be between 1 and {MAX_OFFER_HOURS}"),
        ));
    }
    let record = load(state, id).await?;
    let (user, amount) = offer_terms(&record).map_err(no_second_chance)?;
    if !state.store.banned_among(&[user]).await?.is_empty() {
        return Err(no_second_chance("the highest bidder is banned"));
    }
    let now = Utc::now();
    let offer = SecondChanceOffer {
        auction_id: record.id,
        user_id: user,
        amount,
        created_at: now,
        expires_at: now + Duration::hours(hours),
        created_by: admin.id,
        status: crate::store::OfferStatus::Open,
        decided_at: None,
    };
    if !state.store.create_offer(&offer).await? {
        return Err(no_second_chance(
            "this lot has had a second-chance offer already, or was relisted",
        ));
    }
    tracing::info!(auction.id = %record.id, user.id = %user, amount, "second-chance offer made");
    audit(
        state,
        admin,
        "auction.second_chance",
        record.id.to_string(),
        json!({
            "title": record.title,
            "user_id": user.to_string(),
            "amount": amount,
            "expires_at": rfc3339(offer.expires_at),
        }),
    )
    .await;
    Ok((record, offer))
}

/// The bidder accepts or declines their offer on lot `id` (shared with the
/// pages): the offer afterwards, or why not.
pub async fn decide_offer(
    state: &AppState,
    user: &User,
    id: &str,
    accept: bool,
) -> Result<(AuctionRecord, SecondChanceOffer), ApiError> {
    let auction = parse_id(id, "offer")?;
    let mine = |offer: &Option<SecondChanceOffer>| {
        offer.as_ref().is_some_and(|offer| offer.user_id == user.id)
    };
    let offer = state.store.offer(auction).await?;
    if !mine(&offer) {
        return Err(ApiError::not_found("offer"));
    }
    if accept && user.banned {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "banned",
            "your account is banned from bidding",
        ));
    }
    let now = Utc::now();
    if !state
        .store
        .decide_offer(auction, user.id, accept, now)
        .await?
    {
        let status = offer.map_or("gone", |offer| offer.status_at(now));
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "offer_closed",
            format!("this offer is {status}; it can no longer be answered"),
        ));
    }
    tracing::info!(auction.id = %auction, user.id = %user.id, accept, "second-chance offer answered");
    let offer = state
        .store
        .offer(auction)
        .await?
        .ok_or_else(|| ApiError::not_found("offer"))?;
    let record = load(state, id).await?;
    Ok((record, offer))
}

/// `POST /api/v1/admin/auctions/{id}/second-chance`
pub async fn create(
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<String>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let body: OfferRequest = super::extract::optional_json(&body)?;
    let (record, offer) = make_offer(&state, &admin.0, &id, body.hours).await?;
    Ok(HttpResponse::Created().json(offer_json(&offer, &record, Utc::now(), true)))
}

/// `POST /api/v1/auctions/{id}/second-chance/accept`
pub async fn accept(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let (record, offer) = decide_offer(&state, &user.0, &id, true).await?;
    Ok(HttpResponse::Ok().json(offer_json(&offer, &record, Utc::now(), false)))
}

/// `POST /api/v1/auctions/{id}/second-chance/decline`
pub async fn decline(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let (record, offer) = decide_offer(&state, &user.0, &id, false).await?;
    Ok(HttpResponse::Ok().json(offer_json(&offer, &record, Utc::now(), false)))
}

/// The user's offers with their lots, newest first (shared with the pages).
pub async fn offers_of(
    state: &AppState,
    user: &User,
) -> Result<Vec<(AuctionRecord, SecondChanceOffer)>, ApiError> {
    let mut lots: std::collections::HashMap<_, _> = state
        .store
        .auctions_offered_to(user.id)
        .await?
        .into_iter()
        .map(|record| (record.id, record))
        .collect();
    Ok(state
        .store
        .offers_for(user.id)
        .await?
        .into_iter()
        .filter_map(|offer| Some((lots.remove(&offer.auction_id)?, offer)))
        .collect())
}

/// `GET /api/v1/me/offers`
pub async fn mine(state: web::Data<AppState>, user: AuthUser) -> ApiResult<HttpResponse> {
    let now = Utc::now();
    let offers: Vec<Value> = offers_of(&state, &user.0)
        .await?
        .iter()
        .map(|(record, offer)| offer_json(offer, record, now, false))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "offers": offers })))
}
