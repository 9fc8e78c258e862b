//! `gijctl fmt`.

use super::{Exit, Global};

/// Arguments of `gijctl fmt`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the command.
pub fn run(_g: &Global, _args: Args) -> anyhow::Result<Exit> {
    anyhow::bail!("`gijctl fmt` is not implemented yet")
}
