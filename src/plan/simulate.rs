//! A pure model of what apply does to a site, for tests: `plan(d, simulate_apply(l, plan(d, l)))`
//! must be empty. apply's own tests can use it as the expected end state.

use std::collections::BTreeSet;

use super::fields;
use super::live::LiveState;
use super::model::{ActionKind, CreateSpec, Plan, ProjectsView};
use crate::model::{
    Field, IndexState, IntegrationIndexing, LiveIntegration, LiveProjects, LiveRepository,
    RepoSelector, Settings,
};

fn live_projects(v: &ProjectsView) -> LiveProjects {
    match v {
        ProjectsView::All => LiveProjects::All,
        ProjectsView::Keys(k) => LiveProjects::Keys(k.iter().cloned().collect()),
    }
}

/// Applies every non-manual action of `plan` to a copy of `live`, as a perfect apply would,
/// with indexing finished instantly. `discover` lists the repository names GIJ would discover
/// for a new integration; ids for new objects are allocated after the largest existing id.
pub fn simulate_apply(
    live: &LiveState,
    plan: &Plan,
    discover: &dyn Fn(&CreateSpec) -> Vec<String>,
) -> LiveState {
    let mut out = live.clone();
    let mut next_id = live
        .integrations
        .iter()
        .flat_map(|l| std::iter::once(l.id).chain(l.repositories.iter().map(|r| r.id)))
        .max()
        .unwrap_or(0)
        + 1;
    let mut alloc = || {
        let id = next_id;
        next_id += 1;
        id
    };
    for a in &plan.actions {
        match &a.kind {
            ActionKind::Create(spec) => {
                let l = create(spec, discover, &mut alloc);
                out.integrations.push(l);
            }
            ActionKind::Replace { create: spec, .. } => {
                out.integrations.retain(|l| Some(l.id) != a.target_id);
                let l = create(spec, discover, &mut alloc);
                out.integrations.push(l);
            }
            ActionKind::Delete { .. } => out.integrations.retain(|l| Some(l.id) != a.target_id),
            ActionKind::Update { changes } => {
                let Some(l) = out
                    .integrations
                    .iter_mut()
                    .find(|l| Some(l.id) == a.target_id)
                else {
                    continue;
                };
                for c in changes {
                    match c.field {
                        Field::DisplayName => {
                            l.display_name = c.new.as_str().unwrap_or_default().to_owned();
                        }
                        Field::Projects => {
                            if let Some(v) = ProjectsView::from_value(&c.new) {
                                l.projects = live_projects(&v);
                            }
                        }
                        f => {
                            fields::set(&mut l.settings, f, &c.new);
                        }
                    }
                }
            }
            ActionKind::Repositories { enable, disable } => {
                let on: BTreeSet<u64> = enable.iter().map(|r| r.id).collect();
                let off: BTreeSet<u64> = disable.iter().map(|r| r.id).collect();
                if let Some(l) = out
                    .integrations
                    .iter_mut()
                    .find(|l| Some(l.id) == a.target_id)
                {
                    for r in &mut l.repositories {
                        if on.contains(&r.id) {
                            r.enabled = true;
                            r.state = IndexState::Updated;
                        }
                        if off.contains(&r.id) {
                            r.enabled = false;
                            r.state = IndexState::Disabled;
                        }
                    }
                }
            }
            ActionKind::RotateCredential {
                switches_to_pat, ..
            } => {
                if *switches_to_pat
                    && let Some(l) = out
                        .integrations
                        .iter_mut()
                        .find(|l| Some(l.id) == a.target_id)
                {
                    l.auth = Some(crate::model::AuthMethod::Pat);
                }
            }
            ActionKind::Manual { .. } => {}
        }
    }
    out.integrations.sort_by_key(|l| l.id);
    out
}

fn create(
    spec: &CreateSpec,
    discover: &dyn Fn(&CreateSpec) -> Vec<String>,
    alloc: &mut dyn FnMut() -> u64,
) -> LiveIntegration {
    let id = alloc();
    let mut settings = Settings::default();
    for s in &spec.settings {
        fields::set(&mut settings, s.field, &s.value);
    }
    let selector = RepoSelector {
        include: spec.repositories.include.clone(),
        exclude: spec.repositories.exclude.clone(),
    };
    let matcher = selector.matcher().ok();
    let mut names = discover(spec);
    names.sort();
    let repositories = names
        .into_iter()
        .map(|name| {
            let enabled = matcher.as_ref().is_some_and(|m| m.is_match(&name));
            LiveRepository {
                id: alloc(),
                name,
                enabled,
                state: if enabled {
                    IndexState::Updated
                } else {
                    IndexState::Disabled
                },
                percent: if enabled { 100.0 } else { 0.0 },
            }
        })
        .collect();
    LiveIntegration {
        id,
        service: spec.service,
        origin: spec.origin.clone(),
        owner: spec.owner.clone(),
        auth: Some(spec.auth),
        display_name: spec.display_name.clone(),
        projects: live_projects(&spec.projects),
        indexing: if settings.enabled {
            IntegrationIndexing::Indexed
        } else {
            IntegrationIndexing::Disabled
        },
        settings,
        repositories,
        unknown: Default::default(),
        aws_region: spec.aws_region.clone(),
    }
}
