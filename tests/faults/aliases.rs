//! Bidder aliases are keyed with a secret the database keeps: the real
//! binary gives a bidder the same alias after a restart (the key is read
//! back, not made anew), and not the unkeyed hash anyone could compute from
//! the ids.

use sha2::{Digest as _, Sha256};

use crate::common::TempDir;
use crate::process::GavelProcess;

fn unkeyed_alias(auction: &str, user: &str) -> String {
    let auction = uuid::Uuid::parse_str(auction).expect("an auction id");
    let user = uuid::Uuid::parse_str(user).expect("a user id");
    let mut hasher = Sha256::new();
    hasher.update(b"gavel-alias:");
    hasher.update(auction.as_bytes());
    hasher.update(user.as_bytes());
    let digest = hasher.finalize();
    format!("bidder-{:02x}{:02x}{:02x}", digest[0], digest[1], digest[2])
}

#[tokio::test]
async fn aliases_survive_a_restart_and_are_not_the_unkeyed_hash() {
    let dir = TempDir::new("gavel-aliases");
    let url = format!("sqlite://{}", dir.0.join("gavel.db").display());
    let mut server = GavelProcess::start(&url).await;
    let admin = server.api.admin_token().await;
    let auction = server.api.auction(&admin).await;
    let bidders = server.api.bidders("alias", 3).await;
    for (i, bidder) in bidders.iter().enumerate() {
        let answer = server
            .api
            .bid(&bidder.token, &auction, "first", 1000 + 100 * i as i64)
            .await;
        assert!(
            matches!(&answer, Ok((status, _)) if status.is_success()),
            "{answer:?}"
        );
    }
    let before: Vec<String> = server
        .api
        .history(&auction)
        .await
        .iter()
        .map(|bid| bid["bidder"].as_str().expect("an alias").to_string())
        .collect();
    assert_eq!(before.len(), 3);
    for (bidder, alias) in bidders.iter().zip(&before) {
        assert_ne!(*alias, unkeyed_alias(&auction, &bidder.id));
    }
    server.terminate().await;

    let mut server = GavelProcess::start(&url).await;
    let after: Vec<String> = server
        .api
        .history(&auction)
        .await
        .iter()
        .map(|bid| bid["bidder"].as_str().expect("an alias").to_string())
        .collect();
    assert_eq!(before, after, "the same aliases after a restart");
    server.terminate().await;
}
