//! The HTTP edge: JSON API, WebSocket, SSE and operations endpoints.
//! Handlers are thin: they validate input, call `auth`, `store` or the
//! auction `Registry`, and render docs/api.md's shapes. Routes are assembled in
//! `crate::startup`.

pub mod accounts;
pub mod admin;
pub mod auctions;
pub mod bids;
pub mod client_limits;
pub mod edit;
pub mod error;
pub mod extract;
pub mod feed;
pub mod headers;
pub mod identity;
pub mod openapi;
pub mod ops;
pub mod pages;
pub mod relist;
pub mod request_id;
pub mod second_chance;
pub mod sse;
pub mod state;
pub mod ws;

pub use error::{ApiError, ApiResult};
pub use state::AppState;
