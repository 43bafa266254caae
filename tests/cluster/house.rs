//! House controls across nodes: a ban made on one node voids the banned
//! leader's bids on an auction another node owns (the void is forwarded to
//! the owner), and a bid through a third node then gets no automatic answer
//! from the banned bidder's maximum.

use serde_json::{json, Value};

use crate::clients::{create_auction, login, register_many, Account};
use crate::harness::{one_at_a_time, services, Cluster, Targets, ADMIN_PASSWORD, ADMIN_USER};

async fn bid(targets: &Targets, node: usize, who: &Account, auction: &str, body: Value) -> Value {
    let response = targets
        .http
        .post(targets.url(node, &format!("/api/v1/auctions/{auction}/bids")))
        .bearer_auth(&who.token)
        .json(&body)
        .send()
        .await
        .expect("a bid");
    assert_eq!(response.status().as_u16(), 200, "{body}");
    response.json().await.expect("a BidResult")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ban_on_one_node_voids_a_leader_on_an_auction_another_node_owns() {
    let Some(services) = services("house").await else {
        return;
    };
    let _turn = one_at_a_time().await;
    let cluster = Cluster::start(&services, "house", None).await;
    let targets = cluster.targets();
    let auction = create_auction(&targets, 0).await;
    let accounts = register_many(&targets, "hse", 3).await;
    let (mallory, bob, carol) = (&accounts[0], &accounts[1], &accounts[2]);

    let first = json!({"request_id": "m1", "amount": 1000, "max_amount": 900_000});
    bid(&targets, 1, mallory, &auction, first).await;
    let answer = bid(
        &targets,
        2,
        bob,
        &auction,
        json!({"request_id": "b1", "amount": 2000}),
    )
    .await;
    assert_eq!(answer["status"], "outbid", "{answer}");
    let ban_seq = answer["seq"].as_i64().expect("a seq") + 1;
    let owner = cluster.owner(&auction).await.expect("an owner");
    let (banning, bidding) = ((owner + 1) % 3, (owner + 2) % 3);

    let admin = login(&targets, banning, ADMIN_USER, ADMIN_PASSWORD).await;
    let response = targets
        .http
        .post(targets.url(banning, &format!("/api/v1/admin/users/{}/ban", mallory.id)))
        .bearer_auth(&admin)
        .json(&json!({"reason": "shill bidding"}))
        .send()
        .await
        .expect("ban");
    assert_eq!(response.status().as_u16(), 200);
    let user: Value = response.json().await.expect("the user");
    assert_eq!(user["voided_on"], json!([auction]), "{user}");

    // Bob alone is left, at his own 2,000; Carol's minimum bid through a
    // third node takes the lead without an automatic answer.
    let answer = bid(
        &targets,
        bidding,
        carol,
        &auction,
        json!({"request_id": "c1", "amount": 2050}),
    )
    .await;
    assert_eq!(answer["status"], "leading", "{answer}");
    assert_eq!(answer["current_price"], 2050, "{answer}");

    let mut db = cluster.db().await;
    let naming: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM auction_events WHERE auction_id = $1 AND bidder_id = $2 \
         AND seq > $3 AND kind <> 'voided'",
    )
    .bind(&auction)
    .bind(&mallory.id)
    .bind(ban_seq)
    .fetch_one(&mut db)
    .await
    .expect("count");
    assert_eq!(naming, 0, "no event after the ban names the banned bidder");
    cluster.finish().await;
}
