//! Guard rails shared by `plan` and `apply`: the `--only`/`--exclude` scope flags and the
//! `--policy FILE`/`--allow RULE` flags, and the policy check that both commands run before
//! saving or applying anything.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::Exit;
use crate::config::LoadedConfig;
use crate::plan::LiveState;
use crate::plan::model::{Allowance, Plan};
use crate::plan::scope::{Scope, ScopeError};
use crate::policy::{Allow, Context, IndexingDates, Rules, Violation, evaluate};

/// `--only` and `--exclude`: narrow a run to some integrations. Flatten it into any command
/// that acts on integrations.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ScopeArgs {
    /// Act only on integrations whose key matches (repeatable; globs such as `gh-*`;
    /// undeclared live integrations are `#<id>` or their suggested key)
    #[arg(long = "only", value_name = "KEY_OR_GLOB")]
    pub only: Vec<String>,
    /// Leave out integrations whose key matches (repeatable; applied after `--only`)
    #[arg(long = "exclude", value_name = "KEY_OR_GLOB")]
    pub exclude: Vec<String>,
}

impl ScopeArgs {
    /// The scope the flags describe.
    pub fn scope(&self) -> Result<Scope, ScopeError> {
        Scope::new(&self.only, &self.exclude)
    }

    /// Whether any scope flag was given.
    pub fn given(&self) -> bool {
        !self.only.is_empty() || !self.exclude.is_empty()
    }
}

/// `--policy FILE` and `--allow RULE`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PolicyArgs {
    /// Also enforce the `[policy]` rules of FILE (rules kept in a separately owned file;
    /// they add to gij.toml's and the stricter value wins)
    #[arg(long = "policy", value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Approve one policy exception for this plan only (repeatable); recorded in the saved
    /// plan with `plan --out`
    #[arg(long = "allow", value_name = "RULE", value_enum)]
    pub allow: Vec<Allow>,
}

impl PolicyArgs {
    /// gij.toml's rules merged with `--policy FILE`'s; on a bad policy file prints its
    /// diagnostics and returns exit 1.
    pub fn rules(&self, loaded: &LoadedConfig) -> Result<Rules, Exit> {
        let extra = match &self.policy {
            Some(path) => crate::policy::table::load_file(path).map_err(|e| {
                anstream::eprintln!("{e}");
                Exit::Error
            })?,
            None => Rules::default(),
        };
        Ok(loaded.rules.clone().merge(extra))
    }
}

/// What the policy check needs besides the rules.
pub(crate) struct Check<'a> {
    /// The config (values and positions).
    pub loaded: &'a LoadedConfig,
    /// The whole live site.
    pub live: &'a LiveState,
    /// Live indexing dates.
    pub dates: &'a IndexingDates,
    /// The plan that would run.
    pub plan: &'a Plan,
    /// Which declared keys are in scope.
    pub in_scope: &'a dyn Fn(&str) -> bool,
}

/// Checks the plan against the rules. Prints notes and approved exceptions as notes; on a
/// violation nothing approves, prints every one as a diagnostic and returns exit 10. On
/// success returns, per allowance, what it approved (for the saved plan).
pub(crate) fn enforce(
    rules: &Rules,
    c: &Check<'_>,
    allowed: &BTreeSet<Allow>,
    color: bool,
    quiet: bool,
) -> Result<Vec<(Allow, Vec<String>)>, Exit> {
    let ev = evaluate(
        rules,
        &Context {
            desired: &c.loaded.desired,
            source: &c.loaded.source,
            live: c.live,
            dates: c.dates,
            plan: c.plan,
            in_scope: c.in_scope,
        },
    );
    if !quiet {
        for n in &ev.notes {
            anstream::eprintln!("note: {n}");
        }
    }
    let refused = ev.refused(allowed);
    if !refused.is_empty() {
        anstream::eprint!(
            "{}",
            crate::policy::render(&refused, &c.loaded.source, color)
        );
        let flags: BTreeSet<&str> = refused
            .iter()
            .filter_map(|v| v.allow.map(Allow::name))
            .collect();
        let hint = if flags.is_empty() {
            String::new()
        } else {
            format!(
                " (approvable with {})",
                flags
                    .iter()
                    .map(|f| format!("`--allow {f}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        anstream::eprintln!(
            "error: {} policy violation{} refused{hint}; nothing was saved or changed",
            refused.len(),
            if refused.len() == 1 { "" } else { "s" }
        );
        return Err(Exit::PolicyRefused);
    }
    let approved = ev.approved(allowed);
    let mut out = Vec::new();
    for a in allowed {
        let mine: Vec<&Violation> = approved
            .iter()
            .copied()
            .filter(|v| v.allow == Some(*a))
            .collect();
        if mine.is_empty() && !quiet {
            anstream::eprintln!("note: `--allow {}` approves nothing in this plan", a.name());
        }
        for v in &mine {
            if !quiet {
                anstream::eprintln!(
                    "note: allowed by `--allow {}`: policy rule `{}`: {}",
                    a.name(),
                    v.rule,
                    v.message
                );
            }
        }
        out.push((
            *a,
            mine.iter()
                .map(|v| format!("{}: {}", v.rule, v.message))
                .collect(),
        ));
    }
    Ok(out)
}

/// Records approved exceptions in a plan, tied to its checksum.
pub(crate) fn record(plan: &mut Plan, approved: Vec<(Allow, Vec<String>)>) {
    plan.allowances = approved
        .into_iter()
        .map(|(allow, approves)| Allowance {
            allow,
            plan_checksum: plan.checksum.clone(),
            approves,
        })
        .collect();
}

/// The allowances of a saved plan that were given for this very plan; others are reported and
/// ignored (an approval for one plan does not approve another).
pub(crate) fn saved_allowances(plan: &Plan) -> BTreeSet<Allow> {
    let mut out = BTreeSet::new();
    for a in &plan.allowances {
        if a.plan_checksum == plan.checksum {
            out.insert(a.allow);
        } else {
            anstream::eprintln!(
                "warning: ignoring `--allow {}` in the saved plan: it was given for another plan (checksum {}, this plan is {})",
                a.allow.name(),
                a.plan_checksum,
                plan.checksum
            );
        }
    }
    out
}
