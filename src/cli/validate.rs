//! `gijctl validate`: check gij.toml offline and print every problem.

use std::path::PathBuf;

use super::{ColorWhen, Exit, Global};
use crate::config;

/// Arguments of `gijctl validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The config file
    #[arg(
        short,
        long = "config",
        value_name = "FILE",
        default_value = "gij.toml"
    )]
    pub config: PathBuf,
}

/// Whether diagnostics written to stderr should be coloured, honouring `--color`.
pub(crate) fn diagnostics_color(g: &Global) -> bool {
    match g.color {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        ColorWhen::Auto => config::diagnostic::stderr_wants_color(),
    }
}

/// Runs the command: exit 0 with a one-line summary, or exit 1 with every diagnostic.
pub fn run(g: &Global, args: Args) -> anyhow::Result<Exit> {
    match config::load(&args.config) {
        Ok(loaded) => {
            if !g.quiet {
                anstream::println!("{}", loaded.summary());
            }
            Ok(Exit::Ok)
        }
        Err(errors) => {
            anstream::eprint!("{}", errors.render(diagnostics_color(g)));
            let noun = if errors.count == 1 { "error" } else { "errors" };
            anstream::eprintln!("{}: {} {noun}", args.config.display(), errors.count);
            Ok(Exit::Error)
        }
    }
}
