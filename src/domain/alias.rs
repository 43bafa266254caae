//! Public bidder aliases: stable per auction, never a username or an id,
//! and not computable by outsiders: each is an HMAC-SHA256 of the auction and
//! the user under a server secret (generated on a database's first start and
//! kept in it, so every node agrees), cut to six hex digits (the documented
//! form `bidder-xxxxxx`). Two bidders of one auction can share an alias (at
//! 1,000 bidders, about a 3% chance that some pair does): see
//! docs/api.md.

use std::sync::OnceLock;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{AuctionId, UserId};

/// The process's alias key: installed at start-up from the database; a
/// random one when nothing installed it (unit tests, tools).
static KEY: OnceLock<Vec<u8>> = OnceLock::new();

/// Installs the alias key (once per process: one process serves one
/// database). Returns false when another key was installed first.
pub fn install_key(key: &[u8]) -> bool {
    KEY.get_or_init(|| key.to_vec()) == key
}

fn key() -> &'static [u8] {
    KEY.get_or_init(|| {
        use rand::RngCore as _;
        let mut key = vec![0_u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        key
    })
}

/// The alias under which `user` appears in `auction` (e.g. `bidder-7f3a21`).
/// Different auctions give the same user unrelated aliases.
pub fn bidder_alias(auction: AuctionId, user: UserId) -> String {
    alias_under(key(), auction, user)
}

fn alias_under(key: &[u8], auction: AuctionId, user: UserId) -> String {
    // HMAC takes keys of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(b"gavel-alias:");
    mac.update(auction.as_bytes());
    mac.update(user.as_bytes());
    let digest = mac.finalize().into_bytes();
    let mut alias = String::from("bidder-");
    for byte in &digest[..3] {
        alias.push_str(&format!("{byte:02x}"));
    }
    alias
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_is_stable_per_auction_and_differs_between_auctions() {
        let user = uuid::Uuid::new_v4();
        let a = uuid::Uuid::new_v4();
        let b = uuid::Uuid::new_v4();
        assert_eq!(bidder_alias(a, user), bidder_alias(a, user));
        assert_ne!(bidder_alias(a, user), bidder_alias(b, user));
        assert!(bidder_alias(a, user).starts_with("bidder-"));
        assert_eq!(bidder_alias(a, user).len(), "bidder-".len() + 6);
    }

    #[test]
    fn aliases_depend_on_the_key() {
        let (auction, user) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        let one = alias_under(b"one key", auction, user);
        assert_eq!(one, alias_under(b"one key", auction, user));
        assert_ne!(one, alias_under(b"another key", auction, user));
        // The unkeyed derivation outsiders could compute before is gone.
        let mut unkeyed = <sha2::Sha256 as sha2::Digest>::new();
        sha2::Digest::update(&mut unkeyed, b"gavel-alias:");
        sha2::Digest::update(&mut unkeyed, auction.as_bytes());
        sha2::Digest::update(&mut unkeyed, user.as_bytes());
        let digest = sha2::Digest::finalize(unkeyed);
        let old = format!("bidder-{:02x}{:02x}{:02x}", digest[0], digest[1], digest[2]);
        assert_ne!(bidder_alias(auction, user), old);
    }
}
