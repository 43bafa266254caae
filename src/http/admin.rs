//! The JSON admin API under `/api/v1/admin` (role admin). Every action that
//! changes something is written to the audit log (and so is every bid by an
//! admin, from `super::bids`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::accounts::user_json;
use super::auctions::load;
use super::extract::parse_id;
use super::identity::AdminUser;
use super::{ApiError, ApiResult, AppState};
use crate::auction::registry::AdminSubmitError;
use crate::auction::view::{rfc3339, Snapshot};
use crate::auction::{AdminAction, AdminError};
use crate::cluster::identity::IdentityChange;
use crate::domain::alias::bidder_alias;
use crate::domain::money::is_valid_currency;
use crate::domain::text::{check_text, Lines};
use crate::domain::{buy_now_problem, Auction, AuctionRules, IncrementTable, Money, MAX_AMOUNT};
use crate::store::{AuctionRecord, AuditEntry, AuditFilter, AuditTargetKind, User};

/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 10_000;
/// Longest soft-close window (a day).
pub const MAX_EXTEND_WINDOW_SECS: i64 = 86_400;
/// Default soft-close window (docs/api.md, Creating an auction).
pub const DEFAULT_EXTEND_WINDOW_SECS: i64 = 120;

/// The body of `POST /api/v1/admin/auctions`. Times are strings so that a
/// bad one gets a field message, not a parse error.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAuction {
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub currency: String,
    #[schema(value_type = i64)]
    pub starting_price: Money,
    #[schema(value_type = Option<i64>)]
    pub reserve_price: Option<Money>,
    #[schema(value_type = Option<i64>)]
    pub buy_now_price: Option<Money>,
    pub starts_at: Option<String>,
    pub ends_at: String,
    pub extend_window_secs: Option<i64>,
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn check_money(fields: &mut Map<String, Value>, name: &str, amount: Option<Money>) {
    if let Some(amount) = amount {
        if !(1..=MAX_AMOUNT).contains(&amount) {
            fields.insert(
                name.into(),
                format!("must be between 1 and {MAX_AMOUNT} minor units").into(),
            );
        }
    }
}

/// Validates every field; on success, the auction to create.
pub fn validate_new_auction(
    input: &CreateAuction,
    now: DateTime<Utc>,
) -> Result<(String, String, String, Auction), Map<String, Value>> {
    let mut fields = Map::new();
    let title = input.title.trim().to_owned();
    let title_chars = title.chars().count();
    if let Err(control) = check_text(&title, Lines::Single) {
        fields.insert("title".into(), control.to_string().into());
    } else if title_chars == 0 || title_chars > MAX_TITLE_CHARS {
        fields.insert(
            "title".into(),
            format!("must be 1 to {MAX_TITLE_CHARS} characters").into(),
        );
    }
    if let Err(control) = check_text(&input.description, Lines::Multi) {
        fields.insert(
            "description".into(),
            format!("{control}, other than line breaks and tabs").into(),
        );
    } else if input.description.chars().count() > MAX_DESCRIPTION_CHARS {
        fields.insert(
            "description".into(),
            format!("must be at most {MAX_DESCRIPTION_CHARS} characters").into(),
        );
    }
    if !is_valid_currency(&input.currency) {
        fields.insert(
            "currency".into(),
            "must be three capital letters, like EUR".into(),
        );
    }
    check_money(&mut fields, "starting_price", Some(input.starting_price));
    check_money(&mut fields, "reserve_price", input.reserve_price);
    check_money(&mut fields, "buy_now_price", input.buy_now_price);
    if let Some(buy_now) = input.buy_now_price {
        if let Some(problem) = buy_now_problem(input.starting_price, input.reserve_price, buy_now) {
            fields
                .entry("buy_now_price")
                .or_insert_with(|| problem.into());
        }
    }
    let starts_at = match input.starts_at.as_deref().map(str::trim) {
        None | Some("") => Some(now),
        Some(text) => {
            let parsed = parse_time(text);
            if parsed.is_none() {
                fields.insert(
                    "starts_at".into(),
                    "must be an RFC 3339 time, like 2026-11-27T20:00:00Z".into(),
                );
            }
            parsed
        }
    };
    let ends_at = parse_time(&input.ends_at);
    match (starts_at, ends_at) {
        (_, None) => {
            fields.insert(
                "ends_at".into(),
                "must be an RFC 3339 time, like 2026-11-27T21:00:00Z".into(),
            );
        }
        (Some(starts), Some(ends)) if ends <= starts => {
            fields.insert("ends_at".into(), "must be after starts_at".into());
        }
        (_, Some(ends)) if ends <= now => {
            fields.insert("ends_at".into(), "must be in the future".into());
        }
        _ => {}
    }
    let extend_window_secs = input
        .extend_window_secs
        .unwrap_or(DEFAULT_EXTEND_WINDOW_SECS);
    if !(0..=MAX_EXTEND_WINDOW_SECS).contains(&extend_window_secs) {
        fields.insert(
            "extend_window_secs".into(),
            format!("must be between 0 and {MAX_EXTEND_WINDOW_SECS}").into(),
        );
    }
    if !fields.is_empty() {
        return Err(fields);
    }
    let (Some(starts_at), Some(ends_at)) = (starts_at, ends_at) else {
        return Err(fields);
    };
    let rules = AuctionRules {
        starting_price: input.starting_price,
        reserve_price: input.reserve_price,
        buy_now_price: input.buy_now_price,
        starts_at,
        extend_window_secs,
        increments: IncrementTable::standard(),
    };
    Ok((
        title,
        input.description.clone(),
        input.currency.clone(),
        Auction::new(rules, ends_at),
    ))
}

/// The admin view of an auction: the snapshot plus the reserve.
pub fn admin_snapshot(record: &AuctionRecord) -> Value {
    let mut value = serde_json::to_value(Snapshot::of(record, Utc::now())).unwrap_or_default();
    value["reserve_price"] = json!(record.auction.rules.reserve_price);
    value
}

/// Writes one entry to the audit log (a failure is logged, not answered).
pub async fn audit(state: &AppState, admin: &User, action: &str, target: String, details: Value) {
    let entry = AuditEntry {
        id: uuid::Uuid::now_v7(),
        at: Utc::now(),
        actor_id: admin.id,
        action: action.to_owned(),
        target,
        details: details.to_string(),
    };
    if let Err(error) = state.store.record_audit(&entry).await {
        tracing::error!(error = ?error, action, "could not write the audit log");
    }
}

/// Creates an auction (shared by the JSON API and the admin pages).
pub async fn create_auction(
    state: &AppState,
    admin: &User,
    input: &CreateAuction,
) -> Result<AuctionRecord, ApiError> {
    let now = Utc::now();
    let record = new_auction_record(admin, input, now)?;
    state.store.create_auction(&record).await?;
    tracing::info!(auction.id = %record.id, admin.id = %admin.id, "auction created");
    audit(
        state,
        admin,
        "auction.create",
        record.id.to_string(),
        json!({ "title": record.title }),
    )
    .await;
    start_if_due(state).await;
    Ok(record)
}

/// The record of a new auction created by `admin` from `input`, validated.
pub fn new_auction_record(
    admin: &User,
    input: &CreateAuction,
    now: DateTime<Utc>,
) -> Result<AuctionRecord, ApiError> {
    let (title, description, currency, auction) =
        validate_new_auction(input, now).map_err(ApiError::validation)?;
    Ok(AuctionRecord {
        id: uuid::Uuid::now_v7(),
        title,
        description,
        currency,
        auction,
        epoch: 0,
        created_by: admin.id,
        created_at: now,
        head_hash: String::new(),
    })
}

/// Starts the actor of a new auction now if it ends soon, so it closes on
/// time (a failure is logged: the periodic sweep starts it later).
pub async fn start_if_due(state: &AppState) {
    if let Err(error) = state.registry.sweep().await {
        tracing::warn!(error = ?error, "sweep after creating an auction failed");
    }
}

/// `POST /api/v1/admin/auctions`
pub async fn create(
    state: web::Data<AppState>,
    admin: AdminUser,
    body: web::Json<CreateAuction>,
) -> ApiResult<HttpResponse> {
    let record = create_auction(&state, &admin.0, &body).await?;
    Ok(HttpResponse::Created().json(admin_snapshot(&record)))
}

/// `GET /api/v1/admin/auctions/{id}`: snapshot, reserve and the full bid log.
pub async fn show(
    state: web::Data<AppState>,
    _admin: AdminUser,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let record = load(&state, &id).await?;
    let log = state.store.bid_log(record.id).await?;
    let links = state.store.relist_links(record.id).await?;
    let mut body = admin_snapshot(&record);
    body["relisted_from"] = json!(links.relisted_from.map(|id| id.to_string()));
    body["relisted_as"] = json!(links.relisted_as.map(|id| id.to_string()));
    body["second_chance"] = match state.store.offer(record.id).await? {
        Some(offer) => super::second_chance::offer_json(&offer, &record, Utc::now(), true),
        None => Value::Null,
    };
    body["bids"] = log
        .iter()
        .map(|entry| {
            json!({
                "seq": entry.seq,
                "amount": entry.amount,
                "kind": entry.kind,
                "at": rfc3339(entry.at),
                "user_id": entry.user_id.to_string(),
                "username": entry.username,
                "bidder": bidder_alias(record.id, entry.user_id),
                "max_amount": entry.ceiling,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(body))
}

/// Closes or cancels through the auction's actor (shared with the pages).
pub async fn end_auction(
    state: &AppState,
    admin: &User,
    id: &str,
    action: AdminAction,
) -> Result<AuctionRecord, ApiError> {
    let id = parse_id(id, "auction")?;
    let name = action.audit_name();
    let record = state.registry.admin(id, action).await?;
    tracing::info!(auction.id = %id, admin.id = %admin.id, action = name, "auction ended by admin");
    audit(state, admin, name, id.to_string(), json!({})).await;
    Ok(record)
}

/// `POST /api/v1/admin/auctions/{id}/cancel`
pub async fn cancel(
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let record = end_auction(&state, &admin.0, &id, AdminAction::Cancel).await?;
    Ok(HttpResponse::Ok().json(admin_snapshot(&record)))
}

/// `POST /api/v1/admin/auctions/{id}/close`
pub async fn close(
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let record = end_auction(&state, &admin.0, &id, AdminAction::Close).await?;
    Ok(HttpResponse::Ok().json(admin_snapshot(&record)))
}

/// Bans or unbans a user (shared with the pages), and audits it.
pub async fn set_banned(
    state: &AppState,
    admin: &User,
    id: &str,
    banned: bool,
) -> Result<User, ApiError> {
    let user = change_ban(state, admin, id, banned).await?;
    let action = if banned { "user.ban" } else { "user.unban" };
    audit(
        state,
        admin,
        action,
        user.id.to_string(),
        json!({ "username": user.username }),
    )
    .await;
    Ok(user)
}

/// Bans or unbans a user without auditing it (the caller does).
async fn change_ban(
    state: &AppState,
    admin: &User,
    id: &str,
    banned: bool,
) -> Result<User, ApiError> {
    let id = parse_id(id, "user")?;
    if id == admin.id && banned {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "cannot_ban_self",
            "admins cannot ban themselves",
        ));
    }
    let user = state
        .store
        .set_user_banned(id, banned)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    state.registry.ban_changed(id);
    state.announce_identity_change(if banned {
        IdentityChange::Banned { user: id }
    } else {
        IdentityChange::Unbanned { user: id }
    });
    let action = if banned { "user.ban" } else { "user.unban" };
    tracing::info!(user.id = %id, admin.id = %admin.id, action, "user ban changed");
    Ok(user)
}

/// The optional body of `POST /api/v1/admin/users/{id}/ban`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BanBody {
    #[serde(default)]
    pub reason: Option<String>,
    /// Keep the bidder's bids (their maximum still stops bidding for them
    /// and they cannot win); by default their bids on open lots are voided.
    #[serde(default)]
    pub keep_bids: bool,
}

/// What a ban did to the bidder's bids on open lots.
#[derive(Debug, Default)]
pub struct BanOutcome {
    /// Auctions whose bids by the bidder were voided.
    pub voided: Vec<uuid::Uuid>,
    /// Auctions where the bidder was barred with their bids kept.
    pub barred: Vec<uuid::Uuid>,
    /// Auctions that could not be corrected now (storage or the owner node
    /// unavailable): the answer is 503 and the ban may be repeated.
    pub failed: Vec<uuid::Uuid>,
}

/// Bans a user and corrects every open lot they bid on: voids their bids by
/// replay, or with `keep_bids` bars them (shared with the pages).
pub async fn ban_user(
    state: &AppState,
    admin: &User,
    id: &str,
    body: &BanBody,
) -> Result<(User, BanOutcome), ApiError> {
    let reason = match &body.reason {
        Some(reason) => check_reason(reason)?,
        None => "banned".to_string(),
    };
    let user = change_ban(state, admin, id, true).await?;
    let mut outcome = BanOutcome::default();
    let lots = state.store.auctions_bid_by(user.id).await?;
    for lot in lots {
        if lot.auction.state.status != crate::domain::AuctionStatus::Live {
            continue;
        }
        let action = if body.keep_bids {
            AdminAction::Bar { user: user.id }
        } else {
            AdminAction::Void {
                seqs: Vec::new(),
                user: Some(user.id),
                reason: reason.clone(),
            }
        };
        let name = action.audit_name();
        match state.registry.admin(lot.id, action).await {
            Ok(_) => {
                tracing::info!(auction.id = %lot.id, user.id = %user.id, admin.id = %admin.id, action = name, "ban applied to an open lot");
                audit(
                    state,
                    admin,
                    name,
                    lot.id.to_string(),
                    json!({
                        "title": lot.title,
                        "user_id": user.id.to_string(),
                        "username": user.username,
                        "reason": reason,
                        "ban": true,
                    }),
                )
                .await;
                if body.keep_bids {
                    outcome.barred.push(lot.id);
                } else {
                    outcome.voided.push(lot.id);
                }
            }
            Err(AdminSubmitError::Refused(
                AdminError::AlreadyEnded | AdminError::NothingToDo(_),
            )) => {}
            Err(error) => {
                tracing::warn!(auction.id = %lot.id, user.id = %user.id, error = %error, "could not apply a ban to an open lot");
                outcome.failed.push(lot.id);
            }
        }
    }
    audit(
        state,
        admin,
        "user.ban",
        user.id.to_string(),
        json!({
            "username": user.username,
            "reason": reason,
            "keep_bids": body.keep_bids,
            "voided_on": outcome.voided.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "barred_on": outcome.barred.iter().map(ToString::to_string).collect::<Vec<_>>(),
        }),
    )
    .await;
    Ok((user, outcome))
}

/// `POST /api/v1/admin/users/{id}/ban`, with an optional JSON body
/// ([`BanBody`]); an empty body bans and voids with the reason "banned".
pub async fn ban(
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<String>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let body: BanBody = super::extract::optional_json(&body)?;
    let (user, outcome) = ban_user(&state, &admin.0, &id, &body).await?;
    if !outcome.failed.is_empty() {
        return Err(ApiError::unavailable().with(
            "auctions",
            outcome
                .failed
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
        ));
    }
    let mut answer = user_json(&user);
    answer["voided_on"] = json!(outcome
        .voided
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>());
    answer["barred_on"] = json!(outcome
        .barred
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>());
    Ok(HttpResponse::Ok().json(answer))
}

/// Longest void or ban reason, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// A void or ban reason: one line of text, trimmed, 1 to 500 characters.
pub fn check_reason(reason: &str) -> Result<String, ApiError> {
    let reason = reason.trim();
    let mut fields = Map::new();
    if reason.is_empty() {
        fields.insert("reason".into(), "must not be empty".into());
    } else if reason.chars().count() > MAX_REASON_CHARS {
        fields.insert(
            "reason".into(),
            format!("must be at most {MAX_REASON_CHARS} characters").into(),
        );
    } else if let Err(error) = check_text(reason, Lines::Single) {
        fields.insert("reason".into(), error.to_string().into());
    }
    if fields.is_empty() {
        Ok(reason.to_string())
    } else {
        Err(ApiError::validation(fields))
    }
}

/// The body of `POST /api/v1/admin/auctions/{id}/void`: the bid `seqs` to
/// void, or `user_id` for all of one bidder's bids, and a `reason`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoidBody {
    #[serde(default)]
    pub seqs: Vec<i64>,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub reason: String,
}

/// The most seqs one void may name.
pub const MAX_VOID_SEQS: usize = 1_000;

/// Voids bids through the auction's actor and audits it (shared with the
/// pages). Answers the auction and the seqs voided.
pub async fn void_bids(
    state: &AppState,
    admin: &User,
    id: &str,
    body: &VoidBody,
) -> Result<(AuctionRecord, Vec<i64>), ApiError> {
    let id = parse_id(id, "auction")?;
    let reason = check_reason(&body.reason)?;
    let user = match &body.user_id {
        Some(text) => Some(
            state
                .store
                .user_by_id(parse_id(text, "user")?)
                .await?
                .ok_or_else(|| ApiError::not_found("user"))?,
        ),
        None => None,
    };
    let mut fields = Map::new();
    if body.seqs.is_empty() == user.is_none() {
        fields.insert(
            "seqs".into(),
            "name the bids to void in seqs, or a bidder in user_id (not both)".into(),
        );
    } else if body.seqs.len() > MAX_VOID_SEQS {
        fields.insert(
            "seqs".into(),
            format!("at most {MAX_VOID_SEQS} seqs at a time").into(),
        );
    }
    if !fields.is_empty() {
        return Err(ApiError::validation(fields));
    }
    let action = AdminAction::Void {
        seqs: body.seqs.clone(),
        user: user.as_ref().map(|user| user.id),
        reason: reason.clone(),
    };
    let record = state.registry.admin(id, action).await?;
    // The voided event is the one before the last (the repriced event).
    let voided = state
        .store
        .events_after(id, record.auction.state.seq - 2, 1)
        .await?
        .into_iter()
        .next()
        .filter(|event| event.name == "voided")
        .and_then(|event| serde_json::from_str::<Value>(&event.data).ok())
        .and_then(|data| serde_json::from_value::<Vec<i64>>(data["voided"]["seqs"].clone()).ok())
        .unwrap_or_default();
    tracing::info!(auction.id = %id, admin.id = %admin.id, seqs = ?voided, "bids voided");
    audit(
        state,
        admin,
        "auction.void",
        id.to_string(),
        json!({
            "title": record.title,
            "seqs": voided,
            "user_id": user.as_ref().map(|user| user.id.to_string()),
            "username": user.as_ref().map(|user| user.username.clone()),
            "reason": reason,
        }),
    )
    .await;
    Ok((record, voided))
}

/// The body of `POST /api/v1/admin/auctions/{id}/extend`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtendBody {
    pub secs: i64,
    #[serde(default)]
    pub reason: Option<String>,
}

/// The body of `POST /api/v1/admin/auctions/{id}/withdraw`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WithdrawBody {
    #[serde(default)]
    pub reason: String,
}

/// Pauses, resumes, extends or withdraws an auction through its actor and
/// audits it with `details` (shared with the pages).
pub async fn lot_control(
    state: &AppState,
    admin: &User,
    id: &str,
    action: AdminAction,
    details: Value,
) -> Result<AuctionRecord, ApiError> {
    let id = parse_id(id, "auction")?;
    if let AdminAction::Extend { secs } = action {
        if !(1..=crate::domain::MAX_ADMIN_EXTENSION_SECS).contains(&secs) {
            return Err(ApiError::invalid_field(
                "secs",
                format!(
                    "must be between 1 and {}",
                    crate::domain::MAX_ADMIN_EXTENSION_SECS
                ),
            ));
        }
    }
    let name = action.audit_name();
    let record = state.registry.admin(id, action).await?;
    tracing::info!(auction.id = %id, admin.id = %admin.id, action = name, "lot control");
    let mut details = details;
    details["title"] = json!(record.title);
    audit(state, admin, name, id.to_string(), details).await;
    Ok(record)
}

/// `POST /api/v1/admin/auctions/{id}/pause`
pub async fn pause(
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let record = lot_control(&state, &admin.0, &id, AdminAction::Pause, json!({})).await?;
    Ok(HttpResponse::Ok().json(admin_snapshot(&record)))
}

/// `POST /api/v1/admin/auctions/{id}/resume`
pub async fn resume(
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let record = lot_control(&state, &admin.0, &id, AdminAction::Resume, json!({})).await?;
    Ok(HttpResponse::Ok().json(admin_snapshot(&record)))
}

/// `POST /api/v1/admin/auctions/{id}/extend`
pub async fn extend(
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<String>,
    body: web::Json<ExtendBody>,
) -> ApiResult<HttpResponse> {
    let reason = body.reason.as_deref().map(check_reason).transpose()?;
    let action = AdminAction::Extend { secs: body.secs };
    let details = json!({ "secs": body.secs, "reason": reason });
    let record = lot_control(&state, &admin.0, &id, action, details).await?;
    Ok(HttpResponse::Ok().json(admin_snapshot(&record)))
}

/// `POST /api/v1/admin/auctions/{id}/withdraw`
pub async fn withdraw(
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<String>,
    body: web::Json<WithdrawBody>,
) -> ApiResult<HttpResponse> {
    let reason = check_reason(&body.reason)?;
    let action = AdminAction::Withdraw {
        reason: reason.clone(),
    };
    let record = lot_control(&state, &admin.0, &id, action, json!({ "reason": reason })).await?;
    Ok(HttpResponse::Ok().json(admin_snapshot(&record)))
}

/// `POST /api/v1/admin/auctions/{id}/void`
pub async fn void(
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<String>,
    body: web::Json<VoidBody>,
) -> ApiResult<HttpResponse> {
    let (record, voided) = void_bids(&state, &admin.0, &id, &body).await?;
    let mut answer = admin_snapshot(&record);
    answer["voided_seqs"] = json!(voided);
    Ok(HttpResponse::Ok().json(answer))
}

/// `POST /api/v1/admin/users/{id}/unban`
pub async fn unban(
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let user = set_banned(&state, &admin.0, &id, false).await?;
    Ok(HttpResponse::Ok().json(user_json(&user)))
}

/// `GET /api/v1/admin/users`
pub async fn users(state: web::Data<AppState>, _admin: AdminUser) -> ApiResult<HttpResponse> {
    let users = state.store.list_users(1000).await?;
    let users: Vec<Value> = users.iter().map(user_json).collect();
    Ok(HttpResponse::Ok().json(json!({ "users": users })))
}

/// The most entries `GET /api/v1/admin/audit` answers at once.
pub const AUDIT_LIMIT: i64 = 500;

/// `GET /api/v1/admin/audit?auction=ID&user=ID&admin=ID&limit=N`
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only the entries about this auction.
    #[param(format = Uuid)]
    pub auction: Option<String>,
    /// Only the entries about this user (a ban, a role change). Not with `auction`.
    #[param(format = Uuid)]
    pub user: Option<String>,
    /// Only the entries by this admin.
    #[param(format = Uuid)]
    pub admin: Option<String>,
    /// The most entries in the answer (default and most 500).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

impl AuditQuery {
    /// The store filter and limit the query asks for, or why it is invalid.
    pub fn to_filter(&self) -> Result<(AuditFilter, i64), String> {
        let id = |text: &Option<String>, what: &str| -> Result<Option<uuid::Uuid>, String> {
            match text.as_deref().map(str::trim) {
                None | Some("") => Ok(None),
                Some(text) => uuid::Uuid::parse_str(text)
                    .map(Some)
                    .map_err(|_| format!("{what} must be an id")),
            }
        };
        let auction = id(&self.auction, "auction")?;
        let user = id(&self.user, "user")?;
        if auction.is_some() && user.is_some() {
            return Err("give auction or user, not both".into());
        }
        let limit = self.limit.unwrap_or(AUDIT_LIMIT);
        if !(1..=AUDIT_LIMIT).contains(&limit) {
            return Err(format!("limit must be between 1 and {AUDIT_LIMIT}"));
        }
        let filter = AuditFilter {
            target: auction.or(user).map(|id| id.to_string()),
            admin: id(&self.admin, "admin")?,
        };
        Ok((filter, limit))
    }
}

/// `GET /api/v1/admin/audit`
pub async fn audit_log(
    state: web::Data<AppState>,
    _admin: AdminUser,
    query: web::Query<AuditQuery>,
) -> ApiResult<HttpResponse> {
    let (filter, limit) = query.to_filter().map_err(ApiError::bad_request)?;
    let records = state.store.audit_log(&filter, limit).await?;
    let entries: Vec<Value> = records
        .iter()
        .map(|record| {
            let entry = &record.entry;
            json!({
                "id": entry.id.to_string(),
                "at": rfc3339(entry.at),
                "actor_id": entry.actor_id.to_string(),
                "actor_name": record.admin_name,
                "action": entry.action,
                "target": entry.target,
                "target_kind": record.target_kind.map(|kind| match kind {
                    AuditTargetKind::Auction => "auction",
                    AuditTargetKind::User => "user",
                }),
                "target_name": record.target_name,
                "details": serde_json::from_str::<Value>(&entry.details).unwrap_or(Value::Null),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "entries": entries })))
}
