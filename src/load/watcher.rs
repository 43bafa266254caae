//! One SSE watcher: `GET /api/v1/auctions/{id}/events` over a bare TCP
//! connection ([`SseConnection`]). It waits for the snapshot
//! (that is "connected"), then counts live events, checks their `seq` for
//! continuity and records delivery latency: receipt time minus the event's
//! `data.server_time` (same host, so the clocks agree; `server_time` has
//! millisecond resolution). A stream the server ends is counted as an error
//! and resumed with `Last-Event-ID`.

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use serde::Deserialize;
use tokio::sync::{watch, Semaphore};
use tokio::time::Instant;

use super::clock::{now_micros, rfc3339_micros};
use super::net::{Target, CONNECT_TIMEOUT};
use super::ready::Ready;
use super::seq::SeqTracker;
use super::sse_conn::SseConnection;
use super::sse_wire::SseEvent;
use super::stats::{Shared, WatcherSlot};

/// Reconnections per watcher before it gives up.
const MAX_RECONNECTS: u32 = 5;

/// Who one watcher is.
#[derive(Debug, Clone)]
pub struct WatcherSpec {
    pub index: usize,
    pub auction_id: String,
    /// The local address this watcher connects from (`None`: the OS's choice).
    pub source: Option<IpAddr>,
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
/// object: the server writes it as the last field, `..."server_time":"…"}`.
fn quick_server_time(json: &str) -> Option<&str> {
    const NEEDLE: &str = "\"server_time\":\"";
    let body = json.strip_suffix("\"}")?;
    let quote = memchr::memrchr(b'"', body.as_bytes())?;
    body[..=quote].ends_with(NEEDLE).then(|| &body[quote + 1..])
}

/// An event's seq (its `id:`, else `data.seq`) and `data.server_time` in
/// microseconds since the epoch. Cheap on the common path: 10,000 watchers
/// receive every event.
fn parse_event(event: &SseEvent) -> Option<(i64, Option<i64>)> {
    if let (Ok(seq), Some(time)) = (
        event.id.trim().parse::<i64>(),
        quick_server_time(&event.data).and_then(rfc3339_micros),
    ) {
        return Some((seq, Some(time)));
    }
    let data: Data = serde_json::from_str(&event.data).ok()?;
    let seq = event.id.trim().parse::<i64>().ok().or(data.seq)?;
    Some((seq, data.server_time.as_deref().and_then(rfc3339_micros)))
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
    async fn open(&self) -> anyhow::Result<SseConnection> {
        let path = format!("/api/v1/auctions/{}/events", self.spec.auction_id);
        tokio::time::timeout(
            CONNECT_TIMEOUT,
            SseConnection::open(
                &self.ctx.target,
                self.spec.source,
                &path,
                self.tracker.last(),
            ),
        )
        .await
        .context("opening the event stream timed out")?
    }

    /// Opens the stream and waits for its snapshot.
    async fn connect_first(&mut self) -> anyhow::Result<SseConnection> {
        let mut events = self.open().await?;
        let deadline = Instant::now() + CONNECT_TIMEOUT;
        while self.tracker.last().is_none() {
            let event = tokio::time::timeout_at(deadline, events.next_event())
                .await
                .context("no snapshot on the event stream")??
                .context("the event stream ended before the snapshot")?;
            self.on_event(&event, now_micros());
        }
        Ok(events)
    }

    /// Reads events until told to stop or the stream breaks.
    async fn follow(
        &mut self,
        events: &mut SseConnection,
        stop: &mut watch::Receiver<bool>,
    ) -> End {
        // Made once: re-registering with the stop channel for every event
        // would cost more than reading the event.
        let stopped = stop.wait_for(|stop| *stop);
        tokio::pin!(stopped);
        loop {
            tokio::select! {
                item = events.next_event() => match item {
                    Ok(Some(event)) => self.on_event(&event, now_micros()),
                    Err(error) => return End::Lost("sse_error", format!("{error:#}")),
                    Ok(None) => return End::Lost("sse_ended", "the server ended the event stream".into()),
                },
                _ = &mut stopped => return End::Stopped,
            }
        }
    }

    /// Counts and checks one event received at `received` (µs since the epoch).
    fn on_event(&mut self, event: &SseEvent, received: i64) {
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
                let micros = u64::try_from(received - sent).unwrap_or(0);
                shared.delivery.record(self.spec.index, micros);
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

    fn event(name: &str, id: &str, data: &str) -> SseEvent {
        SseEvent {
            event: name.into(),
            data: data.into(),
            id: id.into(),
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
        assert_eq!(time.map(|t| t / 1000 % 1000), Some(123), "{time:?}");
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
