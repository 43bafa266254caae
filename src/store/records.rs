//! Plain records the store reads and writes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{Auction, AuctionId, AuctionState, Money, UserId};

/// A user's role (docs/api.md: `bidder` for every new account, `admin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Bidder,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bidder => "bidder",
            Self::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "bidder" => Some(Self::Bidder),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

/// A user about to be created.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: UserId,
    pub username: String,
    pub password_hash: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

/// A user as the rest of the server sees it (no password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub role: Role,
    pub banned: bool,
    pub created_at: DateTime<Utc>,
}

impl User {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// A user with their password hash, for logging in.
#[derive(Debug, Clone)]
pub struct UserWithPassword {
    pub user: User,
    pub password_hash: String,
}

/// A session about to be stored; only the token's hash is kept.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token_hash: String,
    pub user_id: UserId,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// An auction row: descriptive fields, the engine's rules and state, and the
/// fencing epoch of the last writer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuctionRecord {
    pub id: AuctionId,
    pub title: String,
    pub description: String,
    pub currency: String,
    pub auction: Auction,
    pub epoch: i64,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
    /// The hash of the last event (hex SHA-256; empty without events).
    pub head_hash: String,
}

/// One stored event. `data` is the public EventData JSON object without
/// `server_time` (added when it is sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub seq: i64,
    /// `bid`, `extended`, `closed` or `cancelled`.
    pub name: String,
    pub at: DateTime<Utc>,
    /// Private: who placed the bid (bid events only).
    pub bidder: Option<UserId>,
    pub amount: Option<Money>,
    /// `bid`, `auto` or `buy_now` (bid events only).
    pub bid_kind: Option<String>,
    /// Private: the bidder's ceiling at that moment (bid events only).
    pub ceiling: Option<Money>,
    /// Private: on a bidder's own bid (`bid_kind` `bid`), the amount and
    /// maximum they asked for, which a replay decides again (docs/design.md,
    /// Voids). `None` on other events and on rows from before migration 0003.
    pub req_amount: Option<Money>,
    pub req_max: Option<Money>,
    /// The event's link in the auction's hash chain (hex SHA-256); `None`
    /// until computed (rows from before migration 0003, relayed events).
    pub hash: Option<String>,
    pub data: String,
}

/// A private entry of an auction's log that records no public event: a
/// leader's ceiling raise (`ceiling`, with the amount and maximum asked
/// for) or a ban that kept the bidder's bids (`barred`). It was decided
/// after event `after_seq`; `n` orders notes after the same event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredNote {
    pub after_seq: i64,
    pub n: i64,
    pub kind: String,
    pub at: DateTime<Utc>,
    pub bidder: UserId,
    pub amount: Option<Money>,
    pub max_amount: Option<Money>,
}

/// A bid event with the bidder's username, for admins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BidLogEntry {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub amount: Money,
    pub kind: String,
    pub user_id: UserId,
    pub username: String,
    pub ceiling: Option<Money>,
}

/// The first answer given to a bid request, replayed on retries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAnswer {
    pub http_status: u16,
    pub body: String,
}

/// A stored bid request and its first answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRequest {
    pub user: UserId,
    pub request_id: String,
    pub answer: StoredAnswer,
}

/// An answer to store with a batch.
#[derive(Debug, Clone)]
pub struct NewAnswer {
    pub user: UserId,
    pub request_id: String,
    pub answer: StoredAnswer,
}

/// One group commit: events, answers and the auction's new state.
#[derive(Debug, Clone)]
pub struct CommitBatch {
    pub auction_id: AuctionId,
    /// The writer's fencing epoch; refused when the row has a newer one.
    pub epoch: i64,
    /// The row's `seq` this batch was decided on.
    pub expected_seq: i64,
    pub state: AuctionState,
    pub events: Vec<StoredEvent>,
    /// Private log entries (ceiling raises, bars) decided in this batch.
    pub notes: Vec<StoredNote>,
    /// The auction's barred bidders after this batch.
    pub barred: Vec<UserId>,
    /// The hash of the last event after this batch.
    pub head_hash: String,
    pub answers: Vec<NewAnswer>,
    pub now: DateTime<Utc>,
    /// An admin's edit of the lot's details decided in this batch.
    pub details: Option<LotDetails>,
}

/// The lot's details after an edit: the title and description when they
/// changed (`None`: as they are), the reserve and buy-now price as they now
/// are. Written with the batch; the lot gains a row in `lot_edits`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LotDetails {
    pub title: Option<String>,
    pub description: Option<String>,
    pub reserve_price: Option<Money>,
    pub buy_now_price: Option<Money>,
}

/// What became of one auction's batch in a multi-auction commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchOutcome {
    /// Written: the row had the expected `seq` and no newer epoch.
    Committed,
    /// Refused and nothing of it written: the row's `seq` moved on or it
    /// carries a newer fencing epoch (what [`super::StoreError::Fenced`]
    /// says for a single batch).
    Stale,
}

impl CommitBatch {
    /// Rows this batch writes besides the auction row (events, notes,
    /// answers): what the pipeline's cap counts.
    pub fn rows(&self) -> usize {
        self.events.len() + self.notes.len() + self.answers.len()
    }
}

/// One admin action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    pub id: uuid::Uuid,
    pub at: DateTime<Utc>,
    pub actor_id: UserId,
    pub action: String,
    pub target: String,
    pub details: String,
}

/// How a lot is linked by relisting: the lot it relists and the lot it was
/// relisted as (each `None` when there is none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelistLinks {
    pub relisted_from: Option<AuctionId>,
    pub relisted_as: Option<AuctionId>,
}

/// How a relisting went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelistOutcome {
    Relisted,
    /// The lot was relisted already: nothing was created.
    AlreadyRelisted,
    /// A second-chance offer on the lot is open or was accepted.
    OfferStands,
}

/// Where a second-chance offer stands, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfferStatus {
    Open,
    Accepted,
    Declined,
}

impl OfferStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Accepted => "accepted",
            Self::Declined => "declined",
        }
    }
}

/// A second-chance offer: after a reserve-not-met close, the lot offered
/// to its highest bidder at their highest bid until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecondChanceOffer {
    pub auction_id: AuctionId,
    pub user_id: UserId,
    pub amount: Money,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub created_by: UserId,
    pub status: OfferStatus,
    pub decided_at: Option<DateTime<Utc>>,
}

impl SecondChanceOffer {
    /// `open`, `accepted`, `declined`, or `expired` (open past its deadline).
    pub fn status_at(&self, now: DateTime<Utc>) -> &'static str {
        match self.status {
            OfferStatus::Open if now >= self.expires_at => "expired",
            status => status.as_str(),
        }
    }

    /// Whether it still holds the lot: open and not expired, or accepted.
    pub fn stands_at(&self, now: DateTime<Utc>) -> bool {
        matches!(self.status_at(now), "open" | "accepted")
    }
}

/// Which audit entries to read: all, or those about one target (an
/// auction's or a user's id) and/or by one admin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub target: Option<String>,
    pub admin: Option<UserId>,
}

/// An audit entry as read back, with the names of the admin and of the
/// target as they are now (an auction's title, a user's username; `None`
/// when the target is neither, or is gone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub entry: AuditEntry,
    pub admin_name: Option<String>,
    pub target_name: Option<String>,
    pub target_kind: Option<AuditTargetKind>,
}

/// What an audit entry's target is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditTargetKind {
    Auction,
    User,
}
