//! The HTTP API as an OpenAPI 3.1 document, generated with `utoipa` from
//! the handlers' own types (request bodies, query parameters, answers),
//! served at `GET /api/v1/openapi.json` and as a readable page at
//! `GET /api/docs` (rendered here from the same document; no script).
//!
//! Every operation is declared below, one `#[utoipa::path]` per route and
//! method of `crate::startup::api_routes`, named after its handler. The
//! committed copy is docs/openapi.json; tests/api/openapi.rs checks that the
//! served document equals it and that every mounted route is in it (and
//! `GAVEL_WRITE_OPENAPI=1` makes that test rewrite the file).
//!
//! Some answers are still built as JSON inside their handlers (the admin
//! answers, and the bid answer, stored as JSON for replay): their shapes
//! are declared here as types (`BidResult`, `AdminSnapshot` …), and the
//! tests check real answers against them.

use std::collections::BTreeMap;

use actix_web::HttpResponse;
use askama::Template;
use serde::Serialize;
use serde_json::Value;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use super::accounts::{Credentials, SessionAnswer, UserView};
use super::admin::CreateAuction;
use super::auctions::{AuctionList, BidHistory, HistoryQuery, ListQuery, ServerTime};
use super::bids::{BidBody, BuyNowBody};
use super::ops::{Health, Readiness};
use super::pages::errors::PageError;
use super::pages::render::Layout;
use super::sse::EventsQuery;
use crate::auction::view::Snapshot;
use crate::domain::Money;

/// The document, built once.
pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOCUMENT: std::sync::OnceLock<utoipa::openapi::OpenApi> = std::sync::OnceLock::new();
    DOCUMENT.get_or_init(ApiDoc::openapi)
}

/// The document as served and as committed in docs/openapi.json: pretty
/// JSON and a final line break.
pub fn document_json() -> &'static str {
    static JSON: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    JSON.get_or_init(|| {
        let mut text = document()
            .to_pretty_json()
            .unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"));
        text.push('\n');
        text
    })
}

/// `GET /api/v1/openapi.json`
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document_json())
}

/// `GET /api/docs`: the document as a page.
pub async fn docs_page() -> Result<HttpResponse, PageError> {
    let failed = |error: &dyn std::fmt::Display| {
        tracing::error!(error = %error, "could not render /api/docs");
        PageError::Internal
    };
    let root = serde_json::to_value(document()).map_err(|e| failed(&e))?;
    let html = DocsPage::of(&root).render().map_err(|e| failed(&e))?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html))
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Gavel HTTP API",
        version = "1",
        description = "The JSON API of Gavel, a live auction bidding engine, generated from the \
server's handlers. Money is an integer number of minor units; times are RFC 3339 strings in UTC; \
ids are UUIDs; bidders are public only as aliases. Every error is \
`{\"error\":{\"code\",\"message\",...}}` (schema `ErrorBody`). The WebSocket frames and \
Server-Sent Events are described in docs/asyncapi.yaml; the rules, configuration and pages in \
docs/api.md, docs/bidding.md and docs/operations.md. The server-rendered HTML pages (`/`, \
`/auctions/{id}`, `/login`, `/admin` …) are left out of this document: they are for people, not \
programs (docs/api.md lists them).",
        license(name = "MIT", identifier = "MIT"),
    ),
    paths(
        healthz,
        readyz,
        metrics,
        openapi_document,
        api_docs,
        register,
        login,
        logout,
        me,
        my_offers,
        accept_second_chance,
        decline_second_chance,
        time,
        websocket,
        list_auctions,
        show_auction,
        bid_history,
        place_bid,
        buy_now,
        auction_events,
        admin_create_auction,
        admin_show_auction,
        admin_edit_auction,
        admin_cancel_auction,
        admin_close_auction,
        admin_void_bids,
        admin_pause_auction,
        admin_resume_auction,
        admin_extend_auction,
        admin_withdraw_auction,
        admin_relist_auction,
        admin_second_chance,
        admin_list_users,
        admin_ban_user,
        admin_unban_user,
        admin_audit_log,
    ),
    components(schemas(ErrorCode)),
    modifiers(&SecuritySchemes),
    tags(
        (name = "operations", description = "Health, readiness, metrics and this document"),
        (name = "accounts", description = "Registering, sessions, the current user"),
        (name = "auctions", description = "Public reads: auctions, bid history, the clock"),
        (name = "bidding", description = "Bids and buy-now (idempotent by request_id)"),
        (name = "live", description = "The WebSocket and the SSE feed (frames in docs/asyncapi.yaml)"),
        (name = "admin", description = "The admin API (role admin); every change is audited"),
    )
)]
struct ApiDoc;

/// The three ways a request proves who it is.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The session token from POST /api/v1/sessions, as \
                         `Authorization: Bearer <token>`. When an Authorization header is \
                         present it alone counts.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "gavel_session",
                "The session cookie set by POST /api/v1/sessions (HttpOnly, SameSite=Lax). \
                 A cookie-authenticated POST or DELETE whose Origin is not one of the \
                 public origins is refused with 403 forbidden.",
            ))),
        );
        components.add_security_scheme(
            "metrics_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "GAVEL_METRICS_TOKEN as `Authorization: Bearer <token>`, when the \
                         operator set one.",
                    ))
                    .build(),
            ),
        );
    }
}

// --- shapes built as JSON by their handlers --------------------------------

/// Every error: `{"error": {...}}`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"error": {"code": "below_minimum",
    "message": "the bid is below the minimum next bid of 13050", "min_next_bid": 13050}}))]
pub struct ErrorBody {
    pub error: ErrorObject,
}

/// The error object: a stable `code` for programs, a `message` for people,
/// and for some codes a field beside them.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorObject {
    pub code: ErrorCode,
    /// A human sentence; it may change.
    pub message: String,
    /// With `below_minimum`: the least amount a bid must carry now.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<i64>)]
    pub min_next_bid: Option<Money>,
    /// With `validation_failed`: a message per bad field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<BTreeMap<String, String>>,
}

/// Every error code the API answers with (docs/api.md, Errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: malformed JSON, unknown or missing field, wrong type, bad query.
    BadRequest,
    /// 401: the route needs a live session.
    Unauthenticated,
    /// 401: wrong username or password.
    InvalidCredentials,
    /// 403: not allowed (a bidder on the admin API, a foreign Origin, own auction).
    Forbidden,
    /// 403: a banned user bids or buys now.
    Banned,
    /// 404: no such auction, user or route; an id that is not a UUID.
    NotFound,
    /// 405: a known API path with another method.
    MethodNotAllowed,
    /// 408: the request body did not arrive in time.
    RequestTimeout,
    /// 409: the username exists.
    UsernameTaken,
    /// 409: the auction is not open.
    AuctionNotOpen,
    /// 409: the leader bids again without raising their maximum.
    AlreadyLeading,
    /// 409: buy-now is not (or no longer) possible.
    BuyNowUnavailable,
    /// 409: the auction is already closed or cancelled.
    AuctionEnded,
    /// 409: an admin bans their own account.
    CannotBanSelf,
    /// 409: a void by `user_id` of a bidder with no bids left to void there.
    NothingToVoid,
    /// 409: the auction is paused by an admin (bids, buy-now, a second pause).
    AuctionPaused,
    /// 409: resuming an auction that is not paused.
    NotPaused,
    /// 409: relisting a lot that did not end unsold, or was relisted already.
    NotRelistable,
    /// 409: an edit of the title, reserve or buy-now price after the lot's
    /// first bid, or adding/removing a reserve after its first event.
    NotEditable,
    /// 409: a second-chance offer on a lot that did not fail on its reserve,
    /// or that had an offer already or was relisted.
    NoSecondChance,
    /// 409: answering a second-chance offer that expired or was answered.
    OfferClosed,
    /// 422: a void naming a seq that is not a bidder's own bid on that auction.
    NotVoidable,
    /// 413: a request body over 64 KiB.
    PayloadTooLarge,
    /// 422: a bad username.
    InvalidUsername,
    /// 422: a password that breaks the password rules.
    WeakPassword,
    /// 422: a password over 1,024 characters.
    InvalidPassword,
    /// 422: a bad `request_id`.
    InvalidRequestId,
    /// 422: an amount out of range.
    InvalidAmount,
    /// 422: a bid below `min_next_bid` (the error carries it).
    BelowMinimum,
    /// 422: bad field values (the error carries `fields`).
    ValidationFailed,
    /// 429: over a rate or connection limit (`Retry-After` says when to retry).
    RateLimited,
    /// 500: an unexpected failure (logged).
    Internal,
    /// 503: storage or coordination is down, or the node is stopping; nothing was decided.
    Unavailable,
}

/// The answer to an accepted bid or buy-now (replayed as it was to a retry
/// with the same `request_id`).
#[derive(Debug, Serialize, ToSchema)]
pub struct BidResult {
    pub request_id: String,
    #[schema(format = Uuid)]
    pub auction_id: String,
    /// Always true: refusals are errors.
    pub accepted: bool,
    pub status: BidStanding,
    /// The event that recorded this bid (for a leader who only raised their
    /// maximum, the auction's current `seq`).
    pub seq: i64,
    #[schema(value_type = i64)]
    pub current_price: Money,
    #[schema(value_type = i64)]
    pub min_next_bid: Money,
    pub ends_at: String,
}

/// Where the bidder stands once every automatic counter-bid is applied.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BidStanding {
    Leading,
    Outbid,
}

/// The admin view of an auction: the Snapshot plus the reserve.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminSnapshot {
    #[serde(flatten)]
    pub snapshot: Snapshot,
    /// The reserve price (never shown to bidders).
    #[schema(value_type = Option<i64>)]
    pub reserve_price: Option<Money>,
}

/// The admin view of an auction with its full bid log, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminAuction {
    #[serde(flatten)]
    pub auction: AdminSnapshot,
    /// The unsold lot this one relists.
    #[schema(format = Uuid)]
    pub relisted_from: Option<String>,
    /// The lot this one was relisted as.
    #[schema(format = Uuid)]
    pub relisted_as: Option<String>,
    /// Its second-chance offer, if it has had one.
    pub second_chance: Option<AdminOffer>,
    pub bids: Vec<AdminBidEntry>,
}

/// A second-chance offer: the lot offered to its highest bidder at their
/// highest bid after a reserve-not-met close.
#[derive(Debug, Serialize, ToSchema)]
pub struct Offer {
    #[schema(format = Uuid)]
    pub auction_id: String,
    pub title: String,
    pub currency: String,
    /// The price offered: the bidder's highest bid on the lot.
    #[schema(value_type = i64)]
    pub amount: Money,
    /// `open`, `accepted`, `declined` or `expired`.
    #[schema(pattern = "^(open|accepted|declined|expired)$")]
    pub status: String,
    pub created_at: String,
    pub expires_at: String,
    pub decided_at: Option<String>,
}

/// An offer as admins see it: who it is for.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminOffer {
    #[serde(flatten)]
    pub offer: Offer,
    #[schema(format = Uuid)]
    pub user_id: String,
    /// The bidder's alias on the lot.
    pub bidder: String,
}

/// `GET /api/v1/me/offers`: at most 200, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct OfferList {
    pub offers: Vec<Offer>,
}

/// The answer to an edit: the admin snapshot and when the lot was last edited.
#[derive(Debug, Serialize, ToSchema)]
pub struct EditedAuction {
    #[serde(flatten)]
    pub auction: AdminSnapshot,
    pub edited_at: Option<String>,
}

/// The answer to a relisting: the new lot's admin snapshot and the lot it relists.
#[derive(Debug, Serialize, ToSchema)]
pub struct RelistedAuction {
    #[serde(flatten)]
    pub auction: AdminSnapshot,
    /// The old lot's id.
    #[schema(format = Uuid)]
    pub relisted_from: String,
}

/// One bid of the admin bid log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminBidEntry {
    pub seq: i64,
    #[schema(value_type = i64)]
    pub amount: Money,
    #[schema(value_type = super::auctions::BidKindName)]
    pub kind: String,
    pub at: String,
    #[schema(format = Uuid)]
    pub user_id: String,
    pub username: String,
    /// The bidder's public alias in this auction.
    pub bidder: String,
    /// The bidder's maximum recorded with this bid.
    #[schema(value_type = i64)]
    pub max_amount: Money,
}

/// The body of a void: the bids by `seqs`, or every bid of `user_id`, and
/// why (required, at most 500 characters).
#[derive(Debug, Serialize, ToSchema)]
pub struct VoidRequest {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub seqs: Vec<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = Uuid)]
    pub user_id: Option<String>,
    pub reason: String,
}

/// The auction after a void, and the seqs voided.
#[derive(Debug, Serialize, ToSchema)]
pub struct VoidedAuction {
    #[serde(flatten)]
    pub auction: AdminSnapshot,
    pub voided_seqs: Vec<i64>,
}

/// How far to move an auction's end (1 to 604,800 seconds; from now when
/// the end has passed), and why (kept in the audit log only).
#[derive(Debug, Serialize, ToSchema)]
pub struct ExtendRequest {
    pub secs: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Why a lot is withdrawn (public, 1 to 500 characters).
#[derive(Debug, Serialize, ToSchema)]
pub struct WithdrawRequest {
    pub reason: String,
}

/// The optional body of a ban: why (at most 500 characters), and whether
/// to keep the bidder's bids (by default they are voided on open lots).
#[derive(Debug, Serialize, ToSchema)]
pub struct BanRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub keep_bids: bool,
}

/// The banned user, and the open lots where their bids were voided or
/// (with `keep_bids`) where they were barred from winning.
#[derive(Debug, Serialize, ToSchema)]
pub struct BannedUser {
    #[serde(flatten)]
    pub user: super::accounts::UserView,
    pub voided_on: Vec<String>,
    pub barred_on: Vec<String>,
}

/// `GET /api/v1/admin/users`: at most 1,000 users, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserList {
    pub users: Vec<UserView>,
}

/// `GET /api/v1/admin/audit`: the latest entries (at most 500) that match
/// the filters, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditLog {
    pub entries: Vec<AuditEntry>,
}

/// One admin action on record.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    #[schema(format = Uuid)]
    pub id: String,
    pub at: String,
    /// The admin's user id.
    #[schema(format = Uuid)]
    pub actor_id: String,
    /// The admin's username now (null if the user is gone).
    pub actor_name: Option<String>,
    /// `auction.create`, `auction.close`, `auction.cancel`, `auction.admin_bid`,
    /// `auction.void`, `auction.bar`, `auction.pause`, `auction.resume`,
    /// `auction.extend`, `auction.withdraw`, `user.ban`, `user.unban`.
    pub action: String,
    /// The auction's or user's id.
    pub target: String,
    /// `auction` or `user`; null when the target is neither (or is gone).
    #[schema(value_type = Option<String>, pattern = "^(auction|user)$")]
    pub target_kind: Option<String>,
    /// The target's name now: the auction's title or the user's username.
    pub target_name: Option<String>,
    /// Details of the action (a JSON object).
    #[schema(value_type = Object)]
    pub details: Value,
}

// --- the operations ---------------------------------------------------------
// One function per route and method; each documents the handler it is named
// after (see `crate::startup::api_mounts`).

/// Liveness
///
/// 200 while the process serves HTTP. Answers HEAD like GET.
#[utoipa::path(get, path = "/healthz", tag = "operations", operation_id = "healthz",
    responses((status = 200, description = "The process is up", body = Health)))]
pub fn healthz() {}

/// Readiness
///
/// Whether this node takes work: storage reachable and taking writes, not
/// shutting down, and with Redis a pub/sub round trip. Answers HEAD like GET.
#[utoipa::path(get, path = "/readyz", tag = "operations", operation_id = "readyz",
    responses(
        (status = 200, description = "Ready", body = Readiness,
            example = json!({"ready": true})),
        (status = 503, description = "Not ready, and why", body = Readiness,
            example = json!({"ready": false, "reason": "shutting down"})),
    ))]
pub fn readyz() {}

/// Prometheus metrics
///
/// Every metric of docs/operations.md in the Prometheus text format, listed
/// from start-up. Answered 404 here when GAVEL_METRICS_BIND gives /metrics
/// a listener of its own; needs the metrics token when GAVEL_METRICS_TOKEN
/// is set.
#[utoipa::path(get, path = "/metrics", tag = "operations", operation_id = "metrics",
    security((), ("metrics_token" = [])),
    responses(
        (status = 200, description = "The metrics (`text/plain; version=0.0.4`)",
            content_type = "text/plain", body = String),
        (status = 401, description = "`unauthenticated`: GAVEL_METRICS_TOKEN is set and the request lacks it", body = ErrorBody),
        (status = 404, description = "`not_found`: /metrics is served on GAVEL_METRICS_BIND only", body = ErrorBody),
    ))]
pub fn metrics() {}

/// This document
///
/// The OpenAPI 3.1 document of the API (the same as docs/openapi.json).
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "operations", operation_id = "openapi_document",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json",
        body = Object)))]
pub fn openapi_document() {}

/// This document as a page
///
/// Every operation with its parameters, bodies and answers, and every
/// schema, as HTML rendered by the server.
#[utoipa::path(get, path = "/api/docs", tag = "operations", operation_id = "api_docs",
    responses((status = 200, description = "The API reference page", content_type = "text/html",
        body = String)))]
pub fn api_docs() {}

/// Register a bidder
///
/// Creates a bidder account. Limited per IP address (GAVEL_AUTH_RATE_PER_MIN
/// and GAVEL_AUTH_IP_RATE_PER_MIN).
#[utoipa::path(post, path = "/api/v1/users", tag = "accounts", operation_id = "register",
    request_body = Credentials,
    responses(
        (status = 201, description = "The new user (a bidder)", body = UserView),
        (status = 400, description = "`bad_request`: not a `{username, password}` JSON body", body = ErrorBody),
        (status = 409, description = "`username_taken` (compared without regard to case)", body = ErrorBody),
        (status = 422, description = "`invalid_username`, `weak_password`, `invalid_password`, `validation_failed` (a control character)", body = ErrorBody),
        (status = 429, description = "`rate_limited`, with `Retry-After`", body = ErrorBody),
    ))]
pub fn register() {}

/// Log in
///
/// Opens a session: the answer carries its token and sets the
/// `gavel_session` cookie. Usernames are matched without regard to case.
/// Limited per (IP address, username) and per IP address.
#[utoipa::path(post, path = "/api/v1/sessions", tag = "accounts", operation_id = "login",
    request_body = Credentials,
    responses(
        (status = 200, description = "The session token and the user", body = SessionAnswer,
            headers(("Set-Cookie" = String, description = "gavel_session=<token>; HttpOnly; SameSite=Lax; Path=/; Max-Age=1209600 (and Secure with https origins)"))),
        (status = 400, description = "`bad_request`", body = ErrorBody),
        (status = 401, description = "`invalid_credentials` (the same answer for unknown users)", body = ErrorBody),
        (status = 422, description = "`validation_failed`: a control character", body = ErrorBody),
        (status = 429, description = "`rate_limited`, with `Retry-After`", body = ErrorBody),
    ))]
pub fn login() {}

/// Log out
///
/// Ends the request's session (bearer token or cookie) and every connection
/// opened with it, and removes the cookie.
#[utoipa::path(delete, path = "/api/v1/sessions", tag = "accounts", operation_id = "logout",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 204, description = "Logged out; a cookie that removes gavel_session"),
        (status = 401, description = "`unauthenticated`: the request carries no token at all", body = ErrorBody),
    ))]
pub fn logout() {}

/// The current user
#[utoipa::path(get, path = "/api/v1/me", tag = "accounts", operation_id = "me",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The user of the session", body = UserView),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
    ))]
pub fn me() {}

/// Your second-chance offers
#[utoipa::path(get, path = "/api/v1/me/offers", tag = "accounts", operation_id = "my_offers",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The offers made to you, newest first", body = OfferList),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
    ))]
pub fn my_offers() {}

/// Accept a second-chance offer
///
/// Buys the lot at the offered price, if the offer is yours, open and not expired.
#[utoipa::path(post, path = "/api/v1/auctions/{id}/second-chance/accept", tag = "bidding", operation_id = "accept_second_chance",
    params(("id" = uuid::Uuid, Path, description = "The lot's id")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The offer, `accepted`", body = Offer),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`banned`", body = ErrorBody),
        (status = 404, description = "`not_found`: no offer to you on this lot", body = ErrorBody),
        (status = 409, description = "`offer_closed`: expired, or answered already", body = ErrorBody),
    ))]
pub fn accept_second_chance() {}

/// Decline a second-chance offer
#[utoipa::path(post, path = "/api/v1/auctions/{id}/second-chance/decline", tag = "bidding", operation_id = "decline_second_chance",
    params(("id" = uuid::Uuid, Path, description = "The lot's id")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The offer, `declined`", body = Offer),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 404, description = "`not_found`: no offer to you on this lot", body = ErrorBody),
        (status = 409, description = "`offer_closed`: expired, or answered already", body = ErrorBody),
    ))]
pub fn decline_second_chance() {}

/// The server's clock
///
/// For clock-skew correction of countdowns.
#[utoipa::path(get, path = "/api/v1/time", tag = "auctions", operation_id = "time",
    responses((status = 200, description = "The server's time", body = ServerTime)))]
pub fn time() {}

/// The WebSocket
///
/// Upgrades to the WebSocket whose frames (subscribe, unsubscribe, bid,
/// buy_now; snapshot, event, bid_result, bid_error, error) are described in
/// docs/asyncapi.yaml. Without a session the socket may watch but not bid.
/// An Origin header, when present, must be one of the public origins.
#[utoipa::path(get, path = "/api/v1/ws", tag = "live", operation_id = "websocket",
    security((), ("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 101, description = "Switching Protocols: the WebSocket is open"),
        (status = 400, description = "`bad_request`: not a WebSocket upgrade", body = ErrorBody),
        (status = 403, description = "`forbidden`: an Origin that is not one of the public origins (the message names it and the allowed ones)", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many open streams from this IP address", body = ErrorBody),
        (status = 503, description = "`unavailable`: shutting down, or the session could not be checked", body = ErrorBody),
    ))]
pub fn websocket() {}

/// List auctions
///
/// At most 500 auctions, soonest end first (not paginated: filter by status).
#[utoipa::path(get, path = "/api/v1/auctions", tag = "auctions", operation_id = "list_auctions",
    params(ListQuery),
    responses(
        (status = 200, description = "The auctions", body = AuctionList),
        (status = 400, description = "`bad_request`: an unknown status or query field", body = ErrorBody),
    ))]
pub fn list_auctions() {}

/// An auction
#[utoipa::path(get, path = "/api/v1/auctions/{id}", tag = "auctions", operation_id = "show_auction",
    params(("id" = uuid::Uuid, Path, description = "The auction's id")),
    responses(
        (status = 200, description = "The auction's public state", body = Snapshot),
        (status = 404, description = "`not_found`: no such auction (or not a UUID)", body = ErrorBody),
    ))]
pub fn show_auction() {}

/// An auction's bid history
///
/// Bids oldest first, paged by `seq`: ask again with `after` = the last
/// `seq` received; an empty list means there are no more. Only bids are
/// listed, so `seq` values skip other events.
#[utoipa::path(get, path = "/api/v1/auctions/{id}/bids", tag = "auctions", operation_id = "bid_history",
    params(("id" = uuid::Uuid, Path, description = "The auction's id"), HistoryQuery),
    responses(
        (status = 200, description = "A page of bids", body = BidHistory),
        (status = 400, description = "`bad_request`: a bad `after` or `limit`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ))]
pub fn bid_history() {}

/// Place a bid
///
/// Answered 200 only once the bid is durably committed. Idempotent by
/// `request_id`: a retry gets the first answer (accepted or refused by the
/// engine). Refusals are checked at the edge, then by the auction's actor,
/// then by the bidding engine (docs/bidding.md).
#[utoipa::path(post, path = "/api/v1/auctions/{id}/bids", tag = "bidding", operation_id = "place_bid",
    params(("id" = uuid::Uuid, Path, description = "The auction's id")),
    request_body = BidBody,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "Accepted", body = BidResult),
        (status = 400, description = "`bad_request`", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`banned`; `forbidden` (the auction's creator, or a foreign Origin with the cookie)", body = ErrorBody),
        (status = 404, description = "`not_found`: no such auction", body = ErrorBody),
        (status = 409, description = "`auction_not_open`, `already_leading`", body = ErrorBody),
        (status = 422, description = "`invalid_request_id`, `invalid_amount`, `below_minimum` (with `min_next_bid`), `validation_failed`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: over the per-user bid rate", body = ErrorBody),
        (status = 503, description = "`unavailable`: nothing was decided; retry with the same request_id", body = ErrorBody),
    ))]
pub fn place_bid() {}

/// Buy now
///
/// Buys at the auction's buy-now price and closes it with the buyer as
/// winner. Idempotent by `request_id`, like a bid.
#[utoipa::path(post, path = "/api/v1/auctions/{id}/buy-now", tag = "bidding", operation_id = "buy_now",
    params(("id" = uuid::Uuid, Path, description = "The auction's id")),
    request_body = BuyNowBody,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "Bought (`status` leading)", body = BidResult),
        (status = 400, description = "`bad_request`", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`banned`, `forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`auction_not_open`, `buy_now_unavailable`", body = ErrorBody),
        (status = 422, description = "`invalid_request_id`, `validation_failed`", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
pub fn buy_now() {}

/// An auction's live events (SSE)
///
/// A Server-Sent Events stream: a `snapshot` first, or with `Last-Event-ID`
/// every event after that `seq`, then live events (`bid`, `extended`,
/// `closed`, `cancelled`), each with `id: <seq>`; described in
/// docs/asyncapi.yaml.
#[utoipa::path(get, path = "/api/v1/auctions/{id}/events", tag = "live", operation_id = "auction_events",
    params(
        ("id" = uuid::Uuid, Path, description = "The auction's id"),
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this seq (a non-negative integer)"),
        EventsQuery,
    ),
    responses(
        (status = 200, description = "The event stream", content_type = "text/event-stream", body = String),
        (status = 400, description = "`bad_request`: a bad Last-Event-ID", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many open streams, or too many events replayed, from this IP address", body = ErrorBody),
        (status = 503, description = "`unavailable`: shutting down or storage down", body = ErrorBody),
    ))]
pub fn auction_events() {}

/// Create an auction
///
/// Every bad field is named at once (422 `validation_failed` with `fields`).
#[utoipa::path(post, path = "/api/v1/admin/auctions", tag = "admin", operation_id = "admin_create_auction",
    request_body = CreateAuction,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 201, description = "The new auction", body = AdminSnapshot),
        (status = 400, description = "`bad_request`: a missing required field, an unknown field, a wrong JSON type", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`: not an admin", body = ErrorBody),
        (status = 422, description = "`validation_failed`", body = ErrorBody,
            example = json!({"error": {"code": "validation_failed",
                "message": "currency: must be three capital letters, like EUR",
                "fields": {"currency": "must be three capital letters, like EUR"}}})),
    ))]
pub fn admin_create_auction() {}

/// An auction, for admins
///
/// The admin snapshot plus the full bid log with usernames and maxima.
#[utoipa::path(get, path = "/api/v1/admin/auctions/{id}", tag = "admin", operation_id = "admin_show_auction",
    params(("id" = uuid::Uuid, Path, description = "The auction's id")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The auction and its bid log", body = AdminAuction),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ))]
pub fn admin_show_auction() {}

/// Edit an auction
///
/// Before the first bid: title, description, reserve and buy-now price;
/// after it only the description. Decided by the lot's actor in order with
/// bids; audited with what changed.
#[utoipa::path(patch, path = "/api/v1/admin/auctions/{id}", tag = "admin", operation_id = "admin_edit_auction",
    params(("id" = uuid::Uuid, Path, description = "The auction's id")),
    request_body(content = crate::http::edit::EditAuction, content_type = "application/json"),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The admin snapshot after the edit, with `edited_at`", body = EditedAuction),
        (status = 400, description = "`bad_request`: an unknown field, a wrong JSON type", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`not_editable`, `auction_ended`", body = ErrorBody),
        (status = 422, description = "`validation_failed`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
pub fn admin_edit_auction() {}

/// Cancel an auction
///
/// Ends it without a winner (scheduled auctions too).
#[utoipa::path(post, path = "/api/v1/admin/auctions/{id}/cancel", tag = "admin", operation_id = "admin_cancel_auction",
    params(("id" = uuid::Uuid, Path, description = "The auction's id")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The cancelled auction", body = AdminSnapshot),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`auction_ended`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
pub fn admin_cancel_auction() {}

/// Close an auction now
///
/// Ends it with the normal winner rule (the leader wins if the reserve is met).
#[utoipa::path(post, path = "/api/v1/admin/auctions/{id}/close", tag = "admin", operation_id = "admin_close_auction",
    params(("id" = uuid::Uuid, Path, description = "The auction's id")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The closed auction", body = AdminSnapshot),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`auction_ended`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
pub fn admin_close_auction() {}

/// Void bids
///
/// Recomputes the lot by replaying its log without the voided bids (maxima
/// re-resolved; the price may go down, the leader change). The log gains
/// `voided` and `repriced` events; nothing is deleted. Refused on ended lots.
#[utoipa::path(post, path = "/api/v1/admin/auctions/{id}/void", tag = "admin", operation_id = "admin_void_bids",
    params(("id" = uuid::Uuid, Path, description = "The auction's id")),
    request_body(content = VoidRequest, content_type = "application/json"),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The auction after the void, and the seqs voided", body = VoidedAuction),
        (status = 400, description = "`bad_request`", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`auction_ended`, `nothing_to_void`", body = ErrorBody),
        (status = 422, description = "`not_voidable`, `validation_failed`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
pub fn admin_void_bids() {}

/// Pause an auction
///
/// Stops taking bids (they are refused with `auction_paused`) and holds the close until resumed.
#[utoipa::path(post, path = "/api/v1/admin/auctions/{id}/pause", tag = "admin", operation_id = "admin_pause_auction",
    params(("id" = uuid::Uuid, Path, description = "The auction's id")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The auction afterwards", body = AdminSnapshot),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`auction_paused`, `auction_ended`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
pub fn admin_pause_auction() {}

/// Resume a paused auction
///
/// Takes bids again; the end moves by the paused time.
#[utoipa::path(post, path = "/api/v1/admin/auctions/{id}/resume", tag = "admin", operation_id = "admin_resume_auction",
    params(("id" = uuid::Uuid, Path, description = "The auction's id")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The auction afterwards", body = AdminSnapshot),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`not_paused`, `auction_ended`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
pub fn admin_resume_auction() {}

/// Extend an auction
///
/// Moves the end by `secs` (from now when the end has passed).
#[utoipa::path(post, path = "/api/v1/admin/auctions/{id}/extend", tag = "admin", operation_id = "admin_extend_auction",
    params(("id" = uuid::Uuid, Path, description = "The auction's id")),
    request_body(content = ExtendRequest, content_type = "application/json"),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The auction afterwards", body = AdminSnapshot),
        (status = 400, description = "`bad_request`", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`auction_ended`", body = ErrorBody),
        (status = 422, description = "`validation_failed`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
pub fn admin_extend_auction() {}

/// Withdraw an auction
///
/// Closes it now without a winner, with a public reason.
#[utoipa::path(post, path = "/api/v1/admin/auctions/{id}/withdraw", tag = "admin", operation_id = "admin_withdraw_auction",
    params(("id" = uuid::Uuid, Path, description = "The auction's id")),
    request_body(content = WithdrawRequest, content_type = "application/json"),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The auction afterwards", body = AdminSnapshot),
        (status = 400, description = "`bad_request`", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`auction_ended`", body = ErrorBody),
        (status = 422, description = "`validation_failed`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
pub fn admin_withdraw_auction() {}

/// Relist an unsold lot
///
/// Creates a new lot with the old one's title, description and currency,
/// linked to it; prices left out are the old lot's (`null` removes a
/// reserve or buy-now price). Only for a lot that ended without a winner
/// (closed unsold, withdrawn or cancelled), and once.
#[utoipa::path(post, path = "/api/v1/admin/auctions/{id}/relist", tag = "admin", operation_id = "admin_relist_auction",
    params(("id" = uuid::Uuid, Path, description = "The unsold auction's id")),
    request_body(content = crate::http::relist::RelistAuction, content_type = "application/json"),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 201, description = "The new lot", body = RelistedAuction),
        (status = 400, description = "`bad_request`: a missing `ends_at`, an unknown field, a wrong JSON type", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`not_relistable`: the lot is live or sold, or was relisted already", body = ErrorBody),
        (status = 422, description = "`validation_failed`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
pub fn admin_relist_auction() {}

/// Make a second-chance offer
///
/// Offers a lot that closed with its reserve not met to its highest bidder
/// at their highest bid, open for `hours` (default 48). Once per lot.
#[utoipa::path(post, path = "/api/v1/admin/auctions/{id}/second-chance", tag = "admin", operation_id = "admin_second_chance",
    params(("id" = uuid::Uuid, Path, description = "The lot's id")),
    request_body(content = crate::http::second_chance::OfferRequest, content_type = "application/json",
        description = "Optional; no body means 48 hours"),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 201, description = "The offer", body = AdminOffer),
        (status = 400, description = "`bad_request`", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`no_second_chance`", body = ErrorBody),
        (status = 422, description = "`validation_failed`: hours out of range", body = ErrorBody),
    ))]
pub fn admin_second_chance() {}

/// List users
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin", operation_id = "admin_list_users",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The users", body = UserList),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
    ))]
pub fn admin_list_users() {}

/// Ban a user
///
/// Takes effect on the user's next request; every connection of theirs hears
/// of it. By default their bids on every open lot are voided by replay; with
/// `keep_bids` they stay, but the bidder can no longer win. The body is
/// optional (an empty body bans and voids).
#[utoipa::path(post, path = "/api/v1/admin/users/{id}/ban", tag = "admin", operation_id = "admin_ban_user",
    params(("id" = uuid::Uuid, Path, description = "The user's id")),
    request_body(content = Option<BanRequest>, content_type = "application/json"),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The user (`banned` true) and the lots corrected", body = BannedUser),
        (status = 400, description = "`bad_request`", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`cannot_ban_self`", body = ErrorBody),
        (status = 422, description = "`validation_failed` (the reason)", body = ErrorBody),
        (status = 503, description = "`unavailable`: some lots could not be corrected (their ids in `auctions`); retry", body = ErrorBody),
    ))]
pub fn admin_ban_user() {}

/// Unban a user
#[utoipa::path(post, path = "/api/v1/admin/users/{id}/unban", tag = "admin", operation_id = "admin_unban_user",
    params(("id" = uuid::Uuid, Path, description = "The user's id")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The user (`banned` false)", body = UserView),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ))]
pub fn admin_unban_user() {}

/// The audit log
#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin", operation_id = "admin_audit_log",
    params(crate::http::admin::AuditQuery),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The latest entries that match, newest first", body = AuditLog),
        (status = 400, description = "`bad_request`: an id that is not one, both `auction` and `user`, a limit out of range, an unknown parameter", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
    ))]
pub fn admin_audit_log() {}

// --- the page ---------------------------------------------------------------

/// `/api/docs`, from the document as JSON.
#[derive(Template)]
#[template(path = "api_docs.html")]
struct DocsPage {
    layout: Layout,
    title: String,
    version: String,
    description: String,
    security: Vec<NamedText>,
    tags: Vec<TagView>,
    schemas: Vec<SchemaView>,
}

struct NamedText {
    name: String,
    text: String,
}

struct TagView {
    name: String,
    description: String,
    operations: Vec<OperationView>,
}

struct OperationView {
    anchor: String,
    method: String,
    path: String,
    summary: String,
    description: String,
    security: String,
    parameters: Vec<ParameterView>,
    body: Option<String>,
    body_schema: Option<String>,
    responses: Vec<ResponseView>,
}

struct ParameterView {
    name: String,
    place: String,
    required: bool,
    kind: TypeText,
    description: String,
}

struct ResponseView {
    status: String,
    description: String,
    content_type: String,
    kind: Option<TypeText>,
}

struct SchemaView {
    name: String,
    description: String,
    kind: TypeText,
    properties: Vec<PropertyView>,
    json: String,
}

struct PropertyView {
    name: String,
    required: bool,
    kind: TypeText,
    description: String,
}

/// A schema's type in words, with the component schema it names (linked).
struct TypeText {
    text: String,
    link: Option<String>,
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

fn ref_name(value: &Value) -> Option<String> {
    value
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
        .map(str::to_owned)
}

/// A short description of a JSON Schema: `integer (int64)`, `array of
/// Snapshot`, `string or null`, `one of: open, closed` …
fn type_text(schema: &Value) -> TypeText {
    if let Some(name) = ref_name(schema) {
        return TypeText {
            text: name.clone(),
            link: Some(name),
        };
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(options) = schema.get(key).and_then(Value::as_array) {
            let parts: Vec<TypeText> = options.iter().map(type_text).collect();
            let link = parts.iter().find_map(|part| part.link.clone());
            let joiner = if key == "allOf" { " and " } else { " or " };
            let text = parts
                .into_iter()
                .map(|part| part.text)
                .collect::<Vec<_>>()
                .join(joiner);
            return TypeText { text, link };
        }
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let values: Vec<String> = values
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .collect();
        return TypeText {
            text: format!("one of: {}", values.join(", ")),
            link: None,
        };
    }
    let mut text = match schema.get("type") {
        Some(Value::String(kind)) => kind.clone(),
        Some(Value::Array(kinds)) => kinds.iter().map(text).collect::<Vec<_>>().join(" or "),
        _ => "any".to_owned(),
    };
    let mut link = None;
    if let Some(items) = schema.get("items") {
        let inner = type_text(items);
        text = text.replacen("array", &format!("array of {}", inner.text), 1);
        link = inner.link;
    }
    if let Some(format) = schema.get("format").and_then(Value::as_str) {
        text.push_str(&format!(" ({format})"));
    }
    if let (Some(min), Some(max)) = (schema.get("minimum"), schema.get("maximum")) {
        text.push_str(&format!(", {min}..={max}"));
    } else if let Some(min) = schema.get("minimum") {
        text.push_str(&format!(", at least {min}"));
    } else if let Some(max) = schema.get("maximum") {
        text.push_str(&format!(", at most {max}"));
    }
    TypeText { text, link }
}

fn security_text(operation: &Value, root: &Value) -> String {
    let requirements = operation
        .get("security")
        .or_else(|| root.get("security"))
        .and_then(Value::as_array);
    let Some(requirements) = requirements else {
        return "none (public)".to_owned();
    };
    let names: Vec<String> = requirements
        .iter()
        .map(|requirement| {
            let keys: Vec<&str> = requirement
                .as_object()
                .map(|object| object.keys().map(String::as_str).collect())
                .unwrap_or_default();
            if keys.is_empty() {
                "anonymous".to_owned()
            } else {
                keys.join(" + ")
            }
        })
        .collect();
    names.join(" or ")
}

impl DocsPage {
    fn of(root: &Value) -> Self {
        let info = &root["info"];
        let security = root["components"]["securitySchemes"]
            .as_object()
            .map(|schemes| {
                schemes
                    .iter()
                    .map(|(name, scheme)| NamedText {
                        name: name.clone(),
                        text: text(&scheme["description"]),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut tags: Vec<TagView> = root["tags"]
            .as_array()
            .map(|tags| {
                tags.iter()
                    .map(|tag| TagView {
                        name: text(&tag["name"]),
                        description: text(&tag["description"]),
                        operations: Vec::new(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        for (path, item) in root["paths"].as_object().into_iter().flatten() {
            for method in ["get", "put", "post", "delete", "patch", "head", "options"] {
                let Some(operation) = item.get(method) else {
                    continue;
                };
                let view = Self::operation(root, path, method, operation);
                let tag = operation["tags"][0].as_str().unwrap_or("other");
                match tags.iter_mut().find(|t| t.name == tag) {
                    Some(found) => found.operations.push(view),
                    None => tags.push(TagView {
                        name: tag.to_owned(),
                        description: String::new(),
                        operations: vec![view],
                    }),
                }
            }
        }
        let schemas = root["components"]["schemas"]
            .as_object()
            .map(|schemas| {
                schemas
                    .iter()
                    .map(|(name, schema)| Self::schema(name, schema))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            layout: Layout::minimal("API reference"),
            title: text(&info["title"]),
            version: text(&info["version"]),
            description: text(&info["description"]),
            security,
            tags,
            schemas,
        }
    }

    fn operation(root: &Value, path: &str, method: &str, operation: &Value) -> OperationView {
        let parameters = operation["parameters"]
            .as_array()
            .map(|parameters| {
                parameters
                    .iter()
                    .map(|parameter| ParameterView {
                        name: text(&parameter["name"]),
                        place: text(&parameter["in"]),
                        required: parameter["required"].as_bool().unwrap_or(false),
                        kind: type_text(&parameter["schema"]),
                        description: text(&parameter["description"]),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let (body, body_schema) = match operation["requestBody"]["content"].as_object() {
            Some(content) => match content.iter().next() {
                Some((content_type, media)) => {
                    let kind = type_text(&media["schema"]);
                    (Some(format!("{content_type}: {}", kind.text)), kind.link)
                }
                None => (None, None),
            },
            None => (None, None),
        };
        let responses = operation["responses"]
            .as_object()
            .map(|responses| {
                responses
                    .iter()
                    .map(|(status, response)| {
                        let content = response["content"].as_object();
                        let first = content.and_then(|content| content.iter().next());
                        ResponseView {
                            status: status.clone(),
                            description: text(&response["description"]),
                            content_type: first.map(|(t, _)| t.clone()).unwrap_or_default(),
                            kind: first.map(|(_, media)| type_text(&media["schema"])),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        OperationView {
            anchor: text(&operation["operationId"]),
            method: method.to_uppercase(),
            path: path.to_owned(),
            summary: text(&operation["summary"]),
            description: text(&operation["description"]),
            security: security_text(operation, root),
            parameters,
            body,
            body_schema,
            responses,
        }
    }

    fn schema(name: &str, schema: &Value) -> SchemaView {
        // Flattened types are an allOf of a reference and an object.
        let mut properties = Vec::new();
        let mut parts = vec![schema];
        if let Some(all) = schema["allOf"].as_array() {
            parts.extend(all.iter());
        }
        for part in parts {
            let required: Vec<&str> = part["required"]
                .as_array()
                .map(|names| names.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            for (property, value) in part["properties"].as_object().into_iter().flatten() {
                properties.push(PropertyView {
                    name: property.clone(),
                    required: required.contains(&property.as_str()),
                    kind: type_text(value),
                    description: text(&value["description"]),
                });
            }
        }
        SchemaView {
            name: name.to_owned(),
            description: text(&schema["description"]),
            kind: type_text(schema),
            properties,
            json: serde_json::to_string_pretty(schema).unwrap_or_default(),
        }
    }
}
