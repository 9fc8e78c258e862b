//! The reqwest client for a GIJ site: the production implementation of [`GijApi`].
//!
//! Design points, each a requirement of issue 3:
//! - **Security.** HTTPS unless loopback ([`Endpoint`]); TLS verification cannot be turned off
//!   (there is no option); redirects are followed only within the endpoint's origin, so the
//!   token never reaches another host; the token lives in a sensitive header value and, like every
//!   credential the run resolved ([`crate::secret::redact`]), is masked in any text taken from a
//!   server answer; `Debug` never shows it.
//! - **Fewest requests.** [`GijApi::read_site`] reads projects, integrations and repositories
//!   concurrently; each list is one request when it fits in a page, else the first page tells the
//!   total and the remaining pages are fetched concurrently. No request is ever repeated except
//!   as a retry of a failed one.
//! - **Retries** ([`super::retry`]): 429/503 wait as the server says, 500/502/504 and transport
//!   failures back off with full jitter, within an attempt and time budget; a 429 pauses every
//!   request of the client. Every wait is logged at `warn`, and ends within the request's
//!   budget ([`RetryPolicy::max_total`]): a server-requested wait past it fails at once
//!   ([`ApiError::WaitTooLong`]), pacing and the shared pause are cut at its end.
//! - **Consistent reads** ([`super::consistency`]): every list is checked as its pages join,
//!   every whole-site read across its lists; an inconsistent one is read again, then refused
//!   ([`ApiError::Inconsistent`]). No list takes more than [`consistency::MAX_PAGES`] pages.
//! - **Pacing** ([`super::pace`]): every answer's `X-RateLimit-*` headers update a budget the
//!   client's concurrent requests share; once it runs low, requests are spread over the time
//!   until the reset instead of bursting into 429s. The 429 handling stays as the safety net.
//! - **No duplicate create.** A create whose answer was lost is never re-posted blindly: the
//!   client looks the integration up first and adopts it when it exists.
//! - **Bounded memory.** Answers are read in chunks up to a cap (64 MiB for lists, 1 MiB for
//!   errors).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tracing::{debug, info, warn};
use url::Url;

use super::consistency::{self, Inconsistency, Next, PageJoin};
use super::endpoint::{Endpoint, origin_of};
use super::pace::{Budget, Observation, PaceConfig};
use super::retry::{RateGate, RetryPolicy, parse_retry_after};
use super::{ApiError, GijApi, LiveSite, wire};
use crate::model::normalize_origin;
use crate::secret::{Secret, SecretRef};

/// Largest list answer the client buffers (a page of 1000 repositories is far below it).
pub const LIST_BODY_LIMIT: usize = 64 * 1024 * 1024;

/// Most reads of the whole site while it reads inconsistently ([`GijApi::read_site`],
/// [`GijApi::read_indexing`]); the last inconsistency is the error.
pub const SITE_READS: u32 = 3;

/// Largest single-object answer the client buffers.
pub const ONE_BODY_LIMIT: usize = 4 * 1024 * 1024;
/// How much of an error answer is read; the rest is discarded (an error page can be huge).
pub const ERROR_BODY_LIMIT: usize = 1024 * 1024;

/// Default page size for integration lists.
pub const DEFAULT_INTEGRATION_PAGE: u32 = 500;
/// Default page size for repository lists (the extension's maximum).
pub const DEFAULT_REPOSITORY_PAGE: u32 = 1000;
/// The largest `limit` the pagination extension accepts.
pub const MAX_PAGE: u32 = 1000;

const GIJ: &str = "rest/gitplugin/1.0";

/// Everything needed to build a [`Client`]; [`ClientConfig::new`] fills sensible defaults.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The Jira base URL, possibly with a context path (`https://jira.example.com/jira`).
    pub base_url: String,
    /// The Jira personal access token of an administrator, sent as `Authorization: Bearer`.
    pub token: Secret,
    /// Retry bounds.
    pub retry: RetryPolicy,
    /// Most requests in flight at once for this client (all operations share it).
    pub max_concurrency: usize,
    /// `limit` for integration list pages (1–1000).
    pub integration_page_size: u32,
    /// `limit` for repository list pages (1–1000).
    pub repository_page_size: u32,
    /// Time limit of one attempt, from sending to the end of the answer.
    pub request_timeout: Duration,
    /// Pacing from the site's rate-limit headers.
    pub pace: PaceConfig,
}

impl ClientConfig {
    /// A config with the default retry policy, 8 concurrent requests, pages of 500 integrations
    /// and 1000 repositories, and a 60 s request timeout.
    pub fn new(base_url: impl Into<String>, token: Secret) -> ClientConfig {
        ClientConfig {
            base_url: base_url.into(),
            token,
            retry: RetryPolicy::default(),
            max_concurrency: 8,
            integration_page_size: DEFAULT_INTEGRATION_PAGE,
            repository_page_size: DEFAULT_REPOSITORY_PAGE,
            request_timeout: Duration::from_secs(60),
            pace: PaceConfig::default(),
        }
    }
}

/// Counters of what a client did, for apply's summary and for tests.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ClientStats {
    /// HTTP requests sent (every attempt counts).
    pub requests: u64,
    /// Attempts that were retries of a failed one.
    pub retries: u64,
    /// Time spent waiting before retries or behind a rate-limit pause, summed over all
    /// concurrent requests.
    pub total_wait: Duration,
    /// 429 answers received.
    pub rate_limited: u64,
    /// Creates whose answer was lost but whose integration was found and adopted.
    pub adopted_creates: u64,
    /// Time requests waited before being sent because the site's rate-limit budget ran low
    /// (pacing), summed over all concurrent requests; not part of `total_wait`.
    pub paced: Duration,
    /// Requests that waited for pacing.
    pub paced_requests: u64,
}

/// One line for logs and apply's closing note: what the client did besides answering.
impl std::fmt::Display for ClientStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} requests, {} retries, {} rate-limited answers, {:.1}s spent waiting, {:.1}s paced to the site's rate limit ({} requests)",
            self.requests,
            self.retries,
            self.rate_limited,
            self.total_wait.as_secs_f64(),
            self.paced.as_secs_f64(),
            self.paced_requests
        )
    }
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    retries: AtomicU64,
    wait_nanos: AtomicU64,
    rate_limited: AtomicU64,
    adopted: AtomicU64,
    paced_nanos: AtomicU64,
    paced_requests: AtomicU64,
}

impl Counters {
    fn add_wait(&self, d: Duration) {
        let n = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.wait_nanos.fetch_add(n, Ordering::Relaxed);
    }
}

struct Inner {
    http: reqwest::Client,
    endpoint: Endpoint,
    auth: HeaderValue,
    retry: RetryPolicy,
    integration_page: u32,
    repository_page: u32,
    timeout: Duration,
    max_concurrency: usize,
    permits: Semaphore,
    gate: RateGate,
    pace: PaceConfig,
    budget: std::sync::Mutex<Budget>,
    counters: Counters,
}

impl Inner {
    fn budget(&self) -> std::sync::MutexGuard<'_, Budget> {
        self.budget
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// One request's share of the rate-limit budget; settled with the answer's headers, or without
/// them when the request fails or is cancelled (drop).
struct Reservation<'a> {
    inner: &'a Inner,
    settled: bool,
}

impl Reservation<'_> {
    fn settle(mut self, headers: &HeaderMap) {
        self.settled = true;
        let seen = Observation::from_headers(headers, SystemTime::now());
        self.inner
            .budget()
            .settle(seen, Instant::now(), &self.inner.pace);
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.inner
                .budget()
                .settle(None, Instant::now(), &self.inner.pace);
        }
    }
}

/// The reqwest client for a GIJ site. Cheap to clone: clones share the connection pool, the
/// concurrency limit, the rate-limit pause and the counters.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.inner.endpoint.base().as_str())
            .field("token", &"[redacted]")
            .field("retry", &self.inner.retry)
            .field("max_concurrency", &self.inner.max_concurrency)
            .finish_non_exhaustive()
    }
}

/// The error a redirect policy raises for a cross-origin redirect; found again in the reqwest
/// error's source chain to build [`ApiError::Redirect`].
#[derive(Debug)]
struct CrossOriginRedirect(String);

impl fmt::Display for CrossOriginRedirect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "redirect to another origin ({}) refused", self.0)
    }
}

impl std::error::Error for CrossOriginRedirect {}

/// Whether a failed call may be retried as is, or may already have taken effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Safe to repeat (GET, PUT, DELETE).
    Idempotent,
    /// A create: only failures that prove the request was not applied (connect errors, 429) are
    /// retried here; the rest go back to [`Client::create`], which looks before re-posting.
    Create,
}

struct Call {
    method: Method,
    url: Url,
    body: Option<Vec<u8>>,
    limit: usize,
    mode: Mode,
    /// What a 404 means, e.g. "integration 7".
    what: String,
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
    /// Attempts it took (more than one means earlier ones failed).
    attempts: u32,
}

/// A failed call, with whether the request may have been applied by the server.
struct Failed {
    error: ApiError,
    maybe_applied: bool,
    /// Attempts made, so callers can tell a first answer from one after a retry.
    attempts: u32,
    /// The server-directed wait of the last answer, if it sent one.
    retry_after: Option<Duration>,
}

impl From<Failed> for ApiError {
    fn from(f: Failed) -> ApiError {
        f.error
    }
}

/// How one attempt failed before an HTTP status was available.
enum SendError {
    /// The connection could not be made: the request never reached the server.
    Connect(ApiError),
    /// The request may have reached the server (timeout, reset, lost answer).
    Lost(ApiError),
    /// Not worth retrying (redirect refused, answer too large).
    Fatal(ApiError),
}

#[derive(Deserialize)]
struct Probe {
    #[serde(default, deserialize_with = "de_opt_bool")]
    success: Option<bool>,
    #[serde(default)]
    error: Option<serde_json::Value>,
    #[serde(default)]
    advice: Option<serde_json::Value>,
    #[serde(default)]
    message: Option<serde_json::Value>,
    #[serde(default, rename = "errorMessages")]
    error_messages: Option<Vec<serde_json::Value>>,
}

fn de_opt_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum B {
        Bool(bool),
        Str(String),
        Other(serde::de::IgnoredAny),
    }
    Ok(match Option::<B>::deserialize(d)? {
        Some(B::Bool(b)) => Some(b),
        Some(B::Str(s)) => Some(s.eq_ignore_ascii_case("true")),
        Some(B::Other(_)) | None => None,
    })
}

fn value_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) if s.trim().is_empty() => None,
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

impl Client {
    /// Builds a client, checking the endpoint (HTTPS unless loopback, no credentials in the
    /// URL) and the limits.
    pub fn new(config: ClientConfig) -> Result<Client, ApiError> {
        // reqwest is built with `rustls-no-provider`; the ring provider is this crate's choice.
        // Installing twice (two clients, or a test harness) is fine: the first one stays.
        let _ = rustls::crypto::ring::default_provider().install_default();

        let endpoint = Endpoint::parse(&config.base_url)?;
        if config.retry.max_attempts == 0 {
            return Err(ApiError::InvalidConfig(
                "retry.max_attempts must be at least 1".into(),
            ));
        }
        if config.max_concurrency == 0 {
            return Err(ApiError::InvalidConfig(
                "max_concurrency must be at least 1".into(),
            ));
        }
        for (name, v) in [
            ("integration_page_size", config.integration_page_size),
            ("repository_page_size", config.repository_page_size),
        ] {
            if !(1..=MAX_PAGE).contains(&v) {
                return Err(ApiError::InvalidConfig(format!(
                    "{name} must be between 1 and {MAX_PAGE}, not {v}"
                )));
            }
        }
        if config.request_timeout.is_zero() {
            return Err(ApiError::InvalidConfig(
                "request_timeout must be positive".into(),
            ));
        }
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", config.token.expose()))
            .map_err(|_| {
                ApiError::InvalidConfig(
                    "the API token contains characters that cannot be sent in an HTTP header"
                        .into(),
                )
            })?;
        auth.set_sensitive(true);

        let policy = reqwest::redirect::Policy::custom(|attempt| {
            let origin_ok = attempt
                .previous()
                .first()
                .is_some_and(|first| first.origin() == attempt.url().origin());
            if !origin_ok {
                let to = origin_of(attempt.url());
                attempt.error(CrossOriginRedirect(to))
            } else if attempt.previous().len() > 5 {
                attempt.error("too many redirects")
            } else {
                attempt.follow()
            }
        });
        let mut defaults = HeaderMap::new();
        defaults.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        // Jira's XSRF check refuses some REST writes without it.
        defaults.insert("x-atlassian-token", HeaderValue::from_static("no-check"));
        let http = reqwest::Client::builder()
            .redirect(policy)
            .timeout(config.request_timeout)
            .connect_timeout(config.request_timeout.min(Duration::from_secs(15)))
            .user_agent(concat!("gijctl/", env!("CARGO_PKG_VERSION")))
            .default_headers(defaults)
            .build()
            .map_err(|e| {
                ApiError::Endpoint(format!("cannot initialise the HTTP client: {}", chain(&e)))
            })?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                endpoint,
                auth,
                retry: config.retry,
                integration_page: config.integration_page_size,
                repository_page: config.repository_page_size,
                timeout: config.request_timeout,
                max_concurrency: config.max_concurrency,
                permits: Semaphore::new(config.max_concurrency),
                gate: RateGate::default(),
                pace: config.pace,
                budget: std::sync::Mutex::new(Budget::default()),
                counters: Counters::default(),
            }),
        })
    }

    /// Builds a client the way the CLI does: the base URL from `endpoint` (`--endpoint`) or
    /// `GIJ_URL`, the token from the secret reference `token_ref` (`--token`, default
    /// `env:GIJ_TOKEN`); relative `file:` paths resolve against the working directory.
    pub fn from_env(endpoint: Option<&str>, token_ref: Option<&str>) -> Result<Client, ApiError> {
        Client::from_env_tuned(endpoint, token_ref, |_| {})
    }

    /// [`Client::from_env`], letting the caller adjust the config (request timeout, retries)
    /// before the client is built. The endpoint is checked before the token is read, so a plain
    /// `http://` endpoint is refused even when no token is available.
    pub fn from_env_tuned(
        endpoint: Option<&str>,
        token_ref: Option<&str>,
        tune: impl FnOnce(&mut ClientConfig),
    ) -> Result<Client, ApiError> {
        let base = match endpoint {
            Some(e) => e.to_owned(),
            None => match std::env::var("GIJ_URL") {
                Ok(v) if !v.trim().is_empty() => v,
                _ => {
                    return Err(ApiError::Endpoint(
                        "no GIJ site given: pass `--endpoint URL` or set GIJ_URL to the Jira base \
                         URL"
                        .into(),
                    ));
                }
            },
        };
        Endpoint::parse(&base)?;
        let reference = token_ref.unwrap_or("env:GIJ_TOKEN");
        // A literal token passed as `--token` must not be echoed back in the error.
        let shown = if reference.starts_with("env:") || reference.starts_with("file:") {
            reference.to_owned()
        } else {
            "the --token value".to_owned()
        };
        let token = SecretRef::parse(reference)
            .and_then(|r| r.resolve(Path::new(".")))
            .map_err(|source| ApiError::Token {
                reference: shown,
                source,
            })?;
        let mut config = ClientConfig::new(base, token);
        tune(&mut config);
        Client::new(config)
    }

    /// Returns the validated base URL.
    pub fn endpoint(&self) -> &Endpoint {
        &self.inner.endpoint
    }

    /// Returns a snapshot of the counters (apply prints them in its summary).
    pub fn stats(&self) -> ClientStats {
        let c = &self.inner.counters;
        ClientStats {
            requests: c.requests.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            total_wait: Duration::from_nanos(c.wait_nanos.load(Ordering::Relaxed)),
            rate_limited: c.rate_limited.load(Ordering::Relaxed),
            adopted_creates: c.adopted.load(Ordering::Relaxed),
            paced: Duration::from_nanos(c.paced_nanos.load(Ordering::Relaxed)),
            paced_requests: c.paced_requests.load(Ordering::Relaxed),
        }
    }

    fn url(&self, path: &str, query: &[(&str, String)]) -> Url {
        self.inner.endpoint.url(path, query)
    }

    /// Masks every credential the run has resolved (the token, git PATs and passwords: see
    /// [`crate::secret::redact`]) in text that came from the server, and keeps it short and
    /// printable: whitespace runs become one space, other control and bidi characters are
    /// escaped ([`crate::escape::shown`]). Every server text that enters an [`ApiError`] goes
    /// through here, so errors are clean wherever they are printed later.
    fn sanitise(&self, text: &str, max_chars: usize) -> String {
        let masked = crate::secret::redact(text);
        let mut out = String::new();
        let mut last_space = false;
        let mut chars = 0;
        for c in masked.chars() {
            let c = if c.is_whitespace() { ' ' } else { c };
            if c == ' ' {
                if last_space || out.is_empty() {
                    continue;
                }
                last_space = true;
            } else {
                last_space = false;
            }
            if crate::escape::is_unsafe(c) {
                out.push_str(&crate::escape::shown(c.encode_utf8(&mut [0; 4])));
            } else {
                out.push(c);
            }
            chars += 1;
            if chars >= max_chars {
                out.push('…');
                break;
            }
        }
        out.trim_end().to_owned()
    }

    // ---- one attempt -------------------------------------------------------------------

    /// Waits for the shared rate-limit pause, then for a concurrency permit, then reserves the
    /// request's share of the rate-limit budget and waits as long as pacing asks.
    ///
    /// Every one of these waits ends by `deadline`, the end of the request's time budget
    /// ([`RetryPolicy::max_total`]): pacing is advice (the 429 handling is the safety net),
    /// and a shared pause set by another request's 429 may end after this request's budget.
    async fn admit(
        &self,
        call: &Call,
        deadline: Instant,
    ) -> (tokio::sync::SemaphorePermit<'_>, Reservation<'_>) {
        let permit = self.admit_permit(call, deadline).await;
        let pace = self
            .inner
            .budget()
            .reserve(Instant::now(), &self.inner.pace)
            .min(deadline.saturating_duration_since(Instant::now()));
        let reservation = Reservation {
            inner: &self.inner,
            settled: false,
        };
        if !pace.is_zero() {
            debug!(
                "{} {}: pacing {} for the site's rate-limit budget",
                call.method,
                call.url,
                secs(pace)
            );
            let c = &self.inner.counters;
            c.paced_requests.fetch_add(1, Ordering::Relaxed);
            c.paced_nanos.fetch_add(
                u64::try_from(pace.as_nanos()).unwrap_or(u64::MAX),
                Ordering::Relaxed,
            );
            tokio::time::sleep(pace).await;
        }
        // A 429 of another request may have paused the client meanwhile; the permit is kept.
        let now = Instant::now();
        let wait = self
            .inner
            .gate
            .remaining(now)
            .min(deadline.saturating_duration_since(now));
        if !wait.is_zero() {
            self.inner.counters.add_wait(wait);
            tokio::time::sleep(wait).await;
        }
        (permit, reservation)
    }

    /// Waits for the shared rate-limit pause, then for a concurrency permit.
    async fn admit_permit(
        &self,
        call: &Call,
        deadline: Instant,
    ) -> tokio::sync::SemaphorePermit<'_> {
        loop {
            let now = Instant::now();
            let wait = self
                .inner
                .gate
                .remaining(now)
                .min(deadline.saturating_duration_since(now));
            if !wait.is_zero() {
                info!(
                    "{} {}: waiting {} for the site's rate limit",
                    call.method,
                    call.url,
                    secs(wait)
                );
                self.inner.counters.add_wait(wait);
                tokio::time::sleep(wait).await;
            }
            let permit = match self.inner.permits.acquire().await {
                Ok(p) => p,
                // The semaphore is never closed; this arm only satisfies the type.
                Err(_) => continue,
            };
            let now = Instant::now();
            if self.inner.gate.remaining(now).is_zero() || now >= deadline {
                return permit;
            }
        }
    }

    async fn send_once(&self, call: &Call, deadline: Instant) -> Result<Answer, SendError> {
        let (_permit, reservation) = self.admit(call, deadline).await;
        self.inner.counters.requests.fetch_add(1, Ordering::Relaxed);
        let mut rb = self
            .inner
            .http
            .request(call.method.clone(), call.url.clone())
            .header(header::AUTHORIZATION, self.inner.auth.clone());
        if let Some(body) = &call.body {
            rb = rb
                .header(header::CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let started = Instant::now();
        let resp = rb.send().await.map_err(|e| self.send_error(call, &e))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        reservation.settle(&headers);
        let (limit, truncate) = if status.is_success() {
            (call.limit, false)
        } else {
            (ERROR_BODY_LIMIT, true)
        };
        let body = self.read_body(call, resp, limit, truncate).await?;
        debug!(
            "{} {}: {} ({} bytes in {})",
            call.method,
            call.url,
            status,
            body.len(),
            secs(started.elapsed())
        );
        Ok(Answer {
            status,
            headers,
            body,
            attempts: 1,
        })
    }

    async fn read_body(
        &self,
        call: &Call,
        mut resp: reqwest::Response,
        limit: usize,
        truncate: bool,
    ) -> Result<Vec<u8>, SendError> {
        let too_large = || ApiError::TooLarge {
            method: call.method.to_string(),
            url: call.url.to_string(),
            limit_bytes: limit,
        };
        if !truncate
            && resp
                .content_length()
                .is_some_and(|n| usize::try_from(n).map_or(true, |n| n > limit))
        {
            return Err(SendError::Fatal(too_large()));
        }
        let mut body = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > limit {
                        if truncate {
                            let room = limit - body.len();
                            body.extend_from_slice(&chunk[..room]);
                            return Ok(body);
                        }
                        return Err(SendError::Fatal(too_large()));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(body),
                Err(e) => return Err(self.send_error(call, &e)),
            }
        }
    }

    fn send_error(&self, call: &Call, e: &reqwest::Error) -> SendError {
        let method = call.method.to_string();
        let url = call.url.to_string();
        let mut src: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(s) = src {
            if let Some(r) = s.downcast_ref::<CrossOriginRedirect>() {
                return SendError::Fatal(ApiError::Redirect {
                    method,
                    url,
                    location: r.0.clone(),
                });
            }
            src = s.source();
        }
        if e.is_redirect() {
            return SendError::Fatal(ApiError::Transport {
                method,
                url,
                message: format!("redirect failed: {}", self.sanitise(&chain(e), 300)),
            });
        }
        if e.is_timeout() {
            return SendError::Lost(ApiError::Transport {
                method,
                url,
                message: format!(
                    "no complete answer within the {} request timeout",
                    secs(self.inner.timeout)
                ),
            });
        }
        let detail = self.sanitise(&chain(e), 300);
        if e.is_connect() {
            return SendError::Connect(ApiError::Transport {
                method,
                url,
                message: format!("cannot connect: {detail}"),
            });
        }
        SendError::Lost(ApiError::Transport {
            method,
            url,
            message: format!("the connection failed before the whole answer arrived: {detail}"),
        })
    }

    // ---- the retry loop ----------------------------------------------------------------

    async fn execute(&self, call: &Call) -> Result<Answer, Failed> {
        let policy = &self.inner.retry;
        let started = Instant::now();
        let deadline = started + policy.max_total;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let mut asked = None;
            let (error, wait, status, rate_limited) = match self.send_once(call, deadline).await {
                Ok(mut ans) if ans.status.is_success() => {
                    ans.attempts = attempt;
                    return Ok(ans);
                }
                Ok(ans) => {
                    let code = ans.status.as_u16();
                    let error = self.status_error(call, &ans);
                    let told = parse_retry_after(&ans.headers, SystemTime::now());
                    match (code, call.mode) {
                        (429, _) => {
                            asked = told;
                            let wait = told.unwrap_or_else(|| self.backoff(attempt));
                            (error, wait, ans.status.to_string(), true)
                        }
                        (503, Mode::Idempotent) => {
                            asked = told;
                            let wait = told.unwrap_or_else(|| self.backoff(attempt));
                            (error, wait, ans.status.to_string(), false)
                        }
                        (500 | 502 | 504, Mode::Idempotent) => {
                            (error, self.backoff(attempt), ans.status.to_string(), false)
                        }
                        (500..=599, Mode::Create) => {
                            return Err(Failed {
                                error,
                                maybe_applied: true,
                                attempts: attempt,
                                retry_after: told,
                            });
                        }
                        _ => {
                            return Err(Failed {
                                error,
                                maybe_applied: false,
                                attempts: attempt,
                                retry_after: None,
                            });
                        }
                    }
                }
                Err(SendError::Connect(error)) => {
                    (error, self.backoff(attempt), "connect error".into(), false)
                }
                Err(SendError::Lost(error)) if call.mode == Mode::Idempotent => (
                    error,
                    self.backoff(attempt),
                    "transport error".into(),
                    false,
                ),
                Err(SendError::Lost(error)) => {
                    return Err(Failed {
                        error,
                        maybe_applied: true,
                        attempts: attempt,
                        retry_after: None,
                    });
                }
                Err(SendError::Fatal(error)) => {
                    return Err(Failed {
                        error,
                        maybe_applied: false,
                        attempts: attempt,
                        retry_after: None,
                    });
                }
            };
            let elapsed = started.elapsed();
            if let Some(asked) = asked
                && attempt < policy.max_attempts
                && elapsed + wait > policy.max_total
            {
                // The site asked for a wait the budget cannot hold: say so at once rather
                // than sleep it (a `Retry-After: 299` once slept 299 s under a 4 s budget).
                if rate_limited {
                    self.inner
                        .counters
                        .rate_limited
                        .fetch_add(1, Ordering::Relaxed);
                }
                return Err(Failed {
                    error: ApiError::WaitTooLong {
                        method: call.method.to_string(),
                        url: call.url.to_string(),
                        asked_secs: asked.as_secs_f64(),
                        left_secs: policy.max_total.saturating_sub(elapsed).as_secs_f64(),
                        budget_secs: policy.max_total.as_secs_f64(),
                        last: Box::new(error),
                    },
                    maybe_applied: false,
                    attempts: attempt,
                    retry_after: None,
                });
            }
            if attempt >= policy.max_attempts || elapsed + wait > policy.max_total {
                if rate_limited {
                    self.inner
                        .counters
                        .rate_limited
                        .fetch_add(1, Ordering::Relaxed);
                }
                return Err(Failed {
                    error: self.give_up(call, attempt, elapsed, error),
                    maybe_applied: false,
                    attempts: attempt,
                    retry_after: None,
                });
            }
            warn!(
                "{} {}: {status}; retrying in {} (attempt {} of {})",
                call.method,
                call.url,
                secs(wait),
                attempt + 1,
                policy.max_attempts
            );
            self.inner.counters.retries.fetch_add(1, Ordering::Relaxed);
            if rate_limited {
                // Every request of this client waits for it in `admit`, this one included.
                // The counter moves only after the pause is in place, so an observer that sees
                // it also sees the pause.
                self.inner.gate.pause_until(Instant::now() + wait);
                self.inner
                    .counters
                    .rate_limited
                    .fetch_add(1, Ordering::Relaxed);
            } else {
                self.inner.counters.add_wait(wait);
                tokio::time::sleep(wait).await;
            }
        }
    }

    fn give_up(&self, call: &Call, attempts: u32, elapsed: Duration, last: ApiError) -> ApiError {
        if attempts <= 1 {
            return last;
        }
        ApiError::GaveUp {
            method: call.method.to_string(),
            url: call.url.to_string(),
            attempts,
            elapsed_secs: elapsed.as_secs_f64(),
            last: Box::new(last),
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        self.inner.retry.backoff(attempt, &mut rand::rng())
    }

    // ---- answers -----------------------------------------------------------------------

    /// A short description of a non-JSON body: HTML gets the usual misconfiguration hint.
    fn describe_body(&self, headers: &HeaderMap, body: &[u8]) -> String {
        let text = String::from_utf8_lossy(body);
        let is_html = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.to_ascii_lowercase().contains("html"))
            || text.trim_start().starts_with('<');
        let prefix = self.sanitise(&text, 120);
        if is_html {
            let shown = match html_title(&text) {
                Some(t) => format!("page title `{}`", self.sanitise(t, 120)),
                None => format!("the answer starts with `{prefix}`"),
            };
            format!(
                "the server answered HTML, not JSON: is the URL the Jira base URL and is the \
                 token valid? ({shown})"
            )
        } else if prefix.is_empty() {
            "the answer is empty".into()
        } else {
            format!("the answer is not JSON; it starts with `{prefix}`")
        }
    }

    /// The server's `error` and `advice` (GIJ), `errorMessages`/`message` (Jira), or a summary.
    fn server_message(&self, ans: &Answer) -> (Option<String>, Option<String>) {
        match serde_json::from_slice::<Probe>(&ans.body) {
            Ok(p) => {
                let error = p
                    .error
                    .as_ref()
                    .and_then(value_text)
                    .or_else(|| {
                        p.error_messages.as_ref().and_then(|m| {
                            let parts: Vec<String> = m.iter().filter_map(value_text).collect();
                            (!parts.is_empty()).then(|| parts.join("; "))
                        })
                    })
                    .or_else(|| p.message.as_ref().and_then(value_text));
                let advice = p.advice.as_ref().and_then(value_text);
                (
                    error.map(|e| self.sanitise(&e, 500)),
                    advice.map(|a| self.sanitise(&a, 500)),
                )
            }
            Err(_) if ans.body.is_empty() => (None, None),
            Err(_) => (Some(self.describe_body(&ans.headers, &ans.body)), None),
        }
    }

    fn status_error(&self, call: &Call, ans: &Answer) -> ApiError {
        let method = call.method.to_string();
        let url = call.url.to_string();
        let (error, advice) = self.server_message(ans);
        let reason = ans.status.canonical_reason().unwrap_or("error").to_owned();
        let joined = match (&error, &advice) {
            (Some(e), Some(a)) => format!("{e} (advice: {a})"),
            (Some(e), None) => e.clone(),
            (None, Some(a)) => format!("{reason} (advice: {a})"),
            (None, None) => reason.clone(),
        };
        let status = ans.status.as_u16();
        match status {
            401 => ApiError::Unauthorized { method, url },
            403 => ApiError::Forbidden { method, url },
            404 => ApiError::NotFound {
                method,
                url,
                what: call.what.clone(),
                message: if error.is_some() || advice.is_some() {
                    joined
                } else {
                    String::new()
                },
            },
            409 => ApiError::Conflict {
                method,
                url,
                message: joined,
            },
            422 => ApiError::Unprocessable {
                method,
                url,
                error: error.unwrap_or(reason),
                advice,
            },
            500..=599 => ApiError::Server {
                method,
                url,
                status,
                message: joined,
            },
            _ => ApiError::Status {
                method,
                url,
                status,
                message: joined,
            },
        }
    }

    /// Parses a 2xx answer, refusing `"success": false` and non-JSON bodies.
    fn decode<T: DeserializeOwned>(&self, call: &Call, ans: &Answer) -> Result<T, ApiError> {
        if let Ok(p) = serde_json::from_slice::<Probe>(&ans.body)
            && p.success == Some(false)
        {
            let (error, advice) = self.server_message(ans);
            let message = match (error, advice) {
                (Some(e), Some(a)) => format!("{e} (advice: {a})"),
                (Some(e), None) => e,
                (None, Some(a)) => format!("no error given (advice: {a})"),
                (None, None) => "no error given".into(),
            };
            return Err(ApiError::Unsuccessful {
                method: call.method.to_string(),
                url: call.url.to_string(),
                message,
            });
        }
        serde_json::from_slice(&ans.body).map_err(|e| {
            let looks_json = ans
                .body
                .iter()
                .find(|b| !b.is_ascii_whitespace())
                .is_some_and(|b| *b == b'{' || *b == b'[');
            let message = if looks_json {
                // serde quotes the offending value ("invalid type: string \"...\""), which
                // may be an echoed credential or terminal escapes.
                format!(
                    "the JSON does not have the expected shape: {}",
                    self.sanitise(&e.to_string(), 300)
                )
            } else {
                self.describe_body(&ans.headers, &ans.body)
            };
            ApiError::Decode {
                method: call.method.to_string(),
                url: call.url.to_string(),
                message,
            }
        })
    }

    fn call(&self, method: Method, url: Url, what: impl Into<String>) -> Call {
        Call {
            method,
            url,
            body: None,
            limit: ONE_BODY_LIMIT,
            mode: Mode::Idempotent,
            what: what.into(),
        }
    }

    // ---- lists -------------------------------------------------------------------------

    /// Reads a whole list with the pagination extension: the first page tells the total, the
    /// rest is fetched concurrently. A server without pagination keys (GIJ itself) answers the
    /// whole list to the first request; one that says more pages follow without a `total` is
    /// followed page by page. Every page is checked as it joins the list ([`PageJoin`]): an
    /// inconsistent list is [`ApiError::Inconsistent`], and no list takes more than
    /// [`consistency::MAX_PAGES`] pages.
    async fn list_all<
        T: Send + 'static,
        R: serde::de::DeserializeOwned + Default + Send + 'static,
    >(
        &self,
        path: &'static str,
        filters: Vec<(&'static str, String)>,
        page_size: u32,
        pick: fn(wire::Page<R>) -> Option<Vec<T>>,
        id_of: fn(&T) -> Option<u64>,
    ) -> Result<Vec<T>, ApiError> {
        let key = path.rsplit('/').next().unwrap_or(path);
        let list_url = self.url(path, &filters).to_string();
        let inconsistent = |i: Inconsistency| {
            let (method, url, list, problem) = ("GET".into(), list_url.clone(), i.list, i.problem);
            if i.too_long {
                ApiError::TooManyPages {
                    method,
                    url,
                    list,
                    problem,
                }
            } else {
                ApiError::Inconsistent {
                    method,
                    url,
                    list,
                    problem,
                }
            }
        };
        let list = match key {
            "integration" => "integrations",
            "repository" => "repositories",
            other => other,
        };
        let mut join = PageJoin::new(list);
        let (first, items) = self.page(path, &filters, 0, page_size, pick).await?;
        let next = join
            .accept(0, &first, items.iter().map(id_of))
            .map_err(inconsistent)?;
        let Next::Page(second) = next else {
            return Ok(items);
        };
        // Step by what the server actually returned: it may cap `limit` below what was asked.
        // Never zero: a page that is not the last is not empty.
        let step = items.len() as u64;
        let Some(total) = join.total() else {
            // No total to plan the pages by: follow them one at a time, up to MAX_PAGES.
            let mut all = items;
            let mut at = second;
            loop {
                let (meta, page) = self.page(path, &filters, at, page_size, pick).await?;
                let next = join
                    .accept(at, &meta, page.iter().map(id_of))
                    .map_err(inconsistent)?;
                all.extend(page);
                match next {
                    Next::Done => return Ok(all),
                    Next::Page(n) => at = n,
                }
            }
        };
        // Refused before any further request: `total: 10^15` in pages of one.
        join.check_size(step).map_err(inconsistent)?;
        // The starts are generated as they are needed, never collected: their number comes
        // from the server.
        let starts = (0u64..)
            .map(move |k| second.saturating_add(k.saturating_mul(step)))
            .take_while(move |s| *s < total);
        debug!("{path}: {total} {key}, fetching the rest in pages of {step}");
        // A sliding window of page requests rather than one task per page up front: tasks are
        // not polled in index order, so with all 200 pages of a large site spawned at once up to
        // 80 decoded pages (24 MB) waited for an earlier one. The window keeps every request
        // slot busy (twice the concurrency limit) while bounding what waits in memory.
        let window = self.inner.max_concurrency.saturating_mul(2).max(1);
        let mut pending = starts.enumerate();
        let mut set = tokio::task::JoinSet::new();
        let spawn = |set: &mut tokio::task::JoinSet<_>, (i, start): (usize, u64)| {
            let me = self.clone();
            let filters = filters.clone();
            set.spawn(async move {
                let r = me.page(path, &filters, start, page_size, pick).await;
                (i, start, r)
            });
        };
        for p in pending.by_ref().take(window) {
            spawn(&mut set, p);
        }
        // Room for the whole list at once: growing by doubling left up to half the vector
        // unused and copied it at every step (201,000 repositories: 60 MB of peak memory). The
        // site's `total` sizes it only up to MAX_RESERVE_BYTES.
        let mut all: Vec<T> = Vec::with_capacity(consistency::reserve_for::<T>(total));
        all.extend(items);
        // Pages are moved into `all` as soon as every page before them has arrived, so only
        // the pages that finished out of order wait in memory, not the whole list twice. Each
        // is checked against the pages before it as it joins.
        let mut waiting: BTreeMap<usize, (u64, wire::Page<()>, Vec<T>)> = BTreeMap::new();
        let mut next = 0usize;
        let mut state = Next::Page(second);
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok((i, start, Ok((meta, items)))) => {
                    if let Some(p) = pending.next() {
                        spawn(&mut set, p);
                    }
                    waiting.insert(i, (start, meta, items));
                    while let Some((start, meta, page)) = waiting.remove(&next) {
                        state = join
                            .accept(start, &meta, page.iter().map(id_of))
                            .map_err(inconsistent)?;
                        all.extend(page);
                        next += 1;
                    }
                }
                Ok((_, _, Err(e))) => return Err(e),
                Err(e) => {
                    return Err(ApiError::Transport {
                        method: "GET".into(),
                        url: list_url.clone(),
                        message: format!("a page request task failed: {e}"),
                    });
                }
            }
        }
        if let Next::Page(at) = state {
            return Err(inconsistent(Inconsistency {
                list: list.to_owned(),
                too_long: false,
                problem: format!(
                    "the pages end at {at} items, before the site's `total` {total}, yet the \
                     last one says more follow"
                ),
            }));
        }
        Ok(all)
    }

    async fn page<T, R: serde::de::DeserializeOwned + Default>(
        &self,
        path: &str,
        filters: &[(&'static str, String)],
        start: u64,
        limit: u32,
        pick: fn(wire::Page<R>) -> Option<Vec<T>>,
    ) -> Result<(wire::Page<()>, Vec<T>), ApiError> {
        let mut query: Vec<(&str, String)> = filters.to_vec();
        query.push(("start", start.to_string()));
        query.push(("limit", limit.to_string()));
        let mut call = self.call(
            Method::GET,
            self.url(path, &query),
            "the GIJ REST API (is the endpoint the Jira base URL, and is Git Integration for \
             Jira installed?)",
        );
        call.limit = LIST_BODY_LIMIT;
        let ans = self.execute(&call).await?;
        let page: wire::Page<R> = self.decode(&call, &ans)?;
        let meta = page_meta(&page);
        let key = path.rsplit('/').next().unwrap_or(path);
        let items = pick(page).ok_or_else(|| ApiError::Decode {
            method: "GET".into(),
            url: call.url.to_string(),
            message: format!("the answer has no `{key}` list"),
        })?;
        Ok((meta, items))
    }

    // ---- create ------------------------------------------------------------------------

    /// Integrations that look like the one `req` would create: filtered on the server with the
    /// extension's query (a server that ignores it returns everything) and again here.
    async fn find_like(
        &self,
        req: &wire::IntegrationRequest,
    ) -> Result<Vec<wire::Integration>, ApiError> {
        let ty = req
            .integration_type
            .clone()
            .or_else(|| req.fields.integration_type.clone());
        let mut filters = Vec::new();
        if let Some(t) = &ty {
            filters.push(("type", t.clone()));
        }
        if let Some(o) = &req.fields.origin {
            filters.push(("origin", normalize_origin(o)));
        }
        if let Some(g) = &req.fields.group {
            filters.push(("group", g.clone()));
        }
        let all = self
            .list_all(
                "rest/gitplugin/1.0/integration",
                filters,
                self.inner.integration_page,
                |p: wire::Page| p.integrations,
                |i| i.id,
            )
            .await?;
        Ok(all
            .into_iter()
            .filter(|i| matches_request(i, ty.as_deref(), req))
            .collect())
    }

    async fn create(&self, req: &wire::IntegrationRequest) -> Result<wire::Integration, ApiError> {
        let body = serde_json::to_vec(req).map_err(|e| ApiError::Decode {
            method: "POST".into(),
            url: self.url(&format!("{GIJ}/integration"), &[]).to_string(),
            message: format!("cannot encode the request: {e}"),
        })?;
        // A cheap snapshot of what already exists, so a lost answer can be told apart from an
        // integration that was there before.
        let before: BTreeSet<u64> = self
            .find_like(req)
            .await?
            .iter()
            .filter_map(|i| i.id)
            .collect();
        // The plan said "create" because none existed; one existing now means a concurrent
        // apply (or a person) got there first. Creating a second would be a duplicate.
        if !before.is_empty() {
            return Err(ApiError::AlreadyExists {
                what: format!(
                    "a {} integration for `{}` at {}",
                    req.integration_type.as_deref().unwrap_or("?"),
                    req.fields.group.as_deref().unwrap_or(""),
                    req.fields.origin.as_deref().unwrap_or("its default origin"),
                ),
                ids: before
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        let mut call = self.call(
            Method::POST,
            self.url(&format!("{GIJ}/integration"), &[]),
            "the GIJ integration API",
        );
        call.body = Some(body);
        call.mode = Mode::Create;
        let policy = &self.inner.retry;
        let started = Instant::now();
        let mut posts = 0u32;
        loop {
            posts += 1;
            match self.execute(&call).await {
                Ok(ans) => {
                    let r: wire::IntegrationResponse = self.decode(&call, &ans)?;
                    if let Some(i) = r.integration {
                        return Ok(i);
                    }
                    // Created, but the answer does not show it: find it like a lost answer.
                    if let Some(i) = self.newest_new(req, &before).await? {
                        return Ok(i);
                    }
                    return Err(ApiError::Decode {
                        method: "POST".into(),
                        url: call.url.to_string(),
                        message: "the create answer has no `integration` and none was found".into(),
                    });
                }
                Err(Failed {
                    error,
                    maybe_applied: true,
                    retry_after,
                    ..
                }) => {
                    let elapsed = started.elapsed();
                    // Never wait past the budget: the lookup below must still happen.
                    let wait = self
                        .backoff(posts)
                        .max(retry_after.unwrap_or_default())
                        .min(policy.max_total.saturating_sub(elapsed));
                    warn!(
                        "{} {}: the create may have been applied but its answer was lost \
                         ({error}); looking the integration up in {} before posting again",
                        call.method,
                        call.url,
                        secs(wait)
                    );
                    // Give the site a moment to finish the create before looking.
                    self.inner.counters.add_wait(wait);
                    tokio::time::sleep(wait).await;
                    if let Some(found) = self.newest_new(req, &before).await? {
                        info!(
                            "{} {}: the create was applied; adopting integration {}",
                            call.method,
                            call.url,
                            found.id.unwrap_or_default()
                        );
                        self.inner.counters.adopted.fetch_add(1, Ordering::Relaxed);
                        return Ok(found);
                    }
                    if posts >= policy.max_attempts || started.elapsed() > policy.max_total {
                        return Err(self.give_up(&call, posts, elapsed, error));
                    }
                    warn!(
                        "{} {}: the integration was not created; posting again (attempt {} of {})",
                        call.method,
                        call.url,
                        posts + 1,
                        policy.max_attempts
                    );
                    self.inner.counters.retries.fetch_add(1, Ordering::Relaxed);
                }
                Err(f) => return Err(f.error),
            }
        }
    }

    async fn newest_new(
        &self,
        req: &wire::IntegrationRequest,
        before: &BTreeSet<u64>,
    ) -> Result<Option<wire::Integration>, ApiError> {
        let found = self.find_like(req).await?;
        let mut new: Vec<wire::Integration> = found
            .into_iter()
            .filter(|i| i.id.is_some_and(|id| !before.contains(&id)))
            .collect();
        if new.len() > 1 {
            warn!(
                "{} integrations matching the create appeared meanwhile; adopting the newest",
                new.len()
            );
        }
        new.sort_by_key(|i| i.id);
        Ok(new.pop())
    }
}

/// Whether a listed integration is the one `req` creates: same type and normalised origin;
/// then same group and display name (when both have one), or, when the site does not show the
/// integration's group (GIJ's documented answers never do; only the `group` extension does),
/// the display name gijctl set on create, which must be there and equal.
///
/// Without a group the display name is the one thing left that tells this creation from
/// another of the same service and host, and validate keeps display names unique within a
/// config. The limit (docs/api.md, "Duplicate-safe create"): an integration somebody else made
/// on the site with the same type, origin and display name but another owner is taken for
/// this one (before the create, a refusal to create; after a lost answer, adopted).
fn matches_request(
    i: &wire::Integration,
    ty: Option<&str>,
    req: &wire::IntegrationRequest,
) -> bool {
    let eq_ci = |a: Option<&str>, b: Option<&str>| match (a, b) {
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        _ => false,
    };
    if ty.is_some() && !eq_ci(i.integration_type.as_deref(), ty) {
        return false;
    }
    if let Some(o) = &req.fields.origin {
        match &i.origin {
            Some(io) if normalize_origin(io) == normalize_origin(o) => {}
            _ => return false,
        }
    }
    match (req.fields.group.as_deref(), i.group.as_deref()) {
        (Some(want), Some(have)) if !have.trim().is_empty() => {
            if !want.eq_ignore_ascii_case(have) {
                return false;
            }
        }
        // The site does not say whose it is: only the display name can tell.
        (Some(_), _) => {
            return matches!(
                (&req.fields.display_name, &i.display_name),
                (Some(want), Some(have)) if same_name(want, have)
            );
        }
        (None, _) => {}
    }
    if let (Some(want), Some(have)) = (&req.fields.display_name, &i.display_name)
        && want != have
    {
        return false;
    }
    true
}

/// Display names compared as validate compares them for uniqueness: case and runs of spaces
/// ignored.
fn same_name(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    norm(a) == norm(b)
}

/// The pagination keys of a page without its items.
fn page_meta<R>(p: &wire::Page<R>) -> wire::Page<()> {
    wire::Page {
        success: p.success,
        integrations: None,
        repositories: None,
        start: p.start,
        limit: p.limit,
        size: p.size,
        total: p.total,
        is_last_page: p.is_last_page,
        next_page_start: p.next_page_start,
    }
}

/// A reqwest error's cause chain as one line, without reqwest's own outer message (which
/// repeats the URL already present in every [`ApiError`]).
fn chain(e: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        let t = s.to_string();
        if parts.last() != Some(&t) {
            parts.push(t);
        }
        src = s.source();
    }
    if parts.is_empty() {
        e.to_string()
    } else {
        parts.join(": ")
    }
}

/// The `<title>` of an HTML page (a login or proxy error page says what it is there).
fn html_title(text: &str) -> Option<&str> {
    let lower = text.to_ascii_lowercase();
    let open = lower.find("<title")?;
    let start = open + lower[open..].find('>')? + 1;
    let end = start + lower[start..].find("</title")?;
    let title = text.get(start..end)?.trim();
    (!title.is_empty()).then_some(title)
}

fn secs(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

impl Client {
    /// Checks that the integration and repository lists of one read agree
    /// ([`consistency::check_site`]).
    fn check_site(
        &self,
        integrations: &[wire::Integration],
        repositories: &[wire::SiteRepository],
    ) -> Result<(), ApiError> {
        consistency::check_site(integrations, repositories).map_err(|i| ApiError::Inconsistent {
            method: "GET".into(),
            url: self.url("rest/gitplugin/1.0/repository", &[]).to_string(),
            list: i.list,
            problem: i.problem,
        })
    }

    /// Every integration, in pages.
    async fn list_integrations(&self) -> Result<Vec<wire::Integration>, ApiError> {
        self.list_all(
            "rest/gitplugin/1.0/integration",
            Vec::new(),
            self.inner.integration_page,
            |p: wire::Page| p.integrations,
            |i| i.id,
        )
        .await
    }

    /// Every repository of the site, in pages, as the short [`wire::SiteRepository`].
    async fn list_repositories(&self) -> Result<Vec<wire::SiteRepository>, ApiError> {
        self.list_all(
            "rest/gitplugin/1.0/repository",
            Vec::new(),
            self.inner.repository_page,
            |p: wire::Page<wire::SiteRepository>| p.repositories,
            |r| Some(r.id),
        )
        .await
    }

    /// `integrations`, or the integration list read again when `repositories` names an
    /// integration it lacks. GIJ has no snapshot read: an integration created after its list
    /// was read shows up in a repository list read at the same time or later (an apply's own
    /// creations do this every few seconds). The list read after the repositories has every
    /// integration that owned one of them, unless it was deleted in between, which
    /// [`Self::check_site`] still refuses. One extra request, only when needed.
    async fn covering(
        &self,
        integrations: Vec<wire::Integration>,
        repositories: &[wire::SiteRepository],
    ) -> Result<Vec<wire::Integration>, ApiError> {
        if !consistency::names_unlisted_integration(&integrations, repositories) {
            return Ok(integrations);
        }
        debug!("a repository names an integration created after the list; reading the list again");
        self.list_integrations().await
    }

    /// Runs a whole read up to [`SITE_READS`] times while it is inconsistent: a list that
    /// changed while it was read (another apply, a person) reads consistently a moment later;
    /// a site that always answers inconsistently is refused after the last read.
    async fn consistent<F, Fut>(&self, what: &str, read: F) -> Result<LiveSite, ApiError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<LiveSite, ApiError>>,
    {
        let mut reads = 0;
        loop {
            reads += 1;
            match read().await {
                Err(ApiError::Inconsistent { list, problem, .. }) if reads < SITE_READS => {
                    warn!(
                        "{what}: the {list} read was inconsistent ({problem}); reading again \
                         (read {} of {SITE_READS})",
                        reads + 1
                    );
                }
                r => return r,
            }
        }
    }

    /// One read of the whole site; [`GijApi::read_site`] repeats it while it is inconsistent.
    /// Server info, projects, integrations and repositories at once, each list in pages fetched concurrently.
    /// Repository pages are decoded straight into [`wire::SiteRepository`]: on a site of
    /// 200,000 repositories the full entries would be most of a plan's peak memory.
    async fn read_site_once(&self) -> Result<LiveSite, ApiError> {
        let projects = async {
            let mut call = self.call(
                Method::GET,
                self.url("rest/api/2/project", &[]),
                "the Jira project API (is the endpoint the Jira base URL?)",
            );
            call.limit = LIST_BODY_LIMIT;
            let ans = self.execute(&call).await?;
            self.decode::<Vec<wire::Project>>(&call, &ans)
        };
        let server = async {
            let call = self.call(
                Method::GET,
                self.url("rest/api/2/serverInfo", &[]),
                "Jira's server info (is the endpoint the Jira base URL?)",
            );
            let ans = self.execute(&call).await?;
            self.decode::<wire::ServerInfo>(&call, &ans)
        };
        let (server, projects, integrations, mut repositories) = tokio::try_join!(
            server,
            projects,
            self.list_integrations(),
            self.list_repositories()
        )?;
        let integrations = self.covering(integrations, &repositories).await?;
        self.check_site(&integrations, &repositories)?;
        repositories.retain(|r| r.tracked_folder_id.is_some());
        Ok(LiveSite {
            server,
            projects,
            integrations,
            repositories,
        })
    }

    /// One [`GijApi::read_indexing`], which repeats it while it is inconsistent.
    async fn read_indexing_once(&self) -> Result<LiveSite, ApiError> {
        let mut integrations = self.list_integrations().await?;
        let derive = integrations
            .iter()
            .any(|i| i.disabled != Some(true) && i.indexing_state.is_none());
        let mut repositories = if derive {
            self.list_repositories().await?
        } else {
            Vec::new()
        };
        if derive {
            integrations = self.covering(integrations, &repositories).await?;
            self.check_site(&integrations, &repositories)?;
        }
        repositories.retain(|r| r.tracked_folder_id.is_some());
        Ok(LiveSite {
            server: wire::ServerInfo::default(),
            projects: Vec::new(),
            integrations,
            repositories,
        })
    }
}

impl GijApi for Client {
    /// Server info, projects, integrations and repositories, checked for consistency (read
    /// again, up to [`SITE_READS`] reads, while they are not).
    async fn read_site(&self) -> Result<LiveSite, ApiError> {
        self.consistent("reading the site", || self.read_site_once())
            .await
    }

    /// The integration list, plus the repository list only when an enabled integration comes
    /// without `indexingState` (plain GIJ): one request per integration page with the
    /// extension, and on plain GIJ, which ignores pagination, two requests. Checked like
    /// [`GijApi::read_site`]: an inconsistent read never leads to an enable.
    async fn read_indexing(&self) -> Result<LiveSite, ApiError> {
        self.consistent("reading the site's indexing", || self.read_indexing_once())
            .await
    }

    async fn repository_index_status(
        &self,
        repo_id: u64,
    ) -> Result<Option<wire::IndexStatus>, ApiError> {
        let call = self.call(
            Method::GET,
            self.url(
                &format!("{GIJ}/index.json"),
                &[("repoId", repo_id.to_string())],
            ),
            format!("the indexing status of repository {repo_id}"),
        );
        match self.execute(&call).await {
            Ok(ans) => self.decode(&call, &ans).map(Some),
            // Gone meanwhile, or a site without the endpoint: nothing to tell.
            Err(f) if f.error.is_not_found() => Ok(None),
            Err(f) => Err(f.error),
        }
    }

    async fn get_integration(&self, id: u64) -> Result<Option<wire::Integration>, ApiError> {
        let call = self.call(
            Method::GET,
            self.url(&format!("{GIJ}/integration/{id}"), &[]),
            format!("integration {id}"),
        );
        let ans = match self.execute(&call).await {
            Ok(a) => a,
            Err(f) if f.error.is_not_found() => return Ok(None),
            Err(f) => return Err(f.error),
        };
        // GIJ answers an unknown id with an empty `integration` array on some versions.
        let r: wire::IntegrationResponse = self.decode(&call, &ans)?;
        Ok(r.integration)
    }

    async fn list_repositories(
        &self,
        integration_id: u64,
    ) -> Result<Vec<wire::Repository>, ApiError> {
        let all = self
            .list_all(
                "rest/gitplugin/1.0/repository",
                vec![("trackedFolderId", integration_id.to_string())],
                self.inner.repository_page,
                |p: wire::Page| p.repositories,
                |r| Some(r.id),
            )
            .await?;
        // GIJ itself ignores the filter and returns every repository.
        Ok(all
            .into_iter()
            .filter(|r| r.tracked_folder_id == Some(integration_id))
            .collect())
    }

    async fn create_integration(
        &self,
        req: &wire::IntegrationRequest,
    ) -> Result<wire::Integration, ApiError> {
        let created = self.create(req).await?;
        let Some(mine) = created.id else {
            return Ok(created);
        };
        // Two applies that planned the same creation can both pass the pre-create check. After
        // creating, look again: the lowest id wins, and the loser deletes its own brand-new
        // integration and stops, so exactly one survives whatever the interleaving.
        let winner = self
            .find_like(req)
            .await?
            .iter()
            .filter_map(|i| i.id)
            .min()
            .unwrap_or(mine);
        if winner < mine {
            warn!(
                "integration {mine} duplicates integration {winner}, created at the same time \
                 by another apply; deleting {mine}"
            );
            self.delete_integration(mine).await?;
            return Err(ApiError::AlreadyExists {
                what: format!(
                    "a {} integration for `{}`",
                    req.integration_type.as_deref().unwrap_or("?"),
                    req.fields.group.as_deref().unwrap_or("")
                ),
                ids: winner.to_string(),
            });
        }
        Ok(created)
    }

    async fn update_integration(
        &self,
        id: u64,
        req: &wire::IntegrationRequest,
    ) -> Result<wire::Integration, ApiError> {
        let url = self.url(&format!("{GIJ}/integration/{id}"), &[]);
        let body = serde_json::to_vec(req).map_err(|e| ApiError::Decode {
            method: "PUT".into(),
            url: url.to_string(),
            message: format!("cannot encode the request: {e}"),
        })?;
        let mut call = self.call(Method::PUT, url, format!("integration {id}"));
        call.body = Some(body);
        let ans = self.execute(&call).await?;
        let r: wire::IntegrationResponse = self.decode(&call, &ans)?;
        match r.integration {
            Some(i) => Ok(i),
            // Some GIJ versions answer only `success`; read the stored state back.
            None => self
                .get_integration(id)
                .await?
                .ok_or_else(|| ApiError::NotFound {
                    method: "PUT".into(),
                    url: call.url.to_string(),
                    what: format!("integration {id}"),
                    message: "it disappeared right after the update".into(),
                }),
        }
    }

    async fn delete_integration(&self, id: u64) -> Result<(), ApiError> {
        let call = self.call(
            Method::DELETE,
            self.url(
                &format!("{GIJ}/integration/{id}"),
                &[("deleteFiles", "false".into())],
            ),
            format!("integration {id}"),
        );
        match self.execute(&call).await {
            Ok(ans) => self.decode::<wire::StatusResponse>(&call, &ans).map(|_| ()),
            // A 404 on a retry means an earlier attempt deleted it and its answer was lost.
            Err(f) if f.error.is_not_found() && f.attempts > 1 => {
                info!(
                    "{} {}: already gone after a retried delete; the first attempt deleted it",
                    call.method, call.url
                );
                Ok(())
            }
            Err(f) => Err(f.error),
        }
    }

    async fn set_disabled(&self, id: u64, disabled: bool) -> Result<(), ApiError> {
        let call = self.call(
            Method::PUT,
            self.url(
                &format!("{GIJ}/repository/{id}/disable"),
                &[("disable", disabled.to_string())],
            ),
            format!("integration or repository {id}"),
        );
        let ans = self.execute(&call).await?;
        self.decode::<wire::StatusResponse>(&call, &ans).map(|_| ())
    }
}

#[cfg(test)]
mod match_tests {
    use super::*;

    fn listed(json: &str) -> wire::Integration {
        serde_json::from_str(json).unwrap()
    }

    /// On GIJ's documented answers an integration has no `group`: the one gijctl created is
    /// known by its type, origin and display name; with a group, the group decides as before.
    #[test]
    fn without_a_group_the_display_name_tells() {
        let req = wire::IntegrationRequest {
            integration_type: Some("GITHUB".into()),
            fields: listed(
                r#"{"origin": "https://api.github.com", "group": "org-01",
                    "displayName": "GitHub · org-01"}"#,
            ),
            ..Default::default()
        };
        let ty = Some("GITHUB");
        let documented = listed(
            r#"{"id": 7, "integrationType": "GITHUB", "origin": "https://api.github.com/",
                "displayName": "GitHub · org-01"}"#,
        );
        assert!(matches_request(&documented, ty, &req));
        let other = listed(
            r#"{"id": 8, "integrationType": "GITHUB", "origin": "https://api.github.com",
                "displayName": "GitHub · org-02"}"#,
        );
        assert!(!matches_request(&other, ty, &req));
        let unnamed =
            listed(r#"{"id": 9, "integrationType": "GITHUB", "origin": "https://api.github.com"}"#);
        assert!(
            !matches_request(&unnamed, ty, &req),
            "nothing tells it is ours"
        );
        let elsewhere = listed(
            r#"{"id": 10, "integrationType": "GITHUB", "origin": "https://github.example.com",
                "displayName": "GitHub · org-01"}"#,
        );
        assert!(!matches_request(&elsewhere, ty, &req));
        let grouped = listed(
            r#"{"id": 11, "integrationType": "GITHUB", "origin": "https://api.github.com",
                "group": "ORG-01", "displayName": "GitHub · org-01"}"#,
        );
        assert!(matches_request(&grouped, ty, &req));
        let other_group = listed(
            r#"{"id": 12, "integrationType": "GITHUB", "origin": "https://api.github.com",
                "group": "org-02", "displayName": "GitHub · org-01"}"#,
        );
        assert!(
            !matches_request(&other_group, ty, &req),
            "the group decides"
        );
    }
}
