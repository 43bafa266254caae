//! Logging: a `tracing` subscriber, pretty for people or JSON lines for
//! machines, filtered by `RUST_LOG` (default `info`).

use tracing_subscriber::{fmt, EnvFilter};

use crate::config::LogFormat;

/// Installs the global subscriber (once; later calls are ignored).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a person at a terminal, never into a file or a pipe.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    let _ = match format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// What a metric is, for its `# HELP` line and its registration at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    Counter,
    Gauge,
    Histogram,
}

/// One metric of `/metrics`: its name, kind, help text and the label sets
/// it is registered with at start-up (each a list of `(label, value)`;
/// one empty set for an unlabelled metric).
#[derive(Debug, Clone, Copy)]
pub struct MetricInfo {
    pub name: &'static str,
    pub kind: MetricKind,
    pub help: &'static str,
    pub labels: &'static [&'static [(&'static str, &'static str)]],
}

const NO_LABELS: &[&[(&str, &str)]] = &[&[]];

/// The `code` label values of `gavel_bids_decided_total{outcome="rejected"}`:
/// the engine's refusals, the actor's (`banned`, `forbidden`) and the edge's
/// `rate_limited`.
const REJECTION_CODES: &[&[(&str, &str)]] = &[
    &[("outcome", "accepted"), ("code", "ok")],
    &[("outcome", "rejected"), ("code", "below_minimum")],
    &[("outcome", "rejected"), ("code", "auction_not_open")],
    &[("outcome", "rejected"), ("code", "already_leading")],
    &[("outcome", "rejected"), ("code", "buy_now_unavailable")],
    &[("outcome", "rejected"), ("code", "invalid_amount")],
    &[("outcome", "rejected"), ("code", "banned")],
    &[("outcome", "rejected"), ("code", "forbidden")],
    &[("outcome", "rejected"), ("code", "rate_limited")],
    &[("outcome", "unavailable"), ("code", "unavailable")],
];

/// Every metric the server records (docs/operations.md's metrics table).
pub const METRICS: &[MetricInfo] = &[
    MetricInfo {
        name: "gavel_bids_decided_total",
        kind: MetricKind::Counter,
        help: "Bid and buy-now answers by outcome (accepted, rejected, unavailable) and error code",
        labels: REJECTION_CODES,
    },
    MetricInfo {
        name: "gavel_bid_answer_seconds",
        kind: MetricKind::Histogram,
        help: "Seconds from handing a bid to the registry until its answer (HTTP and WebSocket)",
        labels: NO_LABELS,
    },
    MetricInfo {
        name: "gavel_commit_batch_size",
        kind: MetricKind::Histogram,
        help: "Commands (bids, admin actions, close timers) per successful batch",
        labels: NO_LABELS,
    },
    MetricInfo {
        name: "gavel_batch_seconds",
        kind: MetricKind::Histogram,
        help: "Seconds of one successful batch: lookups, deciding and commit",
        labels: NO_LABELS,
    },
    MetricInfo {
        name: "gavel_commit_seconds",
        kind: MetricKind::Histogram,
        help: "Seconds of the commit transaction alone (batches with something to write)",
        labels: NO_LABELS,
    },
    MetricInfo {
        name: "gavel_commit_auctions_per_tx",
        kind: MetricKind::Histogram,
        help: "Auctions whose batches one node-wide pipeline transaction carried",
        labels: NO_LABELS,
    },
    MetricInfo {
        name: "gavel_commit_rows_per_tx",
        kind: MetricKind::Histogram,
        help: "Rows (events, notes, bid answers) one node-wide pipeline transaction wrote",
        labels: NO_LABELS,
    },
    MetricInfo {
        name: "gavel_batch_failures_total",
        kind: MetricKind::Counter,
        help: "Batches whose lookups or commit failed; each answered its commands unavailable",
        labels: NO_LABELS,
    },
    MetricInfo {
        name: "gavel_live_actors",
        kind: MetricKind::Gauge,
        help: "Auction actors running on this node (up when one starts, down when it stops)",
        labels: NO_LABELS,
    },
    MetricInfo {
        name: "gavel_running_actors",
        kind: MetricKind::Gauge,
        help: "The registry's count of running auction actors, set at each scrape",
        labels: NO_LABELS,
    },
    MetricInfo {
        name: "gavel_ws_connections",
        kind: MetricKind::Gauge,
        help: "Open WebSocket connections",
        labels: NO_LABELS,
    },
    MetricInfo {
        name: "gavel_sse_connections",
        kind: MetricKind::Gauge,
        help: "Open Server-Sent Events streams",
        labels: NO_LABELS,
    },
    MetricInfo {
        name: "gavel_sse_ws_subscriptions",
        kind: MetricKind::Gauge,
        help: "Subscriptions to auctions over all WebSockets and SSE streams, set at each scrape",
        labels: NO_LABELS,
    },
    MetricInfo {
        name: "gavel_slow_consumer_disconnects_total",
        kind: MetricKind::Counter,
        help: "Subscriptions dropped because their queue was full or closed",
        labels: NO_LABELS,
    },
    MetricInfo {
        name: "gavel_slow_bodies_total",
        kind: MetricKind::Counter,
        help: "Requests whose body did not arrive within GAVEL_BODY_TIMEOUT_SECS (answered 408, connection closed)",
        labels: NO_LABELS,
    },
    MetricInfo {
        name: "gavel_connections_refused_total",
        kind: MetricKind::Counter,
        help: "TCP connections refused because their address held GAVEL_MAX_CONNECTIONS_PER_IP already",
        labels: NO_LABELS,
    },
    MetricInfo {
        name: "gavel_lease_changes_total",
        kind: MetricKind::Counter,
        help: "Auction ownership leases acquired, lost on renewal or released on a clean stop (Redis only)",
        labels: &[
            &[("change", "acquired")],
            &[("change", "lost")],
            &[("change", "released")],
        ],
    },
    MetricInfo {
        name: "gavel_forward_seconds",
        kind: MetricKind::Histogram,
        help: "Seconds of a command's round trip to the owning node (Redis only)",
        labels: NO_LABELS,
    },
    MetricInfo {
        name: "gavel_publish_failures_total",
        kind: MetricKind::Counter,
        help: "Redis publishes (events, forwarded replies) that failed (Redis only)",
        labels: NO_LABELS,
    },
];

/// Describes every metric of [`METRICS`] to the installed recorder and
/// registers each (with each known label set) at zero, so `/metrics` lists
/// them all with their `# HELP` line from start-up.
pub fn register_metrics() {
    for metric in METRICS {
        match metric.kind {
            MetricKind::Counter => metrics::describe_counter!(metric.name, metric.help),
            MetricKind::Gauge => metrics::describe_gauge!(metric.name, metric.help),
            MetricKind::Histogram => metrics::describe_histogram!(metric.name, metric.help),
        }
        for labels in metric.labels {
            let labels: Vec<metrics::Label> = labels
                .iter()
                .map(|(key, value)| metrics::Label::new(*key, *value))
                .collect();
            match metric.kind {
                MetricKind::Counter => metrics::counter!(metric.name, labels).increment(0),
                MetricKind::Gauge => metrics::gauge!(metric.name, labels).increment(0.0),
                MetricKind::Histogram => {
                    // Registered without a sample: the exporter then shows
                    // its `# HELP`/`# TYPE` lines and zero counts.
                    let _ = metrics::histogram!(metric.name, labels);
                }
            }
        }
    }
}

/// Holds a gauge one higher while alive (an open WebSocket or SSE stream).
#[derive(Debug)]
pub struct GaugeGuard(&'static str);

impl GaugeGuard {
    pub fn new(name: &'static str) -> Self {
        metrics::gauge!(name).increment(1.0);
        Self(name)
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        metrics::gauge!(self.0).decrement(1.0);
    }
}
