//! `gijctl schema`.

use super::{Exit, Global};

/// Arguments of `gijctl schema`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the command.
pub fn run(_g: &Global, _args: Args) -> anyhow::Result<Exit> {
    anyhow::bail!("`gijctl schema` is not implemented yet")
}
