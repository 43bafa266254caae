//! Spawning test servers and talking to them.
//!
//! Every test gets its own database: a fresh SQLite file in a temp
//! directory, or a fresh PostgreSQL database created on the server named by
//! `GAVEL_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`).
//! When PostgreSQL is unreachable the PostgreSQL variant says so loudly and
//! skips, unless `GAVEL_REQUIRE_SERVICES=1`, where that is a failure.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use gavel::config::ServeConfig;
use gavel::startup::{Application, ShutdownHandle};
use reqwest::StatusCode;
use serde_json::{json, Value};

pub use crate::common::{create_postgres_database, in_process_config, services_required, TempDir};

pub const ADMIN_USER: &str = "root-admin";
pub const ADMIN_PASSWORD: &str = "admin-password-1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Creates a fresh PostgreSQL database and returns its URL, or None (after
/// saying so) when PostgreSQL is not reachable and not required.
pub async fn fresh_postgres_database() -> Option<String> {
    match create_postgres_database("gavel_test").await {
        Ok((url, _name)) => Some(url),
        Err(why) => {
            assert!(
                !services_required(),
                "PostgreSQL is required (GAVEL_REQUIRE_SERVICES=1) but unreachable: {why}"
            );
            eprintln!("\n!!! SKIPPING PostgreSQL test: {why}\n");
            None
        }
    }
}

/// Where a test app keeps its data, so it can be restarted on the same data.
#[derive(Debug, Clone)]
pub struct TestDatabase {
    pub backend: Backend,
    pub url: String,
    /// Keeps the SQLite directory alive.
    _dir: Option<std::sync::Arc<TempDir>>,
}

impl TestDatabase {
    pub async fn new(backend: Backend) -> Option<Self> {
        match backend {
            Backend::Sqlite => {
                let dir = TempDir::new("gavel-test");
                let url = format!("sqlite://{}", dir.0.join("gavel.db").display());
                Some(Self {
                    backend,
                    url,
                    _dir: Some(std::sync::Arc::new(dir)),
                })
            }
            Backend::Postgres => Some(Self {
                backend,
                url: fresh_postgres_database().await?,
                _dir: None,
            }),
        }
    }
}

/// The configuration tests run with: port 0, fast shutdown, a start-up admin.
pub fn test_config(database_url: &str) -> ServeConfig {
    in_process_config(database_url, (ADMIN_USER, ADMIN_PASSWORD))
}

/// A running server and a client for it.
pub struct TestApp {
    pub address: String,
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub db: TestDatabase,
    pub config: ServeConfig,
    handle: ShutdownHandle,
    server: Option<actix_web::rt::task::JoinHandle<std::io::Result<()>>>,
}

impl TestApp {
    /// Starts a server on `db` with `config` (from [`test_config`]).
    pub async fn start(db: TestDatabase, config: ServeConfig) -> Self {
        let app = Application::build(config.clone())
            .await
            .expect("the application builds");
        let port = app.port();
        let handle = app.handle();
        let server = actix_web::rt::spawn(app.run());
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("an address");
        Self {
            address: format!("http://{addr}"),
            addr,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                // Below the server's 5 s keep-alive: a pooled connection is
                // never reused just as the server closes it.
                .pool_idle_timeout(Duration::from_secs(2))
                .build()
                .expect("a client"),
            db,
            config,
            handle,
            server: Some(server),
        }
    }

    /// Stops the server gracefully.
    pub async fn stop(mut self) -> TestDatabase {
        self.handle.shutdown().await;
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        self.db.clone()
    }

    /// Stops this server and starts a new one on the same database.
    pub async fn restart(self) -> TestApp {
        let config = self.config.clone();
        let db = self.stop().await;
        TestApp::start(db, config).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = self.client.get(self.url(path)).send().await.expect("GET");
        decode(response).await
    }

    pub async fn get_as(&self, token: &str, path: &str) -> (StatusCode, Value) {
        let response = self
            .client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET");
        decode(response).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let response = self
            .client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("POST");
        decode(response).await
    }

    pub async fn post_as(&self, token: &str, path: &str, body: &Value) -> (StatusCode, Value) {
        let response = self
            .client
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("POST");
        decode(response).await
    }

    /// Registers and logs in a bidder; returns (user id, token).
    pub async fn bidder(&self, username: &str) -> (String, String) {
        let (status, user) = self
            .post(
                "/api/v1/users",
                &json!({"username": username, "password": "password-123"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{user}");
        let token = self.login(username, "password-123").await;
        (user["id"].as_str().expect("an id").to_string(), token)
    }

    pub async fn login(&self, username: &str, password: &str) -> String {
        let (status, body) = self
            .post(
                "/api/v1/sessions",
                &json!({"username": username, "password": password}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["token"].as_str().expect("a token").to_string()
    }

    pub async fn admin_token(&self) -> String {
        self.login(ADMIN_USER, ADMIN_PASSWORD).await
    }

    /// Creates an auction as admin; returns its admin snapshot.
    pub async fn create_auction(&self, builder: AuctionBuilder) -> Value {
        let admin = self.admin_token().await;
        let (status, body) = self
            .post_as(&admin, "/api/v1/admin/auctions", &builder.json())
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    /// Places a bid; returns the status and body.
    pub async fn bid(
        &self,
        token: &str,
        auction: &str,
        request_id: &str,
        amount: i64,
        max_amount: Option<i64>,
    ) -> (StatusCode, Value) {
        let mut body = json!({"request_id": request_id, "amount": amount});
        if let Some(max) = max_amount {
            body["max_amount"] = json!(max);
        }
        self.post_as(token, &format!("/api/v1/auctions/{auction}/bids"), &body)
            .await
    }

    pub async fn snapshot(&self, auction: &str) -> Value {
        let (status, body) = self.get(&format!("/api/v1/auctions/{auction}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// Polls the snapshot until `done` says so (or panics after `timeout`).
    pub async fn wait_for_snapshot(
        &self,
        auction: &str,
        timeout: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let snapshot = self.snapshot(auction).await;
            if done(&snapshot) {
                return snapshot;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "condition not reached in {timeout:?}: {snapshot}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

pub async fn decode(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.expect("a body");
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, value)
}

/// Asserts docs/api.md's error shape and code.
pub fn assert_error(status: StatusCode, body: &Value, want_status: u16, want_code: &str) {
    assert_eq!(status.as_u16(), want_status, "{body}");
    assert_eq!(body["error"]["code"], want_code, "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
}

pub fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Builds an auction-creation body; say only what matters.
#[derive(Debug, Clone)]
pub struct AuctionBuilder {
    body: Value,
}

impl Default for AuctionBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl AuctionBuilder {
    pub fn new() -> Self {
        Self {
            body: json!({
                "title": "A test lot",
                "description": "Something worth bidding on",
                "currency": "EUR",
                "starting_price": 1000,
                "ends_at": rfc3339(Utc::now() + chrono::Duration::hours(1)),
                "extend_window_secs": 0,
            }),
        }
    }

    pub fn set(mut self, key: &str, value: Value) -> Self {
        self.body[key] = value;
        self
    }

    pub fn starting_price(self, price: i64) -> Self {
        self.set("starting_price", json!(price))
    }

    pub fn reserve(self, price: i64) -> Self {
        self.set("reserve_price", json!(price))
    }

    pub fn buy_now(self, price: i64) -> Self {
        self.set("buy_now_price", json!(price))
    }

    pub fn ends_in(self, duration: chrono::Duration) -> Self {
        self.set("ends_at", json!(rfc3339(Utc::now() + duration)))
    }

    pub fn starts_in(self, duration: chrono::Duration) -> Self {
        self.set("starts_at", json!(rfc3339(Utc::now() + duration)))
    }

    pub fn extend_window(self, secs: i64) -> Self {
        self.set("extend_window_secs", json!(secs))
    }

    pub fn json(&self) -> Value {
        self.body.clone()
    }
}

/// Spawns a test app on a fresh database of `backend` (None: skipped).
pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    let db = TestDatabase::new(backend).await?;
    let config = test_config(&db.url);
    Some(TestApp::start(db, config).await)
}

/// Runs each named `async fn(TestApp)` once on SQLite and once on PostgreSQL:
/// `on_both_backends!(a, b);` makes `sqlite::a`, `postgres::a`, ….
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[actix_web::test]
                async fn $name() {
                    if let Some(app) = $crate::helpers::spawn_app($crate::helpers::Backend::Sqlite).await {
                        super::$name(app).await;
                    }
                }
            )*
        }
        mod postgres {
            $(
                #[actix_web::test]
                async fn $name() {
                    if let Some(app) = $crate::helpers::spawn_app($crate::helpers::Backend::Postgres).await {
                        super::$name(app).await;
                    }
                }
            )*
        }
    };
}

// ---------------------------------------------------------------------------
// Helpers for the bidding-core tests.
// ---------------------------------------------------------------------------

/// The password every helper-made bidder gets.
pub const BIDDER_PASSWORD: &str = "password-123";

/// The keys of docs/api.md's public Snapshot, exactly.
pub const SNAPSHOT_KEYS: [&str; 21] = [
    "id",
    "title",
    "description",
    "currency",
    "status",
    "starting_price",
    "current_price",
    "min_next_bid",
    "bid_count",
    "leader",
    "reserve_met",
    "buy_now_price",
    "starts_at",
    "ends_at",
    "closed_at",
    "extend_window_secs",
    "seq",
    "server_time",
    "winner",
    "paused",
    "head_hash",
];

/// The keys of docs/api.md's BidResult, exactly.
pub const BID_RESULT_KEYS: [&str; 8] = [
    "request_id",
    "auction_id",
    "accepted",
    "status",
    "seq",
    "current_price",
    "min_next_bid",
    "ends_at",
];

/// The sorted keys of a JSON object (panics when it is not one).
pub fn keys_of(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .unwrap_or_else(|| panic!("a JSON object, got {value}"))
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

/// Asserts that `value` has exactly `want` as its keys.
pub fn assert_keys(value: &Value, want: &[&str]) {
    let mut want: Vec<String> = want.iter().map(|key| (*key).to_string()).collect();
    want.sort();
    assert_eq!(keys_of(value), want, "{value}");
}

/// Asserts that `value` is an alias of docs/api.md's form `bidder-xxxxxx`.
pub fn assert_alias(value: &Value) -> String {
    let alias = value
        .as_str()
        .unwrap_or_else(|| panic!("an alias string, got {value}"));
    let hex = alias
        .strip_prefix("bidder-")
        .unwrap_or_else(|| panic!("an alias starting with bidder-, got {alias}"));
    assert!(
        hex.len() == 6
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "an alias bidder- plus six lowercase hex digits, got {alias}"
    );
    alias.to_string()
}

/// Parses an RFC 3339 time that must be UTC (`Z`).
pub fn parse_utc(value: &Value) -> DateTime<Utc> {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("a time string, got {value}"));
    assert!(text.ends_with('Z'), "a UTC time ending in Z, got {text}");
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|error| panic!("an RFC 3339 time, got {text}: {error}"))
        .with_timezone(&Utc)
}

/// A bidder made by [`TestApp::bidders`].
#[derive(Debug, Clone)]
pub struct Bidder {
    pub id: String,
    pub username: String,
    pub token: String,
}

impl TestApp {
    /// Registers and logs in `count` bidders named `{prefix}{i}`, a few at a
    /// time (password hashing dominates).
    pub async fn bidders(&self, prefix: &str, count: usize) -> Vec<Bidder> {
        use futures_util::StreamExt as _;
        futures_util::stream::iter(0..count)
            .map(|i| async move {
                let username = format!("{prefix}{i}");
                let (id, token) = self.bidder(&username).await;
                Bidder {
                    id,
                    username,
                    token,
                }
            })
            .buffered(4)
            .collect()
            .await
    }

    /// Creates an auction with an admin token already in hand.
    pub async fn create_auction_as(&self, admin: &str, builder: AuctionBuilder) -> Value {
        let (status, body) = self
            .post_as(admin, "/api/v1/admin/auctions", &builder.json())
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    /// Creates an auction; returns its id.
    pub async fn auction_id_as(&self, admin: &str, builder: AuctionBuilder) -> String {
        let created = self.create_auction_as(admin, builder).await;
        created["id"].as_str().expect("an auction id").to_string()
    }

    /// POSTs without a body (admin actions).
    pub async fn post_empty_as(&self, token: &str, path: &str) -> (StatusCode, Value) {
        let response = self
            .client
            .post(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("POST");
        decode(response).await
    }

    /// POSTs a raw body with a content type; `token` optional.
    pub async fn post_raw(
        &self,
        token: Option<&str>,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .post(self.url(path))
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        decode(request.send().await.expect("POST")).await
    }

    /// Buys an auction now.
    pub async fn buy_now(
        &self,
        token: &str,
        auction: &str,
        request_id: &str,
    ) -> (StatusCode, Value) {
        self.post_as(
            token,
            &format!("/api/v1/auctions/{auction}/buy-now"),
            &serde_json::json!({ "request_id": request_id }),
        )
        .await
    }

    /// The whole bid history of an auction, paging with `after`/`limit`.
    pub async fn history(&self, auction: &str) -> Vec<Value> {
        let mut all = Vec::new();
        let mut after = 0;
        loop {
            let (status, body) = self
                .get(&format!(
                    "/api/v1/auctions/{auction}/bids?after={after}&limit=1000"
                ))
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let page = body["bids"].as_array().expect("a bids array").clone();
            let Some(last) = page.last() else {
                return all;
            };
            after = last["seq"].as_i64().expect("a seq");
            all.extend(page);
        }
    }

    /// A direct connection to the app's database (for checks the API cannot make).
    pub async fn db_connection(&self) -> sqlx::AnyConnection {
        db_connection(&self.db).await
    }

    /// One integer from the database (`SELECT COUNT(*) …`).
    pub async fn db_i64(&self, sql: &str) -> i64 {
        db_i64(&self.db, sql).await
    }
}

/// A direct connection to a test database, also while no app runs on it.
pub async fn db_connection(db: &TestDatabase) -> sqlx::AnyConnection {
    use sqlx::Connection as _;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&db.url)
        .await
        .expect("connect to the test database");
    if db.backend == Backend::Sqlite {
        sqlx::query("PRAGMA busy_timeout = 5000")
            .execute(&mut conn)
            .await
            .expect("set busy_timeout");
    }
    conn
}

/// One integer from a test database (`SELECT COUNT(*) …`).
pub async fn db_i64(db: &TestDatabase, sql: &str) -> i64 {
    let mut conn = db_connection(db).await;
    let value: i64 = sqlx::query_scalar(sql)
        .fetch_one(&mut conn)
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"));
    value
}

/// An open auction (starting at 100, ending in an hour) created straight in
/// `store`, for tests of the store itself.
pub async fn stored_auction(
    store: &gavel::store::SqlStore,
    title: &str,
    created_by: uuid::Uuid,
) -> gavel::store::AuctionRecord {
    use gavel::domain::{Auction, AuctionRules, IncrementTable};
    use gavel::store::Store as _;
    let now = Utc::now();
    let rules = AuctionRules {
        starting_price: 100,
        reserve_price: None,
        buy_now_price: None,
        starts_at: now,
        extend_window_secs: 0,
        increments: IncrementTable::standard(),
    };
    let record = gavel::store::AuctionRecord {
        id: uuid::Uuid::now_v7(),
        title: title.into(),
        description: String::new(),
        currency: "EUR".into(),
        auction: Auction::new(rules, now + chrono::Duration::hours(1)),
        epoch: 0,
        created_by,
        created_at: now,
        head_hash: String::new(),
    };
    store.create_auction(&record).await.expect("create");
    record
}
