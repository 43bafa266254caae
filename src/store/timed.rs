//! [`TimedStore`]: every store call under one deadline.
//!
//! A database that stops answering (a stalled connection, a black-holed
//! network) must cost a request a few seconds and a 503, never a hang. sqlx
//! has no per-query timeout, so the whole [`Store`] is wrapped: a call that
//! overruns is dropped (sqlx then discards its connection) and answered
//! [`StoreError::Timeout`].

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::*;

/// Wraps a store so that no call outlives `limit`.
#[derive(Debug, Clone)]
pub struct TimedStore<S> {
    inner: S,
    limit: Duration,
}

impl<S> TimedStore<S> {
    pub fn new(inner: S, limit: Duration) -> Self {
        Self { inner, limit }
    }

    async fn within<T>(&self, call: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
        tokio::time::timeout(self.limit, call)
            .await
            .unwrap_or(Err(StoreError::Timeout))
    }
}

/// Implements [`Store`] for [`TimedStore`] by delegating each listed method
/// to the inner store under the deadline.
macro_rules! timed_store {
    ($($name:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)*) => {
        #[async_trait]
        impl<S: Store> Store for TimedStore<S> {
            $(
                async fn $name(&self, $($arg: $ty),*) -> StoreResult<$ret> {
                    self.within(self.inner.$name($($arg),*)).await
                }
            )*
        }
    };
}

timed_store! {
        ping() -> ();
        create_user(user: &NewUser) -> User;
        user_by_id(id: UserId) -> Option<User>;
        user_by_username(username: &str) -> Option<UserWithPassword>;
        set_user_banned(id: UserId, banned: bool) -> Option<User>;
        list_users(limit: i64) -> Vec<User>;
        create_session(session: &NewSession) -> ();
        session_user(token_hash: &str, now: DateTime<Utc>) -> Option<User>;
        delete_session(token_hash: &str) -> ();
        create_auction(auction: &AuctionRecord) -> ();
        auction(id: AuctionId) -> Option<AuctionRecord>;
        list_auctions(filter: Option<StatusFilter>, now: DateTime<Utc>, limit: i64) -> Vec<AuctionRecord>;
        live_auctions_ending_before(before: DateTime<Utc>) -> Vec<AuctionId>;
        events_after(auction: AuctionId, after: i64, limit: i64) -> Vec<StoredEvent>;
        bid_events_after(auction: AuctionId, after: i64, limit: i64) -> Vec<StoredEvent>;
        bid_log(auction: AuctionId) -> Vec<BidLogEntry>;
        auctions_bid_by(user: UserId) -> Vec<AuctionRecord>;
        stored_answers(auction: AuctionId, keys: &[(UserId, String)]) -> HashMap<(UserId, String), StoredAnswer>;
        has_bid_requests(auction: AuctionId) -> bool;
        banned_among(users: &[UserId]) -> HashSet<UserId>;
        commit_batch(batch: &CommitBatch) -> ();
        claim_auction(auction: AuctionId, epoch: i64) -> bool;
    record_audit(entry: &AuditEntry) -> ();
    audit_log(limit: i64) -> Vec<AuditEntry>;
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
}
