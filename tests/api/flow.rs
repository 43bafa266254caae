//! The whole flow over HTTP: accounts (bearer and cookie), an admin creating
//! an auction with every field, proxy bidding, the public snapshot and bid
//! history exactly as docs/api.md says, and the admin view.

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{
    assert_alias, assert_error, assert_keys, parse_utc, rfc3339, AuctionBuilder, TestApp,
    BIDDER_PASSWORD, BID_RESULT_KEYS, SNAPSHOT_KEYS,
};

crate::on_both_backends!(
    bidders_proxy_bid_on_an_auction_with_every_field_and_see_exactly_the_public_state,
    a_session_cookie_authenticates_like_a_bearer_token_and_logging_out_ends_it,
    a_cookie_session_cannot_be_used_from_a_foreign_origin,
    the_bid_history_pages_with_after_and_limit,
    the_auction_list_filters_by_status,
    the_server_tells_its_time_in_rfc3339_utc,
    health_and_readiness_answer,
    times_with_an_offset_are_answered_in_utc,
);

/// Asserts a BidResult's shape and the values that matter.
fn assert_bid_result(
    body: &Value,
    request_id: &str,
    auction: &str,
    status: &str,
    seq: i64,
    price: i64,
    min_next: i64,
) {
    assert_keys(body, &BID_RESULT_KEYS);
    assert_eq!(body["request_id"], request_id, "{body}");
    assert_eq!(body["auction_id"], auction, "{body}");
    assert_eq!(body["accepted"], true, "{body}");
    assert_eq!(body["status"], status, "{body}");
    assert_eq!(body["seq"], seq, "{body}");
    assert_eq!(body["current_price"], price, "{body}");
    assert_eq!(body["min_next_bid"], min_next, "{body}");
    parse_utc(&body["ends_at"]);
}

async fn bidders_proxy_bid_on_an_auction_with_every_field_and_see_exactly_the_public_state(
    app: TestApp,
) {
    let (alice_id, alice) = app.bidder("alice").await;
    let (bob_id, bob) = app.bidder("bob.the-2nd").await;
    let admin = app.admin_token().await;

    // Every field of the creation body.
    let starts_at = rfc3339(Utc::now() - chrono::Duration::seconds(5));
    let ends_at = rfc3339(Utc::now() + chrono::Duration::hours(2));
    let body = json!({
        "title": "Brass telescope, 1890",
        "description": "Signed by the maker. Small dent on the tube.",
        "currency": "EUR",
        "starting_price": 1000,
        "reserve_price": 5000,
        "buy_now_price": 20000,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "extend_window_secs": 30,
    });
    let (status, created) = app.post_as(&admin, "/api/v1/admin/auctions", &body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let mut admin_keys = SNAPSHOT_KEYS.to_vec();
    admin_keys.push("reserve_price");
    assert_keys(&created, &admin_keys);
    assert_eq!(created["reserve_price"], 5000);
    let id = created["id"].as_str().expect("an id").to_string();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "ids are UUIDs: {id}");

    // The public snapshot: exactly docs/api.md's keys, no reserve.
    let snapshot = app.snapshot(&id).await;
    assert_keys(&snapshot, &SNAPSHOT_KEYS);
    assert_eq!(snapshot["id"], id.as_str());
    assert_eq!(snapshot["title"], "Brass telescope, 1890");
    assert_eq!(
        snapshot["description"],
        "Signed by the maker. Small dent on the tube."
    );
    assert_eq!(snapshot["currency"], "EUR");
    assert_eq!(snapshot["status"], "open");
    assert_eq!(snapshot["starting_price"], 1000);
    assert_eq!(snapshot["current_price"], 1000);
    assert_eq!(snapshot["min_next_bid"], 1000);
    assert_eq!(snapshot["bid_count"], 0);
    assert_eq!(snapshot["leader"], Value::Null);
    assert_eq!(snapshot["reserve_met"], false);
    assert_eq!(snapshot["buy_now_price"], 20000);
    assert_eq!(snapshot["starts_at"], starts_at.as_str());
    assert_eq!(snapshot["ends_at"], ends_at.as_str());
    assert_eq!(snapshot["extend_window_secs"], 30);
    assert_eq!(snapshot["seq"], 0);
    assert_eq!(snapshot["winner"], Value::Null);
    let skew = (parse_utc(&snapshot["server_time"]) - Utc::now())
        .num_seconds()
        .abs();
    assert!(skew < 5, "server_time is now: {snapshot}");

    // Alice leads with a proxy ceiling of 3000 below the reserve.
    let (status, result) = app.bid(&alice, &id, "a-1", 1000, Some(3000)).await;
    assert_eq!(status, StatusCode::OK, "{result}");
    assert_bid_result(&result, "a-1", &id, "leading", 1, 1000, 1050);

    // Bob bids 1500: his bid is recorded, then alice's automatic answer.
    let (status, result) = app.bid(&bob, &id, "b-1", 1500, None).await;
    assert_eq!(status, StatusCode::OK, "{result}");
    assert_bid_result(&result, "b-1", &id, "outbid", 2, 1550, 1600);

    // Bob goes past alice's ceiling with a ceiling above the reserve: alice's
    // ceiling is recorded as an auto bid, bob leads at the reserve.
    let (status, result) = app.bid(&bob, &id, "b-2", 4000, Some(6000)).await;
    assert_eq!(status, StatusCode::OK, "{result}");
    assert_bid_result(&result, "b-2", &id, "leading", 5, 5000, 5100);

    // Alice tries again and is answered by bob's proxy.
    let (status, result) = app.bid(&alice, &id, "a-2", 5100, None).await;
    assert_eq!(status, StatusCode::OK, "{result}");
    assert_bid_result(&result, "a-2", &id, "outbid", 6, 5200, 5300);

    // Bob raises his own ceiling: no public event, his answer carries the current seq.
    let (status, result) = app.bid(&bob, &id, "b-3", 5300, Some(9000)).await;
    assert_eq!(status, StatusCode::OK, "{result}");
    assert_bid_result(&result, "b-3", &id, "leading", 7, 5200, 5300);

    let snapshot = app.snapshot(&id).await;
    assert_keys(&snapshot, &SNAPSHOT_KEYS);
    assert_eq!(snapshot["status"], "open");
    assert_eq!(snapshot["current_price"], 5200);
    assert_eq!(snapshot["min_next_bid"], 5300);
    assert_eq!(snapshot["bid_count"], 7);
    assert_eq!(snapshot["seq"], 7);
    assert_eq!(snapshot["reserve_met"], true);
    assert_eq!(snapshot["winner"], Value::Null);
    let bob_alias = assert_alias(&snapshot["leader"]);

    // The history, oldest first, in docs/api.md's shape.
    let (status, history) = app.get(&format!("/api/v1/auctions/{id}/bids")).await;
    assert_eq!(status, StatusCode::OK, "{history}");
    assert_keys(&history, &["bids"]);
    let bids = history["bids"].as_array().expect("bids");
    let want = [
        (1, 1000, "bid", false),
        (2, 1500, "bid", true),
        (3, 1550, "auto", false),
        (4, 3000, "auto", false),
        (5, 5000, "bid", true),
        (6, 5100, "bid", false),
        (7, 5200, "auto", true),
    ];
    assert_eq!(bids.len(), want.len(), "{history}");
    let mut alice_alias = None;
    for (bid, (seq, amount, kind, by_bob)) in bids.iter().zip(want) {
        assert_keys(bid, &["seq", "amount", "bidder", "kind", "at", "voided"]);
        assert_eq!(bid["seq"], seq, "{bid}");
        assert_eq!(bid["amount"], amount, "{bid}");
        assert_eq!(bid["kind"], kind, "{bid}");
        parse_utc(&bid["at"]);
        let alias = assert_alias(&bid["bidder"]);
        if by_bob {
            assert_eq!(alias, bob_alias, "{bid}");
        } else {
            assert_eq!(*alice_alias.get_or_insert_with(|| alias.clone()), alias);
            assert_ne!(alias, bob_alias);
        }
    }

    // Public answers never carry usernames, user ids or the reserve.
    for text in [snapshot.to_string(), history.to_string()] {
        for secret in ["alice", "bob.the-2nd", &alice_id, &bob_id, "reserve_price"] {
            assert!(!text.contains(secret), "{secret} leaked in {text}");
        }
    }

    // The admin view: the reserve and the full log with usernames.
    let (status, view) = app
        .get_as(&admin, &format!("/api/v1/admin/auctions/{id}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["reserve_price"], 5000);
    assert_eq!(view["seq"], 7);
    let log = view["bids"].as_array().expect("an admin bid log");
    assert_eq!(log.len(), 7, "{view}");
    assert_eq!(log[0]["username"], "alice");
    assert_eq!(log[4]["username"], "bob.the-2nd");
    assert_eq!(log[4]["bidder"], bob_alias.as_str());

    // The auction list carries the same public snapshot.
    let (status, list) = app.get("/api/v1/auctions").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let auctions = list["auctions"].as_array().expect("auctions");
    assert_eq!(auctions.len(), 1, "{list}");
    assert_keys(&auctions[0], &SNAPSHOT_KEYS);
    assert_eq!(auctions[0]["leader"], bob_alias.as_str());
}

/// The value of the session cookie in a login answer, after checking its flags.
fn session_cookie(response: &reqwest::Response) -> String {
    let header = response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with("gavel_session="))
        .unwrap_or_else(|| panic!("a gavel_session cookie in {:?}", response.headers()))
        .to_string();
    let attributes: Vec<String> = header
        .split(';')
        .map(|part| part.trim().to_ascii_lowercase())
        .collect();
    assert!(attributes.contains(&"httponly".to_string()), "{header}");
    assert!(attributes.contains(&"samesite=lax".to_string()), "{header}");
    let pair = header.split(';').next().expect("a name=value pair");
    pair.trim().to_string()
}

async fn a_session_cookie_authenticates_like_a_bearer_token_and_logging_out_ends_it(app: TestApp) {
    let (status, user) = app
        .post(
            "/api/v1/users",
            &json!({"username": "carol", "password": BIDDER_PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    for key in ["id", "username", "role"] {
        assert!(user[key].is_string(), "{key} in {user}");
    }
    assert_eq!(user["role"], "bidder");

    let response = app
        .client
        .post(app.url("/api/v1/sessions"))
        .json(&json!({"username": "carol", "password": BIDDER_PASSWORD}))
        .send()
        .await
        .expect("log in");
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = session_cookie(&response);
    let (_, login) = crate::helpers::decode(response).await;
    let token = login["token"].as_str().expect("a token");
    assert!(token.len() >= 22, "a token of at least 128 bits: {token}");
    assert_eq!(login["user"]["id"], user["id"]);
    assert_eq!(login["user"]["username"], "carol");
    assert_eq!(login["user"]["role"], "bidder");

    // The cookie alone authenticates reads and bids.
    let me = app
        .client
        .get(app.url("/api/v1/me"))
        .header(reqwest::header::COOKIE, &cookie)
        .send()
        .await
        .expect("GET /me");
    let (status, me) = crate::helpers::decode(me).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["username"], "carol");

    let admin = app.admin_token().await;
    let id = app.auction_id_as(&admin, AuctionBuilder::new()).await;
    let response = app
        .client
        .post(app.url(&format!("/api/v1/auctions/{id}/bids")))
        .header(reqwest::header::COOKIE, &cookie)
        .json(&json!({"request_id": "by-cookie", "amount": 1000}))
        .send()
        .await
        .expect("bid by cookie");
    let (status, result) = crate::helpers::decode(response).await;
    assert_eq!(status, StatusCode::OK, "{result}");
    assert_eq!(result["status"], "leading");

    // Logging out by cookie ends the session for the cookie and the token.
    let response = app
        .client
        .delete(app.url("/api/v1/sessions"))
        .header(reqwest::header::COOKIE, &cookie)
        .send()
        .await
        .expect("log out");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let me = app
        .client
        .get(app.url("/api/v1/me"))
        .header(reqwest::header::COOKIE, &cookie)
        .send()
        .await
        .expect("GET /me");
    let (status, body) = crate::helpers::decode(me).await;
    assert_error(status, &body, 401, "unauthenticated");
    let (status, body) = app.get_as(token, "/api/v1/me").await;
    assert_error(status, &body, 401, "unauthenticated");
}

async fn a_cookie_session_cannot_be_used_from_a_foreign_origin(app: TestApp) {
    let (_, token) = app.bidder("dave").await;
    let admin = app.admin_token().await;
    let id = app.auction_id_as(&admin, AuctionBuilder::new()).await;
    let cookie = format!("gavel_session={token}");
    let response = app
        .client
        .post(app.url(&format!("/api/v1/auctions/{id}/bids")))
        .header(reqwest::header::COOKIE, &cookie)
        .header(reqwest::header::ORIGIN, "https://evil.example")
        .json(&json!({"request_id": "csrf", "amount": 1000}))
        .send()
        .await
        .expect("bid");
    let (status, body) = crate::helpers::decode(response).await;
    assert_error(status, &body, 403, "forbidden");
    assert_eq!(app.snapshot(&id).await["bid_count"], 0);

    // From the server's own origin the same cookie works.
    let response = app
        .client
        .post(app.url(&format!("/api/v1/auctions/{id}/bids")))
        .header(reqwest::header::COOKIE, &cookie)
        .header(reqwest::header::ORIGIN, app.address.as_str())
        .json(&json!({"request_id": "same-origin", "amount": 1000}))
        .send()
        .await
        .expect("bid");
    let (status, body) = crate::helpers::decode(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn the_bid_history_pages_with_after_and_limit(app: TestApp) {
    let bidders = app.bidders("pager", 2).await;
    let admin = app.admin_token().await;
    let id = app.auction_id_as(&admin, AuctionBuilder::new()).await;
    let mut amount = 1000;
    for round in 0..6 {
        let bidder = &bidders[round % 2];
        let (status, body) = app
            .bid(&bidder.token, &id, &format!("r{round}"), amount, None)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        amount = body["min_next_bid"].as_i64().expect("min_next_bid");
    }

    let seqs = |body: &Value| -> Vec<i64> {
        body["bids"]
            .as_array()
            .expect("bids")
            .iter()
            .map(|bid| bid["seq"].as_i64().expect("a seq"))
            .collect()
    };
    let path = format!("/api/v1/auctions/{id}/bids");
    let (status, all) = app.get(&path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(seqs(&all), vec![1, 2, 3, 4, 5, 6]);
    let (_, page) = app.get(&format!("{path}?limit=2")).await;
    assert_eq!(seqs(&page), vec![1, 2]);
    let (_, page) = app.get(&format!("{path}?after=2&limit=3")).await;
    assert_eq!(seqs(&page), vec![3, 4, 5]);
    let (_, page) = app.get(&format!("{path}?after=5")).await;
    assert_eq!(seqs(&page), vec![6]);
    let (status, page) = app.get(&format!("{path}?after=6&limit=1000")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page, json!({"bids": []}));
    let (_, page) = app.get(&format!("{path}?after=99")).await;
    assert_eq!(page, json!({"bids": []}));
    assert_eq!(app.history(&id).await.len(), 6);
}

async fn the_auction_list_filters_by_status(app: TestApp) {
    let admin = app.admin_token().await;
    let open = app.auction_id_as(&admin, AuctionBuilder::new()).await;
    let scheduled = app
        .auction_id_as(
            &admin,
            AuctionBuilder::new()
                .starts_in(chrono::Duration::hours(1))
                .ends_in(chrono::Duration::hours(2)),
        )
        .await;
    let closed = app.auction_id_as(&admin, AuctionBuilder::new()).await;
    let (status, body) = app
        .post_empty_as(&admin, &format!("/api/v1/admin/auctions/{closed}/close"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let cancelled = app.auction_id_as(&admin, AuctionBuilder::new()).await;
    let (status, body) = app
        .post_empty_as(
            &admin,
            &format!("/api/v1/admin/auctions/{cancelled}/cancel"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let ids = |body: &Value| -> Vec<String> {
        let mut ids: Vec<String> = body["auctions"]
            .as_array()
            .expect("auctions")
            .iter()
            .map(|a| a["id"].as_str().expect("an id").to_string())
            .collect();
        ids.sort();
        ids
    };
    for (filter, want) in [
        ("open", &open),
        ("scheduled", &scheduled),
        ("closed", &closed),
        ("cancelled", &cancelled),
    ] {
        let (status, body) = app.get(&format!("/api/v1/auctions?status={filter}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(ids(&body), vec![want.clone()], "?status={filter}: {body}");
        assert_eq!(body["auctions"][0]["status"], filter, "{body}");
    }
    let (status, body) = app.get("/api/v1/auctions").await;
    assert_eq!(status, StatusCode::OK);
    let mut all = vec![open, scheduled, closed, cancelled];
    all.sort();
    assert_eq!(ids(&body), all);
}

async fn the_server_tells_its_time_in_rfc3339_utc(app: TestApp) {
    let before = Utc::now();
    let (status, body) = app.get("/api/v1/time").await;
    let after = Utc::now();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_keys(&body, &["now"]);
    let now = parse_utc(&body["now"]);
    let slack = chrono::Duration::milliseconds(5);
    assert!(
        before - slack <= now && now <= after + slack,
        "{now} not within {before}..{after}"
    );
}

async fn health_and_readiness_answer(app: TestApp) {
    let (status, _) = app.get("/healthz").await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.get("/readyz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app.get("/api/v1/no-such-route").await;
    assert_error(status, &body, 404, "not_found");
    let response = app
        .client
        .put(app.url("/api/v1/users"))
        .json(&json!({}))
        .send()
        .await
        .expect("PUT");
    let (status, body) = crate::helpers::decode(response).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
    assert!(body["error"]["code"].is_string(), "{body}");
}

async fn times_with_an_offset_are_answered_in_utc(app: TestApp) {
    let admin = app.admin_token().await;
    let created = app
        .create_auction_as(
            &admin,
            AuctionBuilder::new()
                .set("starts_at", json!("2030-01-01T12:00:00+02:00"))
                .set("ends_at", json!("2030-01-02T09:30:15.250-05:00")),
        )
        .await;
    assert_eq!(created["starts_at"], "2030-01-01T10:00:00.000Z");
    assert_eq!(created["ends_at"], "2030-01-02T14:30:15.250Z");
    assert_eq!(created["status"], "scheduled");
    let id = created["id"].as_str().expect("an id");
    let snapshot = app.snapshot(id).await;
    assert_eq!(snapshot["starts_at"], "2030-01-01T10:00:00.000Z");
    assert_eq!(snapshot["ends_at"], "2030-01-02T14:30:15.250Z");
}
