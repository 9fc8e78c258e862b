//! `gijctl import`: reads the live site and writes a gij.toml describing it, so that a plan
//! against the written file is empty. Most users start from an existing site.

use std::path::PathBuf;

use anyhow::Context as _;

use super::{Exit, Global};
use crate::api::GijApi as _;
use crate::api::client::Client;

/// Arguments of `gijctl import`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The GIJ site (Jira base URL)
    #[arg(long, env = "GIJ_URL", value_name = "URL")]
    pub endpoint: Option<String>,
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
    let client = Client::from_env(args.endpoint.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let site = runtime
        .block_on(client.read_site())
        .context("cannot read the live site")?;
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
