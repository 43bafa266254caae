//! A ban or a logout made on one node reaches the sockets on every other
//! node within 100 ms: the banned bidder's next bid there is answered
//! `banned`, the logged-out session's `unauthenticated`, while another
//! bidder's socket on the same node keeps bidding.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::clients::{create_auction, login, register_many, Outcome, WsConn};
use crate::harness::{one_at_a_time, services, Cluster, ADMIN_PASSWORD, ADMIN_USER};

/// How soon another node must enforce the change.
const WITHIN: Duration = Duration::from_millis(100);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ban_or_a_logout_on_one_node_reaches_sockets_on_the_others_within_100_ms() {
    let Some(services) = services("identity").await else {
        return;
    };
    let _turn = one_at_a_time().await;
    let cluster = Cluster::start(&services, "identity", None).await;
    let targets = cluster.targets();
    let auction = create_auction(&targets, 0).await;
    let accounts = register_many(&targets, "idn", 3).await;
    let (banned, leaving, staying) = (&accounts[0], &accounts[1], &accounts[2]);

    // Each bidder holds a socket on node 2; the changes are made on node 0.
    let mut banned_ws = WsConn::connect(targets.addrs[2], Some(&banned.token))
        .await
        .expect("socket");
    let mut leaving_ws = WsConn::connect(targets.addrs[2], Some(&leaving.token))
        .await
        .expect("socket");
    let mut staying_ws = WsConn::connect(targets.addrs[2], Some(&staying.token))
        .await
        .expect("socket");
    let mut amount = 1000;
    for (ws, name) in [
        (&mut staying_ws, "staying"),
        (&mut banned_ws, "banned"),
        (&mut leaving_ws, "leaving"),
    ] {
        let outcome = ws.bid(&auction, &format!("{name}-before"), amount).await;
        assert!(
            matches!(outcome, Outcome::Accepted { .. }),
            "{name} bids before: {outcome:?}"
        );
        amount += 100;
    }

    // The ban, on node 0.
    let admin = login(&targets, 0, ADMIN_USER, ADMIN_PASSWORD).await;
    let response = targets
        .http
        .post(targets.url(0, &format!("/api/v1/admin/users/{}/ban", banned.id)))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("ban");
    assert_eq!(response.status().as_u16(), 200);
    let banned_at = Instant::now();
    tokio::time::sleep(WITHIN.saturating_sub(banned_at.elapsed())).await;
    let outcome = banned_ws.bid(&auction, "banned-after", amount + 1000).await;
    assert_eq!(
        outcome.code(),
        Some("banned"),
        "a banned bidder's socket on another node, 100 ms after the ban: {outcome:?}"
    );

    // The logout, on node 0, with the token the socket on node 2 was opened with.
    let response = targets
        .http
        .delete(targets.url(0, "/api/v1/sessions"))
        .bearer_auth(&leaving.token)
        .send()
        .await
        .expect("logout");
    assert_eq!(response.status().as_u16(), 204);
    tokio::time::sleep(WITHIN).await;
    let outcome = leaving_ws
        .bid(&auction, "leaving-after", amount + 2000)
        .await;
    assert_eq!(
        outcome.code(),
        Some("unauthenticated"),
        "a logged-out session's socket on another node, 100 ms after the logout: {outcome:?}"
    );

    // The sockets stay open as anonymous ones: they still get snapshots.
    leaving_ws
        .send(&json!({"type": "subscribe", "auction_id": auction}))
        .await
        .expect("subscribe");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let snapshot = leaving_ws.next_json(deadline).await.expect("a snapshot");
    assert_eq!(snapshot["type"], "snapshot", "{snapshot}");

    // Nobody else is affected.
    let outcome = staying_ws
        .bid(&auction, "staying-after", amount + 3000)
        .await;
    assert!(
        matches!(outcome, Outcome::Accepted { .. }),
        "another bidder on the same node: {outcome:?}"
    );
    cluster.finish().await;
}
