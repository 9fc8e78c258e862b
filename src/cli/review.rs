//! `gijctl review`: the three-way pull-request view. Given the base branch's config
//! (`--base`), the head branch's config (`--config`) and the live site, it separates the
//! changes the pull request makes, drift that was already there, conflicts (the pull request
//! asks for another value where the site drifted) and adoptions (the pull request accepts the
//! value the site drifted to). Nothing is changed.

use std::path::PathBuf;

use super::plan::Format;
use super::site::{ConnectArgs, connect, load_config, runtime};
use super::{Exit, Global};
use crate::plan::review::Review;

/// Arguments of `gijctl review`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The base branch's config (for example from `git show origin/main:gij.toml`)
    #[arg(long, value_name = "FILE")]
    pub base: PathBuf,
    /// The head branch's config (the pull request)
    #[arg(short, long, default_value = "gij.toml", value_name = "FILE")]
    pub config: PathBuf,
    /// Where the site is
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Output format (json: schema/review.schema.json; markdown: one pull-request comment)
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Exit 2 when the pull request changes the site, 9 when it asks for another value where
    /// the site drifted (0: neither, also when it only adopts drift; 1: error)
    #[arg(long)]
    pub detailed_exitcode: bool,
}

/// The exit code of a review under `--detailed-exitcode`. Adopting drift is 0: the pull
/// request changes nothing on the site (so not 2) and decides nothing against it (so not 9);
/// a code of its own would fail every pipeline that accepts 0, 2 and 9 (the recipes in
/// `examples/ci/`) for a pull request that needs no decision. It is shown in its own section.
pub fn exit_for(review: &Review) -> Exit {
    if !review.conflicts.is_empty() {
        Exit::ReviewConflicts
    } else if review.has_changes() {
        Exit::Changes
    } else {
        Exit::Ok
    }
}

/// Runs the command.
pub fn run(_g: &Global, args: Args) -> anyhow::Result<Exit> {
    let base = match load_config(&args.base) {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    let head = match load_config(&args.config) {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    let rt = runtime()?;
    let review = rt.block_on(async {
        let site = connect(&args.connect).await?;
        let r = async {
            let super::site::ReadLive { live, meta, .. } =
                super::site::read_live(&site, &head.path, &[&base.desired, &head.desired]).await?;
            anyhow::Ok(crate::plan::review::review(
                &base.desired,
                &head.desired,
                &live,
                &base.path.display().to_string(),
                meta,
            )?)
        }
        .await;
        site.close().await?;
        r
    })?;
    let text = match args.format {
        Format::Text => crate::render::review::text(&review),
        Format::Json => crate::render::review::json(&review),
        Format::Markdown => crate::render::review::markdown(&review),
    };
    let text = super::for_output(&text, args.format == Format::Json, false);
    print!("{text}");
    Ok(if args.detailed_exitcode {
        exit_for(&review)
    } else {
        Exit::Ok
    })
}
