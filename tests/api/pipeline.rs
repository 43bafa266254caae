//! The node-wide commit pipeline (docs/design.md, "Group commit"): the
//! batches of many auctions share one transaction, each still fenced on its
//! own `seq` and epoch.
//!
//! - the store's `commit_batches`: a stale auction is refused alone;
//! - the pipeline itself: three actors' batches in one transaction, the
//!   stale one answered `Fenced`, the others committed;
//! - many lots bid at once over WebSockets: gapless logs, prices that never
//!   fall, every acknowledged seq stored with its amount, no request placed
//!   twice, a clean `gavel verify`, and transactions that carried more than
//!   one auction;
//! - a stale lot among live ones through the server: refused, then reloaded;
//! - the database cut while a multi-auction transaction is in flight: every
//!   bid in it answered `unavailable`, nothing written, retries succeed.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures_util::future::join_all;
use gavel::auction::pipeline::{CommitPipeline, PipelineConfig};
use gavel::store::{
    self, BatchOutcome, CommitBatch, NewAnswer, SqlStore, Store, StoreError, StoredAnswer,
    StoredEvent, StoredNote,
};
use serde_json::{json, Value};

use crate::clients::WsClient;
use crate::common::proxy::{Mode, Proxy};
use crate::helpers::{
    db_i64, stored_auction, test_config, AuctionBuilder, Backend, Bidder, TestApp, TestDatabase,
};

async fn open_store(db: &TestDatabase) -> SqlStore {
    store::connect_seeded(&db.url, Some(crate::common::TEST_ALIAS_KEY))
        .await
        .expect("connect")
}

/// A batch moving `record` from seq 0 to 1 with one event (whose data has
/// quotes and a backslash, to prove it travels intact), one answer and one
/// note, written with `epoch`.
fn first_batch(record: &gavel::store::AuctionRecord, user: uuid::Uuid, epoch: i64) -> CommitBatch {
    let now =
        chrono::DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).expect("a time");
    let mut state = record.auction.state.clone();
    state.seq = 1;
    state.price = 100;
    state.bid_count = 1;
    CommitBatch {
        auction_id: record.id,
        epoch,
        expected_seq: 0,
        state,
        events: vec![StoredEvent {
            seq: 1,
            name: "bid".into(),
            at: now,
            bidder: Some(user),
            amount: Some(100),
            bid_kind: Some("bid".into()),
            ceiling: Some(100),
            req_amount: Some(100),
            req_max: None,
            hash: Some(format!("hash-{}", record.id)),
            data: format!(r#"{{"note":"a \"quoted\" \\ {}"}}"#, record.id),
        }],
        notes: vec![StoredNote {
            after_seq: 1,
            n: 1,
            kind: "ceiling".into(),
            at: now,
            bidder: user,
            amount: None,
            max_amount: Some(500),
        }],
        barred: Vec::new(),
        head_hash: format!("hash-{}", record.id),
        answers: vec![NewAnswer {
            user,
            request_id: format!("r-{}", record.id),
            answer: StoredAnswer {
                http_status: 200,
                body: r#"{"ok":"\"yes\""}"#.into(),
            },
        }],
        now,
        details: None,
    }
}

/// Asserts `batch` was written whole (or, with `written` false, not at all).
async fn assert_written(store: &SqlStore, batch: &CommitBatch, written: bool) {
    let row = store
        .auction(batch.auction_id)
        .await
        .expect("read")
        .expect("row");
    let (events, notes) = store.auction_log(batch.auction_id).await.expect("log");
    let keys: Vec<_> = batch
        .answers
        .iter()
        .map(|a| (a.user, a.request_id.clone()))
        .collect();
    let answers = store
        .stored_answers(batch.auction_id, &keys)
        .await
        .expect("answers");
    if written {
        assert_eq!(row.auction.state.seq, 1);
        assert_eq!(row.head_hash, batch.head_hash);
        assert_eq!(events, batch.events, "events travel intact");
        assert_eq!(notes, batch.notes);
        assert_eq!(
            answers.values().cloned().collect::<Vec<_>>(),
            vec![batch.answers[0].answer.clone()]
        );
    } else {
        assert_eq!(row.auction.state.seq, 0, "a stale batch moved nothing");
        assert!(events.is_empty() && notes.is_empty() && answers.is_empty());
    }
}

async fn a_stale_auction_does_not_fail_the_others(backend: Backend) {
    let Some(db) = TestDatabase::new(backend).await else {
        return;
    };
    let store = open_store(&db).await;
    let admin = uuid::Uuid::now_v7();
    let mut records = Vec::new();
    for title in ["a", "b", "claimed", "moved"] {
        records.push(stored_auction(&store, title, admin).await);
    }
    // "claimed" has a newer owner; "moved" is decided on a seq it no longer has.
    assert!(store.claim_auction(records[2].id, 5).await.expect("claim"));
    let mut batches: Vec<CommitBatch> = records.iter().map(|r| first_batch(r, admin, 0)).collect();
    batches[3].expected_seq = 7;

    let outcomes = store
        .commit_batches(&batches)
        .await
        .expect("one transaction");
    assert_eq!(
        outcomes,
        vec![
            BatchOutcome::Committed,
            BatchOutcome::Committed,
            BatchOutcome::Stale,
            BatchOutcome::Stale
        ]
    );
    for (batch, written) in batches.iter().zip([true, true, false, false]) {
        assert_written(&store, batch, written).await;
    }
    let claimed = store
        .auction(records[2].id)
        .await
        .expect("read")
        .expect("row");
    assert_eq!(claimed.epoch, 5, "the newer owner's epoch stays");

    // The same batches again: every one is stale now, nothing is doubled.
    let again = store.commit_batches(&batches).await.expect("again");
    assert!(again.iter().all(|o| *o == BatchOutcome::Stale), "{again:?}");
    assert_eq!(
        store.auction_log(records[0].id).await.expect("log").0.len(),
        1
    );
    // The new owner's batch goes through.
    let owner = first_batch(&records[2], admin, 5);
    let outcomes = store
        .commit_batches(std::slice::from_ref(&owner))
        .await
        .expect("owner");
    assert_eq!(outcomes, vec![BatchOutcome::Committed]);
    assert_written(&store, &owner, true).await;
    assert!(store.commit_batches(&[]).await.expect("empty").is_empty());
}

async fn the_pipeline_answers_each_auction_of_a_shared_transaction(backend: Backend) {
    let Some(db) = TestDatabase::new(backend).await else {
        return;
    };
    let store = open_store(&db).await;
    let admin = uuid::Uuid::now_v7();
    let mut records = Vec::new();
    for title in ["x", "y", "fenced"] {
        records.push(stored_auction(&store, title, admin).await);
    }
    assert!(store.claim_auction(records[2].id, 3).await.expect("claim"));
    let shared: Arc<dyn Store> = Arc::new(store.clone());
    let pipeline = CommitPipeline::start(
        shared,
        PipelineConfig {
            max_rows: 1024,
            max_in_flight: 1,
            queue_limit: Duration::from_secs(4),
        },
    );
    let batches: Vec<CommitBatch> = records.iter().map(|r| first_batch(r, admin, 0)).collect();
    // Handed over together, before the pipeline task runs: one transaction.
    let outcomes = join_all(batches.iter().map(|b| pipeline.commit(b.clone()))).await;
    assert!(outcomes[0].is_ok() && outcomes[1].is_ok(), "{outcomes:?}");
    assert!(
        matches!(outcomes[2], Err(StoreError::Fenced)),
        "{:?}",
        outcomes[2]
    );
    for (batch, written) in batches.iter().zip([true, true, false]) {
        assert_written(&store, batch, written).await;
    }
}

#[tokio::test]
async fn sqlite_a_stale_auction_does_not_fail_the_others() {
    a_stale_auction_does_not_fail_the_others(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_a_stale_auction_does_not_fail_the_others() {
    a_stale_auction_does_not_fail_the_others(Backend::Postgres).await;
}

#[tokio::test]
async fn sqlite_the_pipeline_answers_each_auction_of_a_shared_transaction() {
    the_pipeline_answers_each_auction_of_a_shared_transaction(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_the_pipeline_answers_each_auction_of_a_shared_transaction() {
    the_pipeline_answers_each_auction_of_a_shared_transaction(Backend::Postgres).await;
}

// ---------------------------------------------------------------------------
// Through the server.
// ---------------------------------------------------------------------------

/// One WebSocket bid answer.
#[derive(Debug, Clone, PartialEq)]
struct WsAnswer {
    frame: Value,
}

impl WsAnswer {
    fn accepted(&self) -> bool {
        self.frame["type"] == "bid_result" && self.frame["result"]["accepted"] == true
    }

    fn code(&self) -> Option<&str> {
        self.frame["error"]["code"].as_str()
    }
}

/// Sends every `(auction, request_id, amount)` bid on `ws` at once (at
/// most 64: a socket's limit of bids waiting), then reads until each has
/// its answer. Answers are listed by request id.
async fn ws_bids(
    ws: &mut WsClient,
    bids: &[(String, String, i64)],
) -> HashMap<String, Vec<WsAnswer>> {
    assert!(bids.len() <= 64);
    for (auction, request_id, amount) in bids {
        ws.send(&json!({"type": "bid", "auction_id": auction,
            "request_id": request_id, "amount": amount}))
            .await;
    }
    let mut answers: HashMap<String, Vec<WsAnswer>> = HashMap::new();
    let wanted = bids.len();
    let mut got = 0;
    while got < wanted {
        let frame = ws
            .next_within(Duration::from_secs(20))
            .await
            .unwrap_or_else(|| panic!("only {got} of {wanted} answers"));
        let request_id = match frame["type"].as_str() {
            Some("bid_result") => frame["result"]["request_id"].as_str(),
            Some("bid_error") => frame["request_id"].as_str(),
            _ => None,
        };
        if let Some(request_id) = request_id {
            answers
                .entry(request_id.to_string())
                .or_default()
                .push(WsAnswer {
                    frame: frame.clone(),
                });
            got += 1;
        }
    }
    answers
}

/// `gavel_commit_auctions_per_tx`: (transactions, those with one auction).
async fn transactions(app: &TestApp) -> (u64, u64) {
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    let value = |prefix: &str| {
        text.lines()
            .find(|line| line.starts_with(prefix))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no {prefix} in /metrics"))
    };
    (
        value("gavel_commit_auctions_per_tx_count") as u64,
        value("gavel_commit_auctions_per_tx_bucket{le=\"1\"}") as u64,
    )
}

async fn connect_bidders(app: &TestApp, bidders: &[Bidder]) -> Vec<WsClient> {
    let mut sockets = Vec::new();
    for bidder in bidders {
        sockets.push(
            WsClient::connect(app, Some(&bidder.token), None)
                .await
                .expect("connect"),
        );
    }
    sockets
}

const LOTS: usize = 50;
const BIDDERS: usize = 5;
const ROUNDS: usize = 4;

async fn many_lots_bid_at_once_keep_every_log_whole(app: TestApp) {
    many_lots_bid_at_once(app, true).await;
}

/// The same load with `GAVEL_COMMIT_PIPELINE=off`: every actor commits
/// alone, and every log is just as whole.
async fn many_lots_bid_at_once_without_the_pipeline(app: TestApp) {
    let mut config = app.config.clone();
    config.commit_pipeline = gavel::config::Switch::Off;
    let db = app.stop().await;
    let app = TestApp::start(db, config).await;
    many_lots_bid_at_once(app, false).await;
}

/// `LOTS` lots, `BIDDERS` bidders over WebSockets, `ROUNDS` rounds in which
/// every bidder bids on every lot at once (and repeats each request).
async fn many_lots_bid_at_once(app: TestApp, shared_transactions: bool) {
    let admin = app.admin_token().await;
    let mut lots = Vec::new();
    for _ in 0..LOTS {
        lots.push(app.auction_id_as(&admin, AuctionBuilder::new()).await);
    }
    let bidders = app.bidders("spread", BIDDERS).await;
    let mut sockets = connect_bidders(&app, &bidders).await;
    let before = transactions(&app).await;

    // (auction, request_id) -> (bidder id, amount, answer)
    let mut acknowledged: BTreeMap<(String, String), (String, i64, Value)> = BTreeMap::new();
    for round in 0..ROUNDS {
        let work = sockets
            .iter_mut()
            .zip(&bidders)
            .enumerate()
            .map(|(index, (ws, bidder))| {
                let lots = &lots;
                async move {
                    // Distinct amounts per bidder, higher every round.
                    let amount = 1_000 + (round * BIDDERS + index) as i64 * 500;
                    let bids: Vec<(String, String, i64)> = lots
                        .iter()
                        .map(|lot| (lot.clone(), format!("{}-{round}", bidder.username), amount))
                        .collect();
                    // Every bid is sent again once answered: the copy must
                    // get the same answer.
                    let mut answers = ws_bids(ws, &bids).await;
                    for (request_id, copies) in ws_bids(ws, &bids).await {
                        answers.entry(request_id).or_default().extend(copies);
                    }
                    (bidder.id.clone(), bids, answers)
                }
            });
        for (bidder, bids, answers) in join_all(work).await {
            for (lot, request_id, amount) in bids {
                let both = &answers[&request_id];
                let mine: Vec<&WsAnswer> = both
                    .iter()
                    .filter(|a| {
                        a.frame["auction_id"] == lot.as_str()
                            || a.frame["result"]["auction_id"] == lot.as_str()
                    })
                    .collect();
                assert_eq!(mine.len(), 2, "{both:?}");
                assert_eq!(
                    mine[0], mine[1],
                    "a repeated request_id is answered the same"
                );
                let answer = mine[0];
                if answer.accepted() {
                    acknowledged.insert(
                        (lot.clone(), request_id.clone()),
                        (bidder.clone(), amount, answer.frame["result"].clone()),
                    );
                } else {
                    assert_eq!(answer.frame["type"], "bid_error", "{:?}", answer.frame);
                    let code = answer.code().unwrap_or("none");
                    assert!(
                        ["below_minimum", "already_leading"].contains(&code),
                        "an ordinary refusal, got {:?}",
                        answer.frame
                    );
                }
            }
        }
    }
    assert!(
        acknowledged.len() >= LOTS * ROUNDS,
        "every round raised every lot: {} accepted",
        acknowledged.len()
    );

    let db = &app.db;
    let mut conn = crate::helpers::db_connection(db).await;
    for lot in &lots {
        let rows: Vec<(i64, String, Option<i64>, Option<String>)> = sqlx::query_as(&format!(
            "SELECT seq, kind, amount, bidder_id FROM auction_events \
             WHERE auction_id = '{lot}' ORDER BY seq"
        ))
        .fetch_all(&mut conn)
        .await
        .expect("events");
        let seqs: Vec<i64> = rows.iter().map(|r| r.0).collect();
        let want: Vec<i64> = (1..=rows.len() as i64).collect();
        assert_eq!(seqs, want, "lot {lot}: a gapless log");
        let prices: Vec<i64> = rows
            .iter()
            .filter(|r| r.1 == "bid")
            .filter_map(|r| r.2)
            .collect();
        assert!(
            prices.windows(2).all(|w| w[0] < w[1]),
            "lot {lot}: prices never fall: {prices:?}"
        );
        let accepted_here = acknowledged.keys().filter(|(l, _)| l == lot).count();
        assert_eq!(
            prices.len(),
            accepted_here,
            "lot {lot}: one bid event per accepted request, none twice"
        );
        let snapshot = app.snapshot(lot).await;
        assert_eq!(snapshot["seq"], json!(rows.len()), "lot {lot}");
    }
    for ((lot, request_id), (bidder, amount, result)) in &acknowledged {
        let seq = result["seq"].as_i64().expect("a seq");
        let stored: (Option<i64>, Option<String>) = sqlx::query_as(&format!(
            "SELECT amount, bidder_id FROM auction_events \
             WHERE auction_id = '{lot}' AND seq = {seq} AND kind = 'bid'"
        ))
        .fetch_one(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{request_id} seq {seq} acknowledged but not stored: {e}"));
        assert_eq!(
            stored,
            (Some(*amount), Some(bidder.clone())),
            "{request_id}"
        );
    }
    let distinct_requests = db_i64(
        db,
        "SELECT COUNT(*) FROM (SELECT DISTINCT auction_id, user_id, request_id FROM bid_requests) d",
    )
    .await;
    let requests = db_i64(db, "SELECT COUNT(*) FROM bid_requests").await;
    assert_eq!(requests, distinct_requests);
    assert_eq!(
        requests,
        (LOTS * BIDDERS * ROUNDS) as i64,
        "one stored answer per request"
    );

    // The hash chain, the replay and the stored answers agree.
    let store = open_store(db).await;
    let report = gavel::auction::verify::verify(&store, None, |_, _| {})
        .await
        .expect("verify");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.auctions, LOTS);

    if shared_transactions {
        let after = transactions(&app).await;
        let shared = (after.0 - after.1) - (before.0 - before.1);
        assert!(
            shared > 0,
            "some transaction carried more than one auction: {before:?} -> {after:?}"
        );
    }
}

async fn a_stale_lot_among_live_ones_is_refused_alone(app: TestApp) {
    let admin = app.admin_token().await;
    let mut lots = Vec::new();
    for _ in 0..4 {
        lots.push(app.auction_id_as(&admin, AuctionBuilder::new()).await);
    }
    let bidders = app.bidders("stale", 2).await;
    let mut sockets = connect_bidders(&app, &bidders).await;
    let mut ws = sockets.remove(1);
    let mut first = sockets.remove(0);
    // Every lot's actor running, then another owner claims the last one.
    let warm: Vec<_> = lots
        .iter()
        .map(|lot| (lot.clone(), format!("warm-{lot}"), 1_000))
        .collect();
    let answers = ws_bids(&mut first, &warm).await;
    assert!(answers.values().all(|a| a[0].accepted()), "{answers:?}");
    let stale = lots[3].clone();
    let mut conn = crate::helpers::db_connection(&app.db).await;
    sqlx::query(&format!(
        "UPDATE auctions SET epoch = epoch + 7 WHERE id = '{stale}'"
    ))
    .execute(&mut conn)
    .await
    .expect("bump the epoch");

    let next: Vec<_> = lots
        .iter()
        .map(|lot| (lot.clone(), format!("next-{lot}"), 5_000))
        .collect();
    let answers = ws_bids(&mut ws, &next).await;
    for (lot, request_id, _) in &next {
        let answer = &answers[request_id][0];
        if *lot == stale {
            assert_eq!(answer.code(), Some("unavailable"), "{:?}", answer.frame);
        } else {
            assert!(answer.accepted(), "the others commit: {:?}", answer.frame);
        }
    }
    let events = db_i64(
        &app.db,
        &format!("SELECT COUNT(*) FROM auction_events WHERE auction_id = '{stale}'"),
    )
    .await;
    assert_eq!(events, 1, "nothing of the stale batch was written");
    // The actor stopped; the retry reloads the lot under the new epoch.
    let retry = vec![(stale.clone(), format!("next-{stale}"), 5_000)];
    let answers = ws_bids(&mut ws, &retry).await;
    let answer = &answers[&format!("next-{stale}")][0];
    assert!(answer.accepted(), "{:?}", answer.frame);
    assert_eq!(answer.frame["result"]["seq"], 2);
}

crate::on_both_backends!(
    many_lots_bid_at_once_keep_every_log_whole,
    many_lots_bid_at_once_without_the_pipeline,
    a_stale_lot_among_live_ones_is_refused_alone,
);

// ---------------------------------------------------------------------------
// The database cut while a multi-auction transaction is in flight.
// ---------------------------------------------------------------------------

const CUT_LOTS: usize = 12;

/// One bid on every lot, request ids `{tag}-{lot}`.
fn round(lots: &[String], tag: &str, amount: i64) -> Vec<(String, String, i64)> {
    lots.iter()
        .map(|lot| (lot.clone(), format!("{tag}-{lot}"), amount))
        .collect()
}

/// Warms every lot's actor: `second` bids, then `first` outbids it (which
/// also reads `second`'s ban status, the leader's), so `second`'s next bids
/// need no lookup and go straight to the commit.
async fn warm_up(first: &mut WsClient, second: &mut WsClient, lots: &[String]) {
    for (ws, tag, amount) in [
        (&mut *second, "warm-b", 1_000),
        (&mut *first, "warm-a", 2_000),
    ] {
        let answers = ws_bids(ws, &round(lots, tag, amount)).await;
        assert!(answers.values().all(|a| a[0].accepted()), "{answers:?}");
    }
}

/// Checks the cut round: everything `unavailable`, nothing written; then
/// the same requests again once the database is back: accepted.
async fn after_the_cut(
    app: &TestApp,
    ws: &mut WsClient,
    lots: &[String],
    cut: HashMap<String, Vec<WsAnswer>>,
    bids: &[(String, String, i64)],
) {
    for (_, request_id, _) in bids {
        let answer = &cut[request_id][0];
        assert_eq!(answer.code(), Some("unavailable"), "{:?}", answer.frame);
    }
    let written = db_i64(
        &app.db,
        "SELECT COUNT(*) FROM bid_requests WHERE request_id LIKE 'cut-%'",
    )
    .await;
    assert_eq!(written, 0, "nothing of the cut transaction was written");
    let events = db_i64(&app.db, "SELECT COUNT(*) FROM auction_events").await;
    assert_eq!(
        events,
        2 * lots.len() as i64,
        "only the warm-up bids are stored"
    );

    // Retries with the same request ids succeed once the database is back.
    let mut retried = HashMap::new();
    for _ in 0..40 {
        retried = ws_bids(ws, bids).await;
        if retried.values().all(|a| a[0].accepted()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    for (lot, request_id, amount) in bids {
        let answer = &retried[request_id][0];
        assert!(answer.accepted(), "{:?}", answer.frame);
        assert_eq!(answer.frame["result"]["seq"], 3, "{lot}");
        assert_eq!(answer.frame["result"]["current_price"], *amount);
    }
    let store = open_store(&app.db).await;
    let report = gavel::auction::verify::verify(&store, None, |_, _| {})
        .await
        .expect("verify");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

/// `CUT_LOTS` lots and two bidders' sockets, every lot warmed up: the
/// second socket's next bids go straight to the commit.
async fn cut_setup(app: &TestApp) -> (Vec<String>, WsClient) {
    let admin = app.admin_token().await;
    let mut lots = Vec::new();
    for _ in 0..CUT_LOTS {
        lots.push(app.auction_id_as(&admin, AuctionBuilder::new()).await);
    }
    let bidders = app.bidders("cut", 2).await;
    let mut sockets = connect_bidders(app, &bidders).await;
    let mut second = sockets.remove(1);
    let mut first = sockets.remove(0);
    warm_up(&mut first, &mut second, &lots).await;
    (lots, second)
}

#[actix_web::test]
async fn postgres_a_cut_mid_multi_auction_transaction_answers_unavailable() {
    let Some(db) = TestDatabase::new(Backend::Postgres).await else {
        return;
    };
    let url = reqwest::Url::parse(&db.url).expect("a URL");
    let upstream = format!(
        "{}:{}",
        url.host_str().expect("a host"),
        url.port().unwrap_or(5432)
    );
    let proxy = Proxy::start(&upstream).await;
    let mut through = db.clone();
    through.url = proxy.url_through(&db.url);
    let config = test_config(&through.url);
    let app = TestApp::start(through, config).await;
    let (lots, mut ws) = cut_setup(&app).await;

    let before = transactions(&app).await;
    // Stalled: the transaction holding the batches is sent and hangs.
    proxy.set(Mode::Stall).await;
    let bids = round(&lots, "cut", 5_000);
    for (auction, request_id, amount) in &bids {
        ws.send(&json!({"type": "bid", "auction_id": auction,
            "request_id": request_id, "amount": amount}))
            .await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Cut: the connection carrying it is closed, nothing reached PostgreSQL.
    proxy.set(Mode::Refuse).await;
    let mut cut: HashMap<String, Vec<WsAnswer>> = HashMap::new();
    while cut.len() < bids.len() {
        let frame = ws
            .next_within(Duration::from_secs(15))
            .await
            .expect("every bid answered while the database is away");
        if let Some(request_id) = frame["request_id"]
            .as_str()
            .or(frame["result"]["request_id"].as_str())
        {
            cut.entry(request_id.to_string())
                .or_default()
                .push(WsAnswer { frame });
        }
    }
    assert!(
        transactions(&app).await.0 > before.0,
        "the batches reached the pipeline (no lookup stood in the way)"
    );
    // Whatever was still trying has given up by its deadline.
    tokio::time::sleep(Duration::from_secs(5)).await;
    proxy.set(Mode::Pass).await;
    after_the_cut(&app, &mut ws, &lots, cut, &bids).await;
    app.stop().await;
}

#[actix_web::test]
async fn sqlite_a_locked_database_mid_multi_auction_transaction_answers_unavailable() {
    let Some(db) = TestDatabase::new(Backend::Sqlite).await else {
        return;
    };
    let config = test_config(&db.url);
    let app = TestApp::start(db, config).await;
    let (lots, mut ws) = cut_setup(&app).await;

    // Another process holds the write lock longer than the store's deadline:
    // the multi-auction transaction cannot commit.
    let before = transactions(&app).await;
    let mut holder = crate::helpers::db_connection(&app.db).await;
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut holder)
        .await
        .expect("take the write lock");
    let bids = round(&lots, "cut", 5_000);
    let cut = ws_bids(&mut ws, &bids).await;
    assert!(
        transactions(&app).await.0 > before.0,
        "the batches reached the pipeline (no lookup stood in the way)"
    );
    // A batch answered by the registry's own timeout may still wait in a
    // transaction: let every one of them reach its deadline first.
    tokio::time::sleep(Duration::from_secs(5)).await;
    sqlx::query("ROLLBACK")
        .execute(&mut holder)
        .await
        .expect("release the write lock");
    drop(holder);
    after_the_cut(&app, &mut ws, &lots, cut, &bids).await;
}
