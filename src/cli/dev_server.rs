//! `gijctl dev-server`: runs the local GIJ site of [`crate::devserver`] until SIGINT/SIGTERM.
//!
//! stdout carries exactly one line, the base URL, so scripts can read it; logs go to stderr.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;

use super::{Exit, Global};
use crate::devserver::{
    DevServer, DevServerConfig, FaultConfig, Profile, RateLimitConfig, SeedSource, SiteSpec,
    generate, indexing,
};
use crate::secret::Secret;

/// Arguments of `gijctl dev-server`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on; port 0 picks a free port
    #[arg(long, default_value = "127.0.0.1:8990", value_name = "ADDR")]
    listen: SocketAddr,
    /// State file: loaded if it exists, saved on exit (atomically)
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// Also save the state file after every change
    #[arg(long, requires = "state")]
    save_on_change: bool,
    /// Seed file describing the initial site (ignored when the state file exists)
    #[arg(long, value_name = "FILE", conflicts_with = "generate")]
    seed: Option<PathBuf>,
    /// Serve a generated benchmark site of INTEGRATIONS x REPOSITORIES (e.g. 10000x20)
    /// instead of a seed file (see BENCHMARKS.md)
    #[arg(long, value_name = "IxR")]
    generate: Option<SiteSpec>,
    /// With --generate: write the gij.toml that manages the generated site to FILE
    #[arg(long, value_name = "FILE", requires = "generate")]
    write_config: Option<PathBuf>,
    /// With --generate: write the generated seed to FILE
    #[arg(long, value_name = "FILE", requires = "generate")]
    write_seed: Option<PathBuf>,
    /// Virtual seconds per real second (10 makes indexing ten times faster; 0 freezes time)
    #[arg(long, default_value_t = 1.0, value_name = "X")]
    time_scale: f64,
    /// Indexing speed in commits per virtual second
    #[arg(long, default_value_t = indexing::DEFAULT_COMMITS_PER_SEC, value_name = "N")]
    commits_per_sec: f64,
    /// Virtual milliseconds a new integration spends listing its repositories
    #[arg(long, default_value_t = indexing::DEFAULT_SCAN_MS, value_name = "MS")]
    scan_ms: i64,
    /// API token of a Jira administrator (default: a random one, printed to stderr)
    #[arg(
        long,
        env = "GIJ_DEV_ADMIN_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    admin_token: Option<String>,
    /// API token of an ordinary Jira user (can be repeated)
    #[arg(long, value_name = "TOKEN")]
    user_token: Vec<String>,
    /// Which answers to give: `extended` (GIJ's API plus gijctl's extensions) or `documented`
    /// (exactly what GIJ's and Jira's documentation show; see docs/dev-server.md)
    #[arg(long, value_enum, default_value_t = ProfileArg::Extended, value_name = "PROFILE")]
    profile: ProfileArg,
    /// Rate-limit and fault-injection options (boxed: they are many).
    #[command(flatten)]
    tuning: Box<Tuning>,
}

/// `--profile` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ProfileArg {
    /// GIJ's API plus gijctl's extensions (docs/api.md `[ext]`)
    Extended,
    /// Only what GIJ's and Jira's documentation show
    Documented,
}

impl From<ProfileArg> for Profile {
    fn from(p: ProfileArg) -> Profile {
        match p {
            ProfileArg::Extended => Profile::Extended,
            ProfileArg::Documented => Profile::Documented,
        }
    }
}

/// Rate-limit and fault-injection options of `gijctl dev-server`.
#[derive(Debug, clap::Args)]
struct Tuning {
    /// Rate limit: burst size per API token (0 disables limiting)
    #[arg(long, default_value_t = RateLimitConfig::default().capacity, value_name = "N")]
    rate_capacity: u32,
    /// Rate limit: requests refilled per virtual second
    #[arg(long, default_value_t = RateLimitConfig::default().refill_per_sec, value_name = "N")]
    rate_refill: f64,
    /// Seed of the fault-injection RNG
    #[arg(long, default_value_t = 0, value_name = "N")]
    fault_seed: u64,
    /// Share of requests answered 500/502/503, 0 to 1
    #[arg(long, default_value_t = 0.0, value_name = "RATE")]
    fault_error_rate: f64,
    /// Real milliseconds added to every request
    #[arg(long, default_value_t = 0, value_name = "MS")]
    fault_latency_ms: u64,
    /// Share of requests that get a latency spike, 0 to 1
    #[arg(long, default_value_t = 0.0, value_name = "RATE")]
    fault_spike_rate: f64,
    /// Real milliseconds of a latency spike
    #[arg(long, default_value_t = 2000, value_name = "MS")]
    fault_spike_ms: u64,
    /// Share of connections closed without an answer, 0 to 1
    #[arg(long, default_value_t = 0.0, value_name = "RATE")]
    fault_drop_rate: f64,
    /// Share of creates that are applied but whose answer is lost, 0 to 1
    #[arg(long, default_value_t = 0.0, value_name = "RATE")]
    fault_lose_create_rate: f64,
    /// Retry-After of injected 503 answers, virtual milliseconds
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    fault_retry_after_ms: u64,
}

fn rate(name: &str, v: f64) -> anyhow::Result<f64> {
    anyhow::ensure!(
        (0.0..=1.0).contains(&v),
        "--{name} must be between 0 and 1, got {v}"
    );
    Ok(v)
}

/// Runs the command.
pub fn run(_g: &Global, args: Args) -> anyhow::Result<Exit> {
    let t = &args.tuning;
    anyhow::ensure!(
        args.time_scale.is_finite() && args.time_scale >= 0.0,
        "--time-scale must be 0 or more"
    );
    let faults = FaultConfig {
        seed: t.fault_seed,
        error_rate: rate("fault-error-rate", t.fault_error_rate)?,
        latency_ms: t.fault_latency_ms,
        spike_rate: rate("fault-spike-rate", t.fault_spike_rate)?,
        spike_ms: t.fault_spike_ms,
        drop_rate: rate("fault-drop-rate", t.fault_drop_rate)?,
        lose_create_rate: rate("fault-lose-create-rate", t.fault_lose_create_rate)?,
        retry_after_ms: t.fault_retry_after_ms,
        script: Vec::new(),
    };
    let generated = args.admin_token.is_none();
    let seed = match args.generate {
        Some(spec) => {
            let site = generate(spec);
            if let Some(p) = &args.write_config {
                fs_err::write(p, &site.config)?;
            }
            if let Some(p) = &args.write_seed {
                let text = serde_json::to_string_pretty(&site.seed)
                    .context("cannot serialise the generated seed")?;
                fs_err::write(p, text)?;
            }
            Some(SeedSource::Seed(Box::new(site.parsed_seed()?)))
        }
        None => args.seed.map(SeedSource::Path),
    };
    let cfg = DevServerConfig {
        listen: args.listen,
        seed,
        state_file: args.state,
        save_on_mutation: args.save_on_change,
        time_scale: args.time_scale,
        admin_tokens: args.admin_token.map(Secret::new).into_iter().collect(),
        user_tokens: args.user_token.into_iter().map(Secret::new).collect(),
        rate_limit: RateLimitConfig {
            capacity: t.rate_capacity,
            refill_per_sec: t.rate_refill,
        },
        faults,
        scan_ms: args.scan_ms,
        commits_per_sec: args.commits_per_sec,
        profile: args.profile.into(),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        // Listen for SIGTERM and SIGINT before anything tells the world the server is up: a
        // supervisor (or a test) that reads the URL line and stops the server at once must
        // find the state saved. Until a handler is installed, SIGTERM's default action kills
        // the process on the spot, and `tokio::signal::ctrl_c()` installs its handler only
        // when first polled, which is after the URL line.
        let signals = Signals::install()?;
        let server = DevServer::start(cfg).await?;
        if generated {
            // A throwaway token for a local test site; printing it is how the user learns it.
            anstream::eprintln!("dev-server admin token: {}", server.admin_token().expose());
        }
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{}", server.base_url()).context("cannot write to stdout")?;
            out.flush().context("cannot write to stdout")?;
        }
        tracing::info!("serving {}; stop with Ctrl-C", server.base_url());
        signals.wait().await;
        tracing::info!("stopping");
        server.shutdown().await?;
        anyhow::Ok(())
    })?;
    Ok(Exit::Ok)
}

/// The signals that stop the server, listened for from [`Signals::install`] on (not from the
/// first poll), so that none is lost between start-up and the wait.
#[cfg(unix)]
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn install() -> anyhow::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            term: signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?,
            int: signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?,
        })
    }

    /// Returns at the first SIGTERM or SIGINT received since [`Signals::install`].
    async fn wait(mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}

/// Elsewhere only Ctrl-C exists, and the handler is installed when `wait` is first polled
/// (this platform has no SIGTERM whose default action would kill the server before it).
#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn install() -> anyhow::Result<Signals> {
        Ok(Signals)
    }

    async fn wait(self) {
        let _ = tokio::signal::ctrl_c().await;
    }
}
