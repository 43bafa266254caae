//! Clients of docs/api.md: accounts and auctions over HTTP, bids over HTTP or a
//! WebSocket, and watchers (SSE or WebSocket) that record every `seq` they
//! are sent.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eventsource_stream::Eventsource as _;
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::harness::{Targets, ADMIN_PASSWORD, ADMIN_USER};

/// Longest wait for one plain request (a hang shows up as a transport error).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
pub const PASSWORD: &str = "password-123";

/// A logged-in user.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub username: String,
    pub token: String,
}

async fn send_json(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request
        .timeout(REQUEST_TIMEOUT)
        .send()
        .await
        .expect("an HTTP answer");
    let status = response.status().as_u16();
    let text = response.text().await.expect("a body");
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

pub async fn login(targets: &Targets, node: usize, username: &str, password: &str) -> String {
    let (status, body) = send_json(
        targets
            .http
            .post(targets.url(node, "/api/v1/sessions"))
            .json(&json!({"username": username, "password": password})),
    )
    .await;
    assert_eq!(status, 200, "login of {username}: {body}");
    body["token"].as_str().expect("a token").to_string()
}

/// Registers and logs in a bidder at `node`.
pub async fn register(targets: &Targets, node: usize, username: &str) -> Account {
    let (status, body) = send_json(
        targets
            .http
            .post(targets.url(node, "/api/v1/users"))
            .json(&json!({"username": username, "password": PASSWORD})),
    )
    .await;
    assert_eq!(status, 201, "register {username}: {body}");
    let token = login(targets, node, username, PASSWORD).await;
    Account {
        id: body["id"].as_str().expect("a user id").to_string(),
        username: username.to_string(),
        token,
    }
}

/// Registers `count` bidders `{prefix}{i}`, spread over the nodes.
pub async fn register_many(targets: &Targets, prefix: &str, count: usize) -> Vec<Account> {
    let nodes = targets.bases.len();
    let mut tasks = Vec::new();
    for i in 0..count {
        let targets = targets.clone();
        let username = format!("{prefix}{i}");
        tasks.push(tokio::spawn(async move {
            register(&targets, i % nodes, &username).await
        }));
    }
    let mut accounts = Vec::new();
    for task in tasks {
        accounts.push(task.await.expect("registration"));
    }
    accounts
}

/// Creates an open auction (no soft close, an hour long); returns its id.
pub async fn create_auction(targets: &Targets, node: usize) -> String {
    let admin = login(targets, node, ADMIN_USER, ADMIN_PASSWORD).await;
    let ends_at = (chrono::Utc::now() + chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let (status, body) = send_json(
        targets
            .http
            .post(targets.url(node, "/api/v1/admin/auctions"))
            .bearer_auth(&admin)
            .json(&json!({
                "title": "A lot for many nodes",
                "description": "Bid on it from anywhere",
                "currency": "EUR",
                "starting_price": 1000,
                "ends_at": ends_at,
                "extend_window_secs": 0,
            })),
    )
    .await;
    assert_eq!(status, 201, "create an auction: {body}");
    body["id"].as_str().expect("an auction id").to_string()
}

/// What became of one attempt to place a bid.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// 200: the BidResult.
    Accepted { seq: i64, result: Value },
    /// 503 `unavailable`: retry with the same request_id.
    Unavailable,
    /// Any other answer: status (0 over WebSocket) and error body.
    Rejected { status: u16, body: Value },
    /// No answer: connection refused or dropped, or a timeout.
    Transport(String),
}

impl Outcome {
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Rejected { body, .. } => body["error"]["code"].as_str(),
            Self::Unavailable => Some("unavailable"),
            _ => None,
        }
    }

    /// The auction's `min_next_bid` as this answer tells it.
    pub fn min_next_bid(&self) -> Option<i64> {
        match self {
            Self::Accepted { result, .. } => result["min_next_bid"].as_i64(),
            Self::Rejected { body, .. } => body["error"]["min_next_bid"].as_i64(),
            _ => None,
        }
    }

    fn from_answer(status: u16, body: Value) -> Self {
        match status {
            200 => Self::Accepted {
                seq: body["seq"].as_i64().expect("a BidResult with a seq"),
                result: body,
            },
            503 if body["error"]["code"] == "unavailable" => Self::Unavailable,
            _ => Self::Rejected { status, body },
        }
    }
}

/// `POST /api/v1/auctions/{id}/bids` at `node`.
pub async fn http_bid(
    targets: &Targets,
    node: usize,
    token: &str,
    auction: &str,
    request_id: &str,
    amount: i64,
) -> Outcome {
    let sent = targets
        .http
        .post(targets.url(node, &format!("/api/v1/auctions/{auction}/bids")))
        .bearer_auth(token)
        .json(&json!({"request_id": request_id, "amount": amount}))
        .timeout(REQUEST_TIMEOUT)
        .send()
        .await;
    let response = match sent {
        Ok(response) => response,
        Err(error) => return Outcome::Transport(format!("{error:?}")),
    };
    let status = response.status().as_u16();
    let text = match response.text().await {
        Ok(text) => text,
        Err(error) => return Outcome::Transport(format!("{error:?}")),
    };
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Outcome::from_answer(status, body)
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A WebSocket to one node.
pub struct WsConn {
    stream: Socket,
}

impl WsConn {
    pub async fn connect(addr: SocketAddr, token: Option<&str>) -> Result<Self, String> {
        let mut request = format!("ws://{addr}/api/v1/ws")
            .into_client_request()
            .map_err(|e| e.to_string())?;
        if let Some(token) = token {
            let value = HeaderValue::from_str(&format!("Bearer {token}")).expect("a header");
            request.headers_mut().insert("authorization", value);
        }
        let connect = tokio_tungstenite::connect_async(request);
        match tokio::time::timeout(REQUEST_TIMEOUT, connect).await {
            Ok(Ok((stream, _))) => Ok(Self { stream }),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err("WebSocket connect timed out".into()),
        }
    }

    pub async fn send(&mut self, frame: &Value) -> Result<(), String> {
        self.stream
            .send(Message::Text(frame.to_string().into()))
            .await
            .map_err(|e| e.to_string())
    }

    /// The next JSON text frame before `deadline`.
    pub async fn next_json(&mut self, deadline: tokio::time::Instant) -> Result<Value, String> {
        loop {
            let message = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .map_err(|_| "no frame in time".to_string())?
                .ok_or_else(|| "socket ended".to_string())?
                .map_err(|e| e.to_string())?;
            match message {
                Message::Text(text) => {
                    return serde_json::from_str(text.as_str())
                        .map_err(|e| format!("a non-JSON frame {text}: {e}"))
                }
                Message::Close(frame) => return Err(format!("socket closed: {frame:?}")),
                _ => continue,
            }
        }
    }

    /// A `bid` frame and its `bid_result` / `bid_error` answer.
    pub async fn bid(&mut self, auction: &str, request_id: &str, amount: i64) -> Outcome {
        let frame = json!({
            "type": "bid", "auction_id": auction, "request_id": request_id, "amount": amount,
        });
        if let Err(error) = self.send(&frame).await {
            return Outcome::Transport(error);
        }
        let deadline = tokio::time::Instant::now() + REQUEST_TIMEOUT;
        loop {
            let frame = match self.next_json(deadline).await {
                Ok(frame) => frame,
                Err(error) => return Outcome::Transport(error),
            };
            match frame["type"].as_str() {
                Some("bid_result") if frame["result"]["request_id"] == request_id => {
                    return Outcome::from_answer(200, frame["result"].clone())
                }
                Some("bid_error") if frame["request_id"] == request_id => {
                    // A WebSocket answer has a code but no status: 0.
                    let status = match frame["error"]["code"].as_str() {
                        Some("unavailable") => 503,
                        _ => 0,
                    };
                    return Outcome::from_answer(status, json!({"error": frame["error"]}));
                }
                _ => continue,
            }
        }
    }
}

/// What a watcher has been sent so far.
#[derive(Debug, Clone, Default)]
pub struct WatchLog {
    /// The `seq` of the first snapshot.
    pub start: Option<i64>,
    /// Every event's `seq`, in the order received.
    pub seqs: Vec<i64>,
    /// Why the feed ended, if it did.
    pub ended: Option<String>,
    /// Per event: its `server_time` and when it arrived (ms since the
    /// watcher started), to tell live events from gap fills when
    /// something goes wrong.
    pub timing: Vec<(i64, String, u128)>,
}

impl WatchLog {
    pub fn last(&self) -> i64 {
        self.seqs.last().copied().or(self.start).unwrap_or(0)
    }
}

/// A feed reader running in the background.
pub struct Watcher {
    pub name: String,
    pub node: usize,
    log: Arc<Mutex<WatchLog>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock(log: &Mutex<WatchLog>) -> std::sync::MutexGuard<'_, WatchLog> {
    log.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Watcher {
    /// Opens the SSE feed at `node` and returns once its snapshot arrived.
    pub async fn sse(targets: &Targets, node: usize, auction: &str) -> Self {
        let response = targets
            .http
            .get(targets.url(node, &format!("/api/v1/auctions/{auction}/events")))
            .send()
            .await
            .expect("open the SSE feed");
        assert_eq!(response.status(), 200, "SSE feed at node {node}");
        let log = Arc::new(Mutex::new(WatchLog::default()));
        let sink = Arc::clone(&log);
        let born = Instant::now();
        let task = tokio::spawn(async move {
            let mut events = response.bytes_stream().eventsource();
            let ending = loop {
                match events.next().await {
                    None => break "stream ended".to_string(),
                    Some(Err(error)) => break format!("stream error: {error}"),
                    Some(Ok(event)) => {
                        if event.data.is_empty() {
                            continue;
                        }
                        let Ok(seq) = event.id.parse::<i64>() else {
                            break format!("an event without a numeric id: {event:?}");
                        };
                        let mut log = lock(&sink);
                        if event.event == "snapshot" {
                            log.start.get_or_insert(seq);
                        } else {
                            let data: Value = serde_json::from_str(&event.data).unwrap_or_default();
                            let server_time =
                                data["server_time"].as_str().unwrap_or("").to_string();
                            log.timing
                                .push((seq, server_time, born.elapsed().as_millis()));
                            log.seqs.push(seq);
                        }
                    }
                }
            };
            lock(&sink).ended = Some(ending);
        });
        let watcher = Self {
            name: format!("SSE watcher at node {node}"),
            node,
            log,
            task,
        };
        watcher.wait_started().await;
        watcher
    }

    /// Subscribes over an anonymous WebSocket at `node`; returns once the
    /// snapshot arrived.
    pub async fn ws(targets: &Targets, node: usize, auction: &str) -> Self {
        let mut conn = WsConn::connect(targets.addrs[node], None)
            .await
            .expect("open a WebSocket");
        conn.send(&json!({"type": "subscribe", "auction_id": auction}))
            .await
            .expect("subscribe");
        let log = Arc::new(Mutex::new(WatchLog::default()));
        let sink = Arc::clone(&log);
        let born = Instant::now();
        let task = tokio::spawn(async move {
            let ending = loop {
                let far = tokio::time::Instant::now() + Duration::from_secs(3600);
                match conn.next_json(far).await {
                    Err(error) => break error,
                    Ok(frame) => match frame["type"].as_str() {
                        Some("snapshot") => {
                            let seq = frame["auction"]["seq"].as_i64().expect("a snapshot seq");
                            lock(&sink).start.get_or_insert(seq);
                        }
                        Some("event") => {
                            let seq = frame["seq"].as_i64().expect("an event seq");
                            let server_time = frame["data"]["server_time"]
                                .as_str()
                                .unwrap_or("")
                                .to_string();
                            let mut log = lock(&sink);
                            log.timing
                                .push((seq, server_time, born.elapsed().as_millis()));
                            log.seqs.push(seq);
                        }
                        _ => break format!("an unexpected frame: {frame}"),
                    },
                }
            };
            lock(&sink).ended = Some(ending);
        });
        let watcher = Self {
            name: format!("WebSocket watcher at node {node}"),
            node,
            log,
            task,
        };
        watcher.wait_started().await;
        watcher
    }

    async fn wait_started(&self) {
        let started = Instant::now();
        loop {
            let log = self.log();
            if log.start.is_some() {
                return;
            }
            assert!(log.ended.is_none(), "{}: ended early: {log:?}", self.name);
            assert!(
                started.elapsed() < REQUEST_TIMEOUT,
                "{}: no snapshot in time",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub fn log(&self) -> WatchLog {
        lock(&self.log).clone()
    }

    /// Waits until this watcher has been sent `seq` (or its feed ended).
    pub async fn wait_for(&self, seq: i64, timeout: Duration) -> WatchLog {
        let started = Instant::now();
        loop {
            let log = self.log();
            if log.last() >= seq || log.ended.is_some() || started.elapsed() >= timeout {
                return log;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
