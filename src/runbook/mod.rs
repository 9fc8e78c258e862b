//! `gijctl runbook`: the plan as an ordered checklist a person follows in GIJ's web UI.
//!
//! GIJ Cloud has no API to create or edit integrations, and OAuth integrations need a browser
//! everywhere. A runbook turns the same gij.toml, and the same [`crate::plan`] that apply
//! would execute, into steps in apply's order: settings changes first, then creations in waves
//! of at most `max-parallel-indexing`, each wave closed by a "wait until INDEXED" gate, then
//! deletions. Every step carries machine-checkable expectations ([`Expect`]), so that
//! `gijctl runbook --check` can read the site again and tick what is done.
//!
//! - [`guide`]: what to pick in the UI per service and authentication method.
//! - [`snapshot`]: the state snapshot file format (`--state`, `--check FILE`).
//! - [`check`]: evaluating expectations against a state.
//! - [`render`]: Markdown, text and JSON.

pub mod check;
pub mod guide;
#[cfg(test)]
mod props;
pub mod render;
pub mod snapshot;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use guide::Edition;

use crate::api::LiveSite;
use crate::model::{
    AuthMethod, DesiredIntegration, DesiredState, Field, ProjectScope, RepoSelector, Service,
    normalize_origin,
};
use crate::plan::fields::{self, SETTINGS_FIELDS};
use crate::plan::live::ProjectIndex;
use crate::plan::model::{
    Action, ActionKind, CreateSpec, FieldChange, Phase, Plan, ProjectsView, RepoRef,
};
use crate::plan::{PlanError, PlanOptions};
use snapshot::{Discovered, discovered_for};

/// The runbook JSON format version.
pub const FORMAT_VERSION: u32 = 1;

/// A runbook: sections of numbered steps, in the order a person performs them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Runbook {
    /// Always [`FORMAT_VERSION`].
    pub format_version: u32,
    /// The GIJ edition the steps are written for.
    pub edition: Edition,
    /// The config the runbook was made from.
    pub config: String,
    /// Where the current state came from (a site, a snapshot file, or an empty site).
    pub state: String,
    /// At most this many integrations index at once (one wave).
    pub max_parallel_indexing: u32,
    /// Settings, then waves, then deletions; empty sections are left out.
    pub sections: Vec<Section>,
    /// Things to know that are not steps (integrations left alone, skipped live objects).
    pub notes: Vec<String>,
    /// Where `--check` read the state from, when the steps carry a status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_against: Option<String>,
}

impl Runbook {
    /// Every step, in order.
    pub fn steps(&self) -> impl Iterator<Item = &Step> {
        self.sections.iter().flat_map(|s| s.steps.iter())
    }

    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.steps().next().is_none()
    }

    /// How many steps `--check` found done, open, and impossible to verify.
    pub fn progress(&self) -> (usize, usize, usize) {
        let mut p = (0, 0, 0);
        for s in self.steps() {
            match s.status {
                Some(StepStatus::Done) => p.0 += 1,
                Some(StepStatus::Unverifiable) => p.2 += 1,
                Some(StepStatus::Open) | None => p.1 += 1,
            }
        }
        p
    }
}

/// A group of steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Section {
    /// What kind of group.
    pub kind: SectionKind,
    /// Its heading.
    pub title: String,
    /// Its steps.
    pub steps: Vec<Step>,
}

/// The kinds of section, in the order they appear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SectionKind {
    /// Changes that start no indexing.
    Settings,
    /// Creations and enables, at most `max_parallel_indexing` indexing at once.
    Wave {
        /// 1-based.
        number: u32,
    },
    /// Deletions, last.
    Deletions,
}

/// One checklist item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// 1-based position in the whole runbook.
    pub number: u32,
    /// The config key (or `#<id>` for an undeclared live integration); the gate names several.
    pub key: String,
    /// What kind of step.
    pub kind: StepKind,
    /// One line saying what to do.
    pub title: String,
    /// How, line by line.
    pub details: Vec<String>,
    /// What the site shows once the step is done; all must hold.
    pub expect: Vec<Expect>,
    /// Set by `--check`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StepStatus>,
}

/// The kinds of step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// Create an integration.
    Create,
    /// Configure a just-created integration.
    PostCreate,
    /// Change one setting of an existing integration.
    Change,
    /// Enable or disable repositories.
    Repositories,
    /// Enter a credential again or switch the authentication method.
    Credential,
    /// Wait for initial indexing.
    Wait,
    /// Delete an integration.
    Delete,
}

/// Whether `--check` found a step done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Every expectation holds.
    Done,
    /// Some expectation does not hold yet.
    Open,
    /// The state cannot show it (a credential was entered again): confirm by hand.
    Unverifiable,
}

/// Identifies an integration in a state: its id when it existed, else service, origin and
/// owner (how plan matches declarations).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// The git service.
    pub service: Service,
    /// Normalised origin.
    pub origin: String,
    /// The owner.
    pub owner: String,
    /// The live id, for integrations that exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
}

/// Something the site shows once a step is done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Expect {
    /// The integration exists with this authentication method.
    Exists {
        /// Which integration.
        target: Target,
        /// PAT or OAuth.
        auth: AuthMethod,
    },
    /// Every integration finished initial indexing.
    Indexed {
        /// Which integrations.
        targets: Vec<Target>,
    },
    /// The display name.
    DisplayName {
        /// Which integration.
        target: Target,
        /// The name.
        value: String,
    },
    /// One feature setting.
    Setting {
        /// Which integration.
        target: Target,
        /// The field.
        field: Field,
        /// Its value, as plans write it.
        value: Value,
    },
    /// The project associations.
    Projects {
        /// Which integration.
        target: Target,
        /// `"all"` or keys.
        value: ProjectsView,
    },
    /// Exactly the repositories matching the selector are enabled.
    RepositoriesMatch {
        /// Which integration.
        target: Target,
        /// Include patterns.
        include: Vec<String>,
        /// Exclude patterns.
        exclude: Vec<String>,
    },
    /// These repositories are enabled and those disabled.
    Repositories {
        /// Which integration.
        target: Target,
        /// Names that must be enabled.
        enabled: Vec<String>,
        /// Names that must be disabled.
        disabled: Vec<String>,
    },
    /// The integration uses this authentication method.
    Auth {
        /// Which integration.
        target: Target,
        /// PAT or OAuth.
        auth: AuthMethod,
    },
    /// No integration has this id.
    Absent {
        /// The deleted id.
        id: u64,
    },
    /// Not visible in any state (a credential value): a person confirms it.
    Confirm,
}

/// A (service, auth) combination GIJ Cloud does not offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudProblem {
    /// The config key.
    pub key: String,
    /// The service.
    pub service: Service,
    /// The auth method asked for.
    pub auth: AuthMethod,
    /// What to do instead.
    pub alternatives: Vec<String>,
}

fn list_cloud(p: &[CloudProblem]) -> String {
    p.iter()
        .map(|p| {
            format!(
                "- `{}`: {} with {} is not offered on GIJ Cloud (CL/setting-up-integrations-gij-cloud); {}",
                p.key,
                p.service,
                p.auth,
                if p.alternatives.is_empty() {
                    "no alternative is offered".to_owned()
                } else {
                    format!("instead: {}", p.alternatives.join("; or "))
                }
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Why a runbook cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum RunbookError {
    /// The config asks Cloud for combinations it does not offer.
    #[error("{} integration(s) cannot be created on GIJ Cloud:\n{}", .0.len(), list_cloud(.0))]
    Cloud(Vec<CloudProblem>),
    /// The plan underneath cannot be computed.
    #[error("cannot compute the plan the runbook follows")]
    Plan(#[source] PlanError),
    /// `--only`/`--exclude` is wrong (a pattern that matches nothing).
    #[error(transparent)]
    Scope(crate::plan::scope::ScopeError),
}

/// Everything a runbook is made from.
#[derive(Debug, Clone)]
pub struct Inputs<'a> {
    /// The config.
    pub desired: &'a DesiredState,
    /// The current state (an empty site when none is known).
    pub site: &'a LiveSite,
    /// Repository lists of owners, for integrations not created yet.
    pub discovered: &'a [Discovered],
    /// The edition to write for.
    pub edition: Edition,
    /// The config's name, for the header.
    pub config_label: String,
    /// Where the state came from, for the header.
    pub state_label: String,
    /// Delete live integrations the config does not declare (overrides `[apply] prune`).
    pub prune: bool,
    /// Overrides `[apply] max-parallel-indexing`.
    pub max_parallel_indexing: Option<u32>,
    /// `--only`/`--exclude`: the steps of integrations outside it are left out.
    pub scope: crate::plan::scope::Scope,
}

/// Checks every declaration against the Cloud support table.
pub fn validate_cloud(desired: &DesiredState) -> Result<(), RunbookError> {
    let problems: Vec<CloudProblem> = desired
        .integrations
        .iter()
        .filter_map(|d| {
            guide::cloud_allows(d.service, d.auth)
                .err()
                .map(|alternatives| CloudProblem {
                    key: d.key.clone(),
                    service: d.service,
                    auth: d.auth,
                    alternatives,
                })
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(RunbookError::Cloud(problems))
    }
}

/// The normalised state a runbook plans against: when the state lists no Jira projects (an
/// empty site, a hand-written Cloud snapshot), the config's project keys are taken as given.
pub fn live_state(desired: &DesiredState, site: &LiveSite) -> crate::plan::LiveState {
    let mut live = crate::plan::from_site(site);
    if live.projects.keys().next().is_none() {
        let mut keys: Vec<String> = desired
            .integrations
            .iter()
            .filter_map(|d| match &d.projects {
                ProjectScope::Keys(k) => Some(k.iter().map(|k| k.as_str().to_owned())),
                ProjectScope::All => None,
            })
            .flatten()
            .collect();
        keys.sort();
        keys.dedup();
        // Ids are never shown: only keys are compared and rendered.
        live.projects = ProjectIndex::new(
            keys.into_iter()
                .enumerate()
                .map(|(i, k)| (u64::try_from(i).unwrap_or(u64::MAX), k)),
        );
    }
    live
}

/// Makes the runbook.
pub fn build(inp: &Inputs<'_>) -> Result<Runbook, RunbookError> {
    build_on(inp, &live_state(inp.desired, inp.site))
}

/// Makes the runbook against a state already normalised (`inp.site` is not read), which is
/// how the property tests hand it generated sites.
pub(crate) fn build_on(
    inp: &Inputs<'_>,
    live: &crate::plan::LiveState,
) -> Result<Runbook, RunbookError> {
    if inp.edition == Edition::Cloud {
        validate_cloud(inp.desired)?;
    }
    let plan = crate::plan::plan(
        inp.desired,
        live,
        &PlanOptions {
            prune: inp.prune.then_some(true),
            max_parallel_indexing: inp.max_parallel_indexing,
            ..PlanOptions::default()
        },
    )
    .map_err(RunbookError::Plan)?;
    let suggested = crate::plan::scope::suggested_keys(inp.desired, live, &plan);
    let plan = crate::plan::scope::narrow(plan, &inp.scope, inp.desired, live, &suggested)
        .map_err(RunbookError::Scope)?;
    Ok(Builder {
        inp,
        live,
        plan: &plan,
    }
    .run())
}

struct Builder<'a> {
    inp: &'a Inputs<'a>,
    live: &'a crate::plan::LiveState,
    plan: &'a Plan,
}

/// A draft step, numbered at the end.
fn step(
    key: &str,
    kind: StepKind,
    title: String,
    details: Vec<String>,
    expect: Vec<Expect>,
) -> Step {
    Step {
        number: 0,
        key: key.to_owned(),
        kind,
        title,
        details,
        expect,
        status: None,
    }
}

fn projects_view(d: &DesiredIntegration) -> ProjectsView {
    match &d.projects {
        ProjectScope::All => ProjectsView::All,
        ProjectScope::Keys(k) => {
            ProjectsView::Keys(k.iter().map(|k| k.as_str().to_owned()).collect())
        }
    }
}

fn projects_text(v: &ProjectsView) -> String {
    match v {
        ProjectsView::All => "**Associate with all projects**".to_owned(),
        ProjectsView::Keys(k) if k.is_empty() => "no project".to_owned(),
        ProjectsView::Keys(k) => format!(
            "only {}",
            k.iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn names(v: &[String]) -> String {
    v.iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn and_list(v: &[String]) -> String {
    match v {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// One indexing unit: one integration's adjacent actions in the indexing phase, as steps.
struct Unit<'a> {
    key: &'a str,
    steps: Vec<Step>,
    /// Whether one of its actions starts indexing (and so takes a place in the wave).
    starts_indexing: bool,
    /// The plan's estimate of that indexing.
    estimate: u64,
    /// The live integration the gate waits for; `None` for a creation (matched by identity).
    gate_id: Option<u64>,
}

/// Where one plan action's steps go. Mostly all in the section of the action's phase
/// (`main`), but apply's executor runs a replacement's delete with the deletions and the
/// disables of a repository change with the settings, and the runbook follows it.
#[derive(Default)]
struct Placed {
    settings: Vec<Step>,
    main: Vec<Step>,
    deletions: Vec<Step>,
}

/// Adds the plan's warning for each of the action's risks (the words plan prints, from
/// [`crate::plan::model::Risk::describe`]) to the step it concerns: the one whose expectation is about the risk's
/// field, else the first.
fn attach_risks(a: &Action, steps: &mut [Step]) {
    if steps.is_empty() {
        return;
    }
    for r in &a.risks {
        let concerns = |s: &Step| {
            s.expect.iter().any(|e| match e {
                Expect::Projects { .. } => r.fields().contains(&Field::Projects),
                Expect::Setting { field, .. } => r.fields().contains(field),
                _ => false,
            })
        };
        let i = steps.iter().position(concerns).unwrap_or(0);
        steps[i].details.push(format!("Warning: {}", r.describe()));
    }
}

impl<'a> Builder<'a> {
    fn desired(&self, key: &str) -> Option<&'a DesiredIntegration> {
        self.inp.desired.integrations.iter().find(|d| d.key == key)
    }

    fn target_of(&self, d: &DesiredIntegration, id: Option<u64>) -> Target {
        Target {
            service: d.service,
            origin: normalize_origin(&d.origin),
            owner: d.owner.clone(),
            id,
        }
    }

    fn live_name(&self, id: Option<u64>) -> String {
        id.and_then(|id| self.live.get(id))
            .map(|l| l.display_name.clone())
            .unwrap_or_default()
    }

    /// Lays the plan's actions out as apply runs them, reading everything from the plan: its
    /// step order, its phases and each action's `starts_indexing`. No second ordering rule:
    /// settings-phase actions in step order, then the indexing-phase actions in step order cut
    /// into waves of at most `max_parallel_indexing` indexing starts (the batches a person can
    /// follow of apply's sliding window), then the deletions. Where apply's executor splits one
    /// action across phases, so does the runbook ([`Placed`]).
    fn run(self) -> Runbook {
        let slots = self.plan.schedule.max_parallel_indexing.max(1);
        let mut settings = Vec::new();
        let mut units: Vec<Unit<'a>> = Vec::new();
        let mut deletions = Vec::new();
        for a in &self.plan.actions {
            let placed = self.action_steps(a);
            settings.extend(placed.settings);
            match a.phase {
                Phase::Settings => settings.extend(placed.main),
                Phase::Delete => deletions.extend(placed.main),
                Phase::Indexing => {
                    let gate_id = match a.kind {
                        ActionKind::Update { .. } | ActionKind::Repositories { .. } => a.target_id,
                        _ => None,
                    };
                    // One integration's indexing actions are adjacent in step order (plan
                    // sorts them by `order`, file position, then their sub-order).
                    match units.last_mut().filter(|u| u.key == a.key) {
                        Some(u) => {
                            u.steps.extend(placed.main);
                            u.starts_indexing |= a.starts_indexing;
                            u.estimate = u.estimate.max(a.estimated_indexing_secs.unwrap_or(0));
                            u.gate_id = u.gate_id.or(gate_id);
                        }
                        None => units.push(Unit {
                            key: &a.key,
                            steps: placed.main,
                            starts_indexing: a.starts_indexing,
                            estimate: a.estimated_indexing_secs.unwrap_or(0),
                            gate_id,
                        }),
                    }
                }
            }
            deletions.extend(placed.deletions);
        }

        let mut sections = Vec::new();
        if !settings.is_empty() {
            sections.push(Section {
                kind: SectionKind::Settings,
                title: "Settings changes (start no indexing)".to_owned(),
                steps: settings,
            });
        }
        let mut waves: Vec<Vec<Unit<'a>>> = Vec::new();
        let mut used = 0u32;
        for u in units {
            if waves.is_empty() || (u.starts_indexing && used == slots) {
                waves.push(Vec::new());
                used = 0;
            }
            if u.starts_indexing {
                used += 1;
            }
            if let Some(w) = waves.last_mut() {
                w.push(u);
            }
        }
        for (i, w) in waves.into_iter().enumerate() {
            sections.push(self.wave_section(u32::try_from(i + 1).unwrap_or(u32::MAX), w));
        }
        if !deletions.is_empty() {
            sections.push(Section {
                kind: SectionKind::Deletions,
                title: "Deletions (last)".to_owned(),
                steps: deletions,
            });
        }
        let mut n = 0u32;
        for s in &mut sections {
            for st in &mut s.steps {
                n += 1;
                st.number = n;
            }
        }

        let mut notes: Vec<String> = self.plan.warnings.clone();
        if let Some(scope) = &self.plan.scope {
            notes.push(crate::render::text::scope_line(scope));
        }
        for u in &self.plan.unmanaged {
            notes.push(format!(
                "#{} {:?} ({} `{}`) is not in {} and is left alone",
                u.id,
                u.display_name,
                u.service,
                crate::escape::shown(&u.owner),
                self.inp.config_label
            ));
        }
        Runbook {
            format_version: FORMAT_VERSION,
            edition: self.inp.edition,
            config: self.inp.config_label.clone(),
            state: self.inp.state_label.clone(),
            max_parallel_indexing: slots,
            sections,
            notes,
            checked_against: None,
        }
    }

    fn wave_section(&self, number: u32, units: Vec<Unit<'a>>) -> Section {
        let mut steps = Vec::new();
        let mut gate_keys = Vec::new();
        let mut gate_targets = Vec::new();
        let mut estimate = 0;
        let verb_keys: Vec<String> = units.iter().map(|u| format!("`{}`", u.key)).collect();
        let starting: Vec<&str> = units
            .iter()
            .filter(|u| u.starts_indexing)
            .map(|u| u.key)
            .collect();
        for u in units {
            if u.starts_indexing
                && let Some(d) = self.desired(u.key)
            {
                gate_keys.push(format!("`{}`", u.key));
                gate_targets.push(self.target_of(d, u.gate_id));
                estimate = estimate.max(u.estimate);
            }
            steps.extend(u.steps);
        }
        if !gate_targets.is_empty() {
            steps.push(step(
                &starting.join(","),
                StepKind::Wait,
                format!(
                    "Wait until initial indexing shows **INDEXED** for {} before going on",
                    and_list(&gate_keys)
                ),
                vec![
                    "Manage integrations shows each integration's indexing status; GIJ advises \
                     creating only one or two integrations at a time and waiting for each one's \
                     initial indexing (CL/getting-started-guide-integration-creation-post-integration-config)"
                        .to_owned(),
                    format!(
                        "gijctl's estimate: about {} (repository sizes are often unknown)",
                        crate::render::duration(estimate)
                    ),
                ],
                vec![Expect::Indexed {
                    targets: gate_targets,
                }],
            ));
        }
        Section {
            kind: SectionKind::Wave { number },
            title: format!("Wave {number}: {}", and_list(&verb_keys)),
            steps,
        }
    }

    /// One plan action's steps, each carrying the plan's warnings about it.
    fn action_steps(&self, a: &Action) -> Placed {
        let mut placed = Placed::default();
        if matches!(a.kind, ActionKind::Delete { .. }) {
            placed.main = self.delete_steps(a);
            attach_risks(a, &mut placed.main);
            return placed;
        }
        // Every other action is about a declared integration.
        let Some(d) = self.desired(&a.key) else {
            return placed;
        };
        let target = self.target_of(d, a.target_id);
        let open = guide::edit_integration(&self.live_name(a.target_id), a.target_id);
        match &a.kind {
            ActionKind::Create(spec) => placed.main = self.create_steps(d, spec),
            ActionKind::Manual { .. } if a.target_id.is_none() => {
                let spec = crate::plan::diff::create_spec(d, projects_view(d));
                placed.main = self.create_steps(d, &spec);
            }
            ActionKind::Replace { old, create, .. } => {
                placed.main = self.create_steps(d, create);
                // Create before destroy, as apply does: the new integration indexes while the
                // old one still serves; the old one goes with the deletions.
                if let Some(id) = a.target_id {
                    placed.deletions.push(step(
                        &d.key,
                        StepKind::Delete,
                        format!(
                            "`{}`: delete #{id} {:?} ({} `{}` at {}), replaced by the new integration",
                            d.key,
                            old.display_name,
                            old.service,
                            crate::escape::shown(&old.owner),
                            crate::escape::shown(&old.origin)
                        ),
                        vec![
                            guide::edit_integration(&old.display_name, Some(id)),
                            "Remove the integration: its history is indexed again by the new one"
                                .to_owned(),
                        ],
                        vec![Expect::Absent { id }],
                    ));
                }
            }
            ActionKind::Update { changes } => {
                placed.main = self.change_steps(d, &target, &open, changes);
            }
            // Apply's executor disables repositories with the settings changes and gates only
            // the enables.
            ActionKind::Repositories { enable, disable }
                if a.phase == Phase::Indexing && !enable.is_empty() && !disable.is_empty() =>
            {
                placed.settings = vec![self.repos_step(d, &target, &open, &[], disable)];
                placed.main = vec![self.repos_step(d, &target, &open, enable, &[])];
            }
            ActionKind::Repositories { enable, disable } => {
                placed.main = vec![self.repos_step(d, &target, &open, enable, disable)];
            }
            ActionKind::RotateCredential { .. } | ActionKind::Manual { .. } => {
                placed.main = self.credential_steps(a, d, &target, open);
            }
            ActionKind::Delete { .. } => {}
        }
        attach_risks(a, &mut placed.main);
        attach_risks(a, &mut placed.deletions);
        placed
    }

    /// A credential step: send it again, switch the authentication method, or a manual step on
    /// an existing integration.
    fn credential_steps(
        &self,
        a: &Action,
        d: &DesiredIntegration,
        target: &Target,
        open: String,
    ) -> Vec<Step> {
        match &a.kind {
            ActionKind::RotateCredential {
                switches_to_pat, ..
            } => {
                let cred = d
                    .credential
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                let s = guide::scopes(d.service);
                let (title, expect) = if *switches_to_pat {
                    (
                        format!("`{}`: switch from OAuth to a personal access token", d.key),
                        vec![Expect::Auth {
                            target: target.clone(),
                            auth: AuthMethod::Pat,
                        }],
                    )
                } else {
                    (
                        format!("`{}`: enter the credential again", d.key),
                        vec![Expect::Confirm],
                    )
                };
                vec![step(
                    &d.key,
                    StepKind::Credential,
                    title,
                    vec![
                        open,
                        format!(
                            "Connection settings: enter the value of `{cred}` as the credential"
                        ),
                        format!("The token needs {} (source: {})", s.grant, s.source),
                    ],
                    expect,
                )]
            }
            ActionKind::Manual {
                reason,
                instructions,
            } => {
                let expect = if d.auth == AuthMethod::Oauth
                    && a.target_id
                        .and_then(|id| self.live.get(id))
                        .is_some_and(|l| l.auth == Some(AuthMethod::Pat))
                {
                    vec![Expect::Auth {
                        target: target.clone(),
                        auth: AuthMethod::Oauth,
                    }]
                } else {
                    vec![Expect::Confirm]
                };
                vec![step(
                    &d.key,
                    StepKind::Credential,
                    format!("`{}`: {reason}", d.key),
                    instructions.clone(),
                    expect,
                )]
            }
            _ => Vec::new(),
        }
    }

    /// One step per display name, Require User PAT and projects change; the other settings
    /// of the integration together in one step (one visit to its edit page).
    fn change_steps(
        &self,
        d: &DesiredIntegration,
        target: &Target,
        open: &str,
        changes: &[FieldChange],
    ) -> Vec<Step> {
        let mut out = Vec::new();
        let mut other_lines = vec![open.to_owned()];
        let mut other_expect = Vec::new();
        let mut other_titles = Vec::new();
        for c in changes {
            match c.field {
                Field::DisplayName => {
                    let new = c.new.as_str().unwrap_or_default().to_owned();
                    out.push(step(
                        &d.key,
                        StepKind::Change,
                        format!("`{}`: rename it to {new:?}", d.key),
                        vec![
                            open.to_owned(),
                            format!("Connection settings: set **Display Name** to {new:?}"),
                        ],
                        vec![Expect::DisplayName {
                            target: target.clone(),
                            value: new,
                        }],
                    ));
                }
                Field::Projects => {
                    let v = ProjectsView::from_value(&c.new).unwrap_or(ProjectsView::All);
                    let mut lines = vec![
                        open.to_owned(),
                        format!(
                            "Feature settings: set **Project permissions** to {}",
                            projects_text(&v)
                        ),
                    ];
                    // What the change means, in the plan's own words.
                    if let Some(note) = crate::render::text::change_note(c) {
                        lines.push(format!("Change: {note}"));
                    }
                    lines.push(
                        "Integration-level project permissions overwrite repository-level ones \
                         (CL/associating-project-permissions-gij-cloud)"
                            .to_owned(),
                    );
                    out.push(step(
                        &d.key,
                        StepKind::Change,
                        format!("`{}`: project permissions {}", d.key, projects_text(&v)),
                        lines,
                        vec![Expect::Projects {
                            target: target.clone(),
                            value: v,
                        }],
                    ));
                }
                Field::RequireUserPat => {
                    let on = c.new == Value::Bool(true);
                    let why = if on {
                        "GIJ strongly recommends it: branches and pull requests are created \
                         with, and attributed to, each user's own token"
                            .to_owned()
                    } else {
                        format!(
                            "Why: {}",
                            guide::require_user_pat_off_reason(
                                d.service,
                                d.settings.repository_browser
                            )
                        )
                    };
                    out.push(step(
                        &d.key,
                        StepKind::Change,
                        format!("`{}`: {}", d.key, guide::set_field_title(c.field, &c.new)),
                        vec![open.to_owned(), guide::set_field(c.field, &c.new), why],
                        vec![Expect::Setting {
                            target: target.clone(),
                            field: c.field,
                            value: c.new.clone(),
                        }],
                    ));
                }
                f => {
                    other_titles.push(guide::setting_ui(f).1);
                    other_lines.push(guide::set_field(f, &c.new));
                    other_expect.push(Expect::Setting {
                        target: target.clone(),
                        field: f,
                        value: c.new.clone(),
                    });
                }
            }
        }
        if !other_expect.is_empty() {
            let title = if let [Expect::Setting { field, value, .. }] = other_expect.as_slice() {
                format!("`{}`: {}", d.key, guide::set_field_title(*field, value))
            } else {
                format!(
                    "`{}`: change {} settings ({})",
                    d.key,
                    other_expect.len(),
                    other_titles.join(", ")
                )
            };
            out.push(step(
                &d.key,
                StepKind::Change,
                title,
                other_lines,
                other_expect,
            ));
        }
        out
    }

    fn repos_step(
        &self,
        d: &DesiredIntegration,
        target: &Target,
        open: &str,
        enable: &[RepoRef],
        disable: &[RepoRef],
    ) -> Step {
        // Repository names come from the site: escaped, one name per name.
        let shown = |r: &RepoRef| crate::escape::shown(&r.name).into_owned();
        let on: Vec<String> = enable.iter().map(shown).collect();
        let off: Vec<String> = disable.iter().map(shown).collect();
        let mut what = Vec::new();
        let mut details = vec![open.to_owned()];
        if !on.is_empty() {
            what.push(format!("enable {}", names(&on)));
            details.push(format!("Repositories: enable {}", names(&on)));
        }
        if !off.is_empty() {
            what.push(format!("disable {}", names(&off)));
            details.push(format!("Repositories: disable {}", names(&off)));
        }
        step(
            &d.key,
            StepKind::Repositories,
            format!("`{}`: {}", d.key, what.join("; ")),
            details,
            vec![Expect::Repositories {
                target: target.clone(),
                enabled: on,
                disabled: off,
            }],
        )
    }

    fn several_oauth(&self, service: Service) -> bool {
        let owners: std::collections::BTreeSet<String> = self
            .inp
            .desired
            .integrations
            .iter()
            .filter(|d| d.auth == AuthMethod::Oauth && d.service == service)
            .map(|d| d.owner.to_lowercase())
            .collect();
        owners.len() > 1
    }

    fn create_steps(&self, d: &DesiredIntegration, spec: &CreateSpec) -> Vec<Step> {
        let target = self.target_of(d, None);
        let facts = guide::CreateFacts {
            service: spec.service,
            auth: spec.auth,
            origin: &spec.origin,
            owner: &spec.owner,
            credential: d.credential.as_ref().map(ToString::to_string),
            username: spec.username.as_deref(),
            aws_region: spec.aws_region.as_deref(),
            several_oauth_accounts: spec.auth == AuthMethod::Oauth
                && self.several_oauth(spec.service),
            edition: self.inp.edition,
        };
        let selector = RepoSelector {
            include: spec.repositories.include.clone(),
            exclude: spec.repositories.exclude.clone(),
        };
        let mut details = vec![guide::ADD_INTEGRATION.to_owned()];
        details.extend(guide::connect_lines(&facts));
        details.extend(self.repository_lines(spec, &selector));
        details.push(format!(
            "While creating it, set **Project permissions** to {}",
            projects_text(&spec.projects)
        ));
        let auth = match spec.auth {
            AuthMethod::Pat if spec.service.requires_username() => "credentials",
            AuthMethod::Pat => "PAT",
            AuthMethod::Oauth => "OAuth",
        };
        let mut out = vec![step(
            &d.key,
            StepKind::Create,
            format!(
                "Create `{}`: {} {} `{}` with {auth}",
                d.key,
                guide::wizard_label(spec.service),
                guide::owner_word(spec.service),
                spec.owner
            ),
            details,
            vec![
                Expect::Exists {
                    target: target.clone(),
                    auth: spec.auth,
                },
                Expect::RepositoriesMatch {
                    target: target.clone(),
                    include: selector.include.clone(),
                    exclude: selector.exclude.clone(),
                },
                Expect::Projects {
                    target: target.clone(),
                    value: spec.projects.clone(),
                },
            ],
        )];
        let open = guide::edit_integration(&spec.display_name, None);
        out.push(step(
            &d.key,
            StepKind::PostCreate,
            format!(
                "`{}`: set the display name to {:?}",
                d.key, spec.display_name
            ),
            vec![
                open.clone(),
                format!(
                    "Connection settings: set **Display Name** to {:?} (GIJ advises a name that \
                     shows the {})",
                    spec.display_name,
                    guide::owner_word(spec.service)
                ),
            ],
            vec![Expect::DisplayName {
                target: target.clone(),
                value: spec.display_name.clone(),
            }],
        ));
        let value_of = |f: Field| {
            spec.settings
                .iter()
                .find(|s| s.field == f)
                .map(|s| s.value.clone())
        };
        let rup = value_of(Field::RequireUserPat) == Some(Value::Bool(true));
        out.push(step(
            &d.key,
            StepKind::PostCreate,
            if rup {
                format!("`{}`: turn **Require User PAT** on", d.key)
            } else {
                format!("`{}`: leave **Require User PAT** off", d.key)
            },
            vec![
                open.clone(),
                if rup {
                    "Feature settings: turn **Require User PAT** on; GIJ strongly recommends it, \
                     so that branches and pull requests are created with, and attributed to, \
                     each user's own token"
                        .to_owned()
                } else {
                    format!(
                        "Why: {}",
                        guide::require_user_pat_off_reason(
                            spec.service,
                            value_of(Field::RepositoryBrowser) != Some(Value::Bool(false))
                        )
                    )
                },
            ],
            vec![Expect::Setting {
                target: target.clone(),
                field: Field::RequireUserPat,
                value: Value::Bool(rup),
            }],
        ));
        let defaults = guide::gij_defaults();
        let mut lines = vec![open];
        let mut expect = Vec::new();
        let mut labels = Vec::new();
        for f in SETTINGS_FIELDS {
            if matches!(f, Field::RequireUserPat) {
                continue;
            }
            let (Some(want), Some(default)) = (value_of(f), fields::get(&defaults, f)) else {
                continue;
            };
            if want == default {
                continue;
            }
            labels.push(guide::setting_ui(f).1);
            lines.push(guide::set_field(f, &want));
            if f == Field::Enabled {
                lines
                    .push("gij.toml keeps this integration disabled: it is not indexed".to_owned());
            }
            expect.push(Expect::Setting {
                target: target.clone(),
                field: f,
                value: want,
            });
        }
        if !expect.is_empty() {
            out.push(step(
                &d.key,
                StepKind::PostCreate,
                format!(
                    "`{}`: set {} setting(s) that differ from GIJ's defaults ({})",
                    d.key,
                    expect.len(),
                    labels.join(", ")
                ),
                lines,
                expect,
            ));
        }
        out
    }

    fn repository_lines(&self, spec: &CreateSpec, selector: &RepoSelector) -> Vec<String> {
        let known = discovered_for(
            self.inp.discovered,
            spec.service.wire_type(),
            &spec.origin,
            &spec.owner,
        );
        let matcher = selector.matcher().ok();
        let mut out = Vec::new();
        let (pick, leave): (Vec<String>, Vec<String>) = match (known, &matcher) {
            (Some(all), Some(m)) => all.iter().cloned().partition(|n| m.is_match(n)),
            _ => (Vec::new(), Vec::new()),
        };
        let cloud = self.inp.edition == Edition::Cloud;
        match known {
            Some(all) if leave.is_empty() => out.push(format!(
                "Repositories: all {} ({})",
                all.len(),
                names(&pick)
            )),
            Some(all) => {
                if pick.is_empty() {
                    out.push(format!(
                        "Repositories: none of the {} repositories of `{}` matches gij.toml's \
                         patterns; fix the patterns before creating it",
                        all.len(),
                        spec.owner
                    ));
                } else if cloud {
                    out.push(format!(
                        "**Choose Repositories**: pick only {} ({} of {}); leave out {}",
                        names(&pick),
                        pick.len(),
                        all.len(),
                        names(&leave)
                    ));
                } else {
                    out.push(
                        "Untick **Enable this integration** before saving, so that nothing is \
                         indexed before the selection is made"
                            .to_owned(),
                    );
                    out.push(format!(
                        "When the repository list appears, disable {} and keep {} ({} of {}); \
                         then turn **Enable this integration** on",
                        names(&leave),
                        names(&pick),
                        pick.len(),
                        all.len()
                    ));
                }
            }
            None if selector.selects_all() => {
                out.push("Repositories: all of them".to_owned());
            }
            None => {
                let mut rule = format!("those matching {}", names(&selector.include));
                if !selector.exclude.is_empty() {
                    rule.push_str(&format!(" but not {}", names(&selector.exclude)));
                }
                rule.push_str(" (case-insensitive; `*` does not cross `/`)");
                if cloud {
                    out.push(format!("**Choose Repositories**: pick {rule}"));
                } else {
                    out.push(
                        "Untick **Enable this integration** before saving, so that nothing is \
                         indexed before the selection is made"
                            .to_owned(),
                    );
                    out.push(format!(
                        "When the repository list appears, keep enabled only {rule}; then turn \
                         **Enable this integration** on"
                    ));
                }
            }
        }
        out
    }

    fn delete_steps(&self, a: &Action) -> Vec<Step> {
        let (
            ActionKind::Delete {
                display_name,
                service,
                owner,
                repositories,
            },
            Some(id),
        ) = (&a.kind, a.target_id)
        else {
            return Vec::new();
        };
        vec![step(
            &a.key,
            StepKind::Delete,
            format!(
                "Delete #{id} {display_name:?} ({service} `{}`, {repositories} repositories)",
                crate::escape::shown(owner)
            ),
            vec![
                guide::edit_integration(display_name, Some(id)),
                "Remove the integration: gij.toml does not declare it and pruning is on".to_owned(),
            ],
            vec![Expect::Absent { id }],
        )]
    }
}

/// Summary counts by key, for the header.
pub fn counts(r: &Runbook) -> BTreeMap<&'static str, usize> {
    let mut m = BTreeMap::new();
    for s in r.steps() {
        let k = match s.kind {
            StepKind::Create => "create",
            StepKind::Delete => "delete",
            StepKind::Wait => "wait",
            _ => "change",
        };
        *m.entry(k).or_insert(0) += 1;
    }
    m
}
