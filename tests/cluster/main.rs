//! Multi-process cluster tests: three real `gavel` processes on
//! random ports share one fresh PostgreSQL database and one Redis (a key
//! prefix per test); the tests bid through every node, watch from every
//! node, kill, pause and cut them off, and check every promise against the
//! database. See `harness` for the services they need and how they skip.

mod clients;
#[path = "../common/mod.rs"]
mod common;
mod harness;
mod workload;

mod failover;
mod fanout;
mod fencing;
mod house;
mod identity;
mod redis_outage;
