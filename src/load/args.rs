//! The command line of `gavel load` ([`LoadArgs`]) and how it becomes a
//! [`LoadConfig`]. Also owns the parsing of human durations (`30s`, `2m`).

use std::time::Duration;

use clap::Args;

use super::config::LoadConfig;

/// Drive a running server with WebSocket bidders and SSE watchers, then
/// report throughput, latencies, sequence continuity and errors.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// Base URL of the running server (plain http).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Admin user that creates the auctions.
    #[arg(long, env = "GAVEL_ADMIN_USER")]
    pub admin_user: String,
    /// Password of the admin user.
    #[arg(long, env = "GAVEL_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: String,
    /// WebSocket bidders (each a freshly registered account).
    #[arg(long, default_value_t = 10)]
    pub bidders: usize,
    /// SSE watchers.
    #[arg(long, default_value_t = 10)]
    pub watchers: usize,
    /// How long to bid, e.g. `30s`, `500ms`, `2m` (a bare number is seconds).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Stop after this many answered bids (whichever comes first with --duration).
    #[arg(long)]
    pub bids: Option<u64>,
    /// Auctions to create; bidders and watchers are spread over them.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub auctions: u32,
    /// Total bids per second over all bidders; 0 = as fast as answers come.
    /// With `--bidders 0` and a rate, one paced bidder per bid/s is used (4 to 200).
    #[arg(long, default_value_t = 0.0)]
    pub bid_rate: f64,
    /// Where the SSE watchers connect (default: --url), e.g. another node of
    /// a cluster, to measure cross-node delivery.
    #[arg(long)]
    pub watch_url: Option<String>,
    /// Bidders also subscribe to their auction's events. Off by default: at
    /// thousands of bids per second every bidder would receive every event,
    /// and the run would measure fan-out to bidders instead of bidding.
    #[arg(long)]
    pub bidders_watch: bool,
    /// Also print one JSON object with the figures as the last stdout line.
    #[arg(long)]
    pub json: bool,
    /// Do not spread client sockets over 127.0.0.2..=127.0.0.254 (loopback only).
    #[arg(long)]
    pub no_spread: bool,
    /// Connections opened at a time while connecting.
    #[arg(long, default_value_t = 500)]
    pub connect_batch: usize,
    /// Registrations in flight at a time (password hashing is slow).
    #[arg(long, default_value_t = 8)]
    pub register_concurrency: usize,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

impl LoadArgs {
    /// The run this command line asks for.
    pub fn to_config(&self) -> LoadConfig {
        let mut config = LoadConfig::new(&self.url, &self.admin_user, &self.admin_password);
        config.bidders = self.bidders;
        config.watchers = self.watchers;
        config.duration = self.duration;
        config.max_bids = self.bids;
        config.auctions = self.auctions as usize;
        config.bid_rate = self.bid_rate;
        config.spread_sources = !self.no_spread;
        config.bidders_watch = self.bidders_watch;
        config.watch_url = self.watch_url.clone();
        config.connect_batch = self.connect_batch.max(1);
        config.register_concurrency = self.register_concurrency.max(1);
        config.progress = !self.quiet;
        config
    }
}

/// Parses `250ms`, `30s`, `2m`, `1h`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("not a duration: {text:?} (try 30s, 500ms, 2m)"))?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => return Err(format!("unknown duration unit {other:?} (ms, s, m, h)")),
    };
    if !seconds.is_finite() || seconds <= 0.0 || seconds > 7.0 * 86_400.0 {
        return Err(format!("duration out of range: {text:?}"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
    }

    #[test]
    fn bad_durations_are_errors() {
        for text in ["", "s", "0s", "-1s", "3 fortnights", "1x"] {
            assert!(parse_duration(text).is_err(), "{text}");
        }
    }
}
