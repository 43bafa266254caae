//! Public bidder aliases: stable per auction, never a username or an id.

use sha2::{Digest, Sha256};

use super::{AuctionId, UserId};

/// The alias under which `user` appears in `auction` (e.g. `bidder-7f3a21`).
/// Different auctions give the same user unrelated aliases.
pub fn bidder_alias(auction: AuctionId, user: UserId) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"gavel-alias:");
    hasher.update(auction.as_bytes());
    hasher.update(user.as_bytes());
    let digest = hasher.finalize();
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
}
