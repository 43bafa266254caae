//! One subscriber's position in one auction's event sequence, shared by the
//! WebSocket and SSE handlers. It turns "replay from the store, then live
//! from the hub" into one gapless, duplicate-free sequence: live events at
//! or below the position are dropped, and a live event that skips ahead is
//! preceded by the missing ones, read from the store.

use chrono::Utc;

use crate::auction::view::{EncodedEvent, EventBatch};
use crate::domain::AuctionId;
use crate::store::{Store, StoreError};

/// Events read from the store per query while replaying.
pub const REPLAY_PAGE: i64 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedCursor {
    pub auction: AuctionId,
    /// The last `seq` delivered (or known to the client).
    pub last_seq: i64,
}

impl FeedCursor {
    pub fn new(auction: AuctionId, last_seq: i64) -> Self {
        Self { auction, last_seq }
    }

    /// The next page of stored events after the position (empty when caught
    /// up); the position moves past them.
    pub async fn replay_page(
        &mut self,
        store: &dyn Store,
    ) -> Result<Vec<EncodedEvent>, StoreError> {
        let events = store
            .events_after(self.auction, self.last_seq, REPLAY_PAGE)
            .await?;
        let now = Utc::now();
        let encoded: Vec<EncodedEvent> = events
            .iter()
            .map(|event| EncodedEvent::encode(self.auction, event, now))
            .collect();
        if let Some(last) = encoded.last() {
            self.last_seq = last.seq;
        }
        Ok(encoded)
    }

    /// The common case of [`accept`](Self::accept), without the store: the
    /// batch's new events (a suffix of it), when they follow the position
    /// with no gap. `None` (and no change) when something is missing first.
    pub fn accept_contiguous<'b>(&mut self, batch: &'b EventBatch) -> Option<&'b [EncodedEvent]> {
        if batch.auction_id != self.auction {
            return Some(&[]);
        }
        let mut expected = self.last_seq;
        for event in &batch.events {
            if event.seq > expected + 1 {
                return None;
            }
            expected = expected.max(event.seq);
        }
        let start = batch
            .events
            .iter()
            .position(|event| event.seq > self.last_seq)
            .unwrap_or(batch.events.len());
        self.last_seq = expected;
        Some(&batch.events[start..])
    }

    /// What to deliver for a live batch: only its events past the position,
    /// preceded by any missing ones from the store.
    pub async fn accept(
        &mut self,
        store: &dyn Store,
        batch: &EventBatch,
    ) -> Result<Vec<EncodedEvent>, StoreError> {
        if let Some(fresh) = self.accept_contiguous(batch) {
            return Ok(fresh.to_vec());
        }
        let mut out = Vec::new();
        for event in &batch.events {
            if event.seq <= self.last_seq {
                continue;
            }
            // A gap: read what is missing from the store. The page may reach
            // this live event and beyond; all of it is in order and new.
            while event.seq > self.last_seq + 1 {
                let page = self.replay_page(store).await?;
                if page.is_empty() {
                    break;
                }
                out.extend(page);
            }
            if event.seq > self.last_seq {
                self.last_seq = event.seq;
                out.push(event.clone());
            }
        }
        Ok(out)
    }
}
