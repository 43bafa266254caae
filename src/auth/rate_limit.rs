//! Abuse limits, in memory, per node:
//! - [`TokenBuckets`]: a token bucket per key (per-user bids, per-IP logins
//!   and registrations, per-IP events replayed). A rate of 0 turns a limit
//!   off (benchmarks). [`Budget`] is one bucket, for one connection.
//! - [`ConnectionLimiter`]: concurrent long-lived connections (WebSocket,
//!   SSE) per IP address, released when the returned guard drops.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::domain::UserId;
use crate::sync::lock;

/// Tokens and when they were last refilled.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    refilled: Instant,
}

impl Bucket {
    fn full(burst: f64, now: Instant) -> Self {
        Self {
            tokens: burst,
            refilled: now,
        }
    }

    /// Takes `amount` tokens when there are that many, or when the bucket
    /// is full (one large request may then run it into debt, which later
    /// requests wait out): the rate bounds the work even for large requests.
    fn take(&mut self, amount: f64, rate_per_sec: f64, burst: f64, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate_per_sec).min(burst);
        self.refilled = now;
        if self.tokens >= amount || self.tokens >= burst {
            self.tokens -= amount;
            true
        } else {
            false
        }
    }

    /// Seconds until `amount` tokens (or a full bucket) are back.
    fn wait_secs(&self, amount: f64, rate_per_sec: f64, burst: f64) -> u64 {
        let needed = amount.min(burst) - self.tokens;
        if needed <= 0.0 || rate_per_sec <= 0.0 {
            0
        } else {
            (needed / rate_per_sec).ceil() as u64
        }
    }
}

/// One token bucket, for one holder (a connection's own budget).
#[derive(Debug)]
pub struct Budget {
    rate_per_sec: f64,
    burst: f64,
    bucket: Bucket,
}

impl Budget {
    pub fn new(rate_per_sec: u32, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            rate_per_sec: f64::from(rate_per_sec),
            burst,
            bucket: Bucket::full(burst, Instant::now()),
        }
    }

    /// Takes `amount` (see [`TokenBuckets::take`]); a rate of 0 never limits.
    pub fn take(&mut self, amount: u64) -> bool {
        self.rate_per_sec <= 0.0
            || self
                .bucket
                .take(amount as f64, self.rate_per_sec, self.burst, Instant::now())
    }

    /// Seconds until `amount` could be taken.
    pub fn wait_secs(&self, amount: u64) -> u64 {
        self.bucket
            .wait_secs(amount as f64, self.rate_per_sec, self.burst)
    }
}

/// A token bucket per key.
#[derive(Debug)]
pub struct TokenBuckets<K> {
    rate_per_sec: f64,
    burst: f64,
    buckets: Mutex<HashMap<K, Bucket>>,
}

/// Per-user bid limit (docs/operations.md: `GAVEL_BID_RATE_PER_SEC`, `GAVEL_BID_BURST`).
pub type BidRateLimiter = TokenBuckets<UserId>;

/// Per-IP limit on logins and registrations.
pub type AuthRateLimiter = TokenBuckets<IpAddr>;

/// Per-IP budget of events replayed from the store (WebSocket `after_seq`,
/// SSE `Last-Event-ID`).
pub type ReplayLimiter = TokenBuckets<IpAddr>;

impl<K: Eq + Hash + Copy> TokenBuckets<K> {
    pub fn new(rate_per_sec: u32, burst: u32) -> Self {
        Self::with_rate(f64::from(rate_per_sec), burst)
    }

    /// A limit of `per_minute` with a bucket of `burst`.
    pub fn per_minute(per_minute: u32, burst: u32) -> Self {
        Self::with_rate(f64::from(per_minute) / 60.0, burst)
    }

    fn with_rate(rate_per_sec: f64, burst: u32) -> Self {
        Self {
            rate_per_sec,
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `key`; false when its bucket is empty.
    pub fn allow(&self, key: K) -> bool {
        self.allow_at(key, Instant::now())
    }

    fn allow_at(&self, key: K, now: Instant) -> bool {
        self.take_at(key, 1, now).is_ok()
    }

    /// Takes `amount` tokens for `key` (work such as events replayed); when
    /// refused, the seconds to wait. A full bucket lets one large request
    /// through into debt (see [`Bucket::take`]).
    pub fn take(&self, key: K, amount: u64) -> Result<(), u64> {
        self.take_at(key, amount, Instant::now())
    }

    fn take_at(&self, key: K, amount: u64, now: Instant) -> Result<(), u64> {
        if self.rate_per_sec <= 0.0 {
            return Ok(());
        }
        let mut buckets = lock(&self.buckets);
        if buckets.len() > 100_000 {
            // Forget buckets that have refilled completely.
            let full_after = self.burst / self.rate_per_sec;
            buckets.retain(|_, b| {
                now.saturating_duration_since(b.refilled).as_secs_f64() < full_after
            });
        }
        let bucket = buckets
            .entry(key)
            .or_insert_with(|| Bucket::full(self.burst, now));
        if bucket.take(amount as f64, self.rate_per_sec, self.burst, now) {
            Ok(())
        } else {
            Err(bucket
                .wait_secs(amount as f64, self.rate_per_sec, self.burst)
                .max(1))
        }
    }
}

/// Counts open long-lived connections per IP.
#[derive(Debug)]
pub struct ConnectionLimiter {
    max_per_ip: usize,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// Holds one connection slot until dropped.
#[derive(Debug)]
pub struct ConnectionSlot {
    ip: IpAddr,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl ConnectionLimiter {
    /// `max_per_ip == 0` turns the limit off.
    pub fn new(max_per_ip: usize) -> Self {
        Self {
            max_per_ip,
            open: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// A slot for one more connection from `ip`, or None at the limit.
    pub fn try_open(&self, ip: IpAddr) -> Option<ConnectionSlot> {
        let mut open = lock(&self.open);
        let count = open.entry(ip).or_insert(0);
        if self.max_per_ip > 0 && *count >= self.max_per_ip {
            return None;
        }
        *count += 1;
        Some(ConnectionSlot {
            ip,
            open: Arc::clone(&self.open),
        })
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = lock(&self.open);
        if let Some(count) = open.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.ip);
            }
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

    #[test]
    fn per_minute_limits_refill_slowly() {
        let limiter = AuthRateLimiter::per_minute(60, 2);
        let ip: IpAddr = "10.1.2.3".parse().expect("an address");
        let start = Instant::now();
        assert!(limiter.allow_at(ip, start));
        assert!(limiter.allow_at(ip, start));
        assert!(!limiter.allow_at(ip, start + Duration::from_millis(500)));
        assert!(limiter.allow_at(ip, start + Duration::from_millis(1500)));
    }

    #[test]
    fn large_takes_pass_on_a_full_bucket_then_wait_out_their_debt() {
        let limiter = TokenBuckets::<u8>::new(100, 1000);
        let start = Instant::now();
        assert_eq!(
            limiter.take_at(1, 5000, start),
            Ok(()),
            "full: may go into debt"
        );
        // 4,000 in debt: 40 s at 100/s before a full bucket again.
        assert_eq!(limiter.take_at(1, 10, start), Err(41));
        assert!(limiter
            .take_at(1, 10, start + Duration::from_secs(39))
            .is_err());
        assert_eq!(
            limiter.take_at(1, 10, start + Duration::from_secs(41)),
            Ok(())
        );
        let mut budget = Budget::new(10, 20);
        assert!(budget.take(15));
        assert!(!budget.take(15));
        assert!(budget.wait_secs(15) >= 1);
    }

    #[test]
    fn connection_slots_are_counted_per_ip_and_released() {
        let limiter = ConnectionLimiter::new(2);
        let ip: IpAddr = "127.0.0.9".parse().expect("an address");
        let a = limiter.try_open(ip).expect("first");
        let _b = limiter.try_open(ip).expect("second");
        assert!(limiter.try_open(ip).is_none());
        assert!(limiter
            .try_open("127.0.0.10".parse().expect("ip"))
            .is_some());
        drop(a);
        assert!(limiter.try_open(ip).is_some());
    }
}
