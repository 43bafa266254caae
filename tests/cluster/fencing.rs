//! SIGSTOP of an auction's owner while one of its writes is in flight,
//! past its lease; another node takes over; SIGCONT: the old owner's write
//! is refused by the fence, its client gets `unavailable`, and the retry
//! with the same `request_id` gets the right answer.
//!
//! To make "in flight" certain rather than lucky, the test holds an
//! exclusive lock on `users` while the owner decides a bid: the owner's
//! batch waits in PostgreSQL on its ban lookup (the bidder is new to that
//! node), before its commit, and is frozen there by SIGSTOP. The bids of
//! this dance go over WebSockets opened beforehand, which authenticated
//! when they connected and so need no `users` read of their own. The lock
//! is released once the new owner has claimed the auction, so the new
//! owner commits first, and the old owner's write arrives at a row that
//! has moved on and carries a newer epoch.

use std::time::{Duration, Instant};

use crate::clients::{create_auction, http_bid, register_many, Outcome, WsConn};
use crate::harness::{one_at_a_time, services, Cluster, LEASE_TTL_MS};
use crate::workload::{
    ack_of, assert_live_watchers_match, bid_until_answered, load_db, watch_everywhere,
};

/// The paused owner, the node that takes over, and a bystander.
const OLD: usize = 0;
const NEW: usize = 1;
const OTHER: usize = 2;

async fn lock_waiters(cluster: &Cluster) -> i64 {
    let mut conn = cluster.db().await;
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
         AND wait_event_type = 'Lock' AND query LIKE '%FROM users WHERE banned%'",
    )
    .fetch_one(&mut conn)
    .await
    .expect("read pg_stat_activity")
}

async fn row_epoch(cluster: &Cluster, auction: &str) -> i64 {
    let mut conn = cluster.db().await;
    sqlx::query_scalar("SELECT epoch FROM auctions WHERE id = $1")
        .bind(auction)
        .fetch_one(&mut conn)
        .await
        .expect("read the auction's epoch")
}

async fn eventually(what: &str, timeout: Duration, mut check: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !check().await {
        assert!(
            started.elapsed() < timeout,
            "{what}: not within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_owner_is_fenced_out_after_its_lease_passes() {
    let Some(services) = services("fencing").await else {
        return;
    };
    let _turn = one_at_a_time().await;
    let started = Instant::now();
    let cluster = Cluster::start(&services, "fencing", None).await;
    let targets = cluster.targets();
    let auction = create_auction(&targets, OTHER).await;
    let watchers = watch_everywhere(&targets, &auction).await;
    let users = register_many(&targets, "fence", 5).await;
    let [w, x, y, z, v] = [0, 1, 2, 3, 4].map(|i| users[i].clone());
    let old_id = cluster.node(OLD).id.clone();
    let new_id = cluster.node(NEW).id.clone();
    let mut acks = Vec::new();

    // 1. The old node becomes the owner.
    let (first, _) = bid_until_answered(&targets, OLD, &w, &auction, "w-1", 1000).await;
    acks.push(ack_of(&first, &w, "w-1", OLD));
    assert_eq!(cluster.owner(&auction).await, Some(OLD));
    let old_epoch = row_epoch(&cluster, &auction).await;

    // 2. Its next write gets stuck in storage…
    let mut x_socket = WsConn::connect(targets.addrs[OLD], Some(&x.token))
        .await
        .expect("x's WebSocket");
    let mut y_socket = WsConn::connect(targets.addrs[NEW], Some(&y.token))
        .await
        .expect("y's WebSocket");
    let mut locker = cluster.db().await;
    sqlx::query("BEGIN")
        .execute(&mut locker)
        .await
        .expect("BEGIN");
    sqlx::query("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        .execute(&mut locker)
        .await
        .expect("lock users");
    let stuck = {
        let auction = auction.clone();
        tokio::spawn(async move { x_socket.bid(&auction, "x-1", 5000).await })
    };
    eventually(
        "the old owner's batch waiting on the lock",
        Duration::from_secs(10),
        async || lock_waiters(&cluster).await >= 1,
    )
    .await;

    // 3. …and the old owner is paused past its lease. A second bid reaches
    //    it while paused and waits in its socket.
    cluster.node(OLD).signal("STOP");
    let stopped_at = Instant::now();
    let queued = {
        let (targets, z, auction) = (targets.clone(), z.clone(), auction.clone());
        tokio::spawn(async move { http_bid(&targets, OLD, &z.token, &auction, "z-1", 3000).await })
    };
    let ttl = Duration::from_millis(LEASE_TTL_MS);
    cluster
        .wait_lease(&auction, ttl * 4, |lease| {
            !lease.is_some_and(|l| l.starts_with(&format!("{old_id}|")))
        })
        .await;
    let lease_gone = stopped_at.elapsed();

    // 4. A bid through another node takes over (retrying 503s).
    let takeover = {
        let auction = auction.clone();
        tokio::spawn(async move {
            let mut unavailable = 0;
            loop {
                match y_socket.bid(&auction, "y-1", 2000).await {
                    Outcome::Unavailable if unavailable < 100 => unavailable += 1,
                    answer => return (answer, unavailable),
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let new_lease = cluster
        .wait_lease(&auction, Duration::from_secs(10), |lease| {
            lease.is_some_and(|l| l.starts_with(&format!("{new_id}|")))
        })
        .await
        .expect("the new owner's lease");
    eventually(
        "the new owner claiming the auction row",
        Duration::from_secs(10),
        async || row_epoch(&cluster, &auction).await > old_epoch,
    )
    .await;

    // 5. Storage frees up: the new owner commits while the old one sleeps.
    sqlx::query("COMMIT")
        .execute(&mut locker)
        .await
        .expect("COMMIT");
    let (took_over, retried) = tokio::time::timeout(Duration::from_secs(20), takeover)
        .await
        .expect("the takeover bid is answered")
        .expect("the takeover task");
    acks.push(ack_of(&took_over, &y, "y-1", NEW));
    assert!(
        matches!(took_over, Outcome::Accepted { seq: 2, .. }),
        "{took_over:?}"
    );

    // 6. The old owner resumes: its stuck write is refused by the fence.
    cluster.node(OLD).signal("CONT");
    let resumed_at = Instant::now();
    let refused = tokio::time::timeout(Duration::from_secs(15), stuck)
        .await
        .expect("the stuck bid is answered")
        .expect("the stuck task");
    assert!(
        matches!(refused, Outcome::Unavailable),
        "the old owner's stuck write must be refused with 503 unavailable, got {refused:?}"
    );
    let refused_after = resumed_at.elapsed();
    let queued = tokio::time::timeout(Duration::from_secs(15), queued)
        .await
        .expect("the queued bid is answered")
        .expect("the queued task");
    let queued_after = resumed_at.elapsed();
    assert!(
        !matches!(queued, Outcome::Transport(_)),
        "the queued bid got no answer: {queued:?}"
    );
    assert!(
        queued_after < Duration::from_secs(5),
        "the queued bid took {queued_after:?} after SIGCONT: {queued:?}"
    );
    eventually(
        "the old owner logging the fenced write",
        Duration::from_secs(5),
        async || cluster.node(OLD).logged("write refused by the fence"),
    )
    .await;

    // 7. Retries with the same request_id get the right answers, wherever
    //    they are sent, and always the same one.
    let (x_retry, _) = bid_until_answered(&targets, OLD, &x, &auction, "x-1", 5000).await;
    acks.push(ack_of(&x_retry, &x, "x-1", OLD));
    let (x_again, _) = bid_until_answered(&targets, OTHER, &x, &auction, "x-1", 5000).await;
    assert_eq!(
        format!("{x_again:?}"),
        format!("{x_retry:?}"),
        "a retry gets the first answer"
    );
    let (z_retry, _) = bid_until_answered(&targets, NEW, &z, &auction, "z-1", 3000).await;
    match (&queued, &z_retry) {
        (Outcome::Unavailable, Outcome::Accepted { .. }) => {
            acks.push(ack_of(&z_retry, &z, "z-1", NEW));
        }
        (Outcome::Unavailable, rejected) => {
            assert_eq!(rejected.code(), Some("below_minimum"), "{rejected:?}");
        }
        (first, retry) => {
            assert_eq!(
                format!("{first:?}"),
                format!("{retry:?}"),
                "a retry gets the first answer"
            );
            if let Outcome::Accepted { .. } = first {
                acks.push(ack_of(first, &z, "z-1", OLD));
            }
        }
    }

    // 8. The old node serves the auction again, through the new owner.
    let ask = Instant::now();
    let (later, _) = bid_until_answered(&targets, OLD, &v, &auction, "v-1", 100_000).await;
    let later_took = ask.elapsed();
    acks.push(ack_of(&later, &v, "v-1", OLD));
    assert!(
        later_took < Duration::from_secs(5),
        "a bid through the old owner took {later_took:?}"
    );

    let db = load_db(&mut cluster.db().await, &auction).await;
    db.assert_consistent(&acks);
    let lease_epoch: i64 = new_lease
        .rsplit_once('|')
        .and_then(|(_, epoch)| epoch.parse().ok())
        .expect("an epoch in the lease");
    assert_eq!(cluster.owner(&auction).await, Some(NEW));
    assert_eq!(db.row_epoch, lease_epoch, "the row carries the new epoch");
    assert_live_watchers_match(&watchers, None, &db, Duration::from_secs(10)).await;
    eprintln!(
        "fencing: lease gone {lease_gone:?} after SIGSTOP; takeover bid answered after {retried} \
         503s; stuck write refused {refused_after:?} after SIGCONT; queued bid: {:?} after \
         {queued_after:?}; {} events; {:?} in all",
        queued.code().unwrap_or("accepted"),
        db.last_seq(),
        started.elapsed()
    );
    cluster.finish().await;
}
