//! The verifiable record: every event's hash, the snapshot's head hash, and
//! `gavel verify` over a real database (docs/api.md, "The verifiable
//! record"; docs/design.md).

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{db_connection, AuctionBuilder, TestApp, TestDatabase};

/// Runs `gavel verify` on `db`; returns (success, stdout).
pub fn gavel_verify(db: &TestDatabase, auction: Option<&str>) -> (bool, String) {
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

/// A database written before migration 0003 (no hashes, no requests, no
/// notes, no original end): an auction whose first bid extended it and
/// whose leader then raised their maximum privately.
async fn migrates_forward(backend: crate::helpers::Backend) {
    use gavel::domain::{Auction, AuctionRules, BidRequest, Change, IncrementTable};
    use gavel::store::Store as _;
    let Some(db) = TestDatabase::new(backend).await else {
        return;
    };
    let dir = crate::helpers::TempDir::new("gavel-0001");
    let folder = match backend {
        crate::helpers::Backend::Sqlite => "sqlite",
        crate::helpers::Backend::Postgres => "postgres",
    };
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(folder)
        .join("0001_initial.sql");
    std::fs::copy(&source, dir.0.join("0001_initial.sql")).expect("copy 0001");
    let url = if backend == crate::helpers::Backend::Sqlite {
        format!("{}?mode=rwc", db.url)
    } else {
        db.url.clone()
    };
    {
        use sqlx::Connection as _;
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&url).await.expect("connect");
        sqlx::migrate::Migrator::new(dir.0.as_path())
            .await
            .expect("a migrator")
            .run(&mut conn)
            .await
            .expect("0001 only");
    }

    let ms = |t: chrono::DateTime<chrono::Utc>| t.timestamp_millis();
    let now = chrono::DateTime::from_timestamp_millis(ms(chrono::Utc::now())).expect("a time");
    let starts = now - chrono::Duration::hours(1);
    let ends = now + chrono::Duration::seconds(60);
    let rules = AuctionRules {
        starting_price: 1_000,
        reserve_price: None,
        buy_now_price: None,
        starts_at: starts,
        extend_window_secs: 120,
        increments: IncrementTable::standard(),
    };
    let auction_id = uuid::Uuid::now_v7();
    let (leader, admin) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    let mut auction = Auction::new(rules, ends);
    let before = auction.clone();
    let first = auction
        .place_bid(BidRequest {
            bidder: leader,
            amount: 1_000,
            max_amount: Some(3_000),
            at: now,
        })
        .expect("a first bid, which extends");
    let mut rows = Vec::new();
    let mut replay = before;
    for change in &first.changes {
        replay.apply(change);
        if let Change::Public(event) = change {
            rows.push(gavel::auction::view::stored_event(
                auction_id, &replay, event,
            ));
        }
    }
    assert_eq!(rows.len(), 2, "a bid and an extension");
    auction
        .place_bid(BidRequest {
            bidder: leader,
            amount: 1_000,
            max_amount: Some(5_000),
            at: now,
        })
        .expect("a private raise");
    let state = &auction.state;
    let statements = vec![
        format!(
            "INSERT INTO users (id, username, password_hash, role, banned, created_at) VALUES \
             ('{leader}', 'old-leader', 'x', 'bidder', 0, {t}), ('{admin}', 'old-admin', 'x', 'admin', 0, {t})",
            t = ms(starts)
        ),
        format!(
            "INSERT INTO auctions (id, title, description, currency, starting_price, starts_at, ends_at, \
             extend_window_secs, increments, status, price, leader_id, leader_ceiling, bid_count, seq, \
             epoch, created_by, created_at, updated_at) VALUES ('{auction_id}', 'Old lot', '', 'EUR', 1000, \
             {starts}, {ends}, 120, '{increments}', 'live', {price}, '{leader}', 5000, 1, 2, 0, '{admin}', {starts}, {t})",
            starts = ms(starts),
            ends = ms(state.ends_at),
            increments = serde_json::to_string(&auction.rules.increments).expect("JSON"),
            price = state.price,
            t = ms(now),
        ),
    ];
    let mut conn = db_connection(&db).await;
    for statement in statements {
        sqlx::query(&statement)
            .execute(&mut conn)
            .await
            .expect("old rows");
    }
    for row in &rows {
        sqlx::query(
            "INSERT INTO auction_events (auction_id, seq, kind, at, bidder_id, amount, bid_kind, ceiling, data) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(auction_id.to_string())
        .bind(row.seq)
        .bind(row.name.as_str())
        .bind(ms(row.at))
        .bind(row.bidder.map(|b| b.to_string()))
        .bind(row.amount)
        .bind(row.bid_kind.as_deref())
        .bind(row.ceiling)
        .bind(row.data.as_str())
        .execute(&mut conn)
        .await
        .expect("an old event");
    }
    drop(conn);

    // Opening the store migrates forward: nothing is lost.
    let store = gavel::store::connect(&db.url).await.expect("migrated");
    let record = store
        .auction(auction_id)
        .await
        .expect("read")
        .expect("the auction");
    assert_eq!(record.auction.state.leader.map(|l| l.ceiling), Some(5_000));
    assert_eq!(
        record.auction.initial_ends_at, ends,
        "the original end, from the data"
    );
    assert_eq!(record.head_hash.len(), 64);
    let (events, notes) = store.auction_log(auction_id).await.expect("the log");
    assert!(events.iter().all(|event| event.hash.is_some()));
    assert_eq!(notes.len(), 1, "the private raise became a note");
    assert_eq!(notes[0].max_amount, Some(5_000));
    let report = gavel::auction::verify::verify(&store, Some(auction_id), |_, _| {})
        .await
        .expect("verify");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

#[actix_web::test]
async fn a_sqlite_database_from_before_0003_migrates_forward_and_verifies() {
    migrates_forward(crate::helpers::Backend::Sqlite).await;
}

#[actix_web::test]
async fn a_postgres_database_from_before_0003_migrates_forward_and_verifies() {
    migrates_forward(crate::helpers::Backend::Postgres).await;
}

crate::on_both_backends!(
    every_event_is_hash_chained_and_verify_names_an_edited_row,
    events_stored_before_the_chain_are_hashed_at_start,
);
