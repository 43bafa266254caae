//! The pure heart of Gavel: money, increment policy, the bidding engine, the
//! replay of an auction's log (voids, verification) and the rule for text
//! that clients send.
//!
//! Nothing here does I/O or reads a clock; every decision takes the current
//! time as an argument. The auction actor (`crate::auction`) feeds commands
//! in, persists the [`Change`]s that come out and publishes the public ones.

pub mod alias;
pub mod chain;
pub mod engine;
pub mod increments;
pub mod money;
pub mod replay;
pub mod text;

pub use engine::buy_now_problem;
pub use engine::{
    Auction, AuctionRules, AuctionState, AuctionStatus, BidAccepted, BidKind, BidOutcome,
    BidRejection, BidRequest, Change, CloseError, ControlError, Event, EventKind, Leader,
    PublicStatus, MAX_ADMIN_EXTENSION_SECS,
};
pub use increments::IncrementTable;
pub use money::{Money, MAX_AMOUNT};
pub use replay::{decide_from_scratch, Decision, Entry, VoidError};
pub use text::{check_text, ControlCharacter, Lines};

/// Identifies a user everywhere inside the server (never shown to the public).
pub type UserId = uuid::Uuid;
/// Identifies an auction.
pub type AuctionId = uuid::Uuid;

#[cfg(test)]
mod tests;
