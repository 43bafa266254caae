//! Second-chance offers: after a reserve-not-met close the house offers the
//! lot to its highest bidder at their highest bid; only they may answer,
//! once, before the deadline; the offer and relisting exclude each other.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, AuctionBuilder, Bidder, TestApp};

crate::on_both_backends!(
    the_highest_bidder_of_a_reserve_not_met_lot_accepts_an_offer_once,
    only_a_lot_that_failed_on_its_reserve_gets_an_offer,
    a_declined_or_expired_offer_frees_the_lot_for_relisting,
    one_answer_wins_when_accept_and_decline_race,
);

/// A lot with a reserve of 5,000 where `ada` leads at 2,050 from her
/// maximum of 3,000 over `bob`'s 2,000, closed without a winner.
async fn reserve_not_met(app: &TestApp, admin: &str, prefix: &str) -> (String, Bidder, Bidder) {
    let lot = app
        .auction_id_as(admin, AuctionBuilder::new().reserve(5000))
        .await;
    let bidders = app.bidders(prefix, 2).await;
    let (status, body) = app
        .bid(&bidders[0].token, &lot, "a", 1000, Some(3000))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app.bid(&bidders[1].token, &lot, "b", 2000, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, closed) = app
        .post_empty_as(admin, &format!("/api/v1/admin/auctions/{lot}/close"))
        .await;
    assert_eq!(status, StatusCode::OK, "{closed}");
    assert_eq!(closed["winner"], Value::Null);
    assert_eq!(closed["reserve_met"], false);
    let mut bidders = bidders.into_iter();
    let ada = bidders.next().expect("ada");
    let bob = bidders.next().expect("bob");
    (lot, ada, bob)
}

fn offer_path(lot: &str) -> String {
    format!("/api/v1/admin/auctions/{lot}/second-chance")
}

async fn the_highest_bidder_of_a_reserve_not_met_lot_accepts_an_offer_once(app: TestApp) {
    let admin = app.admin_token().await;
    let (lot, ada, bob) = reserve_not_met(&app, &admin, "sca").await;
    let price = app.snapshot(&lot).await["current_price"].clone();

    let (status, offer) = app.post_empty_as(&admin, &offer_path(&lot)).await;
    assert_eq!(status, StatusCode::CREATED, "{offer}");
    assert_eq!(offer["user_id"], ada.id.as_str());
    assert_eq!(
        offer["amount"], price,
        "at her highest bid, not her maximum"
    );
    assert_eq!(offer["status"], "open");
    let hours = (crate::helpers::parse_utc(&offer["expires_at"])
        - crate::helpers::parse_utc(&offer["created_at"]))
    .num_hours();
    assert_eq!(hours, 48);

    // Only Ada sees and may answer it.
    let (_, bobs) = app.get_as(&bob.token, "/api/v1/me/offers").await;
    assert_eq!(bobs["offers"], json!([]));
    let accept = format!("/api/v1/auctions/{lot}/second-chance/accept");
    let (status, body) = app.post_empty_as(&bob.token, &accept).await;
    assert_error(status, &body, 404, "not_found");
    let (status, adas) = app.get_as(&ada.token, "/api/v1/me/offers").await;
    assert_eq!(status, StatusCode::OK, "{adas}");
    assert_eq!(adas["offers"][0]["auction_id"], lot.as_str());
    assert_eq!(adas["offers"][0]["status"], "open");
    assert!(adas["offers"][0].get("user_id").is_none(), "{adas}");

    let (status, accepted) = app.post_empty_as(&ada.token, &accept).await;
    assert_eq!(status, StatusCode::OK, "{accepted}");
    assert_eq!(accepted["status"], "accepted");
    assert!(accepted["decided_at"].is_string());
    let (status, body) = app.post_empty_as(&ada.token, &accept).await;
    assert_error(status, &body, 409, "offer_closed");
    let decline = format!("/api/v1/auctions/{lot}/second-chance/decline");
    let (status, body) = app.post_empty_as(&ada.token, &decline).await;
    assert_error(status, &body, 409, "offer_closed");

    // Once per lot; a sold-by-offer lot is not relisted.
    let (status, body) = app.post_empty_as(&admin, &offer_path(&lot)).await;
    assert_error(status, &body, 409, "no_second_chance");
    let (status, body) = app
        .post_as(
            &admin,
            &format!("/api/v1/admin/auctions/{lot}/relist"),
            &json!({"ends_at": crate::helpers::rfc3339(chrono::Utc::now() + chrono::Duration::hours(1))}),
        )
        .await;
    assert_error(status, &body, 409, "not_relistable");

    let (_, view) = app
        .get_as(&admin, &format!("/api/v1/admin/auctions/{lot}"))
        .await;
    assert_eq!(view["second_chance"]["status"], "accepted", "{view}");
    let (_, audit) = app
        .get_as(&admin, &format!("/api/v1/admin/audit?auction={lot}"))
        .await;
    assert_eq!(
        audit["entries"][0]["action"], "auction.second_chance",
        "{audit}"
    );
    assert_eq!(audit["entries"][0]["details"]["user_id"], ada.id.as_str());
}

async fn only_a_lot_that_failed_on_its_reserve_gets_an_offer(app: TestApp) {
    let admin = app.admin_token().await;
    let bidders = app.bidders("scn", 1).await;
    let open = app
        .auction_id_as(&admin, AuctionBuilder::new().reserve(5000))
        .await;
    let sold = app.auction_id_as(&admin, AuctionBuilder::new()).await;
    app.bid(&bidders[0].token, &sold, "s", 1000, None).await;
    let no_bids = app
        .auction_id_as(&admin, AuctionBuilder::new().reserve(5000))
        .await;
    for lot in [&sold, &no_bids] {
        let (status, body) = app
            .post_empty_as(&admin, &format!("/api/v1/admin/auctions/{lot}/close"))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    for lot in [&open, &sold, &no_bids] {
        let (status, body) = app.post_empty_as(&admin, &offer_path(lot)).await;
        assert_error(status, &body, 409, "no_second_chance");
    }
    let (lot, _, _) = reserve_not_met(&app, &admin, "scm").await;
    for (body, want, code) in [
        (json!({"hours": 0}), 422, "validation_failed"),
        (json!({"hours": 169}), 422, "validation_failed"),
        (json!({"hours": "2"}), 400, "bad_request"),
        (json!({"days": 2}), 400, "bad_request"),
    ] {
        let (status, answer) = app.post_as(&admin, &offer_path(&lot), &body).await;
        assert_error(status, &answer, want, code);
    }
    let (status, body) = app
        .post_as(&bidders[0].token, &offer_path(&lot), &json!({}))
        .await;
    assert_error(status, &body, 403, "forbidden");
    assert_eq!(
        app.db_i64("SELECT COUNT(*) FROM second_chance_offers")
            .await,
        0
    );
    let (status, body) = app
        .post_as(&admin, &offer_path(&lot), &json!({"hours": 2}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn a_declined_or_expired_offer_frees_the_lot_for_relisting(app: TestApp) {
    let admin = app.admin_token().await;
    let relist_body = json!({"ends_at": crate::helpers::rfc3339(chrono::Utc::now() + chrono::Duration::hours(1))});
    for (prefix, expire) in [("scd", false), ("sce", true)] {
        let (lot, ada, _) = reserve_not_met(&app, &admin, prefix).await;
        let (status, body) = app.post_empty_as(&admin, &offer_path(&lot)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        // While the offer is open the lot is held.
        let relist = format!("/api/v1/admin/auctions/{lot}/relist");
        let (status, body) = app.post_as(&admin, &relist, &relist_body).await;
        assert_error(status, &body, 409, "not_relistable");
        if expire {
            let mut conn = app.db_connection().await;
            sqlx::query(&format!(
                "UPDATE second_chance_offers SET expires_at = expires_at - 49 * 3600 * 1000 \
                 WHERE auction_id = '{lot}'"
            ))
            .execute(&mut conn)
            .await
            .expect("expire the offer");
            let accept = format!("/api/v1/auctions/{lot}/second-chance/accept");
            let (status, body) = app.post_empty_as(&ada.token, &accept).await;
            assert_error(status, &body, 409, "offer_closed");
            assert!(
                body["error"]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("expired"),
                "{body}"
            );
            let (_, adas) = app.get_as(&ada.token, "/api/v1/me/offers").await;
            assert_eq!(adas["offers"][0]["status"], "expired", "{adas}");
        } else {
            let decline = format!("/api/v1/auctions/{lot}/second-chance/decline");
            let (status, body) = app.post_empty_as(&ada.token, &decline).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            assert_eq!(body["status"], "declined");
        }
        let (status, body) = app.post_as(&admin, &relist, &relist_body).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        // … and a relisted lot gets no offer.
        let (status, body) = app.post_empty_as(&admin, &offer_path(&lot)).await;
        assert_error(status, &body, 409, "no_second_chance");
    }
}

async fn one_answer_wins_when_accept_and_decline_race(app: TestApp) {
    let admin = app.admin_token().await;
    let (lot, ada, _) = reserve_not_met(&app, &admin, "scr").await;
    let (status, body) = app.post_empty_as(&admin, &offer_path(&lot)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let accept = format!("/api/v1/auctions/{lot}/second-chance/accept");
    let decline = format!("/api/v1/auctions/{lot}/second-chance/decline");
    let answers = futures_util::future::join_all((0..10).map(|i| {
        let path = if i % 2 == 0 { &accept } else { &decline };
        app.post_empty_as(&ada.token, path)
    }))
    .await;
    let won: Vec<&Value> = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::OK)
        .map(|(_, body)| body)
        .collect();
    assert_eq!(won.len(), 1, "{answers:?}");
    for (status, body) in &answers {
        if *status != StatusCode::OK {
            assert_error(*status, body, 409, "offer_closed");
        }
    }
    let (_, adas) = app.get_as(&ada.token, "/api/v1/me/offers").await;
    assert_eq!(adas["offers"][0]["status"], won[0]["status"]);
}
