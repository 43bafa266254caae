//! Every error code of docs/api.md, reached over HTTP, in the one error shape;
//! and every rejected request leaves the auction exactly as it was.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, AuctionBuilder, TestApp, BIDDER_PASSWORD};

crate::on_both_backends!(
    bad_usernames_and_weak_passwords_are_refused_and_nothing_is_created,
    a_username_is_taken_whatever_its_case,
    one_of_several_simultaneous_registrations_of_a_name_wins,
    wrong_credentials_are_refused_alike_for_known_and_unknown_users,
    requests_without_a_live_session_are_unauthenticated,
    unknown_and_malformed_auction_ids_are_not_found,
    a_bid_below_the_minimum_says_what_the_minimum_is,
    bids_on_scheduled_closed_and_cancelled_auctions_are_refused_as_not_open,
    the_leader_bidding_again_without_raising_is_already_leading,
    out_of_range_amounts_are_invalid,
    a_banned_bidder_is_refused_until_unbanned,
    bidders_get_forbidden_on_the_admin_api,
    malformed_bodies_and_queries_are_bad_requests,
    bodies_over_64_kib_are_too_large,
    a_body_of_exactly_64_kib_is_accepted,
    ending_an_auction_that_already_ended_is_a_conflict,
    auction_creation_names_every_bad_field,
    rejected_bids_change_nothing,
);

/// The auction's (seq, bid_count, current_price, history length).
async fn state_of(app: &TestApp, auction: &str) -> (Value, Value, Value, usize) {
    let snapshot = app.snapshot(auction).await;
    (
        snapshot["seq"].clone(),
        snapshot["bid_count"].clone(),
        snapshot["current_price"].clone(),
        app.history(auction).await.len(),
    )
}

async fn user_count(app: &TestApp, admin: &str) -> usize {
    let (status, body) = app.get_as(admin, "/api/v1/admin/users").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["users"].as_array().expect("users").len()
}

async fn bad_usernames_and_weak_passwords_are_refused_and_nothing_is_created(app: TestApp) {
    let admin = app.admin_token().await;
    let before = user_count(&app, &admin).await;
    for username in [
        "ab",
        "",
        "has space",
        "émile",
        "semi;colon",
        "<script>",
        &"x".repeat(33),
    ] {
        let (status, body) = app
            .post(
                "/api/v1/users",
                &json!({"username": username, "password": BIDDER_PASSWORD}),
            )
            .await;
        assert_error(status, &body, 422, "invalid_username");
    }
    for password in ["", "1234567", "short"] {
        let (status, body) = app
            .post(
                "/api/v1/users",
                &json!({"username": "valid_name", "password": password}),
            )
            .await;
        assert_error(status, &body, 422, "weak_password");
    }
    assert_eq!(user_count(&app, &admin).await, before);

    // The boundaries are allowed.
    for username in ["abc", &"y".repeat(32), "A.b-C_9"] {
        let (status, body) = app
            .post(
                "/api/v1/users",
                &json!({"username": username, "password": "tulip-84"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{username}: {body}");
    }
}

async fn a_username_is_taken_whatever_its_case(app: TestApp) {
    app.bidder("Erin").await;
    for username in ["Erin", "erin", "ERIN"] {
        let (status, body) = app
            .post(
                "/api/v1/users",
                &json!({"username": username, "password": "another-password"}),
            )
            .await;
        assert_error(status, &body, 409, "username_taken");
    }
}

async fn wrong_credentials_are_refused_alike_for_known_and_unknown_users(app: TestApp) {
    app.bidder("frank").await;
    let mut messages = Vec::new();
    for (username, password) in [
        ("frank", "wrong-password"),
        ("frank", ""),
        ("nobody-here", BIDDER_PASSWORD),
        ("x", BIDDER_PASSWORD),
    ] {
        let (status, body) = app
            .post(
                "/api/v1/sessions",
                &json!({"username": username, "password": password}),
            )
            .await;
        assert_error(status, &body, 401, "invalid_credentials");
        messages.push(body["error"]["message"].clone());
    }
    assert!(
        messages.windows(2).all(|pair| pair[0] == pair[1]),
        "one message for every wrong login: {messages:?}"
    );
}

async fn requests_without_a_live_session_are_unauthenticated(app: TestApp) {
    let admin = app.admin_token().await;
    let id = app.auction_id_as(&admin, AuctionBuilder::new()).await;
    let bid_path = format!("/api/v1/auctions/{id}/bids");
    let bid = json!({"request_id": "r1", "amount": 1000});

    // No token at all.
    let (status, body) = app.get("/api/v1/me").await;
    assert_error(status, &body, 401, "unauthenticated");
    let (status, body) = app.post(&bid_path, &bid).await;
    assert_error(status, &body, 401, "unauthenticated");
    let (status, body) = app
        .post(
            &format!("/api/v1/auctions/{id}/buy-now"),
            &json!({"request_id": "b"}),
        )
        .await;
    assert_error(status, &body, 401, "unauthenticated");
    let (status, body) = app
        .post("/api/v1/admin/auctions", &AuctionBuilder::new().json())
        .await;
    assert_error(status, &body, 401, "unauthenticated");
    let response = app
        .client
        .delete(app.url("/api/v1/sessions"))
        .send()
        .await
        .expect("DELETE");
    let (status, body) = crate::helpers::decode(response).await;
    assert_error(status, &body, 401, "unauthenticated");

    // A token that never existed, a malformed header, a dead cookie.
    for token in ["not-a-real-token", "", &"z".repeat(300)] {
        let (status, body) = app.get_as(token, "/api/v1/me").await;
        assert_error(status, &body, 401, "unauthenticated");
        let (status, body) = app.post_as(token, &bid_path, &bid).await;
        assert_error(status, &body, 401, "unauthenticated");
    }
    let response = app
        .client
        .get(app.url("/api/v1/me"))
        .header(reqwest::header::AUTHORIZATION, "Basic YWxpY2U6cGFzc3dvcmQ=")
        .send()
        .await
        .expect("GET");
    let (status, body) = crate::helpers::decode(response).await;
    assert_error(status, &body, 401, "unauthenticated");
    let response = app
        .client
        .get(app.url("/api/v1/me"))
        .header(reqwest::header::COOKIE, "gavel_session=stale-cookie")
        .send()
        .await
        .expect("GET");
    let (status, body) = crate::helpers::decode(response).await;
    assert_error(status, &body, 401, "unauthenticated");

    // A token that was logged out.
    let (_, token) = app.bidder("grace").await;
    let response = app
        .client
        .delete(app.url("/api/v1/sessions"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("DELETE");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (status, body) = app.post_as(&token, &bid_path, &bid).await;
    assert_error(status, &body, 401, "unauthenticated");
    assert_eq!(app.snapshot(&id).await["bid_count"], 0);
}

async fn unknown_and_malformed_auction_ids_are_not_found(app: TestApp) {
    let (_, token) = app.bidder("heidi").await;
    let admin = app.admin_token().await;
    let unknown = uuid::Uuid::now_v7().to_string();
    for id in [unknown.as_str(), "not-a-uuid", "12345", "%20"] {
        let (status, body) = app.get(&format!("/api/v1/auctions/{id}")).await;
        assert_error(status, &body, 404, "not_found");
        let (status, body) = app.get(&format!("/api/v1/auctions/{id}/bids")).await;
        assert_error(status, &body, 404, "not_found");
        let (status, body) = app.bid(&token, id, "r1", 1000, None).await;
        assert_error(status, &body, 404, "not_found");
        let (status, body) = app.buy_now(&token, id, "b1").await;
        assert_error(status, &body, 404, "not_found");
        let (status, body) = app
            .get_as(&admin, &format!("/api/v1/admin/auctions/{id}"))
            .await;
        assert_error(status, &body, 404, "not_found");
        for action in ["close", "cancel"] {
            let (status, body) = app
                .post_empty_as(&admin, &format!("/api/v1/admin/auctions/{id}/{action}"))
                .await;
            assert_error(status, &body, 404, "not_found");
        }
    }
    for action in ["ban", "unban"] {
        let (status, body) = app
            .post_empty_as(&admin, &format!("/api/v1/admin/users/{unknown}/{action}"))
            .await;
        assert_error(status, &body, 404, "not_found");
    }
}

async fn a_bid_below_the_minimum_says_what_the_minimum_is(app: TestApp) {
    let bidders = app.bidders("ivan", 2).await;
    let admin = app.admin_token().await;
    let id = app
        .auction_id_as(&admin, AuctionBuilder::new().starting_price(1000))
        .await;
    let (status, body) = app.bid(&bidders[0].token, &id, "low", 999, None).await;
    assert_error(status, &body, 422, "below_minimum");
    assert_eq!(body["error"]["min_next_bid"], 1000, "{body}");

    let (status, body) = app.bid(&bidders[0].token, &id, "ok", 1000, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // 1000 + the increment at 1000 (50).
    let (status, body) = app.bid(&bidders[1].token, &id, "low", 1049, None).await;
    assert_error(status, &body, 422, "below_minimum");
    assert_eq!(body["error"]["min_next_bid"], 1050, "{body}");
    // A high ceiling does not excuse a low amount.
    let (status, body) = app
        .bid(&bidders[1].token, &id, "low-2", 1000, Some(50_000))
        .await;
    assert_error(status, &body, 422, "below_minimum");
    assert_eq!(body["error"]["min_next_bid"], 1050, "{body}");
}

async fn bids_on_scheduled_closed_and_cancelled_auctions_are_refused_as_not_open(app: TestApp) {
    let (_, token) = app.bidder("judy").await;
    let admin = app.admin_token().await;

    let scheduled = app
        .auction_id_as(
            &admin,
            AuctionBuilder::new()
                .starts_in(chrono::Duration::hours(1))
                .ends_in(chrono::Duration::hours(2))
                .buy_now(5000),
        )
        .await;
    assert_eq!(app.snapshot(&scheduled).await["status"], "scheduled");
    let (status, body) = app.bid(&token, &scheduled, "s1", 1000, None).await;
    assert_error(status, &body, 409, "auction_not_open");
    let (status, body) = app.buy_now(&token, &scheduled, "s2").await;
    assert_error(status, &body, 409, "auction_not_open");

    let closed = app.auction_id_as(&admin, AuctionBuilder::new()).await;
    let (status, body) = app
        .post_empty_as(&admin, &format!("/api/v1/admin/auctions/{closed}/close"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app.bid(&token, &closed, "c1", 1000, None).await;
    assert_error(status, &body, 409, "auction_not_open");

    let cancelled = app.auction_id_as(&admin, AuctionBuilder::new()).await;
    let (status, body) = app
        .post_empty_as(
            &admin,
            &format!("/api/v1/admin/auctions/{cancelled}/cancel"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app.bid(&token, &cancelled, "x1", 1000, None).await;
    assert_error(status, &body, 409, "auction_not_open");

    for id in [&scheduled, &closed, &cancelled] {
        let snapshot = app.snapshot(id).await;
        assert_eq!(snapshot["bid_count"], 0, "{snapshot}");
        assert_eq!(snapshot["leader"], Value::Null, "{snapshot}");
    }
}

async fn the_leader_bidding_again_without_raising_is_already_leading(app: TestApp) {
    let (_, token) = app.bidder("ken").await;
    let admin = app.admin_token().await;
    let id = app.auction_id_as(&admin, AuctionBuilder::new()).await;
    let (status, body) = app.bid(&token, &id, "r1", 1000, Some(3000)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A plain bid, the same ceiling and a lower ceiling are all refused.
    for (request, amount, max) in [
        ("r2", 1050, None),
        ("r3", 2000, None),
        ("r4", 1050, Some(3000)),
        ("r5", 1050, Some(2000)),
    ] {
        let (status, body) = app.bid(&token, &id, request, amount, max).await;
        assert_error(status, &body, 409, "already_leading");
    }
    let snapshot = app.snapshot(&id).await;
    assert_eq!(snapshot["seq"], 1);
    assert_eq!(snapshot["current_price"], 1000);
}

async fn out_of_range_amounts_are_invalid(app: TestApp) {
    let (_, token) = app.bidder("leo").await;
    let admin = app.admin_token().await;
    let id = app.auction_id_as(&admin, AuctionBuilder::new()).await;
    let too_much = 1_000_000_000_000_i64 + 1;
    for (request, amount, max) in [
        ("zero", 0, None),
        ("negative", -5, None),
        ("huge", too_much, None),
        ("i64-max", i64::MAX, None),
        ("max-below", 2000, Some(1500)),
        ("max-huge", 2000, Some(too_much)),
        ("max-zero", 2000, Some(0)),
    ] {
        let (status, body) = app.bid(&token, &id, request, amount, max).await;
        assert_error(status, &body, 422, "invalid_amount");
    }
    // The top of the range is a valid amount.
    let (status, body) = app.bid(&token, &id, "top", 1_000_000_000_000, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["current_price"], 1_000_000_000_000_i64);
}

async fn a_banned_bidder_is_refused_until_unbanned(app: TestApp) {
    let bidders = app.bidders("mallory", 2).await;
    let (mallory, other) = (&bidders[0], &bidders[1]);
    let admin = app.admin_token().await;
    let id = app
        .auction_id_as(&admin, AuctionBuilder::new().buy_now(90_000))
        .await;

    let (status, user) = app
        .post_empty_as(&admin, &format!("/api/v1/admin/users/{}/ban", mallory.id))
        .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["id"], mallory.id.as_str());
    assert_eq!(user["username"], mallory.username.as_str());
    assert_eq!(user["role"], "bidder");

    let (status, body) = app
        .bid(&mallory.token, &id, "while-banned", 1000, None)
        .await;
    assert_error(status, &body, 403, "banned");
    let (status, body) = app.buy_now(&mallory.token, &id, "buy-banned").await;
    assert_error(status, &body, 403, "banned");
    let snapshot = app.snapshot(&id).await;
    assert_eq!(snapshot["bid_count"], 0, "{snapshot}");
    assert_eq!(snapshot["status"], "open", "{snapshot}");

    // A banned bidder's session still works for reading.
    let (status, me) = app.get_as(&mallory.token, "/api/v1/me").await;
    assert_eq!(status, StatusCode::OK, "{me}");

    let (status, user) = app
        .post_empty_as(&admin, &format!("/api/v1/admin/users/{}/unban", mallory.id))
        .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["id"], mallory.id.as_str());
    let (status, body) = app
        .bid(&mallory.token, &id, "after-unban", 1000, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "leading");

    // Banning takes effect on a session that is already open, and for a leader.
    let (status, body) = app.bid(&other.token, &id, "o1", 1050, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = app
        .post_empty_as(&admin, &format!("/api/v1/admin/users/{}/ban", other.id))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.bid(&other.token, &id, "o2", 5000, Some(8000)).await;
    assert_error(status, &body, 403, "banned");
    // The ban voided their bid (a voided and a repriced event), nothing more.
    let after = app.snapshot(&id).await;
    assert_eq!(after["seq"], 4);
    assert_eq!(after["current_price"], 1000);

    // Admins cannot ban themselves.
    let (_, me) = app.get_as(&admin, "/api/v1/me").await;
    let admin_id = me["id"].as_str().expect("an admin id");
    let (status, body) = app
        .post_empty_as(&admin, &format!("/api/v1/admin/users/{admin_id}/ban"))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}

async fn bidders_get_forbidden_on_the_admin_api(app: TestApp) {
    let (bidder_id, token) = app.bidder("niaj").await;
    let admin = app.admin_token().await;
    let id = app.auction_id_as(&admin, AuctionBuilder::new()).await;

    let (status, body) = app
        .post_as(
            &token,
            "/api/v1/admin/auctions",
            &AuctionBuilder::new().json(),
        )
        .await;
    assert_error(status, &body, 403, "forbidden");
    let (status, body) = app
        .get_as(&token, &format!("/api/v1/admin/auctions/{id}"))
        .await;
    assert_error(status, &body, 403, "forbidden");
    for path in [
        format!("/api/v1/admin/auctions/{id}/close"),
        format!("/api/v1/admin/auctions/{id}/cancel"),
        format!("/api/v1/admin/users/{bidder_id}/ban"),
        format!("/api/v1/admin/users/{bidder_id}/unban"),
    ] {
        let (status, body) = app.post_empty_as(&token, &path).await;
        assert_error(status, &body, 403, "forbidden");
    }
    for path in ["/api/v1/admin/users", "/api/v1/admin/audit"] {
        let (status, body) = app.get_as(&token, path).await;
        assert_error(status, &body, 403, "forbidden");
    }
    let snapshot = app.snapshot(&id).await;
    assert_eq!(snapshot["status"], "open");
    let (status, list) = app.get("/api/v1/auctions").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["auctions"].as_array().map(Vec::len), Some(1));
}

async fn malformed_bodies_and_queries_are_bad_requests(app: TestApp) {
    let (_, token) = app.bidder("olivia").await;
    let admin = app.admin_token().await;
    let id = app.auction_id_as(&admin, AuctionBuilder::new()).await;
    let bid_path = format!("/api/v1/auctions/{id}/bids");
    let json = "application/json";

    for body in [
        "{",
        "not json",
        "",
        "[]",
        "null",
        r#"{"request_id":"r1","amount":1000,"sneaky":true}"#,
        r#"{"request_id":"r1","amount":"1000"}"#,
        r#"{"request_id":"r1","amount":10.5}"#,
        r#"{"request_id":"r1","amount":null}"#,
        r#"{"request_id":1,"amount":1000}"#,
        r#"{"amount":1000}"#,
        r#"{"request_id":"r1"}"#,
        r#"{"request_id":"r1","amount":1000,"max_amount":"lots"}"#,
        r#"{"request_id":"r1","amount":99999999999999999999999}"#,
    ] {
        let (status, answer) = app.post_raw(Some(&token), &bid_path, json, body).await;
        assert_error(status, &answer, 400, "bad_request");
    }
    let (status, answer) = app
        .post_raw(
            Some(&token),
            &bid_path,
            "text/plain",
            r#"{"request_id":"r1","amount":1000}"#,
        )
        .await;
    assert_error(status, &answer, 400, "bad_request");

    for body in [
        r#"{"username":"pat","password":"password-123","role":"admin"}"#,
        r#"{"username":"pat"}"#,
        r#"{"username":"pat","password":12345678}"#,
        "{'username':'pat'}",
    ] {
        let (status, answer) = app.post_raw(None, "/api/v1/users", json, body).await;
        assert_error(status, &answer, 400, "bad_request");
    }
    let (status, answer) = app
        .post_raw(
            None,
            "/api/v1/sessions",
            json,
            r#"{"username":"olivia","password":"password-123","remember":true}"#,
        )
        .await;
    assert_error(status, &answer, 400, "bad_request");

    let mut auction = AuctionBuilder::new().json();
    auction["reserve"] = json!(5000);
    let (status, answer) = app
        .post_as(&admin, "/api/v1/admin/auctions", &auction)
        .await;
    assert_error(status, &answer, 400, "bad_request");
    let auction = AuctionBuilder::new()
        .set("starting_price", json!("1000"))
        .json();
    let (status, answer) = app
        .post_as(&admin, "/api/v1/admin/auctions", &auction)
        .await;
    assert_error(status, &answer, 400, "bad_request");
    let (status, answer) = app
        .post_as(
            &token,
            &format!("/api/v1/auctions/{id}/buy-now"),
            &json!({}),
        )
        .await;
    assert_error(status, &answer, 400, "bad_request");

    for query in [
        "/api/v1/auctions?status=running",
        "/api/v1/auctions?status=OPEN",
        "/api/v1/auctions?colour=red",
    ] {
        let (status, answer) = app.get(query).await;
        assert_error(status, &answer, 400, "bad_request");
    }
    for query in [
        "limit=1001",
        "limit=0",
        "limit=-1",
        "limit=ten",
        "after=-1",
        "after=x",
        "page=2",
    ] {
        let (status, answer) = app
            .get(&format!("/api/v1/auctions/{id}/bids?{query}"))
            .await;
        assert_error(status, &answer, 400, "bad_request");
    }
    let (status, answer) = app
        .get(&format!("/api/v1/auctions/{id}/bids?limit=1000"))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    let snapshot = app.snapshot(&id).await;
    assert_eq!(snapshot["bid_count"], 0, "{snapshot}");
    let (status, list) = app.get("/api/v1/auctions").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["auctions"].as_array().map(Vec::len), Some(1));
}

async fn bodies_over_64_kib_are_too_large(app: TestApp) {
    let (_, token) = app.bidder("peggy").await;
    let admin = app.admin_token().await;
    let id = app.auction_id_as(&admin, AuctionBuilder::new()).await;
    let padding = "x".repeat(64 * 1024 + 1);
    let big = json!({"request_id": padding, "amount": 1000}).to_string();
    let (status, body) = app
        .post_raw(
            Some(&token),
            &format!("/api/v1/auctions/{id}/bids"),
            "application/json",
            big.clone(),
        )
        .await;
    assert_error(status, &body, 413, "payload_too_large");
    let (status, body) = app
        .post_raw(None, "/api/v1/users", "application/json", big.clone())
        .await;
    assert_error(status, &body, 413, "payload_too_large");
    let mut auction = AuctionBuilder::new().json();
    auction["description"] = json!(padding);
    let (status, body) = app
        .post_as(&admin, "/api/v1/admin/auctions", &auction)
        .await;
    assert_error(status, &body, 413, "payload_too_large");

    // Without a Content-Length (chunked), the limit still holds.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = big
        .as_bytes()
        .chunks(8 * 1024)
        .map(|chunk| Ok(chunk.to_vec()))
        .collect();
    let stream = futures_util::stream::iter(chunks);
    let (status, body) = app
        .post_raw(
            Some(&token),
            &format!("/api/v1/auctions/{id}/bids"),
            "application/json",
            reqwest::Body::wrap_stream(stream),
        )
        .await;
    assert_error(status, &body, 413, "payload_too_large");

    assert_eq!(app.snapshot(&id).await["bid_count"], 0);
    let (_, list) = app.get("/api/v1/auctions").await;
    assert_eq!(list["auctions"].as_array().map(Vec::len), Some(1));
}

async fn ending_an_auction_that_already_ended_is_a_conflict(app: TestApp) {
    let admin = app.admin_token().await;
    let closed = app.auction_id_as(&admin, AuctionBuilder::new()).await;
    let (status, body) = app
        .post_empty_as(&admin, &format!("/api/v1/admin/auctions/{closed}/close"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "closed");
    let seq = app.snapshot(&closed).await["seq"].clone();
    for action in ["cancel", "close"] {
        let (status, body) = app
            .post_empty_as(&admin, &format!("/api/v1/admin/auctions/{closed}/{action}"))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert!(body["error"]["code"].is_string(), "{body}");
        assert!(body["error"]["message"].is_string(), "{body}");
    }
    let snapshot = app.snapshot(&closed).await;
    assert_eq!(snapshot["status"], "closed");
    assert_eq!(snapshot["seq"], seq);

    let cancelled = app.auction_id_as(&admin, AuctionBuilder::new()).await;
    let (status, body) = app
        .post_empty_as(
            &admin,
            &format!("/api/v1/admin/auctions/{cancelled}/cancel"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "cancelled");
    for action in ["cancel", "close"] {
        let (status, body) = app
            .post_empty_as(
                &admin,
                &format!("/api/v1/admin/auctions/{cancelled}/{action}"),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
    }
    assert_eq!(app.snapshot(&cancelled).await["status"], "cancelled");
}

async fn auction_creation_names_every_bad_field(app: TestApp) {
    let admin = app.admin_token().await;
    let max = 1_000_000_000_000_i64;
    let now = chrono::Utc::now();
    let at = |minutes: i64| crate::helpers::rfc3339(now + chrono::Duration::minutes(minutes));
    let cases: Vec<(AuctionBuilder, Vec<&str>)> = vec![
        (AuctionBuilder::new().set("title", json!("")), vec!["title"]),
        (
            AuctionBuilder::new().set("title", json!("   ")),
            vec!["title"],
        ),
        (
            AuctionBuilder::new().set("title", json!("t".repeat(201))),
            vec!["title"],
        ),
        (
            AuctionBuilder::new().set("currency", json!("eur")),
            vec!["currency"],
        ),
        (
            AuctionBuilder::new().set("currency", json!("EURO")),
            vec!["currency"],
        ),
        (
            AuctionBuilder::new().set("currency", json!("E1R")),
            vec!["currency"],
        ),
        (
            AuctionBuilder::new().set("currency", json!("")),
            vec!["currency"],
        ),
        (
            AuctionBuilder::new().starting_price(0),
            vec!["starting_price"],
        ),
        (
            AuctionBuilder::new().starting_price(-100),
            vec!["starting_price"],
        ),
        (
            AuctionBuilder::new().starting_price(max + 1),
            vec!["starting_price"],
        ),
        (AuctionBuilder::new().reserve(0), vec!["reserve_price"]),
        (
            AuctionBuilder::new().reserve(max + 1),
            vec!["reserve_price"],
        ),
        (
            AuctionBuilder::new().buy_now(max + 1),
            vec!["buy_now_price"],
        ),
        (AuctionBuilder::new().buy_now(-1), vec!["buy_now_price"]),
        (
            AuctionBuilder::new().starting_price(1000).buy_now(1000),
            vec!["buy_now_price"],
        ),
        (
            AuctionBuilder::new().starting_price(1000).buy_now(999),
            vec!["buy_now_price"],
        ),
        (
            AuctionBuilder::new()
                .set("starts_at", json!(at(60)))
                .set("ends_at", json!(at(30))),
            vec!["ends_at"],
        ),
        (
            AuctionBuilder::new()
                .set("starts_at", json!(at(60)))
                .set("ends_at", json!(at(60))),
            vec!["ends_at"],
        ),
        (
            AuctionBuilder::new().set("ends_at", json!(at(-5))),
            vec!["ends_at"],
        ),
        (
            AuctionBuilder::new().set("ends_at", json!("tomorrow")),
            vec!["ends_at"],
        ),
        (
            AuctionBuilder::new().set("starts_at", json!("2026-13-45T99:00:00Z")),
            vec!["starts_at"],
        ),
        (
            AuctionBuilder::new().extend_window(-1),
            vec!["extend_window_secs"],
        ),
        (
            AuctionBuilder::new()
                .set("title", json!(""))
                .set("currency", json!("euro"))
                .starting_price(0)
                .reserve(max + 1)
                .buy_now(0)
                .set("starts_at", json!(at(60)))
                .set("ends_at", json!(at(10))),
            vec![
                "title",
                "currency",
                "starting_price",
                "reserve_price",
                "buy_now_price",
                "ends_at",
            ],
        ),
    ];
    for (builder, want) in cases {
        let (status, body) = app
            .post_as(&admin, "/api/v1/admin/auctions", &builder.json())
            .await;
        assert_error(status, &body, 422, "validation_failed");
        let fields = body["error"]["fields"]
            .as_object()
            .unwrap_or_else(|| panic!("a fields object in {body}"));
        let mut got: Vec<&str> = fields.keys().map(String::as_str).collect();
        got.sort_unstable();
        let mut want = want;
        want.sort_unstable();
        assert_eq!(got, want, "{}: {body}", builder.json());
        for (field, message) in fields {
            assert!(
                message.as_str().is_some_and(|m| !m.is_empty()),
                "{field} has a message: {body}"
            );
        }
    }
    let (_, list) = app.get("/api/v1/auctions").await;
    assert_eq!(list["auctions"], json!([]), "nothing was created");

    // The boundaries are accepted.
    for builder in [
        AuctionBuilder::new().set("title", json!("t".repeat(200))),
        AuctionBuilder::new().set("title", json!("é".repeat(200))),
        AuctionBuilder::new()
            .starting_price(1)
            .buy_now(2)
            .reserve(1),
        AuctionBuilder::new()
            .starting_price(max - 1)
            .buy_now(max)
            .reserve(max),
        AuctionBuilder::new().extend_window(0),
    ] {
        let (status, body) = app
            .post_as(&admin, "/api/v1/admin/auctions", &builder.json())
            .await;
        assert_eq!(status, StatusCode::CREATED, "{}: {body}", builder.json());
    }
    // Omitted: starts now, soft close of 120 s.
    let mut body = AuctionBuilder::new().json();
    let object = body.as_object_mut().expect("an object");
    object.remove("extend_window_secs");
    object.remove("description");
    let (status, created) = app.post_as(&admin, "/api/v1/admin/auctions", &body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["extend_window_secs"], 120);
    assert_eq!(created["status"], "open");
    assert_eq!(created["reserve_price"], Value::Null);
    assert_eq!(created["buy_now_price"], Value::Null);
    let starts = crate::helpers::parse_utc(&created["starts_at"]);
    assert!(
        (chrono::Utc::now() - starts).num_seconds().abs() < 5,
        "{created}"
    );
}

async fn rejected_bids_change_nothing(app: TestApp) {
    let bidders = app.bidders("quinn", 3).await;
    let (leader, other, banned) = (&bidders[0], &bidders[1], &bidders[2]);
    let admin = app.admin_token().await;
    let id = app
        .auction_id_as(
            &admin,
            AuctionBuilder::new().reserve(50_000).buy_now(90_000),
        )
        .await;
    let (status, body) = app.bid(&leader.token, &id, "lead", 1000, Some(2000)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .post_empty_as(&admin, &format!("/api/v1/admin/users/{}/ban", banned.id))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let before = state_of(&app, &id).await;
    let snapshot_before = app.snapshot(&id).await;

    let attempts: Vec<(&str, &str, i64, Option<i64>, &str)> = vec![
        (&other.token, "low", 1049, None, "below_minimum"),
        (&other.token, "zero", 0, None, "invalid_amount"),
        (&other.token, "inverted", 5000, Some(4000), "invalid_amount"),
        (&leader.token, "again", 1050, None, "already_leading"),
        (
            &leader.token,
            "same-max",
            1050,
            Some(2000),
            "already_leading",
        ),
        (&banned.token, "banned", 5000, None, "banned"),
    ];
    for (token, request, amount, max, code) in attempts {
        let (status, body) = app.bid(token, &id, request, amount, max).await;
        assert_eq!(body["error"]["code"], code, "{request}: {body}");
        assert!(!status.is_success(), "{body}");
        assert_eq!(
            state_of(&app, &id).await,
            before,
            "{request} changed the auction"
        );
    }
    let (status, body) = app.buy_now(&banned.token, &id, "buy").await;
    assert_error(status, &body, 403, "banned");
    let (status, body) = app
        .post_raw(
            Some(&other.token),
            &format!("/api/v1/auctions/{id}/bids"),
            "application/json",
            r#"{"request_id":"bad","amount":5000,"extra":1}"#,
        )
        .await;
    assert_error(status, &body, 400, "bad_request");

    let snapshot_after = app.snapshot(&id).await;
    for key in [
        "seq",
        "bid_count",
        "current_price",
        "min_next_bid",
        "leader",
        "ends_at",
    ] {
        assert_eq!(snapshot_after[key], snapshot_before[key], "{key}");
    }
}

async fn one_of_several_simultaneous_registrations_of_a_name_wins(app: TestApp) {
    let attempts = (0..4).map(|i| {
        let app = &app;
        async move {
            app.post(
                "/api/v1/users",
                &json!({"username": if i % 2 == 0 { "Twin" } else { "twin" }, "password": BIDDER_PASSWORD}),
            )
            .await
        }
    });
    let answers = futures_util::future::join_all(attempts).await;
    let created = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1, "{answers:?}");
    for (status, body) in answers.iter().filter(|(s, _)| *s != StatusCode::CREATED) {
        assert_error(*status, body, 409, "username_taken");
    }
}

async fn a_body_of_exactly_64_kib_is_accepted(app: TestApp) {
    let (_, token) = app.bidder("quentin").await;
    let admin = app.admin_token().await;
    let id = app.auction_id_as(&admin, AuctionBuilder::new()).await;
    let path = format!("/api/v1/auctions/{id}/bids");
    let body = |request_id: &str, size: usize| {
        let json = format!(r#"{{"request_id":"{request_id}","amount":1000}}"#);
        format!("{json}{}", " ".repeat(size - json.len()))
    };
    let limit = 64 * 1024;
    let (status, answer) = app
        .post_raw(
            Some(&token),
            &path,
            "application/json",
            body("over", limit + 1),
        )
        .await;
    assert_error(status, &answer, 413, "payload_too_large");
    let (status, answer) = app
        .post_raw(Some(&token), &path, "application/json", body("at", limit))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["request_id"], "at");
}
