//! Guard rails shared by `plan` and `apply`: the `--only`/`--exclude` scope flags and the
//! `--policy FILE`/`--allow RULE` flags, and the policy check that both commands run before
//! saving or applying anything.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::Exit;
use crate::apply::safety::{self, Overrides};
use crate::config::LoadedConfig;
use crate::plan::LiveState;
use crate::plan::model::{Allowance, LimitApproval, LimitFlag, Plan, Refusal, RefusalCheck};
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

/// `--max-deletes`, `--max-delete-percent`, `--max-update-percent`: raise a safety limit for
/// one plan (recorded in the saved plan with `plan --out`) or one fresh apply.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct LimitArgs {
    /// Allow up to N deletions (overrides `[apply] max-deletes`)
    #[arg(long, value_name = "N")]
    pub max_deletes: Option<u32>,
    /// Allow deleting up to P% of the live integrations
    #[arg(long, value_name = "P", value_parser = clap::value_parser!(u32).range(0..=100))]
    pub max_delete_percent: Option<u32>,
    /// Allow changing up to P% of the live integrations
    #[arg(long, value_name = "P", value_parser = clap::value_parser!(u32).range(0..=100))]
    pub max_update_percent: Option<u32>,
}

impl LimitArgs {
    /// The flags as overrides.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            max_deletes: self.max_deletes,
            max_delete_percent: self.max_delete_percent,
            max_update_percent: self.max_update_percent,
        }
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

/// The approvals a plan or an apply runs with.
#[derive(Debug, Clone, Default)]
pub(crate) struct Approvals {
    /// `--allow` policy exceptions.
    pub allow: BTreeSet<Allow>,
    /// Raised safety limits.
    pub limits: Overrides,
}

/// Everything apply would refuse of a plan, and what the given approvals approved: the one
/// judgement `plan` shows and `apply` acts on, so the two cannot disagree.
pub(crate) struct Judgement {
    /// Policy exceptions, per `--allow` given, with what each approved.
    pub allowed: Vec<(Allow, Vec<String>)>,
    /// Raised limits, per flag given, with what each approved.
    pub limits: Vec<(LimitFlag, u32, Vec<String>)>,
    /// Every refusal, policy rules first (apply checks them first), then safety limits.
    pub refusals: Vec<Refusal>,
    /// The refused policy violations as config diagnostics (positions and snippets).
    pub diagnostics: String,
}

impl Judgement {
    /// The exit code of a refused plan or apply: 10 when a policy rule refuses, 3 when only
    /// safety limits do; `None` when nothing is refused.
    pub fn exit(&self) -> Option<Exit> {
        if self
            .refusals
            .iter()
            .any(|r| r.check == RefusalCheck::Policy)
        {
            Some(Exit::PolicyRefused)
        } else if self.refusals.is_empty() {
            None
        } else {
            Some(Exit::SafetyRefused)
        }
    }

    /// Prints the refusals to stderr: policy diagnostics with their positions, one line per
    /// safety limit, and the approving flags in one hint.
    pub fn print_refusals(&self, what_happened: &str) {
        if self.refusals.is_empty() {
            return;
        }
        anstream::eprint!("{}", self.diagnostics);
        for r in self
            .refusals
            .iter()
            .filter(|r| r.check == RefusalCheck::SafetyLimit)
        {
            anstream::eprintln!("error: refusing to apply: {}", r.message);
        }
        let flags: BTreeSet<&str> = self
            .refusals
            .iter()
            .filter_map(|r| r.approve_with.as_deref())
            .collect();
        let hint = if flags.is_empty() {
            String::new()
        } else {
            format!(
                " (approvable with {})",
                flags
                    .iter()
                    .map(|f| format!("`{f}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let n = self.refusals.len();
        anstream::eprintln!(
            "error: apply would refuse this plan: {n} refusal{}{hint}; {what_happened}",
            if n == 1 { "" } else { "s" }
        );
    }

    /// Records the approvals in a plan, tied to its checksum, and its refusals.
    pub fn record(&self, plan: &mut Plan) {
        record(plan, self.allowed.clone());
        plan.limit_approvals = self
            .limits
            .iter()
            .map(|(limit, value, approves)| LimitApproval {
                limit: *limit,
                value: *value,
                plan_checksum: plan.checksum.clone(),
                approves: approves.clone(),
            })
            .collect();
        plan.refusals = self.refusals.clone();
    }
}

/// Judges a plan: the policy rules with the `--allow` approvals, then the safety limits on the
/// actions of `c.plan` against the whole site (`live_total` integrations, never a scope, so a
/// scoped run cannot slip past a limit). Prints the policy notes and the approvals as notes.
pub(crate) fn judge(
    rules: &Rules,
    c: &Check<'_>,
    approvals: &Approvals,
    color: bool,
    quiet: bool,
) -> Judgement {
    let (allowed, mut refusals, diagnostics) =
        judge_policy(rules, c, &approvals.allow, color, quiet);
    let actions: Vec<&crate::plan::model::Action> = c.plan.actions.iter().collect();
    let live_total = u32::try_from(c.live.integrations.len()).unwrap_or(u32::MAX);
    let policy = &c.loaded.desired.policy;
    let unapproved = safety::check(&actions, live_total, policy, Overrides::default());
    let refused = safety::check(&actions, live_total, policy, approvals.limits);
    let mut limits = Vec::new();
    for (flag, value) in approvals.limits.given() {
        let approves: Vec<String> = unapproved
            .iter()
            .filter(|v| v.approval().0 == flag && !refused.contains(v))
            .map(ToString::to_string)
            .collect();
        if !quiet {
            if approves.is_empty() {
                anstream::eprintln!(
                    "note: `{} {value}` approves nothing in this plan",
                    flag.flag()
                );
            }
            for a in &approves {
                anstream::eprintln!("note: allowed by `{} {value}`: {a}", flag.flag());
            }
        }
        limits.push((flag, value, approves));
    }
    for v in &refused {
        let (flag, value) = v.approval();
        refusals.push(Refusal {
            check: RefusalCheck::SafetyLimit,
            rule: flag.key().to_owned(),
            message: v.to_string(),
            approve_with: Some(format!("{} {value}", flag.flag())),
            at: None,
        });
    }
    Judgement {
        allowed,
        limits,
        refusals,
        diagnostics,
    }
}

/// The policy half of a [`Judgement`]: per `--allow`, what it approved; the refusals; their
/// diagnostics.
type PolicyJudgement = (Vec<(Allow, Vec<String>)>, Vec<Refusal>, String);

/// The policy half of [`judge`].
fn judge_policy(
    rules: &Rules,
    c: &Check<'_>,
    allowed: &BTreeSet<Allow>,
    color: bool,
    quiet: bool,
) -> PolicyJudgement {
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
    let diagnostics = if refused.is_empty() {
        String::new()
    } else {
        crate::policy::render(&refused, &c.loaded.source, color)
    };
    let refusals = refused
        .iter()
        .map(|v| Refusal {
            check: RefusalCheck::Policy,
            rule: v.rule.to_owned(),
            message: v.message.clone(),
            approve_with: v.allow.map(|a| format!("--allow {}", a.name())),
            at: v.span.as_ref().map(|sp| c.loaded.source.location(sp.start)),
        })
        .collect();
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
    (out, refusals, diagnostics)
}

/// Records approved exceptions in a plan, tied to its checksum.
fn record(plan: &mut Plan, approved: Vec<(Allow, Vec<String>)>) {
    plan.allowances = approved
        .into_iter()
        .map(|(allow, approves)| Allowance {
            allow,
            plan_checksum: plan.checksum.clone(),
            approves,
        })
        .collect();
}

/// The approvals a saved plan records for this very plan (`--allow` and raised limits); those
/// given for another plan are reported and ignored (an approval for one plan does not approve
/// another).
pub(crate) fn saved_approvals(plan: &Plan) -> Approvals {
    let mut limits = Overrides::default();
    for l in &plan.limit_approvals {
        if l.plan_checksum == plan.checksum {
            limits.set(l.limit, l.value);
        } else {
            anstream::eprintln!(
                "warning: ignoring `{} {}` in the saved plan: it was given for another plan (checksum {}, this plan is {})",
                l.limit.flag(),
                l.value,
                l.plan_checksum,
                plan.checksum
            );
        }
    }
    Approvals {
        allow: saved_allowances(plan),
        limits,
    }
}

/// The `--allow` approvals of a saved plan given for this very plan.
fn saved_allowances(plan: &Plan) -> BTreeSet<Allow> {
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
