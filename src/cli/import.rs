//! `gijctl import`.

use super::{Exit, Global};

/// Arguments of `gijctl import`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the command.
pub fn run(_g: &Global, _args: Args) -> anyhow::Result<Exit> {
    anyhow::bail!("`gijctl import` is not implemented yet")
}
