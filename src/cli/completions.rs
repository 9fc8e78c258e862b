//! `gijctl completions SHELL` and `gijctl man`: shell completions and man pages generated from
//! the clap definition, so they can never disagree with the real flags.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::CommandFactory as _;

use super::{Cli, Exit, Global};

/// Arguments of `gijctl completions`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell to generate completions for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Prints the completion script for `shell` to stdout.
pub fn run(_g: &Global, args: Args) -> anyhow::Result<Exit> {
    let mut cmd = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut cmd, "gijctl", &mut out);
    out.flush()?;
    Ok(Exit::Ok)
}

/// Arguments of `gijctl man`.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write gijctl.1 and one gijctl-<command>.1 per subcommand into DIR instead of printing
    /// gijctl.1 to stdout
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Renders one man page.
fn render(cmd: clap::Command) -> anyhow::Result<Vec<u8>> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut buf)
        .context("rendering the man page")?;
    Ok(buf)
}

/// Prints or writes the man pages.
pub fn run_man(g: &Global, args: ManArgs) -> anyhow::Result<Exit> {
    let mut cmd = Cli::command();
    cmd.build();
    let Some(dir) = args.dir else {
        let mut out = std::io::stdout().lock();
        out.write_all(&render(cmd)?)?;
        out.flush()?;
        return Ok(Exit::Ok);
    };
    fs_err::create_dir_all(&dir)?;
    let mut written = 0usize;
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        // After `build()`, a subcommand's display name is `gijctl-<name>` and its bin name
        // `gijctl <name>`, which is what its page's title and synopsis need.
        let man = clap_mangen::Man::new(sub.clone());
        let mut buf = Vec::new();
        man.render(&mut buf).context("rendering a man page")?;
        fs_err::write(dir.join(man.get_filename()), buf)?;
        written += 1;
    }
    fs_err::write(dir.join("gijctl.1"), render(cmd)?)?;
    written += 1;
    if !g.quiet {
        anstream::eprintln!("Wrote {written} man pages to `{}`", dir.display());
    }
    Ok(Exit::Ok)
}
