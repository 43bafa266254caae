//! `GET /api/v1/ws`: bidding and live prices over one WebSocket.
//!
//! Each connection is one async loop that `select!`s over the client's
//! frames, its [`Mailbox`] of hub events, the answers of its bids (decided
//! in spawned tasks, so a bid never blocks the loop), a heartbeat tick and
//! the server's shutdown signal. The actor never waits on this loop: if the
//! mailbox overflows the connection is closed with 4008 and the client
//! resumes with `after_seq`.

pub mod frames;
pub mod inbound_limit;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::{AggregatedMessage, CloseCode, CloseReason, ProtocolError, Session};
use bytestring::ByteString;
use chrono::Utc;
use serde_json::Value;
use tokio::sync::{broadcast, mpsc};

use self::frames::{
    bid_error_frame, bid_result_frame, error_frame, parse_client_frame, ClientFrame,
};
use self::inbound_limit::{FrameHeaderGuard, LimitedPayload};
use super::bids::place;
use super::extract::BODY_LIMIT;
use super::feed::FeedCursor;
use super::identity::request_token;
use super::{ApiError, AppState};
use crate::auction::view::{snapshot_ws, EventBatch, Snapshot};
use crate::auction::BidCommandKind;
use crate::auth::rate_limit::Budget;
use crate::auth::token::hash_token;
use crate::cluster::hub::DEFAULT_QUEUE_CAPACITY;
use crate::cluster::identity::IdentityChange;
use crate::cluster::{Mailbox, SubscriptionGuard};
use crate::domain::AuctionId;
use crate::store::User;

/// How often the server pings.
pub const PING_EVERY: Duration = Duration::from_secs(15);
/// A peer silent this long is dropped.
pub const SILENCE_LIMIT: Duration = Duration::from_secs(45);
/// Close code for a subscriber that fell too far behind.
pub const CLOSE_TOO_SLOW: u16 = 4008;
/// Bids one connection may have waiting for answers.
const MAX_BIDS_IN_FLIGHT: usize = 64;
/// Auctions one connection may follow at once.
pub const MAX_SUBSCRIPTIONS: usize = 100;
/// `subscribe` frames per second one connection may send (each reads the
/// store), with a burst of [`SUBSCRIBE_BURST`].
const SUBSCRIBES_PER_SEC: u32 = 10;
const SUBSCRIBE_BURST: u32 = 50;
/// Events one connection may have replayed per second, with a burst of ten
/// seconds' worth; the node's per-IP budget applies on top.
const REPLAYED_EVENTS_PER_SEC: u32 = 2_000;
/// Longest wait for the client to take a frame before giving up on it.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// `GET /api/v1/ws`: checks `Origin`, resolves the user, upgrades.
pub async fn connect(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    if let Some(origin) = req.headers().get(actix_web::http::header::ORIGIN) {
        let allowed = origin.to_str().is_ok_and(|o| state.origin_allowed(o));
        if !allowed {
            let seen = String::from_utf8_lossy(origin.as_bytes());
            return Err(ApiError::forbidden(state.refuse_origin(
                &req,
                &seen,
                "a WebSocket upgrade",
            )));
        }
    }
    if !state.is_accepting() {
        return Err(ApiError::unavailable());
    }
    let slot = state.open_stream(&req)?;
    // Listen before looking the session up: a logout in between is heard.
    let identity_changes = state.hub.identity.subscribe();
    // A dead or missing token makes an anonymous socket, which may watch; a
    // token that cannot be checked (storage down) is not taken as anonymous.
    let identity = match request_token(&req) {
        None => None,
        Some((token, _)) => state
            .accounts
            .session_for_token(&token)
            .await
            .map_err(|error| {
                tracing::warn!(error = %error, "WebSocket session check failed");
                ApiError::unavailable()
            })?
            .map(|(user, expires_at)| Identity {
                user,
                token_hash: hash_token(&token),
                expires_at,
            }),
    };
    let body = limit_frames(&req, body).await?;
    let (response, session, stream) = actix_ws::handle(&req, body)
        .map_err(|error| ApiError::bad_request(format!("not a WebSocket upgrade: {error}")))?;
    let stream = stream
        .max_frame_size(BODY_LIMIT)
        .aggregate_continuations()
        .max_continuation_size(BODY_LIMIT);
    let connection = Connection {
        state: state.into_inner(),
        identity,
        identity_changes,
        session,
        mailbox: Mailbox::new(DEFAULT_QUEUE_CAPACITY),
        subscriptions: HashMap::new(),
        subscribe_budget: Budget::new(SUBSCRIBES_PER_SEC, SUBSCRIBE_BURST),
        replay_budget: Budget::new(REPLAYED_EVENTS_PER_SEC, REPLAYED_EVENTS_PER_SEC * 10),
        peer: req.peer_addr(),
        bids_in_flight: 0,
        _slot: slot,
    };
    actix_web::rt::spawn(connection.run(stream));
    Ok(response)
}

/// The client's bytes, stopped on the first frame header over the limits
/// (see [`inbound_limit`]), so nothing past a frame's limit is buffered.
async fn limit_frames(req: &HttpRequest, body: web::Payload) -> Result<web::Payload, ApiError> {
    use actix_web::FromRequest as _;
    let guard = FrameHeaderGuard::new(BODY_LIMIT, BODY_LIMIT);
    let limited = LimitedPayload::new(body.into_inner(), guard);
    let limited: std::pin::Pin<Box<dyn futures_util::Stream<Item = _>>> = Box::pin(limited);
    let mut payload = actix_web::dev::Payload::from(limited);
    web::Payload::from_request(req, &mut payload)
        .await
        .map_err(|error| ApiError::bad_request(format!("WebSocket body: {error}")))
}

struct Subscription {
    _guard: SubscriptionGuard,
    cursor: FeedCursor,
}

/// Who a socket speaks for, until a logout or expiry ends it; the socket
/// then stays open as an anonymous one (it may watch, and its bids are
/// answered `unauthenticated`). A ban keeps the identity but marks it
/// banned: its bids are answered `banned`.
struct Identity {
    user: User,
    token_hash: String,
    expires_at: chrono::DateTime<Utc>,
}

struct Connection {
    state: Arc<AppState>,
    identity: Option<Identity>,
    /// Logouts and bans, this node's and (through Redis) other nodes'.
    identity_changes: broadcast::Receiver<IdentityChange>,
    session: Session,
    mailbox: Mailbox,
    subscriptions: HashMap<AuctionId, Subscription>,
    /// Replays are bounded per connection (and per IP, in the state); one
    /// runs at a time, since the loop waits for it.
    subscribe_budget: Budget,
    replay_budget: Budget,
    peer: Option<std::net::SocketAddr>,
    bids_in_flight: usize,
    _slot: Option<crate::auth::rate_limit::ConnectionSlot>,
}

/// Why the loop ended: how to close.
enum Ending {
    ClientLeft,
    Close(CloseCode, &'static str),
    /// The client stopped taking frames: drop it without a goodbye.
    Unresponsive,
}

/// Whether a stream error is a size limit (ours or actix-ws's aggregation).
fn is_overflow(error: &std::io::Error) -> bool {
    let ours = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<actix_web::error::PayloadError>())
        .is_some_and(|inner| matches!(inner, actix_web::error::PayloadError::Overflow));
    ours || error.to_string().contains("size")
}

impl Connection {
    async fn run(mut self, mut stream: actix_ws::AggregatedMessageStream) {
        let _gauge = crate::telemetry::GaugeGuard::new("gavel_ws_connections");
        let (answer_tx, mut answers) = mpsc::channel::<String>(MAX_BIDS_IN_FLIGHT);
        let mut shutdown = self.state.shutdown.clone();
        let mut heartbeat = tokio::time::interval(PING_EVERY);
        heartbeat.reset();
        let mut last_heard = Instant::now();

        let ending = loop {
            let step = tokio::select! {
                message = stream.recv() => {
                    last_heard = Instant::now();
                    self.on_client_message(message, &answer_tx).await
                }
                event = self.mailbox.recv() => match event {
                    Some(event) => self.on_event(event).await,
                    None => Err(Ending::Close(CloseCode::Other(CLOSE_TOO_SLOW), "too slow; resume with after_seq")),
                },
                Some(answer) = answers.recv() => {
                    self.bids_in_flight = self.bids_in_flight.saturating_sub(1);
                    self.send(answer).await
                }
                _ = heartbeat.tick() => {
                    if last_heard.elapsed() > SILENCE_LIMIT {
                        Err(Ending::Close(CloseCode::Policy, "no sign of life for 45 s"))
                    } else {
                        match tokio::time::timeout(SEND_TIMEOUT, self.session.ping(b"")).await {
                            Ok(Ok(())) => Ok(()),
                            Ok(Err(_)) => Err(Ending::ClientLeft),
                            Err(_) => Err(Ending::Unresponsive),
                        }
                    }
                }
                change = self.identity_changes.recv(), if self.identity.is_some() => {
                    self.on_identity_change(change).await;
                    Ok(())
                }
                _ = shutdown.changed() => Err(Ending::Close(CloseCode::Away, "server shutting down")),
            };
            if let Err(ending) = step {
                break ending;
            }
        };
        if let Ending::Close(code, description) = ending {
            let reason = CloseReason {
                code,
                description: Some(description.to_owned()),
            };
            let _ = tokio::time::timeout(SEND_TIMEOUT, self.session.close(Some(reason))).await;
        }
    }

    async fn on_identity_change(
        &mut self,
        change: Result<IdentityChange, broadcast::error::RecvError>,
    ) {
        let Some(identity) = &self.identity else {
            return;
        };
        match change {
            Ok(change) if change.ends_session(&identity.token_hash) => {
                self.end_identity("session ended");
            }
            Ok(change) => {
                if let Some(banned) = change.ban_status_of(identity.user.id) {
                    if let Some(identity) = self.identity.as_mut() {
                        identity.user.banned = banned;
                    }
                }
            }
            Err(broadcast::error::RecvError::Closed) => {}
            Err(broadcast::error::RecvError::Lagged(_)) => {
                // Changes were missed: ask the store whether ours is live.
                let hash = identity.token_hash.clone();
                match self.state.store.session_user(&hash, Utc::now()).await {
                    Ok(Some((user, _))) => {
                        if let Some(identity) = self.identity.as_mut() {
                            identity.user = user;
                        }
                    }
                    Ok(None) => self.end_identity("session ended"),
                    Err(error) => {
                        tracing::warn!(error = %error, "could not recheck a session; ending it");
                        self.end_identity("session could not be checked");
                    }
                }
            }
        }
    }

    /// Applies identity changes already announced but not yet taken from
    /// the channel, and the session's expiry, so a bid sent just after a
    /// logout, a ban or the expiry never counts. (The identity matters only
    /// to bids, so expiry needs no timer of its own: it is checked here.)
    async fn catch_up_on_identity(&mut self) {
        while self.identity.is_some() {
            match self.identity_changes.try_recv() {
                Ok(change) => self.on_identity_change(Ok(change)).await,
                Err(broadcast::error::TryRecvError::Lagged(missed)) => {
                    let lagged = broadcast::error::RecvError::Lagged(missed);
                    self.on_identity_change(Err(lagged)).await;
                }
                Err(_) => break,
            }
        }
        if self
            .identity
            .as_ref()
            .is_some_and(|identity| identity.expires_at <= Utc::now())
        {
            self.end_identity("session expired");
        }
    }

    fn end_identity(&mut self, why: &'static str) {
        if let Some(identity) = self.identity.take() {
            tracing::info!(user.id = %identity.user.id, why, "WebSocket identity ended");
        }
    }

    async fn send(&mut self, frame: impl Into<ByteString>) -> Result<(), Ending> {
        match tokio::time::timeout(SEND_TIMEOUT, self.session.text(frame)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(Ending::ClientLeft),
            Err(_) => Err(Ending::Unresponsive),
        }
    }

    async fn on_client_message(
        &mut self,
        message: Option<Result<AggregatedMessage, ProtocolError>>,
        answers: &mpsc::Sender<String>,
    ) -> Result<(), Ending> {
        match message {
            None => Err(Ending::ClientLeft),
            // Answer a close with a close (RFC 6455 §5.5.1).
            Some(Ok(AggregatedMessage::Close(_))) => {
                Err(Ending::Close(CloseCode::Normal, "goodbye"))
            }
            Some(Ok(AggregatedMessage::Text(text))) => self.on_frame(&text, answers).await,
            Some(Ok(AggregatedMessage::Binary(_))) => {
                self.send(error_frame("bad_frame", "send JSON text frames"))
                    .await
            }
            Some(Ok(AggregatedMessage::Ping(payload))) => {
                match tokio::time::timeout(SEND_TIMEOUT, self.session.pong(&payload)).await {
                    Ok(Ok(())) => Ok(()),
                    _ => Err(Ending::ClientLeft),
                }
            }
            Some(Ok(AggregatedMessage::Pong(_))) => Ok(()),
            Some(Err(ProtocolError::Overflow)) => Err(Ending::Close(
                CloseCode::Size,
                "frames are limited to 64 KiB",
            )),
            Some(Err(ProtocolError::Io(error))) if is_overflow(&error) => Err(Ending::Close(
                CloseCode::Size,
                "frames and messages are limited to 64 KiB",
            )),
            Some(Err(error)) => {
                tracing::debug!(error = %error, "WebSocket protocol error");
                Err(Ending::Close(CloseCode::Protocol, "protocol error"))
            }
        }
    }

    async fn on_frame(&mut self, text: &str, answers: &mpsc::Sender<String>) -> Result<(), Ending> {
        let frame = match parse_client_frame(text) {
            Ok(frame) => frame,
            Err(error) => return self.send(error_frame("bad_frame", &error.0)).await,
        };
        match frame {
            ClientFrame::Subscribe {
                auction_id,
                after_seq,
            } => self.subscribe(&auction_id, after_seq).await,
            ClientFrame::Unsubscribe { auction_id } => {
                if let Ok(id) = uuid::Uuid::parse_str(&auction_id) {
                    self.subscriptions.remove(&id);
                }
                Ok(())
            }
            ClientFrame::Bid {
                auction_id,
                request_id,
                amount,
                max_amount,
            } => {
                let kind = BidCommandKind::Bid { amount, max_amount };
                self.bid(auction_id, request_id, kind, answers).await
            }
            ClientFrame::BuyNow {
                auction_id,
                request_id,
            } => {
                self.bid(auction_id, request_id, BidCommandKind::BuyNow, answers)
                    .await
            }
        }
    }

    async fn subscribe(&mut self, auction_id: &str, after_seq: Option<i64>) -> Result<(), Ending> {
        let Ok(id) = uuid::Uuid::parse_str(auction_id) else {
            return self.send(error_frame("not_found", "no such auction")).await;
        };
        if after_seq.is_some_and(|seq| seq < 0) {
            return self
                .send(error_frame("bad_frame", "after_seq must not be negative"))
                .await;
        }
        if !self.subscriptions.contains_key(&id) && self.subscriptions.len() >= MAX_SUBSCRIPTIONS {
            let message = format!(
                "a connection may follow {MAX_SUBSCRIPTIONS} auctions; unsubscribe from one first"
            );
            return self.send(error_frame("rate_limited", &message)).await;
        }
        if !self.subscribe_budget.take(1) {
            let message = format!(
                "too many subscribes on this connection; retry in {} s",
                self.subscribe_budget.wait_secs(1)
            );
            return self.send(error_frame("rate_limited", &message)).await;
        }
        self.subscriptions.remove(&id);
        // Subscribe first, then read the store: nothing falls in between.
        let guard = self.mailbox.subscribe(&self.state.hub, id);
        let record = match self.state.store.auction(id).await {
            Ok(Some(record)) => record,
            Ok(None) => return self.send(error_frame("not_found", "no such auction")).await,
            Err(error) => {
                tracing::warn!(auction.id = %id, error = ?error, "subscribe: storage unavailable");
                return self
                    .send(error_frame(
                        "unavailable",
                        "storage is unavailable; try again",
                    ))
                    .await;
            }
        };
        // A seq past the auction's last event cannot be resumed from: the
        // client starts over with a snapshot.
        let after_seq = after_seq.filter(|seq| *seq <= record.auction.state.seq);
        let mut cursor = match after_seq {
            Some(seq) => FeedCursor::new(id, seq),
            None => {
                let snapshot = Snapshot::of(&record, Utc::now());
                self.send(snapshot_ws(&snapshot)).await?;
                FeedCursor::new(id, snapshot.seq)
            }
        };
        if let Some(after) = after_seq {
            let replayed = (record.auction.state.seq - after).max(0);
            if let Err(refusal) = self.take_replay_budget(replayed) {
                return self.send(refusal).await;
            }
            loop {
                let page = match cursor.replay_page(self.state.store.as_ref()).await {
                    Ok(page) => page,
                    Err(error) => {
                        tracing::warn!(auction.id = %id, error = ?error, "replay failed");
                        return self
                            .send(error_frame(
                                "unavailable",
                                "storage is unavailable; try again",
                            ))
                            .await;
                    }
                };
                if page.is_empty() {
                    break;
                }
                for event in page {
                    self.send(event.ws).await?;
                }
            }
        }
        self.subscriptions.insert(
            id,
            Subscription {
                _guard: guard,
                cursor,
            },
        );
        Ok(())
    }

    /// Takes `events` from this connection's and its address's replay
    /// budgets, or gives the `rate_limited` error frame to send.
    fn take_replay_budget(&mut self, events: i64) -> Result<(), String> {
        let events_u64 = u64::try_from(events).unwrap_or(0);
        if !self.replay_budget.take(events_u64) {
            let message = format!(
                "too many events replayed on this connection; retry in {} s",
                self.replay_budget.wait_secs(events_u64)
            );
            return Err(error_frame("rate_limited", &message));
        }
        self.state
            .take_replay_budget(self.peer, events)
            .map_err(|refusal| error_frame("rate_limited", refusal.message()))
    }

    async fn on_event(&mut self, batch: Arc<EventBatch>) -> Result<(), Ending> {
        let Some(subscription) = self.subscriptions.get_mut(&batch.auction_id) else {
            return Ok(()); // unsubscribed meanwhile
        };
        let events = match subscription
            .cursor
            .accept(self.state.store.as_ref(), &batch)
            .await
        {
            Ok(events) => events,
            Err(error) => {
                tracing::warn!(error = ?error, "gap fill failed; closing so the client resumes");
                return Err(Ending::Close(
                    CloseCode::Other(CLOSE_TOO_SLOW),
                    "could not catch up; resume with after_seq",
                ));
            }
        };
        for event in events {
            self.send(event.ws).await?;
        }
        Ok(())
    }

    async fn bid(
        &mut self,
        auction_id: String,
        request_id: String,
        kind: BidCommandKind,
        answers: &mpsc::Sender<String>,
    ) -> Result<(), Ending> {
        self.catch_up_on_identity().await;
        let Some(user) = self.identity.as_ref().map(|identity| identity.user.clone()) else {
            let error =
                crate::auction::view::error_object("unauthenticated", "log in to bid", None);
            return self
                .send(bid_error_frame(&request_id, &auction_id, error))
                .await;
        };
        let Ok(id) = uuid::Uuid::parse_str(&auction_id) else {
            let error = crate::auction::view::error_object("not_found", "no such auction", None);
            return self
                .send(bid_error_frame(&request_id, &auction_id, error))
                .await;
        };
        if self.bids_in_flight >= MAX_BIDS_IN_FLIGHT {
            let error = crate::auction::view::error_object(
                "rate_limited",
                "too many bids waiting for answers on this connection",
                None,
            );
            return self
                .send(bid_error_frame(&request_id, &auction_id, error))
                .await;
        }
        self.bids_in_flight += 1;
        let state = Arc::clone(&self.state);
        let answers = answers.clone();
        actix_web::rt::spawn(async move {
            let frame = match place(&state, &user, id, request_id.clone(), kind).await {
                Ok(answer) if answer.http_status == 200 => bid_result_frame(&answer.body),
                Ok(answer) => {
                    let error = serde_json::from_str::<Value>(&answer.body)
                        .ok()
                        .map(|body| body["error"].clone())
                        .unwrap_or(Value::Null);
                    bid_error_frame(&request_id, &auction_id, error)
                }
                Err(error) => bid_error_frame(&request_id, &auction_id, error.error_object()),
            };
            let _ = answers.send(frame).await;
        });
        Ok(())
    }
}
