//! SIGKILL of an auction's owner in the middle of a bidding crowd: nothing
//! acknowledged is lost, nothing is placed twice, and the survivors take
//! over once the dead owner's lease expires.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::clients::{create_auction, register_many};
use crate::harness::{one_at_a_time, services, Cluster, LEASE_TTL_MS};
use crate::workload::{
    assert_live_watchers_match, assert_watcher_prefix, join_all, load_db, spawn_crowd,
    watch_everywhere, Crowd,
};

/// Polls until `done` says so, or fails with `what`.
async fn wait_until(what: &str, timeout: Duration, done: impl Fn() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < timeout,
            "{what}: not within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_owner_loses_no_acknowledged_bid_and_survivors_carry_on() {
    let Some(services) = services("failover").await else {
        return;
    };
    let _turn = one_at_a_time().await;
    let started = Instant::now();
    let mut cluster = Cluster::start(&services, "failover", None).await;
    let targets = cluster.targets();
    let auction = create_auction(&targets, 0).await;
    let watchers = watch_everywhere(&targets, &auction).await;
    let accounts = register_many(&targets, "kill", 15).await;

    let crowd = Crowd::new("kill", 3, 1000);
    let bidders = spawn_crowd(&targets, &crowd, &auction, accounts, 10_000);
    wait_until("15 accepted bids", Duration::from_secs(30), || {
        crowd.acks().len() >= 15
    })
    .await;

    // Kill whoever holds the lease, in the middle of the crowd.
    let lease = cluster.lease(&auction).await.expect("a lease");
    let owner = cluster.owner(&auction).await.expect("an owner");
    crowd.alive[owner].store(false, Ordering::SeqCst);
    cluster.nodes[owner].kill();
    let killed_at = Instant::now();
    let dead = cluster.node(owner).id.clone();
    // (A commit the dead node had already sent may still land.)
    tokio::time::sleep(Duration::from_millis(200)).await;
    let seq_at_kill = load_db(&mut cluster.db().await, &auction).await.last_seq();

    // The auction goes on at the survivors.
    wait_until(
        "the first bid accepted after the kill",
        Duration::from_secs(30),
        || crowd.acks().iter().any(|ack| ack.seq > seq_at_kill),
    )
    .await;
    let first_after_kill = killed_at.elapsed();
    wait_until(
        "15 more accepted bids after the kill",
        Duration::from_secs(30),
        || {
            crowd
                .acks()
                .iter()
                .filter(|ack| ack.seq > seq_at_kill)
                .count()
                >= 15
        },
    )
    .await;
    crowd.stop.store(true, Ordering::SeqCst);
    join_all(bidders).await;
    let acks = crowd.acks();

    let new_lease = cluster.lease(&auction).await;
    let new_owner = cluster.owner(&auction).await;
    assert!(
        new_owner.is_some_and(|node| node != owner),
        "the lease should be a survivor's after {dead} died: {lease} then {new_lease:?}"
    );
    for ack in acks.iter().filter(|ack| ack.seq > seq_at_kill) {
        assert_ne!(ack.node, owner, "the dead node answered {ack:?}");
    }

    let db = load_db(&mut cluster.db().await, &auction).await;
    db.assert_consistent(&acks);
    let new_epoch: i64 = new_lease
        .as_deref()
        .and_then(|lease| lease.rsplit_once('|'))
        .and_then(|(_, epoch)| epoch.parse().ok())
        .expect("an epoch in the lease");
    assert_eq!(
        db.row_epoch, new_epoch,
        "the auction row should carry the new owner's fencing epoch"
    );
    for watcher in watchers.iter().filter(|w| w.node == owner) {
        assert_watcher_prefix(watcher, &db);
    }
    assert_live_watchers_match(&watchers, Some(owner), &db, Duration::from_secs(10)).await;
    eprintln!(
        "failover: killed {dead} at seq {seq_at_kill}; first bid accepted {first_after_kill:?} \
         later (lease TTL {LEASE_TTL_MS} ms); {} events; {}; {:?} in all",
        db.last_seq(),
        crowd.summary(),
        started.elapsed()
    );
    cluster.finish().await;
}
