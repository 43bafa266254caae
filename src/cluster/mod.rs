//! How committed events reach subscribers, and how nodes coordinate.
//!
//! On a single node the auction actor publishes straight into the local
//! [`Hub`], which fans each commit's events out to every subscriber's
//! bounded queue. With `REDIS_URL` set, [`redis::RedisCluster`] stands in
//! as the [`Publisher`]: it delivers locally and publishes on the auction's
//! Redis channel, relays other owners' events into the local hub, holds the
//! ownership leases and forwards commands to the owning node.

pub mod hub;
pub mod identity;
pub mod redis;

pub use hub::{Hub, Mailbox, SubscriptionGuard};

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::auction::view::{EncodedEvent, EventBatch};
use crate::domain::AuctionId;
use crate::store::StoredEvent;

/// Where an auction actor sends the events of each commit.
pub trait Publisher: Send + Sync + 'static {
    fn publish(&self, auction: AuctionId, events: &[StoredEvent], server_time: DateTime<Utc>);
}

/// Encodes one commit's events once, for every subscriber.
pub fn encode_batch(
    auction: AuctionId,
    events: &[StoredEvent],
    server_time: DateTime<Utc>,
) -> Arc<EventBatch> {
    Arc::new(EventBatch {
        auction_id: auction,
        events: events
            .iter()
            .map(|event| EncodedEvent::encode(auction, event, server_time))
            .collect(),
    })
}

impl Publisher for Hub {
    fn publish(&self, auction: AuctionId, events: &[StoredEvent], server_time: DateTime<Utc>) {
        self.deliver(encode_batch(auction, events, server_time));
    }
}
