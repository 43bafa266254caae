//! [`LoadReport`]: the figures of one run, as a human summary and as one
//! JSON object (`--json`, the last stdout line).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::Context as _;
use hdrhistogram::Histogram;
use serde::Serialize;

/// Everything a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    pub run_prefix: String,
    pub auction_ids: Vec<String>,
    pub bidders: usize,
    pub watchers: usize,
    pub auctions: usize,
    /// Bidders and watchers whose first connection came up.
    pub bidders_connected: usize,
    pub watchers_connected: usize,
    /// `--bid-rate` (0 = flat out).
    pub bid_rate: f64,
    /// Seconds spent registering bidders (setup, not measured).
    pub registration_secs: f64,
    /// Seconds spent opening connections (setup, not measured).
    pub connect_secs: f64,
    /// Seconds of bidding, from the start signal until every bidder stopped.
    pub duration_secs: f64,
    /// Answered bids (bid_result + bid_error).
    pub bids_total: u64,
    /// Bids answered with a bid_result.
    pub accepted_total: u64,
    pub decided_per_sec: f64,
    pub accepted_per_sec: f64,
    /// Send → answer, milliseconds (None: no bid answered).
    pub answer_p50_ms: Option<f64>,
    pub answer_p99_ms: Option<f64>,
    pub answer_max_ms: Option<f64>,
    /// Receipt minus `server_time` at SSE watchers, milliseconds.
    pub delivery_p50_ms: Option<f64>,
    pub delivery_p99_ms: Option<f64>,
    pub delivery_max_ms: Option<f64>,
    /// Live events received by all watchers.
    pub events_total: u64,
    /// Live events received by bidders (over their WebSockets).
    pub bidder_events_total: u64,
    pub events_per_watcher_min: u64,
    pub events_per_watcher_avg: f64,
    pub events_per_watcher_max: u64,
    /// Watchers that had not seen their auction's last seq when stopped.
    pub watchers_behind: usize,
    /// Seq jumps seen by any client (must be 0).
    pub gaps: u64,
    /// Seqs at or below the last one seen (must be 0).
    pub duplicates: u64,
    /// Errors by code: bid_error codes and connection errors.
    pub errors: BTreeMap<String, u64>,
    /// The first detail seen of each error code (human report only).
    #[serde(skip)]
    pub error_details: BTreeMap<String, String>,
}

/// Milliseconds at quantile `q` of a microsecond histogram.
pub fn quantile_ms(histogram: &Histogram<u64>, q: f64) -> Option<f64> {
    (!histogram.is_empty()).then(|| histogram.value_at_quantile(q) as f64 / 1000.0)
}

/// The largest value of a microsecond histogram, in milliseconds.
pub fn max_ms(histogram: &Histogram<u64>) -> Option<f64> {
    (!histogram.is_empty()).then(|| histogram.max() as f64 / 1000.0)
}

fn ms(value: Option<f64>) -> String {
    match value {
        None => "n/a".to_owned(),
        Some(v) if v < 10.0 => format!("{v:.2} ms"),
        Some(v) => format!("{v:.1} ms"),
    }
}

impl LoadReport {
    /// The human summary (several lines, ending in a newline).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "gavel load: {} bidder(s) ({} connected), {} watcher(s) ({} connected), {} auction(s), run {}",
            self.bidders,
            self.bidders_connected,
            self.watchers,
            self.watchers_connected,
            self.auctions,
            self.run_prefix,
        );
        let pacing = if self.bid_rate > 0.0 {
            format!("paced at {} bids/s", self.bid_rate)
        } else {
            "flat out".to_owned()
        };
        let _ = writeln!(
            out,
            "  setup               registration {:.1} s, connecting {:.1} s; bidding {pacing} for {:.2} s",
            self.registration_secs, self.connect_secs, self.duration_secs
        );
        let _ = writeln!(
            out,
            "  decided bids        {:>10}   {:>10.1} /s",
            self.bids_total, self.decided_per_sec
        );
        let _ = writeln!(
            out,
            "  accepted bids       {:>10}   {:>10.1} /s",
            self.accepted_total, self.accepted_per_sec
        );
        let _ = writeln!(
            out,
            "  bid answer latency  p50 {}   p99 {}   max {}",
            ms(self.answer_p50_ms),
            ms(self.answer_p99_ms),
            ms(self.answer_max_ms)
        );
        let _ = writeln!(
            out,
            "  event delivery      p50 {}   p99 {}   max {}   (receipt - server_time, ms resolution)",
            ms(self.delivery_p50_ms),
            ms(self.delivery_p99_ms),
            ms(self.delivery_max_ms)
        );
        let _ = writeln!(
            out,
            "  events per watcher  min {}   avg {:.1}   max {}   (total {}; {} behind at the end; bidders got {})",
            self.events_per_watcher_min,
            self.events_per_watcher_avg,
            self.events_per_watcher_max,
            self.events_total,
            self.watchers_behind,
            self.bidder_events_total,
        );
        let verdict = if self.gaps == 0 && self.duplicates == 0 {
            "ok"
        } else {
            "CONTINUITY BROKEN"
        };
        let _ = writeln!(
            out,
            "  seq continuity      gaps {}   duplicates {}   {verdict}",
            self.gaps, self.duplicates
        );
        if self.errors.is_empty() {
            let _ = writeln!(out, "  errors              none");
        } else {
            let _ = writeln!(out, "  errors by code");
            for (code, count) in &self.errors {
                let detail = self
                    .error_details
                    .get(code)
                    .map(|d| shorten(d, 100))
                    .unwrap_or_default();
                let _ = writeln!(out, "    {code:<24} {count:>10}   e.g. {detail}");
            }
        }
        out
    }

    /// The figures as one line of JSON.
    pub fn to_json(&self) -> anyhow::Result<String> {
        serde_json::to_string(self).context("serializing the report")
    }
}

fn shorten(text: &str, max: usize) -> String {
    let text = text.replace(['\n', '\r'], " ");
    if text.chars().count() <= max {
        text
    } else {
        let cut: String = text.chars().take(max).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> LoadReport {
        LoadReport {
            run_prefix: "abc123".into(),
            auction_ids: vec!["a".into()],
            bidders: 2,
            watchers: 1,
            auctions: 1,
            bidders_connected: 2,
            watchers_connected: 1,
            bid_rate: 0.0,
            registration_secs: 0.1,
            connect_secs: 0.1,
            duration_secs: 1.0,
            bids_total: 10,
            accepted_total: 5,
            decided_per_sec: 10.0,
            accepted_per_sec: 5.0,
            answer_p50_ms: Some(1.0),
            answer_p99_ms: Some(2.0),
            answer_max_ms: Some(3.0),
            delivery_p50_ms: None,
            delivery_p99_ms: None,
            delivery_max_ms: None,
            events_total: 5,
            bidder_events_total: 10,
            events_per_watcher_min: 5,
            events_per_watcher_avg: 5.0,
            events_per_watcher_max: 5,
            watchers_behind: 0,
            gaps: 0,
            duplicates: 0,
            errors: BTreeMap::from([("below_minimum".to_owned(), 5)]),
            error_details: BTreeMap::new(),
        }
    }

    #[test]
    fn json_has_the_documented_keys() -> anyhow::Result<()> {
        let json: serde_json::Value = serde_json::from_str(&report().to_json()?)?;
        for key in [
            "decided_per_sec",
            "accepted_per_sec",
            "answer_p50_ms",
            "answer_p99_ms",
            "answer_max_ms",
            "delivery_p50_ms",
            "delivery_p99_ms",
            "events_per_watcher_min",
            "events_per_watcher_avg",
            "events_per_watcher_max",
            "gaps",
            "duplicates",
            "errors",
            "bids_total",
            "duration_secs",
            "bidders",
            "watchers",
            "auctions",
        ] {
            assert!(json.get(key).is_some(), "missing {key}");
        }
        assert_eq!(json["errors"]["below_minimum"], 5);
        assert!(json.get("error_details").is_none());
        Ok(())
    }

    #[test]
    fn the_human_report_mentions_every_figure() {
        let text = report().render();
        assert!(text.contains("decided bids"));
        assert!(text.contains("below_minimum"));
        assert!(text.contains("gaps 0"));
        assert!(!text.contains("BROKEN"));
    }
}
