//! `gijctl plan`: loads gij.toml, reads the live site, prints what apply would do.

use std::collections::BTreeSet;
use std::io::IsTerminal as _;
use std::path::PathBuf;

use super::site::{ConnectArgs, Site, connect, load_config, runtime};
use super::{ColorWhen, Exit, Global};
use crate::config::LoadedConfig;
use crate::plan::LiveState;
use crate::plan::PlanOptions;
use crate::plan::model::{ConfigIdentity, Plan, Target};
use crate::plan::scope::Scope;

/// Output formats of `gijctl plan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Human-readable diff for terminals
    Text,
    /// The versioned plan document (schema/plan.schema.json)
    Json,
    /// A pull-request comment
    Markdown,
}

/// Arguments of `gijctl plan`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The config file
    #[arg(short, long, default_value = "gij.toml", value_name = "FILE")]
    pub config: PathBuf,
    /// Where the site is
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Output format
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Also save the plan to FILE, for `gijctl apply FILE`
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Exit 2 when there are changes (0: none, 1: error)
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Send the credential of integration KEY again (can be repeated)
    #[arg(long, value_name = "KEY")]
    pub rotate: Vec<String>,
    /// Delete live integrations the config does not declare (overrides `[apply] prune`)
    #[arg(long)]
    pub prune: bool,
    /// Which integrations the run covers
    #[command(flatten)]
    pub scope: super::guard::ScopeArgs,
    /// Policy rules and exceptions
    #[command(flatten)]
    pub policy: super::guard::PolicyArgs,
    /// Safety limits raised for this plan (recorded in the saved plan)
    #[command(flatten)]
    pub limits: super::guard::LimitArgs,
}

/// Whether stdout output should be coloured: `--color`, then TTY and `NO_COLOR`.
pub(crate) fn use_color(g: &Global) -> bool {
    match g.color {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        ColorWhen::Auto => {
            std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    }
}

/// The current time as RFC 3339 UTC to the second (for `meta.created_at`).
pub(crate) fn now_rfc3339() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .map_or_else(|_| jiff::Timestamp::now().to_string(), |t| t.to_string())
}

/// Everything a plan run produced; apply continues from here.
pub(crate) struct Planned {
    pub loaded: LoadedConfig,
    pub live: LiveState,
    pub plan: Plan,
    /// Live indexing dates, for the policy rule on deleting long-indexing integrations.
    pub dates: crate::policy::IndexingDates,
}

/// Reads the site and computes the plan, narrowed to a scope: the plan is made on the whole
/// site, then only the integrations in scope keep their actions (see [`crate::plan::scope`]).
/// Nothing is changed.
pub(crate) async fn compute_scoped(
    site: &Site,
    loaded: LoadedConfig,
    rotate: &[String],
    prune: bool,
    max_parallel_indexing: Option<u32>,
    scope: &Scope,
) -> anyhow::Result<Planned> {
    let super::site::ReadLive {
        live,
        meta,
        dates,
        site: site_identity,
    } = super::site::read_live(site, &loaded.path, &[&loaded.desired]).await?;
    let opts = PlanOptions {
        rotate: rotate.iter().cloned().collect::<BTreeSet<_>>(),
        prune: prune.then_some(true),
        max_parallel_indexing,
        meta,
    };
    let plan = crate::plan::plan(&loaded.desired, &live, &opts)?;
    let suggested = crate::plan::scope::suggested_keys(&loaded.desired, &live, &plan);
    let mut plan = crate::plan::scope::narrow(plan, scope, &loaded.desired, &live, &suggested)?;
    crate::plan::fingerprint::bind(
        &mut plan,
        Target {
            site: site_identity,
            config: ConfigIdentity {
                path: loaded.path.display().to_string(),
                sha256: loaded.sha256.clone(),
            },
        },
    );
    Ok(Planned {
        loaded,
        live,
        plan,
        dates,
    })
}

/// Renders a plan in the chosen format.
pub(crate) fn render(plan: &Plan, format: Format, color: bool) -> String {
    let text = match format {
        Format::Text => crate::render::text::render(plan, color),
        Format::Json => crate::render::json::render(plan),
        Format::Markdown => crate::render::markdown::render(plan),
    };
    super::for_output(&text, format == Format::Json, color)
}

/// Runs the command.
pub fn run(g: &Global, args: Args) -> anyhow::Result<Exit> {
    let loaded = match load_config(&args.config) {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    let rules = match args.policy.rules(&loaded) {
        Ok(r) => r,
        Err(code) => return Ok(code),
    };
    let scope = args.scope.scope()?;
    let rt = runtime()?;
    let planned = rt.block_on(async {
        let site = connect(&args.connect).await?;
        let r = compute_scoped(&site, loaded, &args.rotate, args.prune, None, &scope).await;
        site.close().await?;
        r
    })?;
    let mut plan = planned.plan;
    let approvals = super::guard::Approvals {
        allow: args.policy.allow.iter().copied().collect(),
        limits: args.limits.overrides(),
    };
    let in_scope = |k: &str| scope.contains(k, None);
    let check = super::guard::Check {
        loaded: &planned.loaded,
        live: &planned.live,
        dates: &planned.dates,
        plan: &plan,
        in_scope: &in_scope,
    };
    let judgement = super::guard::judge(&rules, &check, &approvals, diag_color(g), g.quiet);
    judgement.record(&mut plan);
    super::credentials::warn_unresolved(&planned.loaded, &plan);
    // A plan apply would refuse is shown with its refusals, never saved: saving is approving,
    // and this plan needs approvals first.
    print!("{}", render(&plan, args.format, use_color(g)));
    if let Some(code) = judgement.exit() {
        let what = if args.out.is_some() {
            "the plan was not saved"
        } else {
            "nothing was changed"
        };
        judgement.print_refusals(what);
        return Ok(code);
    }
    if let Some(out) = &args.out {
        crate::plan::file::write(out, &plan)?;
        if !g.quiet {
            anstream::eprintln!(
                "Saved the plan to `{}`; run `gijctl apply {}` to execute it",
                out.display(),
                out.display()
            );
        }
    }
    Ok(if args.detailed_exitcode && plan.has_changes() {
        Exit::Changes
    } else {
        Exit::Ok
    })
}

/// Whether diagnostics on stderr should be coloured.
pub(crate) fn diag_color(g: &Global) -> bool {
    match g.color {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        ColorWhen::Auto => crate::config::diagnostic::stderr_wants_color(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_are_rfc3339() {
        let t = super::now_rfc3339();
        assert_eq!(t.len(), 20);
        assert!(t.starts_with("20") && t.ends_with('Z'), "{t}");
    }
}
