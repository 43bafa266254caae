//! Changes to who a connection speaks for, told to every open connection on
//! every node: a logout ends one session (the socket then speaks for nobody);
//! a ban marks every socket of the user as banned, so each bid it sends is
//! refused `banned` (an unban lifts that); both make actors forget cached
//! ban statuses.
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
    /// The user was banned: every socket of theirs bids as a banned user.
    Banned { user: UserId },
    /// The user was unbanned.
    Unbanned { user: UserId },
}

impl IdentityChange {
    /// Whether a connection opened with the session `token_hash` loses its
    /// identity through this change.
    pub fn ends_session(&self, token_hash: &str) -> bool {
        match self {
            Self::SessionEnded { token_hash: ended } => ended == token_hash,
            Self::Banned { .. } | Self::Unbanned { .. } => false,
        }
    }

    /// The user's new ban status, when this change is about one.
    pub fn ban_status_of(&self, user: UserId) -> Option<bool> {
        match self {
            Self::Banned { user: banned } if *banned == user => Some(true),
            Self::Unbanned { user: unbanned } if *unbanned == user => Some(false),
            _ => None,
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
    fn a_logout_ends_only_its_session_and_a_ban_marks_every_session_of_the_user() {
        let user = uuid::Uuid::new_v4();
        let other = uuid::Uuid::new_v4();
        let logout = IdentityChange::SessionEnded {
            token_hash: "h1".into(),
        };
        assert!(logout.ends_session("h1"));
        assert!(!logout.ends_session("h2"));
        let ban = IdentityChange::Banned { user };
        assert!(
            !ban.ends_session("h1"),
            "a banned socket keeps its identity"
        );
        assert_eq!(ban.ban_status_of(user), Some(true));
        assert_eq!(ban.ban_status_of(other), None);
        assert_eq!(
            IdentityChange::Unbanned { user }.ban_status_of(user),
            Some(false)
        );
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
