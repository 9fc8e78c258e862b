//! The `gijctl status` document: where each integration's indexing is, since when, and how
//! long it still needs. Pure: the command reads the site, this module turns what it read into
//! a [`StatusReport`] (schema/status.schema.json) and decides the exit outcome.
//!
//! What GIJ's answers make knowable, and what this module does with it:
//!
//! - **State, percent, repositories done/total** come from [`crate::plan::indexing`], the
//!   derivation plan and drift use (extension fields when the site sends them, documented
//!   repository `state`/`lastIndexedDate` otherwise).
//! - **Since when**: GIJ reports when an integration was created (`initDate`) and when it was
//!   last indexed (`lastIndexedDate`), not when the indexing running now began. An
//!   integration without a `lastIndexedDate` of its own has never finished one, so what runs is
//!   its initial indexing, which began when it was created: `since` is its `initDate`
//!   ([`SinceSource::Created`]). Otherwise (a re-index, for example after repositories were
//!   enabled) the site does not say; `--watch` then gives the time this run first saw it
//!   indexing ([`SinceSource::Observed`]), and a single look gives nothing.
//! - **Time left**: the plan's estimate model (repository sizes, or the assumed time per
//!   repository) for what each integration has left. While watching, the estimate is
//!   corrected by the speed observed since the first look, with apply's calibration
//!   ([`crate::apply::eta::calibration`]): seconds spent over estimated work done. The overall
//!   figure is the longest integration's, as GIJ indexes integrations side by side (on a site
//!   with one indexing thread per node they queue, and it is a lower bound).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::api::LiveSite;
use crate::apply::eta::{Item, Progress, calibration};
use crate::model::IntegrationIndexing;
use crate::plan::indexing::{not_done, progress};
use crate::plan::{IndexingProgress, LiveState, PlanMeta};

/// The status document format version (`schema/status.schema.json`).
pub const STATUS_FORMAT_VERSION: u32 = 1;

/// `gijctl status --format json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StatusReport {
    /// Always [`STATUS_FORMAT_VERSION`].
    pub format_version: u32,
    /// Volatile context (tool version, time, config path, endpoint).
    pub meta: PlanMeta,
    /// Counts per state.
    pub summary: StatusSummary,
    /// One entry per integration: declared ones in file order (then live integrations the
    /// config does not declare that are not done indexing), or every live one by id.
    pub integrations: Vec<StatusEntry>,
    /// Estimated seconds until the last running integration finishes; `None` when none runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_remaining_secs: Option<u64>,
    /// Whether the estimates are corrected by the indexing speed this run observed (`--watch`
    /// after progress was seen), rather than the plan's model alone.
    pub calibrated: bool,
}

/// How many integrations are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StatusSummary {
    /// Scanning or indexing: GIJ is still working on them.
    pub running: u32,
    /// Stopped on an indexing error.
    pub error: u32,
    /// Indexed.
    pub indexed: u32,
    /// Disabled (index nothing, by choice).
    pub disabled: u32,
    /// Declared but not on the site (not created yet: `gijctl plan` shows the creation).
    pub absent: u32,
}

/// One integration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StatusEntry {
    /// The config key, or `#<id>` for a live integration the config does not declare.
    pub key: String,
    /// GIJ's id; `None` when the declared integration is not on the site.
    pub id: Option<u64>,
    /// The display name on the site (empty when absent).
    pub display_name: String,
    /// Where its indexing is; `None` when it is not on the site.
    pub progress: Option<IndexingProgress>,
    /// Since when it has been indexing, when that is knowable (see the module comment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Since>,
    /// Its repositories whose indexing failed, by id (then name), with GIJ's error text when
    /// `index.json` gave it; empty unless it is in ERROR.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<RepositoryFailure>,
}

/// A repository whose indexing failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RepositoryFailure {
    /// GIJ's id; `None` when GIJ's error names a repository the repository list does not show.
    pub id: Option<u64>,
    /// The repository name, as the site sends it (renderings escape it).
    pub name: String,
    /// GIJ's error text from `index.json`, as the site sends it; `None` when the site did not
    /// tell (the repository list shows the failure, `index.json` gave no text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The (integration, repository) pairs whose failure a list cannot show: integrations whose
/// derived status is INDEXING, each with the repository to ask `index.json?repoId=` about
/// ([`crate::plan::indexing::site_failure_probes`]). What plan and drift ask, and the first
/// half of [`index_probes`]; empty on a site with the `indexingState` extension.
pub fn unseen_failure_probes(site: &LiveSite, live: &LiveState) -> Vec<(u64, u64)> {
    crate::plan::indexing::site_failure_probes(site)
        .into_iter()
        .filter(|(id, _)| {
            live.get(*id)
                .is_some_and(|l| l.indexing == IntegrationIndexing::Indexing)
        })
        .collect()
}

/// What `gijctl status` asks GIJ's `index.json?repoId=` about: per integration, the id to ask.
/// A repository id where the integration's status is derived from a list that cannot show a
/// failure ([`crate::plan::indexing::site_failure_probes`], the decision apply's gate and wait
/// make); the integration's own id where the site's `indexingState` extension already says
/// ERROR (the extension's aggregate answer carries the error texts of all its repositories).
/// One request per integration either way, and none for an integration that is done.
pub fn index_probes(site: &LiveSite, live: &LiveState) -> Vec<(u64, u64)> {
    let mut probes = unseen_failure_probes(site, live);
    probes.extend(
        site.integrations
            .iter()
            .filter(|i| i.indexing_state.is_some())
            .filter_map(|i| i.id)
            .filter(|id| {
                live.get(*id)
                    .is_some_and(|l| l.indexing == IntegrationIndexing::Error)
            })
            .map(|id| (id, id)),
    );
    probes.sort_unstable();
    probes
}

/// Folds the answers to [`index_probes`] (same order) into `live`: a probed repository with
/// errors is in ERROR, and so is its integration. Returns every failed repository of every
/// integration in ERROR, with the error texts the answers gave.
pub fn fold_index_answers(
    live: &mut LiveState,
    probes: &[(u64, u64)],
    answers: &[Option<BTreeMap<String, String>>],
) -> BTreeMap<u64, Vec<RepositoryFailure>> {
    let mut texts: BTreeMap<u64, &BTreeMap<String, String>> = BTreeMap::new();
    for (&(id, asked), answer) in probes.iter().zip(answers) {
        let Some(errors) = answer.as_ref().filter(|e| !e.is_empty()) else {
            continue;
        };
        if asked != id {
            crate::plan::indexing::mark_failed(live, id, asked);
        }
        texts.insert(id, errors);
    }
    let mut out: BTreeMap<u64, Vec<RepositoryFailure>> = BTreeMap::new();
    for l in live
        .integrations
        .iter()
        .filter(|l| l.indexing == IntegrationIndexing::Error)
    {
        let errors = texts.get(&l.id);
        let mut list: Vec<RepositoryFailure> = l
            .repositories
            .iter()
            .filter(|r| r.enabled && r.state == crate::model::IndexState::Error)
            .map(|r| RepositoryFailure {
                id: Some(r.id),
                name: r.name.clone(),
                error: errors.and_then(|e| e.get(&r.name)).cloned(),
            })
            .collect();
        if let Some(errors) = errors {
            for (name, text) in errors.iter() {
                if !list.iter().any(|f| &f.name == name) {
                    list.push(RepositoryFailure {
                        id: l
                            .repositories
                            .iter()
                            .find(|r| &r.name == name)
                            .map(|r| r.id),
                        name: name.clone(),
                        error: Some(text.clone()),
                    });
                }
            }
        }
        if !list.is_empty() {
            out.insert(l.id, list);
        }
    }
    out
}

/// A start time and how it is known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Since {
    /// Epoch milliseconds, on the site's clock for `created`, this machine's for `observed`.
    pub at_ms: i64,
    /// Where the time comes from.
    pub source: SinceSource,
}

/// Where a [`Since`] comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SinceSource {
    /// The integration's `initDate`: it has never finished an indexing, so the one running is
    /// its initial indexing, which began when it was created.
    Created,
    /// When this run first saw it indexing (`--watch`); it may have started earlier.
    Observed,
}

/// What the status means for a script: the exit code's source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing is scanning, indexing or in error.
    Done,
    /// Something is still scanning or indexing (wins over errors: nothing is final yet).
    Running,
    /// Nothing runs any more, but some integration reports an indexing error.
    Failed,
}

impl StatusReport {
    /// The outcome (see [`Outcome`]).
    pub fn outcome(&self) -> Outcome {
        if self.summary.running > 0 {
            Outcome::Running
        } else if self.summary.error > 0 {
            Outcome::Failed
        } else {
            Outcome::Done
        }
    }
}

/// Which integrations a report covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subjects {
    /// Declared integrations: config key and the live id the plan's matching found.
    Declared(Vec<(String, Option<u64>)>),
    /// Every live integration, by id.
    AllLive,
}

/// When each integration's initial indexing began, for those GIJ shows as never indexed: the
/// `initDate` of every integration without a `lastIndexedDate` of its own (see the module
/// comment for why that is the only start time the site tells).
pub fn initial_indexing_since(site: &LiveSite) -> BTreeMap<u64, i64> {
    site.integrations
        .iter()
        .filter(|i| i.last_indexed_date.is_none())
        .filter_map(|i| Some((i.id?, i.init_date?)))
        .collect()
}

/// What one run has seen of each integration over time (`--watch`): when it was first seen
/// running, how far it was, what was estimated then, and when it was first seen done. Times
/// are seconds on the caller's monotonic clock, so tests drive it without sleeping.
#[derive(Debug, Clone, Default)]
pub struct Observations {
    first: BTreeMap<u64, First>,
}

#[derive(Debug, Clone, Copy)]
struct First {
    at_secs: f64,
    at_epoch_ms: i64,
    percent: f64,
    estimate_secs: f64,
    done_after_secs: Option<f64>,
}

impl Observations {
    /// Records one look at the site at `now_secs` (monotonic) / `now_epoch_ms` (wall clock).
    pub fn observe(&mut self, live: &LiveState, now_secs: f64, now_epoch_ms: i64) {
        for l in &live.integrations {
            let p = progress(l, live);
            match self.first.get_mut(&l.id) {
                None if p.is_running() => {
                    self.first.insert(
                        l.id,
                        First {
                            at_secs: now_secs,
                            at_epoch_ms: now_epoch_ms,
                            percent: p.percent,
                            estimate_secs: p.estimated_remaining_secs.unwrap_or(0) as f64,
                            done_after_secs: None,
                        },
                    );
                }
                Some(f)
                    if f.done_after_secs.is_none() && p.state == IntegrationIndexing::Indexed =>
                {
                    f.done_after_secs = Some(now_secs - f.at_secs);
                }
                _ => {}
            }
        }
    }

    /// When this run first saw `id` running.
    fn first_seen_ms(&self, id: u64) -> Option<i64> {
        self.first.get(&id).map(|f| f.at_epoch_ms)
    }

    /// The observed speed factor (apply's [`calibration`]): for each integration seen running,
    /// the estimate at first sight against the share of its remaining work done since; `1`
    /// until enough progress was seen.
    fn factor(&self, live: &LiveState, now_secs: f64) -> f64 {
        let items: Vec<Item> = self
            .first
            .iter()
            .filter_map(|(id, f)| {
                let progress = match f.done_after_secs {
                    Some(secs) => Progress::Finished {
                        secs,
                        succeeded: true,
                    },
                    None => {
                        let l = live.get(*id)?;
                        let now = progress(l, live);
                        if !now.is_running() {
                            return None;
                        }
                        let left_at_first = (100.0 - f.percent).max(f64::EPSILON);
                        Progress::Running {
                            percent: ((now.percent - f.percent) / left_at_first * 100.0)
                                .clamp(0.0, 100.0),
                            elapsed_secs: (now_secs - f.at_secs).max(0.0),
                        }
                    }
                };
                Some(Item {
                    estimate_secs: f.estimate_secs,
                    progress,
                })
            })
            .collect();
        calibration(&items)
    }
}

/// Builds the report of `live` for `subjects`. `since_created` is [`initial_indexing_since`]
/// of the same read, `failures` [`fold_index_answers`] of it; `seen` and `now_secs` come from
/// `--watch` (an empty [`Observations`] for a single look).
pub fn report(
    subjects: &Subjects,
    live: &LiveState,
    since_created: &BTreeMap<u64, i64>,
    failures: &BTreeMap<u64, Vec<RepositoryFailure>>,
    seen: &Observations,
    now_secs: f64,
    meta: PlanMeta,
) -> StatusReport {
    let factor = seen.factor(live, now_secs);
    let entry = |key: String, id: Option<u64>| {
        let Some(l) = id.and_then(|id| live.get(id)) else {
            return StatusEntry {
                key,
                id: None,
                display_name: String::new(),
                progress: None,
                since: None,
                failures: Vec::new(),
            };
        };
        let mut p = progress(l, live);
        p.estimated_remaining_secs = p
            .estimated_remaining_secs
            .map(|s| (s as f64 * factor).ceil() as u64);
        let since = if not_done(p.state) {
            since_created
                .get(&l.id)
                .map(|&at_ms| Since {
                    at_ms,
                    source: SinceSource::Created,
                })
                .or_else(|| {
                    seen.first_seen_ms(l.id).map(|at_ms| Since {
                        at_ms,
                        source: SinceSource::Observed,
                    })
                })
        } else {
            None
        };
        StatusEntry {
            key,
            id: Some(l.id),
            display_name: l.display_name.clone(),
            progress: Some(p),
            since,
            failures: failures.get(&l.id).cloned().unwrap_or_default(),
        }
    };
    let mut integrations: Vec<StatusEntry> = Vec::new();
    match subjects {
        Subjects::Declared(declared) => {
            for (key, id) in declared {
                integrations.push(entry(key.clone(), *id));
            }
            let claimed: std::collections::BTreeSet<u64> =
                declared.iter().filter_map(|(_, id)| *id).collect();
            for l in &live.integrations {
                if !claimed.contains(&l.id) && not_done(l.indexing) {
                    integrations.push(entry(format!("#{}", l.id), Some(l.id)));
                }
            }
        }
        Subjects::AllLive => {
            for l in &live.integrations {
                integrations.push(entry(format!("#{}", l.id), Some(l.id)));
            }
        }
    }
    let mut summary = StatusSummary::default();
    for e in &integrations {
        let slot = match e.progress.as_ref().map(|p| p.state) {
            None => &mut summary.absent,
            Some(IntegrationIndexing::Scanning | IntegrationIndexing::Indexing) => {
                &mut summary.running
            }
            Some(IntegrationIndexing::Error) => &mut summary.error,
            Some(IntegrationIndexing::Indexed) => &mut summary.indexed,
            Some(IntegrationIndexing::Disabled) => &mut summary.disabled,
        };
        *slot += 1;
    }
    let estimated_remaining_secs = integrations
        .iter()
        .filter_map(|e| e.progress.as_ref()?.estimated_remaining_secs)
        .max();
    StatusReport {
        format_version: STATUS_FORMAT_VERSION,
        meta,
        summary,
        integrations,
        estimated_remaining_secs,
        calibrated: factor != 1.0,
    }
}

/// The entries of `next` that moved since `prev` in a way worth a line off a terminal: a new
/// entry, another state, another repository count, or another tenth of progress (a line per
/// poll for every 0.1% would bury the changes that matter).
pub fn changed<'a>(prev: Option<&StatusReport>, next: &'a StatusReport) -> Vec<&'a StatusEntry> {
    let sig = |e: &StatusEntry| {
        e.progress.as_ref().map(|p| {
            (
                p.state,
                p.repositories_done,
                p.repositories_failed,
                p.repositories_total,
                (p.percent / 10.0).floor() as i64,
            )
        })
    };
    let before: BTreeMap<&str, _> = prev
        .map(|r| {
            r.integrations
                .iter()
                .map(|e| (e.key.as_str(), sig(e)))
                .collect()
        })
        .unwrap_or_default();
    next.integrations
        .iter()
        .filter(|e| before.get(e.key.as_str()) != Some(&sig(e)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{IndexState, LiveRepository, Service};
    use crate::plan::testkit::{desired, live_from};

    fn repo(id: u64, state: IndexState, percent: f64) -> LiveRepository {
        LiveRepository {
            id,
            name: format!("r{id}"),
            enabled: true,
            state,
            percent,
        }
    }

    /// Integration 1 indexing (one repository of two done, the other at `pct`), integration 5
    /// indexed.
    fn live(pct: f64) -> LiveState {
        let d = desired("gh", Service::Github, "acme", 0);
        // `live_from` marks every repository indexed: set the states after it.
        let mut a = live_from(&d, 1, vec![]);
        a.repositories = vec![
            repo(2, IndexState::Updated, 100.0),
            repo(3, IndexState::Scanning, pct),
        ];
        a.indexing = IntegrationIndexing::Indexing;
        let e = desired("lab", Service::Gitlab, "acme", 1);
        let mut b = live_from(&e, 5, vec![repo(6, IndexState::Updated, 100.0)]);
        b.indexing = IntegrationIndexing::Indexed;
        if pct >= 100.0 {
            a.repositories[1].state = IndexState::Updated;
            a.indexing = IntegrationIndexing::Indexed;
        }
        LiveState {
            integrations: vec![a, b],
            ..LiveState::default()
        }
    }

    fn meta() -> PlanMeta {
        PlanMeta::default()
    }

    #[test]
    fn declared_keys_absent_ones_and_undeclared_unfinished_ones() {
        let l = live(50.0);
        let subjects = Subjects::Declared(vec![("lab".into(), Some(5)), ("missing".into(), None)]);
        let r = report(
            &subjects,
            &l,
            &BTreeMap::new(),
            &BTreeMap::new(),
            &Observations::default(),
            0.0,
            meta(),
        );
        let keys: Vec<&str> = r.integrations.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(
            keys,
            ["lab", "missing", "#1"],
            "undeclared #1 is still indexing"
        );
        assert_eq!(
            r.summary,
            StatusSummary {
                running: 1,
                indexed: 1,
                absent: 1,
                ..StatusSummary::default()
            }
        );
        assert_eq!(r.outcome(), Outcome::Running);
        // (100 * 120 + 50 * 120) / 240.
        let p = r.integrations[2].progress.as_ref().unwrap();
        assert_eq!(
            (p.percent, p.repositories_done, p.repositories_total),
            (75.0, 1, 2)
        );
        assert_eq!(r.estimated_remaining_secs, Some(60));
        assert!(!r.calibrated);
        let all = report(
            &Subjects::AllLive,
            &l,
            &BTreeMap::new(),
            &BTreeMap::new(),
            &Observations::default(),
            0.0,
            meta(),
        );
        assert_eq!(all.integrations.len(), 2);
        assert_eq!(all.integrations[0].key, "#1");
    }

    #[test]
    fn outcomes_follow_the_states() {
        let done = report(
            &Subjects::AllLive,
            &live(100.0),
            &BTreeMap::new(),
            &BTreeMap::new(),
            &Observations::default(),
            0.0,
            meta(),
        );
        assert_eq!(done.outcome(), Outcome::Done);
        assert_eq!(done.estimated_remaining_secs, None);
        let mut failed = live(100.0);
        failed.integrations[0].indexing = IntegrationIndexing::Error;
        failed.integrations[0].repositories[1].state = IndexState::Error;
        let r = report(
            &Subjects::AllLive,
            &failed,
            &BTreeMap::new(),
            &BTreeMap::new(),
            &Observations::default(),
            0.0,
            meta(),
        );
        assert_eq!(r.outcome(), Outcome::Failed);
        assert_eq!(
            r.integrations[0]
                .progress
                .as_ref()
                .unwrap()
                .repositories_failed,
            1
        );
    }

    #[test]
    fn since_is_the_creation_for_an_initial_indexing_else_the_first_observation() {
        let l = live(50.0);
        let created = BTreeMap::from([(1, 1_000)]);
        let r = report(
            &Subjects::AllLive,
            &l,
            &created,
            &BTreeMap::new(),
            &Observations::default(),
            0.0,
            meta(),
        );
        assert_eq!(
            r.integrations[0].since,
            Some(Since {
                at_ms: 1_000,
                source: SinceSource::Created
            })
        );
        assert_eq!(r.integrations[1].since, None, "indexed: no since");
        // A re-index: nothing known from one look; the first observation while watching.
        let r = report(
            &Subjects::AllLive,
            &l,
            &BTreeMap::new(),
            &BTreeMap::new(),
            &Observations::default(),
            0.0,
            meta(),
        );
        assert_eq!(r.integrations[0].since, None);
        let mut seen = Observations::default();
        seen.observe(&l, 0.0, 42_000);
        let r = report(
            &Subjects::AllLive,
            &l,
            &BTreeMap::new(),
            &BTreeMap::new(),
            &seen,
            0.0,
            meta(),
        );
        assert_eq!(
            r.integrations[0].since,
            Some(Since {
                at_ms: 42_000,
                source: SinceSource::Observed
            })
        );
    }

    #[test]
    fn watching_calibrates_the_estimate_by_the_observed_speed() {
        // First look: repository 3 at 0%, 120 s of estimated work left.
        let mut seen = Observations::default();
        seen.observe(&live(0.0), 0.0, 0);
        // 6 s later it is at 50%: half the work in 6 s, a site 10x faster than the model,
        // so the other 60 s of model work take 6 s.
        let now = live(50.0);
        seen.observe(&now, 6.0, 6_000);
        let r = report(
            &Subjects::AllLive,
            &now,
            &BTreeMap::new(),
            &BTreeMap::new(),
            &seen,
            6.0,
            meta(),
        );
        assert!(r.calibrated);
        assert_eq!(r.estimated_remaining_secs, Some(6));
        // Finished integrations keep calibrating: done after 12 s for 120 s estimated.
        seen.observe(&live(100.0), 12.0, 12_000);
        assert_eq!(seen.factor(&live(100.0), 12.0), 0.1);
    }

    #[test]
    fn changes_are_reported_per_tenth_of_progress() {
        let at = |pct: f64| {
            report(
                &Subjects::AllLive,
                &live(pct),
                &BTreeMap::new(),
                &BTreeMap::new(),
                &Observations::default(),
                0.0,
                meta(),
            )
        };
        let first = at(50.0);
        assert_eq!(changed(None, &first).len(), 2, "everything is new");
        assert!(
            changed(Some(&first), &at(50.5)).is_empty(),
            "same tenth: 75.0 -> 75.2"
        );
        let moved = at(100.0);
        let keys: Vec<&str> = changed(Some(&first), &moved)
            .iter()
            .map(|e| e.key.as_str())
            .collect();
        assert_eq!(keys, ["#1"]);
    }

    /// A documented read (no `indexingState`: 1 looks indexing, 4 indexed) and one with the
    /// extension saying ERROR (7).
    fn probe_site() -> LiveSite {
        let integrations: Vec<crate::api::wire::Integration> = serde_json::from_str(
            r#"[{"id": 1, "integrationType": "GITHUB", "group": "a"},
                {"id": 4, "integrationType": "GITHUB", "group": "b"},
                {"id": 7, "integrationType": "GITHUB", "group": "c", "indexingState": "ERROR"}]"#,
        )
        .unwrap();
        let repositories: Vec<crate::api::wire::SiteRepository> = serde_json::from_str(
            r#"[{"id": 2, "displayName": "ok", "trackedFolderId": 1, "lastIndexedDate": 5},
                {"id": 3, "displayName": "bad", "trackedFolderId": 1},
                {"id": 5, "displayName": "x", "trackedFolderId": 4, "lastIndexedDate": 5},
                {"id": 8, "displayName": "y", "trackedFolderId": 7, "state": "ERROR"}]"#,
        )
        .unwrap();
        LiveSite {
            integrations,
            repositories,
            ..LiveSite::default()
        }
    }

    #[test]
    fn probes_ask_once_per_integration_that_may_have_failed_or_failed() {
        let site = probe_site();
        let mut live = crate::plan::from_site(&site);
        let probes = index_probes(&site, &live);
        // 1's lowest unfinished repository; 7 itself (the extension's aggregate); 4 is done.
        assert_eq!(probes, [(1, 3), (7, 7)]);
        let errors = |pairs: &[(&str, &str)]| {
            Some(
                pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect::<BTreeMap<_, _>>(),
            )
        };
        let answers = [
            errors(&[("bad", "clone failed")]),
            errors(&[("y", "no access")]),
        ];
        let failures = fold_index_answers(&mut live, &probes, &answers);
        assert_eq!(live.get(1).unwrap().indexing, IntegrationIndexing::Error);
        let named = |id: u64| {
            failures[&id]
                .iter()
                .map(|f| (f.id, f.name.as_str(), f.error.as_deref()))
                .collect::<Vec<_>>()
        };
        assert_eq!(named(1), [(Some(3), "bad", Some("clone failed"))]);
        assert_eq!(named(7), [(Some(8), "y", Some("no access"))]);
        assert!(!failures.contains_key(&4));
        let r = report(
            &Subjects::AllLive,
            &live,
            &BTreeMap::new(),
            &failures,
            &Observations::default(),
            0.0,
            meta(),
        );
        assert_eq!(r.outcome(), Outcome::Failed);
        assert_eq!(r.integrations[0].failures.len(), 1);

        // No errors in the answer (still waiting, or 404): the integration stays indexing.
        let mut live = crate::plan::from_site(&site);
        let failures = fold_index_answers(&mut live, &probes, &[Some(BTreeMap::new()), None]);
        assert_eq!(live.get(1).unwrap().indexing, IntegrationIndexing::Indexing);
        // 7 is in ERROR by the extension: named, without a text.
        assert_eq!(
            failures[&7],
            [RepositoryFailure {
                id: Some(8),
                name: "y".into(),
                error: None
            }]
        );
        assert!(!failures.contains_key(&1));
    }

    #[test]
    fn initial_indexing_since_reads_init_date_without_last_indexed_date() {
        let integrations: Vec<crate::api::wire::Integration> = serde_json::from_str(
            r#"[{"id": 1, "initDate": 10}, {"id": 2, "initDate": 20, "lastIndexedDate": 30},
                {"id": 3}, {"initDate": 5}]"#,
        )
        .unwrap();
        let site = LiveSite {
            integrations,
            ..LiveSite::default()
        };
        assert_eq!(initial_indexing_since(&site), BTreeMap::from([(1, 10)]));
    }
}
