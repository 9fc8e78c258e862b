//! `gijctl schema`: print the JSON Schema of gij.toml to stdout.

use super::{Exit, Global};

/// Arguments of `gijctl schema`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the command.
pub fn run(_g: &Global, _args: Args) -> anyhow::Result<Exit> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(crate::config::schema::schema_json().as_bytes())?;
    out.flush()?;
    Ok(Exit::Ok)
}
