//! The client's retry policy: which answers are transient, how long to wait, and the shared
//! rate-limit gate.
//!
//! gijctl keeps its own small policy (as uv and kube-rs do) rather than the unmaintained
//! `backoff` crate: exponential backoff with full jitter for 5xx and transport failures,
//! server-directed waits for 429/503 (`Retry-After-Ms`, the gijctl extension that lets a
//! time-scaled dev-server ask for short waits, else `Retry-After` in seconds or as an HTTP
//! date), all bounded by an attempt count and a total time budget.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use rand::Rng;
use reqwest::header::HeaderMap;
use tokio::time::Instant;

/// Bounds of the retry loop; part of [`super::client::ClientConfig`].
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts per request, the first one included (1 disables retries).
    pub max_attempts: u32,
    /// Backoff ceiling for the first retry; doubles with each further retry.
    pub base_delay: Duration,
    /// Largest single backoff wait (server-directed waits are not capped by it, only by
    /// `max_total`).
    pub max_delay: Duration,
    /// Total time one logical request may take, waits included; a wait that would end past it
    /// is not started.
    pub max_total: Duration,
}

impl Default for RetryPolicy {
    /// Six attempts, 250 ms doubling up to 30 s, five minutes in total: rides out a restarting
    /// Jira node or a rate-limit window without making a run look hung for long.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
            max_total: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// The upper bound of the jittered wait before retry number `retry` (1 = first retry):
    /// `min(max_delay, base_delay * 2^(retry-1))`.
    pub fn backoff_ceiling(&self, retry: u32) -> Duration {
        let shift = retry.saturating_sub(1).min(30);
        let factor = 1u32 << shift;
        self.base_delay
            .checked_mul(factor)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }

    /// The wait before retry number `retry`, with full jitter: uniform in `[0, ceiling]`. Full
    /// jitter spreads the retries of concurrent requests that failed together.
    pub fn backoff<R: Rng + ?Sized>(&self, retry: u32, rng: &mut R) -> Duration {
        let ceiling = self.backoff_ceiling(retry);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rng.random_range(0..=nanos))
    }
}

/// Header carrying the server-directed wait in milliseconds (gijctl extension).
pub const RETRY_AFTER_MS: &str = "retry-after-ms";

/// Reads the server-directed wait of a 429/503 answer: `Retry-After-Ms` when present and valid,
/// else `Retry-After` as delta-seconds or an HTTP date (relative to `now`; a date in the past
/// means zero). Returns `None` when neither header is usable.
pub fn parse_retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    if let Some(ms) = headers
        .get(RETRY_AFTER_MS)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse::<u64>().ok())
    {
        return Some(Duration::from_millis(ms));
    }
    let raw = headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())?
        .trim();
    if let Ok(secs) = raw.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(raw).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The "not before" instant shared by every request of one client: a 429 pauses all of them,
/// because the rate limit belongs to the token, not to the request that happened to hit it.
#[derive(Debug, Default)]
pub struct RateGate {
    not_before: Mutex<Option<Instant>>,
}

impl RateGate {
    /// Pushes the shared pause out to `until` (never pulls it in).
    pub fn pause_until(&self, until: Instant) {
        let mut g = self
            .not_before
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if g.is_none_or(|nb| nb < until) {
            *g = Some(until);
        }
    }

    /// How long a request must still wait before it may be sent.
    pub fn remaining(&self, now: Instant) -> Duration {
        let g = self
            .not_before
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        g.map_or(Duration::ZERO, |nb| nb.saturating_duration_since(now))
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use reqwest::header::HeaderValue;

    /// A header map from literal pairs (also used by `pace`'s tests).
    pub(in crate::api) fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn retry_after_ms_is_preferred() {
        let h = headers(&[("retry-after-ms", "250"), ("retry-after", "7")]);
        assert_eq!(
            parse_retry_after(&h, SystemTime::now()),
            Some(Duration::from_millis(250))
        );
    }

    #[test]
    fn retry_after_seconds_and_bad_ms_fallback() {
        let h = headers(&[("retry-after-ms", "soon"), ("retry-after", " 7 ")]);
        assert_eq!(
            parse_retry_after(&h, SystemTime::now()),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            parse_retry_after(&HeaderMap::new(), SystemTime::now()),
            None
        );
        let h = headers(&[("retry-after", "whenever")]);
        assert_eq!(parse_retry_after(&h, SystemTime::now()), None);
    }

    #[test]
    fn retry_after_http_date() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        let h = headers(&[("retry-after", "Wed, 21 Oct 2015 07:28:30 GMT")]);
        assert_eq!(parse_retry_after(&h, now), Some(Duration::from_secs(30)));
        let past = headers(&[("retry-after", "Wed, 21 Oct 2015 07:27:00 GMT")]);
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
    }

    #[test]
    fn backoff_ceiling_doubles_and_caps() {
        let p = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
            max_total: Duration::from_secs(60),
        };
        let ceilings: Vec<u128> = (1..=6).map(|r| p.backoff_ceiling(r).as_millis()).collect();
        assert_eq!(ceilings, vec![100, 200, 400, 800, 1000, 1000]);
        // Huge retry numbers must not overflow.
        assert_eq!(p.backoff_ceiling(u32::MAX), Duration::from_millis(1000));
    }

    #[test]
    fn backoff_is_jittered_within_ceiling() {
        let p = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(400),
            ..RetryPolicy::default()
        };
        let mut rng = StdRng::seed_from_u64(7);
        for retry in 1..=5 {
            let waits: Vec<Duration> = (0..200).map(|_| p.backoff(retry, &mut rng)).collect();
            let ceiling = p.backoff_ceiling(retry);
            assert!(waits.iter().all(|w| *w <= ceiling));
            // Full jitter: the waits are spread out, not all at the ceiling.
            let distinct: std::collections::BTreeSet<_> = waits.iter().collect();
            assert!(distinct.len() > 100, "retry {retry}: {}", distinct.len());
            assert!(waits.iter().any(|w| *w < ceiling / 2));
        }
    }

    #[test]
    fn gate_only_moves_forward() {
        let gate = RateGate::default();
        let now = Instant::now();
        assert_eq!(gate.remaining(now), Duration::ZERO);
        gate.pause_until(now + Duration::from_millis(500));
        gate.pause_until(now + Duration::from_millis(100));
        assert_eq!(gate.remaining(now), Duration::from_millis(500));
        assert_eq!(gate.remaining(now + Duration::from_secs(1)), Duration::ZERO);
    }
}
