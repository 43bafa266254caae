//! Admin pages under `/admin` (role admin; anonymous visitors are sent to
//! the login page, bidders get 403): the dashboard by status, the
//! create/schedule form with field-by-field messages, an auction's detail
//! with its full bid log, cancel and close behind a confirmation page,
//! users with ban/unban, and the audit log. Every change goes through the
//! same functions as the JSON admin API (and so into the audit log).

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::bidder::{load_auction, plural, AuctionRow};
use super::context::PageCtx;
use super::errors::{sentence, PageError};
use super::render::{
    money, parse_money, precise_time_text, time_input, time_text, Flash, Layout, Section,
};
use crate::auction::view::rfc3339;
use crate::auction::AdminAction;
use crate::domain::alias::bidder_alias;
use crate::domain::PublicStatus;
use crate::http::admin::{
    ban_user, create_auction, end_auction, set_banned, validate_new_auction, AuditQuery,
    CreateAuction, DEFAULT_EXTEND_WINDOW_SECS, MAX_TITLE_CHARS,
};
use crate::store::AuditTargetKind;

/// Most auctions listed per status on the dashboard.
const DASHBOARD_LIVE_LIMIT: i64 = 200;
/// Ended auctions are read up to this many, and the most recent shown.
const DASHBOARD_ENDED_READ: i64 = 1000;
const DASHBOARD_ENDED_SHOWN: usize = 50;

#[derive(Template)]
#[template(path = "admin/dashboard.html")]
struct DashboardPage {
    layout: Layout,
    open: Vec<AuctionRow>,
    scheduled: Vec<AuctionRow>,
    closed: Vec<AuctionRow>,
    cancelled: Vec<AuctionRow>,
    closed_total: usize,
    cancelled_total: usize,
}

/// The most recent `n` of a list ordered by end time, newest first.
fn most_recent(mut rows: Vec<AuctionRow>, n: usize) -> Vec<AuctionRow> {
    rows.reverse();
    rows.truncate(n);
    rows
}

/// `GET /admin`
pub async fn dashboard(ctx: PageCtx) -> Result<HttpResponse, PageError> {
    let admin = ctx.require_admin()?;
    let now = Utc::now();
    let store = &ctx.state.store;
    let rows = |records: Vec<crate::store::AuctionRecord>| -> Vec<AuctionRow> {
        records
            .iter()
            .map(|r| AuctionRow::of(r, Some(admin), now))
            .collect()
    };
    let open = rows(
        store
            .list_auctions(Some(PublicStatus::Open), now, DASHBOARD_LIVE_LIMIT)
            .await?,
    );
    let scheduled = rows(
        store
            .list_auctions(Some(PublicStatus::Scheduled), now, DASHBOARD_LIVE_LIMIT)
            .await?,
    );
    let closed = rows(
        store
            .list_auctions(Some(PublicStatus::Closed), now, DASHBOARD_ENDED_READ)
            .await?,
    );
    let cancelled = rows(
        store
            .list_auctions(Some(PublicStatus::Cancelled), now, DASHBOARD_ENDED_READ)
            .await?,
    );
    let (closed_total, cancelled_total) = (closed.len(), cancelled.len());
    let (mut open, mut scheduled) = (open, scheduled);
    let mut closed = most_recent(closed, DASHBOARD_ENDED_SHOWN);
    let mut cancelled = most_recent(cancelled, DASHBOARD_ENDED_SHOWN);
    for rows in [&mut open, &mut scheduled, &mut closed, &mut cancelled] {
        // Watcher counts only: the admin's own watch state is not shown here.
        super::watchlist::mark(&ctx, None, rows).await?;
    }
    ctx.page(&DashboardPage {
        layout: ctx.layout("Admin dashboard", Section::Admin),
        open,
        scheduled,
        closed,
        cancelled,
        closed_total,
        cancelled_total,
    })
}

/// The create form's fields as typed (strings, so they can be shown again).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NewAuctionForm {
    #[serde(default)]
    pub(super) csrf: String,
    #[serde(default)]
    pub(super) title: String,
    #[serde(default)]
    pub(super) description: String,
    #[serde(default)]
    pub(super) currency: String,
    #[serde(default)]
    pub(super) starting_price: String,
    #[serde(default)]
    pub(super) reserve_price: String,
    #[serde(default)]
    pub(super) buy_now_price: String,
    #[serde(default)]
    pub(super) starts_at: String,
    #[serde(default)]
    pub(super) ends_at: String,
    #[serde(default)]
    pub(super) extend_window_secs: String,
}

/// A field's message, for the error summary at the top of the form.
#[derive(Debug, Clone)]
pub(super) struct FieldError {
    pub(super) field: &'static str,
    pub(super) message: String,
}

#[derive(Template)]
#[template(path = "admin/new_auction.html")]
pub(super) struct NewAuctionPage {
    pub(super) layout: Layout,
    pub(super) form: NewAuctionForm,
    pub(super) errors: HashMap<&'static str, String>,
    pub(super) error_list: Vec<FieldError>,
    pub(super) now_text: String,
    pub(super) max_title: usize,
    /// Set when the form relists an unsold lot: its id and title (the new
    /// lot keeps the title, description and currency).
    pub(super) relisting: Option<(String, String)>,
}

impl NewAuctionPage {
    fn error(&self, field: &str) -> &str {
        self.errors.get(field).map_or("", String::as_str)
    }

    fn invalid(&self, field: &str) -> &'static str {
        if self.errors.contains_key(field) {
            "true"
        } else {
            "false"
        }
    }
}

/// The form's fields in order, with their labels.
pub(super) const FIELDS: [(&str, &str); 9] = [
    ("title", "Title"),
    ("description", "Description"),
    ("currency", "Currency"),
    ("starting_price", "Starting price"),
    ("reserve_price", "Reserve price"),
    ("buy_now_price", "Buy-now price"),
    ("starts_at", "Starts at"),
    ("ends_at", "Ends at"),
    ("extend_window_secs", "Soft-close window"),
];

fn blank_form(now: DateTime<Utc>) -> NewAuctionForm {
    let ends = now + chrono::Duration::days(1);
    NewAuctionForm {
        currency: "EUR".into(),
        ends_at: time_input(ends),
        extend_window_secs: DEFAULT_EXTEND_WINDOW_SECS.to_string(),
        ..NewAuctionForm::default()
    }
}

/// `GET /admin/auctions/new`
pub async fn new_auction_form(ctx: PageCtx) -> Result<HttpResponse, PageError> {
    ctx.require_admin()?;
    let now = Utc::now();
    ctx.page(&NewAuctionPage {
        layout: ctx.layout("New auction", Section::Admin),
        form: blank_form(now),
        errors: HashMap::new(),
        error_list: Vec::new(),
        now_text: time_text(now),
        max_title: MAX_TITLE_CHARS,
        relisting: None,
    })
}

/// A `datetime-local` value (taken as UTC) or an RFC 3339 time.
fn parse_form_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.with_timezone(&Utc));
    }
    [
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d %H:%M:%S",
    ]
    .iter()
    .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
    .map(|naive| naive.and_utc())
}

/// Turns the typed form into the API's input, collecting format messages.
pub(super) fn parse_new_auction(form: &NewAuctionForm) -> (CreateAuction, Map<String, Value>) {
    let mut errors = Map::new();
    let mut amount = |name: &str, text: &str, required: bool| -> Option<i64> {
        if text.trim().is_empty() {
            if required {
                errors.insert(name.into(), "is required: an amount like 12.50".into());
            }
            return None;
        }
        match parse_money(text) {
            Ok(amount) => Some(amount),
            Err(_) => {
                errors.insert(name.into(), "must be an amount like 12.50".into());
                None
            }
        }
    };
    let starting_price = amount("starting_price", &form.starting_price, true);
    let reserve_price = amount("reserve_price", &form.reserve_price, false);
    let buy_now_price = amount("buy_now_price", &form.buy_now_price, false);

    let time_hint = "must be a date and time in UTC, like 2026-11-27 20:00";
    let starts_at = match form.starts_at.trim() {
        "" => None,
        text => match parse_form_time(text) {
            Some(time) => Some(rfc3339(time)),
            None => {
                errors.insert("starts_at".into(), time_hint.into());
                None
            }
        },
    };
    let ends_at = match parse_form_time(&form.ends_at) {
        Some(time) => rfc3339(time),
        None => {
            errors.insert("ends_at".into(), time_hint.into());
            String::new()
        }
    };
    let extend_window_secs = match form.extend_window_secs.trim() {
        "" => None,
        text => match text.parse::<i64>() {
            Ok(secs) => Some(secs),
            Err(_) => {
                errors.insert(
                    "extend_window_secs".into(),
                    "must be a whole number of seconds".into(),
                );
                None
            }
        },
    };
    let input = CreateAuction {
        title: form.title.clone(),
        description: form.description.replace("\r\n", "\n"),
        currency: form.currency.trim().to_uppercase(),
        starting_price: starting_price.unwrap_or(0),
        reserve_price,
        buy_now_price,
        starts_at,
        ends_at,
        extend_window_secs,
    };
    (input, errors)
}

/// `POST /admin/auctions`: creates (or schedules) an auction.
pub async fn create(
    ctx: PageCtx,
    form: web::Form<NewAuctionForm>,
) -> Result<HttpResponse, PageError> {
    ctx.check_csrf(&form.csrf)?;
    let admin = ctx.require_admin()?;
    let now = Utc::now();
    let (input, mut errors) = parse_new_auction(&form);
    if let Err(fields) = validate_new_auction(&input, now) {
        for (field, message) in fields {
            // A format message from the form says more than the API's.
            errors.entry(field).or_insert(message);
        }
    }
    if errors.is_empty() {
        match create_auction(&ctx.state, admin, &input).await {
            Ok(record) => {
                let flash = Flash::success(format!("Auction “{}” created.", record.title));
                return Ok(ctx.redirect(&format!("/admin/auctions/{}", record.id), Some(flash)));
            }
            Err(error) if error.status() == StatusCode::UNPROCESSABLE_ENTITY => {
                // Time moved on between the two checks (e.g. the end passed).
                if let Some(fields) = error.error_object()["fields"].as_object() {
                    errors.extend(fields.clone());
                }
            }
            Err(error) => return Err(error.into()),
        }
    }
    let (by_field, error_list) = field_errors(&errors);
    ctx.page_with_status(
        StatusCode::UNPROCESSABLE_ENTITY,
        &NewAuctionPage {
            layout: ctx.layout("New auction", Section::Admin),
            form: form.into_inner(),
            errors: by_field,
            error_list,
            now_text: time_text(now),
            max_title: MAX_TITLE_CHARS,
            relisting: None,
        },
    )
}

/// The form's messages by field, and in the form's order for the summary.
pub(super) fn field_errors(
    errors: &Map<String, Value>,
) -> (HashMap<&'static str, String>, Vec<FieldError>) {
    let mut by_field = HashMap::new();
    let mut error_list = Vec::new();
    for (field, label) in FIELDS {
        if let Some(message) = errors.get(field) {
            let text = format!("{label} {}", message.as_str().unwrap_or("is not valid"));
            let text = sentence(&text);
            by_field.insert(field, text.clone());
            error_list.push(FieldError {
                field,
                message: text,
            });
        }
    }
    (by_field, error_list)
}

/// One row of the admin bid log.
#[derive(Debug, Clone)]
struct LogRow {
    seq: i64,
    amount: i64,
    max: i64,
    at: String,
    at_text: String,
    username: String,
    alias: String,
    amount_text: String,
    is_auto: bool,
    kind_text: &'static str,
    max_text: String,
    user_id: String,
    /// Voided by an admin (still shown: nothing is deleted).
    voided: bool,
    /// A bidder's own bid on a live lot, not voided: it has a Void link.
    voidable: bool,
}

#[derive(Template)]
#[template(path = "admin/auction.html")]
struct AdminAuctionPage {
    layout: Layout,
    a: AuctionRow,
    starting_price: i64,
    reserve_price: i64,
    buy_now_price: i64,
    min_next_bid: i64,
    description: String,
    starting_text: String,
    reserve_text: String,
    buy_now_text: String,
    min_next_text: String,
    extend_text: String,
    created_at: String,
    created_text: String,
    result_text: String,
    log: Vec<LogRow>,
    /// The auction's `seq` when the page was read: live events after it
    /// refresh the log.
    seq: i64,
    paused: bool,
    /// "Record verified" or the first difference `gavel verify` would name.
    record_text: String,
    record_ok: bool,
    head_hash: String,
    /// The unsold lot this one relists, and the lot this one was relisted as.
    relisted_from: String,
    relisted_as: String,
    /// Ended without a winner and not relisted yet: offer "Relist…".
    relistable: bool,
    /// The lot's second-chance offer, or to whom one may be made.
    offer: super::second_chance::AdminOfferView,
    offer_hours: [i64; 4],
}

fn soft_close_text(secs: i64) -> String {
    match secs {
        0 => "Off".into(),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// `GET /admin/auctions/{id}`: details, reserve and the full bid log.
pub async fn auction(ctx: PageCtx, id: web::Path<String>) -> Result<HttpResponse, PageError> {
    let admin = ctx.require_admin()?;
    let record = load_auction(&ctx, &id).await?;
    let now = Utc::now();
    let log = ctx.state.store.bid_log(record.id).await?;
    let (events, notes) = ctx.state.store.auction_log(record.id).await?;
    // The bids the voids name (no longer voidable), and those they struck
    // out with them (tagged), from the log just read.
    let voids = crate::auction::history::voids(&events);
    let voided: std::collections::HashSet<i64> = voids
        .iter()
        .flat_map(|void| void.seqs.iter().copied())
        .collect();
    let struck = crate::auction::history::struck_in_log(&events);
    let answers = ctx.state.store.bid_answers(record.id).await?;
    let check = crate::auction::verify::check_auction(&record, &events, &notes, &answers);
    let moved_on = events.last().map_or(0, |event| event.seq) != record.auction.state.seq;
    let (record_ok, record_text) = match check.problems.first() {
        // A bid landed between reading the auction and its log.
        _ if moved_on => (
            true,
            "The auction moved on while its record was read; reload to check it.".to_owned(),
        ),
        None => (
            true,
            format!(
                "Record verified: {} and their hash chain replay exactly.",
                plural(check.events as i64, "event")
            ),
        ),
        Some(problem) => (
            false,
            format!(
                "Record check found {}; the first: {problem}.",
                plural(check.problems.len() as i64, "difference")
            ),
        ),
    };
    let currency = &record.currency;
    let log = log
        .iter()
        .rev()
        .map(|entry| LogRow {
            user_id: entry.user_id.to_string(),
            voided: struck.contains(&entry.seq),
            voidable: entry.kind == "bid" && !voided.contains(&entry.seq),
            seq: entry.seq,
            amount: entry.amount,
            max: entry.ceiling.unwrap_or(0),
            at: rfc3339(entry.at),
            at_text: precise_time_text(entry.at),
            username: entry.username.clone(),
            alias: bidder_alias(record.id, entry.user_id),
            amount_text: money(entry.amount, currency),
            is_auto: entry.kind == "auto",
            kind_text: match entry.kind.as_str() {
                "auto" => "automatic",
                "buy_now" => "buy now",
                _ => "bid",
            },
            max_text: entry
                .ceiling
                .map(|c| money(c, currency))
                .unwrap_or_default(),
        })
        .collect();
    let links = ctx.state.store.relist_links(record.id).await?;
    let offer =
        super::second_chance::admin_view(&ctx, &record, links.relisted_as.is_some()).await?;
    let relistable =
        links.relisted_as.is_none() && crate::http::relist::is_unsold(&record) && !offer.holds_lot;
    let rules = &record.auction.rules;
    let state = &record.auction.state;
    let mut rows = [AuctionRow::of(&record, Some(admin), now)];
    super::watchlist::mark(&ctx, None, &mut rows).await?;
    let [row] = rows;
    let result_text = match row.status {
        "cancelled" => "Cancelled by an admin.".to_owned(),
        "closed" => match state.winner {
            Some(winner) => format!(
                "Won by {} at {}.",
                bidder_alias(record.id, winner),
                money(state.price, currency)
            ),
            None => "Ended without a winner.".to_owned(),
        },
        _ => String::new(),
    };
    ctx.page(&AdminAuctionPage {
        layout: ctx.layout(format!("Admin: {}", record.title), Section::Admin),
        starting_price: rules.starting_price,
        reserve_price: rules.reserve_price.unwrap_or(0),
        buy_now_price: rules.buy_now_price.unwrap_or(0),
        min_next_bid: record.auction.min_next_bid(),
        description: record.description.clone(),
        starting_text: money(rules.starting_price, currency),
        reserve_text: rules
            .reserve_price
            .map_or_else(|| "None".into(), |p| money(p, currency)),
        buy_now_text: rules
            .buy_now_price
            .map_or_else(|| "None".into(), |p| money(p, currency)),
        min_next_text: money(record.auction.min_next_bid(), currency),
        extend_text: soft_close_text(rules.extend_window_secs),
        created_at: rfc3339(record.created_at),
        created_text: time_text(record.created_at),
        result_text,
        log,
        seq: state.seq,
        paused: record.auction.is_paused(),
        record_text,
        record_ok,
        head_hash: record.head_hash.clone(),
        relisted_from: links
            .relisted_from
            .map(|id| id.to_string())
            .unwrap_or_default(),
        relisted_as: links
            .relisted_as
            .map(|id| id.to_string())
            .unwrap_or_default(),
        relistable,
        offer,
        offer_hours: [24, 48, 72, 168],
        a: row,
    })
}

#[derive(Template)]
#[template(path = "admin/void.html")]
struct VoidPage {
    layout: Layout,
    id: String,
    heading: String,
    explanation: String,
    currency: String,
    price: i64,
    price_text: String,
    bids_text: String,
    seq: String,
    user: String,
    reason: String,
    error: String,
    max_reason: usize,
}

/// What a void page or form names: one bid or one bidder.
#[derive(Debug, Default, Deserialize)]
pub struct VoidForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    seq: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    reason: String,
}

async fn void_page(
    ctx: &PageCtx,
    record: &crate::store::AuctionRecord,
    form: &VoidForm,
    error: String,
) -> Result<HttpResponse, PageError> {
    let state = &record.auction.state;
    let (heading, explanation) = if form.user.is_empty() {
        (
            format!("Void bid #{} on “{}”?", form.seq, record.title),
            "The bid stays in the record, marked voided. The price and the leader are              worked out again from the other bids, as if it had never been placed: the              price may go down and another bidder may lead. Watchers see the correction."
                .to_owned(),
        )
    } else {
        let name = match uuid::Uuid::parse_str(&form.user) {
            Ok(user) => ctx
                .state
                .store
                .user_by_id(user)
                .await?
                .map_or_else(|| form.user.clone(), |user| user.username),
            Err(_) => return Err(PageError::NotFound("user")),
        };
        (
            format!("Void all of {name}’s bids on “{}”?", record.title),
            "Their bids stay in the record, marked voided. The price and the leader are              worked out again from the other bidders' bids: the price may go down and              another bidder may lead. Watchers see the correction."
                .to_owned(),
        )
    };
    let price_text = money(state.price, &record.currency);
    let status = if error.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    ctx.page_with_status(
        status,
        &VoidPage {
            layout: ctx.layout(heading.clone(), Section::Admin),
            id: record.id.to_string(),
            heading,
            explanation,
            currency: record.currency.clone(),
            price: state.price,
            price_text,
            bids_text: plural(state.bid_count, "bid"),
            seq: form.seq.clone(),
            user: form.user.clone(),
            reason: form.reason.clone(),
            error,
            max_reason: crate::http::admin::MAX_REASON_CHARS,
        },
    )
}

/// `GET /admin/auctions/{id}/void?seq=N` or `?user=ID`: the confirmation
/// step, asking for a reason.
pub async fn confirm_void(
    ctx: PageCtx,
    id: web::Path<String>,
    query: web::Query<VoidForm>,
) -> Result<HttpResponse, PageError> {
    ctx.require_admin()?;
    let record = load_auction(&ctx, &id).await?;
    let back = format!("/admin/auctions/{}", record.id);
    if !record
        .auction
        .public_status(Utc::now())
        .eq(&PublicStatus::Open)
    {
        return Ok(ctx.redirect(
            &back,
            Some(Flash::error("Only bids on an open auction can be voided.")),
        ));
    }
    if query.seq.is_empty() == query.user.is_empty() {
        return Err(PageError::NotFound("page"));
    }
    void_page(&ctx, &record, &query, String::new()).await
}

/// `POST /admin/auctions/{id}/void`: voids, then back to the detail.
pub async fn void(
    ctx: PageCtx,
    id: web::Path<String>,
    form: web::Form<VoidForm>,
) -> Result<HttpResponse, PageError> {
    ctx.check_csrf(&form.csrf)?;
    let admin = ctx.require_admin()?;
    let record = load_auction(&ctx, &id).await?;
    let back = format!("/admin/auctions/{}", record.id);
    let seqs = if form.seq.is_empty() {
        Vec::new()
    } else {
        vec![form
            .seq
            .parse::<i64>()
            .map_err(|_| PageError::NotFound("bid"))?]
    };
    let body = crate::http::admin::VoidBody {
        seqs,
        user_id: (!form.user.is_empty()).then(|| form.user.clone()),
        reason: form.reason.clone(),
    };
    match crate::http::admin::void_bids(&ctx.state, admin, &id, &body).await {
        Ok((_, voided)) => {
            let list = voided
                .iter()
                .map(|seq| format!("#{seq}"))
                .collect::<Vec<_>>()
                .join(", ");
            Ok(ctx.redirect(
                &back,
                Some(Flash::success(format!(
                    "Voided {list}; the price and leader were worked out again."
                ))),
            ))
        }
        Err(error) if error.code() == "validation_failed" => {
            let message = error.error_object()["fields"]["reason"]
                .as_str()
                .map_or_else(|| error.message().to_owned(), sentence);
            void_page(&ctx, &record, &form, message).await
        }
        Err(error)
            if matches!(
                error.code(),
                "not_voidable" | "nothing_to_void" | "auction_ended"
            ) =>
        {
            Ok(ctx.redirect(&back, Some(Flash::error(error.message().to_owned()))))
        }
        Err(error) => Err(error.into()),
    }
}

/// The lot-controls form of the admin auction page.
#[derive(Debug, Default, Deserialize)]
pub struct ControlForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    minutes: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    confirmed: String,
}

/// `POST /admin/auctions/{id}/control`: pause, resume, extend or withdraw,
/// then back to the detail with what happened.
pub async fn control(
    ctx: PageCtx,
    id: web::Path<String>,
    form: web::Form<ControlForm>,
) -> Result<HttpResponse, PageError> {
    ctx.check_csrf(&form.csrf)?;
    let admin = ctx.require_admin()?;
    let record = load_auction(&ctx, &id).await?;
    let back = format!("/admin/auctions/{}", record.id);
    let (action, details, done) = match form.action.as_str() {
        "pause" => (
            AdminAction::Pause,
            serde_json::json!({}),
            "Paused: bids are refused until you resume.".to_owned(),
        ),
        "resume" => (
            AdminAction::Resume,
            serde_json::json!({}),
            "Resumed; the end moved by the paused time.".to_owned(),
        ),
        "extend" => {
            let Ok(minutes) = form.minutes.trim().parse::<i64>() else {
                return Ok(ctx.redirect(
                    &back,
                    Some(Flash::error("Give the extension in whole minutes.")),
                ));
            };
            let secs = minutes.saturating_mul(60);
            (
                AdminAction::Extend { secs },
                serde_json::json!({ "secs": secs }),
                format!("Extended by {}.", plural(minutes, "minute")),
            )
        }
        "withdraw" => {
            if form.confirmed != "yes" {
                return Ok(ctx.redirect(
                    &back,
                    Some(Flash::error("Tick the box to confirm the withdrawal.")),
                ));
            }
            match crate::http::admin::check_reason(&form.reason) {
                Ok(reason) => (
                    AdminAction::Withdraw {
                        reason: reason.clone(),
                    },
                    serde_json::json!({ "reason": reason }),
                    format!("Auction “{}” withdrawn.", record.title),
                ),
                Err(_) => {
                    return Ok(ctx.redirect(
                        &back,
                        Some(Flash::error(
                            "Give a reason (one line, at most 500 characters) to withdraw.",
                        )),
                    ))
                }
            }
        }
        _ => return Err(PageError::NotFound("page")),
    };
    let flash = match crate::http::admin::lot_control(&ctx.state, admin, &id, action, details).await
    {
        Ok(_) => Flash::success(done),
        Err(error)
            if error.status() == StatusCode::CONFLICT
                || error.status() == StatusCode::UNPROCESSABLE_ENTITY =>
        {
            Flash::error(sentence(error.message()))
        }
        Err(error) => return Err(error.into()),
    };
    Ok(ctx.redirect(&back, Some(flash)))
}

#[derive(Template)]
#[template(path = "admin/confirm.html")]
struct ConfirmPage {
    layout: Layout,
    id: String,
    action: &'static str,
    heading: String,
    explanation: String,
    button: &'static str,
    currency: String,
    price: i64,
    price_text: String,
    bids_text: String,
}

fn action_of(name: &str) -> Result<AdminAction, PageError> {
    match name {
        "cancel" => Ok(AdminAction::Cancel),
        "close" => Ok(AdminAction::Close),
        _ => Err(PageError::NotFound("page")),
    }
}

/// `GET /admin/auctions/{id}/{cancel|close}`: the confirmation step.
pub async fn confirm_end(
    ctx: PageCtx,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    ctx.require_admin()?;
    let (id, action_name) = path.into_inner();
    let action = action_of(&action_name)?;
    let record = load_auction(&ctx, &id).await?;
    let back = format!("/admin/auctions/{}", record.id);
    let status = record.auction.public_status(Utc::now());
    if matches!(status, PublicStatus::Closed | PublicStatus::Cancelled) {
        return Ok(ctx.redirect(&back, Some(Flash::error("This auction has already ended."))));
    }
    let state = &record.auction.state;
    let price_text = money(state.price, &record.currency);
    let (action, heading, explanation, button) = match action {
        AdminAction::Cancel => (
            "cancel",
            format!("Cancel “{}”?", record.title),
            "Cancelling ends the auction at once with no winner. Bids placed so far are \
             kept in the log but nobody buys the item. This cannot be undone."
                .to_owned(),
            "Yes, cancel the auction",
        ),
        AdminAction::Close => (
            "close",
            format!("Close “{}” now?", record.title),
            if state.leader.is_some() {
                format!(
                    "Closing ends the auction now, as if its time had run out: the current \
                     leader wins at {price_text} if the reserve is met. This cannot be undone."
                )
            } else {
                "Closing ends the auction now. It has no bids, so nobody wins. This cannot \
                 be undone."
                    .to_owned()
            },
            "Yes, close it now",
        ),
        _ => return Err(PageError::NotFound("page")),
    };
    ctx.page(&ConfirmPage {
        layout: ctx.layout(heading.clone(), Section::Admin),
        id: record.id.to_string(),
        action,
        heading,
        explanation,
        button,
        currency: record.currency.clone(),
        price: state.price,
        price_text,
        bids_text: plural(state.bid_count, "bid"),
    })
}

#[derive(Debug, Default, Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /admin/auctions/{id}/{cancel|close}`: does it, then back to the detail.
pub async fn end(
    ctx: PageCtx,
    path: web::Path<(String, String)>,
    form: web::Form<ConfirmForm>,
) -> Result<HttpResponse, PageError> {
    ctx.check_csrf(&form.csrf)?;
    let admin = ctx.require_admin()?;
    let (id, action_name) = path.into_inner();
    let action = action_of(&action_name)?;
    let record = load_auction(&ctx, &id).await?;
    let back = format!("/admin/auctions/{}", record.id);
    let cancel = action == AdminAction::Cancel;
    let flash = match end_auction(&ctx.state, admin, &id, action).await {
        Ok(_) => Flash::success(if cancel {
            format!("Auction “{}” cancelled.", record.title)
        } else {
            format!("Auction “{}” closed.", record.title)
        }),
        Err(error) if error.status() == StatusCode::CONFLICT => {
            Flash::error("This auction has already ended.")
        }
        Err(error) => return Err(error.into()),
    };
    Ok(ctx.redirect(&back, Some(flash)))
}

/// One user in the admin list.
#[derive(Debug, Clone)]
struct UserRow {
    id: String,
    username: String,
    role: &'static str,
    banned: bool,
    created_at: String,
    created_text: String,
    is_self: bool,
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    layout: Layout,
    users: Vec<UserRow>,
}

/// `GET /admin/users`
pub async fn users(ctx: PageCtx) -> Result<HttpResponse, PageError> {
    let admin = ctx.require_admin()?;
    let users = ctx.state.store.list_users(1000).await?;
    let users = users
        .iter()
        .map(|user| UserRow {
            id: user.id.to_string(),
            username: user.username.clone(),
            role: user.role.as_str(),
            banned: user.banned,
            created_at: rfc3339(user.created_at),
            created_text: time_text(user.created_at),
            is_self: user.id == admin.id,
        })
        .collect();
    ctx.page(&UsersPage {
        layout: ctx.layout("Users", Section::Admin),
        users,
    })
}

/// `POST /admin/users/{id}/{ban|unban}`
pub async fn set_ban(
    ctx: PageCtx,
    path: web::Path<(String, String)>,
    form: web::Form<ConfirmForm>,
) -> Result<HttpResponse, PageError> {
    ctx.check_csrf(&form.csrf)?;
    let admin = ctx.require_admin()?;
    let (id, action) = path.into_inner();
    let banned = match action.as_str() {
        "ban" => true,
        "unban" => false,
        _ => return Err(PageError::NotFound("page")),
    };
    let result = if banned {
        let body = crate::http::admin::BanBody {
            reason: Some("banned by an admin".into()),
            keep_bids: false,
        };
        ban_user(&ctx.state, admin, &id, &body)
            .await
            .map(|(user, outcome)| (user, outcome.voided.len()))
    } else {
        set_banned(&ctx.state, admin, &id, false)
            .await
            .map(|user| (user, 0))
    };
    let flash = match result {
        Ok((user, voided)) if banned => Flash::success(format!(
            "{} is banned: their bids will be refused, and their bids on {} were voided.",
            user.username,
            plural(voided as i64, "open auction")
        )),
        Ok((user, _)) => Flash::success(format!("{} may bid again.", user.username)),
        Err(error) if error.status() == StatusCode::CONFLICT => {
            Flash::error("You cannot ban yourself.")
        }
        Err(error) => return Err(error.into()),
    };
    Ok(ctx.redirect("/admin/users", Some(flash)))
}

/// One audit log entry.
#[derive(Debug, Clone)]
struct AuditRow {
    at: String,
    at_text: String,
    actor: String,
    actor_filter: String,
    action: String,
    /// The target's name (a lot's title, a username), or its id when it has none.
    target: String,
    target_id: String,
    target_link: String,
    /// Only this target's entries.
    target_filter: String,
    details: String,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    layout: Layout,
    entries: Vec<AuditRow>,
    /// What the list is narrowed to ("lot “Lamp”, by admin"), empty when
    /// it shows everything.
    filter_text: String,
    admins: Vec<(String, String)>,
    admin_selected: String,
    auction: String,
    user: String,
}

impl AuditPage {
    fn is_admin_selected(&self, id: &str) -> bool {
        self.admin_selected == id
    }
}

/// `{"title":"Lamp"}` → `title: Lamp`.
fn details_text(details: &str) -> String {
    match serde_json::from_str::<Value>(details) {
        Ok(Value::Object(map)) => map
            .iter()
            .map(|(key, value)| match value {
                Value::String(text) => format!("{key}: {text}"),
                other => format!("{key}: {other}"),
            })
            .collect::<Vec<_>>()
            .join(", "),
        Ok(Value::Null) => String::new(),
        Ok(other) => other.to_string(),
        Err(_) => details.to_owned(),
    }
}

/// `GET /admin/audit?auction=ID&user=ID&admin=ID`
pub async fn audit(ctx: PageCtx, query: web::Query<AuditQuery>) -> Result<HttpResponse, PageError> {
    ctx.require_admin()?;
    let (filter, limit) = query
        .to_filter()
        .map_err(|why| PageError::BadRequest(sentence(&why)))?;
    let store = &ctx.state.store;
    let records = store.audit_log(&filter, limit).await?;
    let admins: Vec<(String, String)> = store
        .list_users(10_000)
        .await?
        .into_iter()
        .filter(|user| user.is_admin())
        .map(|user| (user.id.to_string(), user.username))
        .collect();
    let entries: Vec<AuditRow> = records
        .iter()
        .map(|record| {
            let entry = &record.entry;
            let (target_link, target_filter) = match record.target_kind {
                Some(AuditTargetKind::Auction) => (
                    format!("/admin/auctions/{}", entry.target),
                    format!("/admin/audit?auction={}", entry.target),
                ),
                Some(AuditTargetKind::User) => {
                    (String::new(), format!("/admin/audit?user={}", entry.target))
                }
                None => (String::new(), String::new()),
            };
            AuditRow {
                at: rfc3339(entry.at),
                at_text: time_text(entry.at),
                actor: record
                    .admin_name
                    .clone()
                    .unwrap_or_else(|| entry.actor_id.to_string()),
                actor_filter: format!("/admin/audit?admin={}", entry.actor_id),
                action: entry.action.clone(),
                target: record
                    .target_name
                    .clone()
                    .unwrap_or_else(|| entry.target.clone()),
                target_id: entry.target.clone(),
                target_link,
                target_filter,
                details: details_text(&entry.details),
            }
        })
        .collect();
    let mut parts = Vec::new();
    if let Some(target) = &filter.target {
        let name = records
            .first()
            .and_then(|record| record.target_name.clone())
            .unwrap_or_else(|| target.clone());
        let what = if query.auction.is_some() {
            "lot"
        } else {
            "user"
        };
        parts.push(format!("{what} “{name}”"));
    }
    if let Some(admin) = filter.admin {
        let name = admins
            .iter()
            .find(|(id, _)| *id == admin.to_string())
            .map(|(_, name)| name.clone())
            .unwrap_or_else(|| admin.to_string());
        parts.push(format!("by {name}"));
    }
    ctx.page(&AuditPage {
        layout: ctx.layout("Audit log", Section::Admin),
        entries,
        filter_text: parts.join(", "),
        admin_selected: filter.admin.map(|id| id.to_string()).unwrap_or_default(),
        admins,
        auction: query.auction.clone().unwrap_or_default(),
        user: query.user.clone().unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_times_are_utc() {
        let time = parse_form_time("2026-11-27T20:00").expect("a time");
        assert_eq!(rfc3339(time), "2026-11-27T20:00:00.000Z");
        assert!(parse_form_time("2026-11-27T20:00:00+01:00").is_some());
        assert!(parse_form_time("tomorrow").is_none());
    }

    #[test]
    fn typed_form_becomes_api_input_with_format_messages() {
        let form = NewAuctionForm {
            title: "Lamp".into(),
            currency: "eur".into(),
            starting_price: "12,5".into(),
            reserve_price: "abc".into(),
            ends_at: "2030-01-01T10:00".into(),
            ..NewAuctionForm::default()
        };
        let (input, errors) = parse_new_auction(&form);
        assert_eq!(input.starting_price, 1250);
        assert_eq!(input.currency, "EUR");
        assert_eq!(input.ends_at, "2030-01-01T10:00:00.000Z");
        assert!(errors.contains_key("reserve_price"));
        assert!(!errors.contains_key("starting_price"));
    }

    #[test]
    fn audit_details_read_as_text() {
        assert_eq!(details_text(r#"{"title":"Lamp"}"#), "title: Lamp");
        assert_eq!(details_text("{}"), "");
    }
}
