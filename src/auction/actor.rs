//! The auction actor: the only writer of one auction's state.
//!
//! Commands queue in `pending`. When no write is in flight, the actor takes
//! the whole queue (up to `max_batch`) as one batch and hands it, with a copy
//! of the auction, to an async task that looks up earlier answers, decides
//! every command in order ([`batch::decide`]) and commits the result in one
//! transaction. Only when that task returns does the actor adopt the new
//! state, answer the commands and publish the events; if the write failed it
//! keeps the state it had and answers `unavailable`. Commands that arrive
//! meanwhile wait for the next batch, so a hot auction commits many bids per
//! round trip. With the node-wide pipeline (`super::pipeline`) the task
//! hands the decided batch to it instead of writing it alone, and waits for
//! its own outcome: one transaction then carries many auctions' batches.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::{
    Actor, ActorContext, ActorFutureExt, AsyncContext, Context, Handler, SpawnHandle, WrapFuture,
};
use chrono::Utc;

use super::batch::{self, CommandAnswer, Decided, Lookups};
use super::commands::{
    AdminAction, AdminError, BanChanged, BidReply, CommandPayload, Drain, ReplyTo, Submit,
};
use super::known::{BanCache, KnownRequests};
use super::pipeline::CommitPipeline;
use super::recent::{RecentAnswers, RequestKey};
use crate::cluster::redis::RedisCluster;
use crate::cluster::Publisher;
use crate::domain::{Auction, AuctionStatus, UserId};
use crate::store::{AuctionRecord, CommitBatch, Store, StoreError};

/// Answers remembered per actor for retries (older ones come from the store).
const RECENT_ANSWERS: usize = 100_000;
/// How often the actor checks whether it has been idle long enough to stop.
const IDLE_CHECK: Duration = Duration::from_secs(5);

/// The ownership lease an actor runs under (multi-node only).
#[derive(Debug, Clone)]
pub struct LeaseHold {
    pub cluster: Arc<RedisCluster>,
    pub epoch: i64,
}

/// Tunables of an auction actor.
#[derive(Debug, Clone)]
pub struct ActorConfig {
    /// The most commands decided and committed together.
    pub max_batch: usize,
    /// Stop after this long without commands (unless the end is near).
    pub idle_timeout: Duration,
    /// Fencing epoch this node writes with.
    pub epoch: i64,
    /// The lease this actor holds, renewed while it runs.
    pub lease: Option<LeaseHold>,
    /// The store held no bid request of this auction when the actor started.
    pub requests_complete: bool,
    /// The node-wide commit pipeline batches are written through; `None`:
    /// the actor commits its batches itself (`GAVEL_COMMIT_PIPELINE=off`).
    pub pipeline: Option<CommitPipeline>,
}

pub struct AuctionActor {
    record: AuctionRecord,
    /// `None` while a batch holds the auction.
    auction: Option<Auction>,
    pending: VecDeque<Submit>,
    recent: RecentAnswers,
    known: KnownRequests,
    bans: BanCache,
    store: Arc<dyn Store>,
    publisher: Arc<dyn Publisher>,
    config: ActorConfig,
    close_timer: Option<SpawnHandle>,
    last_command: Instant,
    /// Set when the store refused a write as stale: stop and reload.
    fenced: bool,
    /// Until when the lease is surely ours (multi-node only).
    lease_valid_until: Instant,
    /// Stop once everything queued is decided (graceful shutdown).
    draining: bool,
}

/// What a finished batch hands back to the actor.
struct BatchDone {
    original: Auction,
    result: Result<BatchOutput, StoreError>,
    replies: Vec<ReplyTo>,
    started: Instant,
}

/// What a batch must ask the store before deciding.
struct BatchQuestions {
    /// Request keys that may have an earlier answer.
    keys: Vec<(UserId, String)>,
    /// Users whose ban status is not cached.
    users: Vec<UserId>,
    /// Users known (from the cache) to be banned.
    banned: HashSet<UserId>,
}

/// A committed batch.
struct BatchOutput {
    auction: Auction,
    decided: Decided,
    /// Ban statuses read from the store, for the cache.
    checked_users: Vec<UserId>,
    banned_read: HashSet<UserId>,
    read_at: Instant,
}

impl AuctionActor {
    pub fn new(
        record: AuctionRecord,
        store: Arc<dyn Store>,
        publisher: Arc<dyn Publisher>,
        config: ActorConfig,
    ) -> Self {
        let auction = Some(record.auction.clone());
        Self {
            record,
            auction,
            pending: VecDeque::new(),
            recent: RecentAnswers::new(RECENT_ANSWERS),
            known: KnownRequests::new(config.requests_complete),
            bans: BanCache::default(),
            store,
            publisher,
            config,
            close_timer: None,
            last_command: Instant::now(),
            fenced: false,
            // Without a lease (single node) this is never consulted.
            lease_valid_until: Instant::now(),
            draining: false,
        }
    }

    /// The safe part of a lease that was (re)confirmed at `confirmed`.
    fn lease_window(&self, confirmed: Instant) -> Instant {
        let ttl = self
            .config
            .lease
            .as_ref()
            .map_or(Duration::ZERO, |hold| hold.cluster.lease_ttl());
        confirmed + ttl.saturating_sub(ttl / 5)
    }

    fn lease_expired(&self) -> bool {
        self.config.lease.is_some() && Instant::now() >= self.lease_valid_until
    }

    /// Renews the lease; a lost or expired lease stops the actor.
    fn renew_lease(&mut self, ctx: &mut Context<Self>) {
        let Some(hold) = self.config.lease.clone() else {
            return;
        };
        let id = self.record.id;
        let started = Instant::now();
        let renewal = async move { hold.cluster.renew(id, hold.epoch).await };
        ctx.spawn(renewal.into_actor(self).map(move |result, actor, ctx| {
            match result {
                Ok(true) => actor.lease_valid_until = actor.lease_window(started),
                Ok(false) => {
                    tracing::warn!(auction.id = %actor.record.id, "lease lost to another node; stopping");
                    actor.give_up(ctx);
                }
                Err(error) => {
                    tracing::warn!(auction.id = %actor.record.id, error = %error, "lease renewal failed");
                    if actor.lease_expired() && actor.auction.is_some() {
                        actor.give_up(ctx);
                    }
                }
            }
        }));
    }

    /// Stops deciding: answers what waits `unavailable` and stops.
    fn give_up(&mut self, ctx: &mut Context<Self>) {
        self.fenced = true;
        for submit in self.pending.drain(..) {
            answer_unavailable(submit.reply);
        }
        if self.auction.is_some() {
            ctx.stop();
        }
    }

    fn enqueue(&mut self, submit: Submit, ctx: &mut Context<Self>) {
        self.last_command = Instant::now();
        if let CommandPayload::Bid(bid) = &submit.payload {
            let key: RequestKey = (bid.user, bid.request_id.clone());
            if let Some(answer) = self.recent.get(&key) {
                if let ReplyTo::Bid(tx) = submit.reply {
                    let _ = tx.send(BidReply::Answer(answer.clone()));
                }
                return;
            }
        }
        self.pending.push_back(submit);
        self.start_batch(ctx);
    }

    /// Starts a batch when none is in flight and commands are waiting.
    fn start_batch(&mut self, ctx: &mut Context<Self>) {
        if self.fenced || self.pending.is_empty() {
            return;
        }
        if self.lease_expired() {
            tracing::warn!(auction.id = %self.record.id, "lease not confirmed in time; stopping");
            self.give_up(ctx);
            return;
        }
        let Some(original) = self.auction.take() else {
            return; // a batch is in flight; these commands wait for the next one
        };
        // A void replays the stored log, so it is decided alone: whatever
        // came before it is committed first.
        let is_void = |submit: &Submit| {
            matches!(
                submit.payload,
                CommandPayload::Admin(AdminAction::Void { .. } | AdminAction::Edit(_))
            )
        };
        let take = match self.pending.iter().position(is_void) {
            Some(0) => 1,
            Some(first_void) => first_void,
            None => self.pending.len(),
        };
        let take = take.min(self.config.max_batch.max(1));
        let (payloads, replies): (Vec<CommandPayload>, Vec<ReplyTo>) = self
            .pending
            .drain(..take)
            .map(|submit| (submit.payload, submit.reply))
            .unzip();

        // The leader's ban status too: a banned leader's maximum must not
        // bid for them, even before the ban's void or bar reaches us.
        let leader = original
            .state
            .leader
            .map(|leader| leader.user)
            .filter(|user| !original.barred.contains(user));
        let questions = self.questions(&payloads, leader);
        let auction_id = self.record.id;
        let creator = self.record.created_by;
        let epoch = self.config.epoch;
        let store = Arc::clone(&self.store);
        let pipeline = self.config.pipeline.clone();
        let started = Instant::now();
        let working = original.clone();
        let head_hash = self.record.head_hash.clone();
        let task = async move {
            let result = run_batch(
                store, pipeline, auction_id, epoch, creator, working, head_hash, payloads,
                questions,
            )
            .await;
            BatchDone {
                original,
                result,
                replies,
                started,
            }
        };
        ctx.spawn(
            task.into_actor(self)
                .map(|done, actor, ctx| actor.finish_batch(done, ctx)),
        );
    }

    /// Works out what the store must be asked, using what this actor knows.
    fn questions(&mut self, payloads: &[CommandPayload], leader: Option<UserId>) -> BatchQuestions {
        let now = Instant::now();
        let mut questions = BatchQuestions {
            keys: Vec::new(),
            users: Vec::new(),
            banned: HashSet::new(),
        };
        let mut users = HashSet::new();
        let bidders = payloads.iter().filter_map(|payload| match payload {
            CommandPayload::Bid(bid) => Some(bid),
            _ => None,
        });
        for bid in bidders.clone() {
            if self.known.needs_lookup(bid.user, &bid.request_id) {
                questions.keys.push((bid.user, bid.request_id.clone()));
            }
        }
        let leader = leader.filter(|_| bidders.clone().next().is_some());
        for user in bidders.map(|bid| bid.user).chain(leader) {
            match self.bans.get(user, now) {
                Some(true) => {
                    questions.banned.insert(user);
                }
                Some(false) => {}
                None => {
                    if users.insert(user) {
                        questions.users.push(user);
                    }
                }
            }
        }
        questions
    }

    fn finish_batch(&mut self, done: BatchDone, ctx: &mut Context<Self>) {
        let BatchDone {
            original,
            result,
            replies,
            started,
        } = done;
        match result {
            Ok(BatchOutput {
                auction,
                decided,
                checked_users,
                banned_read,
                read_at,
            }) => {
                self.bans.update(&checked_users, &banned_read, read_at);
                metrics::histogram!("gavel_commit_batch_size").record(replies.len() as f64);
                metrics::histogram!("gavel_batch_seconds").record(started.elapsed().as_secs_f64());
                self.record.auction = auction.clone();
                self.record.head_hash = decided.head_hash.clone();
                if let Some(details) = &decided.details {
                    if let Some(title) = &details.title {
                        self.record.title = title.clone();
                    }
                    if let Some(description) = &details.description {
                        self.record.description = description.clone();
                    }
                }
                self.auction = Some(auction);
                for new in &decided.new_answers {
                    self.recent
                        .remember((new.user, new.request_id.clone()), new.answer.clone());
                }
                let mut timer_not_due = false;
                for (reply, answer) in replies.into_iter().zip(decided.answers) {
                    match (reply, answer) {
                        (ReplyTo::Bid(tx), CommandAnswer::Bid(answer)) => {
                            count_decision(answer.http_status, &answer.body);
                            let _ = tx.send(BidReply::Answer(answer));
                        }
                        (ReplyTo::Admin(tx), CommandAnswer::Admin(result)) => {
                            let _ = tx.send(result.map(|()| self.record.clone()));
                        }
                        (_, CommandAnswer::TimerNotDue) => timer_not_due = true,
                        _ => {}
                    }
                }
                // Answers first, events second: the bidders' connections are
                // then woken ahead of the (maybe 10,000) watchers' and their
                // answers do not wait behind the whole fan-out.
                if !decided.events.is_empty() {
                    self.publisher
                        .publish(self.record.id, &decided.events, Utc::now());
                }
                if timer_not_due || !decided.events.is_empty() {
                    self.schedule_close(ctx);
                }
            }
            Err(error) => {
                if matches!(error, StoreError::Fenced) {
                    tracing::warn!(auction.id = %self.record.id, "write refused by the fence; stopping this actor");
                    self.fenced = true;
                } else {
                    tracing::error!(auction.id = %self.record.id, error = ?error, "batch commit failed; answering unavailable");
                }
                metrics::counter!("gavel_batch_failures_total").increment(1);
                self.auction = Some(original);
                for reply in replies {
                    answer_unavailable(reply);
                }
                if self.fenced {
                    self.give_up(ctx);
                    return;
                }
                // A command that found the store down is not retried here:
                // its client retries with the same request_id. A close timer
                // is rescheduled so closing still happens.
                self.schedule_close(ctx);
            }
        }
        if self.fenced {
            // The lease was lost while this batch was in flight.
            self.give_up(ctx);
            return;
        }
        self.start_batch(ctx);
        self.stop_if_drained(ctx);
    }

    /// Stops a draining actor once nothing is queued or in flight.
    fn stop_if_drained(&mut self, ctx: &mut Context<Self>) {
        if self.draining && self.pending.is_empty() && self.auction.is_some() {
            ctx.stop();
        }
    }

    /// Arms the close timer for the auction's current end (if still live).
    fn schedule_close(&mut self, ctx: &mut Context<Self>) {
        if let Some(handle) = self.close_timer.take() {
            ctx.cancel_future(handle);
        }
        let state = &self.record.auction.state;
        // A paused auction does not close; resuming re-arms the timer.
        if state.status != AuctionStatus::Live || state.paused_at.is_some() {
            return;
        }
        let wait = (state.ends_at - Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO);
        // A little slack so the timer fires after `ends_at`, not just before.
        let wait = wait + Duration::from_millis(5);
        self.close_timer = Some(ctx.run_later(wait, |actor, ctx| {
            actor.close_timer = None;
            let submit = Submit {
                payload: CommandPayload::CloseTimer,
                reply: ReplyTo::Nobody,
            };
            actor.pending.push_back(submit);
            actor.start_batch(ctx);
        }));
    }

    fn idle_check(&mut self, ctx: &mut Context<Self>) {
        let busy = self.auction.is_none() || !self.pending.is_empty();
        if busy || self.last_command.elapsed() < self.config.idle_timeout {
            return;
        }
        let state = &self.record.auction.state;
        let ends_soon = state.status == AuctionStatus::Live
            && (state.ends_at - Utc::now())
                .to_std()
                .map_or(true, |left| left < self.config.idle_timeout * 2);
        if !ends_soon {
            tracing::debug!(auction.id = %self.record.id, "stopping idle auction actor");
            ctx.stop();
        }
    }
}

/// Looks up, decides and commits one batch.
#[allow(clippy::too_many_arguments)]
async fn run_batch(
    store: Arc<dyn Store>,
    pipeline: Option<CommitPipeline>,
    auction_id: crate::domain::AuctionId,
    epoch: i64,
    creator: UserId,
    mut auction: Auction,
    head_hash: String,
    payloads: Vec<CommandPayload>,
    questions: BatchQuestions,
) -> Result<BatchOutput, StoreError> {
    let mut lookups = Lookups {
        banned: questions.banned,
        creator: Some(creator),
        ..Lookups::default()
    };
    let voids = payloads.iter().any(|payload| {
        matches!(
            payload,
            CommandPayload::Admin(AdminAction::Void { .. } | AdminAction::Edit(_))
        )
    });
    if voids {
        let (events, notes) = store.auction_log(auction_id).await?;
        if events.last().map_or(0, |event| event.seq) != auction.state.seq {
            // Another writer moved the log on: this actor is stale.
            return Err(StoreError::Fenced);
        }
        let entries = super::log::entries(&events, &notes).map_err(|error| {
            tracing::error!(auction.id = %auction_id, error = %error, "the stored log cannot be replayed");
            StoreError::Corrupt(error.to_string())
        })?;
        lookups.log = Some(entries);
    }
    if !questions.keys.is_empty() {
        lookups.known = store.stored_answers(auction_id, &questions.keys).await?;
    }
    let read_at = Instant::now();
    let mut banned_read = HashSet::new();
    if !questions.users.is_empty() {
        banned_read = store.banned_among(&questions.users).await?;
        lookups.banned.extend(banned_read.iter().copied());
    }
    let expected_seq = auction.state.seq;
    // Decisions are taken at the millisecond the store keeps, so a replay
    // of the stored log (`gavel verify`, voids) decides exactly the same.
    let now = Utc::now();
    let now = chrono::DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now);
    let decided = batch::decide(
        auction_id,
        &mut auction,
        head_hash,
        &payloads,
        &lookups,
        now,
    );
    if decided.needs_commit() {
        let commit = CommitBatch {
            auction_id,
            epoch,
            expected_seq,
            state: auction.state.clone(),
            events: decided.events.clone(),
            notes: decided.notes.clone(),
            barred: auction.barred.iter().copied().collect(),
            head_hash: decided.head_hash.clone(),
            answers: decided.new_answers.clone(),
            now,
            details: decided.details.clone(),
        };
        let started = Instant::now();
        // The store is a TimedStore: a commit cut off by its deadline may
        // still land; the next batch then finds the row moved on (fenced) and
        // the actor reloads, and retried requests find their answers.
        // Through the pipeline the batch shares a transaction with other
        // auctions' batches; its outcome is still its own.
        match pipeline {
            Some(pipeline) => pipeline.commit(commit).await?,
            None => store.commit_batch(&commit).await?,
        }
        metrics::histogram!("gavel_commit_seconds").record(started.elapsed().as_secs_f64());
    }
    Ok(BatchOutput {
        auction,
        decided,
        checked_users: questions.users,
        banned_read,
        read_at,
    })
}

fn answer_unavailable(reply: ReplyTo) {
    match reply {
        ReplyTo::Bid(tx) => {
            metrics::counter!("gavel_bids_decided_total", "outcome" => "unavailable", "code" => "unavailable")
                .increment(1);
            let _ = tx.send(BidReply::Unavailable);
        }
        ReplyTo::Admin(tx) => {
            let _ = tx.send(Err(AdminError::Unavailable));
        }
        ReplyTo::Nobody => {}
    }
}

fn count_decision(status: u16, body: &str) {
    if status == 200 {
        metrics::counter!("gavel_bids_decided_total", "outcome" => "accepted", "code" => "ok")
            .increment(1);
    } else {
        let code = serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
            .unwrap_or_else(|| "unknown".into());
        metrics::counter!("gavel_bids_decided_total", "outcome" => "rejected", "code" => code)
            .increment(1);
    }
}

impl Actor for AuctionActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        metrics::gauge!("gavel_live_actors").increment(1.0);
        tracing::debug!(auction.id = %self.record.id, "auction actor started");
        self.schedule_close(ctx);
        ctx.run_interval(IDLE_CHECK, |actor, ctx| actor.idle_check(ctx));
        if let Some(hold) = &self.config.lease {
            self.lease_valid_until = self.lease_window(Instant::now());
            let every = hold.cluster.lease_ttl() / 3;
            ctx.run_interval(every, |actor, ctx| actor.renew_lease(ctx));
        }
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        metrics::gauge!("gavel_live_actors").decrement(1.0);
        for submit in self.pending.drain(..) {
            answer_unavailable(submit.reply);
        }
        if let Some(hold) = self.config.lease.clone() {
            let id = self.record.id;
            tokio::spawn(async move { hold.cluster.release(id, hold.epoch).await });
        }
    }
}

impl Handler<Drain> for AuctionActor {
    type Result = ();

    /// Decides what is queued, then stops.
    fn handle(&mut self, _: Drain, ctx: &mut Self::Context) {
        self.draining = true;
        self.stop_if_drained(ctx);
    }
}

impl Handler<BanChanged> for AuctionActor {
    type Result = ();

    /// Makes the next bid of that user read its ban status again.
    fn handle(&mut self, BanChanged(user): BanChanged, _: &mut Self::Context) {
        self.bans.forget(user);
    }
}

impl Handler<Submit> for AuctionActor {
    type Result = ();

    /// Queues a command; it is decided with the next batch.
    fn handle(&mut self, submit: Submit, ctx: &mut Self::Context) {
        self.enqueue(submit, ctx);
    }
}
