//! The verifiable record: every event's hash, the snapshot's head hash, and
//! `gavel verify` over a real database (docs/api.md, "The verifiable
//! record"; docs/design.md).

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{db_connection, AuctionBuilder, TestApp, TestDatabase};

/// Runs `gavel verify` on `db`; returns (success, stdout).
fn gavel_verify(db: &TestDatabase, auction: Option<&str>) -> (bool, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_gavel"));
    command.arg("verify").env("DATABASE_URL", &db.url);
    if let Some(id) = auction {
        command.args(["--auction", id]);
    }
    let output = command.output().expect("gavel verify runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

async fn sql(db: &TestDatabase, statement: &str) {
    let mut conn = db_connection(db).await;
    sqlx::query(statement)
        .execute(&mut conn)
        .await
        .unwrap_or_else(|error| panic!("{statement}: {error}"));
}

/// Two auctions with bids, a void, a ban and a close.
async fn some_history(app: &TestApp) -> (String, String) {
    let admin = app.admin_token().await;
    let first = app
        .auction_id_as(&admin, AuctionBuilder::new().extend_window(3_600))
        .await;
    let second = app.auction_id_as(&admin, AuctionBuilder::new()).await;
    let bidders = app.bidders("chain", 3).await;
    app.bid(&bidders[0].token, &first, "a1", 1_000, Some(5_000))
        .await;
    let (_, b1) = app.bid(&bidders[1].token, &first, "b1", 1_500, None).await;
    let b1 = b1["seq"].as_i64().expect("a seq");
    app.bid(&bidders[0].token, &first, "a2", 2_000, Some(9_000))
        .await;
    app.bid(&bidders[2].token, &first, "c1", 6_000, Some(7_000))
        .await;
    app.bid(&bidders[1].token, &second, "b2", 1_000, Some(3_000))
        .await;
    app.bid(&bidders[2].token, &second, "c2", 1_200, None).await;
    let (status, body) = app
        .post_as(
            &admin,
            &format!("/api/v1/admin/auctions/{first}/void"),
            &json!({"seqs": [b1], "reason": "test"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .post_as(
            &admin,
            &format!("/api/v1/admin/users/{}/ban", bidders[1].id),
            &json!({"reason": "shill"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.bid(&bidders[0].token, &second, "a3", 5_000, None).await;
    let (status, _) = app
        .post_empty_as(&admin, &format!("/api/v1/admin/auctions/{second}/close"))
        .await;
    assert_eq!(status, StatusCode::OK);
    (first, second)
}

async fn every_event_is_hash_chained_and_verify_names_an_edited_row(app: TestApp) {
    let (first, second) = some_history(&app).await;

    // Every event carries its hash; the snapshot's head hash is the last one.
    let response = app
        .client
        .get(app.url(&format!("/api/v1/auctions/{first}/events")))
        .header("Last-Event-ID", "0")
        .send()
        .await
        .expect("SSE");
    let snapshot = app.snapshot(&first).await;
    let last_seq = snapshot["seq"].as_i64().expect("a seq");
    let mut stream = eventsource_stream::Eventsource::eventsource(response.bytes_stream());
    let mut hashes = Vec::new();
    while (hashes.len() as i64) < last_seq {
        use futures_util::StreamExt as _;
        let event = tokio::time::timeout(std::time::Duration::from_secs(10), stream.next())
            .await
            .expect("in time")
            .expect("an event")
            .expect("readable");
        let data: Value = serde_json::from_str(&event.data).expect("JSON");
        let hash = data["hash"].as_str().expect("a hash").to_string();
        // Recompute it as a watcher would, from the event alone.
        let mut canonical = data.clone();
        let object = canonical.as_object_mut().expect("an object");
        object.remove("hash");
        object.remove("server_time");
        let previous = hashes.last().cloned().unwrap_or_else(|| "0".repeat(64));
        let recomputed = gavel::domain::chain::event_hash(
            &previous,
            first.parse().expect("an id"),
            event.id.parse().expect("a seq"),
            &event.event,
            &canonical.to_string(),
        )
        .expect("hashable");
        assert_eq!(hash, recomputed, "seq {}", event.id);
        hashes.push(hash);
    }
    assert_eq!(snapshot["head_hash"], json!(hashes.last()));

    let db = app.stop().await;
    let (ok, out) = gavel_verify(&db, None);
    assert!(ok, "{out}");
    assert!(out.contains("verified 2 auctions"), "{out}");
    assert!(out.contains("no differences"), "{out}");

    // One edited byte in one stored event: verify fails naming it.
    sql(
        &db,
        &format!(
            "UPDATE auction_events SET data = REPLACE(data, '\"bid_count\":1,', '\"bid_count\":9,') \
             WHERE auction_id = '{second}' AND seq = 1"
        ),
    )
    .await;
    let (ok, out) = gavel_verify(&db, None);
    assert!(!ok, "{out}");
    assert!(out.contains(&format!("auction {second} seq 1")), "{out}");
    assert!(out.contains(&format!("FAIL  {second}")), "{out}");
    // The other auction still checks out on its own.
    let (ok, out) = gavel_verify(&db, Some(&first));
    assert!(ok, "{out}");

    // An edited private column (a maximum) is found by the replay.
    sql(
        &db,
        &format!(
            "UPDATE auction_events SET ceiling = ceiling + 1 \
             WHERE auction_id = '{first}' AND seq = 1"
        ),
    )
    .await;
    let (ok, out) = gavel_verify(&db, Some(&first));
    assert!(!ok, "{out}");
    assert!(out.contains(&format!("auction {first} seq 1")), "{out}");
}

async fn events_stored_before_the_chain_are_hashed_at_start(app: TestApp) {
    let (first, _) = some_history(&app).await;
    let before = app.snapshot(&first).await["head_hash"].clone();
    let db = app.stop().await;
    // As a database from before migration 0003 had them: no hashes.
    sql(&db, "UPDATE auction_events SET hash = NULL").await;
    sql(&db, "UPDATE auctions SET head_hash = ''").await;
    // The server fills the chain in as it starts; nothing else changes.
    let app = TestApp::start(db.clone(), crate::helpers::test_config(&db.url)).await;
    assert_eq!(app.snapshot(&first).await["head_hash"], before);
    let missing = app
        .db_i64("SELECT COUNT(*) FROM auction_events WHERE hash IS NULL")
        .await;
    assert_eq!(missing, 0);
    let db = app.stop().await;
    let (ok, out) = gavel_verify(&db, None);
    assert!(ok, "{out}");
}

crate::on_both_backends!(
    every_event_is_hash_chained_and_verify_names_an_edited_row,
    events_stored_before_the_chain_are_hashed_at_start,
);
