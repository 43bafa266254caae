//! What every handler can reach.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;

use crate::auction::Registry;
use crate::auth::rate_limit::BidRateLimiter;
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
    /// Allowed `Origin` values (scheme://host[:port]).
    pub origins: Vec<String>,
    pub secure_cookies: bool,
    pub metrics: Option<PrometheusHandle>,
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

    pub fn is_accepting(&self) -> bool {
        self.accepting.load(Ordering::SeqCst)
    }
}
