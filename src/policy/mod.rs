//! Policy rules: guard rails checked on every plan before anything is applied.
//!
//! Two kinds of rules (see docs/config.md, `[policy]`):
//! - invariants on the desired state (Require User PAT on, no "all projects", PAT auth for some
//!   services, display-name pattern, repository counts). They have no override: the config or
//!   the rule must change;
//! - rules on the change itself (turning Require User PAT off, removing project associations,
//!   deleting an integration whose initial indexing was long). Each names an [`Allow`] flag that
//!   approves the exception for one plan only: `plan --out` records it in the saved plan next to
//!   the plan's checksum, and a fresh `apply` honours it for that run alone.
//!
//! Every violation names the rule (and where it was written), the integration, the field, the
//! position of the offending value in gij.toml and the flag that allows it, and renders like a
//! config diagnostic. Evaluation is pure: the CLI gathers the inputs ([`Context`]).

pub mod table;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::api::LiveSite;
use crate::config::ConfigSource;
use crate::config::diagnostic::Problem;
use crate::config::validate::supports_user_pat;
use crate::model::{
    AuthMethod, DesiredIntegration, DesiredState, Field, LiveIntegration, ProjectScope, Service,
    normalize_origin,
};
use crate::plan::LiveState;
use crate::plan::model::{ActionKind, Plan, Risk};

/// An exception a person approves for one plan (`--allow RULE`). Only rules on the change
/// itself have one: an invariant on the desired state is fixed in the config, not waived.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    JsonSchema,
    clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Allow {
    /// Turning Require User PAT off (rule `protect-require-user-pat`).
    WeakenRequireUserPat,
    /// Removing project associations (rule `protect-projects`).
    RemoveProjects,
    /// Deleting or replacing a long-indexing integration (rule `protect-indexing-longer-than`).
    DeleteLongIndexing,
}

impl Allow {
    /// The flag value, as typed after `--allow`.
    pub fn name(self) -> &'static str {
        match self {
            Allow::WeakenRequireUserPat => "weaken-require-user-pat",
            Allow::RemoveProjects => "remove-projects",
            Allow::DeleteLongIndexing => "delete-long-indexing",
        }
    }
}

/// What a rule demands, with its parameters.
#[derive(Debug, Clone)]
pub enum RuleKind {
    /// `require-user-pat = true`.
    RequireUserPat,
    /// `forbid-all-projects = true`.
    ForbidAllProjects,
    /// `require-pat-for = [...]`.
    RequirePatFor(BTreeSet<Service>),
    /// `display-name-pattern = "..."`.
    DisplayNamePattern(regex::Regex),
    /// `max-repositories-per-integration = K`.
    MaxRepositoriesPerIntegration(u64),
    /// `max-repositories-total = R`.
    MaxRepositoriesTotal(u64),
    /// `protect-require-user-pat = true`.
    ProtectRequireUserPat,
    /// `protect-projects = true`.
    ProtectProjects,
    /// `protect-indexing-longer-than = "T"`, in seconds.
    ProtectIndexingLongerThan(u64),
}

impl RuleKind {
    /// The rule's name: the `[policy]` key that enables it.
    pub fn name(&self) -> &'static str {
        match self {
            RuleKind::RequireUserPat => "require-user-pat",
            RuleKind::ForbidAllProjects => "forbid-all-projects",
            RuleKind::RequirePatFor(_) => "require-pat-for",
            RuleKind::DisplayNamePattern(_) => "display-name-pattern",
            RuleKind::MaxRepositoriesPerIntegration(_) => "max-repositories-per-integration",
            RuleKind::MaxRepositoriesTotal(_) => "max-repositories-total",
            RuleKind::ProtectRequireUserPat => "protect-require-user-pat",
            RuleKind::ProtectProjects => "protect-projects",
            RuleKind::ProtectIndexingLongerThan(_) => "protect-indexing-longer-than",
        }
    }

    /// The flag that approves an exception, for rules on the change.
    pub fn allow(&self) -> Option<Allow> {
        match self {
            RuleKind::ProtectRequireUserPat => Some(Allow::WeakenRequireUserPat),
            RuleKind::ProtectProjects => Some(Allow::RemoveProjects),
            RuleKind::ProtectIndexingLongerThan(_) => Some(Allow::DeleteLongIndexing),
            _ => None,
        }
    }
}

/// One rule and where it was written.
#[derive(Debug, Clone)]
pub struct Rule {
    /// What it demands.
    pub kind: RuleKind,
    /// `file:line:col` of its key, for messages.
    pub defined_at: String,
    /// Its span in gij.toml when it was written there (`None` for `--policy FILE` rules).
    pub config_span: Option<Range<usize>>,
}

/// The rules in force for one run: gij.toml's `[policy]` merged with `--policy FILE`.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    /// The rules, at most one per kind except display-name patterns (all must match).
    pub rules: Vec<Rule>,
}

impl Rules {
    /// Whether there is no rule at all.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Merges two rule sets so that neither can relax the other: on/off rules are on when
    /// either sets them, limits take the smaller value, service lists are united and every
    /// display-name pattern must match.
    pub fn merge(self, other: Rules) -> Rules {
        let mut out: Vec<Rule> = Vec::new();
        for r in self.rules.into_iter().chain(other.rules) {
            let same = out.iter_mut().find(|o| {
                o.kind.name() == r.kind.name() && !matches!(r.kind, RuleKind::DisplayNamePattern(_))
            });
            let Some(o) = same else {
                out.push(r);
                continue;
            };
            match (&mut o.kind, &r.kind) {
                (RuleKind::RequirePatFor(a), RuleKind::RequirePatFor(b)) => {
                    a.extend(b.iter().copied());
                }
                (
                    RuleKind::MaxRepositoriesPerIntegration(a),
                    RuleKind::MaxRepositoriesPerIntegration(b),
                )
                | (RuleKind::MaxRepositoriesTotal(a), RuleKind::MaxRepositoriesTotal(b))
                | (
                    RuleKind::ProtectIndexingLongerThan(a),
                    RuleKind::ProtectIndexingLongerThan(b),
                ) if *b < *a => {
                    *o = r.clone();
                }
                _ => {}
            }
        }
        Rules { rules: out }
    }
}

/// How long each live integration took to index, as far as the site tells.
///
/// GIJ reports when an integration was created (`initDate`) and when it was last indexed
/// (`lastIndexedDate`, on the integration or its repositories), not how long its initial
/// indexing took. gijctl uses the difference: exact for an integration indexed once, an
/// overestimate after later re-indexing, so the rule errs on the side of protecting.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexingDates {
    by_id: BTreeMap<u64, (Option<i64>, Option<i64>)>,
}

impl IndexingDates {
    /// Reads `initDate` and the latest `lastIndexedDate` of every integration.
    pub fn from_site(site: &LiveSite) -> IndexingDates {
        let mut by_id: BTreeMap<u64, (Option<i64>, Option<i64>)> = BTreeMap::new();
        for i in &site.integrations {
            if let Some(id) = i.id {
                by_id.insert(id, (i.init_date, i.last_indexed_date));
            }
        }
        for r in &site.repositories {
            if let (Some(parent), Some(d)) = (r.tracked_folder_id, r.last_indexed_date)
                && let Some(e) = by_id.get_mut(&parent)
            {
                e.1 = Some(e.1.map_or(d, |x| x.max(d)));
            }
        }
        IndexingDates { by_id }
    }

    /// Records dates for one integration (tests and callers without a wire site).
    pub fn insert(&mut self, id: u64, init_ms: Option<i64>, last_indexed_ms: Option<i64>) {
        self.by_id.insert(id, (init_ms, last_indexed_ms));
    }

    /// The approximate initial-indexing time in seconds, `None` when a date is missing.
    pub fn indexing_secs(&self, id: u64) -> Option<u64> {
        let (Some(init), Some(last)) = self.by_id.get(&id).copied()? else {
            return None;
        };
        u64::try_from(last.saturating_sub(init) / 1000).ok()
    }
}

/// Everything a policy check looks at.
pub struct Context<'a> {
    /// The config.
    pub desired: &'a DesiredState,
    /// Where the config's values are, to point at them.
    pub source: &'a ConfigSource,
    /// The whole live site (never narrowed by a scope).
    pub live: &'a LiveState,
    /// Indexing dates of live integrations.
    pub dates: &'a IndexingDates,
    /// The plan that would run (already narrowed by a scope, minus stale actions).
    pub plan: &'a Plan,
    /// Whether a declared key is in the run's scope (per-integration invariants are checked
    /// only there; totals always cover the whole site).
    pub in_scope: &'a dyn Fn(&str) -> bool,
}

/// One violated rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The rule's name.
    pub rule: &'static str,
    /// Where the rule was written (`file:line:col`).
    pub defined_at: String,
    /// The integration key (`#<id>` for undeclared ones, `*` for site-wide totals).
    pub key: String,
    /// The field concerned.
    pub field: String,
    /// What is wrong, lowercase, no trailing period.
    pub message: String,
    /// The label under the offending value.
    pub label: String,
    /// The offending value in gij.toml, when the config has one.
    pub span: Option<Range<usize>>,
    /// The rule itself in gij.toml, when it is written there.
    pub rule_span: Option<Range<usize>>,
    /// The flag that approves this exception, if one exists.
    pub allow: Option<Allow>,
    /// What to do about it.
    pub help: String,
}

impl Violation {
    /// The diagnostic shown for it.
    pub fn problem(&self) -> Problem {
        let msg = format!(
            "policy rule `{}` (from {}): {}",
            self.rule, self.defined_at, self.message
        );
        // The rule's own position is in the message; the snippet shows the offending value
        // alone, so the header's file:line:col is that value's.
        let p = match &self.span {
            Some(s) => Problem::at(s.clone(), self.label.clone(), msg),
            None => Problem::file(msg),
        };
        let fix = match self.allow {
            Some(a) => format!(
                "{}; if this is intended, pass `--allow {}` (recorded in the saved plan with `plan --out`)",
                self.help,
                a.name()
            ),
            None => format!("{}; this rule has no `--allow` override", self.help),
        };
        p.help(fix)
    }
}

/// The outcome of checking a plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evaluation {
    /// Every violated rule, allowed or not.
    pub violations: Vec<Violation>,
    /// Checks that could not be made (and why), for the user.
    pub notes: Vec<String>,
}

impl Evaluation {
    /// The violations no given allowance approves.
    pub fn refused(&self, allowed: &BTreeSet<Allow>) -> Vec<&Violation> {
        self.violations
            .iter()
            .filter(|v| v.allow.is_none_or(|a| !allowed.contains(&a)))
            .collect()
    }

    /// The violations approved by `allowed`.
    pub fn approved(&self, allowed: &BTreeSet<Allow>) -> Vec<&Violation> {
        self.violations
            .iter()
            .filter(|v| v.allow.is_some_and(|a| allowed.contains(&a)))
            .collect()
    }
}

/// Renders violations as config diagnostics (positions and snippets of gij.toml).
pub fn render(violations: &[&Violation], source: &ConfigSource, color: bool) -> String {
    let problems: Vec<Problem> = violations.iter().map(|v| v.problem()).collect();
    crate::config::diagnostic::render(
        &problems,
        &source.name,
        &source.masked_source,
        &source.secrets,
        color,
    )
}

/// The value span of `field` for integration `key`: its own key, else `[defaults]`, else the
/// integration's header (the built-in default applies). The bool says whether it was written.
fn value_span(src: &ConfigSource, key: &str, field: &str) -> (Option<Range<usize>>, bool) {
    if let Some(s) = src.spans.value(&["integrations", key, field]) {
        return (Some(s), true);
    }
    if let Some(s) = src.spans.value(&["defaults", field]) {
        return (Some(s), true);
    }
    (src.spans.key(&["integrations", key]), false)
}

/// The live integration a declaration matches (pinned id, else service, origin and owner);
/// the plan already refused ambiguous matches.
fn live_of<'a>(d: &DesiredIntegration, live: &'a LiveState) -> Option<&'a LiveIntegration> {
    if let Some(id) = d.pinned_id {
        return live.get(id);
    }
    let origin = normalize_origin(&d.origin);
    let owner = d.owner.to_lowercase();
    live.integrations.iter().find(|l| {
        l.service == d.service
            && normalize_origin(&l.origin) == origin
            && l.owner.to_lowercase() == owner
    })
}

/// How many repositories a declaration leaves enabled, when the live list is known.
fn enabled_after(d: &DesiredIntegration, l: &LiveIntegration) -> Option<u64> {
    let n = if d.ignore.contains(&Field::Repositories) {
        l.repositories.iter().filter(|r| r.enabled).count()
    } else {
        let m = d.repositories.matcher().ok()?;
        l.repositories
            .iter()
            .filter(|r| m.is_match(&r.name))
            .count()
    };
    u64::try_from(n).ok()
}

fn enabled_now(l: &LiveIntegration) -> u64 {
    l.repositories.iter().filter(|r| r.enabled).count() as u64
}

fn hours(secs: u64) -> String {
    let (h, m) = (secs / 3600, (secs % 3600) / 60);
    match (h, m) {
        (0, m) => format!("{m}m"),
        (h, 0) => format!("{h}h"),
        (h, m) => format!("{h}h{m:02}m"),
    }
}

/// Checks every rule against the context. Pure.
pub fn evaluate(rules: &Rules, cx: &Context<'_>) -> Evaluation {
    let mut ev = Evaluation::default();
    for rule in &rules.rules {
        check_rule(rule, cx, &mut ev);
    }
    ev
}

fn check_rule(rule: &Rule, cx: &Context<'_>, ev: &mut Evaluation) {
    let src = cx.source;
    let base = |key: &str, field: &str, span: Option<Range<usize>>| Violation {
        rule: rule.kind.name(),
        defined_at: rule.defined_at.clone(),
        key: key.to_owned(),
        field: field.to_owned(),
        message: String::new(),
        label: String::new(),
        span,
        rule_span: rule.config_span.clone(),
        allow: rule.kind.allow(),
        help: String::new(),
    };
    let scoped = || {
        cx.desired
            .integrations
            .iter()
            .filter(|d| (cx.in_scope)(&d.key))
    };
    match &rule.kind {
        RuleKind::RequireUserPat => {
            for d in scoped() {
                if d.settings.require_user_pat || !supports_user_pat(d.service) {
                    continue;
                }
                let (span, _) = value_span(src, &d.key, "require-user-pat");
                ev.violations.push(Violation {
                    message: format!("`{}` sets `require-user-pat` to false", d.key),
                    label: "Require User PAT turned off here".into(),
                    help: format!(
                        "Require User PAT must stay on for every integration ({} supports it): \
                         set `require-user-pat = true` or remove the line",
                        d.service
                    ),
                    ..base(&d.key, "require-user-pat", span)
                });
            }
        }
        RuleKind::ForbidAllProjects => {
            for d in scoped() {
                if d.projects != ProjectScope::All {
                    continue;
                }
                let (span, written) = value_span(src, &d.key, "projects");
                ev.violations.push(Violation {
                    message: format!("`{}` is associated with all Jira projects", d.key),
                    label: if written {
                        "all projects".into()
                    } else {
                        "`projects` is not set: the default is \"all\"".into()
                    },
                    help: "list the projects that need it, e.g. `projects = [\"OPS\"]`".into(),
                    ..base(&d.key, "projects", span)
                });
            }
        }
        RuleKind::RequirePatFor(services) => {
            for d in scoped() {
                if d.auth != AuthMethod::Oauth || !services.contains(&d.service) {
                    continue;
                }
                let (span, _) = value_span(src, &d.key, "auth");
                ev.violations.push(Violation {
                    message: format!("`{}` ({}) authenticates with OAuth", d.key, d.service),
                    label: "must be \"pat\"".into(),
                    help: format!(
                        "{} integrations must use a PAT: set `auth = \"pat\"` and a `credential`",
                        d.service
                    ),
                    ..base(&d.key, "auth", span)
                });
            }
        }
        RuleKind::DisplayNamePattern(re) => {
            for d in scoped() {
                if re.is_match(&d.display_name) {
                    continue;
                }
                let (span, written) = value_span(src, &d.key, "display-name");
                ev.violations.push(Violation {
                    message: format!(
                        "the display name {:?} of `{}` does not match `{}`",
                        d.display_name,
                        d.key,
                        re.as_str()
                    ),
                    label: if written {
                        "does not match the pattern".into()
                    } else {
                        format!(
                            "`display-name` is not set: the default is {:?}",
                            d.display_name
                        )
                    },
                    help: "rename it with `display-name = \"...\"`".into(),
                    ..base(&d.key, "display-name", span)
                });
            }
        }
        RuleKind::MaxRepositoriesPerIntegration(max) => {
            for d in scoped() {
                let Some(l) = live_of(d, cx.live) else {
                    ev.notes.push(format!(
                        "policy rule `{}` skipped for `{}`: its repositories are known only once it exists",
                        rule.kind.name(),
                        d.key
                    ));
                    continue;
                };
                let Some(n) = enabled_after(d, l) else {
                    continue;
                };
                if n <= *max {
                    continue;
                }
                let (span, written) = value_span(src, &d.key, "repositories");
                ev.violations.push(Violation {
                    message: format!(
                        "`{}` would have {n} enabled repositories, over the limit of {max}",
                        d.key
                    ),
                    label: if written {
                        format!("selects {n} repositories")
                    } else {
                        format!("`repositories` is not set: all {n} are enabled")
                    },
                    help: "narrow `repositories = { include = [...], exclude = [...] }` or split the integration".into(),
                    ..base(&d.key, "repositories", span)
                });
            }
        }
        RuleKind::MaxRepositoriesTotal(max) => {
            check_total(
                rule,
                *max,
                cx,
                ev,
                base("*", "repositories", rule.config_span.clone()),
            );
        }
        RuleKind::ProtectRequireUserPat => {
            for a in &cx.plan.actions {
                let weakened = match &a.kind {
                    ActionKind::Update { changes } => changes.iter().any(|c| {
                        c.field == Field::RequireUserPat
                            && c.old == serde_json::Value::Bool(true)
                            && c.new == serde_json::Value::Bool(false)
                    }),
                    ActionKind::Replace { create, .. } => {
                        let was_on = a
                            .target_id
                            .and_then(|id| cx.live.get(id))
                            .is_some_and(|l| l.settings.require_user_pat);
                        let off = create.settings.iter().any(|s| {
                            s.field == Field::RequireUserPat
                                && s.value == serde_json::Value::Bool(false)
                        });
                        was_on && off
                    }
                    _ => false,
                };
                if !weakened {
                    continue;
                }
                let (span, _) = value_span(src, &a.key, "require-user-pat");
                let id = a.target_id.map(|i| format!(" #{i}")).unwrap_or_default();
                ev.violations.push(Violation {
                    message: format!(
                        "step {} turns Require User PAT off on `{}` (live integration{id})",
                        a.step, a.key
                    ),
                    label: "turns Require User PAT off".into(),
                    help: "users would create branches and pull requests with the shared token"
                        .into(),
                    ..base(&a.key, "require-user-pat", span)
                });
            }
        }
        RuleKind::ProtectProjects => {
            for a in &cx.plan.actions {
                let ActionKind::Update { changes } = &a.kind else {
                    continue;
                };
                let Some(c) = changes.iter().find(|c| c.field == Field::Projects) else {
                    continue;
                };
                if !a.risks.contains(&Risk::ProjectsRemoved) {
                    continue;
                }
                let what = if c.removed.is_empty() {
                    "narrows it from all projects to a list".to_owned()
                } else {
                    format!(
                        "removes {}",
                        c.removed
                            .iter()
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                let (span, _) = value_span(src, &a.key, "projects");
                ev.violations.push(Violation {
                    message: format!(
                        "step {} changes the project associations of `{}`: {what}",
                        a.step, a.key
                    ),
                    label: "removes project associations".into(),
                    help: "those projects stop seeing the integration's commits, branches and pull requests".into(),
                    ..base(&a.key, "projects", span)
                });
            }
        }
        RuleKind::ProtectIndexingLongerThan(limit) => {
            for a in &cx.plan.actions {
                let (ActionKind::Delete { .. } | ActionKind::Replace { .. }) = &a.kind else {
                    continue;
                };
                let Some(id) = a.target_id else { continue };
                let Some(took) = cx.dates.indexing_secs(id) else {
                    ev.notes.push(format!(
                        "policy rule `{}` skipped for step {} (`{}`): the site reports no indexing dates for #{id}",
                        rule.kind.name(),
                        a.step,
                        a.key
                    ));
                    continue;
                };
                if took <= *limit {
                    continue;
                }
                let (span, label, field) = if matches!(a.kind, ActionKind::Replace { .. }) {
                    (
                        src.spans.value(&["integrations", &a.key, "allow-replace"]),
                        "allows the replacement",
                        "allow-replace",
                    )
                } else {
                    (
                        src.spans.value(&["apply", "prune"]),
                        "pruning deletes undeclared integrations",
                        "prune",
                    )
                };
                let verb = if field == "prune" {
                    "deletes"
                } else {
                    "replaces"
                };
                ev.violations.push(Violation {
                    message: format!(
                        "step {} {verb} `{}` (live integration #{id}), whose initial indexing took about {} (limit {})",
                        a.step,
                        a.key,
                        hours(took),
                        hours(*limit)
                    ),
                    label: label.into(),
                    help: format!(
                        "recreating it would index everything again; duration measured as lastIndexedDate - initDate{}",
                        if span.is_none() && field == "prune" {
                            " (the deletion comes from `--prune`)"
                        } else {
                            ""
                        }
                    ),
                    ..base(&a.key, field, span)
                });
            }
        }
    }
}

/// `max-repositories-total`: every integration that remains after this run, declared or not,
/// counted on the whole site so that a scoped run cannot slip past it.
fn check_total(rule: &Rule, max: u64, cx: &Context<'_>, ev: &mut Evaluation, base: Violation) {
    let deleted: BTreeSet<u64> = cx
        .plan
        .actions
        .iter()
        .filter(|a| matches!(a.kind, ActionKind::Delete { .. }))
        .filter_map(|a| a.target_id)
        .collect();
    let mut total = 0u64;
    let mut claimed = BTreeSet::new();
    let mut unknown = Vec::new();
    let mut parts: Vec<(u64, String)> = Vec::new();
    for d in &cx.desired.integrations {
        let l = live_of(d, cx.live);
        if let Some(l) = l {
            claimed.insert(l.id);
        }
        let n = match (l, (cx.in_scope)(&d.key)) {
            (Some(l), true) => enabled_after(d, l),
            (Some(l), false) => Some(enabled_now(l)),
            (None, true) => {
                unknown.push(d.key.clone());
                None
            }
            (None, false) => Some(0),
        };
        if let Some(n) = n {
            total += n;
            parts.push((n, d.key.clone()));
        }
    }
    for l in &cx.live.integrations {
        if !claimed.contains(&l.id) && !deleted.contains(&l.id) {
            total += enabled_now(l);
            parts.push((enabled_now(l), format!("#{}", l.id)));
        }
    }
    for u in &cx.live.unsupported {
        total += u.repositories as u64;
        parts.push((u.repositories as u64, format!("#{}", u.id)));
    }
    if !unknown.is_empty() {
        ev.notes.push(format!(
            "policy rule `{}` counts no repositories for {} (created by this run; known once they exist)",
            rule.kind.name(),
            unknown
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if total <= max {
        return;
    }
    parts.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let top: Vec<String> = parts
        .iter()
        .filter(|p| p.0 > 0)
        .take(3)
        .map(|(n, k)| format!("`{k}` {n}"))
        .collect();
    ev.violations.push(Violation {
        message: format!(
            "the site would have {total} enabled repositories, over the limit of {max} (largest: {})",
            top.join(", ")
        ),
        label: format!("at most {max} repositories"),
        help: "narrow the `repositories` selectors, or delete integrations (undeclared ones count too)".into(),
        ..base
    });
}
