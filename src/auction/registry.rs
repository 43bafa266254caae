//! The registry: finds the actor that decides an auction's commands, and
//! the sweeper that makes sure every auction about to end has one (whose
//! timer closes it), also after a restart or a failover.
//!
//! Single node: the actor is started on demand, rehydrated from the store.
//! With a cluster: an actor only runs where the auction's lease is held. A
//! node that takes a free lease raises the row's fencing epoch first, then
//! rehydrates; a command for an auction leased elsewhere is forwarded to
//! that node and its answer relayed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::{Actor, Addr};
use async_trait::async_trait;
use chrono::Utc;
use tokio::sync::oneshot;

use super::actor::{ActorConfig, AuctionActor, LeaseHold};
use super::commands::{
    AdminAction, AdminError, BanChanged, BidPayload, BidReply, CommandPayload, Drain, ReplyTo,
    Submit,
};
use super::pipeline::{CommitPipeline, PipelineConfig};
use crate::cluster::redis::lease::LeaseOutcome;
use crate::cluster::redis::messages::{ForwardedCommand, ForwardedReply};
use crate::cluster::redis::{RedisCluster, RequestHandler};
use crate::cluster::Publisher;
use crate::domain::AuctionId;
use crate::store::{AuctionRecord, Store, StoreError};
use crate::sync::lock;

/// How long a caller waits for an actor's answer before answering `unavailable`.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(6);
/// Multi-auction transactions the commit pipeline keeps in flight.
const PIPELINE_IN_FLIGHT: usize = 1;
/// How often a command is re-sent when its actor stopped (or moved) under it.
const SUBMIT_ATTEMPTS: usize = 3;

/// Tunables of the registry and its actors.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    pub max_batch: usize,
    pub idle_timeout: Duration,
    pub sweep_interval: Duration,
    /// Commit every actor's batches through one node-wide pipeline
    /// (`GAVEL_COMMIT_PIPELINE`); off: each actor commits alone.
    pub commit_pipeline: bool,
    /// The store's per-call deadline: how long a batch may wait in the
    /// pipeline's queue.
    pub store_deadline: Duration,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        Self {
            max_batch: 1024,
            idle_timeout: Duration::from_secs(120),
            sweep_interval: Duration::from_secs(5),
            commit_pipeline: true,
            store_deadline: Duration::from_secs(4),
        }
    }
}

/// Why a command could not be submitted.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("no such auction")]
    NotFound,
    #[error("storage is unavailable")]
    Store(#[from] StoreError),
    #[error("cross-node coordination is unavailable")]
    Unavailable,
}

/// Where an auction's commands go.
enum Route {
    Local(Addr<AuctionActor>),
    Remote(String),
}

pub struct Registry {
    store: Arc<dyn Store>,
    publisher: Arc<dyn Publisher>,
    cluster: Option<Arc<RedisCluster>>,
    config: RegistryConfig,
    /// Where actors hand their batches (None: they commit alone).
    pipeline: Option<CommitPipeline>,
    actors: Mutex<HashMap<AuctionId, Addr<AuctionActor>>>,
    /// Serializes taking over an auction on this node.
    routing: Mutex<HashMap<AuctionId, Arc<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Registry {
    pub fn new(
        store: Arc<dyn Store>,
        publisher: Arc<dyn Publisher>,
        cluster: Option<Arc<RedisCluster>>,
        config: RegistryConfig,
    ) -> Arc<Self> {
        let pipeline = config.commit_pipeline.then(|| {
            CommitPipeline::start(
                Arc::clone(&store),
                PipelineConfig {
                    max_rows: config.max_batch.max(1),
                    max_in_flight: PIPELINE_IN_FLIGHT,
                    queue_limit: config.store_deadline,
                },
            )
        });
        let registry = Arc::new(Self {
            pipeline,
            store,
            publisher,
            cluster,
            config,
            actors: Mutex::new(HashMap::new()),
            routing: Mutex::new(HashMap::new()),
        });
        if let Some(cluster) = &registry.cluster {
            let handler: Arc<dyn RequestHandler> = Arc::clone(&registry) as Arc<dyn RequestHandler>;
            cluster.set_handler(Arc::downgrade(&handler));
        }
        registry
    }

    /// Asks every actor to decide what it has queued and stop; waits (up to
    /// `wait`) until they have.
    pub async fn drain(&self, wait: Duration) {
        let actors: Vec<Addr<AuctionActor>> = lock(&self.actors).drain().map(|(_, a)| a).collect();
        for addr in &actors {
            addr.do_send(Drain);
        }
        let deadline = tokio::time::Instant::now() + wait;
        while actors.iter().any(Addr::connected) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Tells this node's actors that `user`'s ban status changed.
    pub fn ban_changed(&self, user: crate::domain::UserId) {
        for addr in lock(&self.actors).values() {
            addr.do_send(BanChanged(user));
        }
    }

    /// Number of running auction actors on this node.
    pub fn running(&self) -> usize {
        lock(&self.actors)
            .values()
            .filter(|addr| addr.connected())
            .count()
    }

    fn running_actor(&self, id: AuctionId) -> Option<Addr<AuctionActor>> {
        lock(&self.actors)
            .get(&id)
            .filter(|addr| addr.connected())
            .cloned()
    }

    /// Finds (or becomes) the place where `id`'s commands are decided.
    async fn route(&self, id: AuctionId) -> Result<Route, SubmitError> {
        if let Some(addr) = self.running_actor(id) {
            return Ok(Route::Local(addr));
        }
        let gate = Arc::clone(lock(&self.routing).entry(id).or_default());
        let _turn = gate.lock().await;
        if let Some(addr) = self.running_actor(id) {
            return Ok(Route::Local(addr));
        }
        let Some(cluster) = &self.cluster else {
            let record = self.store.auction(id).await?.ok_or(SubmitError::NotFound)?;
            let complete = !self.store.has_bid_requests(id).await?;
            return Ok(Route::Local(self.start(record, None, complete)));
        };
        let outcome = cluster.acquire(id).await.map_err(|error| {
            tracing::warn!(auction.id = %id, error = %error, "cannot reach Redis for the lease");
            SubmitError::Unavailable
        })?;
        match outcome {
            LeaseOutcome::Acquired { epoch } => {
                let record = match self.take_over(id, epoch).await {
                    Ok(record) => record,
                    Err(error) => {
                        cluster.release(id, epoch).await;
                        return Err(error);
                    }
                };
                // What the old owner committed but never published reaches
                // local subscribers before this node's first event does.
                cluster.fill_before(id, record.auction.state.seq + 1).await;
                let hold = LeaseHold {
                    cluster: Arc::clone(cluster),
                    epoch,
                };
                let complete = match self.store.has_bid_requests(id).await {
                    Ok(found) => !found,
                    Err(error) => {
                        cluster.release(id, epoch).await;
                        return Err(error.into());
                    }
                };
                Ok(Route::Local(self.start(record, Some(hold), complete)))
            }
            LeaseOutcome::HeldBy { node } if node == cluster.node_id() => {
                // Our own lease without an actor: left from an actor that
                // stopped without releasing. It expires soon.
                Err(SubmitError::Unavailable)
            }
            LeaseOutcome::HeldBy { node } => Ok(Route::Remote(node)),
        }
    }

    /// Fences out every older owner, then reads the state they left.
    async fn take_over(&self, id: AuctionId, epoch: i64) -> Result<AuctionRecord, SubmitError> {
        if self.store.auction(id).await?.is_none() {
            return Err(SubmitError::NotFound);
        }
        if !self.store.claim_auction(id, epoch).await? {
            tracing::warn!(auction.id = %id, epoch, "a newer owner already claimed the auction");
            return Err(SubmitError::Unavailable);
        }
        self.store.auction(id).await?.ok_or(SubmitError::NotFound)
    }

    fn start(
        &self,
        record: AuctionRecord,
        lease: Option<LeaseHold>,
        requests_complete: bool,
    ) -> Addr<AuctionActor> {
        let mut actors = lock(&self.actors);
        if let Some(addr) = actors.get(&record.id).filter(|addr| addr.connected()) {
            return addr.clone();
        }
        let id = record.id;
        let config = ActorConfig {
            max_batch: self.config.max_batch,
            idle_timeout: self.config.idle_timeout,
            epoch: lease.as_ref().map_or(record.epoch, |hold| hold.epoch),
            lease,
            requests_complete,
            pipeline: self.pipeline.clone(),
        };
        let actor = AuctionActor::new(
            record,
            Arc::clone(&self.store),
            Arc::clone(&self.publisher),
            config,
        );
        let addr = actor.start();
        actors.insert(id, addr.clone());
        addr
    }

    fn forget_if_stopped(&self, id: AuctionId) {
        let mut actors = lock(&self.actors);
        if actors.get(&id).is_some_and(|addr| !addr.connected()) {
            actors.remove(&id);
        }
    }

    async fn forward(
        &self,
        node: &str,
        id: AuctionId,
        command: ForwardedCommand,
    ) -> Option<ForwardedReply> {
        let cluster = self.cluster.as_ref()?;
        match cluster.forward(node, id, command).await {
            Ok(reply) => Some(reply),
            Err(error) => {
                tracing::warn!(auction.id = %id, owner = %node, error = %error, "forwarding failed");
                Some(ForwardedReply::Unavailable)
            }
        }
    }

    /// Decides a bid (here or at the owning node) and returns its answer.
    pub async fn submit_bid(
        &self,
        auction: AuctionId,
        bid: BidPayload,
    ) -> Result<BidReply, SubmitError> {
        for _ in 0..SUBMIT_ATTEMPTS {
            match self.route(auction).await? {
                Route::Local(addr) => {
                    let (tx, rx) = oneshot::channel();
                    addr.do_send(Submit {
                        payload: CommandPayload::Bid(bid.clone()),
                        reply: ReplyTo::Bid(tx),
                    });
                    match tokio::time::timeout(ANSWER_TIMEOUT, rx).await {
                        Ok(Ok(reply)) => return Ok(reply),
                        // The actor stopped before deciding: nothing was placed.
                        Ok(Err(_)) => self.forget_if_stopped(auction),
                        Err(_) => {
                            tracing::warn!(auction.id = %auction, "no answer from the auction actor in time");
                            return Ok(BidReply::Unavailable);
                        }
                    }
                }
                Route::Remote(node) => {
                    let command = ForwardedCommand::Bid { bid: bid.clone() };
                    match self.forward(&node, auction, command).await {
                        Some(ForwardedReply::Bid { answer }) => {
                            return Ok(BidReply::Answer(answer))
                        }
                        Some(ForwardedReply::NotOwner) => continue,
                        Some(ForwardedReply::NotFound) => return Err(SubmitError::NotFound),
                        _ => return Ok(BidReply::Unavailable),
                    }
                }
            }
        }
        Ok(BidReply::Unavailable)
    }

    /// Closes, cancels, voids bids on or bars a bidder from an auction
    /// through its actor (here or at the owner).
    pub async fn admin(
        &self,
        auction: AuctionId,
        action: AdminAction,
    ) -> Result<AuctionRecord, AdminSubmitError> {
        for _ in 0..SUBMIT_ATTEMPTS {
            match self.route(auction).await? {
                Route::Local(addr) => {
                    let (tx, rx) = oneshot::channel();
                    addr.do_send(Submit {
                        payload: CommandPayload::Admin(action.clone()),
                        reply: ReplyTo::Admin(tx),
                    });
                    match tokio::time::timeout(ANSWER_TIMEOUT, rx).await {
                        Ok(Ok(result)) => return result.map_err(AdminSubmitError::Refused),
                        Ok(Err(_)) => self.forget_if_stopped(auction),
                        Err(_) => return Err(AdminSubmitError::Refused(AdminError::Unavailable)),
                    }
                }
                Route::Remote(node) => {
                    let command = ForwardedCommand::Admin {
                        action: action.clone(),
                    };
                    match self.forward(&node, auction, command).await {
                        Some(ForwardedReply::AdminDone) => {
                            return self
                                .store
                                .auction(auction)
                                .await?
                                .ok_or(AdminSubmitError::Submit(SubmitError::NotFound));
                        }
                        Some(ForwardedReply::AdminRefused) => {
                            return Err(AdminSubmitError::Refused(AdminError::AlreadyEnded))
                        }
                        Some(ForwardedReply::AdminRejected { error }) => {
                            return Err(AdminSubmitError::Refused(error))
                        }
                        Some(ForwardedReply::NotOwner) => continue,
                        Some(ForwardedReply::NotFound) => {
                            return Err(AdminSubmitError::Submit(SubmitError::NotFound))
                        }
                        _ => return Err(AdminSubmitError::Refused(AdminError::Unavailable)),
                    }
                }
            }
        }
        Err(AdminSubmitError::Refused(AdminError::Unavailable))
    }

    /// Makes sure live auctions that end soon have an actor somewhere, so
    /// their timers close them on time (overdue ones close at once).
    pub async fn sweep(&self) -> Result<usize, StoreError> {
        let horizon = self.config.idle_timeout * 2 + self.config.sweep_interval * 2;
        let horizon = chrono::Duration::from_std(horizon).unwrap_or(chrono::Duration::hours(1));
        let due = self
            .store
            .live_auctions_ending_before(Utc::now() + horizon)
            .await?;
        let mut started = 0;
        for id in due {
            if self.running_actor(id).is_some() {
                continue;
            }
            match self.route(id).await {
                Ok(Route::Local(_)) => started += 1,
                Ok(Route::Remote(_)) | Err(SubmitError::NotFound | SubmitError::Unavailable) => {}
                Err(SubmitError::Store(error)) => return Err(error),
            }
        }
        Ok(started)
    }

    /// Runs [`Registry::sweep`] now and then every `sweep_interval`, until
    /// `shutdown` fires. Must be called inside an actix system.
    pub fn spawn_sweeper(self: &Arc<Self>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let registry = Arc::clone(self);
        actix::spawn(async move {
            let mut tick = tokio::time::interval(registry.config.sweep_interval);
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        if let Err(error) = registry.sweep().await {
                            tracing::warn!(error = ?error, "close sweep failed; will retry");
                        }
                    }
                    _ = shutdown.changed() => break,
                }
            }
        });
    }
}

#[async_trait]
impl RequestHandler for Registry {
    /// Serves a command another node forwarded here because it believes we
    /// own the auction. We never forward it on: if we are not the owner,
    /// the sender re-routes.
    async fn handle_forwarded(
        &self,
        auction: AuctionId,
        command: ForwardedCommand,
    ) -> ForwardedReply {
        let addr = match self.route(auction).await {
            Ok(Route::Local(addr)) => addr,
            Ok(Route::Remote(_)) => return ForwardedReply::NotOwner,
            Err(SubmitError::NotFound) => return ForwardedReply::NotFound,
            Err(_) => return ForwardedReply::Unavailable,
        };
        match command {
            ForwardedCommand::Bid { bid } => {
                let (tx, rx) = oneshot::channel();
                addr.do_send(Submit {
                    payload: CommandPayload::Bid(bid),
                    reply: ReplyTo::Bid(tx),
                });
                match tokio::time::timeout(ANSWER_TIMEOUT, rx).await {
                    Ok(Ok(BidReply::Answer(answer))) => ForwardedReply::Bid { answer },
                    _ => ForwardedReply::Unavailable,
                }
            }
            ForwardedCommand::Admin { action } => {
                let (tx, rx) = oneshot::channel();
                addr.do_send(Submit {
                    payload: CommandPayload::Admin(action),
                    reply: ReplyTo::Admin(tx),
                });
                match tokio::time::timeout(ANSWER_TIMEOUT, rx).await {
                    Ok(Ok(Ok(_))) => ForwardedReply::AdminDone,
                    Ok(Ok(Err(AdminError::AlreadyEnded))) => ForwardedReply::AdminRefused,
                    Ok(Ok(Err(
                        error @ (AdminError::NotVoidable(_)
                        | AdminError::NothingToDo(_)
                        | AdminError::AlreadyPaused
                        | AdminError::NotPaused
                        | AdminError::NotEditable(_)),
                    ))) => ForwardedReply::AdminRejected { error },
                    _ => ForwardedReply::Unavailable,
                }
            }
        }
    }
}

/// Why an admin command failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminSubmitError {
    #[error(transparent)]
    Submit(#[from] SubmitError),
    #[error(transparent)]
    Refused(AdminError),
}

impl From<StoreError> for AdminSubmitError {
    fn from(error: StoreError) -> Self {
        Self::Submit(SubmitError::Store(error))
    }
}
