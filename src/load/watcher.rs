//! One SSE watcher: `GET /api/v1/auctions/{id}/events` parsed with
//! eventsource-stream over reqwest's byte stream. It waits for the snapshot
//! (that is "connected"), then counts live events, checks their `seq` for
//! continuity and records delivery latency: receipt time minus the event's
//! `data.server_time` (same host, so the clocks agree; `server_time` has
//! millisecond resolution). A stream the server ends is counted as an error
//! and resumed with `Last-Event-ID`.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use eventsource_stream::{Event, EventStreamError, Eventsource as _};
use futures_util::stream::BoxStream;
use futures_util::StreamExt as _;
use serde::Deserialize;
use tokio::sync::{watch, Semaphore};
use tokio::time::Instant;

use super::net::{Target, CONNECT_TIMEOUT};
use super::ready::Ready;
use super::seq::SeqTracker;
use super::stats::{Shared, WatcherSlot};

/// Reconnections per watcher before it gives up.
const MAX_RECONNECTS: u32 = 5;

type Events = BoxStream<'static, Result<Event, EventStreamError<reqwest::Error>>>;

/// Who one watcher is.
#[derive(Debug, Clone)]
pub struct WatcherSpec {
    pub index: usize,
    pub auction_id: String,
    /// The HTTP client of this watcher's source address.
    pub client: reqwest::Client,
}

/// What all watchers share.
pub struct WatcherCtx {
    pub target: Target,
    pub shared: Arc<Shared>,
    pub slots: Arc<Vec<WatcherSlot>>,
    /// Limits how many connections are being opened at once.
    pub permits: Arc<Semaphore>,
}

/// The fields of an SSE `data:` line the watcher needs.
#[derive(Debug, Deserialize)]
struct Data {
    seq: Option<i64>,
    server_time: Option<String>,
}

/// `data.server_time` in compact JSON, found without parsing the whole
/// object (the server writes it as the last field).
fn quick_server_time(json: &str) -> Option<&str> {
    const NEEDLE: &str = "\"server_time\":\"";
    let start = json.rfind(NEEDLE)? + NEEDLE.len();
    let rest = &json[start..];
    rest.find('"').map(|end| &rest[..end])
}

/// An event's seq (its `id:`, else `data.seq`) and `data.server_time`.
/// Cheap on the common path: 10,000 watchers receive every event.
fn parse_event(event: &Event) -> Option<(i64, Option<DateTime<Utc>>)> {
    let parse_time = |text: &str| {
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    };
    if let (Ok(seq), Some(time)) = (
        event.id.trim().parse::<i64>(),
        quick_server_time(&event.data).and_then(parse_time),
    ) {
        return Some((seq, Some(time)));
    }
    let data: Data = serde_json::from_str(&event.data).ok()?;
    let seq = event.id.trim().parse::<i64>().ok().or(data.seq)?;
    Some((seq, data.server_time.as_deref().and_then(parse_time)))
}

enum End {
    Stopped,
    Lost(&'static str, String),
}

struct Watcher {
    spec: WatcherSpec,
    ctx: Arc<WatcherCtx>,
    tracker: SeqTracker,
}

/// Runs one watcher until `stop` turns true (or it cannot connect).
pub async fn run_watcher(
    spec: WatcherSpec,
    ctx: Arc<WatcherCtx>,
    mut stop: watch::Receiver<bool>,
    mut ready: Ready,
) {
    let shared = Arc::clone(&ctx.shared);
    let mut watcher = Watcher {
        spec,
        ctx,
        tracker: SeqTracker::default(),
    };
    let first = {
        let permits = Arc::clone(&watcher.ctx.permits);
        let Ok(_permit) = permits.acquire().await else {
            return;
        };
        watcher.connect_first().await
    };
    let mut events = match first {
        Ok(events) => events,
        Err(error) => {
            shared.record_error("sse_connect", || format!("{error:#}"));
            return;
        }
    };
    ready.ok();
    let mut attempts = 0;
    loop {
        let (code, detail) = match watcher.follow(&mut events, &mut stop).await {
            End::Stopped => return,
            End::Lost(code, detail) => (code, detail),
        };
        shared.record_error(code, || detail);
        loop {
            if *stop.borrow() || attempts >= MAX_RECONNECTS {
                return;
            }
            attempts += 1;
            tokio::time::sleep(Duration::from_millis(100) * attempts).await;
            match watcher.open().await {
                Ok(new) => {
                    events = new;
                    break;
                }
                Err(error) => shared.record_error("sse_connect", || format!("{error:#}")),
            }
        }
    }
}

impl Watcher {
    fn slot(&self) -> &WatcherSlot {
        &self.ctx.slots[self.spec.index]
    }

    /// Opens the stream, resuming after the last seq seen, if any.
    async fn open(&self) -> anyhow::Result<Events> {
        let url = self
            .ctx
            .target
            .url(&format!("/api/v1/auctions/{}/events", self.spec.auction_id));
        let mut request = self.spec.client.get(url);
        if let Some(seq) = self.tracker.last() {
            request = request.header("Last-Event-ID", seq.to_string());
        }
        let response = tokio::time::timeout(CONNECT_TIMEOUT, request.send())
            .await
            .context("opening the event stream timed out")?
            .context("opening the event stream")?;
        let status = response.status();
        anyhow::ensure!(
            status == reqwest::StatusCode::OK,
            "the event stream answered HTTP {status}"
        );
        Ok(response.bytes_stream().eventsource().boxed())
    }

    /// Opens the stream and waits for its snapshot.
    async fn connect_first(&mut self) -> anyhow::Result<Events> {
        let mut events = self.open().await?;
        let deadline = Instant::now() + CONNECT_TIMEOUT;
        while self.tracker.last().is_none() {
            let event = tokio::time::timeout_at(deadline, events.next())
                .await
                .context("no snapshot on the event stream")?
                .context("the event stream ended before the snapshot")?
                .context("reading the event stream")?;
            self.on_event(&event, Utc::now());
        }
        Ok(events)
    }

    /// Reads events until told to stop or the stream breaks.
    async fn follow(&mut self, events: &mut Events, stop: &mut watch::Receiver<bool>) -> End {
        loop {
            if *stop.borrow_and_update() {
                return End::Stopped;
            }
            tokio::select! {
                item = events.next() => match item {
                    Some(Ok(event)) => self.on_event(&event, Utc::now()),
                    Some(Err(error)) => return End::Lost("sse_error", error.to_string()),
                    None => return End::Lost("sse_ended", "the server ended the event stream".into()),
                },
                changed = stop.changed() => {
                    if changed.is_err() {
                        return End::Stopped;
                    }
                }
            }
        }
    }

    fn on_event(&mut self, event: &Event, received: DateTime<Utc>) {
        let shared = &self.ctx.shared;
        let Some((seq, server_time)) = parse_event(event) else {
            shared.record_error("bad_sse_data", || format!("{event:?}"));
            return;
        };
        if event.event == "snapshot" {
            shared.record_seq(self.tracker.snapshot(seq));
        } else {
            shared.record_seq(self.tracker.event(seq));
            shared.watcher_events.fetch_add(1, Ordering::Relaxed);
            self.slot().events.fetch_add(1, Ordering::Relaxed);
            if let Some(sent) = server_time {
                let micros = (received - sent).num_microseconds().unwrap_or(0).max(0);
                shared
                    .delivery
                    .record(self.spec.index, u64::try_from(micros).unwrap_or(0));
            }
        }
        if let Some(last) = self.tracker.last() {
            self.slot().last_seq.store(last, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str, id: &str, data: &str) -> Event {
        Event {
            event: name.into(),
            data: data.into(),
            id: id.into(),
            retry: None,
        }
    }

    #[test]
    fn events_parse_quickly_and_fully() {
        let quick = event(
            "bid",
            "7",
            r#"{"seq":7,"leader":"bidder-abcdef","server_time":"2026-11-27T20:31:38.123Z"}"#,
        );
        let (seq, time) = parse_event(&quick).expect("parses");
        assert_eq!(seq, 7);
        assert_eq!(
            time.map(|t| t.timestamp_millis() % 1000),
            Some(123),
            "{time:?}"
        );
        let spaced = event(
            "bid",
            "",
            r#"{ "seq": 8, "server_time": "2026-11-27T20:31:38.123Z" }"#,
        );
        let (seq, time) = parse_event(&spaced).expect("parses");
        assert_eq!(seq, 8);
        assert!(time.is_some());
        assert!(parse_event(&event("bid", "", "not json")).is_none());
    }
}
