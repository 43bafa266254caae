//! Three real `gavel` processes sharing one fresh PostgreSQL database and one
//! Redis (with a key prefix of their own), and the means to hurt them:
//! SIGKILL, SIGSTOP/SIGCONT. Every process is killed when its [`Node`] is
//! dropped, also when the test panics; the last lines of each node's log are
//! printed then, to help whoever reads the failure.
//!
//! `GAVEL_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`)
//! and `GAVEL_TEST_REDIS_URL` (default `redis://127.0.0.1:6379`) name the
//! services. When one is unreachable the test says so loudly and passes,
//! unless `GAVEL_REQUIRE_SERVICES=1`, where that is a failure.
//! `GAVEL_TEST_NODE_LOGS=1` echoes every node's log lines as they come.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::AsyncCommands as _;
use sqlx::Connection as _;

pub const DEFAULT_REDIS: &str = "redis://127.0.0.1:6379";
pub const ADMIN_USER: &str = "cluster-admin";
pub const ADMIN_PASSWORD: &str = "admin-password-1";
/// Short leases keep failover tests fast.
pub const LEASE_TTL_MS: u64 = 1500;
/// How long a node may take from spawn to "gavel listening".
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Log lines printed per node when a test fails.
const LOG_TAIL: usize = 80;

pub use crate::common::{postgres_admin_url, services_required};

/// Where PostgreSQL and Redis are.
#[derive(Debug, Clone)]
pub struct Services {
    pub postgres_admin: String,
    pub redis_url: String,
}

/// Finds PostgreSQL and Redis, or says loudly why `test` is skipped (None).
pub async fn services(test: &str) -> Option<Services> {
    let postgres_admin = postgres_admin_url();
    let redis_url =
        std::env::var("GAVEL_TEST_REDIS_URL").unwrap_or_else(|_| DEFAULT_REDIS.to_string());
    let problem = match check_postgres(&postgres_admin).await {
        Err(why) => Some(format!("PostgreSQL at {postgres_admin} unreachable: {why}")),
        Ok(()) => match check_redis(&redis_url).await {
            Err(why) => Some(format!("Redis at {redis_url} unreachable: {why}")),
            Ok(()) => None,
        },
    };
    if let Some(problem) = problem {
        assert!(
            !services_required(),
            "cluster test {test}: services are required (GAVEL_REQUIRE_SERVICES=1) but {problem}"
        );
        eprintln!(
            "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
             !!! SKIPPING cluster test {test}: {problem}\n\
             !!! (set GAVEL_REQUIRE_SERVICES=1 to make this a failure)\n\
             !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
        );
        return None;
    }
    Some(Services {
        postgres_admin,
        redis_url,
    })
}

async fn check_postgres(url: &str) -> Result<(), String> {
    match tokio::time::timeout(Duration::from_secs(5), sqlx::PgConnection::connect(url)).await {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            Ok(())
        }
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err("timed out".into()),
    }
}

async fn check_redis(url: &str) -> Result<(), String> {
    let client = redis::Client::open(url).map_err(|e| e.to_string())?;
    let ping = async {
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<String>(&mut conn).await
    };
    match tokio::time::timeout(Duration::from_secs(5), ping).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err("timed out".into()),
    }
}

/// Cluster tests run one at a time: each runs three servers, and they
/// measure failover times that a crowded 2-core machine would blur.
pub async fn one_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    SERIAL.lock().await
}

/// One `gavel serve` process.
pub struct Node {
    pub id: String,
    pub addr: SocketAddr,
    pub base: String,
    child: Child,
    logs: Arc<Mutex<Vec<String>>>,
    dead: bool,
}

impl Node {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether any log line of this node contains `needle`.
    pub fn logged(&self, needle: &str) -> bool {
        lock(&self.logs).iter().any(|line| line.contains(needle))
    }

    /// Sends a signal by name (`STOP`, `CONT`, …) with `kill(1)`.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill(1)");
        assert!(status.success(), "kill -{name} {} failed", self.pid());
    }

    /// SIGKILL, then reap.
    pub fn kill(&mut self) {
        if !self.dead {
            let _ = self.child.kill();
            let _ = self.child.wait();
            self.dead = true;
        }
    }

    fn print_log_tail(&self) {
        let logs = lock(&self.logs);
        let skip = logs.len().saturating_sub(LOG_TAIL);
        eprintln!(
            "----- last {} log lines of node {} (pid {}) -----",
            logs.len() - skip,
            self.id,
            self.child.id()
        );
        for line in logs.iter().skip(skip) {
            eprintln!("{line}");
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.print_log_tail();
        }
        self.kill();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What the nodes of a cluster are started with.
#[derive(Debug, Clone)]
struct NodeEnv {
    database_url: String,
    redis_url: String,
    prefix: String,
    lease_ttl_ms: u64,
}

fn spawn_node(id: &str, env: &NodeEnv, admin: bool) -> (Child, Arc<Mutex<Vec<String>>>) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gavel"));
    command
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "info")
        .env("RUST_BACKTRACE", "1")
        .env("GAVEL_LOG_FORMAT", "json")
        .env("GAVEL_BIND", "127.0.0.1:0")
        .env("DATABASE_URL", &env.database_url)
        .env("REDIS_URL", &env.redis_url)
        .env("GAVEL_NODE_ID", id)
        .env("GAVEL_REDIS_PREFIX", &env.prefix)
        .env("GAVEL_LEASE_TTL_MS", env.lease_ttl_ms.to_string())
        .env("GAVEL_BID_RATE_PER_SEC", "0")
        .env("GAVEL_AUTH_RATE_PER_MIN", "0")
        .env("GAVEL_WORKERS", "2")
        .env("GAVEL_SHUTDOWN_TIMEOUT_SECS", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if admin {
        command
            .env("GAVEL_ADMIN_USER", ADMIN_USER)
            .env("GAVEL_ADMIN_PASSWORD", ADMIN_PASSWORD);
    }
    let mut child = command.spawn().expect("spawn the gavel binary");
    let stderr = child.stderr.take().expect("a piped stderr");
    let logs = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&logs);
    let echo = std::env::var("GAVEL_TEST_NODE_LOGS").is_ok_and(|v| v == "1");
    let name = id.to_string();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if echo {
                eprintln!("[{name}] {line}");
            }
            lock(&sink).push(line);
        }
    });
    (child, logs)
}

/// Waits for the node's "gavel listening" line and returns its address.
async fn listening_address(id: &str, child: &mut Child, logs: &Mutex<Vec<String>>) -> SocketAddr {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        let found = lock(logs).iter().find_map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).ok()?;
            if value["message"] != "gavel listening" {
                return None;
            }
            value["address"].as_str()?.parse::<SocketAddr>().ok()
        });
        if let Some(addr) = found {
            return addr;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "node {id} exited ({status}) before listening:\n{}",
                lock(logs).join("\n")
            );
        }
        assert!(
            Instant::now() < deadline,
            "node {id} did not log \"gavel listening\" within {START_TIMEOUT:?}:\n{}",
            lock(logs).join("\n")
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Three nodes, their database and their Redis prefix.
pub struct Cluster {
    pub nodes: Vec<Node>,
    pub database_url: String,
    database_name: String,
    pub prefix: String,
    services: Services,
    /// A connection to the real Redis (never through a test proxy).
    pub redis: redis::aio::MultiplexedConnection,
    pub http: reqwest::Client,
}

impl Cluster {
    /// Starts three nodes on a fresh database. `node_redis_url` replaces the
    /// Redis URL the nodes use (a proxy); the test itself always talks to
    /// the real one.
    pub async fn start(services: &Services, name: &str, node_redis_url: Option<String>) -> Self {
        let database_name = format!("gavel_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(&services.postgres_admin)
            .await
            .expect("connect to PostgreSQL");
        sqlx::query(&format!("CREATE DATABASE {database_name}"))
            .execute(&mut admin)
            .await
            .expect("create a test database");
        let _ = admin.close().await;
        let base = services
            .postgres_admin
            .rsplit_once('/')
            .map_or(services.postgres_admin.as_str(), |(base, _)| base);
        let database_url = format!("{base}/{database_name}");
        let prefix = format!(
            "gavel-test:{name}:{}:",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let env = NodeEnv {
            database_url: database_url.clone(),
            redis_url: node_redis_url.unwrap_or_else(|| services.redis_url.clone()),
            prefix: prefix.clone(),
            lease_ttl_ms: LEASE_TTL_MS,
        };
        let redis = redis::Client::open(services.redis_url.as_str())
            .expect("a Redis URL")
            .get_multiplexed_async_connection()
            .await
            .expect("connect to Redis");
        let http = reqwest::Client::builder()
            // Below the server's 5 s keep-alive: a pooled connection is never
            // reused just as the server closes it.
            .pool_idle_timeout(Duration::from_secs(2))
            .build()
            .expect("an HTTP client");

        // The first node applies the migrations and creates the admin; the
        // others start after it, together.
        let mut nodes = Vec::new();
        for index in 1..=3 {
            let id = format!("node-{index}");
            let (mut child, logs) = spawn_node(&id, &env, index == 1);
            if index == 1 {
                let _ = listening_address(&id, &mut child, &logs).await;
            }
            nodes.push((id, child, logs));
        }
        let mut started = Vec::new();
        for (id, mut child, logs) in nodes {
            let addr = listening_address(&id, &mut child, &logs).await;
            started.push(Node {
                id,
                addr,
                base: format!("http://{addr}"),
                child,
                logs,
                dead: false,
            });
        }
        let cluster = Self {
            nodes: started,
            database_url,
            database_name,
            prefix,
            services: services.clone(),
            redis,
            http,
        };
        for index in 0..cluster.nodes.len() {
            cluster
                .wait_ready(index, true, Duration::from_secs(30))
                .await;
        }
        cluster
    }

    pub fn node(&self, index: usize) -> &Node {
        &self.nodes[index]
    }

    /// The index of the node named `id`.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.nodes.iter().position(|node| node.id == id)
    }

    /// `GET /readyz` on a node: its status code (None: no answer in 10 s).
    pub async fn readyz(&self, index: usize) -> Option<u16> {
        let response = self
            .http
            .get(self.node(index).url("/readyz"))
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .ok()?;
        Some(response.status().as_u16())
    }

    /// Polls `/readyz` until it says `ready` (200) or not (503); returns
    /// how long that took.
    pub async fn wait_ready(&self, index: usize, ready: bool, timeout: Duration) -> Duration {
        let want = if ready { 200 } else { 503 };
        let started = Instant::now();
        loop {
            let status = self.readyz(index).await;
            if status == Some(want) {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < timeout,
                "node {} /readyz did not answer {want} within {timeout:?} (last: {status:?})",
                self.node(index).id
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The raw lease value `node|epoch` of an auction, if any.
    pub async fn lease(&self, auction: &str) -> Option<String> {
        let mut redis = self.redis.clone();
        redis
            .get::<_, Option<String>>(format!("{}lease:{auction}", self.prefix))
            .await
            .expect("read the lease from Redis")
    }

    /// The index of the node holding the auction's lease, if any.
    pub async fn owner(&self, auction: &str) -> Option<usize> {
        let lease = self.lease(auction).await?;
        let (node, _epoch) = lease.rsplit_once('|')?;
        let index = self.index_of(node);
        assert!(index.is_some(), "the lease names an unknown node: {lease}");
        index
    }

    /// Polls the lease until `done` says so; returns the last value.
    pub async fn wait_lease(
        &self,
        auction: &str,
        timeout: Duration,
        done: impl Fn(Option<&str>) -> bool,
    ) -> Option<String> {
        let started = Instant::now();
        loop {
            let lease = self.lease(auction).await;
            if done(lease.as_deref()) {
                return lease;
            }
            assert!(
                started.elapsed() < timeout,
                "lease condition not reached in {timeout:?} (lease: {lease:?})"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// A new connection to the cluster's database.
    pub async fn db(&self) -> sqlx::PgConnection {
        sqlx::PgConnection::connect(&self.database_url)
            .await
            .expect("connect to the test database")
    }

    /// Where a client can reach each node (cheap to clone into tasks).
    pub fn targets(&self) -> Targets {
        Targets {
            http: self.http.clone(),
            bases: self.nodes.iter().map(|n| n.base.clone()).collect(),
            addrs: self.nodes.iter().map(|n| n.addr).collect(),
        }
    }

    /// Kills every node, then removes the Redis keys and the database.
    /// (A failing test skips this and leaves them for inspection.)
    pub async fn finish(mut self) {
        for node in &mut self.nodes {
            node.kill();
        }
        let mut redis = self.redis.clone();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}*", self.prefix))
            .query_async(&mut redis)
            .await
            .unwrap_or_default();
        if !keys.is_empty() {
            let _ = redis.del::<_, i64>(keys).await;
        }
        if let Ok(mut admin) = sqlx::PgConnection::connect(&self.services.postgres_admin).await {
            let drop = format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.database_name
            );
            if let Err(error) = sqlx::query(&drop).execute(&mut admin).await {
                eprintln!("note: could not drop {}: {error}", self.database_name);
            }
        }
    }
}

/// The nodes' addresses and a shared HTTP client.
#[derive(Debug, Clone)]
pub struct Targets {
    pub http: reqwest::Client,
    pub bases: Vec<String>,
    pub addrs: Vec<SocketAddr>,
}

impl Targets {
    pub fn url(&self, node: usize, path: &str) -> String {
        format!("{}{path}", self.bases[node])
    }
}
