//! Live auctions: one actix actor per auction, the registry that starts and
//! stops them, the group-commit batch logic and the public views.
//!
//! Flow of a bid: `http` (api or ws) → [`Registry::submit_bid`] → the
//! auction's [`actor::AuctionActor`] queues it; when no write is in flight,
//! every queued command is decided in order by the pure engine
//! ([`batch::decide`]), written in ONE store transaction, then answered and
//! published to the hub. With the node-wide [`pipeline`], the batches of
//! every actor that is ready share one transaction.

pub mod actor;
pub mod batch;
pub mod commands;
pub mod history;
pub mod known;
pub mod log;
pub mod pipeline;
pub mod recent;
pub mod registry;
pub mod verify;
pub mod view;

pub use commands::{AdminAction, AdminError, BidCommandKind, BidReply, LotEdit, PriceEdit};
pub use registry::{Registry, RegistryConfig};
