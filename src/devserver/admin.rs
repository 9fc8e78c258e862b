//! The `/_dev/` controls: statistics, fault injection, rate limits, the virtual clock and the
//! state snapshot, for tests and demos. They need an admin token; nothing of GIJ's is here.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::json;

use super::Shared;
use super::faults::{FaultConfig, FaultState};
use super::guard::{Role, role, unauthorized};
use super::lock;
use super::ratelimit::{RateLimitConfig, RateLimiter};
use super::routes::{Sh, params, u64_param};
use super::views::{ApiErr, Res, err, ok_json, to_value};

fn dev_auth(sh: &Shared, headers: &HeaderMap) -> Result<(), ApiErr> {
    match role(sh, headers) {
        Some((Role::Admin, _)) => Ok(()),
        Some((Role::User, _)) => Err(err(
            StatusCode::FORBIDDEN,
            "The /_dev/ endpoints need an admin token",
            "Use the dev-server's admin token",
        )),
        None => Err(unauthorized()),
    }
}

pub(super) async fn dev_stats(State(sh): Sh, headers: HeaderMap) -> Res {
    dev_auth(&sh, &headers)?;
    ok_json(to_value(&sh.stats()))
}

pub(super) async fn dev_stats_reset(State(sh): Sh, headers: HeaderMap) -> Res {
    dev_auth(&sh, &headers)?;
    sh.reset_stats();
    ok_json(json!({"success": true}))
}

pub(super) async fn dev_get_faults(State(sh): Sh, headers: HeaderMap) -> Res {
    dev_auth(&sh, &headers)?;
    let cfg = lock(&sh.faults).config.clone();
    ok_json(to_value(&cfg))
}

fn dev_body<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, ApiErr> {
    serde_json::from_slice(body).map_err(|e| {
        err(
            StatusCode::BAD_REQUEST,
            format!("Invalid JSON body: {e}"),
            "See docs/dev-server.md",
        )
    })
}

pub(super) async fn dev_put_faults(State(sh): Sh, headers: HeaderMap, body: Bytes) -> Res {
    dev_auth(&sh, &headers)?;
    let cfg: FaultConfig = dev_body(&body)?;
    *lock(&sh.faults) = FaultState::new(cfg);
    ok_json(json!({"success": true}))
}

pub(super) async fn dev_put_rate_limit(State(sh): Sh, headers: HeaderMap, body: Bytes) -> Res {
    dev_auth(&sh, &headers)?;
    let cfg: RateLimitConfig = dev_body(&body)?;
    *lock(&sh.limiter) = RateLimiter::new(cfg);
    ok_json(json!({"success": true}))
}

pub(super) async fn dev_advance(State(sh): Sh, headers: HeaderMap, RawQuery(q): RawQuery) -> Res {
    dev_auth(&sh, &headers)?;
    let ms = u64_param(&params(q.as_deref()), "ms")?.ok_or_else(|| {
        err(
            StatusCode::BAD_REQUEST,
            "Missing parameter `ms`",
            "Send ?ms=<virtual milliseconds>",
        )
    })?;
    sh.clock.advance(std::time::Duration::from_millis(ms));
    ok_json(json!({"success": true, "virtualNowMs": sh.clock.now_ms()}))
}

pub(super) async fn dev_state(State(sh): Sh, headers: HeaderMap) -> Res {
    dev_auth(&sh, &headers)?;
    ok_json(to_value(&sh.snapshot()))
}
