//! Figures collected while the load runs, shared by every bidder and
//! watcher task: counters, latency histograms (hdrhistogram, in
//! microseconds, sharded behind mutexes so thousands of tasks can record
//! without one hot lock), errors by code, and one [`WatcherSlot`] per
//! watcher (its event count and last seq, read at the end).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context as _;
use hdrhistogram::Histogram;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::seq::SeqCheck;
use crate::sync::lock;

/// Highest latency a histogram tells apart (larger values count as this).
const HIGHEST_MICROS: u64 = 120_000_000;
/// Histogram shards: enough that two worker threads rarely meet on one.
const SHARDS: usize = 16;

/// A latency histogram in microseconds, split into shards.
pub struct Latencies {
    shards: Vec<Mutex<Histogram<u64>>>,
}

impl Latencies {
    pub fn new() -> anyhow::Result<Self> {
        let shards = (0..SHARDS)
            .map(|_| {
                Histogram::new_with_bounds(1, HIGHEST_MICROS, 3)
                    .map(Mutex::new)
                    .context("creating a latency histogram")
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self { shards })
    }

    /// Records `micros` in the shard of task `key`.
    pub fn record(&self, key: usize, micros: u64) {
        lock(&self.shards[key % SHARDS]).saturating_record(micros.max(1));
    }

    /// All shards added up.
    pub fn merged(&self) -> anyhow::Result<Histogram<u64>> {
        let mut total =
            Histogram::new_with_bounds(1, HIGHEST_MICROS, 3).context("creating a histogram")?;
        for shard in &self.shards {
            total
                .add(&*lock(shard))
                .context("adding latency histograms")?;
        }
        Ok(total)
    }
}

/// What one watcher saw, readable while it runs.
#[derive(Debug, Default)]
pub struct WatcherSlot {
    /// Live events received (snapshots not counted).
    pub events: AtomicU64,
    /// The last seq seen (-1: none yet).
    pub last_seq: AtomicI64,
}

impl WatcherSlot {
    pub fn new() -> Self {
        Self {
            events: AtomicU64::new(0),
            last_seq: AtomicI64::new(-1),
        }
    }
}

/// Everything the tasks record.
pub struct Shared {
    /// Bids answered (bid_result + bid_error).
    pub decided: AtomicU64,
    /// Bids answered with a bid_result.
    pub accepted: AtomicU64,
    /// Live events received by watchers.
    pub watcher_events: AtomicU64,
    /// Live events received by bidders.
    pub bidder_events: AtomicU64,
    pub gaps: AtomicU64,
    pub duplicates: AtomicU64,
    /// Send → answer, per bid.
    pub answers: Latencies,
    /// Receipt minus the event's `server_time`, per watcher event.
    pub delivery: Latencies,
    errors: Mutex<HashMap<String, ErrorCount>>,
    bid_limit: Option<u64>,
    /// Notified once when `bid_limit` answered bids are reached.
    pub limit_reached: Notify,
    /// When the last bidder finished bidding (before closing its socket).
    bidding_done: Mutex<Option<Instant>>,
}

#[derive(Debug, Default)]
struct ErrorCount {
    count: u64,
    first: Option<String>,
}

impl Shared {
    pub fn new(bid_limit: Option<u64>) -> anyhow::Result<Self> {
        Ok(Self {
            decided: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            watcher_events: AtomicU64::new(0),
            bidder_events: AtomicU64::new(0),
            gaps: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            answers: Latencies::new()?,
            delivery: Latencies::new()?,
            errors: Mutex::new(HashMap::new()),
            bid_limit,
            limit_reached: Notify::new(),
            bidding_done: Mutex::new(None),
        })
    }

    /// One answered bid.
    pub fn record_answer(&self, key: usize, latency: Duration, accepted: bool) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.answers.record(key, micros);
        if accepted {
            self.accepted.fetch_add(1, Ordering::Relaxed);
        }
        let decided = self.decided.fetch_add(1, Ordering::Relaxed) + 1;
        if self.bid_limit == Some(decided) {
            self.limit_reached.notify_one();
        }
    }

    /// A bidder is done bidding (its last bid answered or given up on).
    pub fn bidder_done(&self) {
        let now = Instant::now();
        let mut done = lock(&self.bidding_done);
        *done = Some(done.map_or(now, |d| d.max(now)));
    }

    /// When the last bidder that finished normally was done bidding.
    pub fn bidding_done(&self) -> Option<Instant> {
        *lock(&self.bidding_done)
    }

    /// Whether the answered-bid limit is reached.
    pub fn limit_hit(&self) -> bool {
        self.bid_limit
            .is_some_and(|limit| self.decided.load(Ordering::Relaxed) >= limit)
    }

    /// One error of kind `code` (a bid_error code or a connection error).
    pub fn record_error(&self, code: &str, detail: impl FnOnce() -> String) {
        let mut errors = lock(&self.errors);
        let entry = errors.entry(code.to_owned()).or_default();
        entry.count += 1;
        if entry.first.is_none() {
            entry.first = Some(detail());
        }
    }

    /// Counts a continuity problem, if it is one.
    pub fn record_seq(&self, check: SeqCheck) {
        match check {
            SeqCheck::Next => {}
            SeqCheck::Gap(_) => {
                self.gaps.fetch_add(1, Ordering::Relaxed);
            }
            SeqCheck::Duplicate => {
                self.duplicates.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Errors by code, and the first detail seen of each.
    pub fn errors(&self) -> (BTreeMap<String, u64>, BTreeMap<String, String>) {
        let errors = lock(&self.errors);
        let counts = errors.iter().map(|(k, v)| (k.clone(), v.count)).collect();
        let firsts = errors
            .iter()
            .filter_map(|(k, v)| v.first.clone().map(|first| (k.clone(), first)))
            .collect();
        (counts, firsts)
    }

    /// Total errors so far.
    pub fn error_total(&self) -> u64 {
        lock(&self.errors).values().map(|e| e.count).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_add_up() -> anyhow::Result<()> {
        let latencies = Latencies::new()?;
        for key in 0..100 {
            latencies.record(key, 1000);
        }
        latencies.record(7, 0);
        let merged = latencies.merged()?;
        assert_eq!(merged.len(), 101);
        assert_eq!(merged.value_at_quantile(0.5), 1000);
        Ok(())
    }

    #[test]
    fn the_bid_limit_is_noticed() -> anyhow::Result<()> {
        let shared = Shared::new(Some(2))?;
        shared.record_answer(0, Duration::from_millis(1), true);
        assert!(!shared.limit_hit());
        shared.record_answer(1, Duration::from_millis(1), false);
        assert!(shared.limit_hit());
        assert_eq!(shared.accepted.load(Ordering::Relaxed), 1);
        Ok(())
    }

    #[test]
    fn errors_keep_their_first_detail() -> anyhow::Result<()> {
        let shared = Shared::new(None)?;
        shared.record_error("below_minimum", || "first".into());
        shared.record_error("below_minimum", || "second".into());
        let (counts, firsts) = shared.errors();
        assert_eq!(counts.get("below_minimum"), Some(&2));
        assert_eq!(
            firsts.get("below_minimum").map(String::as_str),
            Some("first")
        );
        assert_eq!(shared.error_total(), 2);
        Ok(())
    }
}
