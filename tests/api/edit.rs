//! Editing a lot: title, reserve and buy-now only before its first bid, the
//! description while it is live; decided by the lot's actor in order with
//! bids (an edit racing the first bid never crosses it: `gavel verify` stays
//! clean), audited with what changed, shown as edited.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, AuctionBuilder, TestApp};
use crate::record::gavel_verify;

crate::on_both_backends!(
    before_the_first_bid_everything_changes_after_it_only_the_description,
    a_reserve_is_added_only_before_anything_happened_but_its_amount_may_change,
    bad_edits_are_refused_and_change_nothing,
    edits_racing_first_bids_never_cross_them,
);

fn path(lot: &str) -> String {
    format!("/api/v1/admin/auctions/{lot}")
}

async fn patch(app: &TestApp, token: &str, lot: &str, body: &Value) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .patch(app.url(&path(lot)))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .expect("a response");
    crate::helpers::decode(response).await
}

async fn before_the_first_bid_everything_changes_after_it_only_the_description(app: TestApp) {
    let admin = app.admin_token().await;
    let lot = app.auction_id_as(&admin, AuctionBuilder::new()).await;
    let (status, edited) = patch(
        &app,
        &admin,
        &lot,
        &json!({"title": "Walnut bureau", "description": "Restored.\nKeys included.",
                "reserve_price": 5000, "buy_now_price": 9000, "reason": "typo in the title"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["title"], "Walnut bureau");
    assert_eq!(edited["reserve_price"], 5000);
    assert_eq!(edited["buy_now_price"], 9000);
    assert!(edited["edited_at"].is_string(), "{edited}");
    let public = app.snapshot(&lot).await;
    assert_eq!(public["title"], "Walnut bureau");
    assert_eq!(public["description"], "Restored.\nKeys included.");
    assert_eq!(public["reserve_met"], false);

    // The first bid is decided under the new rules.
    let bidders = app.bidders("edi", 1).await;
    let (status, answer) = app.bid(&bidders[0].token, &lot, "e1", 1000, None).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(app.snapshot(&lot).await["reserve_met"], false);

    for body in [
        json!({"title": "Oak bureau"}),
        json!({"reserve_price": 4000}),
        json!({"buy_now_price": null}),
    ] {
        let (status, answer) = patch(&app, &admin, &lot, &body).await;
        assert_error(status, &answer, 409, "not_editable");
    }
    let (status, edited) = patch(&app, &admin, &lot, &json!({"description": "Restored."})).await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(app.snapshot(&lot).await["description"], "Restored.");
    assert_eq!(app.snapshot(&lot).await["title"], "Walnut bureau");

    // Audited with what changed.
    let (_, audit) = app
        .get_as(&admin, &format!("/api/v1/admin/audit?auction={lot}"))
        .await;
    let edits: Vec<&Value> = audit["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|entry| entry["action"] == "auction.edit")
        .collect();
    assert_eq!(edits.len(), 2, "{audit}");
    let first = edits[1];
    assert_eq!(first["details"]["changes"]["title"]["to"], "Walnut bureau");
    assert_eq!(
        first["details"]["changes"]["reserve_price"]["from"],
        Value::Null
    );
    assert_eq!(first["details"]["changes"]["reserve_price"]["to"], 5000);
    assert_eq!(first["details"]["reason"], "typo in the title");
    assert_eq!(
        edits[0]["details"]["changes"],
        json!({"description": {"from": "Restored.\nKeys included.", "to": "Restored."}})
    );

    // The record replays exactly.
    let (ok, out) = gavel_verify(&app.db, Some(&lot));
    assert!(ok, "{out}");
}

async fn a_reserve_is_added_only_before_anything_happened_but_its_amount_may_change(app: TestApp) {
    let admin = app.admin_token().await;
    let plain = app.auction_id_as(&admin, AuctionBuilder::new()).await;
    let reserved = app
        .auction_id_as(&admin, AuctionBuilder::new().reserve(3000))
        .await;
    for lot in [&plain, &reserved] {
        let (status, body) = app
            .post_empty_as(&admin, &format!("/api/v1/admin/auctions/{lot}/pause"))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    // A pause recorded reserve_met: adding or removing a reserve would
    // change it in the past.
    let (status, body) = patch(&app, &admin, &plain, &json!({"reserve_price": 2000})).await;
    assert_error(status, &body, 409, "not_editable");
    let (status, body) = patch(&app, &admin, &reserved, &json!({"reserve_price": null})).await;
    assert_error(status, &body, 409, "not_editable");
    let (status, body) = patch(&app, &admin, &reserved, &json!({"reserve_price": 2500})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["reserve_price"], 2500);
    for lot in [&plain, &reserved] {
        let (ok, out) = gavel_verify(&app.db, Some(lot));
        assert!(ok, "{out}");
    }
}

async fn bad_edits_are_refused_and_change_nothing(app: TestApp) {
    let admin = app.admin_token().await;
    let lot = app
        .auction_id_as(&admin, AuctionBuilder::new().reserve(3000))
        .await;
    let before = app.get_as(&admin, &path(&lot)).await.1;
    for (body, want, code) in [
        (json!({}), 422, "validation_failed"),
        (json!({"title": "  "}), 422, "validation_failed"),
        (json!({"title": "a\u{0007}b"}), 422, "validation_failed"),
        (json!({"reserve_price": 0}), 422, "validation_failed"),
        (json!({"buy_now_price": 500}), 422, "validation_failed"),
        (json!({"buy_now_price": 2000}), 422, "validation_failed"),
        (
            json!({"title": "x", "reason": ""}),
            422,
            "validation_failed",
        ),
        (json!({"reserve_price": "100"}), 400, "bad_request"),
        (json!({"starting_price": 100}), 400, "bad_request"),
    ] {
        let (status, answer) = patch(&app, &admin, &lot, &body).await;
        assert_error(status, &answer, want, code);
    }
    let bidders = app.bidders("edb", 1).await;
    let (status, answer) = patch(&app, &bidders[0].token, &lot, &json!({"title": "mine"})).await;
    assert_error(status, &answer, 403, "forbidden");
    let (status, answer) = patch(
        &app,
        &admin,
        "00000000-0000-7000-8000-000000000000",
        &json!({"title": "x"}),
    )
    .await;
    assert_error(status, &answer, 404, "not_found");
    let after = app.get_as(&admin, &path(&lot)).await.1;
    assert_eq!(before["title"], after["title"]);
    assert_eq!(before["reserve_price"], after["reserve_price"]);
    // An ended lot is not edited.
    let (status, _) = app
        .post_empty_as(&admin, &format!("/api/v1/admin/auctions/{lot}/close"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, answer) = patch(&app, &admin, &lot, &json!({"description": "late"})).await;
    assert_error(status, &answer, 409, "auction_ended");
}

async fn edits_racing_first_bids_never_cross_them(app: TestApp) {
    let admin = app.admin_token().await;
    let bidders = app.bidders("edr", 4).await;
    let mut lots = Vec::new();
    for _ in 0..6 {
        lots.push(
            app.auction_id_as(&admin, AuctionBuilder::new().reserve(1500))
                .await,
        );
    }
    // On every lot at once: a reserve change and four first bids.
    let (app, admin, bidders) = (&app, &admin, &bidders);
    let work = lots.iter().flat_map(|lot| {
        let edit = async move {
            let (status, _) = patch(app, admin, lot, &json!({"reserve_price": 1000})).await;
            (lot.clone(), "edit", status)
        };
        let bids = bidders.iter().enumerate().map(move |(i, bidder)| {
            let token = bidder.token.clone();
            async move {
                let (status, _) = app
                    .bid(&token, lot, &format!("r{i}"), 1000 + 100 * i as i64, None)
                    .await;
                (lot.clone(), "bid", status)
            }
        });
        std::iter::once(futures_util::future::Either::Left(edit))
            .chain(bids.map(futures_util::future::Either::Right))
    });
    let outcomes = futures_util::future::join_all(work).await;
    for (lot, what, status) in &outcomes {
        // A bid is decided (accepted, or below the minimum after a
        // higher one); an edit lands before the first bid or is refused.
        let decided = match *what {
            "bid" => status.is_success() || *status == StatusCode::UNPROCESSABLE_ENTITY,
            _ => status.is_success() || *status == StatusCode::CONFLICT,
        };
        assert!(decided, "{what} on {lot}: {status}");
    }
    for lot in &lots {
        let (_, view) = app.get_as(admin, &path(lot)).await;
        let edited = outcomes
            .iter()
            .any(|(l, what, status)| l == lot && *what == "edit" && status.is_success());
        assert_eq!(
            view["reserve_price"],
            if edited { 1000 } else { 1500 },
            "{view}"
        );
        // Whatever the order, the record replays exactly under the stored rules.
        let (ok, out) = gavel_verify(&app.db, Some(lot));
        assert!(ok, "{lot}: {out}");
    }
}
