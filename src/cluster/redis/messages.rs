//! What nodes say to each other through Redis, as JSON.

use serde::{Deserialize, Serialize};

use crate::auction::commands::{AdminAction, AdminError, BidPayload};
use crate::domain::AuctionId;
use crate::store::StoredAnswer;

/// One committed event, as published on an auction's channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireEvent {
    pub seq: i64,
    pub name: String,
    /// EventData without `server_time`.
    pub data: String,
}

/// The events of one commit, published by the auction's owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventsMessage {
    /// The publishing node (it delivered them locally already).
    pub node: String,
    pub auction: AuctionId,
    /// When the owner published them (RFC 3339), stamped as `server_time`.
    pub server_time: chrono::DateTime<chrono::Utc>,
    pub events: Vec<WireEvent>,
}

/// A command forwarded to an auction's owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ForwardedCommand {
    Bid { bid: BidPayload },
    Admin { action: AdminAction },
}

/// The owner's answer to a forwarded command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ForwardedReply {
    /// The bid's answer.
    Bid { answer: StoredAnswer },
    /// The admin action succeeded.
    AdminDone,
    /// The admin action was refused: the auction has ended.
    AdminRefused,
    /// The admin action was refused for another reason (a void naming
    /// something that cannot be voided, nothing to do).
    AdminRejected { error: AdminError },
    /// Not decided (storage down, lease lost…): answer `unavailable`.
    Unavailable,
    /// That node does not own the auction (any more).
    NotOwner,
    /// No such auction.
    NotFound,
}

/// Messages on a node's own channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum NodeMessage {
    Request {
        corr: String,
        from: String,
        auction: AuctionId,
        command: ForwardedCommand,
    },
    Reply {
        corr: String,
        reply: ForwardedReply,
    },
    /// A readiness probe sent to ourselves.
    Canary {
        nonce: String,
    },
}

/// An identity change (logout, ban) made on `node`, for every other node's
/// open connections.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityMessage {
    pub node: String,
    pub change: crate::cluster::identity::IdentityChange,
}
