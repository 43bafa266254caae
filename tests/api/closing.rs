//! Auctions end on time by themselves (with or without a met reserve, also
//! when overdue at start-up), exactly once; admins close early and cancel,
//! and every admin action lands in the audit log; soft close extends.

use std::time::Duration;

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{
    assert_alias, assert_error, db_i64, parse_utc, AuctionBuilder, TestApp, SNAPSHOT_KEYS,
};

crate::on_both_backends!(
    an_auction_with_a_met_reserve_closes_on_time_with_the_leader_as_winner,
    an_auction_with_an_unmet_reserve_or_no_bids_closes_on_time_without_a_winner,
    an_auction_overdue_at_start_up_closes_at_once_and_only_once,
    an_admin_closes_early_and_cancels_and_the_audit_log_says_so,
    a_bid_in_the_soft_close_window_extends_the_end,
    an_extended_auction_closes_at_its_new_end_not_the_old_one,
    a_scheduled_auction_opens_at_its_start_by_itself,
);

/// Waits until the auction is closed; the close must come soon after `ends_at`.
async fn wait_until_closed(app: &TestApp, auction: &str) -> Value {
    let snapshot = app
        .wait_for_snapshot(auction, Duration::from_secs(8), |s| s["status"] != "open")
        .await;
    assert_eq!(snapshot["status"], "closed", "{snapshot}");
    let ends_at = parse_utc(&snapshot["ends_at"]);
    let late = Utc::now() - ends_at;
    assert!(
        late < chrono::Duration::milliseconds(3000),
        "closed {late} after its end: {snapshot}"
    );
    snapshot
}

async fn an_auction_with_a_met_reserve_closes_on_time_with_the_leader_as_winner(app: TestApp) {
    let bidders = app.bidders("ann", 2).await;
    let admin = app.admin_token().await;
    let id = app
        .auction_id_as(
            &admin,
            AuctionBuilder::new()
                .reserve(1500)
                .ends_in(chrono::Duration::milliseconds(2000)),
        )
        .await;
    let (status, body) = app.bid(&bidders[0].token, &id, "a", 1000, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app.bid(&bidders[1].token, &id, "b", 1200, Some(2000)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let open = app.snapshot(&id).await;
    assert_eq!(open["status"], "open");
    assert_eq!(open["reserve_met"], true, "{open}");
    assert_eq!(open["winner"], Value::Null);
    assert_eq!(open["closed_at"], Value::Null, "{open}");
    let leader = assert_alias(&open["leader"]);

    let closed = wait_until_closed(&app, &id).await;
    crate::helpers::assert_keys(&closed, &SNAPSHOT_KEYS);
    // Closed at its end: the actual close time is at or just after it.
    let closed_at = parse_utc(&closed["closed_at"]);
    let ends_at = parse_utc(&closed["ends_at"]);
    assert!(closed_at >= ends_at, "{closed}");
    assert!(
        closed_at - ends_at < chrono::Duration::seconds(10),
        "{closed}"
    );
    assert_eq!(closed["winner"], leader.as_str(), "{closed}");
    assert_eq!(closed["leader"], leader.as_str());
    assert_eq!(closed["current_price"], 1500);
    assert_eq!(closed["seq"], open["seq"].as_i64().expect("a seq") + 1);
    let (status, body) = app.bid(&bidders[0].token, &id, "late", 5000, None).await;
    assert_error(status, &body, 409, "auction_not_open");
    let (status, list) = app.get("/api/v1/auctions?status=closed").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["auctions"][0]["winner"], leader.as_str(), "{list}");
    // The stored row has the same close time as the live state.
    assert_eq!(
        list["auctions"][0]["closed_at"], closed["closed_at"],
        "{list}"
    );
    // The history holds bids only; closing is not a bid.
    assert_eq!(app.history(&id).await.len(), 2);
}

async fn an_auction_with_an_unmet_reserve_or_no_bids_closes_on_time_without_a_winner(app: TestApp) {
    let (_, token) = app.bidder("bea").await;
    let admin = app.admin_token().await;
    let unmet = app
        .auction_id_as(
            &admin,
            AuctionBuilder::new()
                .reserve(5000)
                .ends_in(chrono::Duration::milliseconds(2000)),
        )
        .await;
    let empty = app
        .auction_id_as(
            &admin,
            AuctionBuilder::new().ends_in(chrono::Duration::milliseconds(2000)),
        )
        .await;
    let (status, body) = app.bid(&token, &unmet, "a", 1000, Some(4000)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let open = app.snapshot(&unmet).await;
    assert_eq!(open["reserve_met"], false, "{open}");
    assert_eq!(open["current_price"], 1000, "the reserve is not revealed");

    let closed = wait_until_closed(&app, &unmet).await;
    assert_eq!(closed["winner"], Value::Null, "{closed}");
    assert_eq!(closed["reserve_met"], false, "{closed}");
    assert_eq!(closed["seq"], 2);
    let closed = wait_until_closed(&app, &empty).await;
    assert_eq!(closed["winner"], Value::Null, "{closed}");
    assert_eq!(closed["leader"], Value::Null, "{closed}");
    assert_eq!(closed["bid_count"], 0);
    assert_eq!(closed["seq"], 1);
}

async fn an_auction_overdue_at_start_up_closes_at_once_and_only_once(app: TestApp) {
    let (_, token) = app.bidder("cid").await;
    let admin = app.admin_token().await;
    let id = app
        .auction_id_as(
            &admin,
            AuctionBuilder::new().ends_in(chrono::Duration::milliseconds(1500)),
        )
        .await;
    let (status, body) = app.bid(&token, &id, "a", 1000, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let leader = assert_alias(&app.snapshot(&id).await["leader"]);
    let ends_at = parse_utc(&app.snapshot(&id).await["ends_at"]);

    let config = app.config.clone();
    let db = app.stop().await;
    let left = (ends_at - Utc::now() + chrono::Duration::milliseconds(300))
        .to_std()
        .unwrap_or_default();
    tokio::time::sleep(left).await;
    // Nobody closed it while the server was down.
    let live = db_i64(
        &db,
        &format!("SELECT COUNT(*) FROM auctions WHERE id = '{id}' AND status = 'live'"),
    )
    .await;
    assert_eq!(live, 1, "the stopped server must not close the auction");

    let app = TestApp::start(db, config).await;
    let started = tokio::time::Instant::now();
    let closed = app
        .wait_for_snapshot(&id, Duration::from_secs(5), |s| s["status"] == "closed")
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "closed {:?} after start-up",
        started.elapsed()
    );
    assert_eq!(closed["winner"], leader.as_str(), "{closed}");
    assert_eq!(closed["seq"], 2);

    // Closed exactly once, also over another restart.
    let app = app.restart().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let again = app.snapshot(&id).await;
    assert_eq!(again["seq"], 2, "{again}");
    assert_eq!(again["winner"], leader.as_str());
    let closes = app
        .db_i64(&format!(
            "SELECT COUNT(*) FROM auction_events WHERE auction_id = '{id}' AND kind = 'closed'"
        ))
        .await;
    assert_eq!(closes, 1);
}

async fn an_admin_closes_early_and_cancels_and_the_audit_log_says_so(app: TestApp) {
    let bidders = app.bidders("dee", 2).await;
    let admin = app.admin_token().await;
    let (_, me) = app.get_as(&admin, "/api/v1/me").await;
    let admin_id = me["id"].as_str().expect("an admin id").to_string();
    let to_close = app
        .auction_id_as(&admin, AuctionBuilder::new().reserve(1000))
        .await;
    let to_cancel = app.auction_id_as(&admin, AuctionBuilder::new()).await;
    for (i, bidder) in bidders.iter().enumerate() {
        let amount = 1000 + 100 * i64::try_from(i).expect("small");
        let (status, body) = app.bid(&bidder.token, &to_close, "x", amount, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = app.bid(&bidder.token, &to_cancel, "x", amount, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let leader = assert_alias(&app.snapshot(&to_close).await["leader"]);

    let (status, closed) = app
        .post_empty_as(&admin, &format!("/api/v1/admin/auctions/{to_close}/close"))
        .await;
    assert_eq!(status, StatusCode::OK, "{closed}");
    assert_eq!(closed["status"], "closed");
    assert_eq!(closed["winner"], leader.as_str());
    assert_eq!(closed["reserve_price"], 1000);
    let public = app.snapshot(&to_close).await;
    assert_eq!(public["status"], "closed");
    assert_eq!(public["winner"], leader.as_str());
    assert_eq!(public["seq"], 3);
    // Closed early: the actual close time, well before the planned end.
    let closed_at = parse_utc(&public["closed_at"]);
    assert!(closed_at < parse_utc(&public["ends_at"]), "{public}");
    assert!(
        (chrono::Utc::now() - closed_at).num_seconds() < 60,
        "{public}"
    );

    let (status, cancelled) = app
        .post_empty_as(
            &admin,
            &format!("/api/v1/admin/auctions/{to_cancel}/cancel"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["winner"], Value::Null);
    let public = app.snapshot(&to_cancel).await;
    assert_eq!(public["status"], "cancelled");
    assert_eq!(public["winner"], Value::Null);
    assert_eq!(public["seq"], 3);
    assert!(
        parse_utc(&public["closed_at"]) < parse_utc(&public["ends_at"]),
        "{public}"
    );
    let (status, body) = app
        .bid(&bidders[0].token, &to_cancel, "late", 9000, None)
        .await;
    assert_error(status, &body, 409, "auction_not_open");

    let (status, _) = app
        .post_empty_as(
            &admin,
            &format!("/api/v1/admin/users/{}/ban", bidders[0].id),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .post_empty_as(
            &admin,
            &format!("/api/v1/admin/users/{}/unban", bidders[0].id),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let (status, audit) = app.get_as(&admin, "/api/v1/admin/audit").await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    let entries = audit["entries"].as_array().expect("audit entries");
    let has = |action: &str, target: &str| {
        entries.iter().any(|entry| {
            entry["action"] == action
                && entry["target"] == target
                && entry["actor_id"] == admin_id.as_str()
                && entry["at"].is_string()
        })
    };
    for (action, target) in [
        ("auction.create", &to_close),
        ("auction.create", &to_cancel),
        ("auction.close", &to_close),
        ("auction.cancel", &to_cancel),
        ("user.ban", &bidders[0].id),
        ("user.unban", &bidders[0].id),
    ] {
        assert!(has(action, target), "no {action} of {target} in {audit}");
    }
    assert_eq!(entries.len(), 6, "{audit}");

    // A refused action is not an action.
    let (status, _) = app
        .post_empty_as(&admin, &format!("/api/v1/admin/auctions/{to_close}/cancel"))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, audit) = app.get_as(&admin, "/api/v1/admin/audit").await;
    assert_eq!(
        audit["entries"].as_array().map(Vec::len),
        Some(6),
        "{audit}"
    );
}

async fn a_bid_in_the_soft_close_window_extends_the_end(app: TestApp) {
    let bidders = app.bidders("eve", 2).await;
    let admin = app.admin_token().await;
    let id = app
        .auction_id_as(
            &admin,
            AuctionBuilder::new()
                .extend_window(60)
                .ends_in(chrono::Duration::seconds(20)),
        )
        .await;
    let planned = parse_utc(&app.snapshot(&id).await["ends_at"]);
    let (status, body) = app.bid(&bidders[0].token, &id, "a", 1000, Some(5000)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let extended = parse_utc(&body["ends_at"]);
    assert!(extended > planned, "{body}");
    let from_now = extended - Utc::now();
    assert!(
        from_now > chrono::Duration::seconds(55) && from_now <= chrono::Duration::seconds(60),
        "ends_at moves to about now + 60 s: {body}"
    );
    let snapshot = app.snapshot(&id).await;
    assert_eq!(snapshot["ends_at"], body["ends_at"]);
    // One bid event and one extended event.
    assert_eq!(snapshot["seq"], 2, "{snapshot}");
    assert_eq!(snapshot["bid_count"], 1);

    // The leader raising their ceiling does not extend.
    let (status, raised) = app.bid(&bidders[0].token, &id, "b", 1050, Some(8000)).await;
    assert_eq!(status, StatusCode::OK, "{raised}");
    assert_eq!(raised["ends_at"], body["ends_at"]);
    assert_eq!(app.snapshot(&id).await["seq"], 2);
}

async fn an_extended_auction_closes_at_its_new_end_not_the_old_one(app: TestApp) {
    let (_, token) = app.bidder("fin").await;
    let admin = app.admin_token().await;
    let id = app
        .auction_id_as(
            &admin,
            AuctionBuilder::new()
                .extend_window(4)
                .ends_in(chrono::Duration::milliseconds(2000)),
        )
        .await;
    let planned = parse_utc(&app.snapshot(&id).await["ends_at"]);
    let (status, body) = app.bid(&token, &id, "a", 1000, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let extended = parse_utc(&body["ends_at"]);
    assert!(
        extended > planned + chrono::Duration::milliseconds(1000),
        "{planned} -> {extended}"
    );

    // Past the planned end, it is still open.
    let until = (planned - Utc::now() + chrono::Duration::milliseconds(400))
        .to_std()
        .unwrap_or_default();
    tokio::time::sleep(until).await;
    let snapshot = app.snapshot(&id).await;
    assert_eq!(snapshot["status"], "open", "{snapshot}");
    let (status, body) = app.bid(&token, &id, "b", 5000, Some(9000)).await;
    assert_eq!(status, StatusCode::OK, "still taking bids: {body}");

    let closed = wait_until_closed(&app, &id).await;
    assert_eq!(
        closed["ends_at"],
        crate::helpers::rfc3339(extended).as_str()
    );
    assert!(Utc::now() >= extended);
    assert_alias(&closed["winner"]);
}

async fn a_scheduled_auction_opens_at_its_start_by_itself(app: TestApp) {
    let (_, token) = app.bidder("gil").await;
    let admin = app.admin_token().await;
    let id = app
        .auction_id_as(
            &admin,
            AuctionBuilder::new()
                .starts_in(chrono::Duration::milliseconds(1500))
                .ends_in(chrono::Duration::hours(1)),
        )
        .await;
    let scheduled = app.snapshot(&id).await;
    assert_eq!(scheduled["status"], "scheduled");
    let (status, body) = app.bid(&token, &id, "early", 1000, None).await;
    assert_error(status, &body, 409, "auction_not_open");

    let open = app
        .wait_for_snapshot(&id, Duration::from_secs(5), |s| s["status"] != "scheduled")
        .await;
    assert_eq!(open["status"], "open", "{open}");
    assert!(Utc::now() >= parse_utc(&open["starts_at"]));
    let (status, body) = app.bid(&token, &id, "on-time", 1000, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The early refusal is its request's first answer; a new request is placed.
    let (status, again) = app.bid(&token, &id, "early", 1050, None).await;
    assert_eq!(status.as_u16(), 409, "{again}");
    assert_eq!(app.snapshot(&id).await["bid_count"], 1);
}
