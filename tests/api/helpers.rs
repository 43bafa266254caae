//! Spawning test servers and talking to them.
//!
//! Every test gets its own database: a fresh SQLite file in a temp
//! directory, or a fresh PostgreSQL database created on the server named by
//! `GAVEL_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`).
//! When PostgreSQL is unreachable the PostgreSQL variant says so loudly and
//! skips, unless `GAVEL_REQUIRE_SERVICES=1`, where that is a failure.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use gavel::config::ServeConfig;
use gavel::startup::{Application, ShutdownHandle};
use reqwest::StatusCode;
use serde_json::{json, Value};

pub const ADMIN_USER: &str = "root-admin";
pub const ADMIN_PASSWORD: &str = "admin-password-1";
pub const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub fn services_required() -> bool {
    std::env::var("GAVEL_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

pub fn postgres_admin_url() -> String {
    std::env::var("GAVEL_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES.to_string())
}

/// Creates a fresh PostgreSQL database and returns its URL, or None (after
/// saying so) when PostgreSQL is not reachable and not required.
pub async fn fresh_postgres_database() -> Option<String> {
    use sqlx::Connection as _;
    let admin_url = postgres_admin_url();
    let connected = tokio::time::timeout(
        Duration::from_secs(5),
        sqlx::PgConnection::connect(&admin_url),
    )
    .await;
    let mut conn = match connected {
        Ok(Ok(conn)) => conn,
        other => {
            let why = match other {
                Ok(Err(error)) => error.to_string(),
                _ => "timed out".to_string(),
            };
            assert!(
                !services_required(),
                "PostgreSQL at {admin_url} is required (GAVEL_REQUIRE_SERVICES=1) but unreachable: {why}"
            );
            eprintln!("\n!!! SKIPPING PostgreSQL test: {admin_url} unreachable: {why}\n");
            return None;
        }
    };
    let name = format!("gavel_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create a test database");
    let base = admin_url
        .rsplit_once('/')
        .map_or(admin_url.as_str(), |(base, _)| base);
    Some(format!("{base}/{name}"))
}

/// Where a test app keeps its data, so it can be restarted on the same data.
#[derive(Debug, Clone)]
pub struct TestDatabase {
    pub backend: Backend,
    pub url: String,
    /// Keeps the SQLite directory alive.
    _dir: Option<std::sync::Arc<TempDir>>,
}

/// A temp directory removed on drop.
#[derive(Debug)]
pub struct TempDir(pub PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl TestDatabase {
    pub async fn new(backend: Backend) -> Option<Self> {
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("gavel-test-{}", uuid::Uuid::new_v4()));
                std::fs::create_dir_all(&dir).expect("create a temp dir");
                let url = format!("sqlite://{}", dir.join("gavel.db").display());
                Some(Self {
                    backend,
                    url,
                    _dir: Some(std::sync::Arc::new(TempDir(dir))),
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
    let mut config = ServeConfig::from_defaults();
    config.bind = "127.0.0.1:0".parse().expect("an address");
    config.database_url = database_url.to_string();
    config.redis_url = None;
    config.public_origins = Vec::new();
    config.admin_user = Some(ADMIN_USER.to_string());
    config.admin_password = Some(ADMIN_PASSWORD.to_string());
    config.bid_rate_per_sec = 0;
    config.shutdown_timeout_secs = 1;
    config.workers = Some(2);
    config
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

/// Asserts API.md's error shape and code.
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
