//! `gijctl dev-server`.

use super::{Exit, Global};

/// Arguments of `gijctl dev-server`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the command.
pub fn run(_g: &Global, _args: Args) -> anyhow::Result<Exit> {
    anyhow::bail!("`gijctl dev-server` is not implemented yet")
}
