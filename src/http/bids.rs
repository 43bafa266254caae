//! `POST /api/v1/auctions/{id}/bids` and the bid path shared with the
//! WebSocket and the pages: validation, ban and rate checks, then the
//! auction's actor (which refuses the auction's creator); every bid by an
//! admin is written to the audit log.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use tracing::Instrument;

use super::extract::parse_id;
use super::identity::AuthUser;
use super::{ApiError, ApiResult, AppState};
use crate::auction::commands::BidPayload;
use crate::auction::view::error_body;
use crate::auction::{BidCommandKind, BidReply};
use crate::domain::engine::check_bid_amounts;
use crate::domain::text::{check_text, Lines};
use crate::domain::{AuctionId, Money};
use crate::store::{StoredAnswer, User};

/// The longest `request_id` accepted.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// A bid.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BidBody {
    /// Chosen by the client, 1–128 printable ASCII characters, unique per
    /// (auction, user); sending it again returns the first answer.
    pub request_id: String,
    /// The bid, at least the auction's `min_next_bid`.
    #[schema(value_type = i64, minimum = 1, maximum = 1_000_000_000_000_i64)]
    pub amount: Money,
    /// The most the bidder will pay (the engine bids for them up to it); at least `amount`.
    #[schema(value_type = Option<i64>, maximum = 1_000_000_000_000_i64)]
    pub max_amount: Option<Money>,
}

/// Checks a client-chosen request id: 1–128 printable ASCII characters
/// (a control character is `validation_failed`, as in every text field).
pub fn check_request_id(request_id: &str) -> Result<(), ApiError> {
    check_text(request_id, Lines::Single)
        .map_err(|control| ApiError::invalid_field("request_id", control.to_string()))?;
    let ok = !request_id.is_empty()
        && request_id.len() <= MAX_REQUEST_ID_LEN
        && request_id.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request_id",
            format!("request_id must be 1 to {MAX_REQUEST_ID_LEN} printable ASCII characters"),
        ))
    }
}

/// Everything between a parsed bid and its answer, for HTTP and WebSocket.
/// Returns the answer (BidResult or rejection) as a stored answer.
pub async fn place(
    state: &AppState,
    user: &User,
    auction: AuctionId,
    request_id: String,
    kind: BidCommandKind,
) -> Result<StoredAnswer, ApiError> {
    check_request_id(&request_id)?;
    if let BidCommandKind::Bid { amount, max_amount } = kind {
        if let Err(rejection) = check_bid_amounts(amount, max_amount) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                rejection.code(),
                rejection.to_string(),
            ));
        }
    }
    if user.banned {
        // A retry of a request decided before the ban still gets its first
        // answer; anything new is refused. (The actor refuses banned bidders
        // too, for sessions that were resolved before the ban.)
        let key = (user.id, request_id.clone());
        let mut earlier = state
            .store
            .stored_answers(auction, std::slice::from_ref(&key))
            .await?;
        return Ok(earlier.remove(&key).unwrap_or_else(|| StoredAnswer {
            http_status: 403,
            body: error_body("banned", "your account is banned from bidding", None),
        }));
    }
    if !state.bid_limiter.allow(user.id) {
        metrics::counter!("gavel_bids_decided_total", "outcome" => "rejected", "code" => "rate_limited")
            .increment(1);
        return Err(ApiError::rate_limited());
    }
    let payload = BidPayload {
        user: user.id,
        request_id,
        kind,
    };
    let audited = user.is_admin().then(|| payload.clone());
    let started = std::time::Instant::now();
    let reply = state.registry.submit_bid(auction, payload).await?;
    metrics::histogram!("gavel_bid_answer_seconds").record(started.elapsed().as_secs_f64());
    let answer = match reply {
        BidReply::Answer(answer) => answer,
        BidReply::Unavailable => return Err(ApiError::unavailable()),
    };
    if let Some(payload) = audited {
        audit_admin_bid(state, user, auction, &payload, &answer).await;
    }
    Ok(answer)
}

/// Writes an admin's bid (or buy now) and its answer to the audit log: an
/// admin may bid on another admin's auction, and that is on record. (On
/// their own auction the actor refuses them; the attempt is on record too.)
async fn audit_admin_bid(
    state: &AppState,
    admin: &User,
    auction: AuctionId,
    payload: &BidPayload,
    answer: &StoredAnswer,
) {
    let (kind, amount, max_amount) = match payload.kind {
        BidCommandKind::Bid { amount, max_amount } => ("bid", Some(amount), max_amount),
        BidCommandKind::BuyNow => ("buy_now", None, None),
    };
    let body = serde_json::from_str::<serde_json::Value>(&answer.body).unwrap_or_default();
    let outcome = if answer.http_status == 200 {
        body["status"].clone()
    } else {
        body["error"]["code"].clone()
    };
    let details = serde_json::json!({
        "request_id": payload.request_id,
        "kind": kind,
        "amount": amount,
        "max_amount": max_amount,
        "http_status": answer.http_status,
        "outcome": outcome,
    });
    super::admin::audit(
        state,
        admin,
        "auction.admin_bid",
        auction.to_string(),
        details,
    )
    .await;
}

/// Renders a stored answer as the HTTP response it was first given as.
pub fn answer_response(answer: StoredAnswer) -> HttpResponse {
    let status = StatusCode::from_u16(answer.http_status).unwrap_or(StatusCode::OK);
    HttpResponse::build(status)
        .content_type("application/json")
        .body(answer.body)
}

/// `POST /api/v1/auctions/{id}/bids`
pub async fn place_bid(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    body: web::Json<BidBody>,
) -> ApiResult<HttpResponse> {
    let auction = parse_id(&id, "auction")?;
    let body = body.into_inner();
    let span = tracing::info_span!("bid", auction.id = %auction, user.id = %user.0.id);
    let kind = BidCommandKind::Bid {
        amount: body.amount,
        max_amount: body.max_amount,
    };
    let answer = place(&state, &user.0, auction, body.request_id, kind)
        .instrument(span)
        .await?;
    Ok(answer_response(answer))
}

/// A buy-now.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BuyNowBody {
    /// As a bid's: shares the `request_id` space of bids.
    pub request_id: String,
}

/// `POST /api/v1/auctions/{id}/buy-now` (the HTTP twin of the WS `buy_now` frame).
pub async fn buy_now(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    body: web::Json<BuyNowBody>,
) -> ApiResult<HttpResponse> {
    let auction = parse_id(&id, "auction")?;
    let answer = place(
        &state,
        &user.0,
        auction,
        body.into_inner().request_id,
        BidCommandKind::BuyNow,
    )
    .await?;
    Ok(answer_response(answer))
}
