//! The per-user rate limit: a token bucket per caller, in this process's
//! memory. Each gateway instance counts on its own, so behind N instances a
//! user may get up to N times the configured rate; the limit protects the
//! instance, it is not a global quota.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::ApiError;
use crate::settings::RateLimitSettings;

struct Bucket {
    tokens: f64,
    refilled: Instant,
}

pub struct RateLimiter {
    settings: RateLimitSettings,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    /// Buckets idle this long are full again and can be forgotten.
    const FORGET_AFTER: Duration = Duration::from_secs(600);

    pub fn new(settings: RateLimitSettings) -> Self {
        Self {
            settings,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn capacity(&self) -> f64 {
        f64::from(self.settings.burst.max(1))
    }

    fn per_second(&self) -> f64 {
        f64::from(self.settings.per_minute) / 60.0
    }

    /// Takes one token of `key`'s bucket, or says how long to wait.
    pub fn check(&self, key: &str) -> Result<(), ApiError> {
        if self.settings.per_minute == 0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > 10_000 {
            buckets.retain(|_, b| now.duration_since(b.refilled) < Self::FORGET_AFTER);
        }
        let capacity = self.capacity();
        let rate = self.per_second();
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: capacity,
            refilled: now,
        });
        let elapsed = now.duration_since(bucket.refilled).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(capacity);
        bucket.refilled = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - bucket.tokens) / rate).ceil().max(1.0) as u64;
            Err(ApiError::rate_limited(wait))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refuse_then_refill() {
        let limiter = RateLimiter::new(RateLimitSettings {
            per_minute: 60,
            burst: 3,
        });
        for _ in 0..3 {
            limiter.check("a").unwrap();
        }
        let err = limiter.check("a").unwrap_err();
        assert_eq!(err.status.as_u16(), 429);
        assert_eq!(err.retry_after, Some(1));
        limiter.check("b").expect("another user has their own bucket");
        limiter.buckets.lock().unwrap().get_mut("a").unwrap().refilled -= Duration::from_secs(2);
        limiter.check("a").expect("refilled after a second per token");
    }

    #[test]
    fn zero_turns_it_off() {
        let limiter = RateLimiter::new(RateLimitSettings {
            per_minute: 0,
            burst: 0,
        });
        for _ in 0..1000 {
            limiter.check("a").unwrap();
        }
    }
}
