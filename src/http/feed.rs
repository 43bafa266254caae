//! One subscriber's position in one auction's event sequence, shared by the
//! WebSocket and SSE handlers. It turns "replay from the store, then live
//! from the hub" into one gapless, duplicate-free sequence: live events at
//! or below the position are dropped, and a live event that skips ahead is
//! preceded by the missing ones, read from the store.

use std::sync::Arc;

use chrono::Utc;

use crate::auction::view::EncodedEvent;
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
    pub async fn replay_page(&mut self, store: &dyn Store) -> Result<Vec<Arc<EncodedEvent>>, StoreError> {
        let events = store
            .events_after(self.auction, self.last_seq, REPLAY_PAGE)
            .await?;
        let now = Utc::now();
        let encoded: Vec<Arc<EncodedEvent>> = events
            .iter()
            .map(|event| Arc::new(EncodedEvent::encode(self.auction, event, now)))
            .collect();
        if let Some(last) = encoded.last() {
            self.last_seq = last.seq;
        }
        Ok(encoded)
    }

    /// What to deliver for a live event: nothing (already delivered), the
    /// event itself, or the missing events from the store followed by it.
    pub async fn accept(
        &mut self,
        store: &dyn Store,
        event: Arc<EncodedEvent>,
    ) -> Result<Vec<Arc<EncodedEvent>>, StoreError> {
        if event.auction_id != self.auction || event.seq <= self.last_seq {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        while event.seq > self.last_seq + 1 {
            let page = self.replay_page(store).await?;
            if page.is_empty() {
                break;
            }
            out.extend(page.into_iter().filter(|e| e.seq < event.seq));
        }
        if event.seq > self.last_seq {
            self.last_seq = event.seq;
            out.push(event);
        }
        Ok(out)
    }
}
