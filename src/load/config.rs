//! [`LoadConfig`]: everything one load run needs, independent of the command
//! line, so tests can drive [`super::run_load`] directly.

use std::time::Duration;

/// One load run.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Base URL of the server, e.g. `http://127.0.0.1:8080`.
    pub url: String,
    pub admin_user: String,
    pub admin_password: String,
    /// WebSocket bidders.
    pub bidders: usize,
    /// SSE watchers.
    pub watchers: usize,
    /// Auctions created; bidders and watchers are spread round-robin.
    pub auctions: usize,
    /// How long the bidders bid.
    pub duration: Duration,
    /// Stop once this many bids were answered (before `duration` ends).
    pub max_bids: Option<u64>,
    /// Total bids per second over all bidders; 0 = flat out.
    pub bid_rate: f64,
    /// Spread client sockets over 127.0.0.2..=127.0.0.254 when the server is
    /// on IPv4 loopback (avoids exhausting ephemeral ports).
    pub spread_sources: bool,
    /// Where watchers connect, when not `url` (another node).
    pub watch_url: Option<String>,
    /// Whether bidders subscribe to their auction's events (else they learn
    /// the minimum from their answers only).
    pub bidders_watch: bool,
    /// Connections being opened at once.
    pub connect_batch: usize,
    /// Registrations in flight at once.
    pub register_concurrency: usize,
    /// Progress bar and setup notes on stderr.
    pub progress: bool,
}

impl LoadConfig {
    /// A run with the defaults: 10 bidders, 10 watchers, 1 auction, 10 s.
    pub fn new(url: &str, admin_user: &str, admin_password: &str) -> Self {
        Self {
            url: url.to_owned(),
            admin_user: admin_user.to_owned(),
            admin_password: admin_password.to_owned(),
            bidders: 10,
            watchers: 10,
            auctions: 1,
            duration: Duration::from_secs(10),
            max_bids: None,
            bid_rate: 0.0,
            spread_sources: true,
            bidders_watch: false,
            watch_url: None,
            connect_batch: 500,
            register_concurrency: 8,
            progress: false,
        }
    }

    /// Bidders actually run. A paced run without bidders gets one per bid/s
    /// of its rate (4 to 200): a bidder waits for each answer and a leader
    /// waits to be outbid, so under a slow server each bidder manages only
    /// about one bid per second.
    pub fn effective_bidders(&self) -> usize {
        if self.bidders == 0 && self.bid_rate > 0.0 {
            // At most 200 bidders whatever the rate: the cast cannot overflow.
            (self.bid_rate.ceil().min(200.0) as usize).max(4)
        } else {
            self.bidders
        }
    }

    /// Checks the numbers before anything is created on the server.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.auctions >= 1, "--auctions must be at least 1");
        anyhow::ensure!(
            self.bid_rate.is_finite() && self.bid_rate >= 0.0,
            "--bid-rate must be 0 or a positive number"
        );
        anyhow::ensure!(!self.duration.is_zero(), "--duration must be positive");
        anyhow::ensure!(
            self.effective_bidders() + self.watchers > 0,
            "nothing to do: no bidders and no watchers"
        );
        Ok(())
    }
}
