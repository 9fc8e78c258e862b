//! `gijctl dev-server`: a local GIJ site over HTTP, faithful enough to test and demo gijctl.
//!
//! It implements the wire contract of docs/api.md (GIJ's documented integration API plus the
//! gijctl extensions) with asynchronous discovery and indexing driven by a virtual clock,
//! per-token rate limiting, admin/non-admin authentication and seeded fault injection. Tests
//! and `plan/apply --dev-server` start it in-process with [`DevServer::start`]; the CLI wraps
//! the same API. See docs/dev-server.md for the seed format and the indexing model.

mod admin;
pub mod catalog;
pub mod documented;
pub mod faults;
pub mod generate;
mod guard;
pub mod indexing;
pub mod ratelimit;
mod routes;
mod rules;
pub mod seed;
pub mod state;
mod views;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tower::ServiceExt;

pub use catalog::{Catalog, hash_secret};
pub use faults::{FaultConfig, FaultKind, ScriptedFault};
pub use generate::{GeneratedSite, SiteSpec, generate};
pub use indexing::{DEFAULT_COMMITS_PER_SEC, DEFAULT_SCAN_MS, indexing_ms};
pub use ratelimit::RateLimitConfig;
pub use seed::Seed;
pub use state::SiteState;

use crate::secret::Secret;
use faults::FaultState;
use ratelimit::RateLimiter;
use state::VirtualClock;

/// Errors starting, running or stopping the dev-server.
#[derive(Debug, thiserror::Error)]
pub enum DevServerError {
    /// A file could not be read or written.
    #[error("{what}")]
    Io {
        /// What was being done, with the path.
        what: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A seed or state file is not valid JSON of the expected shape.
    #[error("invalid {what}")]
    Json {
        /// Which document.
        what: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The bind error.
        #[source]
        source: std::io::Error,
    },
    /// The seed, state or settings are inconsistent.
    #[error("{0}")]
    Invalid(String),
}

/// Where the initial site comes from.
#[derive(Debug, Clone)]
pub enum SeedSource {
    /// A seed file (docs/dev-server.md).
    Path(PathBuf),
    /// An already parsed seed.
    Seed(Box<Seed>),
}

/// Everything the dev-server needs to start.
#[derive(Debug, Clone)]
pub struct DevServerConfig {
    /// Listen address; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Initial site when no state file exists yet; `None` starts empty.
    pub seed: Option<SeedSource>,
    /// State file: loaded when it exists (the seed is then ignored), saved on shutdown.
    pub state_file: Option<PathBuf>,
    /// Also save the state file after every mutating request.
    pub save_on_mutation: bool,
    /// Virtual seconds per real second; 0 freezes time (advance it with
    /// [`RunningServer::advance`] or `POST /_dev/clock/advance`).
    pub time_scale: f64,
    /// Tokens of Jira administrators; a random one is generated when empty.
    pub admin_tokens: Vec<Secret>,
    /// Tokens of ordinary Jira users (403 on admin-only endpoints).
    pub user_tokens: Vec<Secret>,
    /// Per-token rate limit.
    pub rate_limit: RateLimitConfig,
    /// Fault injection.
    pub faults: FaultConfig,
    /// Virtual milliseconds a discovery scan takes.
    pub scan_ms: i64,
    /// Indexing speed, commits per virtual second.
    pub commits_per_sec: f64,
    /// Which answers the server gives: today's extensions, or only what GIJ's and Jira's
    /// documentation show (docs/dev-server.md, "Profiles").
    pub profile: Profile,
}

/// What the dev-server answers: every gijctl extension (the default), or exactly and only what
/// GIJ's and Jira's documentation show, to test a client against a site that is no kinder than
/// a real one (issue 22).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// GIJ's API plus the gijctl extensions of docs/api.md (`[ext]`): paging, `group`,
    /// `authMethod`, `indexingState`, `indexingPercent`, `commits`, `X-RateLimit-Reset(-Ms)`,
    /// `Retry-After-Ms`, filters.
    #[default]
    Extended,
    /// Only GIJ's documented key sets and endpoints and Jira DC's documented authentication and
    /// rate-limit headers; no extension field, parameter or header anywhere.
    Documented,
}

impl Profile {
    /// The name used by `--profile`.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Extended => "extended",
            Profile::Documented => "documented",
        }
    }
}

impl Default for DevServerConfig {
    fn default() -> Self {
        DevServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            seed: None,
            state_file: None,
            save_on_mutation: false,
            time_scale: 1.0,
            admin_tokens: Vec::new(),
            user_tokens: Vec::new(),
            rate_limit: RateLimitConfig::default(),
            faults: FaultConfig::default(),
            scan_ms: DEFAULT_SCAN_MS,
            commits_per_sec: DEFAULT_COMMITS_PER_SEC,
            profile: Profile::Extended,
        }
    }
}

/// Request and indexing statistics (`GET /_dev/stats`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Requests to `/rest/...` since the last reset.
    pub total_requests: u64,
    /// Requests per `"METHOD /route/template"`.
    pub requests: BTreeMap<String, u64>,
    /// Real milliseconds spent answering `/rest/...` requests, summed over requests (concurrent
    /// requests overlap, so this can exceed the wall time): what the dev-server costs a client,
    /// without the client's own time (benches/bench_cli.sh reports it beside plan's wall time).
    #[serde(default)]
    pub handler_ms: f64,
    /// Requests answered 429.
    pub rate_limited: u64,
    /// Injected faults per kind (`error500`, `error502`, `error503`, `error429`, `drop`, `loseCreate`,
    /// `spike`).
    pub faults: BTreeMap<String, u64>,
    /// Largest number of integrations indexing at the same instant since the last reset.
    pub peak_indexing: u32,
    /// Integrations indexing now.
    pub current_indexing: u32,
    /// Virtual time of the last reset (epoch ms).
    pub since_ms: i64,
    /// Virtual time now (epoch ms).
    pub virtual_now_ms: i64,
}

#[derive(Debug, Default)]
struct Counters {
    total: u64,
    handler: std::time::Duration,
    requests: BTreeMap<String, u64>,
    rate_limited: u64,
    faults: BTreeMap<String, u64>,
    since_ms: i64,
}

/// State shared by every connection.
#[derive(Debug)]
struct Shared {
    site: Mutex<SiteState>,
    clock: VirtualClock,
    admin_hashes: Vec<String>,
    user_hashes: Vec<String>,
    limiter: Mutex<RateLimiter>,
    faults: Mutex<FaultState>,
    counters: Mutex<Counters>,
    state_file: Option<PathBuf>,
    save_on_mutation: bool,
    profile: Profile,
    /// Reindex threads started by `POST /rest/gitplugin/2.0/reindex` and the webhook URL.
    threads: Mutex<routes::Threads>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    fn stats(&self) -> Stats {
        let now = self.clock.now_ms();
        let c = lock(&self.counters);
        let (peak, current) = {
            let mut site = lock(&self.site);
            indexing::settle(&mut site, now);
            indexing::indexing_concurrency(&site.indexing_log, c.since_ms, now)
        };
        Stats {
            total_requests: c.total,
            handler_ms: c.handler.as_secs_f64() * 1e3,
            requests: c.requests.clone(),
            rate_limited: c.rate_limited,
            faults: c.faults.clone(),
            peak_indexing: peak,
            current_indexing: current,
            since_ms: c.since_ms,
            virtual_now_ms: now,
        }
    }

    fn reset_stats(&self) {
        let now = self.clock.now_ms();
        *lock(&self.counters) = Counters {
            since_ms: now,
            ..Counters::default()
        };
    }

    fn snapshot(&self) -> SiteState {
        let now = self.clock.now_ms();
        let mut site = lock(&self.site);
        indexing::settle(&mut site, now);
        site.clone()
    }

    fn save(&self) -> Result<(), DevServerError> {
        match &self.state_file {
            Some(p) => self.snapshot().save(p),
            None => Ok(()),
        }
    }
}

/// Per-connection handle that lets a handler close its connection without answering.
#[derive(Debug, Clone)]
struct ConnCtl(Arc<Notify>);

/// Entry point of the dev-server.
#[derive(Debug)]
pub struct DevServer;

impl DevServer {
    /// Loads the state (or seed), binds the listener and starts serving on the current tokio
    /// runtime. The server runs until [`RunningServer::shutdown`] (or the handle is dropped).
    pub async fn start(cfg: DevServerConfig) -> Result<RunningServer, DevServerError> {
        let real_now = state::real_epoch_ms();
        let existing = match &cfg.state_file {
            Some(p) if p.exists() => Some(SiteState::load(p)?),
            _ => None,
        };
        let (site, origin) = match existing {
            Some(s) => {
                let origin = s.virtual_now_ms.max(real_now);
                (s, origin)
            }
            None => {
                let seed = match &cfg.seed {
                    Some(SeedSource::Path(p)) => Seed::load(p)?,
                    Some(SeedSource::Seed(s)) => (**s).clone(),
                    None => Seed::default(),
                };
                (
                    seed.into_state(real_now, cfg.scan_ms, cfg.commits_per_sec)?,
                    real_now,
                )
            }
        };
        let clock = VirtualClock::new(origin, cfg.time_scale);
        let admin_token = match cfg.admin_tokens.first() {
            Some(t) => t.clone(),
            None => Secret::new(random_token()),
        };
        let mut admin_hashes: Vec<String> = cfg
            .admin_tokens
            .iter()
            .map(|t| hash_secret(t.expose()))
            .collect();
        if admin_hashes.is_empty() {
            admin_hashes.push(hash_secret(admin_token.expose()));
        }
        let listener =
            TcpListener::bind(cfg.listen)
                .await
                .map_err(|source| DevServerError::Bind {
                    addr: cfg.listen,
                    source,
                })?;
        let addr = listener
            .local_addr()
            .map_err(|source| DevServerError::Bind {
                addr: cfg.listen,
                source,
            })?;
        let shared = Arc::new(Shared {
            site: Mutex::new(site),
            counters: Mutex::new(Counters {
                since_ms: clock.now_ms(),
                ..Counters::default()
            }),
            clock,
            admin_hashes,
            user_hashes: cfg
                .user_tokens
                .iter()
                .map(|t| hash_secret(t.expose()))
                .collect(),
            limiter: Mutex::new(RateLimiter::new(cfg.rate_limit)),
            faults: Mutex::new(FaultState::new(cfg.faults.clone())),
            state_file: cfg.state_file.clone(),
            save_on_mutation: cfg.save_on_mutation,
            profile: cfg.profile,
            threads: Mutex::new(routes::Threads::default()),
        });
        let router = routes::router(shared.clone());
        let (tx, rx) = watch::channel(false);
        let task = tokio::spawn(serve(listener, router, rx));
        tracing::info!(%addr, "dev-server listening");
        Ok(RunningServer {
            shared,
            addr,
            admin_token,
            shutdown: tx,
            task: Some(task),
        })
    }
}

/// The site as `gijctl plan` would read it from a dev-server serving `site` at its virtual
/// time: what the criterion benchmarks of `plan::from_site` and `plan::plan` start from without
/// any HTTP in between.
pub fn live_site(site: &SiteState) -> crate::api::LiveSite {
    views::live_site(site, site.virtual_now_ms)
}

fn random_token() -> String {
    use rand::Rng;
    let bytes: [u8; 16] = rand::rng().random();
    format!("gijdev-{}", hex::encode(bytes))
}

async fn serve(listener: TcpListener, router: axum::Router, mut stop: watch::Receiver<bool>) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => break,
        };
        let (stream, _) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                continue;
            }
        };
        let kill = Arc::new(Notify::new());
        let ctl = ConnCtl(kill.clone());
        let router = router.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                req.extensions_mut().insert(ctl.clone());
                router.clone().oneshot(req.map(axum::body::Body::new))
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc);
            // Dropping the connection future closes the socket without an answer.
            tokio::select! {
                r = conn => if let Err(e) = r { tracing::debug!(error = %e, "connection ended") },
                _ = kill.notified() => tracing::debug!("connection dropped by fault injection"),
                _ = stop.changed() => {}
            }
        });
    }
}

/// A running dev-server. Dropping it stops serving without saving; call
/// [`RunningServer::shutdown`] to stop cleanly and save the state file.
#[derive(Debug)]
pub struct RunningServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    admin_token: Secret,
    shutdown: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl RunningServer {
    /// `http://IP:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The profile it serves.
    pub fn profile(&self) -> Profile {
        self.shared.profile
    }

    /// The path of the reindex webhook URL of a repository or integration (GIJ's
    /// `/rest/gitplugin/webhook/1.0/reindex/<secret_key>`).
    pub fn webhook_path(&self, id: u64) -> String {
        routes::webhook_path(id)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The first admin token (generated when none was configured).
    pub fn admin_token(&self) -> &Secret {
        &self.admin_token
    }

    /// Current statistics.
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// Resets request counters and starts a new peak-indexing window.
    pub fn reset_stats(&self) {
        self.shared.reset_stats();
    }

    /// A copy of the whole site as of now (what `--state` would save).
    pub fn state_snapshot(&self) -> SiteState {
        self.shared.snapshot()
    }

    /// Replaces the fault settings (and reseeds the fault RNG).
    pub fn set_faults(&self, faults: FaultConfig) {
        *lock(&self.shared.faults) = FaultState::new(faults);
    }

    /// Appends scripted faults to the current ones, keeping the random settings and the RNG
    /// where they are (a storm in the middle of a run, without reseeding the run's faults).
    pub fn script_faults(&self, faults: impl IntoIterator<Item = ScriptedFault>) {
        lock(&self.shared.faults).config.script.extend(faults);
    }

    /// Replaces the rate-limit settings (existing buckets are forgotten).
    pub fn set_rate_limit(&self, rl: RateLimitConfig) {
        *lock(&self.shared.limiter) = RateLimiter::new(rl);
    }

    /// Moves the virtual clock forward, e.g. to finish indexing in a test without sleeping.
    pub fn advance(&self, d: Duration) {
        self.shared.clock.advance(d);
    }

    /// The virtual time, epoch milliseconds.
    pub fn virtual_now_ms(&self) -> i64 {
        self.shared.clock.now_ms()
    }

    /// Saves the state file now (no-op without one).
    pub fn save(&self) -> Result<(), DevServerError> {
        self.shared.save()
    }

    /// Stops accepting, closes connections and saves the state file.
    pub async fn shutdown(mut self) -> Result<(), DevServerError> {
        let _ = self.shutdown.send(true);
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
        self.shared.save()
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}
