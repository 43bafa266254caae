//! The local fan-out hub.
//!
//! Each subscriber owns a [`Mailbox`]: one bounded queue that may receive the
//! events of several auctions (a WebSocket subscribes to many, an SSE stream
//! to one). Delivery never waits: an event is offered to every queue with
//! `try_send`, and a subscriber whose queue is full is marked *lagged*,
//! detached from every auction and told through its mailbox, so it can close
//! its connection and let the client resume from its last `seq`.

use std::collections::HashMap;
use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use futures_util::task::AtomicWaker;
use tokio::sync::mpsc;

use crate::auction::view::EventBatch;
use crate::domain::AuctionId;

/// Commit batches queued per subscriber before it counts as too slow.
pub const DEFAULT_QUEUE_CAPACITY: usize = 128;

struct Shared {
    lagged: AtomicBool,
    /// The task last waiting on this mailbox: woken when it lags, since a full
    /// queue wakes nobody by itself.
    waiter: AtomicWaker,
}

struct Slot {
    tx: mpsc::Sender<Arc<EventBatch>>,
    shared: Arc<Shared>,
}

/// Subscribers by auction, and the node's channel of identity changes.
#[derive(Default)]
pub struct Hub {
    auctions: Mutex<HashMap<AuctionId, HashMap<u64, Slot>>>,
    next_id: AtomicU64,
    /// Logouts and bans, for open connections (see `cluster::identity`).
    pub identity: super::identity::IdentityChanges,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("subscribers", &self.subscriber_count())
            .finish()
    }
}

impl Hub {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<AuctionId, HashMap<u64, Slot>>> {
        crate::sync::lock(&self.auctions)
    }

    /// Offers `batch` to every subscriber of its auction without waiting.
    pub fn deliver(&self, batch: Arc<EventBatch>) {
        let mut auctions = self.lock();
        let Some(slots) = auctions.get_mut(&batch.auction_id) else {
            return;
        };
        let mut lagged = Vec::new();
        for (id, slot) in slots.iter() {
            match slot.tx.try_send(Arc::clone(&batch)) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    slot.shared.lagged.store(true, Ordering::SeqCst);
                    slot.shared.waiter.wake();
                    lagged.push(*id);
                }
                Err(mpsc::error::TrySendError::Closed(_)) => lagged.push(*id),
            }
        }
        if !lagged.is_empty() {
            metrics::counter!("gavel_slow_consumer_disconnects_total")
                .increment(lagged.len() as u64);
        }
        for id in lagged {
            slots.remove(&id);
        }
        if slots.is_empty() {
            auctions.remove(&batch.auction_id);
        }
    }

    /// How many subscriptions are attached, over all auctions.
    pub fn subscriber_count(&self) -> usize {
        self.lock().values().map(HashMap::len).sum()
    }

    /// The auctions that have local subscribers.
    pub fn subscribed_auctions(&self) -> Vec<AuctionId> {
        self.lock().keys().copied().collect()
    }

    /// How many subscriptions `auction` has.
    pub fn subscribers_of(&self, auction: AuctionId) -> usize {
        self.lock().get(&auction).map_or(0, HashMap::len)
    }

    fn detach(&self, auction: AuctionId, id: u64) {
        let mut auctions = self.lock();
        if let Some(slots) = auctions.get_mut(&auction) {
            slots.remove(&id);
            if slots.is_empty() {
                auctions.remove(&auction);
            }
        }
    }
}

/// One subscriber's queue of events.
pub struct Mailbox {
    rx: mpsc::Receiver<Arc<EventBatch>>,
    tx: mpsc::Sender<Arc<EventBatch>>,
    shared: Arc<Shared>,
}

impl Mailbox {
    pub fn new(capacity: usize) -> Self {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        Self {
            rx,
            tx,
            shared: Arc::new(Shared {
                lagged: AtomicBool::new(false),
                waiter: AtomicWaker::new(),
            }),
        }
    }

    /// Attaches this mailbox to `auction`'s events until the guard drops.
    pub fn subscribe(&self, hub: &Arc<Hub>, auction: AuctionId) -> SubscriptionGuard {
        let id = hub.next_id.fetch_add(1, Ordering::Relaxed);
        let slot = Slot {
            tx: self.tx.clone(),
            shared: Arc::clone(&self.shared),
        };
        hub.lock().entry(auction).or_default().insert(id, slot);
        SubscriptionGuard {
            hub: Arc::clone(hub),
            auction,
            id,
        }
    }

    /// The next batch of events, or `None` once this subscriber lagged.
    pub async fn recv(&mut self) -> Option<Arc<EventBatch>> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next batch: `Ready(None)` once this subscriber lagged.
    /// Cheap enough to call for every event of every watcher: no locks.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Arc<EventBatch>>> {
        if self.is_lagged() {
            return Poll::Ready(None);
        }
        self.shared.waiter.register(cx.waker());
        // Checked again after registering, so a lag flagged in between is seen.
        if self.is_lagged() {
            return Poll::Ready(None);
        }
        self.rx.poll_recv(cx)
    }

    /// True once the hub gave up on this subscriber for being too slow.
    pub fn is_lagged(&self) -> bool {
        self.shared.lagged.load(Ordering::SeqCst)
    }
}

/// Detaches a subscription when dropped.
pub struct SubscriptionGuard {
    hub: Arc<Hub>,
    auction: AuctionId,
    id: u64,
}

impl SubscriptionGuard {
    pub fn auction(&self) -> AuctionId {
        self.auction
    }
}

impl Drop for SubscriptionGuard {
    fn drop(&mut self) {
        self.hub.detach(self.auction, self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn event(auction: AuctionId, seq: i64) -> Arc<EventBatch> {
        EventBatch::single(auction, seq, Bytes::new())
    }

    #[tokio::test]
    async fn a_full_queue_marks_the_subscriber_lagged_and_spares_the_others() {
        let hub = Hub::new();
        let auction = uuid::Uuid::new_v4();
        let mut slow = Mailbox::new(2);
        let mut fast = Mailbox::new(16);
        let _slow_guard = slow.subscribe(&hub, auction);
        let _fast_guard = fast.subscribe(&hub, auction);
        for seq in 1..=5 {
            hub.deliver(event(auction, seq));
            let got = fast.recv().await.expect("the fast subscriber keeps up");
            assert_eq!(got.events[0].seq, seq);
        }
        assert!(slow.is_lagged());
        assert!(slow.recv().await.is_none());
        assert_eq!(hub.subscribers_of(auction), 1);
    }

    #[tokio::test]
    async fn dropping_the_guard_detaches() {
        let hub = Hub::new();
        let auction = uuid::Uuid::new_v4();
        let mailbox = Mailbox::new(4);
        let guard = mailbox.subscribe(&hub, auction);
        assert_eq!(hub.subscribers_of(auction), 1);
        drop(guard);
        assert_eq!(hub.subscriber_count(), 0);
    }
}
