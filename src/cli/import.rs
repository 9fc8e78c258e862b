//! `gijctl import`: reads the live site and writes a gij.toml describing it, so that a plan
//! against the written file is empty. Most users start from an existing site.

use std::path::PathBuf;

use anyhow::Context as _;

use super::site::{ConnectArgs, connect, runtime};
use super::{Exit, Global};
use crate::api::GijApi as _;

/// Arguments of `gijctl import`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where the site is
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Where to write the config (`-` for stdout)
    #[arg(short, long, default_value = "gij.toml", value_name = "FILE")]
    pub output: PathBuf,
    /// Overwrite FILE if it exists
    #[arg(long)]
    pub force: bool,
    /// What to write: a gij.toml, or a JSON state snapshot for `gijctl runbook --state`
    #[arg(long, value_enum, default_value = "toml")]
    pub format: ImportFormat,
}

/// Output formats of `gijctl import`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportFormat {
    /// A gij.toml describing the site
    Toml,
    /// The site's state as a snapshot (docs/runbook.md), for `gijctl runbook --state/--check`
    Json,
}

/// Runs the command.
pub fn run(g: &Global, args: Args) -> anyhow::Result<Exit> {
    let to_stdout = args.output.as_os_str() == "-";
    if !to_stdout && !args.force && args.output.exists() {
        anyhow::bail!(
            "`{}` already exists; pass `--force` to overwrite it or `-o -` to print the config",
            args.output.display()
        );
    }
    let rt = runtime()?;
    let site = rt.block_on(async {
        let site = connect(&args.connect).await?;
        let r = site
            .client
            .read_site()
            .await
            .context("cannot read the live site");
        site.close().await?;
        r
    })?;
    if args.format == ImportFormat::Json {
        let text = super::for_output(
            &crate::runbook::snapshot::Snapshot::from_site(&site).to_json(),
            true,
            false,
        );
        if to_stdout {
            print!("{text}");
        } else {
            fs_err::write(&args.output, text)?;
            if !g.quiet {
                anstream::eprintln!(
                    "Wrote a state snapshot of {} integration(s) to `{}`; use it with `gijctl runbook --state {}`",
                    site.integrations.len(),
                    args.output.display(),
                    args.output.display()
                );
            }
        }
        return Ok(Exit::Ok);
    }
    let live = crate::plan::from_site(&site);
    let (text, notes) = crate::plan::import::to_toml(&live);
    // Server strings are already TOML-escaped (`toml_string`); a credential echoed in one
    // (a display name set to a token) is masked rather than written into the config.
    let text = super::for_output(&text, false, false);
    for n in notes.iter().chain(&live.warnings) {
        anstream::eprintln!("warning: {n}");
    }
    if to_stdout {
        print!("{text}");
    } else {
        fs_err::write(&args.output, text)?;
        if !g.quiet {
            anstream::eprintln!(
                "Wrote {} integration(s) to `{}`; set the `env:` credential variables, then run `gijctl plan -c {}`",
                live.integrations.len(),
                args.output.display(),
                args.output.display()
            );
        }
    }
    Ok(Exit::Ok)
}
