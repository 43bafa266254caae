//! Persistence: the [`Store`] trait and its SQL implementation.
//!
//! The store owns every table of the schema (`migrations/postgres`,
//! `migrations/sqlite`). Both backends run the same SQL through sqlx's `Any`
//! driver; the few places where they differ are in [`sql::Dialect`]. Ids are
//! UUID strings, times Unix milliseconds, money `BIGINT` minor units.
//!
//! The hot path is [`Store::commit_batch`]: one transaction that appends a
//! group of events, stores the answers of their bid requests and moves the
//! auction row, conditional on the expected `seq` and fencing `epoch`, and
//! [`Store::commit_batches`], the same for the batches of many auctions in
//! one transaction (the node-wide commit pipeline, `auction::pipeline`).

mod records;
mod sql;
mod timed;

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub use records::*;
pub use sql::{connect, connect_seeded, SqlStore};
pub use timed::TimedStore;

use crate::domain::{AuctionId, PublicStatus, UserId};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint refused the write; names the constraint.
    #[error("conflict on {0}")]
    Conflict(String),
    /// The auction row moved on (another writer, or a newer fencing epoch).
    #[error("the auction row was changed by another writer (fenced)")]
    Fenced,
    /// The database cannot be reached right now; retrying later may work.
    #[error("the database is unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// The database did not answer in time.
    #[error("the database did not answer in time")]
    Timeout,
    /// Anything else: a bug or a broken schema.
    #[error("database error")]
    Database(#[source] sqlx::Error),
    /// A stored value could not be decoded.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    /// One failure shared by every auction of a multi-auction commit (the
    /// node-wide pipeline hands each of them the same error).
    #[error(transparent)]
    Shared(std::sync::Arc<StoreError>),
}

impl StoreError {
    /// True when the caller should answer `unavailable` (retry is safe).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Shared(inner) => inner.is_transient(),
            other => matches!(other, Self::Unavailable(_) | Self::Fenced | Self::Timeout),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Everything Gavel persists. Implemented by [`SqlStore`] for SQLite and PostgreSQL.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// A cheap round trip, for readiness.
    async fn ping(&self) -> StoreResult<()>;

    /// Whether writes have lately been failing for a storage reason (a full
    /// disk, a read-only file, an unreachable server), which a ping does not
    /// see. Only [`TimedStore`] keeps track; other stores say no.
    fn writes_failing(&self) -> bool {
        false
    }

    // --- users and sessions ---
    async fn create_user(&self, user: &NewUser) -> StoreResult<User>;
    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>>;
    async fn user_by_username(&self, username: &str) -> StoreResult<Option<UserWithPassword>>;
    async fn set_user_banned(&self, id: UserId, banned: bool) -> StoreResult<Option<User>>;
    async fn list_users(&self, limit: i64) -> StoreResult<Vec<User>>;
    async fn create_session(&self, session: &NewSession) -> StoreResult<()>;
    /// The user of a live session, and when that session expires.
    async fn session_user(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(User, DateTime<Utc>)>>;
    async fn delete_session(&self, token_hash: &str) -> StoreResult<()>;
    /// Replaces a user's password hash; false when there is no such user.
    async fn set_password_hash(&self, id: UserId, password_hash: &str) -> StoreResult<bool>;
    /// Makes a user an admin or a bidder; None when there is no such user.
    async fn set_user_role(&self, id: UserId, role: Role) -> StoreResult<Option<User>>;
    /// Deletes every session of a user; returns how many there were.
    async fn delete_user_sessions(&self, id: UserId) -> StoreResult<u64>;

    // --- auctions ---
    async fn create_auction(&self, auction: &AuctionRecord) -> StoreResult<()>;
    async fn auction(&self, id: AuctionId) -> StoreResult<Option<AuctionRecord>>;
    async fn list_auctions(
        &self,
        filter: Option<PublicStatus>,
        now: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<AuctionRecord>>;
    /// Live auctions whose end falls before `before` (for close timers).
    async fn live_auctions_ending_before(
        &self,
        before: DateTime<Utc>,
    ) -> StoreResult<Vec<AuctionId>>;
    /// Events with `seq > after`, oldest first, at most `limit`.
    async fn events_after(
        &self,
        auction: AuctionId,
        after: i64,
        limit: i64,
    ) -> StoreResult<Vec<StoredEvent>>;
    /// The auction's `voided` events, in `seq` order.
    async fn void_events(&self, auction: AuctionId) -> StoreResult<Vec<StoredEvent>>;
    /// Bid events only, with `seq > after`, oldest first, at most `limit`.
    async fn bid_events_after(
        &self,
        auction: AuctionId,
        after: i64,
        limit: i64,
    ) -> StoreResult<Vec<StoredEvent>>;
    /// Bid events with bidder usernames (admin view), oldest first.
    async fn bid_log(&self, auction: AuctionId) -> StoreResult<Vec<BidLogEntry>>;
    /// An auction's whole log: every event by seq and every private note
    /// by (`after_seq`, `n`).
    async fn auction_log(
        &self,
        auction: AuctionId,
    ) -> StoreResult<(Vec<StoredEvent>, Vec<StoredNote>)>;
    /// The auctions a user has bid on, with the latest of their bids.
    async fn auctions_bid_by(&self, user: UserId) -> StoreResult<Vec<AuctionRecord>>;

    // --- the bidding hot path ---
    /// Stored first answers for any of `keys` (user, request_id) in `auction`.
    async fn stored_answers(
        &self,
        auction: AuctionId,
        keys: &[(UserId, String)],
    ) -> StoreResult<HashMap<(UserId, String), StoredAnswer>>;
    /// Every stored answer of `auction`'s bid requests (for `gavel verify`).
    async fn bid_answers(&self, auction: AuctionId) -> StoreResult<Vec<StoredRequest>>;
    /// Whether any bid request of `auction` is stored.
    async fn has_bid_requests(&self, auction: AuctionId) -> StoreResult<bool>;
    /// Which of `users` are banned.
    async fn banned_among(&self, users: &[UserId]) -> StoreResult<HashSet<UserId>>;
    /// Appends a batch atomically; fails with [`StoreError::Fenced`] when the
    /// row's `seq` is not `batch.expected_seq` or its epoch is newer.
    async fn commit_batch(&self, batch: &CommitBatch) -> StoreResult<()>;

    /// Commits the batches of many auctions (at most one batch per auction)
    /// in ONE transaction. Each auction's write is conditional on its
    /// `expected_seq` and epoch exactly as in [`Store::commit_batch`], but a
    /// stale auction is only reported ([`BatchOutcome::Stale`], nothing of it
    /// written) and does not fail the others. Only a database error fails
    /// the whole transaction. Outcomes come in the order of `batches`.
    async fn commit_batches(&self, batches: &[CommitBatch]) -> StoreResult<Vec<BatchOutcome>>;

    /// Raises the auction row's fencing epoch to `epoch` (a new owner taking
    /// over); false when the row already carries that epoch or a newer one.
    /// Every write of an older owner is refused from then on.
    async fn claim_auction(&self, auction: AuctionId, epoch: i64) -> StoreResult<bool>;

    // --- relisting ---
    /// Creates `record` as the relisting of the unsold lot `from`, in one
    /// transaction; nothing is created when `from` was relisted already or
    /// a second-chance offer on it stands.
    async fn relist_auction(
        &self,
        record: &AuctionRecord,
        from: AuctionId,
        by: UserId,
    ) -> StoreResult<RelistOutcome>;

    // --- second-chance offers ---
    /// Records `offer`; `false` (nothing written) when the lot has an offer
    /// already or was relisted.
    async fn create_offer(&self, offer: &SecondChanceOffer) -> StoreResult<bool>;
    async fn offer(&self, auction: AuctionId) -> StoreResult<Option<SecondChanceOffer>>;
    /// The user's offers, newest first.
    async fn offers_for(&self, user: UserId) -> StoreResult<Vec<SecondChanceOffer>>;
    /// The lots offered to the user (in no particular order).
    async fn auctions_offered_to(&self, user: UserId) -> StoreResult<Vec<AuctionRecord>>;
    /// Accepts or declines `user`'s open offer on `auction` if it has not
    /// expired at `now`; `false` when there is no such offer.
    async fn decide_offer(
        &self,
        auction: AuctionId,
        user: UserId,
        accept: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// When the lot's details were last edited, if ever.
    async fn last_edit(&self, auction: AuctionId) -> StoreResult<Option<DateTime<Utc>>>;
    /// The lot `id` relists, and the lot it was relisted as.
    async fn relist_links(&self, id: AuctionId) -> StoreResult<RelistLinks>;

    // --- audit ---
    async fn record_audit(&self, entry: &AuditEntry) -> StoreResult<()>;

    // The watchlist (migration 0006).
    /// Watches (`watching`) or unwatches a lot; idempotent.
    async fn set_watching(
        &self,
        user: UserId,
        auction: AuctionId,
        watching: bool,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// The lots `user` watches, soonest end first.
    async fn watched_by(&self, user: UserId) -> StoreResult<Vec<AuctionRecord>>;
    /// How many users watch each lot (absent: none).
    async fn watcher_counts(&self, auctions: &[AuctionId]) -> StoreResult<HashMap<AuctionId, i64>>;
    /// Which of `auctions` `user` watches.
    async fn watching_among(
        &self,
        user: UserId,
        auctions: &[AuctionId],
    ) -> StoreResult<HashSet<AuctionId>>;
    /// The newest `limit` audit entries that match `filter`, newest first.
    async fn audit_log(&self, filter: &AuditFilter, limit: i64) -> StoreResult<Vec<AuditRecord>>;
}
