//! Bids through all three nodes at once while watchers on all three nodes
//! listen: one gapless order everywhere, and it is the database's.

use std::time::{Duration, Instant};

use crate::clients::{create_auction, register_many};
use crate::harness::{one_at_a_time, services, Cluster};
use crate::workload::{
    assert_live_watchers_match, join_all, load_db, spawn_crowd, watch_everywhere, Crowd,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bids_through_every_node_reach_every_watcher_in_database_order() {
    let Some(services) = services("fanout").await else {
        return;
    };
    let _turn = one_at_a_time().await;
    let started = Instant::now();
    let cluster = Cluster::start(&services, "fanout", None).await;
    let targets = cluster.targets();
    let auction = create_auction(&targets, 0).await;
    let watchers = watch_everywhere(&targets, &auction).await;
    let accounts = register_many(&targets, "fan", 15).await;

    // 15 bidders, 5 per node (one of them over a WebSocket), all at once.
    let crowd = Crowd::new("fan", 3, 1000);
    let bidding = Instant::now();
    join_all(spawn_crowd(&targets, &crowd, &auction, accounts, 8)).await;
    let bidding = bidding.elapsed();
    let acks = crowd.acks();

    let db = load_db(&mut cluster.db().await, &auction).await;
    db.assert_consistent(&acks);
    assert!(
        db.last_seq() >= 15,
        "too few bids accepted to mean anything: {}",
        crowd.summary()
    );
    for node in 0..3 {
        assert!(
            acks.iter().any(|ack| ack.node == node && !ack.via_ws),
            "no HTTP bid was accepted through node {node}"
        );
    }
    assert!(
        acks.iter().any(|ack| ack.via_ws),
        "no WebSocket bid was accepted"
    );
    assert!(
        cluster.owner(&auction).await.is_some(),
        "nobody holds the lease"
    );
    assert_live_watchers_match(&watchers, None, &db, Duration::from_secs(10)).await;
    eprintln!(
        "fanout: {} events in {bidding:?} ({}); {} watchers agree with the database; {:?} in all",
        db.last_seq(),
        crowd.summary(),
        watchers.len(),
        started.elapsed()
    );
    cluster.finish().await;
}
