//! What an outside review broke (issue 11), each through the real door: a
//! raw TCP client for WebSocket frames and request bodies, HTTP and
//! WebSocket clients for sessions and replays.

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use serde_json::json;

use crate::clients::WsClient;
use crate::helpers::{spawn_app, test_config, AuctionBuilder, Backend, TestApp, TestDatabase};

/// Opens a raw WebSocket: the upgrade by hand, so the test can send frames
/// no well-behaved client library would.
async fn raw_websocket(app: &TestApp) -> TcpStream {
    let mut socket = TcpStream::connect(app.addr).await.expect("connect");
    let request = format!(
        "GET /api/v1/ws HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        app.addr
    );
    socket.write_all(request.as_bytes()).await.expect("upgrade");
    let mut head = Vec::new();
    let mut byte = [0_u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        socket.read_exact(&mut byte).await.expect("upgrade answer");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    socket
}

/// A masked client frame header announcing `len` payload bytes.
fn frame_header(fin: bool, opcode: u8, len: u64) -> Vec<u8> {
    let mut out = vec![(if fin { 0x80 } else { 0 }) | opcode];
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len <= u64::from(u16::MAX) {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&len.to_be_bytes());
    }
    out.extend_from_slice(&[0, 0, 0, 0]); // a zero mask leaves the payload as is
    out
}

fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = frame_header(fin, opcode, payload.len() as u64);
    out.extend_from_slice(payload);
    out
}

/// Reads server frames until a close frame; returns its code, or None when
/// the connection ends without one or nothing comes within `wait`.
async fn close_code(socket: &mut TcpStream, wait: Duration) -> Option<u16> {
    let read = async {
        loop {
            let mut head = [0_u8; 2];
            socket.read_exact(&mut head).await.ok()?;
            let mut len = u64::from(head[1] & 0x7F);
            if len == 126 {
                let mut ext = [0_u8; 2];
                socket.read_exact(&mut ext).await.ok()?;
                len = u64::from(u16::from_be_bytes(ext));
            } else if len == 127 {
                let mut ext = [0_u8; 8];
                socket.read_exact(&mut ext).await.ok()?;
                len = u64::from_be_bytes(ext);
            }
            let mut payload = vec![0_u8; usize::try_from(len).ok()?];
            socket.read_exact(&mut payload).await.ok()?;
            if head[0] & 0x0F == 0x8 {
                return Some(u16::from_be_bytes([*payload.first()?, *payload.get(1)?]));
            }
        }
    };
    tokio::time::timeout(wait, read).await.ok().flatten()
}

/// A header announcing 1 TiB is refused on the header, with 1009, before
/// any of its payload arrives (it used to be buffered as it streamed in).
async fn a_huge_announced_frame_is_refused_on_its_header(app: TestApp) {
    let mut socket = raw_websocket(&app).await;
    socket
        .write_all(&frame_header(true, 0x1, 1 << 40))
        .await
        .expect("send the header");
    socket
        .write_all(&[b' '; 1024])
        .await
        .expect("a little payload");
    assert_eq!(
        close_code(&mut socket, Duration::from_secs(5)).await,
        Some(1009)
    );
    app.stop().await;
}

/// Fragments whose announced lengths add up past 64 KiB are refused on the
/// header that crosses the limit, with 1009.
async fn continuations_past_the_limit_are_refused(app: TestApp) {
    let mut socket = raw_websocket(&app).await;
    let part = vec![b' '; 40_000];
    socket
        .write_all(&frame(false, 0x1, &part))
        .await
        .expect("first fragment");
    // The second fragment's header alone crosses the limit: no payload sent.
    socket
        .write_all(&frame_header(false, 0x0, 40_000))
        .await
        .expect("second header");
    assert_eq!(
        close_code(&mut socket, Duration::from_secs(5)).await,
        Some(1009)
    );
    // Many small fragments add up too.
    let mut socket = raw_websocket(&app).await;
    socket
        .write_all(&frame(false, 0x1, b"{"))
        .await
        .expect("start");
    let mut stream = Vec::new();
    for _ in 0..1000 {
        stream.extend(frame(false, 0x0, &[b' '; 100]));
    }
    let _ = socket.write_all(&stream).await; // the server may close mid-way
    assert_eq!(
        close_code(&mut socket, Duration::from_secs(5)).await,
        Some(1009)
    );
    // The server still answers a well-formed message on a new socket.
    let mut socket = raw_websocket(&app).await;
    socket
        .write_all(&frame(true, 0x1, b"{\"type\":\"dance\"}"))
        .await
        .expect("a bad frame");
    let mut head = [0_u8; 2];
    tokio::time::timeout(Duration::from_secs(5), socket.read_exact(&mut head))
        .await
        .expect("an answer in time")
        .expect("an answer");
    assert_eq!(head[0] & 0x0F, 0x1, "a text frame (the error frame)");
    app.stop().await;
}

#[actix_web::test]
async fn websocket_frame_limits() {
    if let Some(app) = spawn_app(Backend::Sqlite).await {
        a_huge_announced_frame_is_refused_on_its_header(app).await;
    }
    if let Some(app) = spawn_app(Backend::Sqlite).await {
        continuations_past_the_limit_are_refused(app).await;
    }
}

/// Creates an open auction; returns its id.
async fn open_auction(app: &TestApp) -> String {
    app.create_auction(AuctionBuilder::new()).await["id"]
        .as_str()
        .expect("an id")
        .to_string()
}

/// An open auction with `count` accepted bids, two bidders `{prefix}0` and
/// `{prefix}1` taking turns; returns its id.
async fn auction_with_bids(app: &TestApp, prefix: &str, count: usize) -> String {
    let auction = open_auction(app).await;
    let bidders = app.bidders(prefix, 2).await;
    for i in 0..count {
        let bidder = &bidders[i % 2];
        let (status, body) = app
            .bid(
                &bidder.token,
                &auction,
                &format!("{prefix}-{i}"),
                1000 + 100 * i as i64,
                None,
            )
            .await;
        assert_eq!(status.as_u16(), 200, "{body}");
    }
    auction
}

/// Starts a server on a fresh SQLite file with `tune` applied to its config.
async fn app_with(tune: impl FnOnce(&mut gavel::config::ServeConfig)) -> TestApp {
    let db = TestDatabase::new(Backend::Sqlite)
        .await
        .expect("SQLite is always there");
    let mut config = test_config(&db.url);
    tune(&mut config);
    TestApp::start(db, config).await
}

/// Reads a raw HTTP answer's status line (None: closed or nothing in time).
async fn status_line(socket: &mut TcpStream, wait: Duration) -> Option<String> {
    let read = async {
        let mut head = Vec::new();
        let mut byte = [0_u8; 1];
        while !head.ends_with(b"\r\n") {
            if socket.read(&mut byte).await.ok()? == 0 {
                return None;
            }
            head.push(byte[0]);
        }
        Some(String::from_utf8_lossy(&head).trim().to_string())
    };
    tokio::time::timeout(wait, read).await.ok().flatten()
}

/// Whether the server closes `socket` within `wait` (reads to the end).
async fn closes_within(socket: &mut TcpStream, wait: Duration) -> bool {
    let drain = async {
        let mut buf = [0_u8; 4096];
        loop {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(wait, drain).await.is_ok()
}

/// A body announced but never sent in full, plain or chunked, is answered
/// 408 once the body deadline passes, and its connection is closed.
#[actix_web::test]
async fn slow_request_bodies_get_408_and_are_closed() {
    let app = app_with(|config| config.body_timeout_secs = 1).await;
    let short = "POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                 Content-Length: 1000\r\n\r\n{\"username\":";
    let chunked = "POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                   Transfer-Encoding: chunked\r\n\r\n5\r\n{\"use\r\n";
    for request in [short, chunked] {
        let mut socket = TcpStream::connect(app.addr).await.expect("connect");
        socket.write_all(request.as_bytes()).await.expect("send");
        let started = std::time::Instant::now();
        let status = status_line(&mut socket, Duration::from_secs(5)).await;
        assert_eq!(
            status.as_deref(),
            Some("HTTP/1.1 408 Request Timeout"),
            "{request:?}"
        );
        assert!(started.elapsed() >= Duration::from_millis(900));
        assert!(
            closes_within(&mut socket, Duration::from_secs(10)).await,
            "the connection of a slow body is closed"
        );
    }
    // A body that arrives in time is unaffected.
    let (status, body) = app
        .post(
            "/api/v1/sessions",
            &serde_json::json!({"username": "nobody", "password": "wrong-password"}),
        )
        .await;
    assert_eq!(status.as_u16(), 401, "{body}");
    app.stop().await;
}

/// Past the per-IP cap a new connection is shut at once; the others keep
/// working, and a freed slot can be used again.
#[actix_web::test]
async fn connections_per_ip_are_capped() {
    const CAP: usize = 5;
    let app = app_with(|config| config.max_connections_per_ip = CAP).await;
    let mut held = Vec::new();
    for _ in 0..CAP {
        let mut socket = TcpStream::connect(app.addr).await.expect("connect");
        socket
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("send");
        let status = status_line(&mut socket, Duration::from_secs(5)).await;
        assert_eq!(status.as_deref(), Some("HTTP/1.1 200 OK"));
        held.push(socket);
    }
    let mut over = TcpStream::connect(app.addr)
        .await
        .expect("the kernel accepts");
    let _ = over
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    assert_eq!(
        status_line(&mut over, Duration::from_secs(5)).await,
        None,
        "a connection past the cap gets no answer"
    );
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut again = TcpStream::connect(app.addr).await.expect("connect");
    again
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("send");
    assert_eq!(
        status_line(&mut again, Duration::from_secs(5))
            .await
            .as_deref(),
        Some("HTTP/1.1 200 OK")
    );
    drop(held);
    app.stop().await;
}

/// A socket opened with a session that is then logged out stays open but
/// speaks for nobody: its next bid is `unauthenticated`.
async fn logout_ends_the_identity_of_open_sockets(app: TestApp) {
    let auction = open_auction(&app).await;
    let (_, token) = app.bidder("leaver").await;
    let mut socket = WsClient::connect(&app, Some(&token), None)
        .await
        .expect("socket");
    let bid = |request_id: &str, amount: i64| json!({"type": "bid", "auction_id": auction, "request_id": request_id, "amount": amount});
    socket.send(&bid("before", 1000)).await;
    let answer = socket.next().await;
    assert_eq!(answer["type"], "bid_result", "{answer}");
    let response = app
        .client
        .delete(app.url("/api/v1/sessions"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("logout");
    assert_eq!(response.status().as_u16(), 204);
    // At once: no pause between the logout's answer and the bid.
    socket.send(&bid("after", 5000)).await;
    let answer = socket.next().await;
    assert_eq!(answer["type"], "bid_error", "{answer}");
    assert_eq!(answer["error"]["code"], "unauthenticated", "{answer}");
    // Still open: it may watch.
    socket
        .send(&json!({"type": "subscribe", "auction_id": auction}))
        .await;
    assert_eq!(socket.next().await["type"], "snapshot");
    let (_, snapshot) = app.get(&format!("/api/v1/auctions/{auction}")).await;
    assert_eq!(
        snapshot["current_price"], 1000,
        "the late bid changed nothing"
    );
    app.stop().await;
}

/// A socket whose session expires loses its identity at the expiry.
#[actix_web::test]
async fn an_expired_session_ends_the_identity_of_its_sockets() {
    let app = app_with(|_| {}).await;
    let auction = open_auction(&app).await;
    let (user, token) = app.bidder("expiring").await;
    // Let the session end two seconds from now, as if it were that old.
    let expires_at = chrono::Utc::now().timestamp_millis() + 2000;
    let mut db = app.db_connection().await;
    sqlx::query("UPDATE sessions SET expires_at = $1 WHERE user_id = $2")
        .bind(expires_at)
        .bind(&user)
        .execute(&mut db)
        .await
        .expect("shorten the session");
    let mut socket = WsClient::connect(&app, Some(&token), None)
        .await
        .expect("socket");
    let bid = |request_id: &str, amount: i64| json!({"type": "bid", "auction_id": auction, "request_id": request_id, "amount": amount});
    socket.send(&bid("before", 1000)).await;
    assert_eq!(socket.next().await["type"], "bid_result");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    socket.send(&bid("after", 5000)).await;
    let answer = socket.next().await;
    assert_eq!(answer["error"]["code"], "unauthenticated", "{answer}");
    app.stop().await;
}

/// Re-subscribing with `after_seq: 0` again and again is bounded: past the
/// connection's replay budget the answer is a `rate_limited` error frame,
/// and other clients are still served.
async fn replays_are_bounded_per_connection(app: TestApp) {
    let auction = auction_with_bids(&app, "replayer", 20).await;
    let mut socket = WsClient::connect(&app, None, None).await.expect("socket");
    let mut replayed = 0;
    let mut refused = None;
    for _ in 0..3000 {
        socket
            .send(&json!({"type": "subscribe", "auction_id": auction, "after_seq": 0}))
            .await;
        // A marker: unsubscribe answers nothing, a bad frame answers an error.
        socket.send_text("{\"type\":\"marker\"}".into()).await;
        loop {
            let frame = socket.next().await;
            match frame["type"].as_str() {
                Some("error") if frame["error"]["code"] == "rate_limited" => {
                    refused = Some(frame);
                    break;
                }
                Some("error") if frame["error"]["code"] == "bad_frame" => break,
                _ => replayed += 1,
            }
        }
        if refused.is_some() {
            break;
        }
    }
    let refused = refused.expect("the replays were never refused");
    assert!(
        refused["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("retry in")),
        "{refused}"
    );
    // The subscribe budget (bursts of 50) or the replay budget (20,000
    // events), whichever runs out first, stops it long before the 3,000
    // subscribes (60,000 events) the client tried.
    assert!(
        (1..=21_000).contains(&replayed),
        "events replayed before the refusal: {replayed}"
    );
    // Another client is served at once.
    let (status, _) = app.get(&format!("/api/v1/auctions/{auction}")).await;
    assert_eq!(status.as_u16(), 200);
    let mut other = WsClient::connect(&app, None, None).await.expect("socket");
    other
        .send(&json!({"type": "subscribe", "auction_id": auction, "after_seq": 15}))
        .await;
    assert_eq!(other.next().await["seq"], 16);
    app.stop().await;
}

/// A socket may follow at most 100 auctions.
async fn subscriptions_per_socket_are_capped(app: TestApp) {
    let mut socket = WsClient::connect(&app, None, None).await.expect("socket");
    let mut ids = Vec::new();
    for i in 0..101 {
        let id = app
            .create_auction(AuctionBuilder::new().set("title", json!(format!("Lot {i}"))))
            .await["id"]
            .as_str()
            .expect("an id")
            .to_string();
        ids.push(id);
    }
    let mut refused = None;
    for (i, id) in ids.iter().enumerate() {
        if i > 0 && i % 40 == 0 {
            // Stay under the subscribe rate (10/s, bursts of 50).
            tokio::time::sleep(Duration::from_secs(4)).await;
        }
        socket
            .send(&json!({"type": "subscribe", "auction_id": id}))
            .await;
        let frame = socket.next().await;
        if frame["type"] == "error" {
            refused = Some((i, frame));
            break;
        }
        assert_eq!(frame["type"], "snapshot", "{frame}");
    }
    let (at, frame) = refused.expect("the 101st subscription is refused");
    assert_eq!(at, 100);
    assert_eq!(frame["error"]["code"], "rate_limited", "{frame}");
    app.stop().await;
}

/// SSE replays (`Last-Event-ID`) draw on the address's replay budget.
#[actix_web::test]
async fn sse_replays_draw_on_the_address_budget() {
    let app = app_with(|config| config.replay_events_per_sec_per_ip = 2).await;
    let auction = auction_with_bids(&app, "sse-replay", 12).await;
    // A budget of 2 events a second holds 10: the first 12-event replay
    // passes on a full budget (into debt), the next is refused.
    let url = app.url(&format!("/api/v1/auctions/{auction}/events"));
    let first = app
        .client
        .get(&url)
        .header("Last-Event-ID", "0")
        .send()
        .await
        .expect("SSE");
    assert_eq!(first.status().as_u16(), 200);
    drop(first);
    let second = app
        .client
        .get(&url)
        .header("Last-Event-ID", "0")
        .send()
        .await
        .expect("SSE");
    assert_eq!(second.status().as_u16(), 429);
    assert!(second.headers().contains_key("retry-after"));
    let body: serde_json::Value = second.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "rate_limited");
    // A live-only feed replays nothing and is not refused.
    let live = app.client.get(&url).send().await.expect("SSE");
    assert_eq!(live.status().as_u16(), 200);
    app.stop().await;
}

/// `/metrics` behind a bearer token, or on a listener of its own.
#[actix_web::test]
async fn metrics_can_be_restricted() {
    let app = app_with(|config| config.metrics_token = Some("s3cret-metrics".into())).await;
    let url = app.url("/metrics");
    let anonymous = app.client.get(&url).send().await.expect("GET");
    assert_eq!(anonymous.status().as_u16(), 401);
    let wrong = app
        .client
        .get(&url)
        .bearer_auth("guess")
        .send()
        .await
        .expect("GET");
    assert_eq!(wrong.status().as_u16(), 401);
    let right = app
        .client
        .get(&url)
        .bearer_auth("s3cret-metrics")
        .send()
        .await
        .expect("GET");
    assert_eq!(right.status().as_u16(), 200);
    assert!(right.text().await.expect("text").contains("gavel_"));
    app.stop().await;

    let db = TestDatabase::new(Backend::Sqlite).await.expect("SQLite");
    let mut config = test_config(&db.url);
    config.metrics_bind = Some("127.0.0.1:0".parse().expect("an address"));
    let application = gavel::startup::Application::build(config)
        .await
        .expect("builds");
    let metrics_port = application.metrics_port().expect("a metrics listener");
    let port = application.port();
    let handle = application.handle();
    let server = actix_web::rt::spawn(application.run());
    let client = reqwest::Client::new();
    let main = client
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .expect("GET");
    assert_eq!(main.status().as_u16(), 404, "not on the main listener");
    let own = client
        .get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .send()
        .await
        .expect("GET");
    assert_eq!(own.status().as_u16(), 200, "on its own listener");
    let other = client
        .get(format!("http://127.0.0.1:{metrics_port}/api/v1/auctions"))
        .send()
        .await
        .expect("GET");
    assert_eq!(other.status().as_u16(), 404, "nothing else there");
    handle.shutdown().await;
    let _ = server.await;
}

crate::on_both_backends!(
    logout_ends_the_identity_of_open_sockets,
    replays_are_bounded_per_connection,
    subscriptions_per_socket_are_capped,
);
