//! Drift: how far the live site has moved from gij.toml, sorted into three classes so that a
//! nightly job can react to each differently (`gijctl drift`).
//!
//! - **managed**: what `apply` would change on declared integrations (fields gijctl manages,
//!   including settings the config leaves to their defaults: gijctl resolves defaults and apply
//!   enforces them, so a default is as managed as an explicit value), plus declared
//!   integrations missing from the site.
//! - **ignored**: fields listed in an integration's `ignore` whose live value differs from what
//!   the config would otherwise ask for (its value or the default). Apply leaves them alone;
//!   the report shows how far they have gone.
//! - **undeclared**: live integrations the config does not declare.
//!
//! Everything is computed from plans, so drift and plan can never disagree about what apply
//! would do. Pure: no I/O.

use std::collections::BTreeSet;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::model::{Action, ActionKind, Plan, PlanMeta, ScopeSummary, UnmanagedIntegration};
use super::{LiveState, PlanError, PlanOptions};
use crate::model::{DesiredState, Field};

/// The drift document format version (`schema/drift.schema.json`); bumped on any breaking
/// change so that automation reading the JSON can refuse what it does not understand.
pub const DRIFT_FORMAT_VERSION: u32 = 1;

/// What one difference is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Subject {
    /// A field of the integration (display name, projects, a setting).
    Field {
        /// The field.
        field: Field,
    },
    /// Whether one repository is enabled.
    Repository {
        /// GIJ's repository id.
        id: u64,
        /// The repository name.
        name: String,
    },
    /// The integration as a whole (missing, to be deleted, replaced, or a manual step).
    Integration,
    /// The integration's credential (sent again on rotation).
    Credential,
}

impl Subject {
    /// The config field this subject belongs to, for `ignore` lookups.
    pub fn field(&self) -> Option<Field> {
        match self {
            Subject::Field { field } => Some(*field),
            Subject::Repository { .. } => Some(Field::Repositories),
            Subject::Integration | Subject::Credential => None,
        }
    }

    /// A short label: `display-name`, `repository docs`, `integration`, `credential`.
    pub fn label(&self) -> String {
        match self {
            Subject::Field { field } => super::fields::field_name(*field),
            Subject::Repository { name, .. } => format!("repository {name}"),
            Subject::Integration => "integration".to_owned(),
            Subject::Credential => "credential".to_owned(),
        }
    }
}

/// One difference between the live site and a config, at the finest grain a plan knows
/// (one field, one repository, or a whole integration).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Item {
    /// The config key, or `#<id>` for an undeclared integration.
    pub key: String,
    /// The live integration, when there is one.
    pub target_id: Option<u64>,
    /// What differs.
    pub subject: Subject,
    /// The live value (`None` when the site has nothing, or it cannot be read, like a credential).
    pub live: Option<Value>,
    /// The value the config asks for (`None` when the config asks for removal).
    pub desired: Option<Value>,
    /// A sentence for integration-level items (what apply would do and why).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Item {
    /// Where the item is anchored: the live integration when there is one (so that renaming
    /// a config key does not look like a change), otherwise the config key.
    pub fn anchor(&self) -> String {
        self.target_id
            .map_or_else(|| self.key.clone(), |id| format!("#{id}"))
    }
}

/// Flattens a plan's actions into [`Item`]s, in step order.
pub fn items(plan: &Plan) -> Vec<Item> {
    let mut out = Vec::new();
    for a in &plan.actions {
        flatten(a, &mut out);
    }
    out
}

fn flatten(a: &Action, out: &mut Vec<Item>) {
    let item = |subject: Subject, live, desired, detail: Option<String>| Item {
        key: a.key.clone(),
        target_id: a.target_id,
        subject,
        live,
        desired,
        detail,
    };
    match &a.kind {
        ActionKind::Update { changes } => {
            for c in changes {
                out.push(item(
                    Subject::Field { field: c.field },
                    Some(c.old.clone()),
                    Some(c.new.clone()),
                    None,
                ));
            }
        }
        ActionKind::Repositories { enable, disable } => {
            for (list, wanted) in [(enable, true), (disable, false)] {
                for r in list {
                    out.push(item(
                        Subject::Repository {
                            id: r.id,
                            name: r.name.clone(),
                        },
                        Some(Value::Bool(!wanted)),
                        Some(Value::Bool(wanted)),
                        None,
                    ));
                }
            }
        }
        ActionKind::Create(spec) => out.push(item(
            Subject::Integration,
            None,
            serde_json::to_value(spec).ok(),
            Some(format!(
                "missing on the site: apply creates {} {} {:?}",
                spec.service, spec.owner, spec.display_name
            )),
        )),
        ActionKind::Delete {
            display_name,
            service,
            owner,
            repositories,
        } => out.push(item(
            Subject::Integration,
            Some(
                json!({"service": service, "owner": owner, "display_name": display_name,
                        "repositories": repositories}),
            ),
            None,
            Some(format!(
                "not declared: apply deletes {service} {owner} {display_name:?} (prune)"
            )),
        )),
        ActionKind::Replace { old, create, .. } => out.push(item(
            Subject::Integration,
            serde_json::to_value(old).ok(),
            serde_json::to_value(create).ok(),
            Some(format!(
                "apply deletes {} {} and creates {} {}",
                old.service, old.owner, create.service, create.owner
            )),
        )),
        ActionKind::Manual { reason, .. } => out.push(item(
            Subject::Integration,
            None,
            Some(json!({"manual": reason})),
            Some(format!("needs a step in GIJ's UI: {reason}")),
        )),
        ActionKind::RotateCredential {
            credential,
            switches_to_pat,
        } => out.push(item(
            Subject::Credential,
            None,
            serde_json::to_value(credential).ok(),
            Some(if *switches_to_pat {
                "switches from OAuth to a PAT: apply sends the credential".to_owned()
            } else {
                "apply sends the credential again".to_owned()
            }),
        )),
    }
}

/// Counts per class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DriftSummary {
    /// Differences apply would revert, on declared integrations.
    pub managed: u32,
    /// Ignored fields whose live value differs from the config's.
    pub ignored: u32,
    /// Live integrations the config does not declare.
    pub undeclared: u32,
}

/// The most important class present, which decides `gijctl drift`'s exit code.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DriftClass {
    /// Drift on managed fields (exit 2).
    Managed,
    /// Undeclared live integrations, no managed drift (exit 7).
    Undeclared,
    /// Only ignored fields differ (exit 8).
    Ignored,
}

/// The drift report (`gijctl drift --format json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DriftReport {
    /// Always [`DRIFT_FORMAT_VERSION`].
    pub format_version: u32,
    /// Volatile context (tool version, time, config path, endpoint).
    pub meta: PlanMeta,
    /// Counts per class.
    pub summary: DriftSummary,
    /// Class (a): what apply would change on declared integrations.
    pub managed: Vec<Item>,
    /// Class (b): ignored fields that differ from the config's value or default.
    pub ignored: Vec<Item>,
    /// Class (c): live integrations the config does not declare.
    pub undeclared: Vec<UnmanagedIntegration>,
    /// Whether the config prunes (`[apply] prune = true`): apply would delete the undeclared
    /// integrations, which makes them managed drift in effect.
    pub prune: bool,
    /// Things the reader should know (skipped live objects).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Set when `--only`/`--exclude` narrowed the report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<ScopeSummary>,
    /// Live integrations whose indexing is not done, site-wide (as in the plan). Not drift:
    /// the site has what the config asks for and GIJ is still working on it, so they change
    /// neither the class nor the exit code; the report lists them so that "no drift" is not
    /// read as "done".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indexing: Vec<super::model::StillIndexing>,
}

impl DriftReport {
    /// Keeps only the integrations in `scope` (`--only`/`--exclude`) and returns how many
    /// integrations with drift were left out, so the report can say it was scoped. A pattern
    /// that matches no integration is an error, as on plan.
    pub fn narrow(
        &mut self,
        scope: &super::scope::Scope,
        declared: &[String],
    ) -> Result<usize, super::scope::ScopeError> {
        let undeclared_all: Vec<(String, String)> = self
            .undeclared
            .iter()
            .map(|u| (format!("#{}", u.id), u.suggested_key.clone()))
            .collect();
        let subjects: Vec<super::scope::Subject> = declared
            .iter()
            .map(|k| super::scope::Subject {
                key: k.clone(),
                alias: None,
            })
            .chain(undeclared_all.iter().map(|(k, a)| super::scope::Subject {
                key: k.clone(),
                alias: Some(a.clone()),
            }))
            .collect();
        scope.check_matches(&subjects)?;
        let mut left_out = BTreeSet::new();
        for list in [&mut self.managed, &mut self.ignored] {
            list.retain(|i| {
                let keep = scope.contains(&i.key, None);
                if !keep {
                    left_out.insert(i.key.clone());
                }
                keep
            });
        }
        self.undeclared.retain(|u| {
            let key = format!("#{}", u.id);
            let keep = scope.contains(&key, Some(&u.suggested_key));
            if !keep {
                left_out.insert(key);
            }
            keep
        });
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        self.summary = DriftSummary {
            managed: count(self.managed.len()),
            ignored: count(self.ignored.len()),
            undeclared: count(self.undeclared.len()),
        };
        let in_scope = declared.iter().filter(|k| scope.contains(k, None)).count()
            + undeclared_all
                .iter()
                .filter(|(k, alias)| scope.contains(k, Some(alias)))
                .count();
        let total = declared.len() + undeclared_all.len();
        self.scope = Some(ScopeSummary {
            only: scope.only_patterns(),
            exclude: scope.exclude_patterns(),
            in_scope: count(in_scope),
            left_out: count(total - in_scope),
            left_out_with_changes: count(left_out.len()),
        });
        Ok(left_out.len())
    }

    /// The most important class present, `None` when the site matches the config.
    pub fn class(&self) -> Option<DriftClass> {
        if !self.managed.is_empty() || (self.prune && !self.undeclared.is_empty()) {
            Some(DriftClass::Managed)
        } else if !self.undeclared.is_empty() {
            Some(DriftClass::Undeclared)
        } else if !self.ignored.is_empty() {
            Some(DriftClass::Ignored)
        } else {
            None
        }
    }
}

/// Computes the drift report of `live` against `desired`.
///
/// Undeclared integrations are always reported as such (never as planned deletions), whatever
/// `[apply] prune` says; `prune` in the report tells whether apply would delete them.
pub fn drift(
    desired: &DesiredState,
    live: &LiveState,
    meta: PlanMeta,
) -> Result<DriftReport, PlanError> {
    let opts = PlanOptions {
        prune: Some(false),
        meta: meta.clone(),
        ..PlanOptions::default()
    };
    let managed_plan = super::plan(desired, live, &opts)?;
    let managed = items(&managed_plan);

    // The same plan with nothing ignored: the extra items are the ignored fields' drift.
    let mut unignored = desired.clone();
    for d in &mut unignored.integrations {
        d.ignore.clear();
    }
    let full = super::plan(&unignored, live, &opts)?;
    let seen: BTreeSet<(String, Subject)> = managed
        .iter()
        .map(|i| (i.key.clone(), i.subject.clone()))
        .collect();
    let ignored: Vec<Item> = items(&full)
        .into_iter()
        .filter(|i| !seen.contains(&(i.key.clone(), i.subject.clone())))
        .filter(|i| {
            let Some(f) = i.subject.field() else {
                return false;
            };
            desired
                .integrations
                .iter()
                .any(|d| d.key == i.key && d.ignore.contains(&f))
        })
        .collect();

    let undeclared = managed_plan.unmanaged.clone();
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    Ok(DriftReport {
        format_version: DRIFT_FORMAT_VERSION,
        meta,
        summary: DriftSummary {
            managed: count(managed.len()),
            ignored: count(ignored.len()),
            undeclared: count(undeclared.len()),
        },
        managed,
        ignored,
        undeclared,
        prune: desired.policy.prune,
        warnings: managed_plan.warnings,
        scope: None,
        indexing: managed_plan.indexing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{LiveProjects, Settings};
    use crate::plan::testkit::{desired, live_from, projects, repos};
    use crate::plan::testkit::{keys, quickstart};

    fn meta() -> PlanMeta {
        PlanMeta {
            gijctl_version: "0.0.0-test".into(),
            ..PlanMeta::default()
        }
    }

    fn one(
        mutate_live: impl FnOnce(&mut crate::model::LiveIntegration),
        ignore: &[Field],
    ) -> DriftReport {
        let mut d = desired("gh", crate::model::Service::Github, "acme", 0);
        d.projects = keys(&["OPS"]);
        d.repositories.exclude = vec!["legacy-*".into()];
        d.ignore = ignore.iter().copied().collect();
        let mut l = live_from(&d, 1, repos(2, &[("api", true), ("legacy-x", false)]));
        mutate_live(&mut l);
        let desired = DesiredState {
            integrations: vec![d],
            policy: Default::default(),
        };
        let live = LiveState {
            integrations: vec![l],
            projects: projects(),
            ..LiveState::default()
        };
        drift(&desired, &live, meta()).unwrap()
    }

    #[test]
    fn in_sync_site_has_no_drift() {
        let r = one(|_| {}, &[]);
        assert_eq!(r.class(), None);
        assert_eq!(r.summary, DriftSummary::default());
    }

    #[test]
    fn managed_fields_and_defaults_are_managed_drift() {
        let r = one(
            |l| {
                l.settings = Settings {
                    smart_commits: false, // left to its default by the config
                    ..l.settings.clone()
                };
                l.display_name = "renamed by hand".into();
                l.repositories[1].enabled = true;
            },
            &[],
        );
        assert_eq!(r.class(), Some(DriftClass::Managed));
        let labels: Vec<String> = r.managed.iter().map(|i| i.subject.label()).collect();
        assert_eq!(
            labels,
            ["display-name", "smart-commits", "repository legacy-x"]
        );
        assert!(r.ignored.is_empty());
        let smart = &r.managed[1];
        assert_eq!(smart.live, Some(Value::Bool(false)));
        assert_eq!(smart.desired, Some(Value::Bool(true)));
    }

    #[test]
    fn ignored_fields_are_their_own_class() {
        let r = one(
            |l| {
                l.display_name = "renamed by hand".into();
                l.projects = LiveProjects::All;
            },
            &[Field::DisplayName],
        );
        // Projects are managed, the display name is ignored.
        assert_eq!(r.class(), Some(DriftClass::Managed));
        assert_eq!(r.managed.len(), 1);
        assert_eq!(r.ignored.len(), 1);
        assert_eq!(r.ignored[0].subject.label(), "display-name");

        let only_ignored = one(|l| l.repositories[1].enabled = true, &[Field::Repositories]);
        assert_eq!(only_ignored.class(), Some(DriftClass::Ignored));
        assert_eq!(only_ignored.summary.ignored, 1);
    }

    #[test]
    fn quickstart_classes() {
        let (d, l) = quickstart();
        let r = drift(&d, &l, meta()).unwrap();
        assert_eq!(r.class(), Some(DriftClass::Managed));
        assert_eq!(r.undeclared.len(), 1);
        assert_eq!(r.undeclared[0].id, 20);
        // Two missing PAT integrations and a missing OAuth one (manual).
        let missing: Vec<&str> = r
            .managed
            .iter()
            .filter(|i| i.subject == Subject::Integration)
            .map(|i| i.key.as_str())
            .collect();
        assert_eq!(missing, ["platform-gitlab", "acme-azure", "acme-mobile"]);

        // Undeclared only: declare nothing missing, keep the unmanaged one.
        let (mut d2, l2) = quickstart();
        d2.integrations.truncate(0);
        let r2 = drift(&d2, &l2, meta()).unwrap();
        assert_eq!(r2.class(), Some(DriftClass::Undeclared));
        d2.policy.prune = true;
        let r3 = drift(&d2, &l2, meta()).unwrap();
        assert_eq!(r3.class(), Some(DriftClass::Managed));
        assert!(r3.managed.is_empty(), "undeclared stay undeclared");
    }
}
