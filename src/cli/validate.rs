//! `gijctl validate`.

use super::{Exit, Global};

/// Arguments of `gijctl validate`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the command.
pub fn run(_g: &Global, _args: Args) -> anyhow::Result<Exit> {
    anyhow::bail!("`gijctl validate` is not implemented yet")
}
