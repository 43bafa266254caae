//! The store's group commit is fenced: a batch decided on a stale `seq`, or
//! written with an older epoch than the row's, changes nothing.

use chrono::Utc;
use gavel::domain::{Auction, AuctionRules, IncrementTable};
use gavel::store::{self, AuctionRecord, CommitBatch, NewAnswer, Store, StoreError, StoredAnswer};

use crate::helpers::{Backend, TestDatabase};

async fn fenced_commits_change_nothing(backend: Backend) {
    let Some(db) = TestDatabase::new(backend).await else {
        return;
    };
    let store = store::connect(&db.url).await.expect("connect");
    let now = Utc::now();
    let admin = uuid::Uuid::now_v7();
    let rules = AuctionRules {
        starting_price: 100,
        reserve_price: None,
        buy_now_price: None,
        starts_at: now,
        extend_window_secs: 0,
        increments: IncrementTable::standard(),
    };
    let record = AuctionRecord {
        id: uuid::Uuid::now_v7(),
        title: "fence".into(),
        description: String::new(),
        currency: "EUR".into(),
        auction: Auction::new(rules, now + chrono::Duration::hours(1)),
        epoch: 0,
        created_by: admin,
        created_at: now,
    };
    store.create_auction(&record).await.expect("create");
    let mut state = record.auction.state.clone();
    state.seq = 1;
    let answer = NewAnswer {
        user: admin,
        request_id: "r".into(),
        answer: StoredAnswer {
            http_status: 200,
            body: "{}".into(),
        },
    };
    let batch = |expected_seq: i64, epoch: i64| CommitBatch {
        auction_id: record.id,
        epoch,
        expected_seq,
        state: state.clone(),
        events: Vec::new(),
        answers: vec![answer.clone()],
        now,
    };

    // A stale seq is refused.
    let stale = store.commit_batch(&batch(7, 0)).await;
    assert!(matches!(stale, Err(StoreError::Fenced)), "{stale:?}");
    // A newer owner claims the row; the old epoch is refused from then on.
    assert!(store.claim_auction(record.id, 5).await.expect("claim"));
    assert!(!store
        .claim_auction(record.id, 5)
        .await
        .expect("claim again"));
    let old_owner = store.commit_batch(&batch(0, 0)).await;
    assert!(
        matches!(old_owner, Err(StoreError::Fenced)),
        "{old_owner:?}"
    );
    let keys = [(admin, "r".to_string())];
    assert!(
        store
            .stored_answers(record.id, &keys)
            .await
            .expect("lookup")
            .is_empty(),
        "a refused batch wrote nothing"
    );
    // The new owner's write goes through.
    store.commit_batch(&batch(0, 5)).await.expect("commit");
    let stored = store.auction(record.id).await.expect("read").expect("row");
    assert_eq!(stored.auction.state.seq, 1);
    assert_eq!(stored.epoch, 5);
    assert_eq!(
        store
            .stored_answers(record.id, &keys)
            .await
            .expect("lookup")
            .len(),
        1
    );
}

#[tokio::test]
async fn sqlite_fenced_commits_change_nothing() {
    fenced_commits_change_nothing(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_fenced_commits_change_nothing() {
    fenced_commits_change_nothing(Backend::Postgres).await;
}
