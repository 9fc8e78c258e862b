//! `gijctl runbook --check`: reads a state again and marks each step done or open, so that a
//! reviewer can verify manual work without trusting the person who ticked the boxes.

use super::{Expect, Runbook, StepStatus, Target};
use crate::model::{
    IntegrationIndexing, LiveIntegration, LiveProjects, RepoSelector, normalize_origin,
};
use crate::plan::LiveState;
use crate::plan::fields;
use crate::plan::live::normalize_settings;
use crate::plan::model::ProjectsView;

/// Finds the integration a target means: by id while it still has the same identity, else by
/// service, origin and owner (how plan matches).
pub fn find<'a>(t: &Target, live: &'a LiveState) -> Option<&'a LiveIntegration> {
    let same = |l: &LiveIntegration| {
        l.service == t.service
            && normalize_origin(&l.origin) == normalize_origin(&t.origin)
            && l.owner.eq_ignore_ascii_case(&t.owner)
    };
    t.id.and_then(|id| live.get(id))
        .filter(|l| same(l))
        .or_else(|| live.integrations.iter().find(|l| same(l)))
}

fn projects_match(have: &LiveProjects, want: &ProjectsView) -> bool {
    match (have, want) {
        (LiveProjects::All, ProjectsView::All) => true,
        (LiveProjects::Keys(h), ProjectsView::Keys(w)) => {
            let mut h: Vec<String> = h.iter().map(|k| k.to_ascii_uppercase()).collect();
            let mut w: Vec<String> = w.iter().map(|k| k.to_ascii_uppercase()).collect();
            h.sort();
            w.sort();
            h == w
        }
        _ => false,
    }
}

/// Whether the state shows the expectation; `None` when no state can show it.
pub fn holds(e: &Expect, live: &LiveState) -> Option<bool> {
    Some(match e {
        Expect::Confirm => return None,
        Expect::Absent { id } => live.get(*id).is_none(),
        Expect::Exists { target, auth } | Expect::Auth { target, auth } => {
            match find(target, live).map(|l| l.auth) {
                None => false,
                // The integration is there, but the site does not report how it authenticates
                // (GIJ's documented answers): neither done nor open.
                Some(None) => return None,
                Some(Some(have)) => have == *auth,
            }
        }
        Expect::Indexed { targets } => targets
            .iter()
            .all(|t| find(t, live).is_some_and(|l| l.indexing == IntegrationIndexing::Indexed)),
        Expect::DisplayName { target, value } => {
            find(target, live).is_some_and(|l| l.display_name.trim() == value.trim())
        }
        Expect::Setting {
            target,
            field,
            value,
        } => match find(target, live) {
            // A setting the site does not report cannot be seen done (nor open).
            Some(l) if l.unknown.contains(field) => return None,
            found => found.is_some_and(|l| {
                fields::get(&normalize_settings(&l.settings), *field).as_ref() == Some(value)
            }),
        },
        Expect::Projects { target, value } => {
            find(target, live).is_some_and(|l| projects_match(&l.projects, value))
        }
        Expect::Repositories {
            target,
            enabled,
            disabled,
        } => find(target, live).is_some_and(|l| {
            let state = |n: &str| {
                l.repositories
                    .iter()
                    .find(|r| r.name.eq_ignore_ascii_case(n))
                    .map(|r| r.enabled)
            };
            enabled.iter().all(|n| state(n) == Some(true))
                && disabled.iter().all(|n| state(n) != Some(true))
        }),
        Expect::RepositoriesMatch {
            target,
            include,
            exclude,
        } => {
            let sel = RepoSelector {
                include: include.clone(),
                exclude: exclude.clone(),
            };
            let Ok(m) = sel.matcher() else {
                return Some(false);
            };
            // Until GIJ has listed the repositories, the selection cannot be seen yet.
            find(target, live).is_some_and(|l| {
                !l.repositories.is_empty()
                    && l.repositories
                        .iter()
                        .all(|r| r.enabled == m.is_match(&r.name))
            })
        }
    })
}

/// Marks every step of `runbook` against `live`.
pub fn check(runbook: &mut Runbook, live: &LiveState, against: &str) {
    for s in runbook.sections.iter_mut().flat_map(|s| s.steps.iter_mut()) {
        let results: Vec<Option<bool>> = s.expect.iter().map(|e| holds(e, live)).collect();
        s.status = Some(if results.contains(&Some(false)) {
            StepStatus::Open
        } else if results.contains(&None) {
            StepStatus::Unverifiable
        } else {
            StepStatus::Done
        });
    }
    runbook.checked_against = Some(against.to_owned());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AuthMethod, Service};
    use crate::plan::testkit::{desired, live_from, projects};

    /// An auth expectation is seen done or open only where the site reports the method; where
    /// it does not (GIJ's documented answers) it is to confirm by hand, even when the
    /// integration exists. A missing integration is open either way.
    #[test]
    fn auth_expectations_on_a_site_that_does_not_report_auth() {
        let d = desired("a", Service::Github, "acme", 0);
        let target = Target {
            service: d.service,
            origin: d.origin.clone(),
            owner: d.owner.clone(),
            id: Some(7),
        };
        let live = |auth: Option<AuthMethod>| {
            let mut l = live_from(&d, 7, vec![]);
            l.auth = auth;
            LiveState {
                integrations: vec![l],
                projects: projects(),
                ..LiveState::default()
            }
        };
        for (target, auth) in [
            (target.clone(), AuthMethod::Oauth),
            (target.clone(), AuthMethod::Pat),
        ] {
            let switch = Expect::Auth {
                target: target.clone(),
                auth,
            };
            let exists = Expect::Exists { target, auth };
            for e in [&switch, &exists] {
                assert_eq!(holds(e, &live(None)), None, "{e:?}");
                assert_eq!(holds(e, &live(Some(auth))), Some(true), "{e:?}");
                let other = match auth {
                    AuthMethod::Pat => AuthMethod::Oauth,
                    AuthMethod::Oauth => AuthMethod::Pat,
                };
                assert_eq!(holds(e, &live(Some(other))), Some(false), "{e:?}");
                assert_eq!(holds(e, &LiveState::default()), Some(false), "{e:?}");
            }
        }
    }
}
