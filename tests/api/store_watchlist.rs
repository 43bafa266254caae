//! The store's watchlist (migration 0006) and the actual close time
//! (migration 0004), on SQLite and PostgreSQL.

use chrono::{Duration, Utc};
use gavel::store::{self, CommitBatch, NewUser, Role, Store};

use crate::helpers::{stored_auction, Backend, TestDatabase};

async fn user(store: &store::SqlStore, name: &str) -> uuid::Uuid {
    let id = uuid::Uuid::now_v7();
    store
        .create_user(&NewUser {
            id,
            username: name.into(),
            password_hash: "not-a-hash".into(),
            role: Role::Bidder,
            created_at: Utc::now(),
        })
        .await
        .expect("a user");
    id
}

async fn watchlist_counts_and_lists_watches(backend: Backend) {
    let Some(db) = TestDatabase::new(backend).await else {
        return;
    };
    let store = store::connect_seeded(&db.url, Some(crate::common::TEST_ALIAS_KEY))
        .await
        .expect("connect");
    let (ann, ben) = (user(&store, "ann").await, user(&store, "ben").await);
    let first = stored_auction(&store, "first", ann).await;
    let second = stored_auction(&store, "second", ann).await;
    let now = Utc::now();

    // Watching twice is one watch; unwatching what is not watched is fine.
    store
        .set_watching(ann, first.id, true, now)
        .await
        .expect("watch");
    store
        .set_watching(ann, first.id, true, now)
        .await
        .expect("again");
    store
        .set_watching(ann, second.id, true, now)
        .await
        .expect("watch");
    store
        .set_watching(ben, first.id, true, now)
        .await
        .expect("watch");
    store
        .set_watching(ben, second.id, false, now)
        .await
        .expect("noop");

    let ids = [first.id, second.id];
    let counts = store.watcher_counts(&ids).await.expect("counts");
    assert_eq!(counts.get(&first.id), Some(&2));
    assert_eq!(counts.get(&second.id), Some(&1));
    let bens = store.watching_among(ben, &ids).await.expect("among");
    assert_eq!(bens.into_iter().collect::<Vec<_>>(), [first.id]);
    let anns: Vec<_> = store
        .watched_by(ann)
        .await
        .expect("watched")
        .into_iter()
        .map(|record| record.id)
        .collect();
    assert_eq!(anns.len(), 2);
    assert!(anns.contains(&first.id) && anns.contains(&second.id));

    store
        .set_watching(ann, first.id, false, now)
        .await
        .expect("unwatch");
    let counts = store.watcher_counts(&ids).await.expect("counts");
    assert_eq!(counts.get(&first.id), Some(&1));
    assert!(store.watcher_counts(&[]).await.expect("none").is_empty());
}

async fn the_close_time_is_stored_with_the_close(backend: Backend) {
    let Some(db) = TestDatabase::new(backend).await else {
        return;
    };
    let store = store::connect_seeded(&db.url, Some(crate::common::TEST_ALIAS_KEY))
        .await
        .expect("connect");
    let admin = uuid::Uuid::now_v7();
    let record = stored_auction(&store, "closing", admin).await;
    assert_eq!(record.auction.state.closed_at, None);
    let read = store.auction(record.id).await.expect("read").expect("row");
    assert_eq!(read.auction.state.closed_at, None);

    let mut auction = record.auction.clone();
    let at = record.created_at + Duration::minutes(5);
    auction.close(at, true).expect("an early close");
    assert_eq!(auction.state.closed_at, Some(at));
    store
        .commit_batch(&CommitBatch {
            auction_id: record.id,
            epoch: 0,
            expected_seq: 0,
            state: auction.state.clone(),
            events: Vec::new(),
            notes: Vec::new(),
            barred: Vec::new(),
            head_hash: String::new(),
            answers: Vec::new(),
            now: at,
            details: None,
        })
        .await
        .expect("commit");
    let read = store.auction(record.id).await.expect("read").expect("row");
    assert_eq!(
        read.auction.state.closed_at.map(|t| t.timestamp_millis()),
        Some(at.timestamp_millis())
    );
    assert!(read.auction.state.closed_at < Some(read.auction.state.ends_at));
}

#[tokio::test]
async fn sqlite_watchlist_counts_and_lists_watches() {
    watchlist_counts_and_lists_watches(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_watchlist_counts_and_lists_watches() {
    watchlist_counts_and_lists_watches(Backend::Postgres).await;
}

#[tokio::test]
async fn sqlite_the_close_time_is_stored_with_the_close() {
    the_close_time_is_stored_with_the_close(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_the_close_time_is_stored_with_the_close() {
    the_close_time_is_stored_with_the_close(Backend::Postgres).await;
}
