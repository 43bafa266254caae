//! What every test binary shares: whether services are required, where
//! PostgreSQL is, temp directories. Each binary includes this file with
//! `#[path = "../common/mod.rs"] mod common;`, so not every item is used by
//! every binary.
#![allow(dead_code)]

pub mod proxy;

use std::path::PathBuf;

/// The PostgreSQL server tests create their databases on, unless
/// `GAVEL_TEST_POSTGRES_URL` says otherwise.
pub const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Whether a missing service (PostgreSQL, Redis, Chromium) is a failure
/// (`GAVEL_REQUIRE_SERVICES=1`, as in CI) rather than a loud skip.
pub fn services_required() -> bool {
    std::env::var("GAVEL_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

/// `GAVEL_TEST_POSTGRES_URL`, or [`DEFAULT_POSTGRES`].
pub fn postgres_admin_url() -> String {
    std::env::var("GAVEL_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES.to_string())
}

/// Creates a database named `{prefix}_{uuid}` on the PostgreSQL server of
/// [`postgres_admin_url`]; returns its URL and name, or why the server could
/// not be reached.
pub async fn create_postgres_database(prefix: &str) -> Result<(String, String), String> {
    use sqlx::Connection as _;
    let admin_url = postgres_admin_url();
    let connected = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        sqlx::PgConnection::connect(&admin_url),
    )
    .await;
    let mut conn = match connected {
        Ok(Ok(conn)) => conn,
        Ok(Err(error)) => return Err(format!("PostgreSQL at {admin_url}: {error}")),
        Err(_) => return Err(format!("PostgreSQL at {admin_url}: timed out")),
    };
    let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create a test database");
    let base = admin_url
        .rsplit_once('/')
        .map_or(admin_url.as_str(), |(base, _)| base);
    Ok((format!("{base}/{name}"), name))
}

/// The configuration of a server a test runs in its own process: port 0, no
/// Redis, no rate limits, a fast shutdown, two workers and a start-up admin.
pub fn in_process_config(
    database_url: &str,
    (admin_user, admin_password): (&str, &str),
) -> gavel::config::ServeConfig {
    let mut config = gavel::config::ServeConfig::from_defaults();
    config.bind = "127.0.0.1:0".parse().expect("an address");
    config.database_url = database_url.to_string();
    config.redis_url = None;
    config.public_origins = Vec::new();
    config.admin_user = Some(admin_user.to_string());
    config.admin_password = Some(admin_password.to_string());
    config.bid_rate_per_sec = 0;
    config.auth_rate_per_min = 0;
    config.shutdown_timeout_secs = 1;
    config.workers = Some(2);
    // Every in-process server's new database gets the same alias key: one
    // process uses one key (the first installed), so the aliases it wrote
    // are the ones a `gavel` process on the same database computes.
    config.alias_key_seed = Some(TEST_ALIAS_KEY.to_string());
    config
}

/// The alias key of every database a test server creates in-process.
pub const TEST_ALIAS_KEY: &str = "gavel-test-alias-key";

/// A fresh directory under the system temp dir, removed on drop.
#[derive(Debug)]
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("{prefix}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("create a temp dir");
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
