//! A subscriber's cursor fills a gap in the live sequence from the store,
//! and keeps everything the store had, including events past the live one.

use chrono::Utc;
use gavel::auction::view::{EncodedEvent, EventBatch};
use gavel::http::feed::FeedCursor;
use gavel::store::{self, CommitBatch, Store, StoredEvent};

use crate::helpers::{stored_auction, Backend, TestDatabase};

fn event(seq: i64) -> StoredEvent {
    StoredEvent {
        seq,
        name: "extended".into(),
        at: Utc::now(),
        bidder: None,
        amount: None,
        bid_kind: None,
        ceiling: None,
        req_amount: None,
        req_max: None,
        hash: None,
        data: format!("{{\"seq\":{seq}}}"),
    }
}

#[tokio::test]
async fn a_gap_is_filled_from_the_store_without_losing_later_events() {
    let Some(db) = TestDatabase::new(Backend::Sqlite).await else {
        return;
    };
    let store = store::connect_seeded(&db.url, Some(crate::common::TEST_ALIAS_KEY))
        .await
        .expect("connect");
    let record = stored_auction(&store, "gap", uuid::Uuid::now_v7()).await;
    let now = record.created_at;
    let mut state = record.auction.state.clone();
    state.seq = 5;
    store
        .commit_batch(&CommitBatch {
            auction_id: record.id,
            epoch: 0,
            expected_seq: 0,
            state,
            events: (1..=5).map(event).collect(),
            notes: Vec::new(),
            barred: Vec::new(),
            head_hash: String::new(),
            answers: Vec::new(),
            now,
            details: None,
        })
        .await
        .expect("commit five events");

    // The subscriber saw seq 1; the next live event it gets is seq 3.
    let mut cursor = FeedCursor::new(record.id, 1);
    let live = |seq: i64| EventBatch {
        auction_id: record.id,
        events: vec![EncodedEvent::encode(record.id, &event(seq), now)],
    };
    let delivered = cursor.accept(&store, &live(3)).await.expect("accept");
    let seqs: Vec<i64> = delivered.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, vec![2, 3, 4, 5], "the gap and what followed it");
    // The live copies of 4 and 5 arrive later: nothing twice.
    assert!(cursor
        .accept(&store, &live(4))
        .await
        .expect("accept")
        .is_empty());
    assert!(cursor
        .accept(&store, &live(5))
        .await
        .expect("accept")
        .is_empty());
    let next = cursor.accept(&store, &live(6)).await.expect("accept");
    assert_eq!(next.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![6]);
}
