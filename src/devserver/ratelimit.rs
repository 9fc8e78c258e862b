//! Token-bucket rate limiting per API token, refilled in virtual time.
//!
//! Real GIJ sites sit behind proxies and git services that throttle; clients must read
//! `X-RateLimit-*` headers and honour `Retry-After`. Buckets refill on the virtual clock so a
//! time-scaled server asks for proportionally short waits (`Retry-After-Ms`) and announces
//! proportionally near resets (`X-RateLimit-Reset-Ms`, from [`Decision::full_in_ms`]), which
//! the client's pacing (`crate::api::pace`) reads.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// Bucket settings, shared by every API token.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLimitConfig {
    /// Largest burst (and `X-RateLimit-Limit`); 0 disables limiting (headers still sent).
    pub capacity: u32,
    /// Requests added back per virtual second.
    pub refill_per_sec: f64,
}

impl Default for RateLimitConfig {
    /// Generous enough that ordinary runs never meet it: 1000 burst, 100 per second.
    fn default() -> Self {
        RateLimitConfig {
            capacity: 1000,
            refill_per_sec: 100.0,
        }
    }
}

/// The outcome of charging one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    /// Whether the request may proceed.
    pub allowed: bool,
    /// `X-RateLimit-Limit`.
    pub limit: u32,
    /// `X-RateLimit-Remaining` after this request.
    pub remaining: u32,
    /// Virtual milliseconds until the bucket is full again.
    pub full_in_ms: u64,
    /// Virtual milliseconds until one request is available (0 when allowed).
    pub retry_in_ms: u64,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last_ms: i64,
}

/// Buckets keyed by a hash of the API token (never the token itself).
#[derive(Debug, Default)]
pub struct RateLimiter {
    /// Current settings.
    pub config: RateLimitConfig,
    buckets: HashMap<String, Bucket>,
}

impl RateLimiter {
    /// A limiter with these settings.
    pub fn new(config: RateLimitConfig) -> RateLimiter {
        RateLimiter {
            config,
            buckets: HashMap::new(),
        }
    }

    /// Charges one request for `key` at virtual time `now_ms`.
    pub fn check(&mut self, key: &str, now_ms: i64) -> Decision {
        let cap = f64::from(self.config.capacity);
        let rate = self.config.refill_per_sec.max(0.0);
        if self.config.capacity == 0 {
            return Decision {
                allowed: true,
                limit: 0,
                remaining: 0,
                full_in_ms: 0,
                retry_in_ms: 0,
            };
        }
        let b = self.buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: cap,
            last_ms: now_ms,
        });
        let elapsed = (now_ms - b.last_ms).max(0) as f64 / 1000.0;
        b.tokens = (b.tokens + elapsed * rate).min(cap);
        b.last_ms = now_ms.max(b.last_ms);
        let allowed = b.tokens >= 1.0;
        if allowed {
            b.tokens -= 1.0;
        }
        let ms_for = |missing: f64| -> u64 {
            if missing <= 0.0 {
                0
            } else if rate > 0.0 {
                (missing / rate * 1000.0).ceil() as u64
            } else {
                u64::MAX / 4
            }
        };
        Decision {
            allowed,
            limit: self.config.capacity,
            remaining: b.tokens.floor().max(0.0) as u32,
            full_in_ms: ms_for(cap - b.tokens),
            retry_in_ms: if allowed { 0 } else { ms_for(1.0 - b.tokens) },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_empties_and_refills_in_virtual_time() {
        let mut l = RateLimiter::new(RateLimitConfig {
            capacity: 2,
            refill_per_sec: 1.0,
        });
        assert!(l.check("a", 0).allowed);
        let d = l.check("a", 0);
        assert!(d.allowed);
        assert_eq!(d.remaining, 0);
        let d = l.check("a", 0);
        assert!(!d.allowed);
        assert_eq!(d.retry_in_ms, 1000);
        // Another token has its own bucket.
        assert!(l.check("b", 0).allowed);
        assert!(l.check("a", 1000).allowed);
    }
}
