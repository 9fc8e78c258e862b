//! `gijctl fmt`: rewrite gij.toml in canonical form, keeping comments.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::validate::diagnostics_color;
use super::{Exit, Global};
use crate::config::{diagnostic, fmt, load};

/// Arguments of `gijctl fmt`.
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
    /// Change nothing; exit 1 and show a diff when the file is not canonical
    #[arg(long)]
    pub check: bool,
}

/// Runs the command.
pub fn run(g: &Global, args: Args) -> anyhow::Result<Exit> {
    let name = args.config.display().to_string();
    let source = match load::read_source(&args.config) {
        Ok(s) => s,
        Err(p) => {
            anstream::eprint!(
                "{}",
                diagnostic::render(&[p], &name, "", &[], diagnostics_color(g))
            );
            return Ok(Exit::Error);
        }
    };
    let parsed = load::parse(&source);
    let formatted = match fmt::format(&source) {
        Ok(f) => f,
        Err(e) => {
            let p = diagnostic::Problem::at(
                e.span().unwrap_or(0..0),
                "here",
                format!(
                    "invalid TOML: {}",
                    e.message().lines().next().unwrap_or("syntax error")
                ),
            )
            .help("fix the syntax, then run `gijctl fmt` again");
            let out = diagnostic::render(
                &[p],
                &name,
                &parsed.masked_source,
                &parsed.secrets,
                diagnostics_color(g),
            );
            anstream::eprint!("{out}");
            return Ok(Exit::Error);
        }
    };
    if formatted == source {
        if !g.quiet && !args.check {
            anstream::eprintln!("{name}: already formatted");
        }
        return Ok(Exit::Ok);
    }
    if args.check {
        // Diff the masked texts so a pasted token never reaches the terminal.
        let masked_new = load::parse(&formatted).masked_source;
        let diff = similar::TextDiff::from_lines(&parsed.masked_source, &masked_new);
        let udiff = diff
            .unified_diff()
            .context_radius(2)
            .header(&name, &format!("{name} (formatted)"))
            .to_string();
        anstream::eprintln!("{name}: not formatted; run `gijctl fmt -c {name}`");
        anstream::eprint!("{}", load::scrub(&udiff, &parsed.secrets));
        return Ok(Exit::Error);
    }
    write_atomically(&args.config, &formatted).with_context(|| format!("cannot write `{name}`"))?;
    if !g.quiet {
        anstream::eprintln!("{name}: formatted");
    }
    Ok(Exit::Ok)
}

/// Writes through a temporary file in the same directory, then renames it over the target,
/// so an interrupted run never leaves a half-written config. Keeps the file's permissions.
fn write_atomically(path: &Path, contents: &str) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(contents.as_bytes())?;
    tmp.as_file().sync_all()?;
    if let Ok(meta) = std::fs::metadata(path) {
        std::fs::set_permissions(tmp.path(), meta.permissions())?;
    }
    tmp.persist(path)?;
    Ok(())
}
