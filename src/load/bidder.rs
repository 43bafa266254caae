//! One WebSocket bidder: connects with its bearer token, subscribes to its
//! auction, and once the run starts bids again as soon as its previous bid
//! is answered, always at the highest `min_next_bid` it knows (from
//! snapshots, events, `bid_result`s and `below_minimum` errors). With
//! `--bid-rate`, bidders draw send times from a shared [`Pacer`] and keep
//! their amounts one increment apart so paced bids do not collide.
//!
//! A bidder that leads (a `leading` result no later event contradicts, or an
//! `already_leading` error) waits for the next event instead of spinning,
//! with a fallback timer in case that event was missed. `rate_limited` and
//! `unavailable` back off briefly. Every event's `seq` is checked for
//! continuity. A lost connection is counted as an error and resumed with
//! `after_seq`; when the run stops, the bid in flight is awaited briefly and
//! the socket is closed with a close handshake.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use futures_util::{SinkExt as _, StreamExt as _};
use rand::Rng as _;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::{watch, Semaphore};
use tokio::time::{sleep, sleep_until, Instant};
use tokio_tungstenite::tungstenite::Message;

use super::net::{connect_ws, Target, Ws, CONNECT_TIMEOUT};
use super::pacer::Pacer;
use super::ready::Ready;
use super::seq::SeqTracker;
use super::stats::Shared;

/// Where the whole run is; bidders only bid in `Run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Connected, waiting for everyone else.
    Wait,
    Run,
    /// Finish the bid in flight, then close.
    Stop,
}

/// Longest wait for the answer of the last bid after the run stops.
const DRAIN: Duration = Duration::from_secs(2);
/// A leader bids again after this long without seeing any event.
const LEADING_FALLBACK: Duration = Duration::from_secs(1);
/// A leader that does not watch events tries again this soon (it learns it
/// was outbid only from its next answer).
const BLIND_LEADING_RETRY: Duration = Duration::from_millis(5);
/// Reconnections per bidder before it gives up.
const MAX_RECONNECTS: u32 = 5;

/// Who one bidder is.
#[derive(Debug, Clone)]
pub struct BidderSpec {
    pub index: usize,
    /// Which of the run's auctions (index into `BidderCtx::paced_amounts`).
    pub auction_index: usize,
    pub auction_id: String,
    pub token: String,
    pub source: Option<IpAddr>,
}

/// What all bidders share.
pub struct BidderCtx {
    pub target: Target,
    pub shared: Arc<Shared>,
    pub pacer: Option<Pacer>,
    /// Paced runs only (else empty): the last amount sent per auction.
    pub paced_amounts: Vec<AtomicI64>,
    /// Prefix of request ids (the run's random prefix).
    pub run_prefix: String,
    /// Limits how many connections are being opened at once.
    pub permits: Arc<Semaphore>,
    /// Whether bidders subscribe to events (else answers alone steer them).
    pub watch_events: bool,
}

// ---------------------------------------------------------------------------
// Server frames: only the fields the bidder needs (serde skips the rest).
// ---------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
struct Frame<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    seq: Option<i64>,
    #[serde(borrow)]
    event: Option<Cow<'a, str>>,
    data: Option<EventData>,
    auction: Option<SnapshotData>,
    result: Option<BidResult>,
    #[serde(borrow)]
    request_id: Option<Cow<'a, str>>,
    error: Option<ErrorData>,
}

#[derive(Debug, Deserialize)]
struct EventData {
    min_next_bid: Option<i64>,
    current_price: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct SnapshotData {
    seq: i64,
    min_next_bid: i64,
    current_price: i64,
    status: String,
}

#[derive(Debug, Deserialize)]
struct BidResult {
    request_id: String,
    seq: i64,
    min_next_bid: i64,
    current_price: i64,
    status: String,
}

#[derive(Debug, Deserialize)]
struct ErrorData {
    code: String,
    message: Option<String>,
    min_next_bid: Option<i64>,
}

// ---------------------------------------------------------------------------

struct InFlight {
    request_id: String,
    sent: Instant,
}

/// How one connection ended.
enum Exit {
    /// The run is over.
    Done,
    /// The connection broke: error code and detail.
    Lost(String, String),
}

/// When the next bid may go.
enum BidTime {
    Now,
    At(Instant),
    Never,
}

struct Bidder {
    spec: BidderSpec,
    ctx: Arc<BidderCtx>,
    phase: watch::Receiver<Phase>,
    current: Phase,
    tracker: SeqTracker,
    min_next: i64,
    current_price: i64,
    in_flight: Option<InFlight>,
    /// Leading as of this seq, since this time: wait for a later event.
    leading_after: Option<(i64, Instant)>,
    /// Backing off until then.
    not_before: Option<Instant>,
    /// A reserved `--bid-rate` slot.
    slot: Option<Instant>,
    drain_deadline: Option<Instant>,
    sent: u64,
    /// The auction is no longer open.
    closed: bool,
}

/// Runs one bidder until the run stops (or it cannot connect).
pub async fn run_bidder(
    spec: BidderSpec,
    ctx: Arc<BidderCtx>,
    phase: watch::Receiver<Phase>,
    mut ready: Ready,
) {
    let current = *phase.borrow();
    let shared = Arc::clone(&ctx.shared);
    let mut bidder = Bidder {
        spec,
        ctx,
        phase,
        current,
        tracker: SeqTracker::default(),
        min_next: 0,
        current_price: 0,
        in_flight: None,
        leading_after: None,
        not_before: None,
        slot: None,
        drain_deadline: None,
        sent: 0,
        closed: false,
    };
    let first = {
        let permits = Arc::clone(&bidder.ctx.permits);
        let Ok(_permit) = permits.acquire().await else {
            return;
        };
        bidder.connect_first().await
    };
    let mut ws = match first {
        Ok(ws) => ws,
        Err(error) => {
            shared.record_error("ws_connect", || format!("{error:#}"));
            return;
        }
    };
    ready.ok();
    let mut attempts = 0;
    loop {
        let (code, detail) = match bidder.drive(&mut ws).await {
            Exit::Done => {
                shared.bidder_done();
                close_quietly(ws).await;
                return;
            }
            Exit::Lost(code, detail) => (code, detail),
        };
        shared.record_error(&code, || detail);
        bidder.in_flight = None;
        bidder.slot = None;
        loop {
            if bidder.stopping() || attempts >= MAX_RECONNECTS {
                return;
            }
            attempts += 1;
            sleep(Duration::from_millis(100) * attempts).await;
            match bidder.resume().await {
                Ok(new) => {
                    ws = new;
                    break;
                }
                Err(error) => shared.record_error("ws_connect", || format!("{error:#}")),
            }
        }
    }
}

/// Closes with a handshake, waiting briefly for the server's reply.
async fn close_quietly(mut ws: Ws) {
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        if ws.close(None).await.is_ok() {
            while let Some(Ok(_)) = ws.next().await {}
        }
    })
    .await;
}

impl Bidder {
    fn stopping(&self) -> bool {
        self.current == Phase::Stop || *self.phase.borrow() == Phase::Stop
    }

    fn record_seq(&self, check: super::seq::SeqCheck) {
        self.ctx.shared.record_seq(check);
    }

    fn raise(&mut self, min_next: Option<i64>, current_price: Option<i64>) {
        if let Some(min_next) = min_next {
            self.min_next = self.min_next.max(min_next);
        }
        if let Some(price) = current_price {
            self.current_price = self.current_price.max(price);
        }
    }

    /// The amount of the next bid: the highest `min_next_bid` known. Paced
    /// bidders also stay one increment above the last paced bid any of them
    /// sent on this auction: paced bids go out before the previous one's
    /// event arrives, and would otherwise mostly collide at the same amount.
    fn next_amount(&self) -> i64 {
        let Some(last_sent) = self.ctx.paced_amounts.get(self.spec.auction_index) else {
            return self.min_next;
        };
        let last = last_sent.load(Ordering::Relaxed);
        // The auctions the tool creates use the standard increment table.
        let increment =
            crate::domain::IncrementTable::standard().increment_at(last.max(self.min_next));
        let amount = if last > 0 {
            self.min_next.max(last.saturating_add(increment))
        } else {
            self.min_next
        };
        last_sent.fetch_max(amount, Ordering::Relaxed);
        amount
    }

    /// Connects, subscribes and waits for the snapshot (when watching).
    async fn connect_first(&mut self) -> anyhow::Result<Ws> {
        let mut ws = connect_ws(&self.ctx.target, self.spec.source, &self.spec.token).await?;
        if !self.ctx.watch_events {
            // The first answer (below_minimum or a result) tells the minimum.
            self.min_next = self.min_next.max(1);
            return Ok(ws);
        }
        let subscribe = json!({"type": "subscribe", "auction_id": self.spec.auction_id});
        ws.send(Message::text(subscribe.to_string()))
            .await
            .context("sending subscribe")?;
        let deadline = Instant::now() + CONNECT_TIMEOUT;
        while self.tracker.last().is_none() {
            let message = tokio::time::timeout_at(deadline, ws.next())
                .await
                .context("no snapshot after subscribing")?
                .context("the server closed the socket before the snapshot")?
                .context("reading the snapshot")?;
            if let Message::Text(text) = message {
                self.on_text(&text);
            }
        }
        Ok(ws)
    }

    /// Reconnects and resumes after the last seq seen.
    async fn resume(&mut self) -> anyhow::Result<Ws> {
        let mut ws = connect_ws(&self.ctx.target, self.spec.source, &self.spec.token).await?;
        if !self.ctx.watch_events {
            return Ok(ws);
        }
        let mut subscribe = json!({"type": "subscribe", "auction_id": self.spec.auction_id});
        if let Some(seq) = self.tracker.last() {
            subscribe["after_seq"] = json!(seq);
        }
        ws.send(Message::text(subscribe.to_string()))
            .await
            .context("sending subscribe")?;
        Ok(ws)
    }

    /// Bids and reads on one connection until the run is over or it breaks.
    async fn drive(&mut self, ws: &mut Ws) -> Exit {
        loop {
            let now = Instant::now();
            let mut wake = None;
            if self.current == Phase::Stop {
                if self.in_flight.is_none() {
                    return Exit::Done;
                }
                let deadline = *self.drain_deadline.get_or_insert(now + DRAIN);
                if now >= deadline {
                    return Exit::Done;
                }
                wake = Some(deadline);
            }
            match self.next_bid(now) {
                BidTime::Now => {
                    if let Err(error) = self.send_bid(ws).await {
                        return Exit::Lost("ws_error".into(), format!("sending a bid: {error}"));
                    }
                    continue;
                }
                BidTime::At(at) => wake = Some(wake.map_or(at, |w: Instant| w.min(at))),
                BidTime::Never => {}
            }
            tokio::select! {
                message = ws.next() => match message {
                    Some(Ok(message)) => {
                        if let Some(exit) = self.on_message(message) {
                            return exit;
                        }
                    }
                    Some(Err(error)) => return Exit::Lost("ws_error".into(), error.to_string()),
                    None => return Exit::Lost("ws_closed".into(), "the connection ended".into()),
                },
                changed = self.phase.changed(), if self.current != Phase::Stop => {
                    self.current = match changed {
                        Ok(()) => *self.phase.borrow_and_update(),
                        Err(_) => Phase::Stop,
                    };
                }
                () = sleep_until(wake.unwrap_or(now)), if wake.is_some() => {}
            }
        }
    }

    /// Whether (and when) this bidder should bid next.
    fn next_bid(&mut self, now: Instant) -> BidTime {
        if self.current != Phase::Run
            || self.in_flight.is_some()
            || self.closed
            || self.ctx.shared.limit_hit()
        {
            return BidTime::Never;
        }
        if let Some((_, since)) = self.leading_after {
            let wait = if self.ctx.watch_events {
                LEADING_FALLBACK
            } else {
                BLIND_LEADING_RETRY
            };
            let fallback = since + wait;
            if now < fallback {
                return BidTime::At(fallback);
            }
            self.leading_after = None;
        }
        if let Some(at) = self.not_before {
            if now < at {
                return BidTime::At(at);
            }
            self.not_before = None;
        }
        if let Some(pacer) = &self.ctx.pacer {
            let slot = *self.slot.get_or_insert_with(|| pacer.reserve());
            if now < slot {
                return BidTime::At(slot);
            }
            self.slot = None;
        }
        BidTime::Now
    }

    async fn send_bid(&mut self, ws: &mut Ws) -> Result<(), tokio_tungstenite::tungstenite::Error> {
        self.sent += 1;
        let request_id = format!("{}-{}-{}", self.ctx.run_prefix, self.spec.index, self.sent);
        let frame = json!({
            "type": "bid",
            "auction_id": self.spec.auction_id,
            "request_id": request_id,
            "amount": self.next_amount(),
        });
        self.in_flight = Some(InFlight {
            request_id,
            sent: Instant::now(),
        });
        ws.send(Message::text(frame.to_string())).await
    }

    fn on_message(&mut self, message: Message) -> Option<Exit> {
        match message {
            Message::Text(text) => {
                self.on_text(&text);
                None
            }
            Message::Close(frame) => {
                let (code, reason) = frame.map_or((None, String::new()), |f| {
                    (Some(u16::from(f.code)), f.reason.to_string())
                });
                let code =
                    code.map_or_else(|| "ws_closed".to_owned(), |c| format!("ws_closed_{c}"));
                Some(Exit::Lost(
                    code,
                    format!("the server closed the socket: {reason}"),
                ))
            }
            Message::Binary(_) => {
                self.ctx
                    .shared
                    .record_error("ws_binary_frame", || "a binary frame".into());
                None
            }
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => None,
        }
    }

    /// Takes the answer of the bid in flight, if `request_id` is it.
    fn answered(&mut self, request_id: &str, accepted: bool) -> bool {
        match &self.in_flight {
            Some(in_flight) if in_flight.request_id == request_id => {
                let latency = in_flight.sent.elapsed();
                self.ctx
                    .shared
                    .record_answer(self.spec.index, latency, accepted);
                self.in_flight = None;
                true
            }
            _ => false,
        }
    }

    fn on_text(&mut self, text: &str) {
        let frame: Frame<'_> = match serde_json::from_str(text) {
            Ok(frame) => frame,
            Err(error) => {
                self.ctx
                    .shared
                    .record_error("bad_server_frame", || format!("{error}: {text}"));
                return;
            }
        };
        match frame.kind.as_ref() {
            "snapshot" => {
                if let Some(snapshot) = frame.auction {
                    let check = self.tracker.snapshot(snapshot.seq);
                    self.record_seq(check);
                    self.raise(Some(snapshot.min_next_bid), Some(snapshot.current_price));
                    self.closed = snapshot.status != "open";
                }
            }
            "event" => {
                let Some(seq) = frame.seq else {
                    self.ctx.shared.record_error("bad_server_frame", || {
                        format!("an event without seq: {text}")
                    });
                    return;
                };
                let check = self.tracker.event(seq);
                self.record_seq(check);
                self.ctx
                    .shared
                    .bidder_events
                    .fetch_add(1, Ordering::Relaxed);
                if let Some(data) = frame.data {
                    self.raise(data.min_next_bid, data.current_price);
                }
                if matches!(frame.event.as_deref(), Some("closed" | "cancelled")) {
                    self.closed = true;
                }
                if self.leading_after.is_some_and(|(after, _)| seq > after) {
                    self.leading_after = None;
                }
            }
            "bid_result" => {
                let Some(result) = frame.result else { return };
                self.raise(Some(result.min_next_bid), Some(result.current_price));
                if self.answered(&result.request_id, true)
                    && result.status == "leading"
                    && self.tracker.last().is_none_or(|last| last <= result.seq)
                {
                    self.leading_after = Some((result.seq, Instant::now()));
                }
            }
            "bid_error" => {
                let request_id = frame.request_id.unwrap_or_default();
                let Some(error) = frame.error else { return };
                let mine = self.answered(&request_id, false);
                self.ctx
                    .shared
                    .record_error(&error.code, || error.message.clone().unwrap_or_default());
                self.raise(error.min_next_bid, None);
                if mine {
                    self.after_error(&error.code);
                }
            }
            "error" => {
                let (code, message) = frame.error.map_or_else(
                    || ("unknown".to_owned(), String::new()),
                    |e| (e.code, e.message.unwrap_or_default()),
                );
                self.ctx
                    .shared
                    .record_error(&format!("ws_error_frame_{code}"), || message);
            }
            other => {
                let other = other.to_owned();
                self.ctx
                    .shared
                    .record_error("unknown_server_frame", || other);
            }
        }
    }

    /// What a rejection means for the next bid.
    fn after_error(&mut self, code: &str) {
        let now = Instant::now();
        match code {
            "below_minimum" => {}
            "already_leading" => {
                self.leading_after = Some((self.tracker.last().unwrap_or(0), now));
            }
            "rate_limited" => {
                let jitter = rand::thread_rng().gen_range(0..50);
                self.not_before = Some(now + Duration::from_millis(100 + jitter));
            }
            "auction_not_open" => self.closed = true,
            "unavailable" => self.not_before = Some(now + Duration::from_millis(50)),
            _ => self.not_before = Some(now + Duration::from_millis(20)),
        }
    }
}
