//! `gijctl plan`.

use super::{Exit, Global};

/// Arguments of `gijctl plan`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the command.
pub fn run(_g: &Global, _args: Args) -> anyhow::Result<Exit> {
    anyhow::bail!("`gijctl plan` is not implemented yet")
}
