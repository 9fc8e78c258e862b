//! The three-way pull-request view (`gijctl review`): base branch config, head branch config
//! and the live site.
//!
//! A plain plan of the head config mixes two things a reviewer must tell apart: what the pull
//! request changes, and drift that was already on the site (which the apply after merge would
//! silently revert). This module plans both configs against the same live site and compares
//! the two plans item by item ([`super::drift::items`]). Because the site is the same, every
//! difference between the two plans is caused by the pull request:
//!
//! - in the head plan only: a **change** the pull request makes;
//! - in both plans, asking for the same value: **drift** that was already there;
//! - in both with different values: a **conflict**: the pull request asks for a third value
//!   where the site drifted (the reviewer should decide which value wins);
//! - in the base plan only: an **adoption**: the site drifted, and the pull request makes the
//!   config accept the live value (asks for it, ignores the field, or stops declaring the
//!   integration). Apply after merge leaves it as it is: it is neither a change to the site nor
//!   a conflict, and it is listed on its own so a reviewer sees that the pull request accepts
//!   what was changed on the site by hand.
//!
//! Items are anchored on the live integration id when there is one, so renaming a config key
//! is not a change. A credential reference that differs between base and head is an intended
//! rotation: the head plan sends that credential again, shown with salted fingerprints only.

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::drift::{Item, Subject, items};
use super::fingerprint::credential_fingerprint;
use super::model::PlanMeta;
use super::{LiveState, PlanError, PlanOptions};
use crate::model::{AuthMethod, DesiredState, normalize_origin};

/// The review document format version (`schema/review.schema.json`).
pub const REVIEW_FORMAT_VERSION: u32 = 1;

/// One line of the three-way view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ReviewItem {
    /// The config key in the head config (or the base config when the head dropped it).
    pub key: String,
    /// The live integration, when there is one.
    pub target_id: Option<u64>,
    /// What differs.
    pub subject: Subject,
    /// What the site has now (`None`: nothing, or unreadable like a credential).
    pub live: Option<Value>,
    /// What the base config asks for; `None` when it leaves the live value alone.
    pub base: Option<Value>,
    /// What the head config asks for; `None` when it leaves the live value alone.
    pub head: Option<Value>,
    /// A sentence for integration-level items and conflicts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// How the head config accepts a value the site drifted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AdoptedBy {
    /// The head config asks for the live value.
    Value,
    /// The head config lists the field in `ignore`: apply leaves it alone from now on.
    Ignore,
    /// The head config no longer declares the integration (or no longer prunes it).
    Undeclared,
}

impl AdoptedBy {
    /// A sentence for renderings.
    pub fn describe(self) -> &'static str {
        match self {
            AdoptedBy::Value => "this pull request asks for the value the site drifted to",
            AdoptedBy::Ignore => "this pull request ignores the field: the live value stays",
            AdoptedBy::Undeclared => {
                "this pull request no longer declares it as the base did: the site stays as it is"
            }
        }
    }
}

/// Drift the pull request adopts: the base config asks for a value the site no longer has, and
/// the head config accepts the live one. Apply after merge does nothing for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Adoption {
    /// The config key in the base config.
    pub key: String,
    /// The live integration, when there is one.
    pub target_id: Option<u64>,
    /// What drifted.
    pub subject: Subject,
    /// What the site has now, which the head config accepts (`None`: nothing, or unreadable).
    pub live: Option<Value>,
    /// What the base config asks for (what apply of the base config would have restored).
    pub base: Option<Value>,
    /// How the head config accepts it.
    pub adopted_by: AdoptedBy,
}

/// A credential whose reference differs between base and head: an intended rotation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Rotation {
    /// The config key.
    pub key: String,
    /// The live integration it applies to (`None`: it is being created anyway).
    pub target_id: Option<u64>,
    /// Salted fingerprint of the base reference (never the value).
    pub base_fingerprint: Option<String>,
    /// Salted fingerprint of the head reference.
    pub head_fingerprint: Option<String>,
}

/// Counts per section.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReviewSummary {
    /// Changes the pull request makes.
    pub changes: u32,
    /// Drift that was already there.
    pub drift: u32,
    /// The pull request edits something that has drifted.
    pub conflicts: u32,
    /// Drift the pull request adopts (the head config accepts the live value).
    pub adoptions: u32,
    /// Credentials the pull request rotates.
    pub rotations: u32,
}

/// The three-way view (`gijctl review --format json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Review {
    /// Always [`REVIEW_FORMAT_VERSION`].
    pub format_version: u32,
    /// Volatile context; `config_path` is the head config.
    pub meta: PlanMeta,
    /// The base config's path, as given.
    pub base_config: String,
    /// Counts per section.
    pub summary: ReviewSummary,
    /// Changes this pull request makes (head plan only).
    pub changes: Vec<ReviewItem>,
    /// Drift that was already there (base and head plans agree); apply after merge reverts it
    /// too.
    pub drift: Vec<ReviewItem>,
    /// The pull request asks for another value where the site drifted.
    pub conflicts: Vec<ReviewItem>,
    /// Drift the pull request adopts: not a change to the site, not a conflict.
    pub adoptions: Vec<Adoption>,
    /// Credential references changed by the pull request (their integrations get the new
    /// credential; the change also appears under `changes`).
    pub rotations: Vec<Rotation>,
    /// Things the reader should know (skipped live objects).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl Review {
    /// Whether the pull request changes anything on the site (an adoption changes nothing).
    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty() || !self.conflicts.is_empty()
    }
}

/// Config keys whose credential reference differs between base and head (PAT in both).
pub fn rotations(
    base: &DesiredState,
    head: &DesiredState,
) -> Vec<(String, Option<String>, Option<String>)> {
    let mut out = Vec::new();
    for h in &head.integrations {
        let Some(b) = base.integrations.iter().find(|b| b.key == h.key) else {
            continue;
        };
        if h.auth != AuthMethod::Pat || b.auth != AuthMethod::Pat {
            continue;
        }
        let (bf, hf) = (credential_fingerprint(b), credential_fingerprint(h));
        if bf != hf {
            out.push((h.key.clone(), bf, hf));
        }
    }
    out
}

/// How the head config accepts a base-plan item it has no item for: through the declaration
/// of the same integration (its base key, its pinned id, or its identity, as plan matches), or
/// by not declaring it.
fn adopted_by(head: &DesiredState, live: &LiveState, b: &Item) -> AdoptedBy {
    let l = b.target_id.and_then(|id| live.get(id));
    let declared = head.integrations.iter().find(|d| {
        d.key == b.key
            || l.is_some_and(|l| {
                d.pinned_id == Some(l.id)
                    || (d.service == l.service
                        && normalize_origin(&d.origin) == l.origin
                        && d.owner.eq_ignore_ascii_case(&l.owner))
            })
    });
    match (declared, b.subject.field()) {
        (None, _) => AdoptedBy::Undeclared,
        (Some(d), Some(f)) if d.ignore.contains(&f) => AdoptedBy::Ignore,
        (Some(_), _) => AdoptedBy::Value,
    }
}

/// Computes the three-way view. `base_path` is only echoed into the document.
pub fn review(
    base: &DesiredState,
    head: &DesiredState,
    live: &LiveState,
    base_path: &str,
    meta: PlanMeta,
) -> Result<Review, PlanError> {
    let rotated = rotations(base, head);
    let base_plan = super::plan(
        base,
        live,
        &PlanOptions {
            meta: meta.clone(),
            ..PlanOptions::default()
        },
    )?;
    let head_plan = super::plan(
        head,
        live,
        &PlanOptions {
            rotate: rotated.iter().map(|(k, _, _)| k.clone()).collect(),
            meta: meta.clone(),
            ..PlanOptions::default()
        },
    )?;
    let b_items = items(&base_plan);
    let h_items = items(&head_plan);
    let slot = |i: &Item| (i.anchor(), i.subject.clone());
    let base_by: BTreeMap<(String, Subject), &Item> =
        b_items.iter().map(|i| (slot(i), i)).collect();
    let head_slots: BTreeSet<(String, Subject)> = h_items.iter().map(slot).collect();

    let mut changes = Vec::new();
    let mut drift = Vec::new();
    let mut conflicts = Vec::new();
    for h in &h_items {
        let mut item = ReviewItem {
            key: h.key.clone(),
            target_id: h.target_id,
            subject: h.subject.clone(),
            live: h.live.clone(),
            base: None,
            head: h.desired.clone(),
            detail: h.detail.clone(),
        };
        match base_by.get(&slot(h)) {
            None => {
                if h.subject == Subject::Credential
                    && let Some((_, bf, hf)) = rotated.iter().find(|(k, _, _)| *k == h.key)
                {
                    item.base = bf.clone().map(Value::from);
                    item.head = hf.clone().map(Value::from);
                    item.detail = Some(
                        "the credential reference changed: apply sends the new credential \
                         (fingerprints of the references, never the values)"
                            .to_owned(),
                    );
                }
                changes.push(item);
            }
            Some(b) if b.desired == h.desired => {
                item.base = b.desired.clone();
                drift.push(item);
            }
            Some(b) => {
                item.base = b.desired.clone();
                item.detail = Some(match &h.detail {
                    Some(d) => format!("drifted, and this pull request changes it: {d}"),
                    None => "drifted, and this pull request asks for another value".to_owned(),
                });
                conflicts.push(item);
            }
        }
    }
    // The base plan would restore these and the head plan leaves them: the pull request
    // makes the config agree with what the site has.
    let mut adoptions = Vec::new();
    for b in &b_items {
        if head_slots.contains(&slot(b)) {
            continue;
        }
        adoptions.push(Adoption {
            key: b.key.clone(),
            target_id: b.target_id,
            subject: b.subject.clone(),
            live: b.live.clone(),
            base: b.desired.clone(),
            adopted_by: adopted_by(head, live, b),
        });
    }

    let rotations: Vec<Rotation> = rotated
        .into_iter()
        .map(|(key, base_fingerprint, head_fingerprint)| Rotation {
            target_id: h_items
                .iter()
                .find(|i| i.key == key)
                .and_then(|i| i.target_id),
            key,
            base_fingerprint,
            head_fingerprint,
        })
        .collect();
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    let mut warnings = head_plan.warnings.clone();
    for w in base_plan.warnings {
        if !warnings.contains(&w) {
            warnings.push(w);
        }
    }
    Ok(Review {
        format_version: REVIEW_FORMAT_VERSION,
        meta,
        base_config: base_path.to_owned(),
        summary: ReviewSummary {
            changes: count(changes.len()),
            drift: count(drift.len()),
            conflicts: count(conflicts.len()),
            adoptions: count(adoptions.len()),
            rotations: count(rotations.len()),
        },
        changes,
        drift,
        conflicts,
        adoptions,
        rotations,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Field, Service};
    use crate::plan::testkit::{desired, keys, live_from, projects, repos};
    use crate::secret::SecretRef;

    fn meta() -> PlanMeta {
        PlanMeta {
            gijctl_version: "0.0.0-test".into(),
            ..PlanMeta::default()
        }
    }

    /// Base config, and a live site that matches it exactly.
    fn setup() -> (DesiredState, LiveState) {
        let mut d = desired("gh", Service::Github, "acme", 0);
        d.projects = keys(&["OPS"]);
        let l = live_from(&d, 1, repos(2, &[("api", true), ("docs", true)]));
        (
            DesiredState {
                integrations: vec![d],
                policy: Default::default(),
            },
            LiveState {
                integrations: vec![l],
                projects: projects(),
                ..LiveState::default()
            },
        )
    }

    fn labels(items: &[ReviewItem]) -> Vec<String> {
        items.iter().map(|i| i.subject.label()).collect()
    }

    #[test]
    fn same_config_and_no_drift_is_empty() {
        let (base, live) = setup();
        let r = review(&base, &base, &live, "base.toml", meta()).unwrap();
        assert_eq!(r.summary, ReviewSummary::default());
        assert!(!r.has_changes());
    }

    #[test]
    fn separates_changes_drift_and_conflicts() {
        let (base, mut live) = setup();
        // Drift already there: smart commits and the display name were changed by hand.
        live.integrations[0].settings.smart_commits = false;
        live.integrations[0].display_name = "by hand".into();
        // The pull request: excludes docs, asks for WEB too, and renames (conflict).
        let mut head = base.clone();
        let h = &mut head.integrations[0];
        h.repositories.exclude = vec!["docs".into()];
        h.projects = keys(&["OPS", "WEB"]);
        h.display_name = "GitHub (acme)".into();
        let r = review(&base, &head, &live, "base.toml", meta()).unwrap();
        assert_eq!(labels(&r.changes), ["projects", "repository docs"]);
        assert_eq!(labels(&r.drift), ["smart-commits"]);
        assert_eq!(labels(&r.conflicts), ["display-name"]);
        let c = &r.conflicts[0];
        assert_eq!(c.live, Some(Value::from("by hand")));
        assert_eq!(c.base, Some(Value::from("github · acme")));
        assert_eq!(c.head, Some(Value::from("GitHub (acme)")));
        assert!(r.has_changes());
    }

    #[test]
    fn adopting_drift_is_neither_a_change_nor_a_conflict_and_key_renames_are_not_changes() {
        let (base, mut live) = setup();
        live.integrations[0].settings.smart_commits = false;
        live.integrations[0].settings.tags_filter = "v.*".into();
        let mut head = base.clone();
        let h = &mut head.integrations[0];
        h.key = "acme-github".into();
        // Adopted two ways: ignoring the field, and asking for the live value.
        h.ignore.insert(Field::SmartCommits);
        h.settings.tags_filter = "v.*".into();
        let r = review(&base, &head, &live, "base.toml", meta()).unwrap();
        assert!(r.changes.is_empty(), "{:?}", r.changes);
        assert!(r.drift.is_empty());
        assert!(r.conflicts.is_empty(), "{:?}", r.conflicts);
        let adopted: Vec<(String, AdoptedBy)> = r
            .adoptions
            .iter()
            .map(|a| (a.subject.label(), a.adopted_by))
            .collect();
        assert_eq!(
            adopted,
            [
                ("smart-commits".to_owned(), AdoptedBy::Ignore),
                ("tags-filter".to_owned(), AdoptedBy::Value),
            ]
        );
        assert_eq!(r.summary.adoptions, 2);
        assert!(!r.has_changes(), "an adoption changes nothing on the site");

        // Asking for a third value where the site drifted is still a conflict.
        head.integrations[0].settings.tags_filter = "^release-.*".into();
        let r = review(&base, &head, &live, "base.toml", meta()).unwrap();
        assert_eq!(labels(&r.conflicts), ["tags-filter"]);
        assert_eq!(r.adoptions.len(), 1);
    }

    #[test]
    fn changed_credential_reference_is_a_rotation_with_fingerprints() {
        let (base, live) = setup();
        let mut head = base.clone();
        head.integrations[0].credential = Some(SecretRef::Env("NEW_GH_TOKEN".into()));
        let r = review(&base, &head, &live, "base.toml", meta()).unwrap();
        assert_eq!(r.rotations.len(), 1);
        let rot = &r.rotations[0];
        assert_eq!(rot.target_id, Some(1));
        assert_ne!(rot.base_fingerprint, rot.head_fingerprint);
        assert_eq!(labels(&r.changes), ["credential"]);
        let text = serde_json::to_string(&r).unwrap();
        assert!(
            !text.contains("NEW_GH_TOKEN"),
            "references are fingerprinted"
        );
    }

    #[test]
    fn pruning_turned_on_by_the_pull_request_is_a_change() {
        let (base, mut live) = setup();
        let mut other = desired("old", Service::Gitlab, "old-team", 1);
        other.projects = keys(&["OPS"]);
        live.integrations
            .push(live_from(&other, 20, repos(21, &[("one", true)])));
        let mut head = base.clone();
        head.policy.prune = true;
        let r = review(&base, &head, &live, "base.toml", meta()).unwrap();
        assert_eq!(r.changes.len(), 1);
        assert_eq!(r.changes[0].target_id, Some(20));
        assert_eq!(r.changes[0].subject, Subject::Integration);
    }
}
