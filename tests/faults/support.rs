//! What every fault test needs: databases, skipping, an HTTP client for a
//! server at some address, bidders and auctions.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{json, Value};

pub const ADMIN_USER: &str = "fault-admin";
pub const ADMIN_PASSWORD: &str = "fault-admin-password-1";
pub const BIDDER_PASSWORD: &str = "password-123";

pub use crate::common::{create_postgres_database, postgres_admin_url, services_required, TempDir};

/// Says loudly that a test is skipped, or fails it when services are required.
pub fn skip(test: &str, why: &str) {
    assert!(
        !services_required(),
        "{test}: required (GAVEL_REQUIRE_SERVICES=1) but cannot run: {why}"
    );
    eprintln!("\n!!! SKIPPING {test}: {why}\n");
}

/// A fresh PostgreSQL database, dropped (best effort) with this value.
pub struct PgDatabase {
    pub url: String,
    name: String,
}

impl PgDatabase {
    /// Creates one, or says why not (None) when PostgreSQL is unreachable.
    pub async fn create(test: &str) -> Option<Self> {
        match create_postgres_database("gavel_fault").await {
            Ok((url, name)) => Some(Self { url, name }),
            Err(why) => {
                skip(test, &why);
                None
            }
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        // Another runtime may be gone by now: drop with psql-free sync code
        // on a throwaway thread and runtime, ignoring every failure.
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                use sqlx::Connection as _;
                let connect = sqlx::PgConnection::connect(&postgres_admin_url());
                if let Ok(Ok(mut conn)) =
                    tokio::time::timeout(Duration::from_secs(5), connect).await
                {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}

/// An HTTP client for a server at `base` (`http://127.0.0.1:PORT`).
#[derive(Debug, Clone)]
pub struct Api {
    pub base: String,
    pub client: reqwest::Client,
}

/// One HTTP answer, or why there was none.
pub type Answer = Result<(StatusCode, Value), String>;

impl Api {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_string(),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                // Below the server's 5 s keep-alive: a pooled connection is
                // never reused just as the server closes it.
                .pool_idle_timeout(Duration::from_secs(2))
                .pool_max_idle_per_host(64)
                .build()
                .expect("a client"),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.map_err(|e| format!("{e:?}"))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| format!("{e:?}"))?;
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok((status, value))
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(self.client.get(self.url(path))).await
    }

    pub async fn post(&self, token: Option<&str>, path: &str, body: &Value) -> Answer {
        let mut request = self.client.post(self.url(path)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        self.send(request).await
    }

    /// Like [`Api::post`] with a time limit of its own.
    pub async fn post_within(
        &self,
        token: &str,
        path: &str,
        body: &Value,
        limit: Duration,
    ) -> Answer {
        let request = self
            .client
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .timeout(limit);
        self.send(request).await
    }

    pub async fn login(&self, username: &str, password: &str) -> String {
        let (status, body) = self
            .post(
                None,
                "/api/v1/sessions",
                &json!({"username": username, "password": password}),
            )
            .await
            .expect("log in");
        assert_eq!(status, StatusCode::OK, "{body}");
        body["token"].as_str().expect("a token").to_string()
    }

    pub async fn admin_token(&self) -> String {
        self.login(ADMIN_USER, ADMIN_PASSWORD).await
    }

    /// Registers and logs in `count` bidders named `{prefix}{i}`.
    pub async fn bidders(&self, prefix: &str, count: usize) -> Vec<Bidder> {
        use futures_util::StreamExt as _;
        futures_util::stream::iter(0..count)
            .map(|i| async move {
                let username = format!("{prefix}{i}");
                let (status, user) = self
                    .post(
                        None,
                        "/api/v1/users",
                        &json!({"username": username, "password": BIDDER_PASSWORD}),
                    )
                    .await
                    .expect("register");
                assert_eq!(status, StatusCode::CREATED, "{user}");
                let token = self.login(&username, BIDDER_PASSWORD).await;
                Bidder {
                    id: user["id"].as_str().expect("an id").to_string(),
                    username,
                    token,
                }
            })
            .buffered(4)
            .collect()
            .await
    }

    /// Creates an open auction (starting price 1000, one hour, no soft close).
    pub async fn auction(&self, admin: &str) -> String {
        let ends_at = (Utc::now() + chrono::Duration::hours(1))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let (status, body) = self
            .post(
                Some(admin),
                "/api/v1/admin/auctions",
                &json!({
                    "title": "A lot under fire",
                    "description": "Bid on while things break",
                    "currency": "EUR",
                    "starting_price": 1000,
                    "ends_at": ends_at,
                    "extend_window_secs": 0,
                }),
            )
            .await
            .expect("create an auction");
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().expect("an auction id").to_string()
    }

    /// Places a plain bid (no maximum).
    pub async fn bid(&self, token: &str, auction: &str, request_id: &str, amount: i64) -> Answer {
        self.post(
            Some(token),
            &format!("/api/v1/auctions/{auction}/bids"),
            &json!({"request_id": request_id, "amount": amount}),
        )
        .await
    }

    /// The whole public bid history, oldest first.
    pub async fn history(&self, auction: &str) -> Vec<Value> {
        let mut all = Vec::new();
        let mut after = 0;
        loop {
            let (status, body) = self
                .get(&format!(
                    "/api/v1/auctions/{auction}/bids?after={after}&limit=1000"
                ))
                .await
                .expect("read the history");
            assert_eq!(status, StatusCode::OK, "{body}");
            let page = body["bids"].as_array().expect("a bids array").clone();
            let Some(last) = page.last() else {
                return all;
            };
            after = last["seq"].as_i64().expect("a seq");
            all.extend(page);
        }
    }

    /// Polls `path` until it answers `want` (panics after `limit`).
    pub async fn wait_for_status(&self, path: &str, want: u16, limit: Duration) -> Duration {
        let started = Instant::now();
        loop {
            let answer = self
                .send(
                    self.client
                        .get(self.url(path))
                        .timeout(Duration::from_secs(5)),
                )
                .await;
            if matches!(&answer, Ok((status, _)) if status.as_u16() == want) {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < limit,
                "{path} did not answer {want} within {limit:?}: last {answer:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[derive(Debug, Clone)]
pub struct Bidder {
    pub id: String,
    pub username: String,
    pub token: String,
}

/// A bid that was sent, and what (if anything) came back.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub bidder: usize,
    pub user_id: String,
    pub request_id: String,
    pub amount: i64,
    pub answer: Answer,
    pub took: Duration,
}

impl Attempt {
    /// The `seq` of an accepted (200) answer.
    pub fn acked_seq(&self) -> Option<i64> {
        match &self.answer {
            Ok((status, body)) if *status == StatusCode::OK => body["seq"].as_i64(),
            _ => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        self.answer.as_ref().ok().map(|(status, _)| status.as_u16())
    }

    pub fn error_code(&self) -> Option<&str> {
        self.answer
            .as_ref()
            .ok()
            .and_then(|(_, body)| body["error"]["code"].as_str())
    }
}

/// The next amount a bidder tries: the lowest one that can win, plus a
/// little so that racing bidders do not all send the same amount.
pub fn next_amount(min_next_bid: i64, bidder: usize, round: u64) -> i64 {
    let spread = i64::try_from((bidder as u64 * 7 + round * 3) % 11).unwrap_or(0);
    min_next_bid + spread
}

/// The lowest winning amount an answer tells of, if it tells one.
pub fn min_next_bid_of(answer: &Answer) -> Option<i64> {
    let (_, body) = answer.as_ref().ok()?;
    body["min_next_bid"]
        .as_i64()
        .or_else(|| body["error"]["min_next_bid"].as_i64())
}

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens the API's WebSocket, with a bearer token or anonymous.
pub async fn connect_ws(api: &Api, token: Option<&str>) -> Socket {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let url = format!("{}/api/v1/ws", api.base.replacen("http://", "ws://", 1));
    let mut request = url.into_client_request().expect("a request");
    if let Some(token) = token {
        request.headers_mut().insert(
            "authorization",
            tokio_tungstenite::tungstenite::http::HeaderValue::from_str(&format!("Bearer {token}"))
                .expect("a header"),
        );
    }
    let (socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("open a WebSocket");
    socket
}

/// Bids over a WebSocket and waits for that bid's answer frame.
pub async fn ws_bid(
    socket: &mut Socket,
    auction: &str,
    request_id: &str,
    amount: i64,
    limit: Duration,
) -> Result<Value, String> {
    use futures_util::{SinkExt as _, StreamExt as _};
    use tokio_tungstenite::tungstenite::Message;
    let frame = json!({"type": "bid", "auction_id": auction, "request_id": request_id,
        "amount": amount});
    socket
        .send(Message::Text(frame.to_string().into()))
        .await
        .map_err(|e| e.to_string())?;
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let message = tokio::time::timeout_at(deadline, socket.next())
            .await
            .map_err(|_| format!("no answer within {limit:?}"))?;
        let Some(Ok(Message::Text(text))) = message else {
            match message {
                Some(Ok(_)) => continue,
                other => return Err(format!("the socket ended: {other:?}")),
            }
        };
        let frame: Value = serde_json::from_str(text.as_str()).map_err(|e| e.to_string())?;
        let answered = match frame["type"].as_str() {
            Some("bid_result") => frame["result"]["request_id"] == request_id,
            Some("bid_error") => frame["request_id"] == request_id,
            _ => false,
        };
        if answered {
            return Ok(frame);
        }
    }
}

/// Every bidder bids once, all at once; each bid may take up to `limit`.
pub async fn bid_round(
    api: &Api,
    auction: &str,
    bidders: &[Bidder],
    floor: &std::sync::atomic::AtomicI64,
    tag: &str,
    limit: Duration,
) -> Vec<Attempt> {
    futures_util::future::join_all(
        bidders
            .iter()
            .enumerate()
            .map(|(index, bidder)| async move {
                let amount = next_amount(floor.load(std::sync::atomic::Ordering::SeqCst), index, 1);
                let request_id = format!("{}-{tag}", bidder.username);
                let started = Instant::now();
                let answer = api
                    .post_within(
                        &bidder.token,
                        &format!("/api/v1/auctions/{auction}/bids"),
                        &serde_json::json!({"request_id": request_id, "amount": amount}),
                        limit,
                    )
                    .await;
                if let Some(min) = min_next_bid_of(&answer) {
                    floor.fetch_max(min, std::sync::atomic::Ordering::SeqCst);
                }
                Attempt {
                    bidder: index,
                    user_id: bidder.id.clone(),
                    request_id,
                    amount,
                    answer,
                    took: started.elapsed(),
                }
            }),
    )
    .await
}
