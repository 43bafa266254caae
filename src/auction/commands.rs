//! The messages an auction actor takes and the answers it gives.

use actix::Message;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use crate::domain::{Money, UserId};
use crate::store::{AuctionRecord, StoredAnswer};

/// What a bidder asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum BidCommandKind {
    Bid {
        amount: Money,
        max_amount: Option<Money>,
    },
    BuyNow,
}

/// A bid or buy-now request, as decided by the actor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BidPayload {
    pub user: UserId,
    pub request_id: String,
    pub kind: BidCommandKind,
}

/// The answer to a bid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BidReply {
    /// Decided (now or earlier, for a retried `request_id`): the HTTP status
    /// and JSON body of the answer, BidResult or error.
    Answer(StoredAnswer),
    /// Not decided: storage or coordination is down. Retrying is safe.
    Unavailable,
}

/// An admin's action on an auction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AdminAction {
    /// End now, with the normal winner rules.
    Close,
    /// End without a winner.
    Cancel,
    /// Void bids by replay: the bid events `seqs`, or with `user` every bid
    /// of that bidder (docs/bidding.md, Voids and bans).
    Void {
        seqs: Vec<i64>,
        user: Option<UserId>,
        reason: String,
    },
    /// A ban that keeps the bidder's bids: their maximum stops bidding for
    /// them and they cannot win.
    Bar { user: UserId },
    /// Stop taking bids until resumed.
    Pause,
    /// Take bids again; the end moves by the paused time.
    Resume,
    /// Move the end by `secs` seconds.
    Extend { secs: i64 },
    /// Close without a winner, with a public reason.
    Withdraw { reason: String },
    /// Change the lot's details: the title, reserve and buy-now price only
    /// before its first bid; the description while it is live.
    Edit(LotEdit),
}

/// What an edit changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LotEdit {
    pub title: Option<String>,
    pub description: Option<String>,
    pub reserve_price: Option<PriceEdit>,
    pub buy_now_price: Option<PriceEdit>,
}

impl LotEdit {
    /// Whether it changes a rule of the bidding (reserve, buy-now) or the
    /// title: only allowed before the first bid.
    pub fn needs_no_bids(&self) -> bool {
        self.title.is_some() || self.reserve_price.is_some() || self.buy_now_price.is_some()
    }
}

/// A price set by an edit: an amount, or `None` for none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceEdit {
    pub amount: Option<Money>,
}

impl AdminAction {
    /// The audit log's name of the action.
    pub fn audit_name(&self) -> &'static str {
        match self {
            Self::Close => "auction.close",
            Self::Cancel => "auction.cancel",
            Self::Void { .. } => "auction.void",
            Self::Bar { .. } => "auction.bar",
            Self::Pause => "auction.pause",
            Self::Resume => "auction.resume",
            Self::Extend { .. } => "auction.extend",
            Self::Withdraw { .. } => "auction.withdraw",
            Self::Edit(_) => "auction.edit",
        }
    }
}

/// Why an admin action failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AdminError {
    #[error("the auction has already ended")]
    AlreadyEnded,
    #[error("storage is unavailable")]
    Unavailable,
    /// A void that names something that cannot be voided (422).
    #[error("{0}")]
    NotVoidable(String),
    /// A void or bar that finds nothing to do (the bidder has no bids here,
    /// or is already barred).
    #[error("{0}")]
    NothingToDo(String),
    #[error("the auction is already paused")]
    AlreadyPaused,
    #[error("the auction is not paused")]
    NotPaused,
    /// An edit that the lot's bids forbid (409 `not_editable`).
    #[error("{0}")]
    NotEditable(String),
}

/// What a command carries into a batch (without its reply channel).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandPayload {
    Bid(BidPayload),
    Admin(AdminAction),
    /// The close timer fired.
    CloseTimer,
}

/// Where a command's answer goes.
#[derive(Debug)]
pub enum ReplyTo {
    Bid(oneshot::Sender<BidReply>),
    Admin(oneshot::Sender<Result<AuctionRecord, AdminError>>),
    Nobody,
}

/// A command on its way to an auction actor.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Submit {
    pub payload: CommandPayload,
    pub reply: ReplyTo,
}

/// Finish what is queued, then stop (graceful shutdown).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Drain;

/// A user's ban status changed: forget what was cached about it.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct BanChanged(pub crate::domain::UserId);
