//! Gavel: a live auction bidding engine.
//!
//! - [`domain`]: money, increments and the bidding rules (pure).
//! - [`auction`]: one actor per live auction, group commit, the registry.
//! - [`store`]: SQLite / PostgreSQL persistence.
//! - [`cluster`]: how events reach subscribers (local hub, Redis relay).
//! - [`http`]: the JSON API, WebSocket, SSE and operations endpoints.
//! - [`auth`]: accounts, passwords, sessions, rate limits.
//! - [`config`], [`telemetry`], [`startup`]: wiring.
//! - [`admin_cli`]: `gavel admin …`, the operator's account commands.
//! - [`load`]: the load tool (`gavel load`).

pub mod admin_cli;
pub mod auction;
pub mod auth;
pub mod cluster;
pub mod config;
pub mod domain;
pub mod http;
pub mod load;
pub mod startup;
pub mod store;
pub mod sync;
pub mod telemetry;
