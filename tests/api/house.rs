//! House controls: voiding bids by replay and bans that void (or bar).
//! docs/api.md (Admin: voids, bans), docs/bidding.md (Voids and bans).

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, AuctionBuilder, TestApp};

/// The alias `user` has on `auction` (what the public sees).
fn alias(auction: &str, user: &str) -> String {
    gavel::domain::alias::bidder_alias(
        auction.parse().expect("an auction id"),
        user.parse().expect("a user id"),
    )
}

/// Events after `seq` that name `user` in their private bidder column.
async fn events_naming(app: &TestApp, auction: &str, user: &str, after: i64) -> i64 {
    app.db_i64(&format!(
        "SELECT COUNT(*) FROM auction_events WHERE auction_id = '{auction}' \
         AND bidder_id = '{user}' AND seq > {after} AND kind <> 'voided'"
    ))
    .await
}

async fn void_as(app: &TestApp, admin: &str, auction: &str, body: Value) -> (StatusCode, Value) {
    app.post_as(
        admin,
        &format!("/api/v1/admin/auctions/{auction}/void"),
        &body,
    )
    .await
}

async fn a_void_replays_the_log_without_the_voided_bid(app: TestApp) {
    let admin = app.admin_token().await;
    let auction = app.auction_id_as(&admin, AuctionBuilder::new()).await;
    let bidders = app.bidders("voider", 2).await;
    let (alice, bob) = (&bidders[0], &bidders[1]);

    let (status, first) = app
        .bid(&alice.token, &auction, "a1", 1_000, Some(5_000))
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let alice_seq = first["seq"].as_i64().expect("a seq");
    // Bob's 2,000 is answered by Alice's maximum: she leads at 2,050.
    let (status, second) = app.bid(&bob.token, &auction, "b1", 2_000, None).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(second["status"], "outbid");
    let before = app.snapshot(&auction).await;
    assert_eq!(before["leader"], json!(alias(&auction, &alice.id)));
    let auto_seq = before["seq"].as_i64().expect("a seq");

    // An automatic bid is not the bidder's own: refused, nothing changes.
    let (status, body) = void_as(
        &app,
        &admin,
        &auction,
        json!({"seqs": [auto_seq], "reason": "test"}),
    )
    .await;
    assert_error(status, &body, 422, "not_voidable");
    // A reason is required; seqs or user_id, not neither.
    let (status, body) = void_as(&app, &admin, &auction, json!({"seqs": [alice_seq]})).await;
    assert_error(status, &body, 422, "validation_failed");
    let (status, body) = void_as(&app, &admin, &auction, json!({"reason": "x"})).await;
    assert_error(status, &body, 422, "validation_failed");
    // Bidders may not void.
    let (status, body) = void_as(
        &app,
        &bob.token,
        &auction,
        json!({"seqs": [alice_seq], "reason": "mine"}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    let (status, voided) = void_as(
        &app,
        &admin,
        &auction,
        json!({"seqs": [alice_seq], "reason": "entered by mistake"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{voided}");
    assert_eq!(voided["voided_seqs"], json!([alice_seq]));
    // Bob alone: his own 2,000, and he leads; the log gained two events.
    assert_eq!(voided["current_price"], 2_000);
    assert_eq!(voided["leader"], json!(alias(&auction, &bob.id)));
    assert_eq!(voided["bid_count"], 1);
    assert_eq!(voided["seq"], auto_seq + 2);
    let kinds = app
        .db_i64(&format!(
            "SELECT COUNT(*) FROM auction_events WHERE auction_id = '{auction}' \
             AND ((seq = {} AND kind = 'voided') OR (seq = {} AND kind = 'repriced'))",
            auto_seq + 1,
            auto_seq + 2
        ))
        .await;
    assert_eq!(kinds, 2);
    // Nothing was deleted.
    let rows = app
        .db_i64(&format!(
            "SELECT COUNT(*) FROM auction_events WHERE auction_id = '{auction}'"
        ))
        .await;
    assert_eq!(rows, auto_seq + 2);
    // Audited with the reason.
    let (status, audit) = app.get_as(&admin, "/api/v1/admin/audit").await;
    assert_eq!(status, StatusCode::OK);
    let entry = audit["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|entry| entry["action"] == "auction.void")
        .cloned()
        .expect("an auction.void entry");
    assert_eq!(entry["details"]["reason"], "entered by mistake");
    assert_eq!(entry["details"]["seqs"], json!([alice_seq]));

    // The same seq again: already voided.
    let (status, body) = void_as(
        &app,
        &admin,
        &auction,
        json!({"seqs": [alice_seq], "reason": "again"}),
    )
    .await;
    assert_error(status, &body, 422, "not_voidable");

    // Bidding goes on from the repriced state.
    let minimum = voided["min_next_bid"].as_i64().expect("a minimum");
    let (status, body) = app.bid(&alice.token, &auction, "a2", minimum, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["seq"], auto_seq + 3);

    // The public history keeps every bid and marks the voided one and the
    // automatic bid placed from its maximum; Bob's bid and the new one count.
    let history = app.history(&auction).await;
    let flags: Vec<(i64, bool)> = history
        .iter()
        .map(|bid| {
            (
                bid["seq"].as_i64().expect("seq"),
                bid["voided"].as_bool().expect("voided is a boolean"),
            )
        })
        .collect();
    assert_eq!(
        flags,
        vec![
            (alice_seq, true),
            (alice_seq + 1, false),
            (auto_seq, true),
            (auto_seq + 3, false)
        ],
        "{history:?}"
    );

    // Closed lots refuse voids.
    let (status, _) = app
        .post_empty_as(&admin, &format!("/api/v1/admin/auctions/{auction}/close"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = void_as(
        &app,
        &admin,
        &auction,
        json!({"seqs": [auto_seq + 3], "reason": "late"}),
    )
    .await;
    assert_error(status, &body, 409, "auction_ended");
}

async fn a_banned_leader_with_a_high_maximum_loses_everything(app: TestApp) {
    let admin = app.admin_token().await;
    let auction = app.auction_id_as(&admin, AuctionBuilder::new()).await;
    let other = app.auction_id_as(&admin, AuctionBuilder::new()).await;
    let bidders = app.bidders("banned", 3).await;
    let (mallory, bob, carol) = (&bidders[0], &bidders[1], &bidders[2]);

    app.bid(&bob.token, &auction, "b1", 1_000, None).await;
    let (status, body) = app
        .bid(&mallory.token, &auction, "m1", 1_100, Some(900_000))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Carol is answered by Mallory's maximum, twice.
    app.bid(&carol.token, &auction, "c1", 3_000, None).await;
    app.bid(&carol.token, &auction, "c2", 5_000, Some(6_000))
        .await;
    let (status, body) = app
        .bid(&mallory.token, &other, "m2", 1_000, Some(50_000))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let before = app.snapshot(&auction).await;
    assert_eq!(before["leader"], json!(alias(&auction, &mallory.id)));
    let ban_seq = before["seq"].as_i64().expect("a seq");

    let (status, user) = app
        .post_as(
            &admin,
            &format!("/api/v1/admin/users/{}/ban", mallory.id),
            &json!({"reason": "shill bidding"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["banned"], true);
    let mut voided_on: Vec<String> = user["voided_on"]
        .as_array()
        .expect("voided_on")
        .iter()
        .map(|id| id.as_str().expect("an id").to_string())
        .collect();
    voided_on.sort();
    let mut want = vec![auction.clone(), other.clone()];
    want.sort();
    assert_eq!(voided_on, want);

    // The price and leader are those of the remaining bids: Bob 1,000,
    // Carol 3,000, then Carol raising to 5,000 (max 6,000) while leading.
    let after = app.snapshot(&auction).await;
    assert_eq!(after["leader"], json!(alias(&auction, &carol.id)));
    assert_eq!(after["current_price"], 3_000);
    assert!(after["current_price"].as_i64() <= before["current_price"].as_i64());
    let empty = app.snapshot(&other).await;
    assert_eq!(empty["leader"], Value::Null);
    assert_eq!(empty["bid_count"], 0);
    assert_eq!(empty["current_price"], empty["starting_price"]);

    // Mallory's bids are refused; no new event names them, also when
    // others bid and when the lot closes.
    let (status, body) = app.bid(&mallory.token, &auction, "m3", 900_000, None).await;
    assert_error(status, &body, 403, "banned");
    let minimum = after["min_next_bid"].as_i64().expect("a minimum");
    let (status, body) = app.bid(&bob.token, &auction, "b2", minimum, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, closed) = app
        .post_empty_as(&admin, &format!("/api/v1/admin/auctions/{auction}/close"))
        .await;
    assert_eq!(status, StatusCode::OK, "{closed}");
    assert_ne!(closed["winner"], json!(alias(&auction, &mallory.id)));
    assert!(closed["winner"].is_string(), "{closed}");
    assert_eq!(events_naming(&app, &auction, &mallory.id, ban_seq).await, 0);

    // The ban and the voids are audited with the reason and the username.
    let (_, audit) = app.get_as(&admin, "/api/v1/admin/audit").await;
    let entries = audit["entries"].as_array().expect("entries");
    let voids: Vec<&Value> = entries
        .iter()
        .filter(|entry| entry["action"] == "auction.void")
        .collect();
    assert_eq!(voids.len(), 2, "{audit}");
    for entry in voids {
        assert_eq!(entry["details"]["reason"], "shill bidding");
        assert_eq!(entry["details"]["username"], json!(mallory.username));
    }
}

async fn a_ban_that_keeps_bids_stops_the_maximum_and_the_win(app: TestApp) {
    let admin = app.admin_token().await;
    let contested = app.auction_id_as(&admin, AuctionBuilder::new()).await;
    let alone = app.auction_id_as(&admin, AuctionBuilder::new()).await;
    let bidders = app.bidders("kept", 2).await;
    let (mallory, bob) = (&bidders[0], &bidders[1]);
    for (auction, request) in [(&contested, "m1"), (&alone, "m2")] {
        let (status, body) = app
            .bid(&mallory.token, auction, request, 1_000, Some(900_000))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let ban_seq = app.snapshot(&contested).await["seq"]
        .as_i64()
        .expect("a seq");

    let (status, user) = app
        .post_as(
            &admin,
            &format!("/api/v1/admin/users/{}/ban", mallory.id),
            &json!({"reason": "payment fraud", "keep_bids": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(
        user["barred_on"].as_array().map(Vec::len),
        Some(2),
        "{user}"
    );
    // Their bids stand...
    let kept = app.snapshot(&contested).await;
    assert_eq!(kept["leader"], json!(alias(&contested, &mallory.id)));
    assert_eq!(kept["current_price"], 1_000);
    // ...but their maximum no longer bids: Bob takes the lead at the minimum.
    let minimum = kept["min_next_bid"].as_i64().expect("a minimum");
    let (status, body) = app.bid(&bob.token, &contested, "b1", minimum, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "leading", "{body}");
    assert_eq!(body["current_price"], minimum);
    assert_eq!(
        events_naming(&app, &contested, &mallory.id, ban_seq).await,
        0
    );

    // A barred leader never wins: the lot closes without a winner.
    let (status, closed) = app
        .post_empty_as(&admin, &format!("/api/v1/admin/auctions/{alone}/close"))
        .await;
    assert_eq!(status, StatusCode::OK, "{closed}");
    assert_eq!(closed["winner"], Value::Null, "{closed}");

    // Barred survives a restart (the row keeps it).
    let app = app.restart().await;
    let (status, closed) = app
        .post_empty_as(
            &app.admin_token().await,
            &format!("/api/v1/admin/auctions/{contested}/close"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{closed}");
    assert_eq!(closed["winner"], json!(alias(&contested, &bob.id)));
}

async fn a_void_of_a_bidders_bids_reaches_watchers(app: TestApp) {
    use futures_util::StreamExt as _;
    let admin = app.admin_token().await;
    let auction = app.auction_id_as(&admin, AuctionBuilder::new()).await;
    let bidders = app.bidders("watched", 2).await;
    app.bid(&bidders[0].token, &auction, "a1", 1_000, Some(3_000))
        .await;
    app.bid(&bidders[1].token, &auction, "b1", 1_500, None)
        .await;
    let seq = app.snapshot(&auction).await["seq"].as_i64().expect("a seq");

    let response = app
        .client
        .get(app.url(&format!("/api/v1/auctions/{auction}/events")))
        .header("Last-Event-ID", seq.to_string())
        .send()
        .await
        .expect("SSE");
    assert_eq!(response.status(), StatusCode::OK);
    let mut stream = eventsource_stream::Eventsource::eventsource(response.bytes_stream());

    let (status, body) = void_as(
        &app,
        &admin,
        &auction,
        json!({"user_id": bidders[0].id, "reason": "duplicate account"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while seen.len() < 2 {
        let next = tokio::time::timeout_at(deadline, stream.next())
            .await
            .expect("events in time")
            .expect("an event")
            .expect("a readable event");
        if next.event == "voided" || next.event == "repriced" {
            let data: Value = serde_json::from_str(&next.data).expect("JSON data");
            seen.push((next.event, data));
        }
    }
    assert_eq!(seen[0].0, "voided");
    assert_eq!(seen[0].1["voided"]["reason"], "duplicate account");
    assert_eq!(seen[0].1["seq"], seq + 1);
    assert_eq!(seen[1].0, "repriced");
    assert_eq!(seen[1].1["current_price"], 1_500);
    assert_eq!(seen[1].1["leader"], json!(alias(&auction, &bidders[1].id)));
}

async fn the_admin_lot_page_voids_a_bid_after_a_confirmation(app: TestApp) {
    use crate::helpers::{ADMIN_PASSWORD, ADMIN_USER};
    use crate::security_inputs::Pages;
    let admin = app.admin_token().await;
    let auction = app.auction_id_as(&admin, AuctionBuilder::new()).await;
    let bidders = app.bidders("paged", 2).await;
    let (_, first) = app
        .bid(&bidders[0].token, &auction, "a1", 1_000, Some(4_000))
        .await;
    let seq = first["seq"].as_i64().expect("a seq").to_string();
    app.bid(&bidders[1].token, &auction, "b1", 1_500, None)
        .await;

    let mut pages = Pages::new(&app);
    let signed_in = pages.log_in(ADMIN_USER, ADMIN_PASSWORD, "/admin").await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER);
    let lot = pages.get(&format!("/admin/auctions/{auction}")).await;
    assert_eq!(lot.status, StatusCode::OK);
    let link = format!("/admin/auctions/{auction}/void?seq={seq}");
    assert!(lot.body.contains(&link), "{}", lot.body);

    let confirm = pages.get(&link).await;
    assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.body);
    assert!(confirm.body.contains("Reason"), "{}", confirm.body);
    let csrf = confirm.input("csrf");
    let path = format!("/admin/auctions/{auction}/void");
    // Without a reason the form comes back with the message; nothing voided.
    let again = pages
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("seq", &seq),
                ("user", ""),
                ("reason", " "),
            ],
        )
        .await;
    assert_eq!(
        again.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        again.body
    );
    assert!(again.body.contains("Must not be empty"), "{}", again.body);
    assert_eq!(app.snapshot(&auction).await["current_price"], 1_550);

    let done = pages
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("seq", &seq),
                ("user", ""),
                ("reason", "phone bid mix-up"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location(), format!("/admin/auctions/{auction}"));
    let after = app.snapshot(&auction).await;
    assert_eq!(after["current_price"], 1_500);
    assert_eq!(after["leader"], json!(alias(&auction, &bidders[1].id)));
    let lot = pages.get(&format!("/admin/auctions/{auction}")).await;
    assert!(lot.body.contains(">voided<"), "{}", lot.body);
    assert!(lot.body.contains("Record verified"), "{}", lot.body);
    let head = app.snapshot(&auction).await["head_hash"].clone();
    assert!(
        lot.body.contains(head.as_str().expect("a head hash")),
        "{}",
        lot.body
    );
}

async fn pause_resume_extend_and_withdraw_are_decided_audited_and_verifiable(app: TestApp) {
    use crate::helpers::{parse_utc, ADMIN_PASSWORD, ADMIN_USER};
    use crate::security_inputs::Pages;
    let admin = app.admin_token().await;
    let auction = app.auction_id_as(&admin, AuctionBuilder::new()).await;
    let bidders = app.bidders("paused", 2).await;
    let (status, body) = app
        .bid(&bidders[0].token, &auction, "a1", 1_000, Some(2_000))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let before = app.snapshot(&auction).await;
    assert_eq!(before["paused"], false);
    let path = |action: &str| format!("/api/v1/admin/auctions/{auction}/{action}");

    let (status, paused) = app.post_empty_as(&admin, &path("pause")).await;
    assert_eq!(status, StatusCode::OK, "{paused}");
    assert_eq!(paused["paused"], true);
    let (status, body) = app
        .bid(&bidders[1].token, &auction, "b1", 5_000, None)
        .await;
    assert_error(status, &body, 409, "auction_paused");
    let (status, body) = app.post_empty_as(&admin, &path("pause")).await;
    assert_error(status, &body, 409, "auction_paused");
    tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
    let (status, resumed) = app.post_empty_as(&admin, &path("resume")).await;
    assert_eq!(status, StatusCode::OK, "{resumed}");
    assert_eq!(resumed["paused"], false);
    let moved = parse_utc(&resumed["ends_at"]) - parse_utc(&before["ends_at"]);
    assert!(moved >= chrono::Duration::milliseconds(1_200), "{moved}");
    let (status, body) = app.post_empty_as(&admin, &path("resume")).await;
    assert_error(status, &body, 409, "not_paused");
    let (status, body) = app
        .bid(&bidders[1].token, &auction, "b2", 5_000, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, body) = app
        .post_as(&admin, &path("extend"), &json!({"secs": 0}))
        .await;
    assert_error(status, &body, 422, "validation_failed");
    let (status, extended) = app
        .post_as(
            &admin,
            &path("extend"),
            &json!({"secs": 600, "reason": "late phone bids"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{extended}");
    assert_eq!(
        parse_utc(&extended["ends_at"]) - parse_utc(&resumed["ends_at"]),
        chrono::Duration::seconds(600)
    );

    // The admin page pauses too (and shows the resume button then).
    let mut pages = Pages::new(&app);
    pages.log_in(ADMIN_USER, ADMIN_PASSWORD, "/admin").await;
    let lot_path = format!("/admin/auctions/{auction}");
    let csrf = pages.csrf(&lot_path).await;
    let done = pages
        .post(
            &format!("{lot_path}/control"),
            &[("csrf", &csrf), ("action", "pause")],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let lot = pages.get(&lot_path).await;
    assert!(lot.body.contains("resume-button"), "{}", lot.body);
    assert_eq!(app.snapshot(&auction).await["paused"], true);

    let (status, body) = app.post_as(&admin, &path("withdraw"), &json!({})).await;
    assert_error(status, &body, 422, "validation_failed");
    let (status, withdrawn) = app
        .post_as(
            &admin,
            &path("withdraw"),
            &json!({"reason": "consignor withdrew the lot"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{withdrawn}");
    assert_eq!(withdrawn["status"], "closed");
    assert_eq!(withdrawn["winner"], Value::Null);
    assert_eq!(withdrawn["paused"], false);
    let (status, body) = app.post_empty_as(&admin, &path("pause")).await;
    assert_error(status, &body, 409, "auction_ended");
    let reason = app
        .db_i64(&format!(
            "SELECT COUNT(*) FROM auction_events WHERE auction_id = '{auction}' \
             AND kind = 'closed' AND data LIKE '%consignor withdrew the lot%'"
        ))
        .await;
    assert_eq!(reason, 1);

    let (_, audit) = app.get_as(&admin, "/api/v1/admin/audit").await;
    for action in [
        "auction.pause",
        "auction.resume",
        "auction.extend",
        "auction.withdraw",
    ] {
        assert!(
            audit["entries"]
                .as_array()
                .expect("entries")
                .iter()
                .any(|entry| entry["action"] == action && entry["target"] == json!(auction)),
            "{action}: {audit}"
        );
    }

    // The whole record replays.
    let db = app.stop().await;
    let store = gavel::store::connect(&db.url).await.expect("connect");
    let report = gavel::auction::verify::verify(&store, None, |_, _| {})
        .await
        .expect("verify");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

crate::on_both_backends!(
    pause_resume_extend_and_withdraw_are_decided_audited_and_verifiable,
    a_void_replays_the_log_without_the_voided_bid,
    the_admin_lot_page_voids_a_bid_after_a_confirmation,
    a_banned_leader_with_a_high_maximum_loses_everything,
    a_ban_that_keeps_bids_stops_the_maximum_and_the_win,
    a_void_of_a_bidders_bids_reaches_watchers,
);
