//! The in-memory site: Jira projects, the git-service catalog, integrations and repositories in
//! one id space, plus the virtual clock that drives indexing.
//!
//! Nothing ticks in the background. Every request first calls [`SiteState::settle`] with the
//! virtual time, which completes discovery scans and indexing jobs whose time has come; reads
//! then derive progress from the same time. The state serialises to JSON for `--state`, written
//! atomically (temp file + rename) so a crash never leaves half a file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::DevServerError;
use super::catalog::Catalog;
use crate::api::wire;

/// Version of the state-file format.
pub const STATE_VERSION: u32 = 1;

/// Virtual time: `origin + real_elapsed * scale + manual advances`, in epoch milliseconds.
///
/// A scale of 0 freezes time so tests move it explicitly with [`VirtualClock::advance`];
/// any scale can be combined with advances.
#[derive(Debug)]
pub struct VirtualClock {
    origin_ms: i64,
    start: Instant,
    scale: f64,
    offset_ms: AtomicI64,
}

/// Wall-clock epoch milliseconds.
pub fn real_epoch_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl VirtualClock {
    /// Starts a clock at `origin_ms` running `scale` times faster than real time.
    pub fn new(origin_ms: i64, scale: f64) -> VirtualClock {
        VirtualClock {
            origin_ms,
            start: Instant::now(),
            scale: if scale.is_finite() && scale > 0.0 {
                scale
            } else {
                0.0
            },
            offset_ms: AtomicI64::new(0),
        }
    }

    /// The current virtual time in epoch milliseconds.
    pub fn now_ms(&self) -> i64 {
        let elapsed = self.start.elapsed().as_secs_f64() * 1000.0 * self.scale;
        self.origin_ms + elapsed as i64 + self.offset_ms.load(Ordering::SeqCst)
    }

    /// Moves virtual time forward.
    pub fn advance(&self, d: Duration) {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4);
        self.offset_ms.fetch_add(ms, Ordering::SeqCst);
    }

    /// The time scale (0 = frozen).
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// How long a client really has to wait for `virtual_ms` to pass. With a frozen clock the
    /// virtual duration is returned unchanged (a test advances the clock instead).
    pub fn real_ms_for(&self, virtual_ms: u64) -> u64 {
        if self.scale > 0.0 {
            (virtual_ms as f64 / self.scale).ceil() as u64
        } else {
            virtual_ms
        }
    }
}

/// A Jira project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectRec {
    /// Numeric id.
    pub id: u64,
    /// Key, e.g. `OPS`.
    pub key: String,
    /// Name.
    pub name: String,
}

/// An integration as the site stores it (credentials only as a hash).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationRec {
    /// Id (shared space with repositories).
    pub id: u64,
    /// GIJ type, e.g. `GITHUB`.
    pub integration_type: String,
    /// Normalised origin.
    pub origin: String,
    /// Owner the integration connects; `None` means every group the credential sees.
    pub group: Option<String>,
    /// `PAT` or `OAUTH`.
    pub auth_method: String,
    /// SHA-256 of the PAT or password; `None` for OAuth.
    pub credential_sha256: Option<String>,
    /// Username sent with the credential (Gerrit, AWS access key id).
    pub username: Option<String>,
    /// Settings as GIJ reports them (display name, features, project mapping, ...); identity,
    /// status and credential fields are never stored here.
    pub settings: wire::Integration,
    /// Whether the integration is disabled.
    pub disabled: bool,
    /// Creation time (epoch ms).
    pub init_date: i64,
    /// When the pending discovery scan completes; `None` when no scan is pending.
    pub scan_done_ms: Option<i64>,
}

/// A running or queued indexing job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    /// Virtual start (epoch ms); before it the repository is `QUEUED`.
    pub start_ms: i64,
    /// Virtual end (epoch ms).
    pub end_ms: i64,
}

/// A repository inside an integration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RepoRec {
    /// Id (shared space with integrations).
    pub id: u64,
    /// Parent integration (`trackedFolderId`).
    pub integration_id: u64,
    /// Owner.
    pub group: String,
    /// Name.
    pub name: String,
    /// Commits, which set how long indexing takes.
    pub commits: u64,
    /// Default branch.
    pub main_branch: String,
    /// Catalog flag: indexing fails.
    #[serde(default)]
    pub fail_indexing: bool,
    /// Whether the repository is disabled.
    pub disabled: bool,
    /// When the site discovered it.
    pub init_date: i64,
    /// When its last indexing finished successfully.
    pub last_indexed_date: Option<i64>,
    /// Whether its last indexing failed.
    #[serde(default)]
    pub failed: bool,
    /// Pending or running indexing.
    pub job: Option<Job>,
    /// Settings set on the repository itself (GIJ's repository update, by wire name) over its
    /// integration's; for a standalone repository (`integration_id` 0, GIJ's Add New
    /// Repository) also its `origin`, `realRoot` and `absoluteRoot`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub overrides: BTreeMap<String, serde_json::Value>,
}

/// One repository's indexing, kept for the peak-concurrency statistic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexInterval {
    /// Integration the repository belongs to.
    pub integration_id: u64,
    /// Repository.
    pub repo_id: u64,
    /// Start (virtual epoch ms).
    pub start_ms: i64,
    /// End, or the cancellation time.
    pub end_ms: i64,
}

/// Jira's self-description. Like a real Jira's, it is configuration (Jira's base URL and
/// application title are admin settings), not the address the server happens to listen on, so
/// a site saved and reloaded, or served on another port, is still the same site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServerRec {
    /// Jira's configured base URL.
    #[serde(default = "ServerRec::default_base_url")]
    pub base_url: String,
    /// The application title.
    #[serde(default = "ServerRec::default_title")]
    pub server_title: String,
}

impl ServerRec {
    fn default_base_url() -> String {
        "http://localhost:2990/jira".into()
    }
    fn default_title() -> String {
        "gijctl dev-server".into()
    }
}

impl Default for ServerRec {
    fn default() -> Self {
        ServerRec {
            base_url: Self::default_base_url(),
            server_title: Self::default_title(),
        }
    }
}

/// The whole site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SiteState {
    /// State-file format version.
    pub version: u32,
    /// The next id for an integration or repository.
    pub next_id: u64,
    /// Virtual time when the state was captured (restored on load so jobs continue).
    pub virtual_now_ms: i64,
    /// Virtual seconds a discovery scan takes.
    pub scan_ms: i64,
    /// Indexing speed in commits per virtual second.
    pub commits_per_sec: f64,
    /// What `GET /rest/api/2/serverInfo` reports.
    #[serde(default)]
    pub server: ServerRec,
    /// Jira projects.
    pub projects: Vec<ProjectRec>,
    /// Git-service catalog.
    pub catalog: Catalog,
    /// Integrations by id.
    pub integrations: BTreeMap<u64, IntegrationRec>,
    /// Repositories by id.
    pub repositories: BTreeMap<u64, RepoRec>,
    /// Indexing intervals, for statistics.
    #[serde(default)]
    pub indexing_log: Vec<IndexInterval>,
    /// The git-service API budget left per credential (by SHA-256), for credentials whose
    /// catalog entry sets `requestsPerHour`.
    #[serde(default)]
    pub git_budgets: BTreeMap<String, GitBudget>,
    /// Repository ids per integration, derived from `repositories` (never saved): makes
    /// [`SiteState::repos_of`] cost the integration's repositories, not the whole site's, which
    /// seeding and listing 10,000 integrations need. Change `repositories` only through
    /// [`SiteState::insert_repo`] and [`SiteState::remove_repo`] so it stays exact.
    #[serde(skip)]
    repo_index: RepoIndex,
    /// Repository ids in ascending order, derived from `repositories` (never saved): a list
    /// page starting at position `start` is a slice of it instead of a walk past `start`
    /// entries of the map, which made reading 200,000 repositories in pages quadratic.
    #[serde(skip)]
    repo_order: RepoOrder,
    /// Every scheduled indexing job as (end, repository id), derived (never saved): settling
    /// pops the jobs that are due instead of walking every repository on every request. May
    /// hold stale entries (cancelled or removed jobs); [`SiteState::take_due_jobs`] checks each
    /// against the repository, so only a missing entry could be wrong, and every job is set
    /// through [`SiteState::track_job`].
    #[serde(skip)]
    job_deadlines: JobDeadlines,
    /// Pending discovery-scan ends, (end, integration id), for the same reason: settling walked
    /// all 10,000 integrations of a large site on every request (a quarter of the dev-server's
    /// time serving a plan). Every scan is set through [`SiteState::track_scan`].
    #[serde(skip)]
    scan_deadlines: JobDeadlines,
}

/// A git-service credential's API budget: a token bucket refilled in virtual time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GitBudget {
    /// Requests left at `at_ms`.
    pub requests: f64,
    /// When `requests` was computed (virtual ms).
    pub at_ms: i64,
}

/// Sorted repository ids (see `SiteState::repo_order`).
#[derive(Debug, Clone, Default)]
struct RepoOrder(Vec<u64>);

/// Pending job or scan ends (see `SiteState::job_deadlines`, `SiteState::scan_deadlines`).
#[derive(Debug, Clone, Default)]
struct JobDeadlines(BTreeSet<(i64, u64)>);

/// Derived from `repositories`, like [`RepoIndex`].
impl PartialEq for RepoOrder {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// Derived from `repositories`, like [`RepoIndex`].
impl PartialEq for JobDeadlines {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// Repository ids per integration id (see [`SiteState::repos_of`]).
#[derive(Debug, Clone, Default)]
struct RepoIndex(BTreeMap<u64, BTreeSet<u64>>);

/// The index is derived from `repositories`: two sites with equal repositories have equal
/// indexes, so comparing it would only repeat that comparison.
impl PartialEq for RepoIndex {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl SiteState {
    /// An empty site.
    pub fn empty(scan_ms: i64, commits_per_sec: f64) -> SiteState {
        SiteState {
            version: STATE_VERSION,
            next_id: 1,
            virtual_now_ms: 0,
            scan_ms,
            commits_per_sec,
            server: ServerRec::default(),
            projects: Vec::new(),
            catalog: Catalog::default(),
            integrations: BTreeMap::new(),
            repositories: BTreeMap::new(),
            indexing_log: Vec::new(),
            git_budgets: BTreeMap::new(),
            repo_index: RepoIndex::default(),
            repo_order: RepoOrder::default(),
            job_deadlines: JobDeadlines::default(),
            scan_deadlines: JobDeadlines::default(),
        }
    }

    /// Adds (or replaces) a repository, keeping the per-integration index exact.
    pub fn insert_repo(&mut self, r: RepoRec) {
        if let Some(old) = self.repositories.get(&r.id)
            && old.integration_id != r.integration_id
            && let Some(set) = self.repo_index.0.get_mut(&old.integration_id)
        {
            set.remove(&r.id);
        }
        self.repo_index
            .0
            .entry(r.integration_id)
            .or_default()
            .insert(r.id);
        let order = &mut self.repo_order.0;
        if order.last().is_none_or(|last| *last < r.id) {
            // Ids are allocated in ascending order: the usual insert is an append.
            order.push(r.id);
        } else if let Err(pos) = order.binary_search(&r.id) {
            order.insert(pos, r.id);
        }
        if let Some(j) = r.job {
            self.job_deadlines.0.insert((j.end_ms, r.id));
        }
        self.repositories.insert(r.id, r);
    }

    /// Records a job just given to a repository (`r.job = Some(job)`), so that settling finds
    /// it when it is due. Every place that schedules a job calls this.
    pub fn track_job(&mut self, repo_id: u64, job: Job) {
        self.job_deadlines.0.insert((job.end_ms, repo_id));
    }

    /// Records a discovery scan just given to an integration (`i.scan_done_ms = Some(end)`),
    /// so that settling finds it when it is due. Every place that starts a scan calls this.
    pub fn track_scan(&mut self, integration_id: u64, end_ms: i64) {
        self.scan_deadlines.0.insert((end_ms, integration_id));
    }

    /// Removes and returns the scans that end at or before `now` as (end, integration id), in
    /// that order; stale entries (integrations deleted or rescanned since) are dropped.
    pub fn take_due_scans(&mut self, now: i64) -> Vec<(i64, u64)> {
        let mut due = Vec::new();
        while let Some(&(end, id)) = self.scan_deadlines.0.first() {
            if end > now {
                break;
            }
            self.scan_deadlines.0.pop_first();
            if self
                .integrations
                .get(&id)
                .is_some_and(|i| i.scan_done_ms == Some(end))
            {
                due.push((end, id));
            }
        }
        due
    }

    /// Removes and returns the ids of repositories whose job ends at or before `now`, in
    /// (end, id) order; stale entries (jobs cancelled or rescheduled since) are dropped.
    pub fn take_due_jobs(&mut self, now: i64) -> Vec<u64> {
        let mut due = Vec::new();
        while let Some(&(end, id)) = self.job_deadlines.0.first() {
            if end > now {
                break;
            }
            self.job_deadlines.0.pop_first();
            if self
                .repositories
                .get(&id)
                .and_then(|r| r.job)
                .is_some_and(|j| j.end_ms == end)
            {
                due.push(id);
            }
        }
        due
    }

    /// The repositories at positions `start..start + take` in id order (a list page).
    pub fn repos_page(&self, start: usize, take: usize) -> impl Iterator<Item = &RepoRec> {
        let order = &self.repo_order.0;
        let from = start.min(order.len());
        let to = from.saturating_add(take).min(order.len());
        order[from..to]
            .iter()
            .filter_map(|id| self.repositories.get(id))
    }

    /// Removes a repository, keeping the per-integration index exact.
    pub fn remove_repo(&mut self, id: u64) -> Option<RepoRec> {
        let r = self.repositories.remove(&id)?;
        if let Ok(pos) = self.repo_order.0.binary_search(&id) {
            self.repo_order.0.remove(pos);
        }
        if let Some(set) = self.repo_index.0.get_mut(&r.integration_id) {
            set.remove(&id);
            if set.is_empty() {
                self.repo_index.0.remove(&r.integration_id);
            }
        }
        Some(r)
    }

    /// Removes every repository of an integration.
    pub fn remove_repos_of(&mut self, integration_id: u64) {
        if let Some(ids) = self.repo_index.0.remove(&integration_id) {
            for id in &ids {
                self.repositories.remove(id);
            }
            self.repo_order.0.retain(|id| !ids.contains(id));
        }
    }

    /// Rebuilds the per-integration index from `repositories` (after loading a state file).
    fn rebuild_repo_index(&mut self) {
        let mut idx: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new();
        for r in self.repositories.values() {
            idx.entry(r.integration_id).or_default().insert(r.id);
        }
        self.repo_index = RepoIndex(idx);
        self.repo_order = RepoOrder(self.repositories.keys().copied().collect());
        self.job_deadlines = JobDeadlines(
            self.repositories
                .values()
                .filter_map(|r| r.job.map(|j| (j.end_ms, r.id)))
                .collect(),
        );
        self.scan_deadlines = JobDeadlines(
            self.integrations
                .values()
                .filter_map(|i| i.scan_done_ms.map(|t| (t, i.id)))
                .collect(),
        );
    }

    /// Takes the next id of the shared integration/repository id space.
    pub fn alloc_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Loads a state file.
    pub fn load(path: &Path) -> Result<SiteState, DevServerError> {
        let text = fs_err::read_to_string(path).map_err(|source| DevServerError::Io {
            what: format!("reading state file {}", path.display()),
            source,
        })?;
        let mut s: SiteState =
            serde_json::from_str(&text).map_err(|source| DevServerError::Json {
                what: format!("state file {}", path.display()),
                source,
            })?;
        if s.version != STATE_VERSION {
            return Err(DevServerError::Invalid(format!(
                "state file {} has version {}, expected {STATE_VERSION}",
                path.display(),
                s.version
            )));
        }
        s.catalog.normalise();
        s.rebuild_repo_index();
        Ok(s)
    }

    /// Writes the state atomically: a temp file in the same directory, then a rename.
    pub fn save(&self, path: &Path) -> Result<(), DevServerError> {
        let io = |what: &str, source: std::io::Error| DevServerError::Io {
            what: format!("{what} {}", path.display()),
            source,
        };
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        let json = serde_json::to_vec_pretty(self).map_err(|source| DevServerError::Json {
            what: "serialising state".to_owned(),
            source,
        })?;
        let mut tmp =
            tempfile::NamedTempFile::new_in(&dir).map_err(|e| io("creating temp file for", e))?;
        std::io::Write::write_all(&mut tmp, &json).map_err(|e| io("writing", e))?;
        tmp.as_file().sync_all().map_err(|e| io("syncing", e))?;
        tmp.persist(path)
            .map_err(|e| io("renaming temp file onto", e.error))?;
        Ok(())
    }

    /// The projects' ids, for validating `projectMappingIds`.
    pub fn project_exists(&self, id: u64) -> bool {
        self.projects.iter().any(|p| p.id == id)
    }

    /// Repositories of one integration, in id order.
    pub fn repos_of(&self, integration_id: u64) -> impl Iterator<Item = &RepoRec> {
        self.repo_index
            .0
            .get(&integration_id)
            .into_iter()
            .flatten()
            .filter_map(|id| self.repositories.get(id))
    }
}

/// GIJ's defaults for a new integration's settings (`Add New Integration` javadoc).
pub fn default_settings() -> wire::Integration {
    wire::Integration {
        send_commit_emails: Some(false),
        max_mins_to_commit_email: Some(1440),
        global: Some(true),
        project_mapping_ids: Some(Vec::new()),
        revision_indexing: Some(true),
        git_viewer_enabled: Some(true),
        disable_ssl_verification: Some(false),
        smart_commits_enabled: Some(true),
        tags_filter: Some(String::new()),
        show_all_tags: Some(true),
        require_user_pat: Some(false),
        sources_diff_view_enabled: Some(true),
        ref_spec_notes: Some(true),
        ref_spec_changes: Some(false),
        ref_spec_custom: Some(String::new()),
        api_path: Some(String::new()),
        api_filter: Some(String::new()),
        trust_folder_stat: Some(false),
        pr_hide_filter: Some(String::new()),
        ..wire::Integration::default()
    }
}

/// Removes what is not a stored setting: identity, status and unknown keys.
pub fn strip_to_settings(s: &mut wire::Integration) {
    s.id = None;
    s.integration_type = None;
    s.origin = None;
    s.group = None;
    s.auth_method = None;
    s.disabled = None;
    s.init_date = None;
    s.last_indexed_date = None;
    s.indexing_state = None;
    s.indexing_percent = None;
    s.extra.clear();
}

/// Overlays the fields set in `patch` onto `base` (GIJ's partial update).
pub fn merge_settings(base: &mut wire::Integration, patch: &wire::Integration) {
    let mut b = serde_json::to_value(&*base).unwrap_or_default();
    if let (Some(bm), Ok(serde_json::Value::Object(pm))) =
        (b.as_object_mut(), serde_json::to_value(patch))
    {
        for (k, v) in pm {
            bm.insert(k, v);
        }
    }
    if let Ok(merged) = serde_json::from_value(b) {
        *base = merged;
    }
}

/// The origin GIJ stores when the request gives none: the SaaS service's fixed URL, or the
/// CodeCommit endpoint of the region.
pub fn default_origin(integration_type: &str, aws_region: Option<&str>) -> Option<String> {
    match integration_type.to_ascii_uppercase().as_str() {
        "GITHUB" => Some("https://api.github.com".to_owned()),
        "GITLAB" => Some("https://gitlab.com".to_owned()),
        "AZURE" | "VSTS" => Some("https://dev.azure.com".to_owned()),
        "BITBUCKET" => Some("https://api.bitbucket.org".to_owned()),
        "AWS" => aws_region.map(|r| format!("https://git-codecommit.{r}.amazonaws.com")),
        _ => None,
    }
}
