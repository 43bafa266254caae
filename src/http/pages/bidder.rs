//! Pages for bidders and watchers: `/` (open and upcoming auctions),
//! `/auctions/{id}` (one auction, live), `POST /auctions/{id}/bid` (the
//! plain-form bid: a confirmation page, then the bid and a redirect back
//! with the answer), `POST /auctions/{id}/buy-now` (the same for buying at
//! the buy-now price), and `/me/bids` (my auctions and where I stand).
//!
//! Every page renders its whole first state here; `static/list.js` and
//! `static/auction.js` then keep it live over the WebSocket.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::chart::{price_chart, Chart};
use super::context::PageCtx;
use super::errors::{sentence, PageError};
use super::render::{
    money, money_input, parse_money, precise_time_text, remaining_text, status_label, time_text,
    Flash, FlashSlot, Layout, Section,
};
use crate::auction::view::{rfc3339, Snapshot};
use crate::auction::BidCommandKind;
use crate::domain::alias::bidder_alias;
use crate::domain::{Auction, AuctionId, IncrementTable, Money, PublicStatus};
use crate::http::bids::place;
use crate::store::{AuctionRecord, StoredAnswer, StoredEvent, User};

/// Most auctions per section of the front page.
const LIST_LIMIT: i64 = 200;
/// Most bids shown in an auction's history (and chart).
const HISTORY_LIMIT: i64 = 300;

/// One auction as a row of a list (front page, my bids, admin dashboard).
#[derive(Debug, Clone)]
pub struct AuctionRow {
    pub id: String,
    pub title: String,
    pub currency: String,
    pub status: &'static str,
    pub status_label: &'static str,
    pub price: Money,
    pub price_text: String,
    pub bid_count: i64,
    pub leader: String,
    pub leader_text: String,
    pub starts_at: String,
    pub starts_text: String,
    pub ends_at: String,
    pub ends_text: String,
    /// When it actually ended (RFC 3339; "" while live).
    pub closed_at: String,
    /// `closed_at` for people ("" while live).
    pub closed_text: String,
    pub remaining_text: String,
    /// The viewer's alias in this auction ("" when anonymous).
    pub my_alias: String,
    pub reserve_met: bool,
    pub has_reserve: bool,
    /// The last event's `seq` this row shows (a live update older than it
    /// is not applied again).
    pub seq: i64,
    /// Whether the viewer can watch it (signed in; see `watchlist::mark`),
    /// whether they do, and how many users watch it.
    pub can_watch: bool,
    pub watching: bool,
    pub watchers: i64,
}

impl AuctionRow {
    pub fn of(record: &AuctionRecord, viewer: Option<&User>, now: DateTime<Utc>) -> Self {
        let auction = &record.auction;
        let status = auction.public_status(now).as_str();
        let my_alias = viewer
            .map(|user| bidder_alias(record.id, user.id))
            .unwrap_or_default();
        let leader = auction
            .state
            .leader
            .map(|l| bidder_alias(record.id, l.user))
            .unwrap_or_default();
        let leader_text = leader_text(&leader, &my_alias);
        let target = if status == "scheduled" {
            auction.rules.starts_at
        } else {
            auction.state.ends_at
        };
        Self {
            id: record.id.to_string(),
            title: record.title.clone(),
            currency: record.currency.clone(),
            status,
            status_label: status_label(status),
            price: auction.state.price,
            price_text: money(auction.state.price, &record.currency),
            bid_count: auction.state.bid_count,
            leader,
            leader_text,
            starts_at: rfc3339(auction.rules.starts_at),
            starts_text: time_text(auction.rules.starts_at),
            ends_at: rfc3339(auction.state.ends_at),
            ends_text: time_text(auction.state.ends_at),
            closed_at: auction.state.closed_at.map(rfc3339).unwrap_or_default(),
            closed_text: auction.state.closed_at.map(time_text).unwrap_or_default(),
            remaining_text: remaining_text(now, target),
            my_alias,
            reserve_met: auction.reserve_met(),
            has_reserve: auction.rules.reserve_price.is_some(),
            seq: auction.state.seq,
            can_watch: false,
            watching: false,
            watchers: 0,
        }
    }

    pub fn is_live(&self) -> bool {
        matches!(self.status, "open" | "scheduled")
    }

    pub fn bids_text(&self) -> String {
        plural(self.bid_count, "bid")
    }

    pub fn reserve_label(&self) -> &'static str {
        reserve_label(self.has_reserve, self.reserve_met)
    }

    /// `3 watchers`.
    pub fn watchers_text(&self) -> String {
        plural(self.watchers, "watcher")
    }

    /// "Closed at …" / "Cancelled at …" for an ended auction, from its
    /// actual close time (or its planned end for one ended without a
    /// stored close time).
    pub fn ended_text(&self) -> String {
        ended_text(self.status, &self.closed_text, &self.ends_text)
    }
}

/// "Closed at 27 Nov 2026, 20:31 UTC" (or "Cancelled at …").
pub fn ended_text(status: &str, closed_text: &str, ends_text: &str) -> String {
    let when = if closed_text.is_empty() {
        ends_text
    } else {
        closed_text
    };
    let verb = if status == "cancelled" {
        "Cancelled"
    } else {
        "Closed"
    };
    format!("{verb} at {when}")
}

/// `3 bids`, `1 bid`.
pub fn plural(count: i64, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// "you" for the viewer's own alias, "no bids yet" without a leader.
fn leader_text(leader: &str, my_alias: &str) -> String {
    if leader.is_empty() {
        "No bids yet".into()
    } else if !my_alias.is_empty() && leader == my_alias {
        "you".into()
    } else {
        leader.to_owned()
    }
}

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage {
    layout: Layout,
    open: Vec<AuctionRow>,
    upcoming: Vec<AuctionRow>,
}

/// `GET /`: open and upcoming auctions.
pub async fn index(ctx: PageCtx) -> Result<HttpResponse, PageError> {
    let now = Utc::now();
    let store = &ctx.state.store;
    let open = store
        .list_auctions(Some(PublicStatus::Open), now, LIST_LIMIT)
        .await?;
    let upcoming = store
        .list_auctions(Some(PublicStatus::Scheduled), now, LIST_LIMIT)
        .await?;
    let viewer = ctx.user.as_ref();
    let mut open: Vec<AuctionRow> = open
        .iter()
        .map(|r| AuctionRow::of(r, viewer, now))
        .collect();
    let mut upcoming: Vec<AuctionRow> = upcoming
        .iter()
        .map(|r| AuctionRow::of(r, viewer, now))
        .collect();
    super::watchlist::mark(&ctx, viewer, &mut open).await?;
    super::watchlist::mark(&ctx, viewer, &mut upcoming).await?;
    ctx.page(&IndexPage {
        layout: ctx.layout("Auctions", Section::Auctions),
        open,
        upcoming,
    })
}

/// One row of an auction's bid history.
#[derive(Debug, Clone)]
pub struct HistoryRow {
    pub seq: i64,
    /// `bid`, `auto` or `buy_now`.
    pub kind: String,
    /// Struck out by an admin's void: shown, marked, not in the chart.
    pub is_voided: bool,
    pub amount: Money,
    pub at: String,
    pub at_text: String,
    pub bidder: String,
    pub is_me: bool,
    pub amount_text: String,
    pub is_auto: bool,
    pub is_buy_now: bool,
    pub kind_text: &'static str,
}

fn kind_text(kind: &str) -> &'static str {
    match kind {
        "auto" => "automatic",
        "buy_now" => "buy now",
        _ => "bid",
    }
}

#[derive(Template)]
#[template(path = "auction.html")]
struct AuctionPage {
    layout: Layout,
    a: Snapshot,
    snapshot_json: String,
    points_json: String,
    my_alias: String,
    signed_in: bool,
    banned: bool,
    price_text: String,
    min_next_text: String,
    min_next_input: String,
    leader_text: String,
    status_label: &'static str,
    starts_text: String,
    ends_text: String,
    /// When it actually ended, for people ("" while live).
    closed_text: String,
    remaining_text: String,
    bids_text: String,
    buy_now_text: String,
    /// Whether buy now is offered right now (see [`buy_now_offer`]).
    buy_now_offered: bool,
    result_text: String,
    description: Vec<String>,
    history: Vec<HistoryRow>,
    history_truncated: bool,
    chart: Chart,
    request_id: String,
    buy_now_request_id: String,
    bid_flash: Option<Flash>,
    buy_now_flash: Option<Flash>,
    login_link: String,
    /// Whether the viewer has bid on this lot (their standing is shown).
    i_bid: bool,
    /// The viewer's own maximum while they lead (nobody else sees it).
    my_ceiling: Option<Money>,
    my_ceiling_text: String,
    /// Says so when late bids moved the end (also after a reload).
    extended_text: String,
    /// The lot's second-chance offer, as far as the viewer may see it.
    offer: super::second_chance::OfferBanner,
    /// "Edited by the auction house on …" when an admin edited the lot.
    edited_text: String,
    /// The next one to three bids (amount for the field, text), from the
    /// minimum next bid up by the lot's increments.
    quick_bids: Vec<(String, String)>,
    /// The lot's increment table, for the page and its script.
    increments: Vec<IncrementRow>,
    increments_json: String,
    /// Whether the lot has a reserve (the amount stays private).
    has_reserve: bool,
    /// "Bids in the last 2 minutes extend …" ("" without soft close).
    soft_close_text: String,
    /// This lot as a list row, for the watch button and watcher count.
    row: AuctionRow,
    /// The reserve when the price went straight to it (the page says why,
    /// also after a reload), and that amount as text.
    reserve_jump: Option<Money>,
    reserve_jump_text: String,
}

/// One row of a lot's increment table: prices from `from` (inclusive)
/// up to `to` (inclusive; `None`: and up) step by `increment`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncrementRow {
    pub from: Money,
    pub to: Option<Money>,
    pub increment: Money,
    /// The same amounts as text (the page's script localizes them).
    pub from_text: String,
    pub to_text: String,
    /// `to + 1`: the bound of a first row ("Below €1.00").
    pub below: Money,
    pub below_text: String,
    pub increment_text: String,
}

/// How many quick-bid buttons the bid box offers.
const QUICK_BIDS: usize = 3;

/// The next `QUICK_BIDS` bids from `min_next_bid`, each one increment
/// above the one before.
pub fn quick_bid_amounts(auction: &Auction) -> Vec<Money> {
    let mut amounts = Vec::with_capacity(QUICK_BIDS);
    let mut amount = auction.min_next_bid();
    for _ in 0..QUICK_BIDS {
        amounts.push(amount);
        amount += auction.rules.increments.increment_at(amount);
    }
    amounts
}

/// The rows of an increment table, as ranges of prices.
pub fn increment_rows(table: &IncrementTable, currency: &str) -> Vec<IncrementRow> {
    let mut from: Money = 0;
    table
        .steps()
        .iter()
        .map(|step| {
            let increment = step.increment.max(1);
            let row = IncrementRow {
                from,
                to: step.below.map(|below| below - 1),
                increment,
                from_text: money(from, currency),
                to_text: step
                    .below
                    .map(|below| money(below - 1, currency))
                    .unwrap_or_default(),
                below: step.below.unwrap_or_default(),
                below_text: step
                    .below
                    .map(|below| money(below, currency))
                    .unwrap_or_default(),
                increment_text: money(increment, currency),
            };
            if let Some(below) = step.below {
                from = below;
            }
            row
        })
        .collect()
}

/// `2 minutes`, `1 minute`, `90 seconds`.
fn duration_text(secs: i64) -> String {
    if secs % 60 == 0 {
        plural(secs / 60, "minute")
    } else {
        plural(secs, "second")
    }
}

/// The soft-close rule in one sentence ("" without soft close).
pub fn soft_close_text(extend_window_secs: i64) -> String {
    if extend_window_secs <= 0 {
        return String::new();
    }
    let window = duration_text(extend_window_secs);
    format!("Soft close: bids in the last {window} extend the lot to {window} after the bid.")
}

/// Why the price is at the reserve, when a bid went straight to it: a bid
/// event at exactly the reserve whose bidder asked for less (their maximum
/// reached the reserve, rule 7): the reserve, or `None`. It is the price
/// of a public event, so nothing private is told.
pub fn reserve_jump(auction: &Auction, events: &[StoredEvent]) -> Option<Money> {
    let reserve = auction.rules.reserve_price?;
    let jumped = events.iter().any(|event| {
        event.amount == Some(reserve)
            && event.bid_kind.as_deref() == Some("bid")
            && event.req_amount.is_some_and(|asked| asked < reserve)
    });
    jumped.then_some(reserve)
}

/// "No reserve", "Reserve met" or "Reserve not met".
pub fn reserve_label(has_reserve: bool, reserve_met: bool) -> &'static str {
    match (has_reserve, reserve_met) {
        (false, _) => "No reserve",
        (true, true) => "Reserve met",
        (true, false) => "Reserve not met",
    }
}

impl AuctionPage {
    fn has_voided(&self) -> bool {
        self.history.iter().any(|row| row.is_voided)
    }

    fn is_live(&self) -> bool {
        matches!(self.a.status, "open" | "scheduled")
    }

    fn reserve_label(&self) -> &'static str {
        reserve_label(self.has_reserve, self.a.reserve_met)
    }

    /// The buy-now box is on the page while the auction is live and has a
    /// buy-now price (the script shows and hides it as that changes), and
    /// after a plain-form buy now, to give its answer.
    fn has_buy_now_box(&self) -> bool {
        (self.is_live() && self.a.buy_now_price.is_some()) || self.buy_now_flash.is_some()
    }
}

/// The buy-now price, when buying at it is possible at `now`: the auction is
/// open, has a buy-now price, and either has no bid yet or its reserve is
/// unmet (and buying would not lower the price, nor sell below the
/// reserve). The same rule as the auction's own (`Auction::buy_now`), which
/// decides in the end.
pub fn buy_now_offer(auction: &Auction, now: DateTime<Utc>) -> Option<Money> {
    let price = auction.rules.buy_now_price?;
    let offered = auction.is_open_at(now)
        && auction
            .rules
            .reserve_price
            .is_none_or(|reserve| price >= reserve)
        && !(auction.state.bid_count > 0 && auction.reserve_met())
        && !(auction.state.leader.is_some() && auction.state.price >= price);
    offered.then_some(price)
}

/// Parses an auction id from the path and loads it, or 404.
pub async fn load_auction(ctx: &PageCtx, id: &str) -> Result<AuctionRecord, PageError> {
    let id: AuctionId = uuid::Uuid::parse_str(id).map_err(|_| PageError::NotFound("auction"))?;
    ctx.state
        .store
        .auction(id)
        .await?
        .ok_or(PageError::NotFound("auction"))
}

/// The sentence shown when an auction has ended.
fn result_text(record: &AuctionRecord, status: &str, my_alias: &str) -> String {
    let auction = &record.auction;
    let price = money(auction.state.price, &record.currency);
    match status {
        "cancelled" => "This auction was cancelled. No one won it.".into(),
        "closed" => match auction.state.winner {
            Some(winner) => {
                let alias = bidder_alias(record.id, winner);
                if !my_alias.is_empty() && alias == my_alias {
                    format!("Sold to you for {price}. Congratulations!")
                } else {
                    format!("Sold to {alias} for {price}.")
                }
            }
            None if auction.state.bid_count > 0 => "Not sold: the reserve was not met.".into(),
            None => "Not sold: there were no bids.".into(),
        },
        _ => String::new(),
    }
}

/// A new client-chosen request id for the plain form (retries of the same
/// form are then answered once).
fn new_request_id() -> String {
    format!("form-{}", uuid::Uuid::new_v4().simple())
}

/// `GET /auctions/{id}`
pub async fn show(ctx: PageCtx, id: web::Path<String>) -> Result<HttpResponse, PageError> {
    let record = load_auction(&ctx, &id).await?;
    let now = Utc::now();
    let snapshot = Snapshot::of(&record, now);
    let my_alias = ctx
        .user
        .as_ref()
        .map(|user| bidder_alias(record.id, user.id))
        .unwrap_or_default();

    let auction = &record.auction;
    let after = (auction.state.seq - HISTORY_LIMIT).max(0);
    let events = ctx
        .state
        .store
        .bid_events_after(record.id, after, HISTORY_LIMIT)
        .await?;
    let struck = crate::auction::history::struck_bids(ctx.state.store.as_ref(), record.id).await?;
    let mut points = Vec::with_capacity(events.len());
    let mut history = Vec::with_capacity(events.len());
    for event in &events {
        let (Some(amount), Some(bidder)) = (event.amount, event.bidder) else {
            continue;
        };
        let alias = bidder_alias(record.id, bidder);
        let kind = event.bid_kind.as_deref().unwrap_or("bid");
        let is_voided = struck.contains(&event.seq);
        if !is_voided {
            points.push((event.seq, event.at, amount));
        }
        history.push(HistoryRow {
            seq: event.seq,
            kind: kind.to_owned(),
            is_voided,
            amount,
            at: rfc3339(event.at),
            at_text: precise_time_text(event.at),
            is_me: !my_alias.is_empty() && alias == my_alias,
            bidder: alias,
            amount_text: money(amount, &record.currency),
            is_auto: kind == "auto",
            is_buy_now: kind == "buy_now",
            kind_text: kind_text(kind),
        });
    }
    history.reverse();
    let viewer_leads = ctx
        .user
        .as_ref()
        .and_then(|user| auction.state.leader.filter(|leader| leader.user == user.id));
    let i_bid = viewer_leads.is_some()
        || history.iter().any(|row| row.is_me)
        || ctx
            .user
            .as_ref()
            .is_some_and(|user| auction.state.winner == Some(user.id));
    let my_ceiling = viewer_leads.map(|leader| leader.ceiling);
    let history_truncated = after > 0 && (history.len() as i64) < auction.state.bid_count;

    let chart_end = match auction.state.closed_at {
        Some(closed) => closed.min(now),
        None => now.min(auction.state.ends_at),
    };
    let chart = price_chart(
        &points
            .iter()
            .map(|(_, at, amount)| (*at, *amount))
            .collect::<Vec<_>>(),
        auction.rules.starting_price,
        chart_end,
        &record.currency,
    );
    let points_json = serde_json::to_string(
        &points
            .iter()
            .map(|(seq, at, amount)| (at.timestamp_millis(), *amount, *seq))
            .collect::<Vec<_>>(),
    )
    .unwrap_or_else(|_| "[]".into());
    let snapshot_json = serde_json::to_string(&snapshot).unwrap_or_else(|_| "{}".into());

    let mut layout = ctx.layout(record.title.clone(), Section::Auctions);
    // A bid's answer belongs next to the bid box, a buy now's in the buy-now
    // box, not at the top of the page.
    let slot = layout.flash.as_ref().map(|f| f.slot);
    let bid_flash = match slot {
        Some(FlashSlot::Bid) => layout.flash.take(),
        _ => None,
    };
    let buy_now_flash = match slot {
        Some(FlashSlot::BuyNow) => layout.flash.take(),
        _ => None,
    };
    let description = record
        .description
        .split("\n\n")
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect();
    let target = if snapshot.status == "scheduled" {
        auction.rules.starts_at
    } else {
        auction.state.ends_at
    };
    let offer = super::second_chance::banner(&ctx, &record, ctx.user.as_ref()).await?;
    let mut rows = [AuctionRow::of(&record, ctx.user.as_ref(), now)];
    super::watchlist::mark(&ctx, ctx.user.as_ref(), &mut rows).await?;
    let [row] = rows;
    let edited_text = match ctx.state.store.last_edit(record.id).await? {
        Some(at) => format!("Edited by the auction house on {}.", precise_time_text(at)),
        None => String::new(),
    };
    let page = AuctionPage {
        edited_text,
        offer,
        row,
        reserve_jump: reserve_jump(auction, &events),
        reserve_jump_text: reserve_jump(auction, &events)
            .map(|reserve| money(reserve, &record.currency))
            .unwrap_or_default(),
        layout,
        signed_in: ctx.user.is_some(),
        banned: ctx.user.as_ref().is_some_and(|u| u.banned),
        price_text: money(snapshot.current_price, &record.currency),
        min_next_text: money(snapshot.min_next_bid, &record.currency),
        min_next_input: money_input(snapshot.min_next_bid),
        leader_text: leader_text(snapshot.leader.as_deref().unwrap_or(""), &my_alias),
        status_label: status_label(snapshot.status),
        starts_text: time_text(auction.rules.starts_at),
        ends_text: precise_time_text(auction.state.ends_at),
        closed_text: auction
            .state
            .closed_at
            .map(precise_time_text)
            .unwrap_or_default(),
        remaining_text: remaining_text(now, target),
        bids_text: plural(snapshot.bid_count, "bid"),
        buy_now_text: auction
            .rules
            .buy_now_price
            .map(|p| money(p, &record.currency))
            .unwrap_or_default(),
        buy_now_offered: buy_now_offer(auction, now).is_some(),
        result_text: result_text(&record, snapshot.status, &my_alias),
        description,
        history,
        history_truncated,
        chart,
        request_id: new_request_id(),
        buy_now_request_id: new_request_id(),
        bid_flash,
        buy_now_flash,
        login_link: format!("/login?next=/auctions/{}", record.id),
        i_bid,
        my_ceiling,
        my_ceiling_text: my_ceiling
            .map(|c| money(c, &record.currency))
            .unwrap_or_default(),
        extended_text: if auction.state.ends_at > auction.initial_ends_at {
            format!(
                "Soft close: late bids moved the end from {} to {}.",
                precise_time_text(auction.initial_ends_at),
                precise_time_text(auction.state.ends_at)
            )
        } else {
            String::new()
        },
        quick_bids: quick_bid_amounts(auction)
            .into_iter()
            .map(|amount| (money_input(amount), money(amount, &record.currency)))
            .collect(),
        increments: increment_rows(&auction.rules.increments, &record.currency),
        increments_json: serde_json::to_string(&auction.rules.increments)
            .unwrap_or_else(|_| "[]".into()),
        has_reserve: auction.rules.reserve_price.is_some(),
        soft_close_text: soft_close_text(auction.rules.extend_window_secs),
        snapshot_json,
        points_json,
        my_alias,
        a: snapshot,
    };
    ctx.page(&page)
}

#[derive(Debug, Default, Deserialize)]
pub struct BidForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    request_id: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    max_amount: String,
    #[serde(default)]
    confirmed: String,
}

#[derive(Template)]
#[template(path = "bid_confirm.html")]
struct BidConfirmPage {
    layout: Layout,
    currency: String,
    amount: Money,
    max: Money,
    price: Money,
    min_next: Money,
    id: String,
    title: String,
    request_id: String,
    amount_input: String,
    max_input: String,
    amount_text: String,
    max_text: String,
    price_text: String,
    min_next_text: String,
    leading_now: bool,
}

/// `POST /auctions/{id}/bid`: the plain-form bid. Without `confirmed=yes`
/// it shows what will happen; with it, it places the bid through the same
/// path as the API and redirects back with the answer.
pub async fn bid(
    ctx: PageCtx,
    id: web::Path<String>,
    form: web::Form<BidForm>,
) -> Result<HttpResponse, PageError> {
    ctx.check_csrf(&form.csrf)?;
    // After logging in, come back to the auction page (the form's own URL
    // only takes POSTs).
    let Some(user) = ctx.user().cloned() else {
        return Err(PageError::LoginRequired {
            next: format!("/auctions/{}", id.trim()),
        });
    };
    let record = load_auction(&ctx, &id).await?;
    let back = format!("/auctions/{}", record.id);
    let currency = record.currency.clone();

    let amount = match parse_money(&form.amount) {
        Ok(amount) => amount,
        Err(why) => {
            let flash = Flash::error(format!("Bid amount: {why}.")).for_bid();
            return Ok(ctx.redirect(&back, Some(flash)));
        }
    };
    let max_amount = match form.max_amount.trim() {
        "" => None,
        text => match parse_money(text) {
            Ok(max) => Some(max),
            Err(why) => {
                let flash = Flash::error(format!("Bid up to: {why}.")).for_bid();
                return Ok(ctx.redirect(&back, Some(flash)));
            }
        },
    };
    if max_amount.is_some_and(|max| max < amount) {
        return Ok(ctx.redirect(
            &back,
            Some(Flash::error("Your “bid up to” maximum must be at least your bid.").for_bid()),
        ));
    }
    let request_id = if form.request_id.trim().is_empty() {
        new_request_id()
    } else {
        form.request_id.trim().to_owned()
    };

    if form.confirmed != "yes" {
        let auction = &record.auction;
        let my_alias = bidder_alias(record.id, user.id);
        let leading_now = auction
            .state
            .leader
            .is_some_and(|l| bidder_alias(record.id, l.user) == my_alias);
        return ctx.page(&BidConfirmPage {
            layout: ctx.layout("Confirm your bid", Section::Auctions),
            currency: currency.clone(),
            amount,
            max: max_amount.unwrap_or(0),
            price: auction.state.price,
            min_next: auction.min_next_bid(),
            id: record.id.to_string(),
            title: record.title.clone(),
            request_id,
            amount_input: money_input(amount),
            max_input: max_amount.map(money_input).unwrap_or_default(),
            amount_text: money(amount, &currency),
            max_text: max_amount.map(|m| money(m, &currency)).unwrap_or_default(),
            price_text: money(auction.state.price, &currency),
            min_next_text: money(auction.min_next_bid(), &currency),
            leading_now,
        });
    }

    let kind = BidCommandKind::Bid { amount, max_amount };
    let flash = match place(&ctx.state, &user, record.id, request_id, kind).await {
        Ok(answer) => describe_answer(&answer, &currency),
        Err(error) => {
            let object = error.error_object();
            let code = object["code"].as_str().unwrap_or_default();
            Flash::error(describe_rejection(code, &object, &currency))
        }
    };
    Ok(ctx.redirect(&back, Some(flash.for_bid())))
}

#[derive(Debug, Default, Deserialize)]
pub struct BuyNowForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    request_id: String,
    #[serde(default)]
    confirmed: String,
}

#[derive(Template)]
#[template(path = "buy_now_confirm.html")]
struct BuyNowConfirmPage {
    layout: Layout,
    currency: String,
    price: Money,
    id: String,
    title: String,
    request_id: String,
    price_text: String,
}

/// `POST /auctions/{id}/buy-now`: buy now by plain form. Without
/// `confirmed=yes` it shows what will happen; with it, it buys through the
/// same path as the API and the WebSocket and redirects back with the answer.
pub async fn buy_now(
    ctx: PageCtx,
    id: web::Path<String>,
    form: web::Form<BuyNowForm>,
) -> Result<HttpResponse, PageError> {
    ctx.check_csrf(&form.csrf)?;
    let record = load_auction(&ctx, &id).await?;
    let back = format!("/auctions/{}", record.id);
    // Back to the auction after logging in (this address only takes POSTs).
    let Some(user) = ctx.user.clone() else {
        return Err(PageError::LoginRequired { next: back });
    };
    let currency = record.currency.clone();
    let request_id = if form.request_id.trim().is_empty() {
        new_request_id()
    } else {
        form.request_id.trim().to_owned()
    };

    if form.confirmed != "yes" {
        let now = Utc::now();
        let Some(price) = buy_now_offer(&record.auction, now) else {
            let code = if record.auction.is_open_at(now) {
                "buy_now_unavailable"
            } else {
                "auction_not_open"
            };
            let text = describe_buy_now_rejection(code, &Value::Null, &currency);
            return Ok(ctx.redirect(&back, Some(Flash::error(text).for_buy_now())));
        };
        return ctx.page(&BuyNowConfirmPage {
            layout: ctx.layout("Confirm: buy now", Section::Auctions),
            currency: currency.clone(),
            price,
            id: record.id.to_string(),
            title: record.title.clone(),
            request_id,
            price_text: money(price, &currency),
        });
    }

    let flash = match place(
        &ctx.state,
        &user,
        record.id,
        request_id,
        BidCommandKind::BuyNow,
    )
    .await
    {
        Ok(answer) => describe_buy_now_answer(&answer, &currency),
        Err(error) => {
            let object = error.error_object();
            let code = object["code"].as_str().unwrap_or_default();
            Flash::error(describe_buy_now_rejection(code, &object, &currency))
        }
    };
    Ok(ctx.redirect(&back, Some(flash.for_buy_now())))
}

/// A buy now's stored answer in words.
pub fn describe_buy_now_answer(answer: &StoredAnswer, currency: &str) -> Flash {
    let body: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
    if answer.http_status == 200 {
        let price = body["current_price"].as_i64().unwrap_or_default();
        return Flash::success(format!(
            "You bought it for {}. The auction has ended.",
            money(price, currency)
        ));
    }
    let error = &body["error"];
    let code = error["code"].as_str().unwrap_or_default();
    Flash::error(describe_buy_now_rejection(code, error, currency))
}

/// A refused buy now in words (`static/auction.js` says the same).
pub fn describe_buy_now_rejection(code: &str, error: &Value, currency: &str) -> String {
    match code {
        "buy_now_unavailable" => {
            "Buy now is no longer available: the bidding has already gone past it. \
             You can still place a bid."
                .into()
        }
        "auction_not_open" => "This auction is not open, so it cannot be bought now.".into(),
        "rate_limited" => "Too many requests in a short time. Wait a moment and try again.".into(),
        "unavailable" => {
            "The auction could not take your purchase just now. Please try again.".into()
        }
        _ => describe_rejection(code, error, currency),
    }
}

/// A bid's stored answer in words.
pub fn describe_answer(answer: &StoredAnswer, currency: &str) -> Flash {
    let body: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
    if answer.http_status == 200 {
        let price = body["current_price"].as_i64().unwrap_or_default();
        let min = body["min_next_bid"].as_i64().unwrap_or_default();
        return if body["status"] == "leading" {
            Flash::success(format!("You are leading at {}.", money(price, currency)))
        } else {
            Flash::error(format!(
                "You were outbid at once: another bidder's maximum is higher. \
                 The price is now {}; the next bid must be at least {}.",
                money(price, currency),
                money(min, currency)
            ))
        };
    }
    let error = &body["error"];
    let code = error["code"].as_str().unwrap_or_default();
    Flash::error(describe_rejection(code, error, currency))
}

/// A rejection (`{"code","message",...}`) in words.
pub fn describe_rejection(code: &str, error: &Value, currency: &str) -> String {
    match code {
        "below_minimum" => match error["min_next_bid"].as_i64() {
            Some(min) => format!(
                "Your bid is below the minimum next bid of {}.",
                money(min, currency)
            ),
            None => "Your bid is below the minimum next bid.".into(),
        },
        "auction_not_open" => "This auction is not open for bids.".into(),
        "already_leading" => {
            "You are already leading. To bid more now, raise your “bid up to” maximum.".into()
        }
        "banned" => "Your account is banned from bidding.".into(),
        "rate_limited" => "Too many bids in a short time. Wait a moment and try again.".into(),
        "unavailable" => "The auction could not take your bid just now. Please try again.".into(),
        "not_found" => "There is no such auction.".into(),
        "buy_now_unavailable" => "Buy now is no longer available for this auction.".into(),
        _ => sentence(error["message"].as_str().unwrap_or("The bid was refused")),
    }
}

/// One of my auctions and where I stand in it.
#[derive(Debug, Clone)]
pub struct MyAuction {
    pub row: AuctionRow,
    /// `leading`, `outbid`, `won`, `lost` or `cancelled`.
    pub standing: &'static str,
    pub standing_text: &'static str,
    /// My standing maximum while I lead (only I see it; "" otherwise).
    pub my_max: String,
    pub my_max_text: String,
}

#[derive(Template)]
#[template(path = "my_bids.html")]
struct MyBidsPage {
    layout: Layout,
    /// Second-chance offers made to the user, newest first.
    offers: Vec<super::second_chance::OfferView>,
    live: Vec<MyAuction>,
    ended: Vec<MyAuction>,
}

fn standing(record: &AuctionRecord, user: &User, status: &str) -> (&'static str, &'static str) {
    let state = &record.auction.state;
    match status {
        "cancelled" => ("cancelled", "Cancelled"),
        "closed" if state.winner == Some(user.id) => ("won", "Won"),
        "closed" if state.winner.is_none() => ("not-sold", "Not sold"),
        "closed" => ("lost", "Lost"),
        _ if state.leader.is_some_and(|l| l.user == user.id) => ("leading", "Leading"),
        _ => ("outbid", "Outbid"),
    }
}

/// `GET /me/bids`: the auctions I have bid on.
pub async fn my_bids(ctx: PageCtx) -> Result<HttpResponse, PageError> {
    let user = ctx.require_user()?;
    let now = Utc::now();
    let records = ctx.state.store.auctions_bid_by(user.id).await?;
    let (mut live, mut ended) = (Vec::new(), Vec::new());
    for record in &records {
        let row = AuctionRow::of(record, Some(user), now);
        let (standing, standing_text) = standing(record, user, row.status);
        let my_max = record
            .auction
            .state
            .leader
            .filter(|leader| leader.user == user.id && row.is_live());
        let item = MyAuction {
            standing,
            standing_text,
            my_max: my_max.map(|l| l.ceiling.to_string()).unwrap_or_default(),
            my_max_text: my_max
                .map(|l| money(l.ceiling, &record.currency))
                .unwrap_or_default(),
            row,
        };
        if item.row.is_live() {
            live.push(item);
        } else {
            ended.push(item);
        }
    }
    live.sort_by(|a, b| a.row.ends_at.cmp(&b.row.ends_at));
    ctx.page_with_status(
        StatusCode::OK,
        &MyBidsPage {
            offers: super::second_chance::my_offers(&ctx, user).await?,
            layout: ctx.layout("My bids", Section::MyBids),
            live,
            ended,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AuctionRules, BidRequest, IncrementTable, UserId};
    use chrono::Duration;

    fn auction(reserve: Option<Money>, buy_now: Option<Money>, now: DateTime<Utc>) -> Auction {
        Auction::new(
            AuctionRules {
                starting_price: 1_000,
                reserve_price: reserve,
                buy_now_price: buy_now,
                starts_at: now - Duration::minutes(1),
                extend_window_secs: 0,
                increments: IncrementTable::standard(),
            },
            now + Duration::hours(1),
        )
    }

    fn bid(auction: &mut Auction, amount: Money, max: Option<Money>, now: DateTime<Utc>) {
        auction
            .place_bid(BidRequest {
                bidder: UserId::new_v4(),
                amount,
                max_amount: max,
                at: now,
            })
            .expect("the bid is taken");
    }

    /// Quick bids start at the minimum next bid and step by the table; a
    /// bid through one is one the auction takes.
    #[test]
    fn quick_bids_step_up_from_the_minimum_by_the_increments() {
        let now = Utc::now();
        let mut lot = auction(None, None, now);
        assert_eq!(quick_bid_amounts(&lot), [1_000, 1_050, 1_100]);
        bid(&mut lot, 2_450, None, now);
        // 2,450 + 50 = 2,500, where the step becomes €1.00.
        assert_eq!(quick_bid_amounts(&lot), [2_500, 2_600, 2_700]);
        let third = quick_bid_amounts(&lot)[2];
        bid(&mut lot, third, None, now);
        assert_eq!(lot.state.price, third);
    }

    #[test]
    fn the_increment_table_reads_as_price_ranges() {
        let rows = increment_rows(&IncrementTable::standard(), "EUR");
        assert_eq!(rows.len(), 10);
        assert_eq!(
            (rows[0].from, rows[0].to, rows[0].increment),
            (0, Some(99), 5)
        );
        assert_eq!((rows[1].from, rows[1].to), (100, Some(499)));
        assert_eq!(
            (rows[9].from, rows[9].to, rows[9].increment),
            (500_000, None, 10_000)
        );
        assert_eq!(rows[9].from_text, money(500_000, "EUR"));
    }

    #[test]
    fn the_soft_close_rule_says_the_window_in_words() {
        assert_eq!(soft_close_text(0), "");
        assert_eq!(
            soft_close_text(120),
            "Soft close: bids in the last 2 minutes extend the lot to 2 minutes after the bid."
        );
        assert_eq!(
            soft_close_text(60),
            "Soft close: bids in the last 1 minute extend the lot to 1 minute after the bid."
        );
        assert_eq!(
            soft_close_text(90),
            "Soft close: bids in the last 90 seconds extend the lot to 90 seconds after the bid."
        );
    }

    #[test]
    fn a_jump_to_the_reserve_is_a_bid_at_it_asked_lower() {
        let now = Utc::now();
        let event = |amount: Money, kind: &str, asked: Option<Money>| StoredEvent {
            seq: 1,
            name: "bid".into(),
            at: now,
            bidder: Some(UserId::new_v4()),
            amount: Some(amount),
            bid_kind: Some(kind.into()),
            ceiling: Some(9_000),
            req_amount: asked,
            req_max: Some(9_000),
            hash: None,
            data: "{}".into(),
        };
        let lot = auction(Some(5_000), None, now);
        // Asked €10.00 with a maximum above the reserve: placed at it.
        assert_eq!(
            reserve_jump(&lot, &[event(5_000, "bid", Some(1_000))]),
            Some(5_000)
        );
        // Bid the reserve itself, or an automatic bid there: no jump.
        assert_eq!(
            reserve_jump(&lot, &[event(5_000, "bid", Some(5_000))]),
            None
        );
        assert_eq!(
            reserve_jump(&lot, &[event(5_000, "auto", Some(1_000))]),
            None
        );
        // Rows from before req_amount was stored say nothing.
        assert_eq!(reserve_jump(&lot, &[event(5_000, "bid", None)]), None);
        // No reserve, no jump.
        let plain = auction(None, None, now);
        assert_eq!(
            reserve_jump(&plain, &[event(5_000, "bid", Some(1_000))]),
            None
        );
    }

    #[test]
    fn the_reserve_label_never_names_the_amount() {
        assert_eq!(reserve_label(false, true), "No reserve");
        assert_eq!(reserve_label(true, false), "Reserve not met");
        assert_eq!(reserve_label(true, true), "Reserve met");
    }

    /// The page offers buy now exactly when the auction would take it.
    #[test]
    fn the_offer_follows_the_auctions_own_rule() {
        let now = Utc::now();
        /// (name, reserve, buy-now price, bids as (amount, maximum), offered)
        type Case = (&'static str, Option<Money>, Option<Money>, Bids, bool);
        type Bids = &'static [(Money, Option<Money>)];
        let cases: [Case; 7] = [
            ("no bids yet", None, Some(5_000), &[], true),
            ("no buy-now price", None, None, &[], false),
            (
                "a bid, no reserve",
                None,
                Some(5_000),
                &[(1_000, None)],
                false,
            ),
            (
                "reserve unmet",
                Some(3_000),
                Some(5_000),
                &[(1_000, None)],
                true,
            ),
            (
                "reserve met",
                Some(3_000),
                Some(5_000),
                &[(3_000, None)],
                false,
            ),
            (
                "reserve unmet at a price above buy now",
                Some(9_000),
                Some(5_000),
                &[(6_000, None)],
                false,
            ),
            (
                "a maximum that covers the reserve",
                Some(3_000),
                Some(5_000),
                &[(1_000, Some(4_000))],
                false,
            ),
        ];
        for (name, reserve, buy_now, bids, offered) in cases {
            let mut auction = auction(reserve, buy_now, now);
            for (amount, max) in bids {
                bid(&mut auction, *amount, *max, now);
            }
            assert_eq!(buy_now_offer(&auction, now).is_some(), offered, "{name}");
            let taken = auction.clone().buy_now(UserId::new_v4(), now).is_ok();
            assert_eq!(taken, offered, "{name}: the auction agrees");
        }
        // Not before the start, nor at or after the end, nor once ended.
        let open = auction(None, Some(5_000), now);
        assert!(buy_now_offer(&open, now - Duration::minutes(2)).is_none());
        assert!(buy_now_offer(&open, now + Duration::hours(1)).is_none());
        let mut closed = open.clone();
        closed.close(now, true).expect("closes");
        assert!(buy_now_offer(&closed, now).is_none());
    }
}
