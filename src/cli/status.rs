//! `gijctl status`: where each integration's indexing is, like `kubectl rollout status`. One
//! look by default; `--watch` polls until nothing scans or indexes any more. Read-only: it only
//! ever sends GETs. The report itself is [`crate::status`]; this file reads the site, picks the
//! integrations to show and draws. Besides the whole-site read it asks GIJ's `index.json`
//! once per integration that may have failed unseen or is in ERROR
//! ([`crate::status::index_probes`]), a few at a time.
//!
//! Exit codes (README.md): 0 done, 12 still scanning or indexing, 13 nothing running but an
//! indexing error, 1 error.

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;

use super::site::{ConnectArgs, Site, connect, load_config, runtime};
use super::{Exit, Global};
use crate::api::GijApi as _;
use crate::config::LoadedConfig;
use crate::status::{Observations, Outcome, StatusReport, Subjects};

/// Output formats of `gijctl status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One line per integration
    Text,
    /// The versioned status document (schema/status.schema.json)
    Json,
}

/// Arguments of `gijctl status`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Show the integrations this config declares, by key [default: gij.toml when it exists;
    /// without one, every live integration by id]
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where the site is
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Output format (with --watch, json prints the final report only)
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Poll until nothing scans or indexes any more; redraws on a terminal, prints a line per
    /// change otherwise
    #[arg(short, long)]
    pub watch: bool,
    /// With --watch: how often to read the site [default: 5s; 100ms with --dev-server]
    #[arg(long, value_name = "DURATION", value_parser = super::apply::poll_interval, requires = "watch")]
    pub poll_interval: Option<Duration>,
    /// With --watch: give up after DURATION (exit 12 if still indexing)
    #[arg(long, value_name = "DURATION", value_parser = watch_timeout, requires = "watch")]
    pub timeout: Option<Duration>,
}

/// The exit code of a report.
pub fn exit_for(r: &StatusReport) -> Exit {
    match r.outcome() {
        Outcome::Done => Exit::Ok,
        Outcome::Running => Exit::StillIndexing,
        Outcome::Failed => Exit::IndexingFailed,
    }
}

/// The config to name integrations by: `-c FILE` (which must load), else `gij.toml` when it
/// exists here, else none.
fn config(args: &Args) -> Result<Option<LoadedConfig>, Exit> {
    let path = match &args.config {
        Some(p) => p.clone(),
        None => {
            let default = PathBuf::from("gij.toml");
            if !default.exists() {
                return Ok(None);
            }
            default
        }
    };
    load_config(&path).map(Some)
}

/// One read of the site, turned into a report. Warnings of the conversion are printed the
/// first time only (`warn`), so a watch does not repeat them every poll.
async fn look(
    site: &Site,
    loaded: Option<&LoadedConfig>,
    seen: &mut Observations,
    started: tokio::time::Instant,
    warn: bool,
) -> anyhow::Result<StatusReport> {
    let wire = site
        .client
        .read_site()
        .await
        .context("cannot read the live site")?;
    let mut live = crate::plan::from_site(&wire);
    let since_created = crate::status::initial_indexing_since(&wire);
    // On plain GIJ a failed repository looks queued; GIJ's index.json tells, as apply's wait
    // and gate ask it (and where the extension says ERROR, it has the error texts).
    let probes = crate::status::index_probes(&wire, &live);
    drop(wire);
    let asked: Vec<u64> = probes.iter().map(|(_, id)| *id).collect();
    let answers = crate::apply::executor::index_errors_of(&site.client, &asked)
        .await
        .context("cannot read the indexing status of the live site")?;
    let failures = crate::status::fold_index_answers(&mut live, &probes, &answers);
    if warn {
        for w in &live.warnings {
            anstream::eprintln!("warning: {w}");
        }
    }
    let subjects = match loaded {
        Some(l) => {
            let (_, ids) =
                crate::plan::plan_matched(&l.desired, &live, &crate::plan::PlanOptions::default())?;
            Subjects::Declared(
                l.desired
                    .integrations
                    .iter()
                    .map(|d| d.key.clone())
                    .zip(ids)
                    .collect(),
            )
        }
        None => Subjects::AllLive,
    };
    let now = started.elapsed().as_secs_f64();
    seen.observe(&live, now, epoch_ms());
    let meta = crate::plan::PlanMeta {
        gijctl_version: env!("CARGO_PKG_VERSION").to_owned(),
        created_at: Some(super::plan::now_rfc3339()),
        config_path: loaded.map(|l| l.path.display().to_string()),
        endpoint: Some(site.endpoint.clone()),
    };
    Ok(crate::status::report(
        &subjects,
        &live,
        &since_created,
        &failures,
        seen,
        now,
        meta,
    ))
}

fn epoch_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Runs the command.
pub fn run(g: &Global, args: Args) -> anyhow::Result<Exit> {
    let loaded = match config(&args) {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    let poll = args
        .poll_interval
        .unwrap_or(if args.connect.dev_server.is_some() {
            Duration::from_millis(100)
        } else {
            Duration::from_secs(5)
        });
    let redraw = args.format == Format::Text && std::io::stdout().is_terminal();
    let rt = runtime()?;
    let report = rt.block_on(async {
        let site = connect(&args.connect).await?;
        let r = async {
            let started = tokio::time::Instant::now();
            let mut seen = Observations::default();
            let mut report = look(&site, loaded.as_ref(), &mut seen, started, true).await?;
            if !args.watch {
                return anyhow::Ok(report);
            }
            let mut drawn = 0usize;
            let mut prev: Option<StatusReport> = None;
            loop {
                if args.format == Format::Text {
                    drawn = draw(&report, prev.as_ref(), redraw, drawn);
                }
                if report.outcome() != Outcome::Running
                    || args.timeout.is_some_and(|t| started.elapsed() >= t)
                {
                    return Ok(report);
                }
                tokio::time::sleep(poll).await;
                prev = Some(report);
                report = look(&site, loaded.as_ref(), &mut seen, started, false).await?;
            }
        }
        .await;
        site.close().await?;
        r
    })?;
    match (args.format, args.watch) {
        (Format::Json, _) => print!(
            "{}",
            super::for_output(&crate::render::status::json(&report), true, false)
        ),
        (Format::Text, false) => print!(
            "{}",
            super::for_output(&crate::render::status::text(&report), false, false)
        ),
        // On a terminal the last drawing ends with the verdict; off one, the change lines
        // are closed by it.
        (Format::Text, true) => {
            if !redraw && !g.quiet {
                println!(
                    "{}",
                    super::for_terminal(&crate::render::status::verdict(&report), false)
                );
            }
        }
    }
    Ok(exit_for(&report))
}

/// Shows one poll of `--watch`: on a terminal, the whole report in place of the previous one
/// (`drawn` lines, moved over and cleared); elsewhere, one line per integration that changed.
/// Returns the lines now on screen.
fn draw(report: &StatusReport, prev: Option<&StatusReport>, redraw: bool, drawn: usize) -> usize {
    let mut stdout = std::io::stdout().lock();
    if redraw {
        let text = super::for_terminal(&crate::render::status::text(report), false);
        if drawn > 0 {
            // Up `drawn` lines to the first column, then clear to the end of the screen.
            let _ = write!(stdout, "\x1b[{drawn}F\x1b[J");
        }
        let _ = write!(stdout, "{text}");
        let _ = stdout.flush();
        return text.lines().count();
    }
    let changed = crate::status::changed(prev, report);
    let lines = crate::render::status::change_lines(&changed);
    let _ = write!(stdout, "{}", super::for_terminal(&lines, false));
    let _ = stdout.flush();
    0
}

/// `--timeout`: gij.toml's duration grammar, 1ms to 30d.
fn watch_timeout(s: &str) -> Result<Duration, String> {
    crate::duration::parse_flag(s, crate::duration::WATCH_TIMEOUT)
}
