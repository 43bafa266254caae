//! What an actor already knows, so a hot batch needs no lookups:
//!
//! - [`KnownRequests`]: which (user, request_id) keys this actor has seen.
//!   When the auction had no stored requests as the actor started, a key
//!   never seen is surely new and needs no store lookup; only keys seen
//!   before (a retry whose answer fell out of the recent-answers memory) are
//!   looked up. Beyond its capacity the set gives up and everything is
//!   looked up again.
//! - [`BanCache`]: users' ban status, trusted for a second, so a ban takes
//!   effect on bids within a second without a query per batch.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use crate::domain::UserId;

/// Keys remembered before the set gives up (16 bytes or so each).
const KNOWN_CAPACITY: usize = 4_000_000;
/// How long a ban status read from the store is trusted.
pub const BAN_TTL: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub struct KnownRequests {
    seen: HashSet<u64>,
    /// True while every request of this auction went through this set.
    complete: bool,
}

fn fingerprint(user: UserId, request_id: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    user.hash(&mut hasher);
    request_id.hash(&mut hasher);
    hasher.finish()
}

impl KnownRequests {
    /// `complete`: the store held no request of this auction at start.
    pub fn new(complete: bool) -> Self {
        Self {
            seen: HashSet::new(),
            complete,
        }
    }

    /// Whether the store must be asked for an earlier answer to this key;
    /// records the key as seen either way.
    pub fn needs_lookup(&mut self, user: UserId, request_id: &str) -> bool {
        let fresh = self.seen.insert(fingerprint(user, request_id));
        if self.seen.len() > KNOWN_CAPACITY {
            self.seen.clear();
            self.complete = false;
        }
        !(self.complete && fresh)
    }
}

/// Ban status per user, with the time it was read.
#[derive(Debug, Default)]
pub struct BanCache {
    users: HashMap<UserId, (bool, Instant)>,
}

impl BanCache {
    /// The cached status if still fresh.
    pub fn get(&self, user: UserId, now: Instant) -> Option<bool> {
        self.users
            .get(&user)
            .filter(|(_, read)| now.duration_since(*read) < BAN_TTL)
            .map(|(banned, _)| *banned)
    }

    /// Drops what is cached about `user`.
    pub fn forget(&mut self, user: UserId) {
        self.users.remove(&user);
    }

    /// Records what the store said about `checked` users.
    pub fn update(&mut self, checked: &[UserId], banned: &HashSet<UserId>, read: Instant) {
        if self.users.len() > 100_000 {
            self.users
                .retain(|_, (_, at)| read.duration_since(*at) < BAN_TTL);
        }
        for user in checked {
            self.users.insert(*user, (banned.contains(user), read));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_complete_set_looks_up_only_repeated_keys() {
        let user = uuid::Uuid::new_v4();
        let mut known = KnownRequests::new(true);
        assert!(!known.needs_lookup(user, "a"));
        assert!(!known.needs_lookup(user, "b"));
        assert!(known.needs_lookup(user, "a"), "a repeat may be a retry");
        let other = uuid::Uuid::new_v4();
        assert!(!known.needs_lookup(other, "a"), "keys are per user");
    }

    #[test]
    fn an_incomplete_set_looks_up_everything() {
        let mut known = KnownRequests::new(false);
        assert!(known.needs_lookup(uuid::Uuid::new_v4(), "a"));
    }

    #[test]
    fn ban_statuses_expire() {
        let user = uuid::Uuid::new_v4();
        let mut cache = BanCache::default();
        let now = Instant::now();
        cache.update(&[user], &HashSet::from([user]), now);
        assert_eq!(cache.get(user, now), Some(true));
        assert_eq!(cache.get(user, now + BAN_TTL), None);
    }
}
