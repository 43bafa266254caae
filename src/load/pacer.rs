//! `--bid-rate`: one shared schedule of bid slots, `1/R` seconds apart, that
//! every bidder draws from, so all bidders together send about R bids/s.
//! Unused time is not saved up: a slot is never earlier than now.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Hands out send times for a total rate.
#[derive(Debug)]
pub struct Pacer {
    interval: Duration,
    next: Mutex<Instant>,
}

impl Pacer {
    /// A pacer for `rate` bids per second in total; None when `rate` is 0.
    pub fn new(rate: f64) -> Option<Self> {
        (rate.is_finite() && rate > 0.0).then(|| Self {
            interval: Duration::from_secs_f64(1.0 / rate),
            next: Mutex::new(Instant::now()),
        })
    }

    /// Reserves the next free slot: the time the caller may send.
    pub fn reserve(&self) -> Instant {
        let mut next = self
            .next
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let slot = (*next).max(Instant::now());
        *next = slot + self.interval;
        slot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_rate_no_pacer() {
        assert!(Pacer::new(0.0).is_none());
        assert!(Pacer::new(f64::NAN).is_none());
    }

    #[tokio::test]
    async fn slots_are_spaced_by_the_interval() {
        let pacer = Pacer::new(10.0).expect("a pacer");
        let first = pacer.reserve();
        let second = pacer.reserve();
        let third = pacer.reserve();
        assert_eq!(second - first, Duration::from_millis(100));
        assert_eq!(third - second, Duration::from_millis(100));
    }
}
