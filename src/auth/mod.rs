//! Accounts and sessions: password hashing, session tokens, input rules for
//! usernames and passwords (with a built-in list of the most common
//! passwords), the account operations built on them, and the abuse limits.
//!
//! Passwords are hashed with Argon2id (the crate's defaults: 19 MiB, 2
//! passes) on a blocking thread. Session tokens are 256 random bits, sent to
//! the client once and stored only as their SHA-256.

pub mod accounts;
pub mod common_passwords;
pub mod password;
pub mod rate_limit;
pub mod token;

pub use accounts::{AccountError, Accounts};
