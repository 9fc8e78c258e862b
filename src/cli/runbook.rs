//! `gijctl runbook`: the plan as a checklist for GIJ's web UI, and `--check` of manual work.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::site::{ConnectArgs, connect, load_config, runtime};
use super::{Exit, Global};
use crate::api::{GijApi as _, LiveSite};
use crate::runbook::snapshot::{Discovered, Snapshot, discovered_from_seed};
use crate::runbook::{Edition, Inputs};

/// Output formats of `gijctl runbook`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Plain text with [ ] boxes (the default on a terminal)
    Text,
    /// A Markdown checklist for a pull request or an issue (the default otherwise)
    Markdown,
    /// The runbook document
    Json,
}

/// Arguments of `gijctl runbook`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The config file
    #[arg(short, long, default_value = "gij.toml", value_name = "FILE")]
    pub config: PathBuf,
    /// Where the site is (when the current state is read from the API)
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Read the current state from a snapshot file (`gijctl import --format json`) instead of
    /// the API
    #[arg(long, value_name = "FILE", conflicts_with_all = ["dev_server", "empty"])]
    pub state: Option<PathBuf>,
    /// Start from an empty site (a new GIJ installation)
    #[arg(long, conflicts_with = "dev_server")]
    pub empty: bool,
    /// Write for GIJ Cloud: refuse service/auth combinations Cloud does not offer
    #[arg(long)]
    pub cloud: bool,
    /// Output format (default: text on a terminal, Markdown otherwise)
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Read the state again from a snapshot FILE or a site URL and mark the steps done or
    /// open (exit 2 while steps are open)
    #[arg(long, value_name = "SNAPSHOT_OR_URL")]
    pub check: Option<String>,
    /// Delete live integrations the config does not declare (overrides `[apply] prune`)
    #[arg(long)]
    pub prune: bool,
    /// Integrations per wave (overrides `[apply] max-parallel-indexing`)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub max_parallel_indexing: Option<u32>,
    /// Which integrations the runbook covers
    #[command(flatten)]
    pub scope: super::guard::ScopeArgs,
}

/// Where the current state comes from.
enum Source {
    Snapshot(PathBuf),
    Empty,
    Api,
}

fn is_url(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    l.starts_with("https://") || l.starts_with("http://")
}

async fn read_api(connect_args: &ConnectArgs) -> anyhow::Result<(LiveSite, String)> {
    let site = connect(connect_args).await?;
    let r = site
        .client
        .read_site()
        .await
        .context("cannot read the live site");
    let endpoint = site.endpoint.clone();
    site.close().await?;
    Ok((r?, endpoint))
}

fn load_snapshot(path: &Path) -> anyhow::Result<Snapshot> {
    Ok(Snapshot::load(path)?)
}

/// Runs the command.
pub fn run(g: &Global, args: Args) -> anyhow::Result<Exit> {
    let loaded = match load_config(&args.config) {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    let source = if let Some(p) = &args.state {
        Source::Snapshot(p.clone())
    } else if args.empty {
        Source::Empty
    } else if args.connect.endpoint().is_some() || args.connect.dev_server.is_some() {
        Source::Api
    } else {
        anyhow::bail!(
            "no current state given: pass `--endpoint URL` (or set `GIJ_URL`) to read the site, \
             `--state FILE` for a snapshot (`gijctl import --format json`), or `--empty` for a \
             new site"
        );
    };
    let needs_runtime = matches!(source, Source::Api) || args.check.as_deref().is_some_and(is_url);
    let rt = if needs_runtime {
        Some(runtime()?)
    } else {
        None
    };

    let (site, mut discovered, state_label): (LiveSite, Vec<Discovered>, String) = match &source {
        Source::Snapshot(p) => {
            let snap = load_snapshot(p)?;
            let site = snap.site();
            (site, snap.discovered, format!("snapshot {}", p.display()))
        }
        Source::Empty => (LiveSite::default(), Vec::new(), "empty site".to_owned()),
        Source::Api => {
            let Some(rt) = &rt else {
                anyhow::bail!("internal: no runtime for the API");
            };
            let (site, endpoint) = rt.block_on(read_api(&args.connect))?;
            let mut discovered = Vec::new();
            if let Some(seed) = &args.connect.dev_server {
                let seed = crate::devserver::seed::Seed::load(seed)
                    .with_context(|| format!("reading the seed `{}`", seed.display()))?;
                discovered = discovered_from_seed(&seed);
            }
            let label = if args.connect.dev_server.is_some() {
                "embedded dev-server".to_owned()
            } else {
                format!("site {endpoint}")
            };
            (site, discovered, label)
        }
    };
    discovered.sort_by(|a, b| {
        (&a.integration_type, &a.origin, &a.group).cmp(&(&b.integration_type, &b.origin, &b.group))
    });
    let inputs = Inputs {
        desired: &loaded.desired,
        site: &site,
        discovered: &discovered,
        edition: if args.cloud {
            Edition::Cloud
        } else {
            Edition::DataCenter
        },
        config_label: args.config.display().to_string(),
        state_label,
        prune: args.prune,
        max_parallel_indexing: args.max_parallel_indexing,
        scope: args.scope.scope()?,
    };
    let mut book = crate::runbook::build(&inputs)?;
    for w in crate::plan::from_site(&site).warnings {
        if !g.quiet {
            anstream::eprintln!("warning: {w}");
        }
    }

    if let Some(check) = &args.check {
        let (now, label) = if is_url(check) {
            let Some(rt) = &rt else {
                anyhow::bail!("internal: no runtime for the API");
            };
            let mut c = args.connect.clone();
            c.endpoint = Some(check.clone());
            c.dev_server = None;
            c.dev_state = None;
            let (site, endpoint) = rt.block_on(read_api(&c))?;
            (site, format!("site {endpoint}"))
        } else {
            let snap = load_snapshot(Path::new(check))?;
            (snap.site(), format!("snapshot {check}"))
        };
        let live = crate::runbook::live_state(&loaded.desired, &now);
        crate::runbook::check::check(&mut book, &live, &label);
    }

    let format = args.format.unwrap_or_else(|| {
        if std::io::stdout().is_terminal() {
            Format::Text
        } else {
            Format::Markdown
        }
    });
    let text = match format {
        Format::Text => crate::runbook::render::text(&book),
        Format::Markdown => crate::runbook::render::markdown(&book),
        Format::Json => crate::runbook::render::json(&book),
    };
    let text = super::for_output(&text, format == Format::Json, false);
    print!("{text}");
    if !text.ends_with('\n') {
        println!();
    }
    let (_, open, _) = book.progress();
    Ok(if args.check.is_some() && open > 0 {
        Exit::Changes
    } else {
        Exit::Ok
    })
}
