//! Integration tests: a real server on a random port, real HTTP, WebSocket
//! and SSE clients, real SQLite files and real PostgreSQL databases.

mod clients;
#[path = "../common/mod.rs"]
mod common;
mod helpers;

mod accounts;
mod audit;
mod buy_now;
mod closing;
mod concurrency;
mod edit;
mod errors;
mod feed_gap;
mod flow;
mod hardening;
mod house;
mod idempotency;
mod live;
mod load_tool;
mod openapi;
mod operator;
mod ops;
mod pipeline;
mod record;
mod relist;
mod second_chance;
mod security_inputs;
mod store_fence;
mod store_watchlist;
