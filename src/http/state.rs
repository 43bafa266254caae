//! What every handler can reach.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;

use crate::auction::Registry;
use crate::auth::rate_limit::{AuthLimits, BidRateLimiter, ConnectionLimiter};
use crate::auth::Accounts;
use crate::cluster::redis::RedisCluster;
use crate::cluster::Hub;
use crate::store::Store;

pub struct AppState {
    pub store: Arc<dyn Store>,
    pub accounts: Accounts,
    pub registry: Arc<Registry>,
    pub hub: Arc<Hub>,
    pub bid_limiter: BidRateLimiter,
    /// Logins per (IP, username), registrations per IP, and both per IP.
    pub auth_limits: AuthLimits,
    /// Events replayed from the store per IP (resumes after a drop).
    pub replay_limiter: crate::auth::rate_limit::ReplayLimiter,
    /// Open WebSocket and SSE connections per IP.
    pub stream_limiter: ConnectionLimiter,
    /// How long a request body may take to arrive (zero: no limit).
    pub body_deadline: std::time::Duration,
    /// Allowed `Origin` values (scheme://host[:port]).
    pub origins: Vec<String>,
    pub secure_cookies: bool,
    pub metrics: Option<PrometheusHandle>,
    /// When set, `/metrics` asks for it as a bearer token.
    pub metrics_token: Option<String>,
    /// Redis coordination, when this node is part of a cluster.
    pub cluster: Option<Arc<RedisCluster>>,
    /// This node's name.
    pub node_id: String,
    /// False while shutting down.
    pub accepting: AtomicBool,
    /// Ends long-lived streams (WS, SSE) on shutdown.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}

impl AppState {
    pub fn origin_allowed(&self, origin: &str) -> bool {
        let origin = origin.trim_end_matches('/');
        self.origins.iter().any(|allowed| allowed == origin)
    }

    /// The allowed origins as one line, for messages and logs.
    pub fn allowed_origins(&self) -> String {
        self.origins.join(", ")
    }

    /// Logs a request refused for its `Origin` (`seen`, as sent) and returns
    /// the sentence that tells the client why: `what` was refused, the
    /// origin seen and the allowed list.
    pub fn refuse_origin(&self, req: &actix_web::HttpRequest, seen: &str, what: &str) -> String {
        let allowed = self.allowed_origins();
        tracing::warn!(
            path = %req.path(),
            origin = %seen,
            allowed = %allowed,
            "{what} refused: Origin {seen} is not one of the allowed origins ({allowed})"
        );
        format!(
            "{what} refused: Origin {seen} is not one of the allowed origins ({allowed}); \
             GAVEL_PUBLIC_ORIGINS sets them"
        )
    }

    /// Takes a long-lived connection slot for the request's peer, or
    /// answers 429 when that address holds too many already.
    pub fn open_stream(
        &self,
        req: &actix_web::HttpRequest,
    ) -> Result<Option<crate::auth::rate_limit::ConnectionSlot>, crate::http::ApiError> {
        let Some(peer) = req.peer_addr() else {
            return Ok(None);
        };
        self.stream_limiter
            .try_open(peer.ip())
            .map(Some)
            .ok_or_else(|| {
                crate::http::ApiError::too_many("too many open connections from your address", 1)
            })
    }

    /// Takes one login attempt for `username` from the request's peer, or
    /// answers 429 `rate_limited` with `Retry-After`.
    pub fn check_login_rate(
        &self,
        req: &actix_web::HttpRequest,
        username: &str,
    ) -> Result<(), crate::http::ApiError> {
        let Some(peer) = req.peer_addr() else {
            return Ok(());
        };
        self.auth_limits
            .check_login(peer.ip(), username)
            .map_err(|wait| auth_rate_limited(wait, "too many login attempts"))
    }

    /// Takes one registration for the request's peer, or answers 429
    /// `rate_limited` with `Retry-After`.
    pub fn check_registration_rate(
        &self,
        req: &actix_web::HttpRequest,
    ) -> Result<(), crate::http::ApiError> {
        let Some(peer) = req.peer_addr() else {
            return Ok(());
        };
        self.auth_limits
            .check_registration(peer.ip())
            .map_err(|wait| auth_rate_limited(wait, "too many registrations from your address"))
    }

    /// Tells every open connection, on every node, about a logout or ban.
    pub fn announce_identity_change(&self, change: crate::cluster::identity::IdentityChange) {
        match &self.cluster {
            Some(cluster) => cluster.announce_identity_change(change),
            None => self.hub.identity.deliver(change),
        }
    }

    /// Ends a session (logout) and every connection opened with it.
    pub async fn end_session(&self, token: &str) -> Result<(), crate::auth::AccountError> {
        self.accounts.logout(token).await?;
        self.announce_identity_change(crate::cluster::identity::IdentityChange::SessionEnded {
            token_hash: crate::auth::token::hash_token(token),
        });
        Ok(())
    }

    /// Takes `events` from the peer's replay budget, or answers 429
    /// `rate_limited` saying how long to wait.
    pub fn take_replay_budget(
        &self,
        peer: Option<std::net::SocketAddr>,
        events: i64,
    ) -> Result<(), crate::http::ApiError> {
        let Some(peer) = peer else {
            return Ok(());
        };
        let events = u64::try_from(events).unwrap_or(0);
        self.replay_limiter
            .take(peer.ip(), events)
            .map_err(|wait_secs| {
                crate::http::ApiError::too_many(
                    format!("too many events replayed for your address; retry in {wait_secs} s"),
                    wait_secs,
                )
            })
    }

    pub fn is_accepting(&self) -> bool {
        self.accepting.load(Ordering::SeqCst)
    }
}

/// 429 `rate_limited` for the login and registration limits.
fn auth_rate_limited(wait: std::time::Duration, what: &str) -> crate::http::ApiError {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    crate::http::ApiError::too_many(format!("{what}; try again in {} s", secs.max(1)), secs)
}
