//! Where each live integration's indexing is: state, percent, repositories done, time left.
//!
//! One derivation for every view, so that `plan`, `drift` and `status` can never disagree on
//! whether an integration is still indexing. It reads only the [`LiveState`], whose aggregate
//! state already comes from GIJ's `indexingState` extension when the site sends it and is
//! otherwise derived from the documented repository `state` and `lastIndexedDate`
//! ([`super::live`]); repository percents come from the `indexingPercent` extension, or are 0
//! until a repository is UPDATED on a plain GIJ site. The time left uses the plan's estimate
//! model ([`super::order`]), so a plan's "already indexing, ~12m left" and `gijctl status` say
//! the same thing.

use std::collections::{BTreeMap, BTreeSet};

use super::live::LiveState;
use super::model::{IndexingProgress, StillIndexing};
use super::order::{SECS_PER_REPOSITORY, repository_secs};
use crate::api::{LiveSite, wire};
use crate::model::{IndexState, IntegrationIndexing, LiveIntegration};

/// Estimated seconds until `l` finishes indexing, from the plan's model: each enabled
/// repository not yet UPDATED needs its estimated time times the share it has left; an
/// integration whose repositories are not listed yet counts one repository of unknown size.
/// The same figure holds an indexing slot in the plan's schedule.
pub fn remaining_secs(l: &LiveIntegration, live: &LiveState) -> u64 {
    let mut pending = l
        .repositories
        .iter()
        .filter(|r| r.enabled && r.state != IndexState::Updated)
        .peekable();
    if pending.peek().is_none() {
        return SECS_PER_REPOSITORY;
    }
    pending
        .map(|r| {
            let full = repository_secs(r.id, live) as f64;
            (full * (100.0 - r.percent.clamp(0.0, 100.0)) / 100.0).ceil() as u64
        })
        .sum()
}

/// Where `l`'s indexing is (see [`IndexingProgress`]).
pub fn progress(l: &LiveIntegration, live: &LiveState) -> IndexingProgress {
    let (mut done, mut failed, mut total) = (0u32, 0u32, 0u32);
    let (mut weight, mut weighted) = (0.0f64, 0.0f64);
    for r in l.repositories.iter().filter(|r| r.enabled) {
        total += 1;
        let pct = match r.state {
            IndexState::Updated => {
                done += 1;
                100.0
            }
            IndexState::Error => {
                failed += 1;
                100.0
            }
            _ => r.percent.clamp(0.0, 100.0),
        };
        let w = repository_secs(r.id, live).max(1) as f64;
        weight += w;
        weighted += w * pct;
    }
    let running = matches!(
        l.indexing,
        IntegrationIndexing::Scanning | IntegrationIndexing::Indexing
    );
    let percent = match l.indexing {
        IntegrationIndexing::Indexed => 100.0,
        IntegrationIndexing::Scanning if total == 0 => 0.0,
        _ if weight > 0.0 => (weighted / weight * 10.0).floor() / 10.0,
        _ => 0.0,
    };
    IndexingProgress {
        state: l.indexing,
        percent,
        repositories_done: done,
        repositories_failed: failed,
        repositories_total: total,
        estimated_remaining_secs: running.then(|| remaining_secs(l, live)),
    }
}

/// Whether an integration in this state is not done: still working, or stopped on an error.
pub fn not_done(state: IntegrationIndexing) -> bool {
    matches!(
        state,
        IntegrationIndexing::Scanning | IntegrationIndexing::Indexing | IntegrationIndexing::Error
    )
}

/// Every live integration whose indexing is not done, by id, named by its config key when
/// `key_of` knows it and `#<id>` otherwise. Disabled integrations are not listed: a disabled
/// integration indexes nothing, by choice.
pub fn still_indexing(
    live: &LiveState,
    key_of: &dyn Fn(u64) -> Option<String>,
) -> Vec<StillIndexing> {
    live.integrations
        .iter()
        .filter(|l| not_done(l.indexing))
        .map(|l| StillIndexing {
            id: l.id,
            key: key_of(l.id).unwrap_or_else(|| format!("#{}", l.id)),
            display_name: l.display_name.clone(),
            progress: progress(l, live),
        })
        .collect()
}

/// The sentence every "No changes"/"No drift" line ends with while indexing is not done, or
/// `None` when it is: `2 integrations are still indexing and 1 reports an indexing error: see
/// `gijctl status``.
pub fn not_done_note(list: &[StillIndexing]) -> Option<String> {
    if list.is_empty() {
        return None;
    }
    let running = list.iter().filter(|s| s.progress.is_running()).count();
    let errors = list.len() - running;
    let plural = |n: usize, one: &str, many: &str| {
        format!("{n} integration{} {}", if n == 1 { "" } else { "s" }, {
            if n == 1 { one } else { many }
        })
    };
    let text = match (running, errors) {
        (r, 0) => plural(r, "is still indexing", "are still indexing"),
        (0, e) => plural(e, "reports an indexing error", "report an indexing error"),
        (r, e) => format!(
            "{} and {e} {} an indexing error",
            plural(r, "is still indexing", "are still indexing"),
            if e == 1 { "reports" } else { "report" }
        ),
    };
    Some(format!("{text}: see `gijctl status`"))
}

/// What the "may have failed" decision reads of one repository, from either of GIJ's
/// repository answers (the whole-site list or one integration's list).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepositorySignals {
    /// GIJ's id.
    pub id: u64,
    /// Whether the repository is disabled.
    pub disabled: bool,
    /// Whether the answer carried a `state` (GIJ's documented lists do not).
    pub has_state: bool,
    /// Whether the answer carried a `lastIndexedDate`.
    pub indexed_once: bool,
}

impl From<&wire::SiteRepository> for RepositorySignals {
    fn from(r: &wire::SiteRepository) -> Self {
        RepositorySignals {
            id: r.id,
            disabled: r.disabled,
            has_state: r.state.is_some(),
            indexed_once: r.last_indexed_date.is_some(),
        }
    }
}

impl From<&wire::Repository> for RepositorySignals {
    fn from(r: &wire::Repository) -> Self {
        RepositorySignals {
            id: r.id,
            disabled: r.disabled,
            has_state: r.state.is_some(),
            indexed_once: r.last_indexed_date.is_some(),
        }
    }
}

/// The repository to ask `index.json?repoId=` about: the enabled one with the lowest id that
/// has neither a `state` nor a `lastIndexedDate`. On GIJ's documented lists (no `state`) a
/// repository that failed looks like one still waiting, and only `index.json` tells them apart.
/// Asking about the lowest id only keeps it to one request per integration; GIJ indexes an
/// integration's repositories one at a time, so a failed one is soon the lowest unfinished
/// (docs/api.md, "Indexing status on plain GIJ"). `None`: nothing can have failed unseen.
pub fn failure_probe(repos: impl IntoIterator<Item = RepositorySignals>) -> Option<u64> {
    repos
        .into_iter()
        .filter(|r| !r.disabled && !r.has_state && !r.indexed_once)
        .map(|r| r.id)
        .min()
}

/// [`failure_probe`] of integration `id` in a whole-site (or indexing gate) read, when its
/// status there is derived: the integration has no `indexingState` (a site with the extension
/// says ERROR itself) and is not disabled.
pub fn site_failure_probe(site: &LiveSite, id: u64) -> Option<u64> {
    let derived = site
        .integrations
        .iter()
        .any(|i| i.id == Some(id) && i.indexing_state.is_none() && i.disabled != Some(true));
    if !derived {
        return None;
    }
    failure_probe(
        site.repositories
            .iter()
            .filter(|r| r.tracked_folder_id == Some(id))
            .map(RepositorySignals::from),
    )
}

/// Every integration of `site` whose derived status may hide a failure, with the repository
/// to ask about ([`site_failure_probe`] of each, in one pass over the repositories), by
/// integration id.
pub fn site_failure_probes(site: &LiveSite) -> BTreeMap<u64, u64> {
    let derived: BTreeSet<u64> = site
        .integrations
        .iter()
        .filter(|i| i.indexing_state.is_none() && i.disabled != Some(true))
        .filter_map(|i| i.id)
        .collect();
    let mut probes: BTreeMap<u64, u64> = BTreeMap::new();
    for r in &site.repositories {
        let Some(owner) = r.tracked_folder_id.filter(|o| derived.contains(o)) else {
            continue;
        };
        if let Some(id) = failure_probe([RepositorySignals::from(r)]) {
            probes
                .entry(owner)
                .and_modify(|low| *low = (*low).min(id))
                .or_insert(id);
        }
    }
    probes
}

/// Records what `index.json` said about repository `repo` of integration `id`: it failed, so
/// the repository is in ERROR and so is the integration (as apply's wait and gate treat it).
pub fn mark_failed(live: &mut LiveState, id: u64, repo: u64) {
    if let Some(l) = live.integrations.iter_mut().find(|l| l.id == id)
        && let Some(r) = l.repositories.iter_mut().find(|r| r.id == repo)
    {
        r.state = IndexState::Error;
        r.percent = 100.0;
        l.indexing = IntegrationIndexing::Error;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LiveRepository;
    use crate::plan::testkit::{desired, live_from, repos};

    fn repo(id: u64, state: IndexState, percent: f64) -> LiveRepository {
        LiveRepository {
            id,
            name: format!("r{id}"),
            enabled: state != IndexState::Disabled,
            state,
            percent,
        }
    }

    fn live_with(indexing: IntegrationIndexing, repositories: Vec<LiveRepository>) -> LiveState {
        let d = desired("gh", crate::model::Service::Github, "acme", 0);
        // `live_from` marks every repository indexed: put the states back.
        let mut l = live_from(&d, 1, vec![]);
        l.repositories = repositories;
        l.indexing = indexing;
        LiveState {
            integrations: vec![l],
            ..LiveState::default()
        }
    }

    #[test]
    fn progress_counts_enabled_repositories_and_weights_by_estimated_time() {
        let mut live = live_with(
            IntegrationIndexing::Indexing,
            vec![
                repo(2, IndexState::Updated, 100.0),
                repo(3, IndexState::Scanning, 50.0),
                repo(4, IndexState::Queued, 0.0),
                repo(5, IndexState::Disabled, 0.0),
            ],
        );
        // Unknown sizes: 120 s each, so by count: (100 + 50 + 0) / 3.
        let p = progress(&live.integrations[0], &live);
        assert_eq!(
            (p.repositories_done, p.repositories_total, p.percent),
            (1, 3, 50.0)
        );
        // Half of 120 s plus 120 s left.
        assert_eq!(p.estimated_remaining_secs, Some(180));
        assert!(p.is_running());
        // Known sizes weight the percent: a big queued repository pulls it down,
        // (100 * 120 + 50 * 120 + 0 * 600) / 840 = 21.4.
        live.repo_commits.insert(4, 25 * 570); // 30 + 570 = 600 s
        let p = progress(&live.integrations[0], &live);
        assert_eq!(p.percent, 21.4);
    }

    #[test]
    fn only_unfinished_integrations_are_listed_with_their_key() {
        let indexed = live_with(IntegrationIndexing::Indexed, repos(2, &[("a", true)]));
        assert!(still_indexing(&indexed, &|_| None).is_empty());
        let disabled = live_with(IntegrationIndexing::Disabled, repos(2, &[("a", true)]));
        assert!(still_indexing(&disabled, &|_| None).is_empty());
        let error = live_with(
            IntegrationIndexing::Error,
            vec![repo(2, IndexState::Error, 100.0)],
        );
        let list = still_indexing(&error, &|id| (id == 1).then(|| "gh".to_owned()));
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].key, "gh");
        assert_eq!(list[0].progress.repositories_failed, 1);
        assert_eq!(list[0].progress.estimated_remaining_secs, None);
        assert!(!list[0].progress.is_running());
        // A scan with no repository listed yet: 0%, one repository of unknown size left.
        let scanning = live_with(IntegrationIndexing::Scanning, vec![]);
        let list = still_indexing(&scanning, &|_| None);
        assert_eq!(list[0].key, "#1");
        assert_eq!(list[0].progress.percent, 0.0);
        assert_eq!(
            list[0].progress.estimated_remaining_secs,
            Some(SECS_PER_REPOSITORY)
        );
    }

    /// A plain GIJ site sends neither `indexingState` nor `indexingPercent`: the state, the
    /// repositories done and the percent come from the documented repository `state` and
    /// `lastIndexedDate` alone (the dev-server always sends the extensions, so the CLI suites
    /// cannot cover this path).
    #[test]
    fn progress_from_documented_fields_only() {
        let integrations: Vec<wire::Integration> = serde_json::from_str(
            r#"[{"id": 1, "displayName": "GitHub", "integrationType": "GITHUB", "group": "acme",
                 "initDate": 1000},
                {"id": 6, "displayName": "Lab", "integrationType": "GITLAB", "group": "acme",
                 "initDate": 1000, "lastIndexedDate": 2000},
                {"id": 9, "displayName": "New", "integrationType": "GITHUB", "group": "beta",
                 "initDate": 3000}]"#,
        )
        .unwrap();
        let repositories: Vec<wire::SiteRepository> = serde_json::from_str(
            r#"[{"id": 2, "displayName": "a", "trackedFolderId": 1, "lastIndexedDate": 1500},
                {"id": 3, "displayName": "b", "trackedFolderId": 1, "state": "SCANNING"},
                {"id": 4, "displayName": "c", "trackedFolderId": 1, "state": "QUEUED"},
                {"id": 5, "displayName": "d", "trackedFolderId": 1, "disabled": true},
                {"id": 7, "displayName": "e", "trackedFolderId": 6, "state": "UPDATED"},
                {"id": 8, "displayName": "f", "trackedFolderId": 6, "state": "ERROR"}]"#,
        )
        .unwrap();
        let live = crate::plan::from_site(&LiveSite {
            integrations,
            repositories,
            ..LiveSite::default()
        });
        let list = still_indexing(&live, &|_| None);
        let ids: Vec<u64> = list.iter().map(|s| s.id).collect();
        assert_eq!(ids, [1, 6, 9]);
        // 1: one of three enabled repositories done, no percent reported for the others.
        let p = &list[0].progress;
        assert_eq!(p.state, IntegrationIndexing::Indexing);
        assert_eq!((p.repositories_done, p.repositories_total), (1, 3));
        assert_eq!(p.percent, 33.3);
        assert_eq!(p.estimated_remaining_secs, Some(2 * SECS_PER_REPOSITORY));
        // 6: one repository in ERROR.
        let p = &list[1].progress;
        assert_eq!(p.state, IntegrationIndexing::Error);
        assert_eq!((p.repositories_done, p.repositories_failed), (1, 1));
        // 9: no repository listed yet and never indexed: still scanning.
        assert_eq!(list[2].progress.state, IntegrationIndexing::Scanning);
        assert_eq!(list[2].progress.repositories_total, 0);
    }

    /// A documented whole-site read: integration 1 derived (no `indexingState`), 6 with the
    /// extension, 9 disabled; repositories without `state` of each.
    fn documented_site() -> LiveSite {
        let integrations: Vec<wire::Integration> = serde_json::from_str(
            r#"[{"id": 1, "integrationType": "GITHUB", "group": "a"},
                {"id": 6, "integrationType": "GITHUB", "group": "b", "indexingState": "INDEXING"},
                {"id": 9, "integrationType": "GITHUB", "group": "c", "disabled": true}]"#,
        )
        .unwrap();
        let repositories: Vec<wire::SiteRepository> = serde_json::from_str(
            r#"[{"id": 5, "displayName": "e", "trackedFolderId": 1},
                {"id": 2, "displayName": "a", "trackedFolderId": 1, "lastIndexedDate": 1500},
                {"id": 3, "displayName": "b", "trackedFolderId": 1},
                {"id": 4, "displayName": "c", "trackedFolderId": 1, "disabled": true},
                {"id": 7, "displayName": "f", "trackedFolderId": 6},
                {"id": 10, "displayName": "g", "trackedFolderId": 9}]"#,
        )
        .unwrap();
        LiveSite {
            integrations,
            repositories,
            ..LiveSite::default()
        }
    }

    #[test]
    fn the_probe_is_the_lowest_enabled_repository_without_state_or_date() {
        let site = documented_site();
        // 2 was indexed once, 4 is disabled: 3 is the lowest that may have failed unseen.
        assert_eq!(site_failure_probe(&site, 1), Some(3));
        // The extension tells ERROR itself; a disabled integration indexes nothing.
        assert_eq!(site_failure_probe(&site, 6), None);
        assert_eq!(site_failure_probe(&site, 9), None);
        assert_eq!(site_failure_probes(&site), BTreeMap::from([(1, 3)]));
        // A repository whose answer carries a `state` is not guessed about.
        let mut with_state = site.clone();
        for r in &mut with_state.repositories {
            r.state = Some(wire::RepositoryState::Queued);
        }
        assert!(site_failure_probes(&with_state).is_empty());
    }

    #[test]
    fn a_probed_failure_puts_the_repository_and_its_integration_in_error() {
        let site = documented_site();
        let mut live = crate::plan::from_site(&site);
        assert_eq!(
            live.get(1).unwrap().indexing,
            IntegrationIndexing::Indexing,
            "a failed repository looks queued on the documented list"
        );
        mark_failed(&mut live, 1, 3);
        let p = progress(live.get(1).unwrap(), &live);
        assert_eq!(p.state, IntegrationIndexing::Error);
        assert_eq!(p.repositories_failed, 1);
        assert!(!p.is_running());
        // Another integration's repository id changes nothing.
        let before = live.clone();
        mark_failed(&mut live, 6, 3);
        assert_eq!(live, before);
    }

    #[test]
    fn the_note_counts_running_and_failed_integrations() {
        let entry = |state| StillIndexing {
            id: 1,
            key: "k".into(),
            display_name: String::new(),
            progress: IndexingProgress {
                state,
                percent: 0.0,
                repositories_done: 0,
                repositories_failed: 0,
                repositories_total: 0,
                estimated_remaining_secs: None,
            },
        };
        let i = entry(IntegrationIndexing::Indexing);
        let s = entry(IntegrationIndexing::Scanning);
        let e = entry(IntegrationIndexing::Error);
        assert_eq!(not_done_note(&[]), None);
        assert_eq!(
            not_done_note(std::slice::from_ref(&i)).unwrap(),
            "1 integration is still indexing: see `gijctl status`"
        );
        assert_eq!(
            not_done_note(&[i.clone(), s]).unwrap(),
            "2 integrations are still indexing: see `gijctl status`"
        );
        assert_eq!(
            not_done_note(&[e.clone(), e.clone()]).unwrap(),
            "2 integrations report an indexing error: see `gijctl status`"
        );
        assert_eq!(
            not_done_note(&[i, e]).unwrap(),
            "1 integration is still indexing and 1 reports an indexing error: see `gijctl status`"
        );
    }
}
