//! [`TimedStore`]: every store call under one deadline, and the health of
//! writes.
//!
//! A database that stops answering (a stalled connection, a black-holed
//! network) must cost a request a few seconds and a 503, never a hang. sqlx
//! has no per-query timeout, so the whole [`Store`] is wrapped: a call that
//! overruns is dropped (sqlx then discards its connection) and answered
//! [`StoreError::Timeout`].
//!
//! Writes are watched too: a database that still answers reads but refuses
//! writes (a full disk, a read-only file) passes a ping, so `/readyz` asks
//! [`Store::writes_failing`] as well.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::time::Instant;

use super::*;

/// How long a failed write counts against readiness when no write has
/// happened since. Without a limit, a node that nobody sends writes to
/// (because it is not ready) would never become ready again.
pub const WRITE_FAILURE_MEMORY: Duration = Duration::from_secs(15);

/// Wraps a store so that no call outlives `limit`.
#[derive(Debug, Clone)]
pub struct TimedStore<S> {
    inner: S,
    limit: Duration,
    /// When the last write failed for a storage reason; `None` once a write
    /// succeeds.
    write_failed_at: Arc<Mutex<Option<Instant>>>,
}

impl<S> TimedStore<S> {
    pub fn new(inner: S, limit: Duration) -> Self {
        Self {
            inner,
            limit,
            write_failed_at: Arc::new(Mutex::new(None)),
        }
    }

    async fn within<T>(&self, call: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
        tokio::time::timeout(self.limit, call)
            .await
            .unwrap_or(Err(StoreError::Timeout))
    }

    /// [`within`](Self::within) for a write, noting whether it failed for a
    /// storage reason. Conflicts and fencing are answers, not failures.
    async fn written<T>(&self, call: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
        let result = self.within(call).await;
        let failed = match &result {
            Ok(_) => Some(false),
            Err(StoreError::Unavailable(_) | StoreError::Timeout | StoreError::Database(_)) => {
                Some(true)
            }
            Err(
                StoreError::Conflict(_)
                | StoreError::Fenced
                | StoreError::Corrupt(_)
                | StoreError::Shared(_),
            ) => None,
        };
        if let Some(failed) = failed {
            *crate::sync::lock(&self.write_failed_at) = failed.then(Instant::now);
        }
        result
    }

    fn recent_write_failure(&self) -> bool {
        crate::sync::lock(&self.write_failed_at)
            .is_some_and(|at| at.elapsed() < WRITE_FAILURE_MEMORY)
    }
}

/// Implements [`Store`] for [`TimedStore`]: each read is delegated to the
/// inner store under the deadline, each write likewise and its outcome noted.
macro_rules! timed_store {
    (
        reads { $($read:ident($($rarg:ident: $rty:ty),*) -> $rret:ty;)* }
        writes { $($write:ident($($warg:ident: $wty:ty),*) -> $wret:ty;)* }
    ) => {
        #[async_trait]
        impl<S: Store> Store for TimedStore<S> {
            $(
                async fn $read(&self, $($rarg: $rty),*) -> StoreResult<$rret> {
                    self.within(self.inner.$read($($rarg),*)).await
                }
            )*
            $(
                async fn $write(&self, $($warg: $wty),*) -> StoreResult<$wret> {
                    self.written(self.inner.$write($($warg),*)).await
                }
            )*

            fn writes_failing(&self) -> bool {
                self.recent_write_failure()
            }
        }
    };
}

timed_store! {
    reads {
        ping() -> ();
        user_by_id(id: UserId) -> Option<User>;
        user_by_username(username: &str) -> Option<UserWithPassword>;
        list_users(limit: i64) -> Vec<User>;
        session_user(token_hash: &str, now: DateTime<Utc>) -> Option<(User, DateTime<Utc>)>;
        auction(id: AuctionId) -> Option<AuctionRecord>;
        list_auctions(filter: Option<PublicStatus>, now: DateTime<Utc>, limit: i64) -> Vec<AuctionRecord>;
        live_auctions_ending_before(before: DateTime<Utc>) -> Vec<AuctionId>;
        events_after(auction: AuctionId, after: i64, limit: i64) -> Vec<StoredEvent>;
        bid_events_after(auction: AuctionId, after: i64, limit: i64) -> Vec<StoredEvent>;
        bid_log(auction: AuctionId) -> Vec<BidLogEntry>;
        void_events(auction: AuctionId) -> Vec<StoredEvent>;
        auction_log(auction: AuctionId) -> (Vec<StoredEvent>, Vec<StoredNote>);
        auctions_bid_by(user: UserId) -> Vec<AuctionRecord>;
        stored_answers(auction: AuctionId, keys: &[(UserId, String)]) -> HashMap<(UserId, String), StoredAnswer>;
        bid_answers(auction: AuctionId) -> Vec<StoredRequest>;
        has_bid_requests(auction: AuctionId) -> bool;
        banned_among(users: &[UserId]) -> HashSet<UserId>;
        audit_log(filter: &AuditFilter, limit: i64) -> Vec<AuditRecord>;
        relist_links(id: AuctionId) -> RelistLinks;
        last_edit(auction: AuctionId) -> Option<DateTime<Utc>>;
        offer(auction: AuctionId) -> Option<SecondChanceOffer>;
        offers_for(user: UserId) -> Vec<SecondChanceOffer>;
        auctions_offered_to(user: UserId) -> Vec<AuctionRecord>;
        watched_by(user: UserId) -> Vec<AuctionRecord>;
        watcher_counts(auctions: &[AuctionId]) -> HashMap<AuctionId, i64>;
        watching_among(user: UserId, auctions: &[AuctionId]) -> HashSet<AuctionId>;
    }
    writes {
        create_user(user: &NewUser) -> User;
        set_user_banned(id: UserId, banned: bool) -> Option<User>;
        create_session(session: &NewSession) -> ();
        delete_session(token_hash: &str) -> ();
        set_password_hash(id: UserId, password_hash: &str) -> bool;
        set_user_role(id: UserId, role: Role) -> Option<User>;
        delete_user_sessions(id: UserId) -> u64;
        create_auction(auction: &AuctionRecord) -> ();
        commit_batch(batch: &CommitBatch) -> ();
        commit_batches(batches: &[CommitBatch]) -> Vec<BatchOutcome>;
        claim_auction(auction: AuctionId, epoch: i64) -> bool;
        record_audit(entry: &AuditEntry) -> ();
        relist_auction(record: &AuctionRecord, from: AuctionId, by: UserId) -> RelistOutcome;
        create_offer(offer: &SecondChanceOffer) -> bool;
        decide_offer(auction: AuctionId, user: UserId, accept: bool, now: DateTime<Utc>) -> bool;
        set_watching(user: UserId, auction: AuctionId, watching: bool, at: DateTime<Utc>) -> ();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_call_that_overruns_is_a_timeout() {
        let store = TimedStore::new((), Duration::from_millis(10));
        let slow = store.within(async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok(())
        });
        assert!(matches!(slow.await, Err(StoreError::Timeout)));
        let quick = store.within(async { Ok(7) });
        assert_eq!(quick.await.ok(), Some(7));
    }

    #[tokio::test(start_paused = true)]
    async fn failed_writes_count_until_a_write_succeeds_or_they_are_old() {
        let store = TimedStore::new((), Duration::from_secs(1));
        assert!(!store.recent_write_failure());
        let _ = store
            .written(async { Err::<(), _>(StoreError::Timeout) })
            .await;
        assert!(store.recent_write_failure());
        // Answers that are not storage trouble change nothing either way.
        let _ = store
            .written(async { Err::<(), _>(StoreError::Fenced) })
            .await;
        let _ = store
            .written(async { Err::<(), _>(StoreError::Conflict("users_username".into())) })
            .await;
        assert!(store.recent_write_failure());
        let _ = store.written(async { Ok(()) }).await;
        assert!(!store.recent_write_failure());

        let _ = store
            .written(async { Err::<(), _>(StoreError::Timeout) })
            .await;
        tokio::time::advance(WRITE_FAILURE_MEMORY).await;
        assert!(!store.recent_write_failure(), "forgotten without news");
    }
}
