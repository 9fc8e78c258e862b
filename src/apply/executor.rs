//! The apply executor: settings first, then indexing steps through a sliding window of slots,
//! then deletions.
//!
//! The indexing gate is a FIFO semaphore with N permits. Integrations that are already indexing
//! when apply starts take permits first (waiter tasks that hold them until those integrations
//! finish), then each indexing step takes a permit in plan order and keeps it until its
//! integration's initial indexing completes. A permit is released the moment one integration
//! finishes, so the next creation starts within one poll interval of a slot freeing: a sliding
//! window, not batch-by-batch.
//!
//! The limit is the site's, not the run's: holding its permit, a step reads the site before it
//! enables and waits while the site is full (see `Board` for how concurrent applies of one
//! config are kept under N together).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::events::{Event, Reporter};
use crate::api::{ApiError, GijApi, wire};
use crate::model::{IntegrationIndexing, OnTimeout, RepoSelector};
use crate::plan::indexing::{RepositorySignals, failure_probe, site_failure_probe};

/// One unit of work, already resolved to requests.
#[derive(Debug)]
pub struct Step {
    /// Unique sequence number (one plan action may become several steps).
    pub seq: u32,
    /// Plan step number, for display.
    pub step: u32,
    /// Integration key (config key, or `#<id>` for undeclared integrations).
    pub key: String,
    /// What to do.
    pub kind: StepKind,
}

/// What a step does. The first two start no indexing; the next two do; deletes run last.
#[derive(Debug)]
pub enum StepKind {
    /// Update display name, settings and projects.
    Update {
        /// Live id.
        id: u64,
        /// Body (only managed fields).
        request: Box<wire::IntegrationRequest>,
    },
    /// Disable repositories (or the integration itself when `integration` is set).
    Disable {
        /// Live id of the integration.
        id: u64,
        /// Repository ids to disable.
        repos: Vec<u64>,
        /// Disable the integration too.
        integration: bool,
    },
    /// Enable repositories and/or the integration: starts indexing.
    Enable {
        /// Live id of the integration.
        id: u64,
        /// Repository ids to enable.
        repos: Vec<u64>,
        /// Enable the integration itself.
        integration: bool,
        /// When enabling the integration: first wait for discovery and disable the
        /// repositories this selector does not want (an apply interrupted between create and
        /// enable resumes here without indexing anything unwanted).
        select: Option<RepoSelector>,
    },
    /// Create an integration: starts indexing.
    Create {
        /// Body; `disabled` is true when repositories must be selected before indexing.
        request: Box<wire::IntegrationRequest>,
        /// Which repositories to keep enabled.
        repositories: RepoSelector,
        /// Whether the integration should end enabled.
        enabled: bool,
    },
    /// Delete an integration.
    Delete {
        /// Live id.
        id: u64,
    },
}

impl StepKind {
    /// Whether the step starts initial indexing and so needs a slot.
    pub fn starts_indexing(&self) -> bool {
        matches!(
            self,
            StepKind::Create { enabled: true, .. } | StepKind::Enable { .. }
        )
    }

    fn describe(&self) -> String {
        match self {
            StepKind::Update { id, .. } => format!("update settings of id {id}"),
            StepKind::Disable {
                repos, integration, ..
            } => {
                if *integration {
                    "disable integration".into()
                } else {
                    format!("disable {} repositories", repos.len())
                }
            }
            StepKind::Enable {
                repos, integration, ..
            } => match (*integration, repos.len()) {
                (true, 0) => "enable integration".into(),
                (true, n) => format!("enable integration and {n} repositories"),
                (false, n) => format!("enable {n} repositories"),
            },
            StepKind::Create { .. } => "create".into(),
            StepKind::Delete { id } => format!("delete id {id}"),
        }
    }
}

/// How the executor behaves.
#[derive(Debug, Clone)]
pub struct ExecOptions {
    /// Indexing slots.
    pub max_parallel_indexing: usize,
    /// How often in-flight integrations are polled.
    pub poll_interval: Duration,
    /// Per-integration indexing timeout.
    pub indexing_timeout: Duration,
    /// What a timeout does.
    pub on_timeout: OnTimeout,
    /// Concurrency of the settings phase.
    pub settings_concurrency: usize,
}

/// How one step ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Done; the integration's id.
    Succeeded(Option<u64>),
    /// Failed with this message.
    Failed(String),
    /// Its integration did not finish indexing in time.
    TimedOut(u64),
    /// Not attempted, with the reason.
    NotAttempted(String),
}

/// The result of an apply.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Outcome per step sequence number, with the key.
    pub outcomes: BTreeMap<u32, (String, Outcome)>,
    /// Whether apply stopped on an indexing timeout.
    pub stopped_on_timeout: bool,
}

impl Report {
    /// Counts (succeeded, failed incl. timed out, not attempted).
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut c = (0, 0, 0);
        for (_, o) in self.outcomes.values() {
            match o {
                Outcome::Succeeded(_) => c.0 += 1,
                Outcome::Failed(_) | Outcome::TimedOut(_) => c.1 += 1,
                Outcome::NotAttempted(_) => c.2 += 1,
            }
        }
        c
    }
}

/// Status of one integration's indexing as apply sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Status {
    /// Aggregate state.
    pub state: IntegrationIndexing,
    /// Progress 0–100.
    pub percent: f64,
}

/// Reads an integration's indexing status: GIJ's `indexingState` extension when the site sends
/// it, otherwise derived from its repositories' `state`/`lastIndexedDate` (plain GIJ).
pub async fn indexing_status<A: GijApi>(api: &A, id: u64) -> Result<Option<Status>, ApiError> {
    let Some(i) = api.get_integration(id).await? else {
        return Ok(None);
    };
    if let Some(state) = i.indexing_state.as_deref() {
        let state = parse_state(state);
        return Ok(Some(Status {
            state,
            percent: i.indexing_percent.unwrap_or(0.0),
        }));
    }
    if i.disabled == Some(true) {
        return Ok(Some(Status {
            state: IntegrationIndexing::Disabled,
            percent: 0.0,
        }));
    }
    let repos = api.list_repositories(id).await?;
    let mut st = derive_status(&repos);
    if st.state == IntegrationIndexing::Indexing
        && let Some(r) = failure_probe(repos.iter().map(RepositorySignals::from))
        && failed(api, r).await?
    {
        st.state = IntegrationIndexing::Error;
    }
    Ok(Some(st))
}

/// Whether GIJ's indexing status of repository `repo` reports an error.
async fn failed<A: GijApi>(api: &A, repo: u64) -> Result<bool, ApiError> {
    Ok(index_errors(api, repo)
        .await?
        .is_some_and(|e| !e.is_empty()))
}

/// The errors GIJ's `index.json?repoId=` reports for `id` (a repository; on a site with the
/// extension also an integration, for all its repositories): repository name to error text.
/// `None` when the site does not answer it (gone meanwhile, or no such endpoint).
pub async fn index_errors<A: GijApi>(
    api: &A,
    id: u64,
) -> Result<Option<BTreeMap<String, String>>, ApiError> {
    Ok(api.repository_index_status(id).await?.map(|s| {
        s.errors
            .into_iter()
            .map(|(name, v)| {
                let text = match v {
                    serde_json::Value::String(t) => t,
                    other => other.to_string(),
                };
                (name, text)
            })
            .collect()
    }))
}

/// How many `index.json` requests [`index_errors_of`] has in flight at once.
pub const INDEX_PROBE_CONCURRENCY: usize = 4;

/// [`index_errors`] of every id in `ids`, at most [`INDEX_PROBE_CONCURRENCY`] requests at a
/// time, answers in the order of `ids`: what `gijctl status` asks about a whole site. The
/// first error ends the probe (the requests still in flight are dropped) and is returned.
pub async fn index_errors_of<A: GijApi>(
    api: &A,
    ids: &[u64],
) -> Result<Vec<Option<BTreeMap<String, String>>>, ApiError> {
    use futures_util::{StreamExt as _, TryStreamExt as _};
    futures_util::stream::iter(ids)
        .map(|id| index_errors(api, *id))
        .buffered(INDEX_PROBE_CONCURRENCY)
        .try_collect()
        .await
}

/// Derives an aggregate status from repositories (for sites without the extension fields).
pub fn derive_status(repos: &[wire::Repository]) -> Status {
    let enabled: Vec<_> = repos.iter().filter(|r| !r.disabled).collect();
    if repos.is_empty() {
        return Status {
            state: IntegrationIndexing::Scanning,
            percent: 0.0,
        };
    }
    if enabled.is_empty() {
        return Status {
            state: IntegrationIndexing::Indexed,
            percent: 100.0,
        };
    }
    let mut done = 0usize;
    let mut error = false;
    let mut pct = 0.0;
    for r in &enabled {
        let st = r.state.as_deref().unwrap_or("").to_ascii_uppercase();
        if st == "ERROR" {
            error = true;
        }
        let finished = st == "UPDATED" || (st.is_empty() && r.last_indexed_date.is_some());
        if finished {
            done += 1;
            pct += 100.0;
        } else {
            pct += r.indexing_percent.unwrap_or(0.0);
        }
    }
    let percent = pct / enabled.len() as f64;
    let state = if error {
        IntegrationIndexing::Error
    } else if done == enabled.len() {
        IntegrationIndexing::Indexed
    } else {
        IntegrationIndexing::Indexing
    };
    Status { state, percent }
}

fn parse_state(s: &str) -> IntegrationIndexing {
    match s.to_ascii_uppercase().as_str() {
        "SCANNING" => IntegrationIndexing::Scanning,
        "INDEXED" | "UPDATED" => IntegrationIndexing::Indexed,
        "ERROR" => IntegrationIndexing::Error,
        "DISABLED" => IntegrationIndexing::Disabled,
        _ => IntegrationIndexing::Indexing,
    }
}

/// Runs `steps` against `api`.
pub async fn execute<A: GijApi + 'static>(
    api: Arc<A>,
    steps: Vec<Step>,
    already_indexing: Vec<u64>,
    opts: ExecOptions,
    reporter: Arc<Reporter>,
) -> Report {
    let mut report = Report::default();
    let mut failed_keys: BTreeSet<String> = BTreeSet::new();
    let (mut settings, mut indexing, mut deletes) = (Vec::new(), Vec::new(), Vec::new());
    for s in steps {
        match &s.kind {
            StepKind::Delete { .. } => deletes.push(s),
            k if k.starts_indexing() => indexing.push(s),
            _ => settings.push(s),
        }
    }

    // Phase 1: settings, bounded concurrency; steps of one integration stay in order.
    let mut by_key: BTreeMap<String, Vec<Step>> = BTreeMap::new();
    for s in settings {
        by_key.entry(s.key.clone()).or_default().push(s);
    }
    let sem = Arc::new(Semaphore::new(opts.settings_concurrency.max(1)));
    // Each task records every outcome the moment it has it, so a task that panics halfway
    // leaves behind which of its steps ended; `carried` says which steps each task had, so the
    // one it was running when it panicked fails and the rest are reported not attempted.
    let finished: Arc<std::sync::Mutex<BTreeMap<u32, (String, Outcome)>>> = Arc::default();
    let mut carried: BTreeMap<tokio::task::Id, Vec<Carried>> = BTreeMap::new();
    let mut set = JoinSet::new();
    for (_, steps) in by_key {
        let (api, sem, rep, opts) = (api.clone(), sem.clone(), reporter.clone(), opts.clone());
        let these: Vec<Carried> = steps.iter().map(Carried::of).collect();
        let finished = finished.clone();
        let handle = set.spawn(async move {
            let _permit = sem.acquire_owned().await;
            let mut failed = false;
            for s in steps {
                let o = if failed {
                    Outcome::NotAttempted("an earlier step of this integration failed".into())
                } else {
                    let o = run_simple(&*api, &s, &rep, &opts).await;
                    failed = matches!(o, Outcome::Failed(_));
                    o
                };
                lock(&finished).insert(s.seq, (s.key, o));
            }
        });
        carried.insert(handle.id(), these);
    }
    while let Some(r) = set.join_next_with_id().await {
        if let Err(e) = r {
            let mut finished = lock(&finished);
            let lost = carried.remove(&e.id()).unwrap_or_default();
            // Steps run in order, so the first one without an outcome is the one that broke;
            // the ones after it were never started.
            let mut broke = false;
            for c in lost {
                if let std::collections::btree_map::Entry::Vacant(slot) = finished.entry(c.seq) {
                    let o = if broke {
                        Outcome::NotAttempted("an earlier step of this integration failed".into())
                    } else {
                        broke = true;
                        Outcome::Failed(worker_lost(&e))
                    };
                    c.report(&reporter, &o);
                    slot.insert((c.key, o));
                }
            }
        }
    }
    for (seq, (key, o)) in std::mem::take(&mut *lock(&finished)) {
        if matches!(o, Outcome::Failed(_)) {
            failed_keys.insert(key.clone());
        }
        report.outcomes.insert(seq, (key, o));
    }

    // Phase 2: indexing through the gate.
    let gate = Arc::new(Semaphore::new(opts.max_parallel_indexing.max(1)));
    let stop = Arc::new(AtomicBool::new(false));
    let mut set: JoinSet<(u32, String, Outcome)> = JoinSet::new();
    // The step each gated task carries, to account for it when the task panics.
    let mut gated: BTreeMap<tokio::task::Id, Carried> = BTreeMap::new();
    let mut waiters = JoinSet::new();
    for id in already_indexing {
        let Ok(permit) = gate.clone().acquire_owned().await else {
            break;
        };
        let (api, opts2) = (api.clone(), opts.clone());
        reporter.emit(Event::Wait {
            reason: format!("integration id {id} is already indexing on the site; it holds a slot"),
        });
        waiters.spawn(async move {
            let start = Instant::now();
            loop {
                match indexing_status(&*api, id).await {
                    Ok(Some(s))
                        if matches!(
                            s.state,
                            IntegrationIndexing::Indexing | IntegrationIndexing::Scanning
                        ) => {}
                    _ => break,
                }
                if start.elapsed() > opts2.indexing_timeout {
                    break;
                }
                tokio::time::sleep(opts2.poll_interval).await;
            }
            drop(permit);
        });
    }
    // Creations are prepared ahead of their slot: created disabled, scanned, narrowed to the
    // wanted repositories, all of which starts no indexing. When a slot frees, only the enable
    // request stands between it and the next initial indexing, so no slot idles through a scan.
    // At most N creations are prepared ahead, in plan order.
    let mut prepared = prepare_ahead(&api, &indexing, &failed_keys, &opts, &stop);
    let board = Board::new(&indexing);
    let mut queue = indexing.into_iter();
    loop {
        // Take the next step only when a slot is free, so the queue stays in plan order.
        let next = queue.next();
        let Some(s) = next else { break };
        if failed_keys.contains(&s.key) {
            board.set(s.seq, Claim::Dropped);
            skip(
                &mut report,
                &reporter,
                &s,
                "an earlier step of this integration failed".into(),
            );
            continue;
        }
        let permit = tokio::select! {
            p = gate.clone().acquire_owned() => p,
            Some(r) = set.join_next_with_id(), if !set.is_empty() => {
                // A step finished while we waited; record it and retry for a permit.
                joined(&mut report, &reporter, &stop, &opts, &mut gated, &board, r);
                let mut q: Vec<Step> = vec![s];
                q.extend(queue);
                queue = q.into_iter();
                continue;
            }
        };
        let Ok(permit) = permit else { break };
        if stop.load(Ordering::SeqCst) {
            board.set(s.seq, Claim::Dropped);
            skip(&mut report, &reporter, &s, stopped_message(&s.kind));
            drop(permit);
            for s in queue.by_ref() {
                board.set(s.seq, Claim::Dropped);
                skip(&mut report, &reporter, &s, stopped_message(&s.kind));
            }
            break;
        }
        let (api, rep, opts2, stop2) = (api.clone(), reporter.clone(), opts.clone(), stop.clone());
        let ready = prepared.remove(&s.seq);
        let these = Carried::of(&s);
        let board2 = board.clone();
        let handle = set.spawn(async move {
            let o = run_indexing(&*api, &s, &rep, &opts2, ready, &board2).await;
            // Whatever happened, this run no longer means to start it; an integration still
            // indexing (a timeout) is counted from the site's own answer.
            board2.settle(s.seq);
            // Raise the stop flag before the slot frees, so no new step slips in after a timeout.
            if matches!(o, Outcome::TimedOut(_)) && opts2.on_timeout == OnTimeout::Stop {
                stop2.store(true, Ordering::SeqCst);
            }
            drop(permit);
            (s.seq, s.key, o)
        });
        gated.insert(handle.id(), these);
    }
    while let Some(r) = set.join_next_with_id().await {
        joined(&mut report, &reporter, &stop, &opts, &mut gated, &board, r);
    }
    waiters.abort_all();
    report.stopped_on_timeout = stop.load(Ordering::SeqCst);

    // Phase 3: deletions, after everything else.
    for s in deletes {
        if report.stopped_on_timeout {
            report.outcomes.insert(
                s.seq,
                (
                    s.key.clone(),
                    Outcome::NotAttempted("apply stopped after an indexing timeout".into()),
                ),
            );
            continue;
        }
        let o = run_simple(&*api, &s, &reporter, &opts).await;
        report.outcomes.insert(s.seq, (s.key, o));
    }
    report
}

/// What the executor keeps of a step it handed to a task: enough to report the step when the
/// task dies without returning (a panic), so no step vanishes from the events or the account.
struct Carried {
    seq: u32,
    step: u32,
    key: String,
}

impl Carried {
    fn of(s: &Step) -> Carried {
        Carried {
            seq: s.seq,
            step: s.step,
            key: s.key.clone(),
        }
    }

    fn report(&self, rep: &Reporter, o: &Outcome) {
        emit_done(rep, self.step, &self.key, o, 0.0);
    }
}

/// Why a step failed when its task died. The panic payload is deliberately left out: it can be
/// a `Debug` of a value holding a secret (the panic hook in `cli` hides it for the same reason).
fn worker_lost(e: &tokio::task::JoinError) -> String {
    if e.is_panic() {
        "internal error: the task running this step panicked (details withheld: they could \
         hold secrets); the site may be part-way through this step, run apply again"
            .into()
    } else {
        "internal error: the task running this step was cancelled; run apply again".into()
    }
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A task that panicked while holding the lock cannot have left a half-written map entry
    // (insert is the only thing done under it), so the data is still good.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Records the end of a gated task: its outcome, or, when the task panicked, a failed outcome
/// for the step it carried (reported like any other end of a step).
fn joined(
    report: &mut Report,
    rep: &Reporter,
    stop: &AtomicBool,
    opts: &ExecOptions,
    gated: &mut BTreeMap<tokio::task::Id, Carried>,
    board: &Board,
    r: Result<(tokio::task::Id, (u32, String, Outcome)), tokio::task::JoinError>,
) {
    match r {
        Ok((id, (step, key, o))) => {
            gated.remove(&id);
            note(report, stop, opts, step, key, o);
        }
        Err(e) => {
            if let Some(c) = gated.remove(&e.id()) {
                board.set(c.seq, Claim::Dropped);
                let o = Outcome::Failed(worker_lost(&e));
                c.report(rep, &o);
                report.outcomes.insert(c.seq, (c.key, o));
            }
        }
    }
}

fn note(
    report: &mut Report,
    stop: &AtomicBool,
    opts: &ExecOptions,
    step: u32,
    key: String,
    o: Outcome,
) {
    if matches!(o, Outcome::TimedOut(_)) && opts.on_timeout == OnTimeout::Stop {
        stop.store(true, Ordering::SeqCst);
    }
    report.outcomes.insert(step, (key, o));
}

/// Records an indexing step that will not run and reports it as `skipped`, so every view (and
/// the overall estimate) knows it leaves the queue.
fn skip(report: &mut Report, rep: &Reporter, s: &Step, why: String) {
    let o = Outcome::NotAttempted(why);
    done(rep, s, &o, Instant::now());
    report.outcomes.insert(s.seq, (s.key.clone(), o));
}

fn done(rep: &Reporter, s: &Step, o: &Outcome, start: Instant) {
    emit_done(rep, s.step, &s.key, o, start.elapsed().as_secs_f64());
}

fn emit_done(rep: &Reporter, step: u32, key: &str, o: &Outcome, secs: f64) {
    let (outcome, message, id) = match o {
        Outcome::Succeeded(id) => ("succeeded", None, *id),
        Outcome::Failed(m) => ("failed", Some(m.clone()), None),
        Outcome::TimedOut(id) => (
            "timed_out",
            Some("initial indexing did not finish in time".into()),
            Some(*id),
        ),
        Outcome::NotAttempted(m) => ("skipped", Some(m.clone()), None),
    };
    rep.emit(Event::ActionDone {
        step,
        key: key.to_owned(),
        outcome: outcome.into(),
        message,
        id,
        secs,
    });
}

async fn run_simple<A: GijApi>(api: &A, s: &Step, rep: &Reporter, opts: &ExecOptions) -> Outcome {
    let start = Instant::now();
    rep.emit(Event::ActionStart {
        step: s.step,
        key: s.key.clone(),
        what: s.kind.describe(),
        indexing: s.kind.starts_indexing(),
    });
    let r: Result<Option<u64>, ApiError> = async {
        match &s.kind {
            StepKind::Update { id, request } => {
                api.update_integration(*id, request).await?;
                Ok(Some(*id))
            }
            StepKind::Disable {
                id,
                repos,
                integration,
            } => {
                for r in repos {
                    api.set_disabled(*r, true).await?;
                }
                if *integration {
                    api.set_disabled(*id, true).await?;
                }
                Ok(Some(*id))
            }
            StepKind::Delete { id } => {
                api.delete_integration(*id).await?;
                Ok(Some(*id))
            }
            StepKind::Create {
                request,
                repositories,
                ..
            } => {
                // A disabled create starts no indexing, but its repositories are still
                // selected: whoever enables it later must not index the unwanted ones, and the
                // site must match gij.toml now (found by the fault soak).
                prepare_create(api, request, repositories, opts)
                    .await
                    .map(Some)
            }
            StepKind::Enable { .. } => unreachable!("indexing steps run through the gate"),
        }
    }
    .await;
    let o = match r {
        Ok(id) => Outcome::Succeeded(id),
        Err(e) => Outcome::Failed(error_chain(&e)),
    };
    done(rep, s, &o, start);
    o
}

/// Formats an error with its causes on one line, with every resolved credential masked and
/// control and bidi characters escaped: the line goes into events, the account and the
/// terminal, and a cause (an I/O error, a third-party error) may carry text nobody sanitised.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    crate::escape::shown(&crate::secret::redact(&s)).into_owned()
}

async fn run_indexing<A: GijApi>(
    api: &A,
    s: &Step,
    rep: &Reporter,
    opts: &ExecOptions,
    ready: Option<Ready>,
    board: &Board,
) -> Outcome {
    let start = Instant::now();
    rep.emit(Event::ActionStart {
        step: s.step,
        key: s.key.clone(),
        what: s.kind.describe(),
        indexing: s.kind.starts_indexing(),
    });
    let r: Result<u64, ApiError> = async {
        match &s.kind {
            StepKind::Create {
                request,
                repositories,
                enabled,
            } => {
                let id = match ready {
                    // Prepared ahead while the slots were busy.
                    Some(rx) => {
                        let (result, lookahead) = rx.await.map_err(|_| {
                            ApiError::Endpoint(
                                "the creation was not prepared (apply is stopping)".into(),
                            )
                        })?;
                        drop(lookahead);
                        result
                    }
                    None => prepare_create(api, request, repositories, opts).await,
                };
                let id = match id {
                    Ok(id) => id,
                    Err(e) => {
                        // Another apply made this integration: it, not this run, will start
                        // it, and until then it keeps its place in the plan's order.
                        if let ApiError::AlreadyExists { ids, .. } = &e {
                            board.set(s.seq, Claim::Elsewhere(parse_ids(ids)));
                        }
                        return Err(e);
                    }
                };
                if request.fields.disabled == Some(true) && *enabled {
                    site_slot(api, s, id, rep, opts, board, start).await?;
                    api.set_disabled(id, false).await?;
                }
                board.set(s.seq, Claim::Started);
                Ok(id)
            }
            StepKind::Enable {
                id,
                repos,
                integration,
                select,
            } => {
                if let (true, Some(sel)) = (*integration, select) {
                    select_repositories(api, *id, sel, opts, start).await?;
                }
                site_slot(api, s, *id, rep, opts, board, start).await?;
                for r in repos {
                    api.set_disabled(*r, false).await?;
                }
                if *integration {
                    api.set_disabled(*id, false).await?;
                }
                board.set(s.seq, Claim::Started);
                Ok(*id)
            }
            _ => unreachable!("only indexing steps run through the gate"),
        }
    }
    .await;
    let id = match r {
        Ok(id) => id,
        Err(e) => {
            let o = Outcome::Failed(error_chain(&e));
            done(rep, s, &o, start);
            return o;
        }
    };
    let o = wait_indexed(api, s, id, rep, opts, start).await;
    done(rep, s, &o, start);
    o
}

/// Waits for discovery, then disables the repositories the selector does not want.
async fn select_repositories<A: GijApi>(
    api: &A,
    id: u64,
    selector: &RepoSelector,
    opts: &ExecOptions,
    start: Instant,
) -> Result<(), ApiError> {
    loop {
        // The integration's state first, then the list: when the state says discovery is over,
        // a list read afterwards is complete. Read the other way round, a scan finishing
        // between the two reads left an empty list that looked final, nothing was disabled
        // and every repository was indexed.
        let integration = api.get_integration(id).await?;
        let repos = api.list_repositories(id).await?;
        let scanning = match integration {
            Some(i) => {
                i.indexing_state.as_deref().map(parse_state) == Some(IntegrationIndexing::Scanning)
                    || (i.indexing_state.is_none() && repos.is_empty())
            }
            None => false,
        };
        if !scanning {
            let m = selector
                .matcher()
                .map_err(|e| ApiError::Endpoint(format!("invalid repository pattern: {e}")))?;
            for r in repos
                .iter()
                .filter(|r| !r.disabled && !m.is_match(&r.display_name))
            {
                api.set_disabled(r.id, true).await?;
            }
            return Ok(());
        }
        if start.elapsed() > opts.indexing_timeout {
            return Err(ApiError::Endpoint(format!(
                "integration id {id} did not list its repositories within the indexing timeout"
            )));
        }
        tokio::time::sleep(opts.poll_interval).await;
    }
}

async fn wait_indexed<A: GijApi>(
    api: &A,
    s: &Step,
    id: u64,
    rep: &Reporter,
    opts: &ExecOptions,
    start: Instant,
) -> Outcome {
    let mut last_pct = -1.0;
    loop {
        match indexing_status(api, id).await {
            Ok(Some(st)) => {
                if (st.percent - last_pct).abs() >= 1.0 || st.state != IntegrationIndexing::Indexing
                {
                    last_pct = st.percent;
                    rep.emit(Event::Indexing {
                        step: s.step,
                        key: s.key.clone(),
                        id,
                        percent: st.percent,
                        state: format!("{:?}", st.state).to_ascii_uppercase(),
                    });
                }
                match st.state {
                    IntegrationIndexing::Indexed | IntegrationIndexing::Disabled => {
                        return Outcome::Succeeded(Some(id));
                    }
                    IntegrationIndexing::Error => {
                        return Outcome::Failed(format!(
                            "integration id {id} reported an indexing error"
                        ));
                    }
                    _ => {}
                }
            }
            Ok(None) => {
                return Outcome::Failed(format!("integration id {id} disappeared while indexing"));
            }
            Err(e) => return Outcome::Failed(error_chain(&e)),
        }
        if start.elapsed() > opts.indexing_timeout {
            return Outcome::TimedOut(id);
        }
        tokio::time::sleep(opts.poll_interval).await;
    }
}

/// Where each indexing step of this run stands, in plan order, for the site-wide count.
///
/// The count before an enable is the site's, not this run's: every integration the site shows
/// indexing (whoever started it), plus the steps *earlier in plan order* that are still to
/// start, wherever they run. Reading and then enabling cannot be atomic on a site without a
/// compare-and-set, so concurrent applies of one config would otherwise both see a free slot
/// and both take it. With the earlier steps counted, each run admits a step only when it is
/// among the first N of "indexing, then not yet started in plan order"; that set can only
/// shrink by an integration finishing (which frees the slot for the next in order), never
/// change under a run that read it, so two runs cannot both take the last slot. The plan order
/// is the same in every run of one config; integrations started by a person or by an apply
/// of another config or scope are only counted once the site shows them indexing (the window
/// ARCHITECTURE.md documents).
#[derive(Clone)]
struct Board(Arc<std::sync::Mutex<Vec<(u32, Claim)>>>);

/// Whether an indexing step will still start an integration's indexing.
#[derive(Clone, Debug, PartialEq)]
enum Claim {
    /// This run will start it.
    Waiting,
    /// This run sent the enable: from now on the site's answer counts it.
    Started,
    /// Another apply created it (these ids) and will start it.
    Elsewhere(Vec<u64>),
    /// It ended here, or will not start (skipped, failed).
    Dropped,
}

impl Board {
    fn new(indexing: &[Step]) -> Board {
        Board(Arc::new(std::sync::Mutex::new(
            indexing.iter().map(|s| (s.seq, Claim::Waiting)).collect(),
        )))
    }

    fn set(&self, seq: u32, c: Claim) {
        if let Some(e) = lock(&self.0).iter_mut().find(|(s, _)| *s == seq) {
            e.1 = c;
        }
    }

    /// The step ended: it no longer waits to start, unless another apply holds its integration.
    fn settle(&self, seq: u32) {
        if let Some(e) = lock(&self.0).iter_mut().find(|(s, _)| *s == seq)
            && !matches!(e.1, Claim::Elsewhere(_))
        {
            e.1 = Claim::Dropped;
        }
    }

    /// How many steps before `seq` in plan order will still start an integration that the
    /// site does not already show indexing (those are counted from the site), and the ids
    /// among them that another apply created (named when apply says what it waits for).
    fn earlier_waiting(&self, seq: u32, site: &crate::plan::live::LiveState) -> (usize, Vec<u64>) {
        let disabled = |id: &&u64| site.get(**id).is_some_and(|i| !i.settings.enabled);
        let (mut n, mut theirs) = (0, Vec::new());
        for (_, c) in lock(&self.0).iter().take_while(|(s, _)| *s != seq) {
            match c {
                Claim::Waiting => n += 1,
                Claim::Elsewhere(ids) => {
                    if let Some(id) = ids.iter().find(disabled) {
                        n += 1;
                        theirs.push(*id);
                    }
                }
                Claim::Started | Claim::Dropped => {}
            }
        }
        (n, theirs)
    }
}

fn parse_ids(ids: &str) -> Vec<u64> {
    ids.split(',')
        .filter_map(|i| i.trim().parse().ok())
        .collect()
}

/// Waits until the site has a slot for integration `id`: fewer than N integrations indexing
/// on the site (besides `id` itself) plus earlier steps still to start. Costs one
/// [`GijApi::read_indexing`] before each enable, and one per poll interval while the site is
/// full: one request with the `indexingState` extension, two on plain GIJ.
async fn site_slot<A: GijApi>(
    api: &A,
    s: &Step,
    id: u64,
    rep: &Reporter,
    opts: &ExecOptions,
    board: &Board,
    start: Instant,
) -> Result<(), ApiError> {
    let limit = opts.max_parallel_indexing.max(1);
    let mut told = false;
    loop {
        let raw = api.read_indexing().await?;
        let site = crate::plan::live::from_site(&raw);
        let (earlier, theirs) = board.earlier_waiting(s.seq, &site);
        let mut busy = 0;
        for i in &site.integrations {
            if i.id == id
                || !i.settings.enabled
                || !matches!(
                    i.indexing,
                    IntegrationIndexing::Indexing | IntegrationIndexing::Scanning
                )
            {
                continue;
            }
            // Only while the site looks full: an integration whose status was derived from a
            // list without `state` may be one whose repository failed (it then indexes
            // nothing more); GIJ's index.json tells.
            if busy + earlier + 1 >= limit
                && i.indexing == IntegrationIndexing::Indexing
                && let Some(r) = site_failure_probe(&raw, i.id)
                && failed(api, r).await?
            {
                continue;
            }
            busy += 1;
        }
        if busy + earlier < limit {
            return Ok(());
        }
        let theirs = if theirs.is_empty() {
            String::new()
        } else {
            let ids: Vec<String> = theirs.iter().map(|i| format!("#{i}")).collect();
            format!(
                ", of them {} created by another apply, which enables them",
                ids.join(", ")
            )
        };
        if !told {
            told = true;
            rep.emit(Event::Wait {
                reason: format!(
                    "step {} `{}`: the site has {busy} integrations indexing and {earlier} \
                     earlier steps to start{theirs} (limit {limit}); waiting for a slot",
                    s.step, s.key
                ),
            });
        }
        if start.elapsed() > opts.indexing_timeout {
            return Err(ApiError::Endpoint(format!(
                "no indexing slot freed on the site within the indexing timeout ({busy} \
                 integrations indexing, {earlier} earlier steps to start{theirs}; if that \
                 apply was stopped, the next apply enables them); run apply again"
            )));
        }
        tokio::time::sleep(opts.poll_interval).await;
    }
}

/// What a prepared creation hands to its gated step: the new integration's id (or why it
/// failed), and the look-ahead permit to release once the step has started.
type Ready =
    tokio::sync::oneshot::Receiver<(Result<u64, ApiError>, tokio::sync::OwnedSemaphorePermit)>;

/// Starts preparing the creations of `indexing` in plan order, at most N ahead of the gate.
fn prepare_ahead<A: GijApi + 'static>(
    api: &Arc<A>,
    indexing: &[Step],
    failed_keys: &BTreeSet<String>,
    opts: &ExecOptions,
    stop: &Arc<AtomicBool>,
) -> BTreeMap<u32, Ready> {
    let mut ready = BTreeMap::new();
    let mut jobs = Vec::new();
    for s in indexing {
        if failed_keys.contains(&s.key) {
            continue;
        }
        // Only a creation made disabled can be prepared ahead: an enabled one starts indexing
        // the moment it exists, so it must wait for its slot.
        if let StepKind::Create {
            request,
            repositories,
            ..
        } = &s.kind
            && request.fields.disabled == Some(true)
        {
            let (tx, rx) = tokio::sync::oneshot::channel();
            ready.insert(s.seq, rx);
            jobs.push((request.clone(), repositories.clone(), tx));
        }
    }
    let lookahead = Arc::new(Semaphore::new(opts.max_parallel_indexing.max(1)));
    let (api, opts, stop) = (api.clone(), opts.clone(), stop.clone());
    tokio::spawn(async move {
        for (request, repositories, tx) in jobs {
            let Ok(permit) = lookahead.clone().acquire_owned().await else {
                return;
            };
            if stop.load(Ordering::SeqCst) {
                return;
            }
            let (api, opts) = (api.clone(), opts.clone());
            tokio::spawn(async move {
                let r = prepare_create(&*api, &request, &repositories, &opts).await;
                let _ = tx.send((r, permit));
            });
        }
    });
    ready
}

/// Creates an integration and, when it is created disabled, waits for its repository scan and
/// disables the repositories the selector does not want. Starts no indexing.
async fn prepare_create<A: GijApi>(
    api: &A,
    request: &wire::IntegrationRequest,
    repositories: &RepoSelector,
    opts: &ExecOptions,
) -> Result<u64, ApiError> {
    let start = Instant::now();
    let created = api.create_integration(request).await?;
    let id = created.id.ok_or_else(|| ApiError::Decode {
        method: "POST".into(),
        url: "/rest/gitplugin/1.0/integration".into(),
        message: "the create answer has no integration id".into(),
    })?;
    // With every repository wanted there is nothing to narrow, so no need to wait for the scan.
    if request.fields.disabled == Some(true) && !repositories.selects_all() {
        select_repositories(api, id, repositories, opts, start).await?;
    }
    Ok(id)
}

/// Why a step did not run after an indexing timeout stopped apply.
fn stopped_message(kind: &StepKind) -> String {
    match kind {
        StepKind::Create { .. } => "apply stopped after an indexing timeout (if it was already \
             prepared, the integration exists disabled; the next apply enables it)"
            .into(),
        _ => "apply stopped after an indexing timeout".into(),
    }
}
