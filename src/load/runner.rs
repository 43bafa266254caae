//! [`run_load`]: one whole run, phase by phase.
//!
//! 1. setup over HTTP (admin login, auctions, bidder accounts);
//! 2. open the SSE watchers, then the WebSocket bidders, a batch at a time,
//!    each reporting when its first connection is up (setup, not measured);
//! 3. start signal: bidders bid until `duration` passes or `max_bids`
//!    answers arrived; then they finish the bid in flight and close;
//! 4. watchers get a moment to receive the last events (until each has seen
//!    its auction's final seq, at most a few seconds), then stop;
//! 5. the figures become a [`LoadReport`].
//!
//! Only spawns plain tokio tasks, so it runs on any tokio runtime (the
//! CLI's own, or a test's single-threaded actix system).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::bidder::{run_bidder, BidderCtx, BidderSpec, Phase};
use super::config::LoadConfig;
use super::net::{Sources, Target};
use super::pacer::Pacer;
use super::progress::Progress;
use super::ready::{wait_all, Ready};
use super::report::{max_ms, quantile_ms, LoadReport};
use super::setup::{self, Prepared};
use super::stats::{Shared, WatcherSlot};
use super::watcher::{run_watcher, WatcherCtx, WatcherSpec};

/// Longest wait for watchers to see the last events after bidding stopped.
const CATCH_UP: Duration = Duration::from_secs(5);

/// Runs one load test against a running server and reports its figures.
pub async fn run_load(config: LoadConfig) -> anyhow::Result<LoadReport> {
    config.validate()?;
    let progress = Progress::new(config.progress);
    let result = run_with(&config, &progress).await;
    progress.finish();
    result
}

async fn run_with(config: &LoadConfig, progress: &Progress) -> anyhow::Result<LoadReport> {
    let target = Target::resolve(&config.url).await?;
    let bidders = config.effective_bidders();
    if bidders != config.bidders {
        progress.note(format!(
            "--bid-rate {} with --bidders 0: using {bidders} paced bidders",
            config.bid_rate
        ));
    }
    let sources = Sources::new(&target, config.spread_sources, bidders + config.watchers)?;
    // Bidder i registers and connects from source address watchers + i.
    let prepared = setup::prepare(
        &target,
        config,
        bidders,
        &sources,
        config.watchers,
        progress,
    )
    .await?;
    if sources.len() > 1 {
        progress.note(format!(
            "spreading connections over {} source addresses (127.0.0.2..)",
            sources.len()
        ));
    }
    let shared = Arc::new(Shared::new(config.max_bids)?);
    let permits = Arc::new(Semaphore::new(config.connect_batch.max(1)));
    let connecting = Instant::now();

    // Watchers first: they must be listening before the first bid.
    let slots: Arc<Vec<WatcherSlot>> =
        Arc::new((0..config.watchers).map(|_| WatcherSlot::new()).collect());
    let (stop_watchers, stop_rx) = watch::channel(false);
    let watch_target = match &config.watch_url {
        Some(url) => Target::resolve(url).await?,
        None => target.clone(),
    };
    let watcher_ctx = Arc::new(WatcherCtx {
        target: watch_target,
        shared: Arc::clone(&shared),
        slots: Arc::clone(&slots),
        permits: Arc::clone(&permits),
    });
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel();
    let watcher_tasks: Vec<JoinHandle<()>> = (0..config.watchers)
        .map(|index| {
            let spec = WatcherSpec {
                index,
                auction_id: prepared.auctions[index % prepared.auctions.len()].clone(),
                source: sources.ip(index),
            };
            tokio::spawn(run_watcher(
                spec,
                Arc::clone(&watcher_ctx),
                stop_rx.clone(),
                Ready::new(ready_tx.clone()),
            ))
        })
        .collect();
    drop(ready_tx);
    progress.phase("connecting watchers", config.watchers as u64);
    let watchers_connected =
        wait_all(&mut ready_rx, config.watchers, || progress.bar().inc(1)).await;
    if watchers_connected < config.watchers {
        progress.note(format!(
            "only {watchers_connected} of {} watchers connected",
            config.watchers
        ));
    }

    // Then the bidders.
    let (phase_tx, phase_rx) = watch::channel(Phase::Wait);
    let bidder_ctx = Arc::new(BidderCtx {
        target: target.clone(),
        shared: Arc::clone(&shared),
        pacer: Pacer::new(config.bid_rate),
        paced_amounts: if config.bid_rate > 0.0 {
            prepared
                .auctions
                .iter()
                .map(|_| AtomicI64::new(0))
                .collect()
        } else {
            Vec::new()
        },
        run_prefix: prepared.run_prefix.clone(),
        permits: Arc::clone(&permits),
        watch_events: config.bidders_watch,
    });
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel();
    let bidder_tasks: Vec<JoinHandle<()>> = prepared
        .accounts
        .iter()
        .enumerate()
        .map(|(index, account)| {
            let auction_index = index % prepared.auctions.len();
            let spec = BidderSpec {
                index,
                auction_index,
                auction_id: prepared.auctions[auction_index].clone(),
                token: account.token.clone(),
                source: sources.ip(config.watchers + index),
            };
            tokio::spawn(run_bidder(
                spec,
                Arc::clone(&bidder_ctx),
                phase_rx.clone(),
                Ready::new(ready_tx.clone()),
            ))
        })
        .collect();
    drop(ready_tx);
    drop(phase_rx);
    progress.phase("connecting bidders", bidders as u64);
    let bidders_connected = wait_all(&mut ready_rx, bidders, || progress.bar().inc(1)).await;
    if bidders_connected < bidders {
        progress.note(format!(
            "only {bidders_connected} of {bidders} bidders connected"
        ));
    }
    let connect_time = connecting.elapsed();

    // The measured part.
    progress.run_phase(config.duration);
    let started = Instant::now();
    let _ = phase_tx.send(Phase::Run);
    let ticker = tokio::spawn(tick(Arc::clone(&shared), progress.bar().clone(), started));
    let deadline = started + config.duration;
    if config.max_bids.is_some() && bidders_connected > 0 {
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => {}
            () = shared.limit_reached.notified() => {}
        }
    } else {
        tokio::time::sleep_until(deadline).await;
    }
    let _ = phase_tx.send(Phase::Stop);
    let stopped = Instant::now();
    join_all(bidder_tasks, &shared).await;
    // Bidding ended when the last bid was answered, not when sockets closed.
    let bidding_time = shared
        .bidding_done()
        .map_or(stopped, |done| done.max(stopped))
        - started;
    ticker.abort();

    // Let the watchers see the last events, then stop them.
    progress.bar().set_message("letting watchers catch up");
    let behind = catch_up(&target, &sources, &prepared, &slots).await;
    let _ = stop_watchers.send(true);
    join_all(watcher_tasks, &shared).await;

    build_report(
        config,
        &prepared,
        bidders,
        bidders_connected,
        watchers_connected,
        connect_time,
        bidding_time,
        behind,
        &shared,
        &slots,
    )
}

/// Waits for tasks, counting a panicked one as an error.
async fn join_all(tasks: Vec<JoinHandle<()>>, shared: &Shared) {
    for task in tasks {
        if let Err(error) = task.await {
            shared.record_error("task_failed", || error.to_string());
        }
    }
}

/// Updates the progress bar while bidding.
async fn tick(shared: Arc<Shared>, bar: indicatif::ProgressBar, started: Instant) {
    let mut interval = tokio::time::interval(Duration::from_millis(250));
    loop {
        interval.tick().await;
        let elapsed = started.elapsed();
        let decided = shared.decided.load(Ordering::Relaxed);
        let accepted = shared.accepted.load(Ordering::Relaxed);
        let events = shared.watcher_events.load(Ordering::Relaxed);
        let rate = decided as f64 / elapsed.as_secs_f64().max(0.001);
        bar.set_position(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX));
        bar.set_message(format!(
            "{decided} decided ({rate:.0}/s), {accepted} accepted, {events} watcher events, {} errors",
            shared.error_total()
        ));
    }
}

/// The current seq of every auction (None when it could not be read).
async fn final_seqs(
    target: &Target,
    client: &reqwest::Client,
    auctions: &[String],
) -> Vec<Option<i64>> {
    let mut seqs = Vec::with_capacity(auctions.len());
    for id in auctions {
        let url = target.url(&format!("/api/v1/auctions/{id}"));
        let seq = async {
            let response = client.get(url).send().await.ok()?;
            let body: serde_json::Value = response.json().await.ok()?;
            body["seq"].as_i64()
        };
        seqs.push(
            tokio::time::timeout(Duration::from_secs(5), seq)
                .await
                .ok()
                .flatten(),
        );
    }
    seqs
}

/// Waits (up to [`CATCH_UP`]) until every watcher saw its auction's final
/// seq; returns how many had not.
async fn catch_up(
    target: &Target,
    sources: &Sources,
    prepared: &Prepared,
    slots: &[WatcherSlot],
) -> usize {
    if slots.is_empty() {
        return 0;
    }
    let finals = final_seqs(target, &sources.client(0), &prepared.auctions).await;
    let behind = || {
        slots
            .iter()
            .enumerate()
            .filter(|(index, slot)| {
                let target = finals[index % finals.len()];
                target.is_some_and(|seq| slot.last_seq.load(Ordering::Relaxed) < seq)
            })
            .count()
    };
    let deadline = Instant::now() + CATCH_UP;
    loop {
        let count = behind();
        if count == 0 || Instant::now() >= deadline {
            return count;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[allow(clippy::too_many_arguments)]
fn build_report(
    config: &LoadConfig,
    prepared: &Prepared,
    bidders: usize,
    bidders_connected: usize,
    watchers_connected: usize,
    connect_time: Duration,
    bidding_time: Duration,
    watchers_behind: usize,
    shared: &Shared,
    slots: &[WatcherSlot],
) -> anyhow::Result<LoadReport> {
    let answers = shared
        .answers
        .merged()
        .context("merging answer latencies")?;
    let delivery = shared
        .delivery
        .merged()
        .context("merging delivery latencies")?;
    let per_watcher: Vec<u64> = slots
        .iter()
        .map(|slot| slot.events.load(Ordering::Relaxed))
        .collect();
    let events_total: u64 = per_watcher.iter().sum();
    let secs = bidding_time.as_secs_f64().max(1e-9);
    let bids_total = shared.decided.load(Ordering::Relaxed);
    let accepted_total = shared.accepted.load(Ordering::Relaxed);
    let (errors, error_details) = shared.errors();
    Ok(LoadReport {
        run_prefix: prepared.run_prefix.clone(),
        auction_ids: prepared.auctions.clone(),
        bidders,
        watchers: config.watchers,
        auctions: prepared.auctions.len(),
        bidders_connected,
        watchers_connected,
        bid_rate: config.bid_rate,
        registration_secs: prepared.registration.as_secs_f64(),
        connect_secs: connect_time.as_secs_f64(),
        duration_secs: bidding_time.as_secs_f64(),
        bids_total,
        accepted_total,
        decided_per_sec: bids_total as f64 / secs,
        accepted_per_sec: accepted_total as f64 / secs,
        answer_p50_ms: quantile_ms(&answers, 0.5),
        answer_p99_ms: quantile_ms(&answers, 0.99),
        answer_max_ms: max_ms(&answers),
        delivery_p50_ms: quantile_ms(&delivery, 0.5),
        delivery_p99_ms: quantile_ms(&delivery, 0.99),
        delivery_max_ms: max_ms(&delivery),
        events_total,
        bidder_events_total: shared.bidder_events.load(Ordering::Relaxed),
        events_per_watcher_min: per_watcher.iter().copied().min().unwrap_or(0),
        events_per_watcher_avg: if per_watcher.is_empty() {
            0.0
        } else {
            events_total as f64 / per_watcher.len() as f64
        },
        events_per_watcher_max: per_watcher.iter().copied().max().unwrap_or(0),
        watchers_behind,
        gaps: shared.gaps.load(Ordering::Relaxed),
        duplicates: shared.duplicates.load(Ordering::Relaxed),
        errors,
        error_details,
    })
}
