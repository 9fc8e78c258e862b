//! `gijctl drift`: a drift report for cron jobs, with one exit code per class (README.md):
//! 0 no drift, 2 managed drift, 7 undeclared integrations only, 8 ignored fields only,
//! 1 error. Integrations still indexing are listed but are not drift and leave the code alone
//! (`gijctl status` has an exit code for them). Nothing is changed.

use std::path::PathBuf;

use anyhow::Context as _;

use super::plan::Format;
use super::site::{ConnectArgs, connect, load_config, runtime};
use super::{Exit, Global};
use crate::plan::drift::{DriftClass, DriftReport};

/// Arguments of `gijctl drift`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The config file
    #[arg(short, long, default_value = "gij.toml", value_name = "FILE")]
    pub config: PathBuf,
    /// Where the site is
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Output format (json: schema/drift.schema.json)
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Also write the JSON report to FILE (for CI artifacts), whatever `--format` says
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Which integrations to report on
    #[command(flatten)]
    pub scope: super::guard::ScopeArgs,
}

/// The exit code of a report: one per class, the most important class present.
pub fn exit_for(report: &DriftReport) -> Exit {
    match report.class() {
        None => Exit::Ok,
        Some(DriftClass::Managed) => Exit::Changes,
        Some(DriftClass::Undeclared) => Exit::DriftUndeclared,
        Some(DriftClass::Ignored) => Exit::DriftIgnored,
    }
}

/// Runs the command.
pub fn run(g: &Global, args: Args) -> anyhow::Result<Exit> {
    let loaded = match load_config(&args.config) {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    let scope = args.scope.scope()?;
    let rt = runtime()?;
    let mut report = rt.block_on(async {
        let site = connect(&args.connect).await?;
        let r = async {
            let super::site::ReadLive { live, meta, .. } =
                super::site::read_live(&site, &loaded.path, &[&loaded.desired]).await?;
            anyhow::Ok(crate::plan::drift::drift(&loaded.desired, &live, meta)?)
        }
        .await;
        site.close().await?;
        r
    })?;
    if args.scope.given() {
        let declared: Vec<String> = loaded
            .desired
            .integrations
            .iter()
            .map(|d| d.key.clone())
            .collect();
        let left_out = report.narrow(&scope, &declared)?;
        if !g.quiet {
            anstream::eprintln!(
                "Scoped run: {left_out} integration(s) with drift left out by --only/--exclude"
            );
        }
    }
    if let Some(out) = &args.out {
        fs_err::write(
            out,
            super::for_output(&crate::render::drift::json(&report), true, false),
        )
        .with_context(|| format!("cannot write the drift report to `{}`", out.display()))?;
        if !g.quiet {
            anstream::eprintln!("Saved the drift report to `{}`", out.display());
        }
    }
    let text = match args.format {
        Format::Text => crate::render::drift::text(&report),
        Format::Json => crate::render::drift::json(&report),
        Format::Markdown => crate::render::drift::markdown(&report),
    };
    let text = super::for_output(&text, args.format == Format::Json, false);
    print!("{text}");
    Ok(exit_for(&report))
}
