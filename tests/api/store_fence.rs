//! The store's group commit is fenced: a batch decided on a stale `seq`, or
//! written with an older epoch than the row's, changes nothing.

use gavel::store::{self, CommitBatch, NewAnswer, Store, StoreError, StoredAnswer};

use crate::helpers::{stored_auction, Backend, TestDatabase};

async fn fenced_commits_change_nothing(backend: Backend) {
    let Some(db) = TestDatabase::new(backend).await else {
        return;
    };
    let store = store::connect_seeded(&db.url, Some(crate::common::TEST_ALIAS_KEY))
        .await
        .expect("connect");
    let admin = uuid::Uuid::now_v7();
    let record = stored_auction(&store, "fence", admin).await;
    let now = record.created_at;
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
        notes: Vec::new(),
        barred: Vec::new(),
        head_hash: String::new(),
        answers: vec![answer.clone()],
        now,
        details: None,
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
