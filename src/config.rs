//! Command line and environment: `gavel serve` (the default), `gavel admin
//! create|set-password|promote|list`, `gavel load` and `gavel verify`. Every option of docs/operations.md's configuration table
//! is a flag with an environment fallback.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::load::LoadArgs;

#[derive(Debug, Parser)]
#[command(
    name = "gavel",
    version,
    about = "Gavel: a live auction bidding engine"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default when no command is given).
    Serve(Box<ServeConfig>),
    /// Manage administrators.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Drive a running server with WebSocket bidders and SSE watchers.
    Load(Box<LoadArgs>),
    /// Check every auction's record: the hash chain, a replay of its log
    /// through the bidding engine, the stored answers and the auction row.
    /// Exits 1 on any difference, naming the auction and seq.
    Verify {
        /// Check only this auction (its id).
        #[arg(long)]
        auction: Option<String>,
        #[arg(long, env = "DATABASE_URL", default_value = "sqlite://gavel.db")]
        database_url: String,
    },
}

/// The operator's commands on accounts, straight on the database (the
/// server may be running or not).
///
/// A password is taken from GAVEL_ADMIN_PASSWORD when set; else it is asked
/// for twice without echo on a terminal, or read as one line from standard
/// input when that is not a terminal.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an admin user; fails when the name is taken.
    Create {
        username: String,
        #[command(flatten)]
        database: DatabaseArg,
    },
    /// Give a user a new password and end every session of that user.
    SetPassword {
        username: String,
        #[command(flatten)]
        database: DatabaseArg,
    },
    /// Make an existing user an admin.
    Promote {
        username: String,
        #[command(flatten)]
        database: DatabaseArg,
    },
    /// List the admins: username, created, banned.
    List {
        #[command(flatten)]
        database: DatabaseArg,
    },
}

impl AdminCommand {
    /// The database the command works on.
    pub fn database_url(&self) -> &str {
        match self {
            Self::Create { database, .. }
            | Self::SetPassword { database, .. }
            | Self::Promote { database, .. }
            | Self::List { database } => &database.database_url,
        }
    }
}

/// `--database-url`, as `gavel serve` takes it.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArg {
    /// `sqlite://PATH` or `postgres://…`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://gavel.db")]
    pub database_url: String,
}

/// `GAVEL_COMMIT_PIPELINE`: whether actors' batches share node-wide
/// transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    On,
    Off,
}

impl Switch {
    pub fn is_on(self) -> bool {
        self == Self::On
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Everything `gavel serve` can be told.
#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Listen address.
    #[arg(long, env = "GAVEL_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// `sqlite://PATH` (created when missing) or `postgres://…`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://gavel.db")]
    pub database_url: String,
    /// Unset: single node. Set: multi-node coordination through Redis.
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,
    /// This node's name in leases and logs (random when unset).
    #[arg(long, env = "GAVEL_NODE_ID")]
    pub node_id: Option<String>,
    /// Prefix of every Redis key and channel (clusters sharing one Redis).
    #[arg(long, env = "GAVEL_REDIS_PREFIX", default_value = "gavel:")]
    pub redis_prefix: String,
    /// Ownership lease lifetime in milliseconds (renewed every third of it).
    #[arg(long, env = "GAVEL_LEASE_TTL_MS", default_value_t = 5000)]
    pub lease_ttl_ms: u64,
    /// Allowed `Origin`s, comma-separated (default `http://<bind>`).
    #[arg(long, env = "GAVEL_PUBLIC_ORIGINS", value_delimiter = ',')]
    pub public_origins: Vec<String>,
    /// Per-user bid rate (token bucket); 0 turns the limit off.
    #[arg(long, env = "GAVEL_BID_RATE_PER_SEC", default_value_t = 10)]
    pub bid_rate_per_sec: u32,
    /// Bucket size of the bid rate limit.
    #[arg(long, env = "GAVEL_BID_BURST", default_value_t = 20)]
    pub bid_burst: u32,
    /// Registrations per minute per IP address; 0 turns off every login
    /// and registration limit (the two below too).
    #[arg(long, env = "GAVEL_AUTH_RATE_PER_MIN", default_value_t = 30)]
    pub auth_rate_per_min: u32,
    /// Logins per minute per (IP address, username) (0: no limit).
    #[arg(long, env = "GAVEL_LOGIN_RATE_PER_MIN", default_value_t = 10)]
    pub login_rate_per_min: u32,
    /// Logins plus registrations per minute per IP address, whatever the
    /// username: the ceiling above the two limits (0: no ceiling).
    #[arg(long, env = "GAVEL_AUTH_IP_RATE_PER_MIN", default_value_t = 300)]
    pub auth_ip_rate_per_min: u32,
    /// Open WebSocket plus SSE connections per IP address (0: no limit).
    #[arg(long, env = "GAVEL_MAX_STREAMS_PER_IP", default_value_t = 1000)]
    pub max_streams_per_ip: usize,
    /// Open TCP connections per IP address, of every kind (0: no limit).
    /// Keep it above GAVEL_MAX_STREAMS_PER_IP: streams are connections too.
    #[arg(long, env = "GAVEL_MAX_CONNECTIONS_PER_IP", default_value_t = 2048)]
    pub max_connections_per_ip: usize,
    /// Seconds a request body may take to arrive (0: no limit); slower
    /// bodies are answered 408 and their connection closed.
    #[arg(long, env = "GAVEL_BODY_TIMEOUT_SECS", default_value_t = 10)]
    pub body_timeout_secs: u64,
    /// Events one IP address may have replayed from the store per second
    /// (WebSocket `after_seq`, SSE `Last-Event-ID`), with a burst of five
    /// seconds' worth; 0 turns the limit off.
    #[arg(long, env = "GAVEL_REPLAY_EVENTS_PER_SEC", default_value_t = 20_000)]
    pub replay_events_per_sec_per_ip: u32,
    /// The alias key a NEW database is given (hex or any text) instead of
    /// random bytes; a database that has one keeps it. For tests that run
    /// several databases in one process.
    #[arg(
        long,
        env = "GAVEL_ALIAS_KEY_SEED",
        hide = true,
        hide_env_values = true
    )]
    pub alias_key_seed: Option<String>,
    /// Serve `/metrics` on this address only (its own listener); unset:
    /// on the main listener.
    #[arg(long, env = "GAVEL_METRICS_BIND")]
    pub metrics_bind: Option<SocketAddr>,
    /// When set, `/metrics` needs `Authorization: Bearer <token>`.
    #[arg(long, env = "GAVEL_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Most bids decided and committed in one transaction (1 = no group commit).
    #[arg(long, env = "GAVEL_MAX_BATCH", default_value_t = 1024)]
    pub max_batch: usize,
    /// `on`: the batches of every auction actor that is ready are committed
    /// together in one node-wide transaction (up to GAVEL_MAX_BATCH rows);
    /// `off`: each actor commits its own batches.
    #[arg(long, env = "GAVEL_COMMIT_PIPELINE", value_enum, default_value = "on")]
    pub commit_pipeline: Switch,
    /// Log format (RUST_LOG sets the filter).
    #[arg(long, env = "GAVEL_LOG_FORMAT", value_enum, default_value = "pretty")]
    pub log_format: LogFormat,
    /// Admin created at start-up when that user does not exist yet.
    #[arg(long, env = "GAVEL_ADMIN_USER")]
    pub admin_user: Option<String>,
    /// Password of GAVEL_ADMIN_USER.
    #[arg(long, env = "GAVEL_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
    /// Session lifetime in hours.
    #[arg(long, env = "GAVEL_SESSION_HOURS", default_value_t = 24 * 14)]
    pub session_hours: i64,
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "GAVEL_WORKERS")]
    pub workers: Option<usize>,
    /// Seconds an idle auction actor lives on.
    #[arg(long, env = "GAVEL_ACTOR_IDLE_SECS", default_value_t = 120)]
    pub actor_idle_secs: u64,
    /// Seconds to wait for connections to finish on shutdown.
    #[arg(long, env = "GAVEL_SHUTDOWN_TIMEOUT_SECS", default_value_t = 30)]
    pub shutdown_timeout_secs: u64,
    /// Whether session cookies carry `Secure` (default: when an origin is https).
    #[arg(long, env = "GAVEL_SECURE_COOKIES")]
    pub secure_cookies: Option<bool>,
}

impl ServeConfig {
    /// The defaults, as if no flag or variable were given.
    pub fn from_defaults() -> Self {
        Self::parse_from_args(["serve"])
    }

    fn parse_from_args<const N: usize>(args: [&str; N]) -> Self {
        #[derive(Parser)]
        struct Wrapper {
            #[command(flatten)]
            serve: ServeConfig,
        }
        let wrapper = Wrapper::parse_from(args);
        wrapper.serve
    }

    /// Allowed origins, defaulting to `http://<bind>`.
    pub fn origins(&self) -> Vec<String> {
        if self.public_origins.is_empty() {
            vec![format!("http://{}", self.bind)]
        } else {
            self.public_origins
                .iter()
                .map(|origin| origin.trim().trim_end_matches('/').to_string())
                .filter(|origin| !origin.is_empty())
                .collect()
        }
    }

    /// This node's name: the configured one or a random one.
    pub fn node_name(&self) -> String {
        self.node_id
            .clone()
            .filter(|name| !name.trim().is_empty())
            .unwrap_or_else(|| format!("node-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]))
    }

    pub fn actor_idle(&self) -> Duration {
        Duration::from_secs(self.actor_idle_secs.max(1))
    }
}
