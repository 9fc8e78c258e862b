//! Execution order and the indexing estimate.
//!
//! Phases follow GIJ's guidance for large sites: first every change that starts no indexing
//! (config order), then every step that starts indexing (and every enable), by `order` and
//! then file order, gated by `max-parallel-indexing`, and deletions last. Apply's executor and
//! the runbook both follow this order; neither has an ordering rule of its own. The estimate simulates apply's sliding
//! window: each indexing step takes the first slot that frees up.
//!
//! Repository sizes are not on GIJ's wire format. When the site reports a `commits` count per
//! repository (a dev-server extension) it is used; otherwise every repository is assumed to take
//! [`SECS_PER_REPOSITORY`], and a new integration, whose repositories are only known after GIJ
//! discovers them, is assumed to have [`ASSUMED_REPOSITORIES_ON_CREATE`].

use super::FastSet;
use super::fingerprint::plan_checksum;
use super::live::LiveState;
use super::model::{
    Action, ActionKind, BusySlot, KeyList, Phase, Plan, PlanMeta, Schedule, ScheduledStep, Summary,
    UnmanagedIntegration,
};
use crate::model::IntegrationIndexing;

/// Assumed initial-indexing time of one repository of unknown size.
pub const SECS_PER_REPOSITORY: u64 = 120;
/// Fixed cost of one repository of known size (clone and setup).
pub const BASE_SECS_PER_REPOSITORY: u64 = 30;
/// Indexing speed assumed for repositories of known size.
pub const COMMITS_PER_SEC: u64 = 25;
/// Repositories assumed for a new integration (they are discovered only after creation).
pub const ASSUMED_REPOSITORIES_ON_CREATE: u64 = 5;

/// Estimated initial-indexing time of one repository.
pub fn repository_secs(id: u64, live: &LiveState) -> u64 {
    live.repo_commits.get(&id).map_or(SECS_PER_REPOSITORY, |c| {
        BASE_SECS_PER_REPOSITORY + c / COMMITS_PER_SEC
    })
}

/// Estimated time to index these repositories one after the other (GIJ indexes one
/// integration's repositories sequentially by default).
pub fn repositories_secs(ids: impl Iterator<Item = u64>, live: &LiveState) -> u64 {
    ids.map(|id| repository_secs(id, live)).sum()
}

/// An action before its step is known, with what ordering needs.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub(crate) action: Action,
    pub(crate) order: Option<i64>,
    pub(crate) file_index: usize,
    /// Position among one integration's actions.
    pub(crate) sub: u8,
}

/// Orders the actions, numbers them, simulates the schedule and assembles the plan.
/// `unchanged` holds the keys of the declarations without actions, in file order.
pub(crate) fn finish(
    mut pending: Vec<Pending>,
    unchanged: KeyList,
    live: &LiveState,
    unmanaged: Vec<UnmanagedIntegration>,
    max_parallel_indexing: u32,
    key_of: &dyn Fn(u64) -> Option<String>,
    meta: PlanMeta,
) -> Plan {
    pending.sort_by(|a, b| {
        let pa = a.action.phase;
        let pb = b.action.phase;
        pa.cmp(&pb).then_with(|| match pa {
            Phase::Settings => (a.file_index, a.sub).cmp(&(b.file_index, b.sub)),
            // Waves as in Argo CD: `order` defaults to 0, lower first, ties in file order.
            Phase::Indexing => (a.order.unwrap_or(0), a.file_index, a.sub).cmp(&(
                b.order.unwrap_or(0),
                b.file_index,
                b.sub,
            )),
            Phase::Delete => a.action.target_id.cmp(&b.action.target_id),
        })
    });
    let mut actions: Vec<Action> = pending.into_iter().map(|p| p.action).collect();
    for (i, a) in actions.iter_mut().enumerate() {
        a.step = u32::try_from(i + 1).unwrap_or(u32::MAX);
    }

    let schedule = simulate(&actions, live, max_parallel_indexing, key_of);
    let summary = summarize(&actions, unchanged.len(), unmanaged.len());
    let mut plan = Plan {
        format_version: super::model::FORMAT_VERSION,
        meta,
        summary,
        actions,
        unmanaged,
        unchanged,
        warnings: live.warnings.clone(),
        schedule,
        checksum: String::new(),
        scope: None,
        allowances: Vec::new(),
        limit_approvals: Vec::new(),
        refusals: Vec::new(),
        target: None,
        indexing: super::indexing::still_indexing(live, key_of),
    };
    plan.checksum = plan_checksum(&plan);
    plan
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Counts integrations (not actions) per kind of change.
pub(crate) fn summarize(actions: &[Action], unchanged: usize, unmanaged: usize) -> Summary {
    let mut create = FastSet::default();
    let mut update = FastSet::default();
    let mut replace = FastSet::default();
    let mut delete = FastSet::default();
    let mut manual = FastSet::default();
    for a in actions {
        let set = match a.kind {
            ActionKind::Create(_) => &mut create,
            ActionKind::Replace { .. } => &mut replace,
            ActionKind::Delete { .. } => &mut delete,
            ActionKind::Manual { .. } => &mut manual,
            ActionKind::Update { .. }
            | ActionKind::Repositories { .. }
            | ActionKind::RotateCredential { .. } => &mut update,
        };
        set.insert(a.key.as_str());
    }
    Summary {
        create: count(create.len()),
        update: count(update.len()),
        replace: count(replace.len()),
        delete: count(delete.len()),
        manual: count(manual.len()),
        unchanged: count(unchanged),
        unmanaged: count(unmanaged),
    }
}

/// Simulates apply's sliding window over the indexing steps.
pub(crate) fn simulate(
    actions: &[Action],
    live: &LiveState,
    max_parallel_indexing: u32,
    key_of: &dyn Fn(u64) -> Option<String>,
) -> Schedule {
    let slots = max_parallel_indexing.max(1);
    let mut busy = Vec::new();
    for l in &live.integrations {
        if !matches!(
            l.indexing,
            IntegrationIndexing::Indexing | IntegrationIndexing::Scanning
        ) || !l.settings.enabled
        {
            continue;
        }
        let remaining = super::indexing::remaining_secs(l, live);
        busy.push(BusySlot {
            id: l.id,
            key: key_of(l.id).unwrap_or_else(|| format!("#{}", l.id)),
            remaining_secs: remaining,
        });
    }

    let mut free_at = vec![0u64; slots as usize];
    for b in &busy {
        let i = earliest(&free_at);
        free_at[i] += b.remaining_secs;
    }
    let mut timeline = Vec::new();
    // A manual step (an OAuth creation) is done by a person, not by apply: it takes none of
    // apply's slots. The runbook, which a person follows, gates it with the others.
    for a in actions
        .iter()
        .filter(|a| a.starts_indexing && !matches!(a.kind, ActionKind::Manual { .. }))
    {
        let i = earliest(&free_at);
        let start = free_at[i];
        let end = start + a.estimated_indexing_secs.unwrap_or(SECS_PER_REPOSITORY);
        free_at[i] = end;
        timeline.push(ScheduledStep {
            step: a.step,
            key: a.key.clone(),
            start_secs: start,
            end_secs: end,
            slot: u32::try_from(i + 1).unwrap_or(u32::MAX),
        });
    }
    Schedule {
        max_parallel_indexing: slots,
        secs_per_repository: SECS_PER_REPOSITORY,
        busy,
        estimated_indexing_secs: timeline.iter().map(|s| s.end_secs).max().unwrap_or(0),
        timeline,
        api_calls: actions.iter().map(|a| a.api_calls).sum(),
    }
}

fn earliest(free_at: &[u64]) -> usize {
    let mut best = 0;
    for (i, t) in free_at.iter().enumerate() {
        if *t < free_at[best] {
            best = i;
        }
    }
    best
}
