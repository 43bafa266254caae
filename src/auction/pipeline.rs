//! The node-wide commit pipeline: the decided batches of every auction
//! actor on this node go to the database together.
//!
//! An actor that has a batch to write hands it to [`CommitPipeline::commit`]
//! and waits for its own outcome, exactly as it waited for its own
//! transaction before. One task owns the queue. When a transaction slot is
//! free it takes the first batch waiting and everything else already queued
//! (up to `max_rows` rows) and commits them all with ONE
//! [`Store::commit_batches`]; each actor then gets its auction's outcome:
//! committed, stale (the actor stops, as on [`StoreError::Fenced`]) or the
//! transaction's error (every batch in it answers `unavailable`).
//!
//! Adaptive without a timer: an idle pipeline sends a lone batch at once,
//! so a lone bid waits for nothing; while `max_in_flight` transactions are
//! running, new batches queue and leave together in the next one.
//!
//! The store's deadline applies to each transaction (the store is a
//! [`crate::store::TimedStore`]); a batch that waited longer than that in
//! the queue is answered [`StoreError::Timeout`] without being written, so
//! no bid waits for the database longer than twice the deadline.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::store::{BatchOutcome, CommitBatch, Store, StoreError, StoreResult};

/// Tunables of the pipeline.
#[derive(Debug, Clone, Copy)]
pub struct PipelineConfig {
    /// Rows (events, notes, answers) one transaction carries at most; a
    /// single batch larger than that still goes, alone.
    pub max_rows: usize,
    /// Transactions in flight at once.
    pub max_in_flight: usize,
    /// A batch queued longer than this is answered `Timeout`, unwritten.
    pub queue_limit: Duration,
}

/// One actor's batch waiting for its transaction.
struct Job {
    batch: CommitBatch,
    queued_at: Instant,
    reply: oneshot::Sender<StoreResult<()>>,
}

/// The handle actors commit through (cheap to clone).
#[derive(Clone)]
pub struct CommitPipeline {
    jobs: mpsc::UnboundedSender<Job>,
}

impl std::fmt::Debug for CommitPipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommitPipeline").finish_non_exhaustive()
    }
}

impl CommitPipeline {
    /// Starts the pipeline task on the current runtime. It ends once every
    /// handle is dropped and the queue is empty.
    pub fn start(store: Arc<dyn Store>, config: PipelineConfig) -> Self {
        let (jobs, queue) = mpsc::unbounded_channel();
        tokio::spawn(run(store, queue, config));
        Self { jobs }
    }

    /// Commits `batch` with whatever else is ready: `Ok` once its
    /// transaction committed it, [`StoreError::Fenced`] when its auction was
    /// stale (nothing written), else the transaction's error.
    pub async fn commit(&self, batch: CommitBatch) -> StoreResult<()> {
        let (reply, outcome) = oneshot::channel();
        let job = Job {
            batch,
            queued_at: Instant::now(),
            reply,
        };
        if self.jobs.send(job).is_err() {
            return Err(StoreError::Timeout);
        }
        // A dropped reply means the pipeline task is gone: nothing known
        // written, the bids are answered unavailable and retried.
        outcome.await.unwrap_or(Err(StoreError::Timeout))
    }
}

/// The pipeline task: takes what is queued whenever a slot is free.
async fn run(
    store: Arc<dyn Store>,
    mut queue: mpsc::UnboundedReceiver<Job>,
    config: PipelineConfig,
) {
    let slots = Arc::new(Semaphore::new(config.max_in_flight.max(1)));
    let mut carried: Option<Job> = None;
    loop {
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let first = match carried.take() {
            Some(job) => job,
            None => match queue.recv().await {
                Some(job) => job,
                None => return,
            },
        };
        let mut rows = first.batch.rows();
        let mut jobs = vec![first];
        while rows < config.max_rows {
            match queue.try_recv() {
                Ok(job) if rows + job.batch.rows() > config.max_rows => {
                    carried = Some(job);
                    break;
                }
                Ok(job) => {
                    rows += job.batch.rows();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        let jobs = expire(jobs, config.queue_limit);
        if jobs.is_empty() {
            continue;
        }
        tokio::spawn(transaction(Arc::clone(&store), jobs, slot));
    }
}

/// Drops the jobs nobody waits for any more and answers those queued too
/// long, unwritten.
fn expire(jobs: Vec<Job>, limit: Duration) -> Vec<Job> {
    jobs.into_iter()
        .filter_map(|job| {
            if job.reply.is_closed() {
                None
            } else if job.queued_at.elapsed() > limit {
                tracing::warn!(auction.id = %job.batch.auction_id, "batch waited too long for the commit pipeline");
                let _ = job.reply.send(Err(StoreError::Timeout));
                None
            } else {
                Some(job)
            }
        })
        .collect()
}

/// One multi-auction transaction and its answers; frees its slot at the end.
async fn transaction(store: Arc<dyn Store>, jobs: Vec<Job>, _slot: OwnedSemaphorePermit) {
    let rows: usize = jobs.iter().map(|job| job.batch.rows()).sum();
    metrics::histogram!("gavel_commit_auctions_per_tx").record(jobs.len() as f64);
    metrics::histogram!("gavel_commit_rows_per_tx").record(rows as f64);
    let (batches, replies): (Vec<CommitBatch>, Vec<_>) = jobs
        .into_iter()
        .map(|job| {
            let auction = job.batch.auction_id;
            (job.batch, (auction, job.reply))
        })
        .unzip();
    let result = store.commit_batches(&batches).await;
    match result {
        Ok(outcomes) => {
            for ((auction, reply), outcome) in replies.into_iter().zip(outcomes) {
                let answer = match outcome {
                    BatchOutcome::Committed => Ok(()),
                    BatchOutcome::Stale => {
                        tracing::warn!(auction.id = %auction, "batch refused as stale in a multi-auction commit");
                        Err(StoreError::Fenced)
                    }
                };
                let _ = reply.send(answer);
            }
        }
        Err(error) => {
            tracing::error!(auctions = batches.len(), rows, error = ?error, "multi-auction commit failed");
            let shared = Arc::new(error);
            for (_, reply) in replies {
                let _ = reply.send(Err(StoreError::Shared(Arc::clone(&shared))));
            }
        }
    }
}
