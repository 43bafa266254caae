//! The registry: finds the running actor of an auction or starts one,
//! rehydrated from the store; and the sweeper that makes sure every auction
//! about to end has an actor (whose timer closes it), also after a restart.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use actix::{Actor, Addr};
use chrono::Utc;
use tokio::sync::oneshot;

use super::actor::{ActorConfig, AuctionActor};
use super::commands::{
    AdminAction, AdminError, BidPayload, BidReply, CommandPayload, ReplyTo, Submit,
};
use crate::cluster::Publisher;
use crate::domain::AuctionId;
use crate::store::{AuctionRecord, Store, StoreError};

/// How long a caller waits for an actor's answer before answering `unavailable`.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a message is re-sent when its actor stopped under it.
const SUBMIT_ATTEMPTS: usize = 3;

/// Tunables of the registry and its actors.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    pub max_batch: usize,
    pub idle_timeout: Duration,
    pub sweep_interval: Duration,
    pub epoch: i64,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        Self {
            max_batch: 1024,
            idle_timeout: Duration::from_secs(120),
            sweep_interval: Duration::from_secs(5),
            epoch: 0,
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
}

pub struct Registry {
    store: Arc<dyn Store>,
    publisher: Arc<dyn Publisher>,
    config: RegistryConfig,
    actors: Mutex<HashMap<AuctionId, Addr<AuctionActor>>>,
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
        config: RegistryConfig,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            publisher,
            config,
            actors: Mutex::new(HashMap::new()),
        })
    }

    fn actors(&self) -> MutexGuard<'_, HashMap<AuctionId, Addr<AuctionActor>>> {
        self.actors
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Number of running auction actors.
    pub fn running(&self) -> usize {
        self.actors()
            .values()
            .filter(|addr| addr.connected())
            .count()
    }

    /// The auction's actor, started (and rehydrated) if it is not running.
    async fn actor(&self, id: AuctionId) -> Result<Addr<AuctionActor>, SubmitError> {
        if let Some(addr) = self.actors().get(&id).filter(|addr| addr.connected()) {
            return Ok(addr.clone());
        }
        let record = self.store.auction(id).await?.ok_or(SubmitError::NotFound)?;
        Ok(self.start(record))
    }

    fn start(&self, record: AuctionRecord) -> Addr<AuctionActor> {
        let mut actors = self.actors();
        if let Some(addr) = actors.get(&record.id).filter(|addr| addr.connected()) {
            return addr.clone();
        }
        let id = record.id;
        let config = ActorConfig {
            max_batch: self.config.max_batch,
            idle_timeout: self.config.idle_timeout,
            epoch: self.config.epoch.max(record.epoch),
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
        let mut actors = self.actors();
        if actors.get(&id).is_some_and(|addr| !addr.connected()) {
            actors.remove(&id);
        }
    }

    /// Sends a bid to its auction's actor and waits for the answer.
    pub async fn submit_bid(
        &self,
        auction: AuctionId,
        bid: BidPayload,
    ) -> Result<BidReply, SubmitError> {
        for _ in 0..SUBMIT_ATTEMPTS {
            let addr = self.actor(auction).await?;
            let (tx, rx) = oneshot::channel();
            addr.do_send(Submit {
                payload: CommandPayload::Bid(bid.clone()),
                reply: ReplyTo::Bid(tx),
            });
            match tokio::time::timeout(ANSWER_TIMEOUT, rx).await {
                Ok(Ok(reply)) => return Ok(reply),
                // The actor stopped before deciding: nothing was placed, send again.
                Ok(Err(_)) => self.forget_if_stopped(auction),
                Err(_) => {
                    tracing::warn!(auction.id = %auction, "no answer from the auction actor in time");
                    return Ok(BidReply::Unavailable);
                }
            }
        }
        Ok(BidReply::Unavailable)
    }

    /// Closes or cancels an auction through its actor.
    pub async fn admin(
        &self,
        auction: AuctionId,
        action: AdminAction,
    ) -> Result<AuctionRecord, AdminSubmitError> {
        for _ in 0..SUBMIT_ATTEMPTS {
            let addr = self.actor(auction).await?;
            let (tx, rx) = oneshot::channel();
            addr.do_send(Submit {
                payload: CommandPayload::Admin(action),
                reply: ReplyTo::Admin(tx),
            });
            match tokio::time::timeout(ANSWER_TIMEOUT, rx).await {
                Ok(Ok(result)) => return result.map_err(AdminSubmitError::Refused),
                Ok(Err(_)) => self.forget_if_stopped(auction),
                Err(_) => return Err(AdminSubmitError::Refused(AdminError::Unavailable)),
            }
        }
        Err(AdminSubmitError::Refused(AdminError::Unavailable))
    }

    /// Starts actors for live auctions that end soon, so their timers close
    /// them on time (overdue ones close at once).
    pub async fn sweep(&self) -> Result<usize, StoreError> {
        let horizon = self.config.idle_timeout * 2 + self.config.sweep_interval * 2;
        let horizon = chrono::Duration::from_std(horizon).unwrap_or(chrono::Duration::hours(1));
        let due = self
            .store
            .live_auctions_ending_before(Utc::now() + horizon)
            .await?;
        let mut started = 0;
        for id in due {
            let running = self.actors().get(&id).is_some_and(|addr| addr.connected());
            if !running {
                if let Some(record) = self.store.auction(id).await? {
                    self.start(record);
                    started += 1;
                }
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
