//! Changes to who a connection speaks for, told to every open connection on
//! every node: a logout ends one session, a ban ends every session of a user
//! (and an unban, like a ban, makes actors forget cached ban statuses).
//!
//! Locally a broadcast channel carries them; with Redis, the node that made
//! the change also publishes it on `{prefix}identity` and every other node
//! relays it into its own channel (see `cluster::redis`). A receiver that
//! lags behind the channel must recheck its identity with the store.

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::domain::UserId;

/// Changes buffered per receiver before it counts as lagging.
const CAPACITY: usize = 1024;

/// One change of identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum IdentityChange {
    /// The session with this token hash ended (logout).
    SessionEnded { token_hash: String },
    /// Every session of this user ended: the user was banned.
    Banned { user: UserId },
    /// The user was unbanned (their sessions had ended already).
    Unbanned { user: UserId },
}

impl IdentityChange {
    /// Whether a connection opened with `token_hash` for `user` loses its
    /// identity through this change.
    pub fn ends(&self, user: UserId, token_hash: &str) -> bool {
        match self {
            Self::SessionEnded { token_hash: ended } => ended == token_hash,
            Self::Banned { user: banned } => *banned == user,
            Self::Unbanned { .. } => false,
        }
    }
}

/// The node-local channel of identity changes.
#[derive(Debug)]
pub struct IdentityChanges {
    tx: broadcast::Sender<IdentityChange>,
}

impl Default for IdentityChanges {
    fn default() -> Self {
        Self {
            tx: broadcast::channel(CAPACITY).0,
        }
    }
}

impl IdentityChanges {
    /// Tells every local receiver.
    pub fn deliver(&self, change: IdentityChange) {
        let _ = self.tx.send(change);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<IdentityChange> {
        self.tx.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_logout_ends_only_its_session_and_a_ban_every_session_of_the_user() {
        let user = uuid::Uuid::new_v4();
        let other = uuid::Uuid::new_v4();
        let logout = IdentityChange::SessionEnded {
            token_hash: "h1".into(),
        };
        assert!(logout.ends(user, "h1"));
        assert!(!logout.ends(user, "h2"));
        let ban = IdentityChange::Banned { user };
        assert!(ban.ends(user, "h1") && ban.ends(user, "h2"));
        assert!(!ban.ends(other, "h1"));
        assert!(!IdentityChange::Unbanned { user }.ends(user, "h1"));
    }

    #[test]
    fn changes_round_trip_as_json() {
        let change = IdentityChange::Banned {
            user: uuid::Uuid::new_v4(),
        };
        let text = serde_json::to_string(&change).expect("JSON");
        assert_eq!(
            serde_json::from_str::<IdentityChange>(&text).expect("back"),
            change
        );
    }
}
