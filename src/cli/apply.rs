//! `gijctl apply [PLANFILE]`: makes the site match gij.toml, settings first, then creations
//! and enables gated by indexing slots, deletions last.
//!
//! Without PLANFILE it computes a fresh plan, shows it and asks for confirmation (or takes
//! `--auto-approve`). With PLANFILE it executes a saved plan: saving it was the approval, and
//! each action whose live object or desired config changed since is refused as stale.

use std::collections::BTreeMap;
use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use super::plan::{Format, compute_scoped, render, use_color};
use super::site::{ConnectArgs, connect, load_config, runtime};
use super::{Exit, Global};
use crate::apply::eta::{SECS_PER_REPOSITORY, Tracker};
use crate::apply::events::{Display, Event, Reporter};
use crate::apply::executor::{ExecOptions, Outcome, execute};
use crate::apply::steps::prepare;
use crate::model::{IntegrationIndexing, OnTimeout};
use crate::plan::fingerprint::{TargetNote, check_target, stale_actions};
use crate::plan::model::Action;

/// Output of `gijctl apply`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ApplyFormat {
    /// The plan and progress for people
    Text,
    /// The NDJSON event stream on stdout (the plan goes to stderr)
    Json,
}

/// Arguments of `gijctl apply`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A plan saved with `gijctl plan --out FILE`; its actions run unless they went stale
    #[arg(value_name = "PLANFILE")]
    pub plan_file: Option<PathBuf>,
    /// The config file (default: the one the saved plan names, else gij.toml)
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where the site is
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Apply without asking (required when stdin is not a terminal)
    #[arg(long)]
    pub auto_approve: bool,
    /// Exit 2 when changes were applied (0: nothing to do)
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// With PLANFILE: refuse the whole plan if any action is stale
    #[arg(long, requires = "plan_file")]
    pub strict: bool,
    /// Integrations indexing at once (overrides `[apply] max-parallel-indexing`)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_parallel_indexing: Option<u32>,
    /// Per-integration indexing timeout, e.g. 30m, 4h or 1h30m (overrides `[apply]
    /// indexing-timeout`, same grammar; 1s to 30d)
    #[arg(long, value_name = "DURATION", value_parser = indexing_timeout)]
    pub indexing_timeout: Option<Duration>,
    /// On an indexing timeout, report it and go on instead of stopping
    #[arg(long)]
    pub continue_on_timeout: bool,
    /// How often indexing progress is polled [default: 5s; 100ms with --dev-server]
    #[arg(long, value_name = "DURATION", value_parser = poll_interval)]
    pub poll_interval: Option<Duration>,
    /// Delete live integrations the config does not declare (overrides `[apply] prune`)
    #[arg(long)]
    pub prune: bool,
    /// Send the credential of integration KEY again (can be repeated)
    #[arg(long, value_name = "KEY")]
    pub rotate: Vec<String>,
    /// Safety limits raised for this run (not with PLANFILE: record them with `plan --out`)
    #[command(flatten)]
    pub limits: super::guard::LimitArgs,
    /// Also write the NDJSON event stream to FILE
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value = "text")]
    pub format: ApplyFormat,
    /// Which integrations the run covers (not with PLANFILE: a saved plan keeps its scope)
    #[command(flatten)]
    pub scope: super::guard::ScopeArgs,
    /// Policy rules and exceptions (`--allow` not with PLANFILE: record it with `plan --out`)
    #[command(flatten)]
    pub policy: super::guard::PolicyArgs,
}

/// `--indexing-timeout`: gij.toml's grammar and range.
fn indexing_timeout(s: &str) -> Result<Duration, String> {
    crate::duration::parse_flag(s, crate::duration::INDEXING_TIMEOUT)
}

/// `--poll-interval`: gij.toml's grammar, a polling range.
pub(crate) fn poll_interval(s: &str) -> Result<Duration, String> {
    crate::duration::parse_flag(s, crate::duration::POLL_INTERVAL)
}

/// Runs the command.
pub fn run(g: &Global, args: Args) -> anyhow::Result<Exit> {
    let saved = match &args.plan_file {
        Some(p) => Some(
            crate::plan::file::read(p)
                .with_context(|| format!("cannot use the saved plan `{}`", p.display()))?,
        ),
        None => None,
    };
    let config_path = args
        .config
        .clone()
        .or_else(|| {
            saved
                .as_ref()
                .and_then(|p| p.meta.config_path.as_ref().map(PathBuf::from))
        })
        .unwrap_or_else(|| PathBuf::from("gij.toml"));
    if saved.is_some()
        && (args.scope.given()
            || !args.policy.allow.is_empty()
            || !args.limits.overrides().given().is_empty())
    {
        anstream::eprintln!(
            "error: `--only`, `--exclude`, `--allow` and `--max-deletes`/`--max-delete-percent`/`--max-update-percent` \
             belong to the plan: give them to `gijctl plan --out FILE`, whose saved plan keeps its scope and records \
             its approvals"
        );
        return Ok(Exit::Error);
    }
    let loaded = match load_config(&config_path) {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    let rules = match args.policy.rules(&loaded) {
        Ok(r) => r,
        Err(code) => return Ok(code),
    };
    let scope = args.scope.scope()?;
    let rt = runtime()?;
    rt.block_on(async move {
        let site = connect(&args.connect).await?;
        let r = apply(g, &args, saved, loaded, &site, &rules, &scope).await;
        site.close().await?;
        r
    })
}

async fn apply(
    g: &Global,
    args: &Args,
    saved: Option<crate::plan::model::Plan>,
    loaded: crate::config::LoadedConfig,
    site: &super::site::Site,
    rules: &crate::policy::Rules,
    scope: &crate::plan::scope::Scope,
) -> anyhow::Result<Exit> {
    let dev = site.dev.is_some();
    let planned = compute_scoped(
        site,
        loaded,
        &args.rotate,
        args.prune,
        args.max_parallel_indexing,
        scope,
    )
    .await?;
    let fresh = planned.plan;
    let live = planned.live;
    let loaded = planned.loaded;
    let dates = planned.dates;
    let policy = &loaded.desired.policy;

    // Which plan runs: the fresh one, or the saved one minus its stale actions, and only on
    // the site and config it was made for.
    let (plan, stale) = match saved {
        Some(saved) => {
            let Some(now) = &fresh.target else {
                anyhow::bail!("internal: the fresh plan is not bound to this site");
            };
            match check_target(&saved, now) {
                Err(why) => {
                    anstream::eprintln!("error: {why}; nothing was changed");
                    return Ok(Exit::WrongTarget);
                }
                Ok(TargetNote::Same) => {}
                Ok(TargetNote::MovedConfig { then }) => anstream::eprintln!(
                    "note: the plan was made from `{then}`; `{}` has the same content",
                    loaded.path.display()
                ),
                Ok(TargetNote::EditedConfig) => anstream::eprintln!(
                    "warning: `{}` changed since the plan was made; actions whose declaration changed are refused as stale",
                    loaded.path.display()
                ),
            }
            let stale = stale_actions(&saved, &loaded.desired, &live);
            (saved, stale)
        }
        None => (fresh, Vec::new()),
    };
    let json = args.format == ApplyFormat::Json;
    let color = use_color(g);
    let shown = render(&plan, Format::Text, color && !json);
    if json {
        anstream::eprint!("{shown}");
    } else {
        print!("{shown}");
        let _ = std::io::stdout().flush();
    }

    if !stale.is_empty() {
        anstream::eprintln!("\nStale actions (refused):");
        for s in &stale {
            anstream::eprintln!("  step {} `{}`: {}", s.step, s.key, s.reason);
        }
        if args.strict {
            anstream::eprintln!(
                "error: {} of {} actions are stale and `--strict` refuses the whole plan; nothing was changed. Run `gijctl plan --out FILE` again and review it",
                stale.len(),
                plan.actions.len()
            );
            return Ok(Exit::Stale);
        }
    }
    let stale_steps: std::collections::BTreeSet<u32> = stale.iter().map(|s| s.step).collect();
    let actions: Vec<&Action> = plan
        .actions
        .iter()
        .filter(|a| !stale_steps.contains(&a.step))
        .collect();
    if actions.is_empty() {
        anstream::eprintln!("\nNothing to apply.");
        return Ok(if stale.is_empty() {
            Exit::Ok
        } else {
            Exit::Stale
        });
    }

    // Policy rules and safety limits, before anything changes. A saved plan brings the
    // approvals recorded for it (and only for it); a fresh run takes the flags for this run
    // alone. Safety limits count the whole site, never the scope.
    let approvals = if args.plan_file.is_some() {
        super::guard::saved_approvals(&plan)
    } else {
        super::guard::Approvals {
            allow: args.policy.allow.iter().copied().collect(),
            limits: args.limits.overrides(),
        }
    };
    let running = crate::plan::model::Plan {
        actions: actions.iter().map(|a| (*a).clone()).collect(),
        ..plan.clone()
    };
    let scoped_keys: Option<std::collections::BTreeSet<&str>> = plan.scope.as_ref().map(|_| {
        plan.actions
            .iter()
            .map(|a| a.key.as_str())
            .chain(plan.unchanged.iter())
            .collect()
    });
    let in_scope = |k: &str| match &scoped_keys {
        Some(keys) => keys.contains(k),
        None => scope.contains(k, None),
    };
    let check = super::guard::Check {
        loaded: &loaded,
        live: &live,
        dates: &dates,
        plan: &running,
        in_scope: &in_scope,
    };
    let judgement = super::guard::judge(
        rules,
        &check,
        &approvals,
        super::plan::diag_color(g),
        g.quiet,
    );
    if let Some(code) = judgement.exit() {
        judgement.print_refusals("nothing was changed");
        return Ok(code);
    }
    for a in actions.iter().filter(|a| !a.risks.is_empty()) {
        let risks: Vec<&str> = a.risks.iter().map(|r| r.describe()).collect();
        anstream::eprintln!("warning: step {} `{}` {}", a.step, a.key, risks.join(", "));
    }

    let project_ids: BTreeMap<String, u64> = live
        .projects
        .keys()
        .filter_map(|k| live.projects.id_of(k).map(|id| (k.to_owned(), id)))
        .collect();
    // Every credential is read (once, all of them: each unreadable one is listed) and every
    // request built before the first change.
    let (steps, manual) = match prepare(&actions, &loaded.desired, &project_ids, &loaded.base_dir) {
        Ok(prepared) => prepared,
        Err(crate::apply::steps::PrepareError::Credentials(missing)) => {
            super::credentials::report(&loaded, &missing);
            return Ok(Exit::Error);
        }
        Err(e) => return Err(e.into()),
    };

    if args.plan_file.is_none() && !args.auto_approve && !confirm(actions.len())? {
        anstream::eprintln!("Apply cancelled; nothing was changed.");
        return Ok(Exit::Error);
    }

    let display = if g.quiet {
        Display::Silent
    } else if std::io::stderr().is_terminal() {
        Display::Bars
    } else {
        Display::Lines
    };
    let mut sinks: Vec<Box<dyn std::io::Write + Send>> = Vec::new();
    if let Some(path) = &args.events {
        let f = fs_err::File::create(path)?;
        sinks.push(Box::new(std::io::BufWriter::new(f)));
    }
    if json {
        sinks.push(Box::new(std::io::stdout()));
    }
    let ndjson: Option<Box<dyn std::io::Write + Send>> = match sinks.len() {
        0 => None,
        1 => sinks.pop(),
        _ => Some(Box::new(Tee(sinks))),
    };
    let mut reporter = Reporter::new(display, ndjson);
    let already_indexing: Vec<u64> = live
        .integrations
        .iter()
        .filter(|i| {
            matches!(
                i.indexing,
                IntegrationIndexing::Indexing | IntegrationIndexing::Scanning
            )
        })
        .map(|i| i.id)
        .collect();
    let max_parallel = args
        .max_parallel_indexing
        .unwrap_or(policy.max_parallel_indexing);
    if let Some(tracker) = eta_tracker(&plan, &actions, &steps, &already_indexing, max_parallel) {
        reporter = reporter.with_eta(tracker);
    }
    reporter.emit(Event::ApplyStart {
        actions: steps.len(),
        max_parallel_indexing: max_parallel,
        already_indexing: already_indexing.clone(),
    });
    let reporter = Arc::new(reporter);
    let opts = ExecOptions {
        max_parallel_indexing: max_parallel as usize,
        poll_interval: args.poll_interval.unwrap_or(if dev {
            Duration::from_millis(100)
        } else {
            Duration::from_secs(5)
        }),
        indexing_timeout: args
            .indexing_timeout
            .unwrap_or(Duration::from_secs(policy.indexing_timeout_secs)),
        on_timeout: if args.continue_on_timeout {
            OnTimeout::Continue
        } else {
            policy.on_timeout
        },
        settings_concurrency: 4,
    };
    // Plan step of each executor step (one plan action may become several steps).
    let step_of: BTreeMap<u32, u32> = steps.iter().map(|s| (s.seq, s.step)).collect();
    let client = site.client.clone();
    let report = match debug::panic_on_update() {
        Some(id) => {
            let api = Arc::new(debug::PanicOnUpdate { inner: client, id });
            execute(api, steps, already_indexing, opts, reporter.clone()).await
        }
        None => {
            let api = Arc::new(client);
            execute(api, steps, already_indexing, opts, reporter.clone()).await
        }
    };
    let (ok, failed, skipped) = report.counts();
    let stats = site.client.stats();
    let code = if report.stopped_on_timeout {
        Exit::IndexingTimeout
    } else if failed > 0 || skipped > 0 {
        Exit::Partial
    } else if !stale.is_empty() {
        Exit::Stale
    } else if args.detailed_exitcode {
        Exit::Changes
    } else {
        Exit::Ok
    };
    reporter.emit(Event::ApplyComplete {
        succeeded: ok,
        failed,
        not_attempted: skipped + stale.len(),
        exit_code: code as u8,
        requests: stats.requests,
        secs: reporter.elapsed().as_secs_f64(),
    });

    // The final account: what failed, what was not attempted, and what is left to a person.
    let mut problems = Vec::new();
    for (seq, (key, o)) in &report.outcomes {
        let step = step_of.get(seq).copied().unwrap_or(0);
        match o {
            Outcome::Failed(m) => problems.push(format!("  failed       step {step} `{key}`: {m}")),
            Outcome::TimedOut(id) => problems.push(format!(
                "  timed out    step {step} `{key}`: integration #{id} is still indexing; it keeps indexing on the site, run apply again later to continue"
            )),
            Outcome::NotAttempted(m) => problems.push(format!("  not attempted step {step} `{key}`: {m}")),
            Outcome::Succeeded(_) => {}
        }
    }
    if !problems.is_empty() {
        anstream::eprintln!("\n{}", problems.join("\n"));
    }
    if !manual.is_empty() {
        anstream::eprintln!("\nManual steps (gijctl cannot do these through the API):");
        for m in &manual {
            anstream::eprintln!("  step {} `{}`: {}", m.step, m.key, m.reason);
            for i in &m.instructions {
                anstream::eprintln!("    - {i}");
            }
        }
    }
    if stats.retries > 0 || stats.rate_limited > 0 || stats.paced_requests > 0 {
        anstream::eprintln!("note: {stats}");
    }
    Ok(code)
}

/// The overall-estimate tracker for this run: the indexing steps in the order the executor runs
/// them, each with its plan action's estimate (the plan's own default when it has none), and
/// the integrations already indexing with the plan's estimate of what they have left. `None`
/// when nothing will index.
fn eta_tracker(
    plan: &crate::plan::model::Plan,
    actions: &[&Action],
    steps: &[crate::apply::executor::Step],
    already_indexing: &[u64],
    slots: u32,
) -> Option<Tracker> {
    let estimate: BTreeMap<u32, Option<u64>> = actions
        .iter()
        .map(|a| (a.step, a.estimated_indexing_secs))
        .collect();
    let indexing: Vec<(u32, f64)> = steps
        .iter()
        .filter(|s| s.kind.starts_indexing())
        .map(|s| {
            let secs = estimate
                .get(&s.step)
                .copied()
                .flatten()
                .unwrap_or(SECS_PER_REPOSITORY);
            (s.step, secs as f64)
        })
        .collect();
    if indexing.is_empty() {
        return None;
    }
    let busy = already_indexing
        .iter()
        .map(|id| {
            plan.schedule
                .busy
                .iter()
                .find(|b| b.id == *id)
                .map_or(SECS_PER_REPOSITORY, |b| b.remaining_secs) as f64
        })
        .collect();
    Some(Tracker::new(slots as usize, busy, indexing))
}

/// Asks on the terminal; only `yes` approves.
fn confirm(n: usize) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "refusing to apply without confirmation: stdin is not a terminal; review the plan and pass `--auto-approve`"
        );
    }
    anstream::eprint!("\nApply these {n} actions? Only `yes` is accepted: ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim() == "yes")
}

/// A hidden fault for the CLI tests of a panicking worker, in the spirit of
/// `GIJCTL_DEBUG_FORCE_PANIC`: read here and nowhere else, and only wrapping the client when the
/// variable is set, so an ordinary run executes against the plain client.
mod debug {
    use crate::api::client::Client;
    use crate::api::{ApiError, GijApi, LiveSite, wire};

    /// Hidden: `GIJCTL_DEBUG_PANIC_ON_UPDATE=<id>` makes the settings update of integration
    /// `<id>` panic inside apply's worker task (tests of how a panicked step is reported).
    const PANIC_ON_UPDATE_ENV: &str = "GIJCTL_DEBUG_PANIC_ON_UPDATE";

    pub fn panic_on_update() -> Option<u64> {
        std::env::var(PANIC_ON_UPDATE_ENV).ok()?.trim().parse().ok()
    }

    /// The client, except that updating integration `id` panics.
    pub struct PanicOnUpdate {
        pub inner: Client,
        pub id: u64,
    }

    impl GijApi for PanicOnUpdate {
        async fn read_site(&self) -> Result<LiveSite, ApiError> {
            self.inner.read_site().await
        }
        async fn get_integration(&self, id: u64) -> Result<Option<wire::Integration>, ApiError> {
            self.inner.get_integration(id).await
        }
        async fn list_repositories(&self, id: u64) -> Result<Vec<wire::Repository>, ApiError> {
            self.inner.list_repositories(id).await
        }
        async fn create_integration(
            &self,
            req: &wire::IntegrationRequest,
        ) -> Result<wire::Integration, ApiError> {
            self.inner.create_integration(req).await
        }
        async fn update_integration(
            &self,
            id: u64,
            req: &wire::IntegrationRequest,
        ) -> Result<wire::Integration, ApiError> {
            if id == self.id {
                // The payload stands for what a real panic could carry: it must not be printed.
                panic!("{PANIC_ON_UPDATE_ENV}: payload-must-not-be-printed");
            }
            self.inner.update_integration(id, req).await
        }
        async fn delete_integration(&self, id: u64) -> Result<(), ApiError> {
            self.inner.delete_integration(id).await
        }
        async fn set_disabled(&self, id: u64, disabled: bool) -> Result<(), ApiError> {
            self.inner.set_disabled(id, disabled).await
        }
    }
}

/// Writes to several sinks (the events file and stdout).
struct Tee(Vec<Box<dyn std::io::Write + Send>>);

impl std::io::Write for Tee {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        for w in &mut self.0 {
            w.write_all(buf)?;
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        for w in &mut self.0 {
            w.flush()?;
        }
        Ok(())
    }
}
