//! Connecting plan and apply to a site: a real GIJ site through `--endpoint`/`GIJ_URL`, or an
//! embedded dev-server when the user asks for one with `--dev-server SEED`.
//!
//! The dev-server is never a fallback: without `--dev-server`, a missing endpoint is an error,
//! and with it every run says loudly that it talks to a local simulation.

use std::path::PathBuf;

use anyhow::Context;

use super::Exit;
use crate::api::ApiError;
use crate::api::client::{Client, ClientConfig};
use crate::config::LoadedConfig;
use crate::devserver::{DevServer, DevServerConfig, RunningServer, SeedSource};

/// Where the site is and how to authenticate.
#[derive(Debug, Clone, clap::Args)]
pub struct ConnectArgs {
    /// Jira base URL of the GIJ site (https; http only for loopback) [default: $GIJ_URL]
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// Where the API token comes from: env:NAME or file:PATH
    #[arg(long, value_name = "REF", default_value = "env:GIJ_TOKEN")]
    pub token: String,
    /// Run against an embedded dev-server seeded from FILE instead of a real site (for demos
    /// and tests; nothing real is touched)
    #[arg(long, value_name = "SEED", conflicts_with = "endpoint")]
    pub dev_server: Option<PathBuf>,
    /// Dev-server state file: loaded if it exists, saved at exit (keeps the embedded site
    /// between runs)
    #[arg(long, value_name = "FILE", requires = "dev_server")]
    pub dev_state: Option<PathBuf>,
    /// Virtual seconds per real second in the embedded dev-server
    #[arg(
        long,
        value_name = "X",
        default_value_t = 200.0,
        requires = "dev_server"
    )]
    pub dev_time_scale: f64,
    /// Time limit of one HTTP request, from sending to the end of the answer, in seconds
    /// (a stalled or trickling server fails the attempt instead of hanging the run)
    #[arg(
        long,
        env = "GIJCTL_REQUEST_TIMEOUT",
        value_name = "SECS",
        default_value_t = 60.0,
        value_parser = positive_secs
    )]
    pub request_timeout: f64,
    /// Attempts per request, the first included (1 disables retries)
    #[arg(long, env = "GIJCTL_MAX_ATTEMPTS", value_name = "N", default_value_t = 6,
          value_parser = clap::value_parser!(u32).range(1..=20))]
    pub max_attempts: u32,
    /// Do not spread requests out when the site's rate-limit headers show its budget running
    /// low; only the 429 handling applies (for a site whose headers do not describe its real
    /// limit)
    #[arg(long)]
    pub no_pace: bool,
}

/// The environment variable that names the site when `--endpoint` is not given.
pub const URL_ENV: &str = "GIJ_URL";

impl ConnectArgs {
    /// The site the user named: `--endpoint`, else `GIJ_URL`. Read here rather than through
    /// clap's `env`, so that a `GIJ_URL` exported in the shell does not collide with an
    /// explicit `--dev-server` (clap would report a conflict with a flag nobody typed).
    pub fn endpoint(&self) -> Option<String> {
        self.endpoint
            .clone()
            .or_else(|| std::env::var(URL_ENV).ok().filter(|v| !v.trim().is_empty()))
    }

    /// Applies the client flags, for a real site and the embedded dev-server alike. One
    /// request's time budget (attempts, retry waits, pacing and rate-limit pauses together)
    /// is `--max-attempts` × `--request-timeout`; docs/api.md gives the worst case.
    fn tune(&self, c: &mut ClientConfig) {
        c.request_timeout = std::time::Duration::from_secs_f64(self.request_timeout);
        c.retry.max_attempts = self.max_attempts;
        c.retry.max_total = c.request_timeout.saturating_mul(self.max_attempts);
        c.pace.enabled = !self.no_pace;
    }
}

fn positive_secs(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 86_400.0 => Ok(v),
        _ => Err(format!(
            "`{s}` is not a number of seconds between 0 and 86400"
        )),
    }
}

/// A connected site: the client, plus the embedded dev-server that must outlive it.
pub struct Site {
    /// The API client.
    pub client: Client,
    /// The embedded dev-server, when one was asked for.
    pub dev: Option<RunningServer>,
    /// Where the site is, for plan metadata.
    pub endpoint: String,
    /// The endpoint half of the site's identity ([`crate::plan::model::SiteIdentity`]): the
    /// normalised URL, or `dev-server:SEED` for an embedded dev-server (its port changes
    /// every run, its seed and state file do not).
    pub identity: String,
}

impl Site {
    /// Stops the embedded dev-server (saving its state file).
    pub async fn close(self) -> anyhow::Result<()> {
        if let Some(dev) = self.dev {
            dev.shutdown()
                .await
                .context("stopping the embedded dev-server")?;
        }
        Ok(())
    }
}

/// Connects as the arguments say. Must run inside a tokio runtime.
pub async fn connect(args: &ConnectArgs) -> anyhow::Result<Site> {
    if let Some(seed) = &args.dev_server {
        let cfg = DevServerConfig {
            seed: Some(SeedSource::Path(seed.clone())),
            state_file: args.dev_state.clone(),
            time_scale: args.dev_time_scale,
            ..DevServerConfig::default()
        };
        let dev = DevServer::start(cfg).await.with_context(|| {
            format!("starting the embedded dev-server from `{}`", seed.display())
        })?;
        let endpoint = dev.base_url();
        if let Some(ignored) = args.endpoint() {
            anstream::eprintln!(
                "note: `--dev-server` given, so `{URL_ENV}` ({ignored}) is not used for this run"
            );
        }
        anstream::eprintln!(
            "note: using an embedded dev-server seeded from `{}` at {endpoint} (a local simulation, not a GIJ site)",
            seed.display()
        );
        let mut config = ClientConfig::new(endpoint.clone(), dev.admin_token().clone());
        args.tune(&mut config);
        let client = Client::new(config)?;
        let identity = match &args.dev_state {
            Some(state) => format!("dev-server:{} (state {})", seed.display(), state.display()),
            None => format!("dev-server:{}", seed.display()),
        };
        return Ok(Site {
            client,
            dev: Some(dev),
            endpoint,
            identity,
        });
    }
    let Some(endpoint) = args.endpoint() else {
        anyhow::bail!(
            "no GIJ site given: pass `--endpoint URL` or set `GIJ_URL` (or `--dev-server SEED` for a local simulation)"
        );
    };
    let client = Client::from_env_tuned(Some(&endpoint), Some(&args.token), |c| args.tune(c))?;
    let identity = crate::api::endpoint::Endpoint::parse(&endpoint)?.identity();
    Ok(Site {
        client,
        dev: None,
        endpoint,
        identity,
    })
}

/// Builds the multi-threaded runtime commands run on.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Loads and validates a config file; on error prints every diagnostic and returns exit 1.
pub fn load_config(path: &std::path::Path) -> Result<LoadedConfig, Exit> {
    crate::config::load(path).map_err(|e| {
        anstream::eprintln!("{e}");
        Exit::Error
    })
}

/// What a planning command reads from a site, converted.
pub struct ReadLive {
    /// The normalised live state.
    pub live: crate::plan::LiveState,
    /// The plan metadata that goes with it.
    pub meta: crate::plan::PlanMeta,
    /// Live indexing dates, for the policy rule on deleting long-indexing integrations.
    pub dates: crate::policy::IndexingDates,
    /// Which site this is (what a saved plan is bound to).
    pub site: crate::plan::model::SiteIdentity,
}

/// Reads the live site for a command that plans (plan, apply, drift, review) against the
/// declarations in `desired` (review plans two configs against one read), converts it and
/// prints the conversion's warnings; the wire objects are dropped here, as they are the
/// largest thing a plan would hold. Nothing is changed.
pub async fn read_live(
    site: &Site,
    config_path: &std::path::Path,
    desired: &[&crate::model::DesiredState],
) -> anyhow::Result<ReadLive> {
    let (wire, live) = read_for_plan(&site.client, site.client.endpoint(), desired)
        .await
        .context("cannot read the live site")?;
    let stats = site.client.stats();
    tracing::debug!("read the live site: {stats}");
    let dates = crate::policy::IndexingDates::from_site(&wire);
    let identity = crate::plan::model::SiteIdentity {
        endpoint: site.identity.clone(),
        base_url: wire.server.base_url.clone(),
        server_title: wire.server.server_title.clone(),
    };
    drop(wire);
    for w in &live.warnings {
        anstream::eprintln!("warning: {w}");
    }
    let meta = crate::plan::PlanMeta {
        gijctl_version: env!("CARGO_PKG_VERSION").to_owned(),
        created_at: Some(super::plan::now_rfc3339()),
        config_path: Some(config_path.display().to_string()),
        endpoint: Some(site.endpoint.clone()),
    };
    Ok(ReadLive {
        live,
        meta,
        dates,
        site: identity,
    })
}

/// Single-integration GETs a planning read keeps in flight at once: enough to hide the round
/// trip when many declarations set a filter, few enough to leave the client's own request slots
/// (and the site's rate limit, which the client paces) to everyone else.
const DETAIL_CONCURRENCY: usize = 8;

/// The live state a plan of `desired` needs: the whole-site read, converted, plus one
/// single-integration GET of each integration a declaration matches that sets a setting the
/// site's list does not carry ([`crate::plan::detail_reads`]), merged in
/// ([`crate::plan::merge_detail`]). A site whose list carries those settings, or a config that
/// sets none, costs no request beyond the whole-site read.
///
/// The GETs run [`DETAIL_CONCURRENCY`] at a time through `api`, so its retries and pacing
/// apply. An answer that does not describe the integration the list showed (another id,
/// service or origin, or none: deleted in between) means the site changed between the reads;
/// like any inconsistent read it is read again, whole, up to
/// [`crate::api::client::SITE_READS`] times, then refused with [`ApiError::Inconsistent`]:
/// never planned on.
pub async fn read_for_plan<A: crate::api::GijApi>(
    api: &A,
    endpoint: &crate::api::endpoint::Endpoint,
    desired: &[&crate::model::DesiredState],
) -> Result<(crate::api::LiveSite, crate::plan::LiveState), ApiError> {
    let mut reads = 0;
    loop {
        reads += 1;
        let wire = api.read_site().await?;
        let mut live = crate::plan::from_site(&wire);
        let ids = crate::plan::detail_reads(desired.iter().copied(), &live);
        match merge_details(api, &mut live, ids).await? {
            Ok(()) => {
                mark_unseen_failures(api, &wire, &mut live).await?;
                return Ok((wire, live));
            }
            Err(m) if reads < crate::api::client::SITE_READS => tracing::warn!(
                "reading the site: integration {}'s own answer disagrees with the list ({}); \
                 reading again (read {} of {})",
                m.id,
                m.problem,
                reads + 1,
                crate::api::client::SITE_READS
            ),
            Err(m) => {
                return Err(ApiError::Inconsistent {
                    method: "GET".into(),
                    url: endpoint
                        .url(&format!("rest/gitplugin/1.0/integration/{}", m.id), &[])
                        .to_string(),
                    list: "integration".into(),
                    problem: m.problem,
                });
            }
        }
    }
}

/// GETs each integration of `ids` ([`DETAIL_CONCURRENCY`] at a time) and merges its answer
/// into `live`; the inner error is the first answer that disagrees with the list.
async fn merge_details<A: crate::api::GijApi>(
    api: &A,
    live: &mut crate::plan::LiveState,
    ids: std::collections::BTreeSet<u64>,
) -> Result<Result<(), crate::plan::DetailMismatch>, ApiError> {
    if ids.is_empty() {
        return Ok(Ok(()));
    }
    tracing::debug!(
        "reading {} integration(s) one by one for settings the integration list lacks",
        ids.len()
    );
    let answers: Vec<(u64, Option<crate::api::wire::Integration>)> = {
        use futures_util::{StreamExt as _, TryStreamExt as _};
        futures_util::stream::iter(ids)
            .map(|id| async move { Ok::<_, ApiError>((id, api.get_integration(id).await?)) })
            .buffer_unordered(DETAIL_CONCURRENCY)
            .try_collect()
            .await?
    };
    Ok(answers
        .iter()
        .try_for_each(|(id, answer)| crate::plan::merge_detail(live, *id, answer.as_ref())))
}

/// Marks ERROR the integrations whose derived status says INDEXING while GIJ's `index.json`
/// reports a failed repository: on GIJ's documented lists (no `state`) a failed repository
/// looks like one still waiting, so without asking a plan or drift report would list a failed
/// integration as "still indexing" for ever. The same probe and decision as `status` and
/// apply's gate ([`crate::status::unseen_failure_probes`]); one request per such
/// integration, none on a site with the extension or once everything has indexed once.
async fn mark_unseen_failures<A: crate::api::GijApi>(
    api: &A,
    wire: &crate::api::LiveSite,
    live: &mut crate::plan::LiveState,
) -> Result<(), ApiError> {
    let probes = crate::status::unseen_failure_probes(wire, live);
    if probes.is_empty() {
        return Ok(());
    }
    let asked: Vec<u64> = probes.iter().map(|(_, repo)| *repo).collect();
    let answers = crate::apply::executor::index_errors_of(api, &asked).await?;
    crate::status::fold_index_answers(live, &probes, &answers);
    Ok(())
}
