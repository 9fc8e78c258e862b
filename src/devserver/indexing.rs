//! Discovery and indexing, computed from virtual time.
//!
//! Model (documented in docs/dev-server.md):
//! - creating an integration (or changing its origin or group) starts a discovery scan that
//!   takes `scan_ms` virtual milliseconds; when it completes the integration's repositories
//!   exist (new ids from the shared counter, in catalog order);
//! - each integration has one indexing thread: its enabled repositories index one after another,
//!   in id order, each for `commits / commits_per_sec` virtual seconds (at least 1 ms); waiting
//!   repositories are `QUEUED`, the running one `SCANNING`, finished ones `UPDATED` (or `ERROR`
//!   when the catalog marks them failing);
//! - a disabled integration indexes nothing; disabling cancels unfinished jobs; enabling
//!   schedules every enabled repository that was never indexed (or failed).

use std::collections::{BTreeMap, BTreeSet};

use super::state::{IndexInterval, IntegrationRec, Job, RepoRec, SiteState};

/// Default indexing speed: 100 commits per virtual second.
pub const DEFAULT_COMMITS_PER_SEC: f64 = 100.0;

/// Default discovery scan: 2 virtual seconds.
pub const DEFAULT_SCAN_MS: i64 = 2_000;

/// Virtual milliseconds the dev-server takes to index a repository of `commits` commits at
/// `commits_per_sec`; public so callers and docs agree on the formula.
pub fn indexing_ms(commits: u64, commits_per_sec: f64) -> i64 {
    let rate = if commits_per_sec > 0.0 {
        commits_per_sec
    } else {
        DEFAULT_COMMITS_PER_SEC
    };
    ((commits as f64 * 1000.0 / rate).ceil() as i64).max(1)
}

/// A repository's derived indexing status at some instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RepoStatus {
    /// GIJ state (`QUEUED`, `SCANNING`, `UPDATED`, `ERROR`), `None` when never indexed and not
    /// scheduled.
    pub state: Option<&'static str>,
    /// Progress 0–100.
    pub percent: f64,
}

/// The status of a repository at `now` (after [`settle`]).
pub fn repo_status(r: &RepoRec, now: i64) -> RepoStatus {
    if let Some(j) = r.job {
        if now < j.start_ms {
            return RepoStatus {
                state: Some("QUEUED"),
                percent: 0.0,
            };
        }
        let span = (j.end_ms - j.start_ms).max(1) as f64;
        let pct = ((now - j.start_ms) as f64 / span * 100.0).clamp(0.0, 99.9);
        return RepoStatus {
            state: Some("SCANNING"),
            percent: (pct * 10.0).floor() / 10.0,
        };
    }
    if r.failed {
        RepoStatus {
            state: Some("ERROR"),
            percent: 100.0,
        }
    } else if r.last_indexed_date.is_some() {
        RepoStatus {
            state: Some("UPDATED"),
            percent: 100.0,
        }
    } else {
        RepoStatus {
            state: None,
            percent: 0.0,
        }
    }
}

/// An integration's aggregate indexing status.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IntegrationStatus {
    /// `SCANNING`, `DISABLED`, `INDEXING`, `ERROR` or `INDEXED`.
    pub state: &'static str,
    /// Commit-weighted progress over enabled repositories, 0–100.
    pub percent: f64,
    /// Latest repository `lastIndexedDate`, once the integration is `INDEXED`.
    pub last_indexed_date: Option<i64>,
}

/// The status of an integration at `now` (after [`settle`]).
pub fn integration_status(site: &SiteState, i: &IntegrationRec, now: i64) -> IntegrationStatus {
    if i.scan_done_ms.is_some_and(|t| t > now) {
        return IntegrationStatus {
            state: "SCANNING",
            percent: 0.0,
            last_indexed_date: None,
        };
    }
    let enabled: Vec<&RepoRec> = site.repos_of(i.id).filter(|r| !r.disabled).collect();
    let (mut weight, mut done) = (0.0, 0.0);
    for r in &enabled {
        let w = r.commits.max(1) as f64;
        weight += w;
        done += w * repo_status(r, now).percent;
    }
    let percent = if weight > 0.0 {
        ((done / weight) * 10.0).floor() / 10.0
    } else {
        100.0
    };
    let last = enabled.iter().filter_map(|r| r.last_indexed_date).max();
    let state = if i.disabled {
        "DISABLED"
    } else if enabled.iter().any(|r| r.job.is_some()) {
        "INDEXING"
    } else if enabled.iter().any(|r| r.failed) {
        "ERROR"
    } else {
        "INDEXED"
    };
    IntegrationStatus {
        state,
        percent,
        last_indexed_date: if state == "INDEXED" { last } else { None },
    }
}

/// Completes scans and jobs whose time has come. Called before every request is served.
pub fn settle(site: &mut SiteState, now: i64) {
    // Scans first, in completion order, so repository ids are allocated deterministically.
    for (t, id) in site.take_due_scans(now) {
        rescan(site, id, t);
    }
    // Only the jobs that are due: walking all 200,000 repositories of a large site on every
    // request made the dev-server the bottleneck of reading it.
    for id in site.take_due_jobs(now) {
        if let Some(r) = site.repositories.get_mut(&id)
            && let Some(j) = r.job.take()
        {
            if r.fail_indexing {
                r.failed = true;
            } else {
                r.failed = false;
                r.last_indexed_date = Some(j.end_ms);
            }
        }
    }
    site.virtual_now_ms = now;
}

/// Completes the discovery scan of integration `id` at time `t`: repositories the git service
/// no longer reports are removed, new ones are added (and scheduled if the integration is
/// enabled).
pub fn rescan(site: &mut SiteState, id: u64, t: i64) {
    let Some(i) = site.integrations.get_mut(&id) else {
        return;
    };
    i.scan_done_ms = None;
    let i = i.clone();
    // Borrowed, not cloned: a token's group list can name thousands of groups.
    let token = i.credential_sha256.as_ref().and_then(|h| {
        site.catalog
            .token(&i.integration_type, &i.origin, h, i.username.as_deref())
    });
    // FILESPACE (a tracked folder on Jira's disk) needs no credential.
    if i.auth_method != "OAUTH" && i.integration_type != "FILESPACE" && token.is_none() {
        // The credential no longer works: GIJ keeps what it had.
        return;
    }
    let found = site
        .catalog
        .discover(&i.integration_type, &i.origin, i.group.as_deref(), token);
    let wanted: BTreeSet<(String, String)> = found
        .iter()
        .map(|d| (d.group.to_ascii_lowercase(), d.repo.name.clone()))
        .collect();
    let existing: Vec<(u64, String, String)> = site
        .repos_of(id)
        .map(|r| (r.id, r.group.to_ascii_lowercase(), r.name.clone()))
        .collect();
    for (rid, g, n) in &existing {
        if !wanted.contains(&(g.clone(), n.clone())) {
            cancel(site, *rid, t);
            site.remove_repo(*rid);
        }
    }
    let have: BTreeSet<(String, String)> = existing.into_iter().map(|(_, g, n)| (g, n)).collect();
    for d in found {
        if have.contains(&(d.group.to_ascii_lowercase(), d.repo.name.clone())) {
            continue;
        }
        let rid = site.alloc_id();
        site.insert_repo(RepoRec {
            id: rid,
            integration_id: id,
            group: d.group,
            name: d.repo.name,
            commits: d.repo.commits,
            main_branch: d.repo.main_branch,
            fail_indexing: d.repo.fail_indexing,
            disabled: false,
            init_date: t,
            last_indexed_date: None,
            failed: false,
            job: None,
            overrides: BTreeMap::new(),
        });
    }
    if !i.disabled {
        schedule_pending(site, id, t);
    }
}

/// Schedules every enabled, never-indexed (or failed) repository of an enabled integration that
/// has no job yet, behind the integration's current queue.
pub fn schedule_pending(site: &mut SiteState, id: u64, at: i64) {
    schedule(site, id, at, |r| r.last_indexed_date.is_none() || r.failed);
}

/// Schedules a reindex (GIJ's Reindex POST API) of the given repositories of integration `id`
/// that are enabled and not already queued or indexing, behind the integration's queue; a
/// disabled integration indexes nothing. Returns the repositories scheduled.
pub fn schedule_reindex(site: &mut SiteState, id: u64, repos: &BTreeSet<u64>, at: i64) -> Vec<u64> {
    let before: BTreeSet<u64> = site
        .repos_of(id)
        .filter(|r| r.job.is_some())
        .map(|r| r.id)
        .collect();
    schedule(site, id, at, |r| repos.contains(&r.id));
    site.repos_of(id)
        .filter(|r| r.job.is_some() && !before.contains(&r.id))
        .map(|r| r.id)
        .collect()
}

/// Indexes a standalone repository (GIJ's Add New Repository; no integration, no queue
/// statistics) from `at`, unless it is disabled or already indexing.
pub fn schedule_standalone(site: &mut SiteState, repo_id: u64, at: i64) {
    let rate = site.commits_per_sec;
    let Some(r) = site.repositories.get_mut(&repo_id) else {
        return;
    };
    if r.disabled || r.job.is_some() {
        return;
    }
    let job = Job {
        start_ms: at,
        end_ms: at + indexing_ms(r.commits, rate),
    };
    r.failed = false;
    r.job = Some(job);
    site.track_job(repo_id, job);
}

fn schedule(site: &mut SiteState, id: u64, at: i64, wanted: impl Fn(&RepoRec) -> bool) {
    let Some(i) = site.integrations.get(&id) else {
        return;
    };
    if i.disabled || i.scan_done_ms.is_some() {
        return;
    }
    let mut tail = site
        .repos_of(id)
        .filter_map(|r| r.job.map(|j| j.end_ms))
        .max()
        .unwrap_or(at)
        .max(at);
    let todo: Vec<u64> = site
        .repos_of(id)
        .filter(|r| !r.disabled && r.job.is_none() && wanted(r))
        .map(|r| r.id)
        .collect();
    let rate = site.commits_per_sec;
    let budget = site.integrations.get(&id).and_then(|i| {
        let sha = i.credential_sha256.clone()?;
        let per_hour = site
            .catalog
            .token(&i.integration_type, &i.origin, &sha, i.username.as_deref())?
            .requests_per_hour?;
        Some((sha, per_hour))
    });
    for rid in todo {
        let Some(commits) = site.repositories.get(&rid).map(|r| r.commits) else {
            continue;
        };
        let start = match &budget {
            Some((sha, per_hour)) => spend_git_budget(site, sha, *per_hour, tail, commits),
            None => tail,
        };
        if let Some(r) = site.repositories.get_mut(&rid) {
            let job = Job {
                start_ms: start,
                end_ms: start + indexing_ms(r.commits, rate),
            };
            tail = job.end_ms;
            r.failed = false;
            r.job = Some(job);
            site.track_job(rid, job);
            site.indexing_log.push(IndexInterval {
                integration_id: id,
                repo_id: rid,
                start_ms: job.start_ms,
                end_ms: job.end_ms,
            });
        }
    }
}

/// Git-service API requests indexing a repository of `commits` commits costs: one to list it,
/// then one per page of 100 commits (GitHub's and GitLab's page size).
pub fn git_requests(commits: u64) -> u64 {
    1 + commits.div_ceil(100)
}

/// Takes a repository's indexing cost from its credential's budget and returns when the job can
/// start: `at`, or later when the budget must refill first. Integrations sharing a credential
/// therefore slow each other down, as they do against a real git service. Jobs are scheduled as
/// they are queued, not in time order, so a job queued later but due earlier spends from a budget
/// already advanced past it: the model errs towards throttling.
fn spend_git_budget(site: &mut SiteState, sha: &str, per_hour: u32, at: i64, commits: u64) -> i64 {
    let cap = f64::from(per_hour.max(1));
    let per_ms = cap / 3_600_000.0;
    let b = site
        .git_budgets
        .entry(sha.to_owned())
        .or_insert(super::state::GitBudget {
            requests: cap,
            at_ms: at,
        });
    if at > b.at_ms {
        b.requests = (b.requests + (at - b.at_ms) as f64 * per_ms).min(cap);
        b.at_ms = at;
    }
    let cost = (git_requests(commits) as f64).min(cap);
    let mut start = at;
    if b.requests < cost {
        start = at.max(b.at_ms) + ((cost - b.requests) / per_ms).ceil() as i64;
        b.requests = cost;
        b.at_ms = start;
    }
    b.requests -= cost;
    start
}

/// Cancels a repository's unfinished job at `now`, trimming its recorded interval.
pub fn cancel(site: &mut SiteState, repo_id: u64, now: i64) {
    let Some(r) = site.repositories.get_mut(&repo_id) else {
        return;
    };
    let Some(job) = r.job.take() else {
        return;
    };
    site.indexing_log.retain_mut(|iv| {
        if iv.repo_id == repo_id && iv.start_ms == job.start_ms && iv.end_ms == job.end_ms {
            iv.end_ms = now.min(iv.end_ms);
            iv.end_ms > iv.start_ms
        } else {
            true
        }
    });
}

/// Cancels every unfinished job of an integration.
pub fn cancel_integration(site: &mut SiteState, id: u64, now: i64) {
    let ids: Vec<u64> = site.repos_of(id).map(|r| r.id).collect();
    for rid in ids {
        cancel(site, rid, now);
    }
}

/// Largest number of integrations that had a repository indexing at the same instant within
/// `[since, now]`, and the number indexing at `now`.
pub fn indexing_concurrency(log: &[IndexInterval], since: i64, now: i64) -> (u32, u32) {
    // Union of intervals per integration, clipped to the window.
    let mut per: BTreeMap<u64, Vec<(i64, i64)>> = BTreeMap::new();
    for iv in log {
        let (s, e) = (iv.start_ms.max(since), iv.end_ms.min(now));
        if s < e {
            per.entry(iv.integration_id).or_default().push((s, e));
        }
    }
    let mut events: Vec<(i64, i32)> = Vec::new();
    for (_, mut v) in per {
        v.sort_unstable();
        let mut cur: Option<(i64, i64)> = None;
        for (s, e) in v {
            cur = match cur {
                Some((cs, ce)) if s <= ce => Some((cs, ce.max(e))),
                Some((cs, ce)) => {
                    events.push((cs, 1));
                    events.push((ce, -1));
                    Some((s, e))
                }
                None => Some((s, e)),
            };
        }
        if let Some((cs, ce)) = cur {
            events.push((cs, 1));
            events.push((ce, -1));
        }
    }
    // Ends sort before starts at the same instant: back-to-back is not concurrent.
    events.sort_unstable();
    let (mut level, mut peak) = (0i32, 0i32);
    for (_, d) in events {
        level += d;
        peak = peak.max(level);
    }
    let current = log
        .iter()
        .filter(|iv| iv.start_ms <= now && now < iv.end_ms)
        .map(|iv| iv.integration_id)
        .collect::<BTreeSet<_>>()
        .len();
    (
        u32::try_from(peak).unwrap_or(0),
        u32::try_from(current).unwrap_or(u32::MAX),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(i: u64, s: i64, e: i64) -> IndexInterval {
        IndexInterval {
            integration_id: i,
            repo_id: i * 100 + s as u64,
            start_ms: s,
            end_ms: e,
        }
    }

    #[test]
    fn a_shared_git_budget_throttles_indexing() {
        let mut site = SiteState::empty(0, 100.0);
        // 10 requests per hour, full at t=0: a 500-commit repository costs 6 of them.
        assert_eq!(spend_git_budget(&mut site, "sha", 10, 0, 500), 0);
        // 4 left: the next one waits until 2 more have refilled (2 / (10 per hour) = 12 min).
        assert_eq!(spend_git_budget(&mut site, "sha", 10, 0, 500), 720_000);
        // Another credential has its own budget.
        assert_eq!(spend_git_budget(&mut site, "other", 10, 0, 500), 0);
        assert_eq!(git_requests(0), 1);
        assert_eq!(git_requests(101), 3);
    }

    #[test]
    fn duration_is_proportional_to_commits() {
        assert_eq!(indexing_ms(4000, 100.0), 40_000);
        assert_eq!(indexing_ms(0, 100.0), 1);
        assert_eq!(indexing_ms(150, 1000.0), 150);
    }

    #[test]
    fn peak_counts_integrations_not_repositories() {
        // Integration 1 indexes two repos back to back; integration 2 overlaps the second.
        let log = [iv(1, 0, 10), iv(1, 10, 20), iv(2, 15, 30), iv(3, 30, 40)];
        assert_eq!(indexing_concurrency(&log, 0, 100), (2, 0));
        assert_eq!(indexing_concurrency(&log, 0, 16), (2, 2));
        // A window after the overlap sees only one at a time.
        assert_eq!(indexing_concurrency(&log, 21, 100), (1, 0));
    }
}
