//! Per-user bid rate limit: a token bucket per user, in memory.
//! A rate of 0 turns the limit off (benchmarks).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use crate::domain::UserId;

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    refilled: Instant,
}

#[derive(Debug)]
pub struct BidRateLimiter {
    rate_per_sec: f64,
    burst: f64,
    buckets: Mutex<HashMap<UserId, Bucket>>,
}

impl BidRateLimiter {
    pub fn new(rate_per_sec: u32, burst: u32) -> Self {
        Self {
            rate_per_sec: f64::from(rate_per_sec),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `user`; false when the bucket is empty.
    pub fn allow(&self, user: UserId) -> bool {
        self.allow_at(user, Instant::now())
    }

    fn allow_at(&self, user: UserId, now: Instant) -> bool {
        if self.rate_per_sec <= 0.0 {
            return true;
        }
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() > 100_000 {
            // Forget buckets that have refilled completely.
            let full_after = self.burst / self.rate_per_sec;
            buckets.retain(|_, b| now.duration_since(b.refilled).as_secs_f64() < full_after);
        }
        let bucket = buckets.entry(user).or_insert(Bucket {
            tokens: self.burst,
            refilled: now,
        });
        let elapsed = now.duration_since(bucket.refilled).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate_per_sec).min(self.burst);
        bucket.refilled = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_burst_passes_then_the_rate_applies() {
        let limiter = BidRateLimiter::new(10, 3);
        let user = uuid::Uuid::new_v4();
        let start = Instant::now();
        assert!(limiter.allow_at(user, start));
        assert!(limiter.allow_at(user, start));
        assert!(limiter.allow_at(user, start));
        assert!(!limiter.allow_at(user, start));
        assert!(limiter.allow_at(user, start + Duration::from_millis(100)));
        assert!(!limiter.allow_at(user, start + Duration::from_millis(100)));
        let other = uuid::Uuid::new_v4();
        assert!(limiter.allow_at(other, start), "buckets are per user");
    }

    #[test]
    fn zero_rate_turns_the_limit_off() {
        let limiter = BidRateLimiter::new(0, 1);
        let user = uuid::Uuid::new_v4();
        assert!((0..1000).all(|_| limiter.allow(user)));
    }
}
