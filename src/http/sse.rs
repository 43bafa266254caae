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
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use chrono::Utc;
use serde::Deserialize;
use tokio::sync::watch;

use super::auctions::load;
use super::feed::FeedCursor;
use super::{ApiError, ApiResult, AppState};
use crate::auction::view::{snapshot_sse, Snapshot};
use crate::cluster::hub::DEFAULT_QUEUE_CAPACITY;
use crate::cluster::{Mailbox, SubscriptionGuard};
use crate::store::Store;

/// A comment line sent when nothing else was, so proxies keep the stream.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    last_event_id: Option<String>,
}

fn parse_last_event_id(text: &str) -> Result<i64, ApiError> {
    text.trim()
        .parse::<i64>()
        .ok()
        .filter(|seq| *seq >= 0)
        .ok_or_else(|| ApiError::bad_request("Last-Event-ID must be a non-negative integer"))
}

struct FeedState {
    store: Arc<dyn Store>,
    mailbox: Mailbox,
    _guard: SubscriptionGuard,
    cursor: FeedCursor,
    queued: VecDeque<Bytes>,
    keep_alive: tokio::time::Interval,
    shutdown: watch::Receiver<bool>,
    /// Whether the replay from the store is still running.
    replaying: bool,
    done: bool,
}

impl FeedState {
    /// The next chunk of the response body, or None when the stream ends.
    async fn next_chunk(&mut self) -> Option<Bytes> {
        loop {
            if let Some(chunk) = self.queued.pop_front() {
                return Some(chunk);
            }
            if self.done {
                return None;
            }
            if self.replaying {
                match self.cursor.replay_page(self.store.as_ref()).await {
                    Ok(page) if page.is_empty() => self.replaying = false,
                    Ok(page) => self.queued.extend(page.iter().map(|e| e.sse.clone())),
                    Err(error) => {
                        tracing::warn!(auction.id = %self.cursor.auction, error = ?error, "SSE replay failed; ending the stream");
                        return None;
                    }
                }
                continue;
            }
            tokio::select! {
                event = self.mailbox.recv() => {
                    let Some(batch) = event else {
                        tracing::info!(auction.id = %self.cursor.auction, "SSE watcher too slow; ending its stream");
                        return None;
                    };
                    match self.cursor.accept(self.store.as_ref(), &batch).await {
                        Ok(events) => self.queued.extend(events.iter().map(|e| e.sse.clone())),
                        Err(error) => {
                            tracing::warn!(auction.id = %self.cursor.auction, error = ?error, "SSE gap fill failed; ending the stream");
                            return None;
                        }
                    }
                }
                _ = self.keep_alive.tick() => return Some(Bytes::from_static(b": keep-alive\n\n")),
                _ = self.shutdown.changed() => {
                    self.done = true;
                }
            }
        }
    }
}

/// Counts open SSE streams while alive.
struct SseGauge;

impl SseGauge {
    fn new() -> Self {
        metrics::gauge!("gavel_sse_connections").increment(1.0);
        Self
    }
}

impl Drop for SseGauge {
    fn drop(&mut self) {
        metrics::gauge!("gavel_sse_connections").decrement(1.0);
    }
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
    let mut keep_alive = tokio::time::interval(KEEP_ALIVE);
    keep_alive.reset();
    let feed = FeedState {
        store: Arc::clone(&state.store),
        mailbox,
        _guard: guard,
        cursor,
        queued,
        keep_alive,
        shutdown: state.shutdown.clone(),
        replaying,
        done: false,
    };
    let open = (SseGauge::new(), slot);
    let body = futures_util::stream::unfold((feed, open), |(mut feed, open)| async move {
        let chunk = feed.next_chunk().await?;
        Some((Ok::<_, Infallible>(chunk), (feed, open)))
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}
