//! `gijctl apply`.

use super::{Exit, Global};

/// Arguments of `gijctl apply`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the command.
pub fn run(_g: &Global, _args: Args) -> anyhow::Result<Exit> {
    anyhow::bail!("`gijctl apply` is not implemented yet")
}
