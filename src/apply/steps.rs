//! Turns plan actions into executor steps: resolves credentials and builds request bodies.
//!
//! Every credential is resolved here, before the first request, so a missing secret stops the
//! apply before anything changed.

use std::collections::BTreeMap;
use std::path::Path;

use super::executor::{Step, StepKind};
use super::request::{RequestError, create_request, update_request};
use crate::api::wire;
use crate::model::{AuthMethod, DesiredIntegration, DesiredState, Field};
use crate::plan::model::{Action, ActionKind};
use crate::secret::Secret;

/// Why steps could not be prepared. Nothing has been changed when this is returned.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// The plan names an integration the config does not declare.
    #[error("step {step}: integration `{key}` is not declared in the config")]
    NotDeclared {
        /// Plan step.
        step: u32,
        /// Key.
        key: String,
    },
    /// Credentials could not be read: every one the actions need, not only the first, so one
    /// run tells the whole list.
    #[error("{} credential{} cannot be read: {}", .0.len(), if .0.len() == 1 { "" } else { "s" },
            .0.iter().map(|u| format!("`{}` of integration `{}`", u.reference, u.key)).collect::<Vec<_>>().join(", "))]
    Credentials(Vec<Unresolved>),
    /// A step needs a credential that was not resolved for it (an internal error: every
    /// unreadable or missing reference is reported as `Credentials` first).
    #[error("integration `{key}`: no credential is configured for a PAT integration")]
    NoCredential {
        /// Key.
        key: String,
    },
    /// A request could not be built.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// A step has no live id.
    #[error("step {step}: integration `{key}` has no live id")]
    NoTarget {
        /// Plan step.
        step: u32,
        /// Key.
        key: String,
    },
}

/// A manual step that apply reports but cannot perform.
#[derive(Debug, Clone)]
pub struct ManualNote {
    /// Plan step.
    pub step: u32,
    /// Key.
    pub key: String,
    /// Why.
    pub reason: String,
    /// What to do.
    pub instructions: Vec<String>,
}

/// A credential the actions need that cannot be read now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unresolved {
    /// The integration's config key.
    pub key: String,
    /// The reference (`env:NAME`, `file:PATH`), or `(none)` when none is configured.
    pub reference: String,
    /// Why it cannot be read; never the value.
    pub reason: String,
}

/// The declarations whose credential the actions send: PAT creations, replacements and
/// rotations, each integration once, in plan order.
fn sending_credentials<'a>(
    actions: &[&Action],
    desired: &'a DesiredState,
) -> Vec<&'a DesiredIntegration> {
    let by_key: BTreeMap<&str, &DesiredIntegration> = desired
        .integrations
        .iter()
        .map(|d| (d.key.as_str(), d))
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    actions
        .iter()
        .filter_map(|a| {
            let d = *by_key.get(a.key.as_str())?;
            let sends = match &a.kind {
                ActionKind::Create(_) | ActionKind::Replace { .. } => d.auth == AuthMethod::Pat,
                ActionKind::RotateCredential { .. } => true,
                _ => false,
            };
            (sends && seen.insert(a.key.as_str())).then_some(d)
        })
        .collect()
}

/// Reads every credential the actions will send, once each: the values by integration key,
/// and each one that cannot be read. `prepare` takes the values from here and `plan` only the
/// failures, so a missing variable is found in the first run, with all the others.
fn resolve_credentials(
    actions: &[&Action],
    desired: &DesiredState,
    base: &Path,
) -> (BTreeMap<String, Secret>, Vec<Unresolved>) {
    let mut values = BTreeMap::new();
    let mut missing = Vec::new();
    for d in sending_credentials(actions, desired) {
        let (reference, reason) = match &d.credential {
            None => (
                "(none)".to_owned(),
                "no credential is configured for a PAT integration".to_owned(),
            ),
            Some(r) => match r.resolve(base) {
                Ok(secret) => {
                    values.insert(d.key.clone(), secret);
                    continue;
                }
                Err(e) => (r.to_string(), crate::apply::executor::error_chain(&e)),
            },
        };
        missing.push(Unresolved {
            key: d.key.clone(),
            reference,
            reason,
        });
    }
    (values, missing)
}

/// The credentials the actions will send that cannot be read here (none is kept).
pub fn unresolved_credentials(
    actions: &[&Action],
    desired: &DesiredState,
    base: &Path,
) -> Vec<Unresolved> {
    resolve_credentials(actions, desired, base).1
}

/// The credential resolved for `key` (each is sent by one step only).
fn take_credential(
    values: &mut BTreeMap<String, Secret>,
    key: &str,
) -> Result<Secret, PrepareError> {
    values
        .remove(key)
        .ok_or_else(|| PrepareError::NoCredential {
            key: key.to_owned(),
        })
}

/// Builds the executor steps for `actions` (a subset of `plan.actions`, in plan order).
pub fn prepare(
    actions: &[&Action],
    desired: &DesiredState,
    project_ids: &BTreeMap<String, u64>,
    base: &Path,
) -> Result<(Vec<Step>, Vec<ManualNote>), PrepareError> {
    let (mut secrets, missing) = resolve_credentials(actions, desired, base);
    if !missing.is_empty() {
        return Err(PrepareError::Credentials(missing));
    }
    let by_key: BTreeMap<&str, &DesiredIntegration> = desired
        .integrations
        .iter()
        .map(|d| (d.key.as_str(), d))
        .collect();
    let mut steps = Vec::new();
    let mut manual = Vec::new();
    let mut seq = 0u32;
    let mut push = |steps: &mut Vec<Step>, a: &Action, kind: StepKind| {
        seq += 1;
        steps.push(Step {
            seq,
            step: a.step,
            key: a.key.clone(),
            kind,
        });
    };
    for a in actions {
        let declared = || {
            by_key
                .get(a.key.as_str())
                .copied()
                .ok_or_else(|| PrepareError::NotDeclared {
                    step: a.step,
                    key: a.key.clone(),
                })
        };
        let target = || {
            a.target_id.ok_or_else(|| PrepareError::NoTarget {
                step: a.step,
                key: a.key.clone(),
            })
        };
        match &a.kind {
            ActionKind::Create(_) => {
                let d = declared()?;
                push(&mut steps, a, create_step(d, project_ids, &mut secrets)?);
            }
            ActionKind::Replace { .. } => {
                // Create before destroy: the new integration indexes while the old one still
                // serves, and the old one goes in the delete phase.
                let d = declared()?;
                push(&mut steps, a, create_step(d, project_ids, &mut secrets)?);
                push(&mut steps, a, StepKind::Delete { id: target()? });
            }
            ActionKind::Update { changes } => {
                let d = declared()?;
                let id = target()?;
                let enabled = changes
                    .iter()
                    .find(|c| c.field == Field::Enabled)
                    .and_then(|c| c.new.as_bool());
                if changes.iter().any(|c| c.field != Field::Enabled) {
                    let request = update_request(d, project_ids, None)?;
                    push(
                        &mut steps,
                        a,
                        StepKind::Update {
                            id,
                            request: Box::new(request),
                        },
                    );
                }
                match enabled {
                    Some(true) => push(
                        &mut steps,
                        a,
                        StepKind::Enable {
                            id,
                            repos: vec![],
                            integration: true,
                            select: (!d.repositories.selects_all()).then(|| d.repositories.clone()),
                        },
                    ),
                    Some(false) => push(
                        &mut steps,
                        a,
                        StepKind::Disable {
                            id,
                            repos: vec![],
                            integration: true,
                        },
                    ),
                    None => {}
                }
            }
            ActionKind::Repositories { enable, disable } => {
                let id = target()?;
                if !disable.is_empty() {
                    let repos = disable.iter().map(|r| r.id).collect();
                    push(
                        &mut steps,
                        a,
                        StepKind::Disable {
                            id,
                            repos,
                            integration: false,
                        },
                    );
                }
                if !enable.is_empty() {
                    let repos = enable.iter().map(|r| r.id).collect();
                    push(
                        &mut steps,
                        a,
                        StepKind::Enable {
                            id,
                            repos,
                            integration: false,
                            select: None,
                        },
                    );
                }
            }
            ActionKind::RotateCredential { .. } => {
                let d = declared()?;
                let id = target()?;
                let secret = take_credential(&mut secrets, &d.key)?;
                let (pat, password, username) = if d.service.requires_username() {
                    (None, Some(secret), d.username.clone())
                } else {
                    (Some(secret), None, None)
                };
                let request = wire::IntegrationRequest {
                    pat,
                    password,
                    username,
                    ..Default::default()
                };
                push(
                    &mut steps,
                    a,
                    StepKind::Update {
                        id,
                        request: Box::new(request),
                    },
                );
            }
            ActionKind::Delete { .. } => push(&mut steps, a, StepKind::Delete { id: target()? }),
            ActionKind::Manual {
                reason,
                instructions,
            } => manual.push(ManualNote {
                step: a.step,
                key: a.key.clone(),
                reason: reason.clone(),
                instructions: instructions.clone(),
            }),
        }
    }
    Ok((steps, manual))
}

fn create_step(
    d: &DesiredIntegration,
    project_ids: &BTreeMap<String, u64>,
    secrets: &mut BTreeMap<String, Secret>,
) -> Result<StepKind, PrepareError> {
    let secret = match d.auth {
        AuthMethod::Pat => Some(take_credential(secrets, &d.key)?),
        AuthMethod::Oauth => None,
    };
    // Always created disabled: the executor prepares it (create, scan, repository selection)
    // while the indexing slots are busy, and a freed slot then only has to enable it.
    let request = create_request(d, project_ids, secret, true)?;
    Ok(StepKind::Create {
        request: Box::new(request),
        repositories: d.repositories.clone(),
        enabled: d.settings.enabled,
    })
}
