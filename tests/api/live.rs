//! WebSocket and SSE: real clients against a spawned server.

use std::collections::HashSet;
use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

use crate::clients::{sse_data, sse_seq, SseClient, WsClient, WsEnd};
use crate::helpers::{AuctionBuilder, TestApp};

crate::on_both_backends!(
    a_resume_point_past_the_last_event_starts_over_with_a_snapshot,
    ws_bidders_and_sse_watchers_see_one_gapless_sequence_equal_to_the_database,
    sse_resumes_from_the_middle_with_last_event_id,
    sse_stream_carries_the_contract_headers_snapshot_and_retry,
    ws_subscribe_sends_a_snapshot_then_live_events,
    ws_after_seq_replays_then_goes_live_without_gap_or_duplicate,
    bad_frames_get_an_error_frame_and_the_socket_stays_open,
    an_oversized_frame_closes_the_socket_with_1009,
    a_foreign_origin_is_refused_before_the_upgrade,
    an_anonymous_socket_may_watch_but_its_bids_are_unauthenticated,
    a_subscriber_that_never_reads_is_disconnected_and_others_keep_up,
    soft_close_extends_the_end_and_emits_extended,
    the_closed_event_arrives_at_the_end_with_the_winner,
);

/// (seq, kind, amount) of every stored event, straight from the database.
async fn stored_events(app: &TestApp, auction: &str) -> Vec<(i64, String, Option<i64>)> {
    use sqlx::Row;
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&app.db.url)
        .await
        .expect("open the test database");
    let rows = sqlx::query(
        "SELECT seq, kind, amount FROM auction_events WHERE auction_id = $1 ORDER BY seq",
    )
    .bind(auction)
    .fetch_all(&pool)
    .await
    .expect("read events");
    pool.close().await;
    rows.iter()
        .map(|row| {
            (
                row.try_get::<i64, _>("seq").expect("seq"),
                row.try_get::<String, _>("kind").expect("kind"),
                row.try_get::<Option<i64>, _>("amount").expect("amount"),
            )
        })
        .collect()
}

/// Bids over an authenticated socket until `count` answers arrived, always
/// at the last known minimum. Returns the answers.
async fn ws_bid_loop(
    mut ws: WsClient,
    auction: String,
    prefix: String,
    count: usize,
) -> Vec<Value> {
    let mut next = 1000;
    let mut answers = Vec::new();
    for n in 0..count {
        ws.send(&json!({
            "type": "bid", "auction_id": auction,
            "request_id": format!("{prefix}-{n}"), "amount": next,
        }))
        .await;
        let answer = loop {
            let frame = ws.next().await;
            if frame["type"] == "bid_result" || frame["type"] == "bid_error" {
                break frame;
            }
        };
        if let Some(min) = answer["result"]["min_next_bid"]
            .as_i64()
            .or(answer["error"]["min_next_bid"].as_i64())
        {
            next = min;
        } else {
            next += 1000;
        }
        answers.push(answer);
    }
    answers
}

async fn ws_bidders_and_sse_watchers_see_one_gapless_sequence_equal_to_the_database(app: TestApp) {
    let auction = app.create_auction(AuctionBuilder::new()).await;
    let id = auction["id"].as_str().expect("id").to_string();
    let mut watchers = Vec::new();
    for _ in 0..3 {
        let mut watcher = SseClient::connect(&app, &id, None).await;
        let snapshot = watcher.next().await;
        assert_eq!(snapshot.event, "snapshot");
        watchers.push(watcher);
    }
    let mut bidders = Vec::new();
    for n in 0..20 {
        let (_, token) = app.bidder(&format!("ws-bidder-{n}")).await;
        bidders.push(
            WsClient::connect(&app, Some(&token), None)
                .await
                .expect("connect"),
        );
    }
    let runs = bidders
        .into_iter()
        .enumerate()
        .map(|(n, ws)| ws_bid_loop(ws, id.clone(), format!("b{n}"), 5));
    let answers: Vec<Value> = join_all(runs).await.into_iter().flatten().collect();
    assert_eq!(answers.len(), 100);
    let accepted: Vec<&Value> = answers
        .iter()
        .filter(|a| a["type"] == "bid_result")
        .collect();
    assert!(!accepted.is_empty(), "some bids were accepted");
    for answer in &answers {
        if answer["type"] == "bid_error" {
            let code = answer["error"]["code"].as_str().unwrap_or_default();
            assert!(
                ["below_minimum", "already_leading"].contains(&code),
                "unexpected rejection {answer}"
            );
        }
    }

    let final_seq = app.snapshot(&id).await["seq"].as_i64().expect("seq");
    let stored = stored_events(&app, &id).await;
    assert_eq!(stored.len() as i64, final_seq);
    assert_eq!(
        stored.iter().map(|e| e.0).collect::<Vec<_>>(),
        (1..=final_seq).collect::<Vec<_>>(),
        "the database holds a gapless sequence"
    );
    let accepted_seqs: HashSet<i64> = stored.iter().map(|e| e.0).collect();
    for answer in &accepted {
        let seq = answer["result"]["seq"].as_i64().expect("seq");
        assert!(accepted_seqs.contains(&seq), "{answer}");
    }
    for watcher in &mut watchers {
        let events = watcher.until_seq(final_seq).await;
        let seen: Vec<(i64, String, Option<i64>)> = events
            .iter()
            .map(|e| {
                let data = sse_data(e);
                (sse_seq(e), e.event.clone(), data["bid"]["amount"].as_i64())
            })
            .collect();
        assert_eq!(seen, stored, "the watcher saw exactly the stored sequence");
        let prices: Vec<i64> = events
            .iter()
            .map(|e| sse_data(e)["current_price"].as_i64().expect("price"))
            .collect();
        assert!(prices.windows(2).all(|w| w[0] <= w[1]), "prices never fall");
    }
}

/// Places `count` alternating bids over HTTP; returns the final seq.
async fn alternate_bids(app: &TestApp, auction: &str, count: usize) -> i64 {
    let (_, a) = app.bidder("alternate-a").await;
    let (_, b) = app.bidder("alternate-b").await;
    let mut next = 1000;
    let mut seq = 0;
    for n in 0..count {
        let token = if n % 2 == 0 { &a } else { &b };
        let (status, body) = app
            .bid(token, auction, &format!("alt-{n}"), next, None)
            .await;
        assert_eq!(status, 200, "{body}");
        next = body["min_next_bid"].as_i64().expect("min");
        seq = body["seq"].as_i64().expect("seq");
    }
    seq
}

async fn sse_resumes_from_the_middle_with_last_event_id(app: TestApp) {
    let auction = app.create_auction(AuctionBuilder::new()).await;
    let id = auction["id"].as_str().expect("id").to_string();
    let last = alternate_bids(&app, &id, 6).await;
    assert_eq!(last, 6);

    let mut resumed = SseClient::connect(&app, &id, Some(3)).await;
    let first = resumed.next().await;
    assert_eq!(first.event, "bid", "no snapshot when resuming");
    assert_eq!(sse_seq(&first), 4);
    assert_eq!(sse_seq(&resumed.next().await), 5);
    assert_eq!(sse_seq(&resumed.next().await), 6);

    // The query-string form, then live events follow the replay.
    let response = app
        .client
        .get(app.url(&format!("/api/v1/auctions/{id}/events?last_event_id=5")))
        .send()
        .await
        .expect("open");
    let mut by_query = SseClient::from_response(response);
    assert_eq!(sse_seq(&by_query.next().await), 6);
    let (_, c) = app.bidder("late-bidder").await;
    let min = app.snapshot(&id).await["min_next_bid"]
        .as_i64()
        .expect("min");
    let (status, _) = app.bid(&c, &id, "late", min, None).await;
    assert_eq!(status, 200);
    assert_eq!(sse_seq(&by_query.next().await), 7);
    assert_eq!(sse_seq(&resumed.next().await), 7);

    let (status, body) = app
        .get(&format!("/api/v1/auctions/{id}/events?last_event_id=abc"))
        .await;
    crate::helpers::assert_error(status, &body, 400, "bad_request");
}

async fn sse_stream_carries_the_contract_headers_snapshot_and_retry(app: TestApp) {
    let auction = app.create_auction(AuctionBuilder::new()).await;
    let id = auction["id"].as_str().expect("id").to_string();
    let mut feed = SseClient::connect(&app, &id, None).await;
    let header = |name: &str| {
        feed.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    assert!(header("content-type").starts_with("text/event-stream"));
    assert_eq!(header("cache-control"), "no-cache");
    assert_eq!(header("x-accel-buffering"), "no");
    let snapshot = feed.next().await;
    assert_eq!(snapshot.event, "snapshot");
    assert_eq!(snapshot.id, "0");
    // The raw stream opens with the reconnection delay.
    let mut raw = app
        .client
        .get(app.url(&format!("/api/v1/auctions/{id}/events")))
        .send()
        .await
        .expect("open");
    let first = raw.chunk().await.expect("a chunk").expect("some bytes");
    assert!(first.starts_with(b"retry: 2000\n\n"), "{first:?}");
    let data = sse_data(&snapshot);
    assert_eq!(data["id"], id);
    assert!(data["server_time"].is_string());
    assert!(data.get("reserve_price").is_none());

    let (_, token) = app.bidder("sse-bidder").await;
    app.bid(&token, &id, "one", 1000, None).await;
    let event = feed.next().await;
    assert_eq!(event.event, "bid");
    let data = sse_data(&event);
    for key in [
        "auction_id",
        "seq",
        "current_price",
        "min_next_bid",
        "bid_count",
        "leader",
        "ends_at",
        "status",
        "reserve_met",
        "server_time",
        "bid",
    ] {
        assert!(data.get(key).is_some(), "EventData has {key}: {data}");
    }
    assert_eq!(data["bid"]["amount"], 1000);
    assert_eq!(data["bid"]["kind"], "bid");
    assert!(data["bid"]["bidder"]
        .as_str()
        .expect("alias")
        .starts_with("bidder-"));

    let (status, body) = app
        .get("/api/v1/auctions/00000000-0000-0000-0000-000000000000/events")
        .await;
    crate::helpers::assert_error(status, &body, 404, "not_found");
}

async fn ws_subscribe_sends_a_snapshot_then_live_events(app: TestApp) {
    let auction = app.create_auction(AuctionBuilder::new()).await;
    let id = auction["id"].as_str().expect("id").to_string();
    let mut watcher = WsClient::connect(&app, None, None).await.expect("connect");
    watcher
        .send(&json!({"type": "subscribe", "auction_id": id}))
        .await;
    let snapshot = watcher.next().await;
    assert_eq!(snapshot["type"], "snapshot");
    assert_eq!(snapshot["auction"]["id"], id);
    assert_eq!(snapshot["auction"]["seq"], 0);

    let (_, token) = app.bidder("ws-live").await;
    let mut bidder = WsClient::connect(&app, Some(&token), None)
        .await
        .expect("connect");
    bidder
        .send(&json!({"type": "bid", "auction_id": id, "request_id": "x1", "amount": 1500}))
        .await;
    let result = bidder.next_of("bid_result").await;
    assert_eq!(result["result"]["status"], "leading");
    assert_eq!(result["result"]["seq"], 1);
    assert_eq!(result["result"]["request_id"], "x1");
    assert_eq!(result["result"]["accepted"], true);

    let event = watcher.next().await;
    assert_eq!(event["type"], "event");
    assert_eq!(event["auction_id"], id);
    assert_eq!(event["seq"], 1);
    assert_eq!(event["event"], "bid");
    assert_eq!(event["data"]["current_price"], 1500);

    // Unsubscribed sockets hear nothing more.
    watcher
        .send(&json!({"type": "unsubscribe", "auction_id": id}))
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    bidder
        .send(&json!({"type": "bid", "auction_id": id, "request_id": "x2", "amount": 9000, "max_amount": 9500}))
        .await;
    bidder.next_of("bid_result").await;
    assert!(watcher
        .next_within(Duration::from_millis(500))
        .await
        .is_none());
}

async fn ws_after_seq_replays_then_goes_live_without_gap_or_duplicate(app: TestApp) {
    let auction = app.create_auction(AuctionBuilder::new()).await;
    let id = auction["id"].as_str().expect("id").to_string();
    alternate_bids(&app, &id, 5).await;
    let mut ws = WsClient::connect(&app, None, None).await.expect("connect");
    ws.send(&json!({"type": "subscribe", "auction_id": id, "after_seq": 2}))
        .await;
    for seq in 3..=5 {
        let frame = ws.next().await;
        assert_eq!(frame["type"], "event", "{frame}");
        assert_eq!(frame["seq"], seq);
    }
    let (_, token) = app.bidder("after-seq-live").await;
    let min = app.snapshot(&id).await["min_next_bid"]
        .as_i64()
        .expect("min");
    app.bid(&token, &id, "live-1", min, None).await;
    let frame = ws.next().await;
    assert_eq!(frame["seq"], 6, "{frame}");
    assert!(ws.next_within(Duration::from_millis(300)).await.is_none());
}

async fn bad_frames_get_an_error_frame_and_the_socket_stays_open(app: TestApp) {
    let mut ws = WsClient::connect(&app, None, None).await.expect("connect");
    for text in [
        "not json",
        "{}",
        r#"{"type":"dance"}"#,
        r#"{"type":"subscribe"}"#,
        r#"{"type":"bid","auction_id":"x","request_id":"r","amount":"lots"}"#,
        r#"{"type":"subscribe","auction_id":"x","surprise":true}"#,
    ] {
        ws.send_text(text.to_string()).await;
        let frame = ws.next().await;
        assert_eq!(frame["type"], "error", "{text} -> {frame}");
        assert!(frame["error"]["code"].is_string());
        assert!(frame["error"]["message"].is_string());
    }
    ws.send(&json!({"type": "subscribe", "auction_id": "00000000-0000-0000-0000-000000000000"}))
        .await;
    let frame = ws.next().await;
    assert_eq!(frame["error"]["code"], "not_found");
    // Still open: a real subscription works.
    let auction = app.create_auction(AuctionBuilder::new()).await;
    ws.send(&json!({"type": "subscribe", "auction_id": auction["id"]}))
        .await;
    assert_eq!(ws.next().await["type"], "snapshot");
}

async fn an_oversized_frame_closes_the_socket_with_1009(app: TestApp) {
    let mut ws = WsClient::connect(&app, None, None).await.expect("connect");
    let huge = format!(
        r#"{{"type":"subscribe","auction_id":"{}"}}"#,
        "x".repeat(70 * 1024)
    );
    ws.send_text(huge).await;
    assert_eq!(
        ws.until_closed(Duration::from_secs(5)).await,
        WsEnd::Closed(Some(1009))
    );
}

async fn a_foreign_origin_is_refused_before_the_upgrade(app: TestApp) {
    let refused = WsClient::connect(&app, None, Some("https://evil.example")).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403)
        }
        Err(other) => panic!("expected an HTTP 403, got {other}"),
        Ok(_) => panic!("a foreign origin must not get a socket"),
    }
    let own = app.address.clone();
    assert!(WsClient::connect(&app, None, Some(&own)).await.is_ok());
}

async fn an_anonymous_socket_may_watch_but_its_bids_are_unauthenticated(app: TestApp) {
    let auction = app.create_auction(AuctionBuilder::new()).await;
    let id = auction["id"].as_str().expect("id").to_string();
    let mut ws = WsClient::connect(&app, None, None).await.expect("connect");
    ws.send(&json!({"type": "subscribe", "auction_id": id}))
        .await;
    assert_eq!(ws.next().await["type"], "snapshot");
    ws.send(&json!({"type": "bid", "auction_id": id, "request_id": "anon", "amount": 5000}))
        .await;
    let frame = ws.next().await;
    assert_eq!(frame["type"], "bid_error");
    assert_eq!(frame["request_id"], "anon");
    assert_eq!(frame["auction_id"], id);
    assert_eq!(frame["error"]["code"], "unauthenticated");
    assert_eq!(app.snapshot(&id).await["bid_count"], 0);
}

async fn a_subscriber_that_never_reads_is_disconnected_and_others_keep_up(app: TestApp) {
    let auction = app.create_auction(AuctionBuilder::new()).await;
    let id = auction["id"].as_str().expect("id").to_string();

    // A watcher with a tiny receive window that never reads a byte.
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    socket.set_recv_buffer_size(4096).expect("a small buffer");
    let mut stuck = socket.connect(app.addr).await.expect("connect");
    stuck
        .write_all(
            format!(
                "GET /api/v1/auctions/{id}/events HTTP/1.1\r\nHost: {}\r\n\r\n",
                app.addr
            )
            .as_bytes(),
        )
        .await
        .expect("send the request");

    let mut sse = SseClient::connect(&app, &id, None).await;
    assert_eq!(sse.next().await.event, "snapshot");
    let mut ws = WsClient::connect(&app, None, None).await.expect("connect");
    ws.send(&json!({"type": "subscribe", "auction_id": id}))
        .await;
    assert_eq!(ws.next().await["type"], "snapshot");

    let metric = |body: &str| -> f64 {
        body.lines()
            .find(|line| line.starts_with("gavel_slow_consumer_disconnects_total"))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|value| value.parse().ok())
            .unwrap_or(0.0)
    };
    let before = metric(
        &app.client
            .get(app.url("/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text"),
    );

    // 1,000 events, read concurrently by the healthy watchers.
    let sse_reader = tokio::spawn(async move {
        let events = sse.until_seq(1000).await;
        events.iter().map(sse_seq).collect::<Vec<_>>()
    });
    let ws_reader = tokio::spawn(async move {
        let mut seqs = Vec::new();
        while seqs.last() != Some(&1000) {
            let frame = ws.next().await;
            seqs.push(frame["seq"].as_i64().expect("seq"));
        }
        seqs
    });
    let last = alternate_bids(&app, &id, 1000).await;
    assert_eq!(last, 1000);
    let in_time = Duration::from_secs(5);
    let sse_seqs = tokio::time::timeout(in_time, sse_reader)
        .await
        .expect("the SSE watcher kept up")
        .expect("reader");
    let ws_seqs = tokio::time::timeout(in_time, ws_reader)
        .await
        .expect("the WS watcher kept up")
        .expect("reader");
    assert_eq!(sse_seqs, (1..=1000).collect::<Vec<_>>());
    assert_eq!(ws_seqs, (1..=1000).collect::<Vec<_>>());

    let after = metric(
        &app.client
            .get(app.url("/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text"),
    );
    assert!(
        after > before,
        "the stuck watcher was disconnected ({before} -> {after})"
    );
    drop(stuck);
}

async fn soft_close_extends_the_end_and_emits_extended(app: TestApp) {
    let auction = app
        .create_auction(
            AuctionBuilder::new()
                .ends_in(chrono::Duration::seconds(3))
                .extend_window(30),
        )
        .await;
    let id = auction["id"].as_str().expect("id").to_string();
    let ends_at = auction["ends_at"].as_str().expect("ends_at").to_string();
    let mut sse = SseClient::connect(&app, &id, None).await;
    sse.next().await;
    let (_, token) = app.bidder("sniper").await;
    let (status, body) = app.bid(&token, &id, "snipe", 1000, None).await;
    assert_eq!(status, 200, "{body}");
    assert_ne!(body["ends_at"], ends_at, "the answer carries the new end");
    let bid = sse.next().await;
    assert_eq!(bid.event, "bid");
    let extended = sse.next().await;
    assert_eq!(extended.event, "extended");
    let data = sse_data(&extended);
    assert_eq!(data["ends_at"], body["ends_at"]);
    let new_end = chrono::DateTime::parse_from_rfc3339(data["ends_at"].as_str().expect("time"))
        .expect("RFC 3339");
    let left = new_end.with_timezone(&chrono::Utc) - chrono::Utc::now();
    assert!(
        left > chrono::Duration::seconds(25),
        "about 30 s left, got {left}"
    );
    // Still open after the original end.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(app.snapshot(&id).await["status"], "open");
}

async fn the_closed_event_arrives_at_the_end_with_the_winner(app: TestApp) {
    let auction = app
        .create_auction(AuctionBuilder::new().ends_in(chrono::Duration::seconds(2)))
        .await;
    let id = auction["id"].as_str().expect("id").to_string();
    let mut sse = SseClient::connect(&app, &id, None).await;
    sse.next().await;
    let (_, token) = app.bidder("winner").await;
    let (status, _) = app.bid(&token, &id, "win", 1200, None).await;
    assert_eq!(status, 200);
    let bid = sse.next().await;
    let leader = sse_data(&bid)["leader"].clone();
    let closed = sse.next().await;
    assert_eq!(closed.event, "closed");
    let data = sse_data(&closed);
    assert_eq!(data["status"], "closed");
    assert_eq!(data["winner"], leader);
    assert_eq!(data["current_price"], 1200);
    let snapshot = app.snapshot(&id).await;
    assert_eq!(snapshot["status"], "closed");
    assert_eq!(snapshot["winner"], leader);
}

#[actix_web::test]
async fn a_client_close_is_answered_with_a_close() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let Some(app) = crate::helpers::spawn_app(crate::helpers::Backend::Sqlite).await else {
        return;
    };
    let mut ws = WsClient::connect(&app, None, None).await.expect("connect");
    ws.stream
        .send(Message::Close(None))
        .await
        .expect("send close");
    let reply = tokio::time::timeout(Duration::from_millis(500), ws.stream.next())
        .await
        .expect("the server answers the close at once");
    assert!(matches!(reply, Some(Ok(Message::Close(_)))), "{reply:?}");
}

#[actix_web::test]
async fn a_ban_stops_an_open_socket_from_bidding_at_once() {
    let Some(app) = crate::helpers::spawn_app(crate::helpers::Backend::Sqlite).await else {
        return;
    };
    let auction = app.create_auction(AuctionBuilder::new()).await;
    let id = auction["id"].as_str().expect("id").to_string();
    let (user_id, token) = app.bidder("soon-banned").await;
    let mut ws = WsClient::connect(&app, Some(&token), None)
        .await
        .expect("connect");
    ws.send(&json!({"type": "bid", "auction_id": id, "request_id": "before", "amount": 1000}))
        .await;
    assert_eq!(
        ws.next_of("bid_result").await["result"]["status"],
        "leading"
    );

    let admin = app.admin_token().await;
    let (status, _) = app
        .post_as(
            &admin,
            &format!("/api/v1/admin/users/{user_id}/ban"),
            &json!({}),
        )
        .await;
    assert_eq!(status, 200);
    ws.send(&json!({"type": "bid", "auction_id": id, "request_id": "after", "amount": 9000, "max_amount": 9000}))
        .await;
    let refused = ws.next_of("bid_error").await;
    assert_eq!(refused["error"]["code"], "banned", "{refused}");
    assert_eq!(app.snapshot(&id).await["current_price"], 1000);
}

/// A `Last-Event-ID` (or `after_seq`) past the auction's last event, such as
/// one kept from another database, is answered with a snapshot, so the
/// client learns where things stand instead of waiting in silence.
async fn a_resume_point_past_the_last_event_starts_over_with_a_snapshot(app: TestApp) {
    let id = app.create_auction(AuctionBuilder::new()).await["id"]
        .as_str()
        .expect("an id")
        .to_string();
    let (_, token) = app.bidder("ahead").await;
    let (status, _) = app.bid(&token, &id, "one", 1000, None).await;
    assert_eq!(status, 200);
    let mut feed = SseClient::connect(&app, &id, Some(999)).await;
    let first = feed.next().await;
    assert_eq!(first.event, "snapshot", "{first:?}");
    assert_eq!(sse_seq(&first), 1);
    let mut socket = WsClient::connect(&app, None, None).await.expect("socket");
    socket
        .send(&json!({"type": "subscribe", "auction_id": id, "after_seq": 999}))
        .await;
    let frame = socket.next().await;
    assert_eq!(frame["type"], "snapshot", "{frame}");
    assert_eq!(frame["auction"]["seq"], 1, "{frame}");
    app.stop().await;
}
