//! Redis cut off (a TCP proxy between the nodes and Redis drops every
//! connection and refuses new ones) and restored: bids that need
//! coordination answer 503 `unavailable` promptly, `/readyz` says not
//! ready, watchers stay connected; afterwards bids succeed again, every
//! node is ready, and every watcher catches up to the database's sequence.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::clients::{create_auction, http_bid, register_many, Outcome};
use crate::common::proxy::{Mode, Proxy};
use crate::harness::{one_at_a_time, services, Cluster, LEASE_TTL_MS};
use crate::workload::{
    ack_of, assert_live_watchers_match, bid_until_answered, join_all, load_db, spawn_crowd,
    watch_everywhere, Crowd,
};

/// The longest a bid may take to be refused while Redis is away.
const PROMPT: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cutting_redis_off_refuses_coordination_and_watchers_catch_up() {
    let Some(services) = services("redis_outage").await else {
        return;
    };
    let _turn = one_at_a_time().await;
    let started = Instant::now();
    let redis = reqwest::Url::parse(&services.redis_url).expect("a Redis URL");
    let proxy = Proxy::start(&format!(
        "{}:{}",
        redis.host_str().unwrap_or("127.0.0.1"),
        redis.port().unwrap_or(6379)
    ))
    .await;
    let cluster = Cluster::start(
        &services,
        "outage",
        Some(proxy.url_through(&services.redis_url)),
    )
    .await;
    let targets = cluster.targets();
    let auction = create_auction(&targets, 0).await;
    let watchers = watch_everywhere(&targets, &auction).await;
    // Six bidders for the crowds, and four who bid on their own while
    // Redis is away (none of them can be leading then).
    let mut accounts = register_many(&targets, "cut", 10).await;
    let loners = accounts.split_off(6);

    // Before: bids through every node.
    let crowd = Crowd::new("before", 3, 1000);
    join_all(spawn_crowd(&targets, &crowd, &auction, accounts.clone(), 4)).await;
    let mut acks = crowd.acks();
    let owner = cluster.owner(&auction).await.expect("an owner");
    let others: Vec<usize> = (0..3).filter(|node| *node != owner).collect();
    // Above anything bid so far.
    let floor = crowd.tickets.load(Ordering::SeqCst) + crowd.min_next.load(Ordering::SeqCst);

    // Cut. Within its lease the owner needs no coordination to commit: a
    // bid it accepts now is published nowhere, so the other nodes' watchers
    // can only get it by catching up later.
    proxy.set(Mode::Refuse).await;
    let cut_at = Instant::now();
    let mut refused = Vec::new();
    let bidder = &loners[0];
    let amount = floor + 10_000;
    let at_owner = http_bid(
        &targets,
        owner,
        &bidder.token,
        &auction,
        "cut-owner",
        amount,
    )
    .await;
    match &at_owner {
        Outcome::Accepted { .. } => acks.push(ack_of(&at_owner, bidder, "cut-owner", owner)),
        Outcome::Unavailable => refused.push((bidder.clone(), "cut-owner".to_string(), amount)),
        other => panic!("a bid at the owner just after the cut: {other:?}"),
    }

    // Bids that need coordination: forwarded to the owner, or needing a
    // lease. Each is refused with 503 unavailable, promptly.
    let mut slowest = Duration::ZERO;
    let ask = |node: usize, request_id: String, account: usize| {
        let (targets, auction) = (targets.clone(), auction.clone());
        let account = loners[account].clone();
        let amount = amount + 10_000;
        async move {
            let asked = Instant::now();
            let outcome = http_bid(
                &targets,
                node,
                &account.token,
                &auction,
                &request_id,
                amount,
            )
            .await;
            let took = asked.elapsed();
            assert!(
                matches!(outcome, Outcome::Unavailable),
                "{request_id} at node {node} while Redis is away: expected 503 unavailable, \
                 got {outcome:?}"
            );
            assert!(
                took < PROMPT,
                "{request_id} at node {node} took {took:?} to be refused"
            );
            (account, request_id, amount, took)
        }
    };
    for round in 0..2 {
        for (i, node) in others.iter().enumerate() {
            let (account, request_id, amount, took) =
                ask(*node, format!("cut-{round}-{node}"), 1 + i).await;
            slowest = slowest.max(took);
            refused.push((account, request_id, amount));
        }
    }
    // Past the lease even the owner refuses: its lease cannot be renewed.
    let ttl = Duration::from_millis(LEASE_TTL_MS);
    tokio::time::sleep((ttl + Duration::from_millis(300)).saturating_sub(cut_at.elapsed())).await;
    let (account, request_id, amount, took) = ask(owner, "cut-owner-late".into(), 3).await;
    slowest = slowest.max(took);
    refused.push((account, request_id, amount));

    // Not ready, but the watchers stay connected.
    let mut not_ready_after = Duration::ZERO;
    for node in 0..3 {
        cluster
            .wait_ready(node, false, Duration::from_secs(15))
            .await;
        not_ready_after = not_ready_after.max(cut_at.elapsed());
    }
    for watcher in &watchers {
        let log = watcher.log();
        assert!(
            log.ended.is_none(),
            "{} lost its feed while Redis was away: {log:?}",
            watcher.name
        );
    }
    let outage = cut_at.elapsed();

    // Restore: every node becomes ready again, and every watcher catches up
    // from the store to the database's last event before any new bid.
    proxy.set(Mode::Pass).await;
    let restored_at = Instant::now();
    for node in 0..3 {
        cluster
            .wait_ready(node, true, Duration::from_secs(20))
            .await;
    }
    let ready_after = restored_at.elapsed();
    let db = load_db(&mut cluster.db().await, &auction).await;
    db.assert_consistent(&acks);
    assert_live_watchers_match(&watchers, None, &db, Duration::from_secs(10)).await;

    // Bids succeed again: first the refused requests, retried with their
    // request_id (the right answer now: accepted or below the minimum)…
    for (account, request_id, amount) in &refused {
        let node = 2;
        let (outcome, _) =
            bid_until_answered(&targets, node, account, &auction, request_id, *amount).await;
        match &outcome {
            Outcome::Accepted { .. } => acks.push(ack_of(&outcome, account, request_id, node)),
            other => assert!(
                matches!(other.code(), Some("below_minimum" | "already_leading")),
                "{request_id} retried after the outage: {other:?}"
            ),
        }
    }
    // …then a bid through every node, each above the last…
    for node in 0..3 {
        let account = &accounts[3 + node];
        let request_id = format!("back-{node}");
        let amount = floor + 100_000 * (node as i64 + 1);
        let (outcome, _) =
            bid_until_answered(&targets, node, account, &auction, &request_id, amount).await;
        acks.push(ack_of(&outcome, account, &request_id, node));
    }
    // …and a crowd through all of them.
    let after = Crowd::new("after", 3, floor + 1_000_000);
    join_all(spawn_crowd(&targets, &after, &auction, accounts, 5)).await;
    acks.extend(after.acks());

    let db = load_db(&mut cluster.db().await, &auction).await;
    db.assert_consistent(&acks);
    assert_live_watchers_match(&watchers, None, &db, Duration::from_secs(10)).await;
    eprintln!(
        "redis outage: {outage:?} cut; bid at the owner right after the cut: {}; slowest \
         refusal {slowest:?}; every node not ready within {not_ready_after:?} of the cut; ready \
         again {ready_after:?} after restoring; {} events; {:?} in all",
        at_owner.code().unwrap_or("accepted"),
        db.last_seq(),
        started.elapsed()
    );
    cluster.finish().await;
}
