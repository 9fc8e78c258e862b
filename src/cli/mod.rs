//! The command line: clap definitions, dispatch, error printing and exit codes.
//!
//! Each subcommand lives in its own file with an `Args` struct and a `run` function. stdout
//! carries data only (plans, schemas, formatted files); everything else goes to stderr.

mod apply;
mod completions;
mod credentials;
mod dev_server;
mod drift;
mod fmt;
pub mod guard;
mod import;
mod plan;
mod review;
mod runbook;
mod schema;
pub mod site;
mod status;
mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit codes, documented in README.md. Stable: scripts depend on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Success; for plan: no changes.
    Ok = 0,
    /// Any error (bad input, API failure); nothing was changed unless stated.
    Error = 1,
    /// With `--detailed-exitcode`: changes are present (plan) or were made (apply).
    Changes = 2,
    /// A safety limit would be exceeded and no flag raises it: plan saves nothing, apply
    /// refuses before any change.
    SafetyRefused = 3,
    /// apply finished with some actions failed or not attempted.
    Partial = 4,
    /// apply of a saved plan refused stale actions.
    Stale = 5,
    /// apply stopped because an integration's indexing exceeded its timeout.
    IndexingTimeout = 6,
    /// drift: undeclared live integrations, and no managed drift.
    DriftUndeclared = 7,
    /// drift: only ignored fields differ from the config.
    DriftIgnored = 8,
    /// review with `--detailed-exitcode`: the pull request asks for another value where the
    /// site drifted (adopting the drifted value is not a conflict: 0).
    ReviewConflicts = 9,
    /// A policy rule is violated and no `--allow` approves it: plan saves nothing, apply
    /// refuses before any change.
    PolicyRefused = 10,
    /// apply of a saved plan refused before any change: the plan was made against another
    /// site, or from another config.
    WrongTarget = 11,
    /// status: some integration is still scanning or indexing (with `--watch`: when
    /// `--timeout` ran out first).
    StillIndexing = 12,
    /// status: nothing scans or indexes any more, but some integration reports an indexing
    /// error.
    IndexingFailed = 13,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

/// Options shared by every command.
#[derive(Debug, Clone, clap::Args)]
pub struct Global {
    /// When to use colour: auto (TTY and no NO_COLOR), always, never
    #[arg(long, global = true, default_value = "auto", value_name = "WHEN")]
    pub color: ColorWhen,
    /// Print less: only results and errors
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Print more: -v for debug logs, -vv for trace
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// `--color` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorWhen {
    /// Colour on a terminal unless NO_COLOR is set.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// `--version`: the package version and, when built from Git, the commit (see build.rs).
const VERSION: &str = env!("GIJCTL_LONG_VERSION");

/// Configuration as code for GitKraken's Git Integration for Jira
#[derive(Debug, Parser)]
#[command(name = "gijctl", version = VERSION, about, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check gij.toml offline and report every problem
    Validate(validate::Args),
    /// Print the JSON Schema of gij.toml
    Schema(schema::Args),
    /// Rewrite gij.toml in canonical form, keeping comments
    Fmt(fmt::Args),
    /// Show what apply would change on the site
    Plan(plan::Args),
    /// Make the site match gij.toml, in batches gated by indexing
    Apply(apply::Args),
    /// Write a gij.toml that describes the live site
    Import(import::Args),
    /// Print the plan as a checklist for GIJ's web UI (Cloud, OAuth); --check verifies it
    Runbook(runbook::Args),
    /// Run a local GIJ API for tests, demos and benchmarks
    DevServer(dev_server::Args),
    /// Report drift between the site and gij.toml, with one exit code per class (for cron)
    Drift(drift::Args),
    /// Three-way pull-request view: changes the PR makes, drift already there, conflicts
    Review(review::Args),
    /// Show indexing progress per integration; --watch waits until nothing indexes (read-only)
    Status(status::Args),
    /// Print shell completions (bash, zsh, fish, elvish, powershell)
    Completions(completions::Args),
    /// Print the man page, or write all of them into a directory
    Man(completions::ManArgs),
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // clap uses 2 for usage errors, which collides with "changes present".
            let code = if e.use_stderr() {
                Exit::Error
            } else {
                Exit::Ok
            };
            let _ = e.print();
            return code.into();
        }
    };
    init_logging(&cli.global);
    install_panic_hook();
    let global = cli.global;
    let command = cli.command;
    let result = std::panic::catch_unwind(move || {
        if std::env::var_os(FORCE_PANIC_ENV).is_some_and(|v| !v.is_empty()) {
            // Lets the secrets suite prove that a panic payload is never printed.
            let payload = std::env::var(FORCE_PANIC_ENV).unwrap_or_default();
            panic!("forced by {FORCE_PANIC_ENV}: {payload}");
        }
        match command {
            Command::Validate(a) => validate::run(&global, a),
            Command::Schema(a) => schema::run(&global, a),
            Command::Fmt(a) => fmt::run(&global, a),
            Command::Plan(a) => plan::run(&global, a),
            Command::Apply(a) => apply::run(&global, a),
            Command::Import(a) => import::run(&global, a),
            Command::Runbook(a) => runbook::run(&global, a),
            Command::DevServer(a) => dev_server::run(&global, a),
            Command::Drift(a) => drift::run(&global, a),
            Command::Review(a) => review::run(&global, a),
            Command::Status(a) => status::run(&global, a),
            Command::Completions(a) => completions::run(&global, a),
            Command::Man(a) => completions::run_man(&global, a),
        }
    });
    match result {
        Ok(Ok(code)) => code.into(),
        Ok(Err(e)) => {
            report_error(&e);
            Exit::Error.into()
        }
        // The hook already printed the short report.
        Err(_) => Exit::Error.into(),
    }
}

/// Hidden: set to any non-empty value to make gijctl panic on purpose (tests of the hook).
const FORCE_PANIC_ENV: &str = "GIJCTL_DEBUG_FORCE_PANIC";

/// Replaces the default panic message, which prints the payload (a `Debug` of whatever value
/// was involved, possibly holding a token), with a short report: where, never what. Also makes
/// a panic exit 1 like any other error (through `catch_unwind` in [`main`]).
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!(
                "error: internal error in gijctl {}{at}; nothing more is shown because the \
                 details could hold secrets. Please report it with the command you ran\n",
                env!("CARGO_PKG_VERSION")
            )
            .as_bytes(),
        );
    }));
}

/// Prints an error and its causes to stderr, `error: ...` then `  caused by: ...` lines. Each
/// message has every resolved credential masked and its control and bidi characters escaped
/// (one message, one line): the last line of defence for errors built from text nobody
/// sanitised.
pub fn report_error(e: &anyhow::Error) {
    let clean = |m: String| crate::escape::shown(&crate::secret::redact(&m)).into_owned();
    let mut msg = format!("error: {}", clean(e.to_string()));
    for cause in e.chain().skip(1) {
        msg.push_str(&format!("\n  caused by: {}", clean(cause.to_string())));
    }
    anstream::eprintln!("{msg}");
}

/// Text for stdout or stderr, as the last line of defence: every resolved credential masked,
/// and no control or bidi character but the rendering's own line breaks, tabs and (when
/// `colour`) SGR colour. Renderers escape each server string themselves; this catches what one
/// forgets. JSON goes through [`crate::secret::redact`] only (serde escapes controls).
pub(crate) fn for_terminal(text: &str, colour: bool) -> String {
    crate::escape::terminal(&crate::secret::redact(text), colour).into_owned()
}

/// [`for_terminal`] for text and Markdown, [`crate::secret::redact`] alone for JSON: every
/// document a command prints or writes goes through one of the two.
pub(crate) fn for_output(text: &str, json: bool, colour: bool) -> String {
    if json {
        crate::secret::redact(text).into_owned()
    } else {
        for_terminal(text, colour)
    }
}

/// The log writer: masks every resolved credential in each formatted log line and escapes
/// bidi and control characters other than the line's own colour and line break, so a value a
/// `debug!` shows (a server's name, an error) cannot leak a PAT or act on the terminal.
/// tracing's formatter writes each event with one `write`, so a value is never split.
struct RedactingWriter<W> {
    out: W,
    /// Whether the log is coloured: only then may SGR sequences pass.
    colour: bool,
}

impl<W: std::io::Write> std::io::Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let masked = crate::secret::redact(&text);
        let clean = crate::escape::terminal(&masked, self.colour);
        self.out.write_all(clean.as_bytes())?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

fn init_logging(g: &Global) {
    use tracing_subscriber::EnvFilter;
    let default = match (g.quiet, g.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "gijctl=debug,info",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_env("GIJCTL_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    // Logs go to stderr: colour them only where diagnostics would be coloured.
    let ansi = match g.color {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        ColorWhen::Auto => crate::config::diagnostic::stderr_wants_color(),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(move || RedactingWriter {
            out: std::io::stderr(),
            colour: ansi,
        })
        .with_target(false)
        .without_time()
        .try_init();
    match g.color {
        ColorWhen::Always => anstream::ColorChoice::Always.write_global(),
        ColorWhen::Never => anstream::ColorChoice::Never.write_global(),
        ColorWhen::Auto => anstream::ColorChoice::Auto.write_global(),
    }
}
