//! Executor tests against an in-memory fake site with a paused tokio clock: the gate's limits
//! and sliding window are checked on exact virtual times, with no sleeping.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::events::{Display, Reporter};
use super::executor::*;
use crate::api::{ApiError, GijApi, LiveSite, wire};
use crate::model::{OnTimeout, RepoSelector};

/// A fake site: each enabled integration indexes for `index_polls` polls of its status.
#[derive(Default)]
struct Fake {
    inner: Mutex<FakeInner>,
}

#[derive(Default)]
struct FakeInner {
    next_id: u64,
    /// id -> (disabled, polls left before indexed, started_at)
    integrations: BTreeMap<u64, (bool, u32)>,
    index_polls: u32,
    indexing_now: usize,
    peak: usize,
    fail_create_for: Option<String>,
    log: Vec<(tokio::time::Instant, String)>,
    /// An integration someone else started, in plain GIJ's shape (no `indexingState`: one
    /// repository without `lastIndexedDate`), indexing for this many more site reads.
    foreign_reads: Option<u32>,
    /// Creations, site reads and enables, in order.
    trail: Vec<(tokio::time::Instant, String)>,
}

impl FakeInner {
    fn recount(&mut self) {
        self.indexing_now = self
            .integrations
            .values()
            .filter(|(d, left)| !*d && *left > 0)
            .count();
        self.peak = self.peak.max(self.indexing_now);
    }
}

impl GijApi for Fake {
    async fn read_site(&self) -> Result<LiveSite, ApiError> {
        let mut g = self.inner.lock().unwrap();
        let Some(left) = g.foreign_reads else {
            return Ok(LiveSite::default());
        };
        g.foreign_reads = Some(left.saturating_sub(1));
        let now = tokio::time::Instant::now();
        g.trail.push((now, format!("read {left}")));
        let integration: wire::Integration = serde_json::from_value(serde_json::json!({
            "id": 900, "integrationType": "GITHUB", "group": "theirs", "disabled": false
        }))
        .unwrap();
        let repository: wire::SiteRepository = serde_json::from_value(serde_json::json!({
            "id": 901, "displayName": "r", "trackedFolderId": 900, "disabled": false
        }))
        .unwrap();
        let done = (left == 0).then_some(1_i64);
        Ok(LiveSite {
            server: Default::default(),
            projects: vec![],
            integrations: vec![integration],
            repositories: vec![wire::SiteRepository {
                last_indexed_date: done,
                ..repository
            }],
        })
    }
    async fn get_integration(&self, id: u64) -> Result<Option<wire::Integration>, ApiError> {
        let mut g = self.inner.lock().unwrap();
        let Some(&(disabled, left)) = g.integrations.get(&id) else {
            return Ok(None);
        };
        let state = if disabled {
            "DISABLED"
        } else if left == 0 {
            "INDEXED"
        } else {
            "INDEXING"
        };
        if !disabled && left > 0 {
            g.integrations.get_mut(&id).unwrap().1 -= 1;
        }
        g.recount();
        Ok(Some(wire::Integration {
            id: Some(id),
            indexing_state: Some(state.into()),
            ..Default::default()
        }))
    }
    async fn list_repositories(&self, _id: u64) -> Result<Vec<wire::Repository>, ApiError> {
        Ok(vec![])
    }
    async fn create_integration(
        &self,
        r: &wire::IntegrationRequest,
    ) -> Result<wire::Integration, ApiError> {
        let mut g = self.inner.lock().unwrap();
        if g.fail_create_for.as_deref() == r.fields.display_name.as_deref() {
            return Err(ApiError::Status {
                method: "POST".into(),
                url: "/x".into(),
                status: 422,
                message: "bad".into(),
            });
        }
        g.next_id += 1;
        let id = g.next_id;
        let polls = g.index_polls;
        g.integrations
            .insert(id, (r.fields.disabled == Some(true), polls));
        let now = tokio::time::Instant::now();
        let what = format!(
            "create {}",
            r.fields.display_name.clone().unwrap_or_default()
        );
        g.trail.push((now, what.clone()));
        g.log.push((now, what));
        g.recount();
        Ok(wire::Integration {
            id: Some(id),
            ..Default::default()
        })
    }
    async fn update_integration(
        &self,
        id: u64,
        _r: &wire::IntegrationRequest,
    ) -> Result<wire::Integration, ApiError> {
        Ok(wire::Integration {
            id: Some(id),
            ..Default::default()
        })
    }
    async fn delete_integration(&self, id: u64) -> Result<(), ApiError> {
        self.inner.lock().unwrap().integrations.remove(&id);
        Ok(())
    }
    async fn set_disabled(&self, id: u64, disabled: bool) -> Result<(), ApiError> {
        let mut g = self.inner.lock().unwrap();
        if let Some(e) = g.integrations.get_mut(&id) {
            e.0 = disabled;
        }
        if !disabled {
            let now = tokio::time::Instant::now();
            g.trail.push((now, format!("enable {id}")));
        }
        g.recount();
        Ok(())
    }
}

fn create(step: u32, name: &str) -> Step {
    Step {
        seq: step,
        step,
        key: name.into(),
        kind: StepKind::Create {
            request: Box::new(wire::IntegrationRequest {
                fields: wire::Integration {
                    display_name: Some(name.into()),
                    ..Default::default()
                },
                ..Default::default()
            }),
            repositories: RepoSelector::default(),
            enabled: true,
        },
    }
}

fn opts(n: usize) -> ExecOptions {
    ExecOptions {
        max_parallel_indexing: n,
        poll_interval: Duration::from_secs(1),
        indexing_timeout: Duration::from_secs(3600),
        on_timeout: OnTimeout::Stop,
        settings_concurrency: 4,
    }
}

fn reporter() -> Arc<Reporter> {
    Arc::new(Reporter::new(Display::Silent, None))
}

#[tokio::test(start_paused = true)]
async fn gate_never_exceeds_the_limit_and_slides() {
    let fake = Arc::new(Fake::default());
    fake.inner.lock().unwrap().index_polls = 5;
    let steps = (1..=20).map(|i| create(i, &format!("i{i:02}"))).collect();
    let report = execute(fake.clone(), steps, vec![], opts(2), reporter()).await;
    let g = fake.inner.lock().unwrap();
    assert_eq!(report.counts(), (20, 0, 0));
    assert_eq!(g.peak, 2, "never more than 2 indexing at once");
    // Sliding window: creations happen in plan order, and 20 creations with 2 slots and equal
    // durations take 10 rounds, not 20.
    let names: Vec<_> = g.log.iter().map(|(_, n)| n.clone()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    let first = g.log.first().unwrap().0;
    let last = g.log.last().unwrap().0;
    assert!(
        last - first <= Duration::from_secs(10 * 6),
        "took {:?}",
        last - first
    );
}

#[tokio::test(start_paused = true)]
async fn already_indexing_integrations_hold_slots() {
    let fake = Arc::new(Fake::default());
    {
        let mut g = fake.inner.lock().unwrap();
        g.index_polls = 3;
        g.integrations.insert(100, (false, 50));
        g.integrations.insert(101, (false, 50));
        g.next_id = 200;
    }
    let steps = vec![create(1, "a")];
    let report = execute(fake.clone(), steps, vec![100, 101], opts(2), reporter()).await;
    let g = fake.inner.lock().unwrap();
    assert_eq!(report.counts(), (1, 0, 0));
    assert!(g.peak <= 2, "peak {}", g.peak);
}

#[tokio::test(start_paused = true)]
async fn a_failure_does_not_stop_independent_steps() {
    let fake = Arc::new(Fake::default());
    {
        let mut g = fake.inner.lock().unwrap();
        g.index_polls = 1;
        g.fail_create_for = Some("b".into());
    }
    let steps = vec![create(1, "a"), create(2, "b"), create(3, "c")];
    let report = execute(fake.clone(), steps, vec![], opts(1), reporter()).await;
    assert_eq!(report.counts(), (2, 1, 0));
    assert!(matches!(report.outcomes[&2].1, Outcome::Failed(_)));
}

#[tokio::test(start_paused = true)]
async fn a_timeout_stops_new_work_by_default() {
    let fake = Arc::new(Fake::default());
    fake.inner.lock().unwrap().index_polls = 1000;
    let mut o = opts(1);
    o.indexing_timeout = Duration::from_secs(30);
    let steps = vec![create(1, "a"), create(2, "b")];
    let report = execute(fake.clone(), steps, vec![], o.clone(), reporter()).await;
    assert!(report.stopped_on_timeout);
    assert!(matches!(report.outcomes[&1].1, Outcome::TimedOut(_)));
    assert!(matches!(report.outcomes[&2].1, Outcome::NotAttempted(_)));

    let fake = Arc::new(Fake::default());
    fake.inner.lock().unwrap().index_polls = 1000;
    o.on_timeout = OnTimeout::Continue;
    let steps = vec![create(1, "a"), create(2, "b")];
    let report = execute(fake, steps, vec![], o, reporter()).await;
    assert!(!report.stopped_on_timeout);
    assert!(matches!(report.outcomes[&2].1, Outcome::TimedOut(_)));
}

/// A site whose discovery scan of integration 7 ends on the second request the executor makes:
/// before it the integration is `SCANNING` with no repositories, from then on `DISABLED` with
/// two. Found by the fault soak: a latency spike or a retried read between the repository list
/// and the state read made the empty list look final.
#[derive(Default)]
struct ScanRace {
    inner: Mutex<ScanRaceInner>,
}

#[derive(Default)]
struct ScanRaceInner {
    calls: u32,
    disabled_repos: Vec<u64>,
    enabled: bool,
}

impl ScanRace {
    fn tick(&self) -> bool {
        let mut g = self.inner.lock().unwrap();
        g.calls += 1;
        g.calls >= 2
    }
}

impl GijApi for ScanRace {
    async fn read_site(&self) -> Result<LiveSite, ApiError> {
        Ok(LiveSite::default())
    }
    async fn get_integration(&self, id: u64) -> Result<Option<wire::Integration>, ApiError> {
        let scanned = self.tick();
        let g = self.inner.lock().unwrap();
        let state = match (scanned, g.enabled) {
            (false, _) => "SCANNING",
            (true, false) => "DISABLED",
            (true, true) => "INDEXED",
        };
        Ok(Some(wire::Integration {
            id: Some(id),
            indexing_state: Some(state.into()),
            ..Default::default()
        }))
    }
    async fn list_repositories(&self, id: u64) -> Result<Vec<wire::Repository>, ApiError> {
        if !self.tick() {
            return Ok(vec![]);
        }
        let g = self.inner.lock().unwrap();
        Ok([(8, "api"), (9, "legacy")]
            .into_iter()
            .map(|(rid, name)| wire::Repository {
                id: rid,
                display_name: name.into(),
                disabled: g.disabled_repos.contains(&rid),
                tracked_folder_id: Some(id),
                state: Some("UPDATED".into()),
                ..Default::default()
            })
            .collect())
    }
    async fn create_integration(
        &self,
        _r: &wire::IntegrationRequest,
    ) -> Result<wire::Integration, ApiError> {
        Ok(wire::Integration {
            id: Some(7),
            ..Default::default()
        })
    }
    async fn update_integration(
        &self,
        id: u64,
        _r: &wire::IntegrationRequest,
    ) -> Result<wire::Integration, ApiError> {
        Ok(wire::Integration {
            id: Some(id),
            ..Default::default()
        })
    }
    async fn delete_integration(&self, _id: u64) -> Result<(), ApiError> {
        Ok(())
    }
    async fn set_disabled(&self, id: u64, disabled: bool) -> Result<(), ApiError> {
        let mut g = self.inner.lock().unwrap();
        if id == 7 {
            g.enabled = !disabled;
        } else if disabled {
            g.disabled_repos.push(id);
        }
        Ok(())
    }
}

/// A creation made disabled that keeps every repository but `legacy`, enabled afterwards or not.
fn create_without_legacy(enable: bool) -> Step {
    let mut step = create(1, "a");
    if let StepKind::Create {
        request,
        repositories,
        enabled,
    } = &mut step.kind
    {
        request.fields.disabled = Some(true);
        *repositories = RepoSelector {
            include: vec!["*".into()],
            exclude: vec!["legacy".into()],
        };
        *enabled = enable;
    }
    step
}

#[tokio::test(start_paused = true)]
async fn a_scan_ending_between_reads_still_selects_repositories() {
    let fake = Arc::new(ScanRace::default());
    let step = create_without_legacy(true);
    let report = execute(fake.clone(), vec![step], vec![], opts(1), reporter()).await;
    assert_eq!(report.counts(), (1, 0, 0));
    let g = fake.inner.lock().unwrap();
    assert_eq!(
        g.disabled_repos,
        [9],
        "legacy must be disabled before enabling"
    );
    assert!(g.enabled);
}

#[tokio::test(start_paused = true)]
async fn a_disabled_create_still_selects_repositories() {
    let fake = Arc::new(ScanRace::default());
    let step = create_without_legacy(false);
    let report = execute(fake.clone(), vec![step], vec![], opts(1), reporter()).await;
    assert_eq!(report.counts(), (1, 0, 0));
    let g = fake.inner.lock().unwrap();
    assert_eq!(g.disabled_repos, [9], "legacy must be disabled on the site");
    assert!(!g.enabled, "a disabled create stays disabled");
}

#[tokio::test(start_paused = true)]
async fn disabled_creations_are_prepared_ahead_without_exceeding_the_gate() {
    let fake = Arc::new(Fake::default());
    fake.inner.lock().unwrap().index_polls = 5;
    let steps: Vec<Step> = (1..=6)
        .map(|i| {
            let mut s = create(i, &format!("p{i}"));
            if let StepKind::Create { request, .. } = &mut s.kind {
                request.fields.disabled = Some(true);
            }
            s
        })
        .collect();
    let report = execute(fake.clone(), steps, vec![], opts(2), reporter()).await;
    let g = fake.inner.lock().unwrap();
    assert_eq!(report.counts(), (6, 0, 0));
    assert_eq!(
        g.peak, 2,
        "prepared (disabled) integrations must not count as indexing"
    );
    // Creations happen in plan order, and ahead of their slots: the third is created before
    // the first pair has finished indexing (5 polls at 1 s).
    let names: Vec<_> = g.log.iter().map(|(_, n)| n.clone()).collect();
    assert_eq!(
        names,
        [
            "create p1",
            "create p2",
            "create p3",
            "create p4",
            "create p5",
            "create p6"
        ]
    );
    let first = g.log[0].0;
    assert!(
        g.log[2].0 - first < Duration::from_secs(5),
        "p3 was not prepared ahead"
    );
    assert!(
        g.integrations
            .values()
            .all(|(disabled, left)| !disabled && *left == 0)
    );
}

/// The fake site, except that updating integration `update_panics` or creating the integration
/// named `create_panics` panics inside the executor's worker task.
struct Panicky {
    fake: Fake,
    update_panics: u64,
    create_panics: &'static str,
}

impl GijApi for Panicky {
    async fn read_site(&self) -> Result<LiveSite, ApiError> {
        self.fake.read_site().await
    }
    async fn get_integration(&self, id: u64) -> Result<Option<wire::Integration>, ApiError> {
        self.fake.get_integration(id).await
    }
    async fn list_repositories(&self, id: u64) -> Result<Vec<wire::Repository>, ApiError> {
        self.fake.list_repositories(id).await
    }
    async fn create_integration(
        &self,
        r: &wire::IntegrationRequest,
    ) -> Result<wire::Integration, ApiError> {
        if r.fields.display_name.as_deref() == Some(self.create_panics) {
            panic!("secret-looking payload");
        }
        self.fake.create_integration(r).await
    }
    async fn update_integration(
        &self,
        id: u64,
        r: &wire::IntegrationRequest,
    ) -> Result<wire::Integration, ApiError> {
        if id == self.update_panics {
            panic!("secret-looking payload");
        }
        self.fake.update_integration(id, r).await
    }
    async fn delete_integration(&self, id: u64) -> Result<(), ApiError> {
        self.fake.delete_integration(id).await
    }
    async fn set_disabled(&self, id: u64, disabled: bool) -> Result<(), ApiError> {
        self.fake.set_disabled(id, disabled).await
    }
}

fn update(seq: u32, key: &str, id: u64) -> Step {
    Step {
        seq,
        step: seq,
        key: key.into(),
        kind: StepKind::Update {
            id,
            request: Box::default(),
        },
    }
}

#[tokio::test(start_paused = true)]
async fn a_panicked_worker_fails_its_step_and_skips_the_rest_of_its_integration() {
    let api = Arc::new(Panicky {
        fake: Fake::default(),
        update_panics: 5,
        create_panics: "c",
    });
    api.fake.inner.lock().unwrap().index_polls = 1;
    let disable_after = Step {
        seq: 2,
        step: 2,
        key: "a".into(),
        kind: StepKind::Disable {
            id: 5,
            repos: vec![],
            integration: true,
        },
    };
    let steps = vec![
        update(1, "a", 5),
        disable_after,
        update(3, "b", 6),
        create(4, "c"),
        create(5, "d"),
    ];
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Shared(events.clone());
    let rep = Arc::new(Reporter::new(Display::Silent, Some(Box::new(sink))));
    let report = execute(api, steps, vec![], opts(2), rep.clone()).await;
    drop(rep);
    // Every step ends with exactly one outcome: the two panicked ones failed, the step after
    // the panicked one of `a` not attempted, the others done.
    assert_eq!(report.outcomes.len(), 5);
    assert_eq!(report.counts(), (2, 2, 1));
    for seq in [1, 4] {
        let Outcome::Failed(m) = &report.outcomes[&seq].1 else {
            panic!("step {seq}: {:?}", report.outcomes[&seq]);
        };
        assert!(m.contains("panicked"), "{m}");
        assert!(!m.contains("secret-looking"), "{m}");
    }
    assert!(matches!(report.outcomes[&2].1, Outcome::NotAttempted(_)));
    assert_eq!(report.outcomes[&3].1, Outcome::Succeeded(Some(6)));
    assert!(matches!(report.outcomes[&5].1, Outcome::Succeeded(Some(_))));
    // The events say so too, one `action_done` per step, and never the payload.
    let text = String::from_utf8(events.lock().unwrap().clone()).unwrap();
    assert!(!text.contains("secret-looking"));
    let done: Vec<(u64, String)> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["type"] == "action_done")
        .map(|v| {
            (
                v["step"].as_u64().unwrap(),
                v["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut done = done;
    done.sort();
    let want: Vec<(u64, String)> = [
        (1, "failed"),
        (2, "skipped"),
        (3, "succeeded"),
        (4, "failed"),
        (5, "succeeded"),
    ]
    .iter()
    .map(|(s, o)| (*s, (*o).to_owned()))
    .collect();
    assert_eq!(done, want);
}

/// An event sink the test can read back.
struct Shared(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn prepared_create(step: u32, name: &str) -> Step {
    let mut s = create(step, name);
    if let StepKind::Create { request, .. } = &mut s.kind {
        request.fields.disabled = Some(true);
    }
    s
}

#[tokio::test(start_paused = true)]
async fn an_integration_someone_else_started_holds_a_slot_on_plain_gij() {
    // Nobody told apply about integration 900 at start; the site shows it indexing (plain
    // GIJ: a repository without `lastIndexedDate`) until the third read. With one slot, the
    // creation is made and prepared at once but enabled only after the site's slot frees.
    let fake = Arc::new(Fake::default());
    {
        let mut g = fake.inner.lock().unwrap();
        g.index_polls = 1;
        g.foreign_reads = Some(2);
    }
    let report = execute(
        fake.clone(),
        vec![prepared_create(1, "a")],
        vec![],
        opts(1),
        reporter(),
    )
    .await;
    assert_eq!(report.counts(), (1, 0, 0));
    let g = fake.inner.lock().unwrap();
    let trail: Vec<&str> = g.trail.iter().map(|(_, l)| l.as_str()).collect();
    assert_eq!(
        trail,
        ["create a", "read 2", "read 1", "read 0", "enable 1"]
    );
    // The two reads that found the site full were a poll interval apart each.
    assert_eq!(g.trail[4].0 - g.trail[1].0, Duration::from_secs(2));
}
