//! Relisting an unsold lot: a new lot linked to the old one, made once even
//! when many admins ask at the same time; live, sold and relisted lots are
//! refused; bad input changes nothing.

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, rfc3339, AuctionBuilder, TestApp};

crate::on_both_backends!(
    an_unsold_lot_is_relisted_once_as_a_new_lot_linked_to_it,
    only_lots_that_ended_without_a_winner_can_be_relisted,
    concurrent_relistings_make_exactly_one_new_lot,
    bad_relistings_are_refused_and_change_nothing,
);

fn relist_body(hours: i64) -> Value {
    json!({ "ends_at": rfc3339(Utc::now() + chrono::Duration::hours(hours)) })
}

/// A lot with a reserve of 5,000 and one bid of 1,500, closed unsold.
async fn unsold_lot(app: &TestApp, admin: &str) -> String {
    let lot = app
        .auction_id_as(
            admin,
            AuctionBuilder::new()
                .set("title", json!("Oak chest"))
                .set("description", json!("Early 19th century"))
                .set("currency", json!("GBP"))
                .reserve(5000)
                .buy_now(9000),
        )
        .await;
    let bidder = app.bidders("rel", 1).await;
    let (status, body) = app.bid(&bidder[0].token, &lot, "r1", 1500, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, closed) = app
        .post_empty_as(admin, &format!("/api/v1/admin/auctions/{lot}/close"))
        .await;
    assert_eq!(status, StatusCode::OK, "{closed}");
    assert_eq!(closed["winner"], Value::Null, "{closed}");
    lot
}

async fn an_unsold_lot_is_relisted_once_as_a_new_lot_linked_to_it(app: TestApp) {
    let admin = app.admin_token().await;
    let old = unsold_lot(&app, &admin).await;

    let mut body = relist_body(2);
    body["reserve_price"] = json!(3000);
    body["buy_now_price"] = Value::Null;
    let (status, new) = app
        .post_as(
            &admin,
            &format!("/api/v1/admin/auctions/{old}/relist"),
            &body,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{new}");
    let new_id = new["id"].as_str().expect("the new lot's id").to_owned();
    assert_ne!(new_id, old);
    assert_eq!(new["relisted_from"], old.as_str());
    assert_eq!(new["title"], "Oak chest");
    assert_eq!(new["description"], "Early 19th century");
    assert_eq!(new["currency"], "GBP");
    assert_eq!(new["starting_price"], 1000, "kept from the old lot");
    assert_eq!(new["reserve_price"], 3000, "lowered");
    assert_eq!(new["buy_now_price"], Value::Null, "removed by null");
    assert_eq!(new["status"], "open");
    assert_eq!(new["bid_count"], 0);

    // Both lots know the link.
    let (_, old_view) = app
        .get_as(&admin, &format!("/api/v1/admin/auctions/{old}"))
        .await;
    assert_eq!(old_view["relisted_as"], new_id.as_str(), "{old_view}");
    assert_eq!(old_view["relisted_from"], Value::Null);
    let (_, new_view) = app
        .get_as(&admin, &format!("/api/v1/admin/auctions/{new_id}"))
        .await;
    assert_eq!(new_view["relisted_from"], old.as_str(), "{new_view}");
    assert_eq!(new_view["relisted_as"], Value::Null);

    // The new lot takes bids; the old one stays closed as it was.
    let bidders = app.bidders("re2", 1).await;
    let (status, answer) = app.bid(&bidders[0].token, &new_id, "n1", 1000, None).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(app.snapshot(&old).await["status"], "closed");

    // Once only.
    let (status, again) = app
        .post_as(
            &admin,
            &format!("/api/v1/admin/auctions/{old}/relist"),
            &relist_body(2),
        )
        .await;
    assert_error(status, &again, 409, "not_relistable");

    // Audited on both lots.
    let (_, audit) = app
        .get_as(&admin, &format!("/api/v1/admin/audit?auction={old}"))
        .await;
    assert_eq!(audit["entries"][0]["action"], "auction.relist", "{audit}");
    assert_eq!(
        audit["entries"][0]["details"]["relisted_as"],
        new_id.as_str()
    );
    let (_, audit) = app
        .get_as(&admin, &format!("/api/v1/admin/audit?auction={new_id}"))
        .await;
    assert_eq!(audit["entries"][0]["action"], "auction.create", "{audit}");
    assert_eq!(
        audit["entries"][0]["details"]["relisted_from"],
        old.as_str()
    );
}

async fn only_lots_that_ended_without_a_winner_can_be_relisted(app: TestApp) {
    let admin = app.admin_token().await;
    let bidders = app.bidders("only", 1).await;
    let open = app.auction_id_as(&admin, AuctionBuilder::new()).await;
    let scheduled = app
        .auction_id_as(
            &admin,
            AuctionBuilder::new()
                .starts_in(chrono::Duration::minutes(30))
                .ends_in(chrono::Duration::hours(2)),
        )
        .await;
    let sold = app.auction_id_as(&admin, AuctionBuilder::new()).await;
    let (status, body) = app.bid(&bidders[0].token, &sold, "s1", 1000, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .post_empty_as(&admin, &format!("/api/v1/admin/auctions/{sold}/close"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["winner"].is_string(), "{body}");
    for lot in [&open, &scheduled, &sold] {
        let (status, body) = app
            .post_as(
                &admin,
                &format!("/api/v1/admin/auctions/{lot}/relist"),
                &relist_body(1),
            )
            .await;
        assert_error(status, &body, 409, "not_relistable");
    }
    // A cancelled lot did not sell: it may be relisted.
    let (status, _) = app
        .post_empty_as(&admin, &format!("/api/v1/admin/auctions/{open}/cancel"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app
        .post_as(
            &admin,
            &format!("/api/v1/admin/auctions/{open}/relist"),
            &relist_body(1),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // A bidder may not relist; an unknown lot is 404.
    let (status, body) = app
        .post_as(
            &bidders[0].token,
            &format!("/api/v1/admin/auctions/{sold}/relist"),
            &relist_body(1),
        )
        .await;
    assert_error(status, &body, 403, "forbidden");
    let (status, body) = app
        .post_as(
            &admin,
            "/api/v1/admin/auctions/00000000-0000-7000-8000-000000000000/relist",
            &relist_body(1),
        )
        .await;
    assert_error(status, &body, 404, "not_found");
}

async fn concurrent_relistings_make_exactly_one_new_lot(app: TestApp) {
    let admin = app.admin_token().await;
    let old = unsold_lot(&app, &admin).await;
    let before = app.db_i64("SELECT COUNT(*) FROM auctions").await;
    let path = format!("/api/v1/admin/auctions/{old}/relist");
    let body = relist_body(1);
    let answers =
        futures_util::future::join_all((0..8).map(|_| app.post_as(&admin, &path, &body))).await;
    let created: Vec<&Value> = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::CREATED)
        .map(|(_, body)| body)
        .collect();
    assert_eq!(created.len(), 1, "{answers:?}");
    for (status, body) in &answers {
        if *status != StatusCode::CREATED {
            assert_error(*status, body, 409, "not_relistable");
        }
    }
    assert_eq!(
        app.db_i64("SELECT COUNT(*) FROM auctions").await,
        before + 1
    );
    assert_eq!(app.db_i64("SELECT COUNT(*) FROM relists").await, 1);
}

async fn bad_relistings_are_refused_and_change_nothing(app: TestApp) {
    let admin = app.admin_token().await;
    let old = unsold_lot(&app, &admin).await;
    let path = format!("/api/v1/admin/auctions/{old}/relist");
    let past = rfc3339(Utc::now() - chrono::Duration::hours(1));
    let cases: Vec<(Value, u16, &str)> = vec![
        (json!({}), 400, "bad_request"),
        (json!({"ends_at": "soon"}), 422, "validation_failed"),
        (json!({"ends_at": past}), 422, "validation_failed"),
        (
            json!({"ends_at": rfc3339(Utc::now() + chrono::Duration::hours(1)), "title": "x"}),
            400,
            "bad_request",
        ),
        (
            json!({"ends_at": rfc3339(Utc::now() + chrono::Duration::hours(1)), "starting_price": -5}),
            422,
            "validation_failed",
        ),
        (
            json!({"ends_at": rfc3339(Utc::now() + chrono::Duration::hours(1)), "buy_now_price": 10}),
            422,
            "validation_failed",
        ),
        (
            json!({"ends_at": rfc3339(Utc::now() + chrono::Duration::hours(1)), "reserve_price": "1000"}),
            400,
            "bad_request",
        ),
        (
            json!({"ends_at": rfc3339(Utc::now() + chrono::Duration::hours(1)), "extend_window_secs": -1}),
            422,
            "validation_failed",
        ),
    ];
    for (body, status_want, code) in cases {
        let (status, answer) = app.post_as(&admin, &path, &body).await;
        assert_error(status, &answer, status_want, code);
    }
    assert_eq!(app.db_i64("SELECT COUNT(*) FROM relists").await, 0);
    // Still relistable after all that.
    let (status, body) = app.post_as(&admin, &path, &relist_body(1)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}
