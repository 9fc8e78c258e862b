//! Scoped runs: `--only KEY_OR_GLOB` and `--exclude KEY_OR_GLOB` narrow a run to some
//! integrations (the octoDNS `--zone` / Terraform `-target` idea).
//!
//! The plan is always computed on the whole site first (matching, ambiguity and pruning need
//! every integration) and then narrowed, so a scoped plan is exactly the unscoped plan's actions
//! for the keys in scope. Declared integrations are matched on their config key; live
//! integrations the config does not declare are keyed `#<id>` and also match globs on the key
//! `gijctl import` would give them. Safety limits and site-wide policy totals are computed on
//! the whole site by their callers, never on the scope, so a scoped run cannot slip past them.

use std::collections::{BTreeMap, BTreeSet};

use globset::{Glob, GlobMatcher};

use super::live::LiveState;
use super::model::{Action, KeyList, Plan, ScopeSummary};
use super::order::{simulate, summarize};
use crate::model::DesiredState;

/// Why `--only`/`--exclude` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// A pattern is not a valid glob.
    #[error("`--{flag} {pattern}` is not a valid key or glob: {reason}")]
    BadPattern {
        /// `only` or `exclude`.
        flag: &'static str,
        /// The pattern.
        pattern: String,
        /// The glob error.
        reason: String,
    },
    /// A pattern matches no integration (a typo would otherwise make an empty run).
    #[error(
        "`--{flag} {pattern}` matches no integration in the config or on the site; \
         config keys are matched as written, undeclared live integrations as `#<id>` or their suggested key"
    )]
    MatchesNothing {
        /// `only` or `exclude`.
        flag: &'static str,
        /// The pattern.
        pattern: String,
    },
}

/// A set of integration keys a run is limited to. Reusable by any command that acts on
/// integrations (plan, apply; drift and runbook can adopt it).
#[derive(Debug, Clone, Default)]
pub struct Scope {
    only: Vec<(String, GlobMatcher)>,
    exclude: Vec<(String, GlobMatcher)>,
}

fn compile(
    flag: &'static str,
    patterns: &[String],
) -> Result<Vec<(String, GlobMatcher)>, ScopeError> {
    patterns
        .iter()
        .map(|p| {
            Glob::new(p.trim())
                .map(|g| (p.trim().to_owned(), g.compile_matcher()))
                .map_err(|e| ScopeError::BadPattern {
                    flag,
                    pattern: p.clone(),
                    reason: e.kind().to_string(),
                })
        })
        .collect()
}

/// An integration as the scope sees it: its key and, for undeclared ones, other names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Subject {
    /// The config key, or `#<id>` for undeclared live integrations.
    pub key: String,
    /// The suggested key of an undeclared live integration.
    pub alias: Option<String>,
}

impl Scope {
    /// A scope from `--only` and `--exclude` patterns (keys or globs: `*`, `?`, `[...]`).
    pub fn new(only: &[String], exclude: &[String]) -> Result<Scope, ScopeError> {
        Ok(Scope {
            only: compile("only", only)?,
            exclude: compile("exclude", exclude)?,
        })
    }

    /// Whether the scope narrows anything.
    pub fn is_scoped(&self) -> bool {
        !self.only.is_empty() || !self.exclude.is_empty()
    }

    fn names<'a>(key: &'a str, alias: Option<&'a str>) -> impl Iterator<Item = &'a str> {
        std::iter::once(key).chain(alias)
    }

    /// Whether an integration with `key` (and, when undeclared, suggested key `alias`) is in
    /// scope: some `--only` pattern matches (or there is none) and no `--exclude` does.
    pub fn contains(&self, key: &str, alias: Option<&str>) -> bool {
        let hit = |set: &[(String, GlobMatcher)]| {
            set.iter()
                .any(|(_, m)| Self::names(key, alias).any(|n| m.is_match(n)))
        };
        (self.only.is_empty() || hit(&self.only)) && !hit(&self.exclude)
    }

    /// Refuses patterns that match none of `subjects`.
    pub fn check_matches(&self, subjects: &[Subject]) -> Result<(), ScopeError> {
        for (flag, set) in [("only", &self.only), ("exclude", &self.exclude)] {
            for (p, m) in set {
                let any = subjects
                    .iter()
                    .any(|s| Self::names(&s.key, s.alias.as_deref()).any(|n| m.is_match(n)));
                if !any {
                    return Err(ScopeError::MatchesNothing {
                        flag,
                        pattern: p.clone(),
                    });
                }
            }
        }
        Ok(())
    }

    /// The `--only` patterns as given.
    pub fn only_patterns(&self) -> Vec<String> {
        Self::patterns(&self.only)
    }

    /// The `--exclude` patterns as given.
    pub fn exclude_patterns(&self) -> Vec<String> {
        Self::patterns(&self.exclude)
    }

    /// The patterns, for the plan's summary.
    fn patterns(set: &[(String, GlobMatcher)]) -> Vec<String> {
        set.iter().map(|(p, _)| p.clone()).collect()
    }
}

/// Every integration a plan can speak of: declared keys, then undeclared live integrations as
/// `#<id>` with their suggested key.
pub fn subjects(plan: &Plan, desired: &DesiredState) -> Vec<Subject> {
    let mut out: Vec<Subject> = desired
        .integrations
        .iter()
        .map(|d| Subject {
            key: d.key.clone(),
            alias: None,
        })
        .collect();
    for u in &plan.unmanaged {
        out.push(Subject {
            key: format!("#{}", u.id),
            alias: Some(u.suggested_key.clone()),
        });
    }
    // Undeclared integrations being pruned are not in `unmanaged`.
    for a in &plan.actions {
        if a.key.starts_with('#') && !out.iter().any(|s| s.key == a.key) {
            out.push(Subject {
                key: a.key.clone(),
                alias: None,
            });
        }
    }
    out
}

/// Narrows a whole-site plan to the scope: keeps the actions, unchanged keys and unmanaged
/// integrations in scope, renumbers the steps, recomputes schedule, summary and checksum, and
/// records what was left out. Allowances are dropped (they belonged to the unscoped plan).
pub fn narrow(
    plan: Plan,
    scope: &Scope,
    desired: &DesiredState,
    live: &LiveState,
    suggested: &BTreeMap<u64, String>,
) -> Result<Plan, ScopeError> {
    let subjects = subjects(&plan, desired);
    scope.check_matches(&with_aliases(subjects.clone(), suggested))?;
    if !scope.is_scoped() {
        return Ok(plan);
    }
    let alias_of = |key: &str| -> Option<String> {
        key.strip_prefix('#')
            .and_then(|n| n.parse::<u64>().ok())
            .and_then(|id| suggested.get(&id).cloned())
    };
    let inside = |key: &str| scope.contains(key, alias_of(key).as_deref());

    let mut left_out = BTreeSet::new();
    let mut in_scope = 0u32;
    for s in &subjects {
        if inside(&s.key) {
            in_scope += 1;
        } else {
            left_out.insert(s.key.clone());
        }
    }
    let changed_out: BTreeSet<&str> = plan
        .actions
        .iter()
        .filter(|a| left_out.contains(&a.key))
        .map(|a| a.key.as_str())
        .collect();
    let left_out_with_changes = u32::try_from(changed_out.len()).unwrap_or(u32::MAX);

    let mut actions: Vec<Action> = plan
        .actions
        .iter()
        .filter(|a| inside(&a.key))
        .cloned()
        .collect();
    for (i, a) in actions.iter_mut().enumerate() {
        a.step = u32::try_from(i + 1).unwrap_or(u32::MAX);
    }
    let unchanged: KeyList = plan.unchanged.iter().filter(|k| inside(k)).collect();
    let unmanaged: Vec<_> = plan
        .unmanaged
        .iter()
        .filter(|u| scope.contains(&format!("#{}", u.id), Some(&u.suggested_key)))
        .cloned()
        .collect();
    let keys_by_id: BTreeMap<u64, String> = plan
        .schedule
        .busy
        .iter()
        .map(|b| (b.id, b.key.clone()))
        .collect();
    let schedule = simulate(&actions, live, plan.schedule.max_parallel_indexing, &|id| {
        keys_by_id.get(&id).cloned()
    });
    let summary = summarize(&actions, unchanged.len(), unmanaged.len());
    let mut out = Plan {
        summary,
        actions,
        unmanaged,
        unchanged,
        schedule,
        checksum: String::new(),
        scope: Some(ScopeSummary {
            only: Scope::patterns(&scope.only),
            exclude: Scope::patterns(&scope.exclude),
            in_scope,
            left_out: u32::try_from(left_out.len()).unwrap_or(u32::MAX),
            left_out_with_changes,
        }),
        allowances: Vec::new(),
        ..plan
    };
    out.checksum = super::fingerprint::plan_checksum(&out);
    Ok(out)
}

fn with_aliases(mut subjects: Vec<Subject>, suggested: &BTreeMap<u64, String>) -> Vec<Subject> {
    for s in &mut subjects {
        if s.alias.is_none()
            && let Some(id) = s.key.strip_prefix('#').and_then(|n| n.parse::<u64>().ok())
        {
            s.alias = suggested.get(&id).cloned();
        }
    }
    subjects
}

/// The keys `gijctl import` would give the live integrations the config does not declare
/// (pruned ones included), so scopes can name them by a readable key.
pub fn suggested_keys(
    desired: &DesiredState,
    live: &LiveState,
    plan: &Plan,
) -> BTreeMap<u64, String> {
    let mut out: BTreeMap<u64, String> = plan
        .unmanaged
        .iter()
        .map(|u| (u.id, u.suggested_key.clone()))
        .collect();
    let pruned: Vec<u64> = plan
        .actions
        .iter()
        .filter(|a| a.key.starts_with('#'))
        .filter_map(|a| a.target_id)
        .collect();
    if pruned.is_empty() {
        return out;
    }
    let sources: Vec<super::keys::KeySource<'_>> = live
        .integrations
        .iter()
        .filter(|l| pruned.contains(&l.id) || out.contains_key(&l.id))
        .map(|l| super::keys::KeySource {
            id: l.id,
            service: l.service.config_name(),
            owner: &l.owner,
        })
        .collect();
    for (id, k) in super::keys::suggest_keys(
        &sources,
        desired.integrations.iter().map(|d| d.key.as_str()),
    ) {
        out.entry(id).or_insert(k);
    }
    out
}
