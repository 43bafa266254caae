//! `GET /api/v1/auctions/{id}/events`: the Server-Sent Events price feed.
//!
//! The handler subscribes to the hub first, then sends either a snapshot or
//! (with `Last-Event-ID`, header or `?last_event_id=`) every stored event
//! after that id, then live events, through a [`FeedCursor`] so nothing is
//! missed or repeated. The body is a plain stream over the subscriber's
//! mailbox: no task per watcher. A watcher whose queue overflows has its
//! stream ended; it reconnects with `Last-Event-ID`.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use chrono::Utc;
use futures_util::future::BoxFuture;
use futures_util::Stream;
use serde::Deserialize;
use tokio::sync::watch;
use tokio::time::Instant;

use super::auctions::load;
use super::feed::FeedCursor;
use super::{ApiError, ApiResult, AppState};
use crate::auction::view::{snapshot_sse, EncodedEvent, EventBatch, Snapshot};
use crate::auth::rate_limit::ConnectionSlot;
use crate::cluster::hub::DEFAULT_QUEUE_CAPACITY;
use crate::cluster::{Mailbox, SubscriptionGuard};
use crate::domain::AuctionId;
use crate::store::{Store, StoreError};
use crate::telemetry::GaugeGuard;

/// After this long without a byte sent, a comment line goes out, so proxies
/// keep the stream.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Resume after this `seq` (like the `Last-Event-ID` header).
    last_event_id: Option<String>,
}

fn parse_last_event_id(text: &str) -> Result<i64, ApiError> {
    text.trim()
        .parse::<i64>()
        .ok()
        .filter(|seq| *seq >= 0)
        .ok_or_else(|| ApiError::bad_request("Last-Event-ID must be a non-negative integer"))
}

/// A store read in flight: a replay page, or the events missing before a
/// live batch. It owns the cursor until it finishes.
type Fetch = BoxFuture<'static, Result<(FeedCursor, Vec<EncodedEvent>), StoreError>>;

/// Where the stream's position is: at hand, or inside a store read.
enum Position {
    At(FeedCursor),
    Fetching(Fetch),
}

/// The response body of one SSE stream, polled by actix's dispatcher.
///
/// Written as a plain [`Stream`] rather than an `async` block: with 10,000
/// watchers every event is 10,000 polls, and each one here is a few atomic
/// operations (the mailbox) instead of building and tearing down a `select!`
/// with its timer and shutdown registrations.
struct FeedBody {
    store: Arc<dyn Store>,
    mailbox: Mailbox,
    guard: SubscriptionGuard,
    _open: (GaugeGuard, Option<ConnectionSlot>),
    position: Position,
    queued: VecDeque<Bytes>,
    /// Fires [`KEEP_ALIVE`] after the last chunk known to it; a busy stream
    /// only moves it forward when it fires, not on every event.
    keep_alive: tokio::time::Interval,
    last_sent: Instant,
    /// Resolves when the server starts shutting down.
    shutdown: BoxFuture<'static, ()>,
    /// Whether the replay from the store is still running.
    replaying: bool,
    done: bool,
}

impl FeedBody {
    /// A body that starts with `queued`, then replays from the store after
    /// the cursor when `replaying`, then follows the mailbox.
    fn new(
        store: Arc<dyn Store>,
        (mailbox, guard): (Mailbox, SubscriptionGuard),
        open: (GaugeGuard, Option<ConnectionSlot>),
        (cursor, replaying): (FeedCursor, bool),
        queued: VecDeque<Bytes>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Self {
        let mut keep_alive = tokio::time::interval(KEEP_ALIVE);
        keep_alive.reset();
        Self {
            store,
            mailbox,
            guard,
            _open: open,
            position: Position::At(cursor),
            queued,
            keep_alive,
            last_sent: Instant::now(),
            shutdown: Box::pin(async move {
                let _ = shutdown.wait_for(|down| *down).await;
            }),
            replaying,
            done: false,
        }
    }

    fn auction(&self) -> AuctionId {
        self.guard.auction()
    }

    fn start_fetch(&mut self, cursor: FeedCursor, batch: Option<Arc<EventBatch>>) {
        let store = Arc::clone(&self.store);
        self.position = Position::Fetching(Box::pin(async move {
            let mut cursor = cursor;
            let events = match batch {
                Some(batch) => cursor.accept(store.as_ref(), &batch).await?,
                None => cursor.replay_page(store.as_ref()).await?,
            };
            Ok((cursor, events))
        }));
    }

    fn queue(&mut self, events: &[EncodedEvent]) {
        self.queued
            .extend(events.iter().map(|event| event.sse.clone()));
    }

    /// The next chunk of the body; `Ready(None)` ends the stream.
    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        loop {
            if let Some(chunk) = self.queued.pop_front() {
                self.last_sent = Instant::now();
                return Poll::Ready(Some(chunk));
            }
            if self.done {
                return Poll::Ready(None);
            }
            let mut cursor = match &mut self.position {
                Position::At(cursor) => *cursor,
                Position::Fetching(fetch) => {
                    let (cursor, events) = match ready!(fetch.as_mut().poll(cx)) {
                        Ok(done) => done,
                        Err(error) => {
                            tracing::warn!(auction.id = %self.auction(), error = ?error, "SSE store read failed; ending the stream");
                            return Poll::Ready(None);
                        }
                    };
                    self.position = Position::At(cursor);
                    if self.replaying && events.is_empty() {
                        self.replaying = false;
                    }
                    self.queue(&events);
                    continue;
                }
            };
            if self.replaying {
                self.start_fetch(cursor, None);
                continue;
            }
            if self.shutdown.as_mut().poll(cx).is_ready() {
                self.done = true;
                continue;
            }
            match self.mailbox.poll_recv(cx) {
                Poll::Ready(Some(batch)) => match cursor.accept_contiguous(&batch) {
                    Some(events) => {
                        self.position = Position::At(cursor);
                        self.queue(events);
                    }
                    None => self.start_fetch(cursor, Some(batch)),
                },
                Poll::Ready(None) => {
                    tracing::info!(auction.id = %self.auction(), "SSE watcher too slow; ending its stream");
                    return Poll::Ready(None);
                }
                Poll::Pending => {
                    ready!(self.keep_alive.poll_tick(cx));
                    let due = self.last_sent + KEEP_ALIVE;
                    if due > Instant::now() {
                        // Something went out since: wait until 15 s after it.
                        self.keep_alive.reset_at(due);
                        continue;
                    }
                    self.keep_alive.reset();
                    self.last_sent = Instant::now();
                    return Poll::Ready(Some(Bytes::from_static(b": keep-alive\n\n")));
                }
            }
        }
    }
}

impl Stream for FeedBody {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_chunk(cx).map(|chunk| chunk.map(Ok))
    }
}

/// Counts open SSE streams while alive.
fn sse_gauge() -> GaugeGuard {
    GaugeGuard::new("gavel_sse_connections")
}

/// `GET /api/v1/auctions/{id}/events`
pub async fn events(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    query: web::Query<EventsQuery>,
) -> ApiResult<HttpResponse> {
    let header_id = req
        .headers()
        .get("last-event-id")
        .map(|value| value.to_str().unwrap_or("invalid").to_owned());
    let last_event_id = match header_id.or_else(|| query.last_event_id.clone()) {
        Some(text) if !text.trim().is_empty() => Some(parse_last_event_id(&text)?),
        _ => None,
    };
    if !state.is_accepting() {
        return Err(ApiError::unavailable());
    }
    let slot = state.open_stream(&req)?;
    let record = load(&state, &id).await?;
    // An id past the auction's last event (one from another database, say)
    // cannot be resumed from: such a client starts over with a snapshot.
    let last_event_id = last_event_id.filter(|seq| *seq <= record.auction.state.seq);
    if let Some(seq) = last_event_id {
        state.take_replay_budget(req.peer_addr(), record.auction.state.seq - seq)?;
    }
    let mailbox = Mailbox::new(DEFAULT_QUEUE_CAPACITY);
    // Subscribe before reading the store, so nothing falls in between.
    let guard = mailbox.subscribe(&state.hub, record.id);
    let mut queued = VecDeque::from([Bytes::from_static(b"retry: 2000\n\n")]);
    let (cursor, replaying) = match last_event_id {
        Some(seq) => (FeedCursor::new(record.id, seq), true),
        None => {
            // Re-read after subscribing: the snapshot must not predate the subscription.
            let record = state
                .store
                .auction(record.id)
                .await?
                .ok_or_else(|| ApiError::not_found("auction"))?;
            let snapshot = Snapshot::of(&record, Utc::now());
            queued.push_back(Bytes::from(snapshot_sse(&snapshot)));
            (FeedCursor::new(record.id, snapshot.seq), false)
        }
    };
    let body = FeedBody::new(
        Arc::clone(&state.store),
        (mailbox, guard),
        (sse_gauge(), slot),
        (cursor, replaying),
        queued,
        state.shutdown.clone(),
    );
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::Hub;
    use futures_util::FutureExt as _;
    use futures_util::StreamExt as _;

    const KEEP_ALIVE_COMMENT: &[u8] = b": keep-alive\n\n";
    const MS: Duration = Duration::from_millis(1);

    fn event(auction: AuctionId, seq: i64) -> Arc<EventBatch> {
        EventBatch::single(auction, seq, Bytes::from(format!("id: {seq}\n\n")))
    }

    /// The next chunk if one is ready now; `Some(None)` when the stream ended.
    fn ready_chunk(body: &mut FeedBody) -> Option<Option<Bytes>> {
        body.next()
            .now_or_never()
            .map(|item| item.map(|chunk| chunk.unwrap_or_else(|never| match never {})))
    }

    #[tokio::test]
    async fn keep_alive_fills_15_s_of_silence_and_stays_out_of_a_busy_stream() -> anyhow::Result<()>
    {
        let path = std::env::temp_dir().join(format!("gavel-sse-{}.db", uuid::Uuid::new_v4()));
        let store: Arc<dyn Store> =
            Arc::new(crate::store::connect(&format!("sqlite://{}", path.display())).await?);
        let hub = Hub::new();
        let auction = uuid::Uuid::new_v4();
        let mailbox = Mailbox::new(8);
        let guard = mailbox.subscribe(&hub, auction);
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        tokio::time::pause();
        let mut body = FeedBody::new(
            store,
            (mailbox, guard),
            (sse_gauge(), None),
            (FeedCursor::new(auction, 0), false),
            VecDeque::new(),
            shutdown_rx,
        );
        assert_eq!(ready_chunk(&mut body), None, "nothing to send yet");

        // Timers have millisecond resolution and round up, hence `+ MS`.
        tokio::time::advance(KEEP_ALIVE + MS).await;
        assert_eq!(
            ready_chunk(&mut body),
            Some(Some(Bytes::from_static(KEEP_ALIVE_COMMENT)))
        );
        assert_eq!(ready_chunk(&mut body), None);

        // An event 5 s later; the next comment is due 15 s after it, not 15 s
        // after the last comment.
        tokio::time::advance(Duration::from_secs(5)).await;
        hub.deliver(event(auction, 1));
        assert_eq!(ready_chunk(&mut body), Some(Some(Bytes::from("id: 1\n\n"))));
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(ready_chunk(&mut body), None, "the event was only 10 s ago");
        tokio::time::advance(Duration::from_secs(5) + MS).await;
        assert_eq!(
            ready_chunk(&mut body),
            Some(Some(Bytes::from_static(KEEP_ALIVE_COMMENT)))
        );

        // Old and repeated events are skipped; shutting down ends the stream.
        hub.deliver(event(auction, 1));
        assert_eq!(ready_chunk(&mut body), None);
        shutdown_tx.send(true)?;
        assert_eq!(ready_chunk(&mut body), Some(None));
        let _ = std::fs::remove_file(path);
        Ok(())
    }
}
