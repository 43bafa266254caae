//! Multi-node coordination through Redis (`REDIS_URL` set).
//!
//! - **Leases** ([`lease`]): one owner per auction, with a fencing epoch
//!   that the store checks on every write.
//! - **Forwarding**: a command for an auction owned elsewhere is published
//!   on the owner's node channel; the owner answers on ours.
//! - **Events**: the owner publishes each commit on `{prefix}ev:{auction}`;
//!   every node relays other owners' events into its local hub (subscribers'
//!   cursors fill any gap from the store).
//! - **Identity changes**: logouts and bans are published on
//!   `{prefix}identity`; every node relays them to its open connections.
//! - **Trouble**: commands use a connection manager with short timeouts;
//!   the pub/sub connection is watched with self-addressed canaries and
//!   re-established with jittered backoff, after which local subscribers are
//!   caught up from the store.

pub mod lease;
pub mod messages;
mod relay;

use std::collections::HashMap;
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::AsyncCommands;
use tokio::sync::{mpsc, oneshot, watch};

use self::lease::{lease_holder, lease_value, release_script, renew_script, LeaseOutcome};
use self::messages::{
    EventsMessage, ForwardedCommand, ForwardedReply, IdentityMessage, NodeMessage, WireEvent,
};
use super::identity::IdentityChange;
use super::{encode_batch, Hub, Publisher};
use crate::domain::AuctionId;
use crate::store::{Store, StoredEvent};
use crate::sync::lock;

/// How a node joins the cluster.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    pub url: String,
    pub node_id: String,
    /// Prefix of every key and channel (lets clusters share a Redis).
    pub prefix: String,
    pub lease_ttl: Duration,
    /// How long a forwarded command waits for the owner's answer.
    pub forward_timeout: Duration,
}

/// Why a cluster operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("Redis is unavailable")]
    Redis(#[from] redis::RedisError),
    #[error("the owning node did not answer in time")]
    Timeout,
    #[error("the owning node is not listening")]
    NoListener,
}

/// Serves commands forwarded to this node (implemented by the registry).
#[async_trait]
pub trait RequestHandler: Send + Sync + 'static {
    async fn handle_forwarded(
        &self,
        auction: AuctionId,
        command: ForwardedCommand,
    ) -> ForwardedReply;
}

/// Events read from the store per query when filling a gap.
const FILL_LIMIT: i64 = 1000;
/// The longest a gap fill waits on the store (the relay waits on it).
const FILL_TIMEOUT: Duration = Duration::from_secs(2);

/// Outgoing publishes, sent in order by one task so the actor never waits.
type Outbox = mpsc::UnboundedSender<(String, String)>;

pub struct RedisCluster {
    config: RedisConfig,
    client: redis::Client,
    commands: ConnectionManager,
    hub: Arc<Hub>,
    store: Arc<dyn Store>,
    outbox: Outbox,
    pending: Mutex<HashMap<String, oneshot::Sender<ForwardedReply>>>,
    canaries: Mutex<HashMap<String, oneshot::Sender<()>>>,
    handler: OnceLock<Weak<dyn RequestHandler>>,
    /// The last seq relayed or published per auction (for catching up).
    last_seen: Mutex<HashMap<AuctionId, i64>>,
    /// Unix millis of the last message heard on the pub/sub connection.
    last_heard_ms: AtomicI64,
}

impl std::fmt::Debug for RedisCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCluster")
            .field("node", &self.config.node_id)
            .field("prefix", &self.config.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisCluster {
    /// Connects lazily (a node starts even while Redis is down) and starts
    /// the relay and publisher tasks, which stop when `shutdown` fires.
    pub fn start(
        config: RedisConfig,
        hub: Arc<Hub>,
        store: Arc<dyn Store>,
        shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<Arc<Self>> {
        let client = redis::Client::open(config.url.as_str())?;
        let manager_config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(Duration::from_millis(1500)))
            .set_connection_timeout(Some(Duration::from_millis(1500)))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_secs(2));
        let commands = ConnectionManager::new_lazy_with_config(client.clone(), manager_config)?;
        let (outbox, outgoing) = mpsc::unbounded_channel();
        let cluster = Arc::new(Self {
            config,
            client,
            commands,
            hub,
            store,
            outbox,
            pending: Mutex::new(HashMap::new()),
            canaries: Mutex::new(HashMap::new()),
            handler: OnceLock::new(),
            last_seen: Mutex::new(HashMap::new()),
            last_heard_ms: AtomicI64::new(0),
        });
        tokio::spawn(publish_loop(cluster.commands.clone(), outgoing));
        tokio::spawn(relay::run(Arc::clone(&cluster), shutdown));
        Ok(cluster)
    }

    /// Who answers commands forwarded to this node.
    pub fn set_handler(&self, handler: Weak<dyn RequestHandler>) {
        let _ = self.handler.set(handler);
    }

    pub fn node_id(&self) -> &str {
        &self.config.node_id
    }

    pub fn lease_ttl(&self) -> Duration {
        self.config.lease_ttl
    }

    fn key(&self, kind: &str, auction: AuctionId) -> String {
        format!("{}{kind}:{auction}", self.config.prefix)
    }

    fn node_channel(&self, node: &str) -> String {
        format!("{}node:{node}", self.config.prefix)
    }

    fn identity_channel(&self) -> String {
        format!("{}identity", self.config.prefix)
    }

    /// Tells this node's connections at once and every other node through
    /// Redis (best effort: while Redis is down, other nodes' actors still
    /// see a ban within a second through their ban caches).
    pub fn announce_identity_change(&self, change: IdentityChange) {
        self.hub.identity.deliver(change.clone());
        let message = IdentityMessage {
            node: self.config.node_id.clone(),
            change,
        };
        if let Ok(payload) = serde_json::to_string(&message) {
            let _ = self.outbox.send((self.identity_channel(), payload));
        }
    }

    fn events_channel(&self, auction: AuctionId) -> String {
        format!("{}ev:{auction}", self.config.prefix)
    }

    /// Tries to take `auction`'s lease.
    pub async fn acquire(&self, auction: AuctionId) -> Result<LeaseOutcome, ClusterError> {
        let mut conn = self.commands.clone();
        let lease_key = self.key("lease", auction);
        if let Some(value) = conn.get::<_, Option<String>>(&lease_key).await? {
            return Ok(LeaseOutcome::HeldBy {
                node: lease_holder(&value).to_owned(),
            });
        }
        let epoch: i64 = conn.incr(self.key("epoch", auction), 1).await?;
        let ttl_ms = u64::try_from(self.config.lease_ttl.as_millis()).unwrap_or(5_000);
        let taken: Option<String> = redis::cmd("SET")
            .arg(&lease_key)
            .arg(lease_value(&self.config.node_id, epoch))
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms)
            .query_async(&mut conn)
            .await?;
        if taken.is_some() {
            metrics::counter!("gavel_lease_changes_total", "change" => "acquired").increment(1);
            tracing::info!(auction.id = %auction, epoch, node = %self.config.node_id, "lease acquired");
            return Ok(LeaseOutcome::Acquired { epoch });
        }
        let holder: Option<String> = conn.get(&lease_key).await?;
        Ok(LeaseOutcome::HeldBy {
            node: holder
                .map(|v| lease_holder(&v).to_owned())
                .unwrap_or_default(),
        })
    }

    /// Extends our lease; false when it is no longer ours.
    pub async fn renew(&self, auction: AuctionId, epoch: i64) -> Result<bool, ClusterError> {
        let mut conn = self.commands.clone();
        let ttl_ms = u64::try_from(self.config.lease_ttl.as_millis()).unwrap_or(5_000);
        let renewed: i64 = renew_script()
            .key(self.key("lease", auction))
            .arg(lease_value(&self.config.node_id, epoch))
            .arg(ttl_ms)
            .invoke_async(&mut conn)
            .await?;
        if renewed != 1 {
            metrics::counter!("gavel_lease_changes_total", "change" => "lost").increment(1);
        }
        Ok(renewed == 1)
    }

    /// Gives our lease up (best effort).
    pub async fn release(&self, auction: AuctionId, epoch: i64) {
        let mut conn = self.commands.clone();
        let released: Result<i64, _> = release_script()
            .key(self.key("lease", auction))
            .arg(lease_value(&self.config.node_id, epoch))
            .invoke_async(&mut conn)
            .await;
        match released {
            Ok(1) => {
                metrics::counter!("gavel_lease_changes_total", "change" => "released").increment(1);
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(auction.id = %auction, error = %error, "lease release failed; it will expire")
            }
        }
    }

    /// Sends `command` to `node` (the owner) and waits for its answer.
    pub async fn forward(
        &self,
        node: &str,
        auction: AuctionId,
        command: ForwardedCommand,
    ) -> Result<ForwardedReply, ClusterError> {
        let started = std::time::Instant::now();
        let corr = uuid::Uuid::new_v4().to_string();
        let (tx, rx) = oneshot::channel();
        lock(&self.pending).insert(corr.clone(), tx);
        let message = NodeMessage::Request {
            corr: corr.clone(),
            from: self.config.node_id.clone(),
            auction,
            command,
        };
        let payload = serde_json::to_string(&message).unwrap_or_default();
        let mut conn = self.commands.clone();
        let receivers: Result<i64, _> = conn.publish(self.node_channel(node), payload).await;
        let result = match receivers {
            Err(error) => Err(ClusterError::Redis(error)),
            Ok(0) => Err(ClusterError::NoListener),
            Ok(_) => match tokio::time::timeout(self.config.forward_timeout, rx).await {
                Ok(Ok(reply)) => Ok(reply),
                _ => Err(ClusterError::Timeout),
            },
        };
        lock(&self.pending).remove(&corr);
        metrics::histogram!("gavel_forward_seconds").record(started.elapsed().as_secs_f64());
        result
    }

    /// A pub/sub round trip through Redis (for readiness).
    pub async fn canary(&self, wait: Duration) -> bool {
        let nonce = uuid::Uuid::new_v4().to_string();
        let (tx, rx) = oneshot::channel();
        lock(&self.canaries).insert(nonce.clone(), tx);
        let sent = self.send_canary(&nonce).await;
        let heard = sent
            && tokio::time::timeout(wait, rx)
                .await
                .is_ok_and(|r| r.is_ok());
        lock(&self.canaries).remove(&nonce);
        heard
    }

    async fn send_canary(&self, nonce: &str) -> bool {
        let payload = serde_json::to_string(&NodeMessage::Canary {
            nonce: nonce.to_owned(),
        })
        .unwrap_or_default();
        let mut conn = self.commands.clone();
        conn.publish::<_, _, i64>(self.node_channel(&self.config.node_id), payload)
            .await
            .is_ok()
    }

    /// Hands local subscribers, from the store, every event of `auction`
    /// before `next` that this node has not relayed or published yet, so
    /// the hub never delivers a gap. A committed event misses its
    /// publication when its owner dies between commit and publish, or when
    /// the publish fails; the next event (relayed, or committed here after
    /// a takeover) would then skip it. Nothing to do without subscribers.
    pub async fn fill_before(&self, auction: AuctionId, next: i64) {
        let known = lock(&self.last_seen).get(&auction).copied();
        if known.is_some_and(|seq| seq + 1 >= next) || self.hub.subscribers_of(auction) == 0 {
            return;
        }
        let mut after = known.unwrap_or((next - 1 - FILL_LIMIT).max(0));
        while after + 1 < next {
            let limit = (next - 1 - after).min(FILL_LIMIT);
            let read = self.store.events_after(auction, after, limit);
            match tokio::time::timeout(FILL_TIMEOUT, read).await {
                Err(_) => {
                    tracing::warn!(auction.id = %auction, "filling an event gap from the store timed out");
                    break;
                }
                Ok(Ok(events)) => {
                    let Some(last) = events.last() else { break };
                    after = last.seq;
                    self.note_seen(auction, after);
                    self.hub.deliver(encode_batch(auction, &events, Utc::now()));
                }
                Ok(Err(error)) => {
                    tracing::warn!(auction.id = %auction, error = ?error, "could not fill an event gap from the store");
                    break;
                }
            }
        }
    }

    fn note_seen(&self, auction: AuctionId, seq: i64) {
        let mut seen = lock(&self.last_seen);
        let entry = seen.entry(auction).or_insert(seq);
        *entry = (*entry).max(seq);
    }
}

impl Publisher for RedisCluster {
    fn publish(&self, auction: AuctionId, events: &[StoredEvent], server_time: DateTime<Utc>) {
        self.hub.deliver(encode_batch(auction, events, server_time));
        if let Some(last) = events.last() {
            self.note_seen(auction, last.seq);
        }
        let message = EventsMessage {
            node: self.config.node_id.clone(),
            auction,
            server_time,
            events: events
                .iter()
                .map(|event| WireEvent {
                    seq: event.seq,
                    name: event.name.clone(),
                    data: event.data.clone(),
                })
                .collect(),
        };
        if let Ok(payload) = serde_json::to_string(&message) {
            let _ = self.outbox.send((self.events_channel(auction), payload));
        }
    }
}

/// Publishes queued messages in order; a failed publish is dropped (other
/// nodes fill the gap from the store on the next event or on reconnect).
async fn publish_loop(
    mut conn: ConnectionManager,
    mut outgoing: mpsc::UnboundedReceiver<(String, String)>,
) {
    while let Some((channel, payload)) = outgoing.recv().await {
        if let Err(error) = conn.publish::<_, _, i64>(&channel, payload).await {
            metrics::counter!("gavel_publish_failures_total").increment(1);
            tracing::warn!(channel = %channel, error = %error, "could not publish to Redis");
        }
    }
}
