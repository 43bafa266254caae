//! How committed events reach subscribers.
//!
//! On a single node the auction actor publishes straight into the local
//! [`Hub`], which fans each encoded event out to every subscriber's bounded
//! queue. A multi-node deployment puts a Redis relay between the two (the
//! [`Publisher`] seam), so every node's hub sees every owner's events.

pub mod hub;

pub use hub::{Hub, Mailbox, SubscriptionGuard};

use std::sync::Arc;

use crate::auction::view::EventBatch;

/// Where an auction actor sends its committed events.
pub trait Publisher: Send + Sync + 'static {
    fn publish(&self, batch: Arc<EventBatch>);
}

impl Publisher for Hub {
    fn publish(&self, batch: Arc<EventBatch>) {
        self.deliver(batch);
    }
}
