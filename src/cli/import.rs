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
    let live = crate::plan::from_site(&site);
    let (text, notes) = crate::plan::import::to_toml(&live);
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
