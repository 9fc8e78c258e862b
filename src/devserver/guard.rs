//! The gate every `/rest/` request passes before its handler: request statistics, fault
//! injection, authentication (admin or user token), rate limiting, and the rate-limit headers
//! of the answer, in the profile's dialect (Jira DC's or gijctl's extended ones).

use std::future::pending;
use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::catalog::hash_secret;
use super::documented;
use super::faults::FaultKind;
use super::routes::{INTEGRATIONS, Sh, WEBHOOK};
use super::state::real_epoch_ms;
use super::views::{ApiErr, err};
use super::{ConnCtl, Profile, Shared, lock};

fn user_allowed(route: &str) -> bool {
    matches!(
        route,
        "GET /rest/api/2/project"
            | "GET /rest/gitplugin/1.0/repository"
            | "GET /rest/gitplugin/1.0/index.json"
            | "POST /rest/gitplugin/2.0/reindex"
    )
}

/// The hash of the request's credential: a Bearer token (a Jira personal access token), or
/// the password of HTTP Basic authentication (Jira DC accepts both; on the dev-server any
/// username goes with a configured token as its password).
fn bearer_hash(headers: &HeaderMap) -> Option<String> {
    let v = headers.get("authorization")?.to_str().ok()?;
    let (scheme, token) = v.trim().split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(hash_secret(token.trim()));
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let raw = documented::base64_decode(token.trim())?;
        let text = String::from_utf8(raw).ok()?;
        let (_, password) = text.split_once(':')?;
        return Some(hash_secret(password));
    }
    None
}

pub(super) enum Role {
    Admin,
    User,
}

pub(super) fn role(sh: &Shared, headers: &HeaderMap) -> Option<(Role, String)> {
    let h = bearer_hash(headers)?;
    if sh.admin_hashes.contains(&h) {
        Some((Role::Admin, h))
    } else if sh.user_hashes.contains(&h) {
        Some((Role::User, h))
    } else {
        None
    }
}

pub(super) fn unauthorized() -> ApiErr {
    err(
        StatusCode::UNAUTHORIZED,
        "Authentication required: missing or invalid API token",
        "Send `Authorization: Bearer <token>` with a Jira personal access token, or HTTP Basic authentication",
    )
}

fn set_header(resp: &mut Response, name: &'static str, v: u64) {
    if let Ok(hv) = HeaderValue::from_str(&v.to_string()) {
        resp.headers_mut().insert(name, hv);
    }
}

fn set_retry_after(resp: &mut Response, profile: Profile, real_ms: u64) {
    set_header(resp, "retry-after", real_ms.div_ceil(1000).max(1));
    if profile == Profile::Extended {
        set_header(resp, "retry-after-ms", real_ms.max(1));
    }
}

/// Jira DC's description of a token bucket (`X-RateLimit-FillRate` tokens every
/// `X-RateLimit-Interval-Seconds`), in real time, from a bucket refilled `refill_per_sec` times
/// per virtual second on a clock running `scale` times real time (0: frozen, virtual time).
/// Whole numbers, as Jira sends them: the fill rate is rounded down, so a client never expects
/// more than it gets.
fn jira_fill(refill_per_sec: f64, scale: f64) -> (u64, u64) {
    let per_real_sec = refill_per_sec.max(0.0) * if scale > 0.0 { scale } else { 1.0 };
    if per_real_sec >= 1.0 {
        (per_real_sec.floor() as u64, 1)
    } else if per_real_sec > 0.0 {
        let interval = (1.0 / per_real_sec).ceil();
        (
            (per_real_sec * interval).floor().max(1.0) as u64,
            interval as u64,
        )
    } else {
        (0, 1)
    }
}

fn count_fault(sh: &Shared, kind: FaultKind) {
    *lock(&sh.counters)
        .faults
        .entry(kind.name().to_owned())
        .or_default() += 1;
}

/// Times [`guard`] (and so the handler) for `handlerMs` in the stats. Injected latency counts:
/// it is time the server makes a client wait.
pub(super) async fn timed(
    State(sh): Sh,
    matched: MatchedPath,
    req: Request,
    next: Next,
) -> Response {
    let started = std::time::Instant::now();
    let resp = guard(sh.clone(), matched, req, next).await;
    lock(&sh.counters).handler += started.elapsed();
    resp
}

async fn guard(sh: Arc<Shared>, matched: MatchedPath, req: Request, next: Next) -> Response {
    let route = format!("{} {}", req.method(), matched.as_str());
    let is_create = req.method() == Method::POST && matched.as_str() == INTEGRATIONS;
    let ctl = req.extensions().get::<ConnCtl>().cloned();
    {
        let mut c = lock(&sh.counters);
        c.total += 1;
        *c.requests.entry(route.clone()).or_default() += 1;
    }
    if matched.as_str() == WEBHOOK {
        // Called by the git service: the secret in the path is the authentication.
        return next.run(req).await;
    }
    let profile = sh.profile;
    let plan = lock(&sh.faults).decide(&route, is_create);
    if plan.spiked {
        count_fault(&sh, FaultKind::Spike);
    }
    if !plan.delay.is_zero() {
        tokio::time::sleep(plan.delay).await;
    }
    let Some((role, key)) = role(&sh, req.headers()) else {
        return unauthorized().into_response();
    };
    if matches!(role, Role::User) && !user_allowed(&route) {
        return err(
            StatusCode::FORBIDDEN,
            "Only Jira administrators can use this endpoint",
            "Use the API token of a Jira administrator",
        )
        .into_response();
    }
    let now = sh.clock.now_ms();
    let (d, refill) = {
        let mut l = lock(&sh.limiter);
        (l.check(&key, now), l.config.refill_per_sec)
    };
    let headers = |resp: &mut Response| {
        if profile == Profile::Documented {
            // Jira DC's rate-limiting headers; none when the site does not limit.
            if d.limit == 0 {
                return;
            }
            let (fill, interval) = jira_fill(refill, sh.clock.scale());
            set_header(resp, "x-ratelimit-limit", u64::from(d.limit));
            set_header(resp, "x-ratelimit-remaining", u64::from(d.remaining));
            set_header(resp, "x-ratelimit-fillrate", fill);
            set_header(resp, "x-ratelimit-interval-seconds", interval);
            if !resp.headers().contains_key("retry-after") {
                // "If you still have tokens left, it shows 0."
                let wait = sh.clock.real_ms_for(d.retry_in_ms).div_ceil(1000);
                set_header(resp, "retry-after", wait);
            }
            return;
        }
        set_header(resp, "x-ratelimit-limit", u64::from(d.limit));
        set_header(resp, "x-ratelimit-remaining", u64::from(d.remaining));
        let full_in_ms = sh.clock.real_ms_for(d.full_in_ms);
        let reset_ms = real_epoch_ms().max(0) as u64 + full_in_ms;
        set_header(resp, "x-ratelimit-reset", reset_ms.div_ceil(1000));
        // Extension: real milliseconds until the bucket is full; whole epoch seconds are too
        // coarse for a time-scaled server (docs/api.md).
        set_header(resp, "x-ratelimit-reset-ms", full_in_ms);
    };
    if !d.allowed {
        lock(&sh.counters).rate_limited += 1;
        let mut resp = err(
            StatusCode::TOO_MANY_REQUESTS,
            "Rate limit exceeded",
            "Wait for Retry-After (or Retry-After-Ms) before retrying",
        )
        .into_response();
        set_retry_after(&mut resp, profile, sh.clock.real_ms_for(d.retry_in_ms));
        headers(&mut resp);
        return resp;
    }
    match plan.action {
        Some(FaultKind::Drop) => {
            count_fault(&sh, FaultKind::Drop);
            return drop_connection(ctl).await;
        }
        Some(FaultKind::Error429) => {
            count_fault(&sh, FaultKind::Error429);
            lock(&sh.counters).rate_limited += 1;
            let mut resp = err(
                StatusCode::TOO_MANY_REQUESTS,
                "Rate limit exceeded (injected fault)",
                "Wait for Retry-After (or Retry-After-Ms) before retrying",
            )
            .into_response();
            let ms = lock(&sh.faults).config.retry_after_ms;
            set_retry_after(&mut resp, profile, sh.clock.real_ms_for(ms));
            return resp;
        }
        Some(k @ (FaultKind::Error500 | FaultKind::Error502 | FaultKind::Error503)) => {
            count_fault(&sh, k);
            let (status, msg) = match k {
                FaultKind::Error500 => (StatusCode::INTERNAL_SERVER_ERROR, "Internal server error"),
                FaultKind::Error502 => (StatusCode::BAD_GATEWAY, "Bad gateway"),
                _ => (StatusCode::SERVICE_UNAVAILABLE, "Service unavailable"),
            };
            let mut resp =
                err(status, format!("{msg} (injected fault)"), "Retry later").into_response();
            if k == FaultKind::Error503 {
                let ms = lock(&sh.faults).config.retry_after_ms;
                set_retry_after(&mut resp, profile, sh.clock.real_ms_for(ms));
            }
            headers(&mut resp);
            return resp;
        }
        _ => {}
    }
    let mut resp = next.run(req).await;
    if plan.action == Some(FaultKind::LoseCreate) && resp.status().is_success() {
        count_fault(&sh, FaultKind::LoseCreate);
        return drop_connection(ctl).await;
    }
    headers(&mut resp);
    resp
}

/// Closes the connection without an answer; never returns while the connection lives.
async fn drop_connection(ctl: Option<ConnCtl>) -> Response {
    match ctl {
        Some(c) => {
            c.0.notify_one();
            pending::<Response>().await
        }
        None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
