//! Abuse limits, in memory, per node:
//! - [`TokenBuckets`]: a token bucket per key (per-user bids, per-IP
//!   events replayed). A rate of 0 turns a limit off (benchmarks).
//!   [`Budget`] is one bucket, for one connection.
//! - [`AuthLimits`]: logins per (IP, username), registrations per IP, and a
//!   higher ceiling on both together per IP, so that a saleroom behind one
//!   NAT can log in while one account cannot be guessed at quickly.
//! - [`ConnectionLimiter`]: concurrent long-lived connections (WebSocket,
//!   SSE) per IP address, released when the returned guard drops.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
    fn wait_secs(&self, amount: f64, rate_per_sec: f64, burst: f64) -> f64 {
        let needed = amount.min(burst) - self.tokens;
        if needed <= 0.0 || rate_per_sec <= 0.0 {
            0.0
        } else {
            needed / rate_per_sec
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
            .ceil() as u64
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

/// A per-IP limit (registrations, the ceiling on logins plus registrations).
pub type AuthRateLimiter = TokenBuckets<IpAddr>;

/// Per-IP budget of events replayed from the store (WebSocket `after_seq`,
/// SSE `Last-Event-ID`).
pub type ReplayLimiter = TokenBuckets<IpAddr>;

/// The per-(IP, username) login limit; usernames are keyed in lowercase,
/// as they are unique whatever their case.
pub type LoginRateLimiter = TokenBuckets<(IpAddr, String)>;

impl<K: Eq + Hash + Clone> TokenBuckets<K> {
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

    /// Takes one token for `key`, or says how long until one is there.
    pub fn check(&self, key: K) -> Result<(), Duration> {
        self.check_at(key, Instant::now())
    }

    fn allow_at(&self, key: K, now: Instant) -> bool {
        self.check_at(key, now).is_ok()
    }

    fn check_at(&self, key: K, now: Instant) -> Result<(), Duration> {
        self.take_at(key, 1, now).map_err(Duration::from_secs_f64)
    }

    /// Takes `amount` tokens for `key` (work such as events replayed); when
    /// refused, the whole seconds to wait. A full bucket lets one large
    /// request through into debt (see [`Bucket::take`]).
    pub fn take(&self, key: K, amount: u64) -> Result<(), u64> {
        self.take_at(key, amount, Instant::now())
            .map_err(|secs| (secs.ceil() as u64).max(1))
    }

    /// As [`TokenBuckets::take`], the wait in exact seconds.
    fn take_at(&self, key: K, amount: u64, now: Instant) -> Result<(), f64> {
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
            Err(bucket.wait_secs(amount as f64, self.rate_per_sec, self.burst))
        }
    }
}

/// The login and registration limits (per node).
#[derive(Debug)]
pub struct AuthLimits {
    /// Logins per (IP, username).
    logins: LoginRateLimiter,
    /// Registrations per IP.
    registrations: AuthRateLimiter,
    /// Logins plus registrations per IP: the ceiling above both.
    per_ip: AuthRateLimiter,
}

/// The longest username kept as a key; longer ones are cut (they cannot
/// log in anyway, and this bounds the memory an attacker can make us hold).
const MAX_KEYED_USERNAME: usize = 64;

impl AuthLimits {
    /// Limits per minute, each with a burst of the same size; 0 turns that
    /// limit off, and `registrations_per_min == 0` turns all three off (as
    /// `GAVEL_AUTH_RATE_PER_MIN=0` always turned off every login and
    /// registration limit).
    pub fn per_minute(login_per_min: u32, ip_per_min: u32, registrations_per_min: u32) -> Self {
        let on = |per_min: u32| {
            if registrations_per_min == 0 {
                0
            } else {
                per_min
            }
        };
        Self {
            logins: TokenBuckets::per_minute(on(login_per_min), on(login_per_min)),
            registrations: TokenBuckets::per_minute(registrations_per_min, registrations_per_min),
            per_ip: TokenBuckets::per_minute(on(ip_per_min), on(ip_per_min)),
        }
    }

    /// Takes a login attempt for `username` from `ip`, or says how long to
    /// wait. The per-IP ceiling is only charged when the per-user limit
    /// passes, so hammering one account costs the address little.
    pub fn check_login(&self, ip: IpAddr, username: &str) -> Result<(), Duration> {
        let key: String = username
            .to_lowercase()
            .chars()
            .take(MAX_KEYED_USERNAME)
            .collect();
        self.logins.check((ip, key))?;
        self.per_ip.check(ip)
    }

    /// Takes a registration from `ip`, or says how long to wait.
    pub fn check_registration(&self, ip: IpAddr) -> Result<(), Duration> {
        self.registrations.check(ip)?;
        self.per_ip.check(ip)
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
        let wait = limiter.take_at(1, 10, start).expect_err("in debt");
        assert!((40.0..41.0).contains(&wait), "{wait}");
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
    fn an_empty_bucket_says_how_long_to_wait() {
        let limiter = AuthRateLimiter::per_minute(6, 1);
        let ip: IpAddr = "10.1.2.3".parse().expect("an address");
        let start = Instant::now();
        assert_eq!(limiter.check_at(ip, start), Ok(()));
        let wait = limiter.check_at(ip, start).expect_err("empty");
        assert!(
            wait > Duration::from_secs(9) && wait <= Duration::from_secs(10),
            "{wait:?}"
        );
    }

    #[test]
    fn logins_are_limited_per_address_and_username_under_an_address_ceiling() {
        let limits = AuthLimits::per_minute(2, 5, 30);
        let ip: IpAddr = "10.0.0.1".parse().expect("an address");
        assert!(limits.check_login(ip, "pat").is_ok());
        assert!(limits.check_login(ip, "PAT").is_ok());
        assert!(
            limits.check_login(ip, "Pat").is_err(),
            "usernames ignore case"
        );
        let other: IpAddr = "10.0.0.2".parse().expect("an address");
        assert!(limits.check_login(other, "pat").is_ok(), "per address");
        for name in ["ann", "bob", "cy"] {
            assert!(limits.check_login(ip, name).is_ok(), "{name}");
        }
        assert!(
            limits.check_login(ip, "dee").is_err(),
            "the address ceiling"
        );
    }

    #[test]
    fn registrations_zero_turns_every_auth_limit_off() {
        let limits = AuthLimits::per_minute(1, 1, 0);
        let ip: IpAddr = "10.0.0.1".parse().expect("an address");
        for _ in 0..100 {
            assert!(limits.check_login(ip, "pat").is_ok());
            assert!(limits.check_registration(ip).is_ok());
        }
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
