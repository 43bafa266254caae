//! `gavel load`: a load generator for a running Gavel server.
//!
//! It logs in as admin, creates auctions, registers bidders, then runs N
//! WebSocket bidders (each bids again as soon as its last bid is answered,
//! or at a total `--bid-rate`) and M SSE watchers for a duration or a bid
//! count, and reports decided/accepted bids per second, bid answer latency,
//! event delivery latency, events per watcher, seq gaps/duplicates and
//! errors by code.
//!
//! - [`args`]: the command line ([`LoadArgs`]);
//! - [`config`]: [`LoadConfig`], what one run needs (also for tests);
//! - [`runner`]: [`run_load`], the phases of a run;
//! - [`setup`]: admin login, auctions and accounts over HTTP;
//! - [`net`]: server address, source-address spreading, WebSocket connect;
//! - [`bidder`] / [`watcher`]: the WebSocket bidder and the SSE watcher;
//! - [`sse_conn`] / [`sse_wire`]: the watcher's bare HTTP/1.1 SSE client;
//! - [`seq`]: seq continuity checks; [`stats`]: counters and histograms;
//! - [`pacer`]: `--bid-rate`; [`ready`]: connect reports; [`progress`]: the bar;
//! - [`report`]: [`LoadReport`], human and JSON.

pub mod args;
pub mod bidder;
pub mod clock;
pub mod config;
pub mod net;
pub mod pacer;
pub mod progress;
pub mod ready;
pub mod report;
pub mod runner;
pub mod seq;
pub mod setup;
pub mod sse_conn;
pub mod sse_wire;
pub mod stats;
pub mod watcher;

use std::time::Duration;

use anyhow::Context as _;

pub use self::args::LoadArgs;
pub use self::config::LoadConfig;
pub use self::report::LoadReport;
pub use self::runner::run_load;

/// Worker threads of the load tool's own runtime.
const WORKER_THREADS: usize = 2;

/// `gavel load`: runs on its own multi-threaded runtime, prints the human
/// report on stdout and, with `--json`, one JSON object as the last line.
pub fn run(args: LoadArgs) -> anyhow::Result<()> {
    let config = args.to_config();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKER_THREADS)
        .thread_name("gavel-load")
        .enable_all()
        .build()
        .context("starting the load tool's runtime")?;
    let report = runtime.block_on(run_load(config))?;
    runtime.shutdown_timeout(Duration::from_secs(2));
    print!("{}", report.render());
    if args.json {
        println!("{}", report.to_json()?);
    }
    Ok(())
}
