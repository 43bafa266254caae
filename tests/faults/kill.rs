//! SIGKILL during concurrent bidding, then a restart on the same database.
//!
//! Sixteen bidders bid as fast as they can against the real binary; once a
//! good number of bids are acknowledged the process is SIGKILLed mid-flight.
//! After a restart: every acknowledged bid is in the history at its seq and
//! amount, seqs are gapless, no request was placed twice, and every request
//! that got no answer is, on retry, either answered with its stored first
//! answer (it was committed before the kill) or decided now, exactly once.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;

use crate::ledger::{check_history, Ledger};
use crate::process::GavelProcess;
use crate::support::{min_next_bid_of, next_amount, Api, Attempt, Bidder, PgDatabase, TempDir};

const BIDDERS: usize = 16;
/// Kill once this many bids were acknowledged (or after KILL_AFTER).
const ACKS_BEFORE_KILL: usize = 60;
const KILL_AFTER: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_concurrent_bidding_on_sqlite() {
    let dir = TempDir::new("gavel-faults-kill");
    let url = format!("sqlite://{}", dir.0.join("gavel.db").display());
    sigkill_during_concurrent_bidding(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_concurrent_bidding_on_postgres() {
    let Some(db) = PgDatabase::create("sigkill_during_concurrent_bidding_on_postgres").await else {
        return;
    };
    sigkill_during_concurrent_bidding(&db.url).await;
}

/// One bidder: bids the lowest winning amount it knows of, again and
/// again, until told to stop or the server stops answering.
async fn keep_bidding(
    api: Api,
    auction: String,
    index: usize,
    bidder: Bidder,
    floor: Arc<AtomicI64>,
    acked: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
) -> Vec<Attempt> {
    let mut attempts = Vec::new();
    let mut round = 0u64;
    while !stop.load(Ordering::SeqCst) {
        round += 1;
        let amount = next_amount(floor.load(Ordering::SeqCst), index, round);
        let request_id = format!("{}-r{round}", bidder.username);
        let started = Instant::now();
        let answer = api.bid(&bidder.token, &auction, &request_id, amount).await;
        if let Some(min) = min_next_bid_of(&answer) {
            floor.fetch_max(min, Ordering::SeqCst);
        }
        let lost = answer.is_err();
        let attempt = Attempt {
            bidder: index,
            user_id: bidder.id.clone(),
            request_id,
            amount,
            answer,
            took: started.elapsed(),
        };
        if attempt.acked_seq().is_some() {
            acked.fetch_add(1, Ordering::SeqCst);
        }
        attempts.push(attempt);
        if lost {
            break; // the server is gone
        }
    }
    attempts
}

async fn sigkill_during_concurrent_bidding(url: &str) {
    let mut server = GavelProcess::start(url).await;
    let api = server.api.clone();
    let admin = api.admin_token().await;
    let auction = api.auction(&admin).await;
    let bidders = api.bidders("victim", BIDDERS).await;

    let floor = Arc::new(AtomicI64::new(1000));
    let acked = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = bidders
        .iter()
        .enumerate()
        .map(|(index, bidder)| {
            tokio::spawn(keep_bidding(
                api.clone(),
                auction.clone(),
                index,
                bidder.clone(),
                Arc::clone(&floor),
                Arc::clone(&acked),
                Arc::clone(&stop),
            ))
        })
        .collect();

    let started = Instant::now();
    while acked.load(Ordering::SeqCst) < ACKS_BEFORE_KILL && started.elapsed() < KILL_AFTER {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // A little jitter so the kill lands at a different point of a batch each run.
    let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0] % 20);
    tokio::time::sleep(Duration::from_millis(jitter)).await;
    server.kill().await;
    let killed_at = acked.load(Ordering::SeqCst);
    let attempts: Vec<Attempt> = join_all(tasks)
        .await
        .into_iter()
        .flat_map(|result| result.expect("a bidder task"))
        .collect();
    stop.store(true, Ordering::SeqCst);
    let acknowledged: Vec<&Attempt> = attempts
        .iter()
        .filter(|a| a.acked_seq().is_some())
        .collect();
    let lost: Vec<&Attempt> = attempts.iter().filter(|a| a.answer.is_err()).collect();
    for attempt in &attempts {
        if let Ok((status, body)) = &attempt.answer {
            assert!(
                matches!(status.as_u16(), 200 | 409 | 422),
                "only accepted bids and race rejections before the kill: {status} {body}"
            );
        }
    }
    assert!(
        acknowledged.len() >= 20,
        "too few bids acknowledged before the kill to test anything: {}",
        acknowledged.len()
    );
    assert!(!lost.is_empty(), "the kill should cut off bids in flight");

    // Restart on the same database.
    let server = GavelProcess::start(url).await;
    let api = server.api.clone();
    let before = Ledger::read(url, &auction).await;
    before.check();
    let checked = before.check_acknowledged(&attempts);
    assert_eq!(checked, acknowledged.len());
    check_history(&api, &auction, &attempts).await;

    // Retry every request that got no answer, twice: a request committed
    // before the kill gets its stored first answer; one that was not is
    // decided now, and its second retry gets the same answer.
    let mut committed_unacked = 0;
    let mut decided_on_retry = 0;
    let mut retried = Vec::new();
    for attempt in &lost {
        let bidder = &bidders[attempt.bidder];
        let first = api
            .bid(&bidder.token, &auction, &attempt.request_id, attempt.amount)
            .await
            .expect("the restarted server answers");
        let second = api
            .bid(&bidder.token, &auction, &attempt.request_id, attempt.amount)
            .await
            .expect("the restarted server answers");
        assert_eq!(first, second, "a retried request is decided once");
        let key = (attempt.user_id.clone(), attempt.request_id.clone());
        match before.answers.get(&key) {
            Some((status, body)) => {
                committed_unacked += 1;
                assert_eq!(i64::from(first.0.as_u16()), *status, "{}", first.1);
                assert_eq!(&first.1, body, "the stored first answer, unchanged");
            }
            None => {
                decided_on_retry += 1;
                assert!(
                    matches!(first.0.as_u16(), 200 | 409 | 422),
                    "a fresh decision: {} {}",
                    first.0,
                    first.1
                );
            }
        }
        retried.push(Attempt {
            answer: Ok(first),
            ..(*attempt).clone()
        });
    }
    // Acknowledged requests, retried, answer exactly as they did.
    for attempt in acknowledged.iter().take(20) {
        let bidder = &bidders[attempt.bidder];
        let again = api
            .bid(&bidder.token, &auction, &attempt.request_id, attempt.amount)
            .await
            .expect("the restarted server answers");
        assert_eq!(
            Ok(&again),
            attempt.answer.as_ref(),
            "{}",
            attempt.request_id
        );
    }

    let after = Ledger::read(url, &auction).await;
    after.check();
    after.check_acknowledged(&attempts);
    after.check_acknowledged(&retried);
    check_history(&api, &auction, &attempts).await;
    assert!(server.panics().is_empty(), "{:?}", server.panics());
    eprintln!(
        "SIGKILL on {}: {} bids sent, {} acknowledged ({} when the kill was sent), {} cut off: \
         {} had committed (retry got the stored answer), {} decided on retry; {} events before \
         the retries, {} after",
        url.split(':').next().unwrap_or("?"),
        attempts.len(),
        acknowledged.len(),
        killed_at,
        lost.len(),
        committed_unacked,
        decided_on_retry,
        before.events.len(),
        after.events.len(),
    );
}
