//! Records as GIJ's wire answers: the views of integrations and repositories (the extended
//! profile's, and the documented profile's shapes cut by `documented`), clone URLs, the paging
//! window of list answers, and GIJ's error answer, which every refusal (a [`RuleError`] or a
//! bad request) becomes.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::Profile;
use super::documented::{self, IntegrationAnswer};
use super::indexing::{integration_status, repo_status};
use super::rules::RuleError;
use super::state::{IntegrationRec, RepoRec, SiteState, default_settings};
use crate::api::wire;

/// The largest page a list request may ask for.
const MAX_LIMIT: u64 = 1000;
/// Jira's home directory as repository `root`s show it.
const JIRA_HOME: &str = "/var/atlassian/application-data/jira";

/// A GIJ-style error answer.
#[derive(Debug)]
pub(super) struct ApiErr {
    status: StatusCode,
    error: String,
    advice: String,
}

pub(super) fn err(
    status: StatusCode,
    error: impl Into<String>,
    advice: impl Into<String>,
) -> ApiErr {
    ApiErr {
        status,
        error: error.into(),
        advice: advice.into(),
    }
}

impl IntoResponse for ApiErr {
    fn into_response(self) -> Response {
        (
            self.status,
            axum::Json(wire::StatusResponse {
                success: false,
                error: Some(self.error),
                advice: Some(self.advice),
            }),
        )
            .into_response()
    }
}

pub(super) type Res = Result<Response, ApiErr>;

pub(super) fn ok_json(v: Value) -> Res {
    Ok(axum::Json(v).into_response())
}

impl From<RuleError> for ApiErr {
    fn from(e: RuleError) -> ApiErr {
        let status = match &e {
            RuleError::Missing { .. }
            | RuleError::UnknownType(_)
            | RuleError::FolderDepth
            | RuleError::GlobalWithProjects
            | RuleError::TypeChange { .. }
            | RuleError::AuthMethodChange
            | RuleError::OauthCredential
            | RuleError::RepoField(_)
            | RuleError::MissingRepoId => StatusCode::BAD_REQUEST,
            RuleError::OauthCreate
            | RuleError::UnsupportedType(_)
            | RuleError::UnknownProject(_)
            | RuleError::Credentials { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            RuleError::NoIntegration(_) | RuleError::NoRepository(_) => StatusCode::NOT_FOUND,
        };
        err(status, e.to_string(), e.advice())
    }
}

pub(super) fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

pub(super) fn integration_view(
    site: &SiteState,
    i: &IntegrationRec,
    now: i64,
) -> wire::Integration {
    let st = integration_status(site, i, now);
    let mut v = i.settings.clone();
    v.id = Some(i.id);
    v.integration_type = Some(i.integration_type.clone());
    v.origin = Some(i.origin.clone());
    v.group.clone_from(&i.group);
    v.auth_method = Some(i.auth_method.clone());
    v.disabled = Some(i.disabled);
    v.init_date = Some(i.init_date);
    v.last_indexed_date = st.last_indexed_date;
    v.indexing_state = Some(st.state.to_owned());
    v.indexing_percent = Some(st.percent);
    v
}

pub(super) fn repo_view(site: &SiteState, r: &RepoRec, now: i64) -> wire::Repository {
    let parent = site.integrations.get(&r.integration_id);
    let st = repo_status(r, now);
    wire::Repository {
        id: r.id,
        display_name: r.name.clone(),
        group: Some(r.group.clone()),
        origin: clone_url(site, r),
        main_branch: Some(r.main_branch.clone()),
        disabled: r.disabled,
        global: parent.and_then(|p| p.settings.global),
        project_mapping_ids: parent.and_then(|p| p.settings.project_mapping_ids.clone()),
        tracked_folder_id: (r.integration_id != 0).then_some(r.integration_id),
        integration_type: parent.map(|p| p.integration_type.clone()),
        state: st.state.map(str::to_owned),
        init_date: Some(r.init_date),
        last_indexed_date: r.last_indexed_date,
        indexing_percent: Some(st.percent),
        // [ext] The repository's size, so that plans estimate indexing time from real sizes
        // (`wire::SiteRepository::commits`).
        commits: Some(r.commits),
        extra: BTreeMap::new(),
    }
}

/// A repository's clone URL: its integration's git service, group and name (a standalone
/// repository's own `origin`).
fn clone_url(site: &SiteState, r: &RepoRec) -> Option<String> {
    let Some(parent) = site.integrations.get(&r.integration_id) else {
        return r
            .overrides
            .get("origin")
            .and_then(Value::as_str)
            .map(str::to_owned);
    };
    if parent.integration_type == "FILESPACE" {
        let root = parent
            .origin
            .trim_end_matches('*')
            .trim_end_matches(['/', '\\']);
        return Some(format!("{root}/{}/{}", r.group, r.name));
    }
    let o = parent.origin.trim_start_matches("https://api.");
    let o = if o.contains("://") {
        o.to_owned()
    } else {
        format!("https://{o}")
    };
    Some(format!("{o}/{}/{}.git", r.group, r.name))
}

/// An integration as one documented answer shows it (`--profile documented`), or the full
/// view with the extensions (`extended`).
pub(super) fn integration_answer(
    profile: Profile,
    site: &SiteState,
    i: &IntegrationRec,
    now: i64,
    answer: IntegrationAnswer,
) -> Value {
    let view = to_value(&integration_view(site, i, now));
    if profile == Profile::Extended {
        return view;
    }
    let Value::Object(mut full) = view else {
        return Value::Null;
    };
    // GIJ's list example shows `lastIndexedDate` on a disabled integration: the date stays
    // once something was indexed, whatever the integration does now.
    full.remove("lastIndexedDate");
    if let Some(t) = site
        .repos_of(i.id)
        .filter_map(|r| r.last_indexed_date)
        .max()
    {
        full.insert("lastIndexedDate".into(), json!(t));
    }
    if i.integration_type == "FILESPACE" {
        let root = i.origin.trim_end_matches('*').to_owned();
        full.insert("root".into(), json!(root));
        full.insert("realRoot".into(), json!(root));
        full.insert("absoluteRoot".into(), json!(true));
    }
    documented::integration(&full, answer)
}

/// Which documented answer a repository object is part of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RepoAnswer {
    List,
    Add,
    Update,
}

/// A repository's settings: its integration's, overlaid with its own.
pub(super) fn repo_settings(site: &SiteState, r: &RepoRec) -> Map<String, Value> {
    let base = site
        .integrations
        .get(&r.integration_id)
        .map_or_else(default_settings, |p| p.settings.clone());
    let mut m = match to_value(&base) {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    for (k, v) in &r.overrides {
        m.insert(k.clone(), v.clone());
    }
    m
}

/// A repository as GIJ's repository answers show it (both profiles: the repository endpoints
/// have no extensions; the list's entries use it in the documented profile only).
pub(super) fn repo_document(site: &SiteState, r: &RepoRec, answer: RepoAnswer) -> Value {
    let parent = site.integrations.get(&r.integration_id);
    let set = repo_settings(site, r);
    let get = |k: &str| set.get(k).cloned().unwrap_or(Value::Null);
    let origin = clone_url(site, r).unwrap_or_default();
    let real_root = r
        .overrides
        .get("realRoot")
        .and_then(Value::as_str)
        .map_or_else(|| format!("{}_{}", r.id, r.name), str::to_owned);
    let absolute = r
        .overrides
        .get("absoluteRoot")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let root = if absolute {
        real_root.clone()
    } else {
        format!("{JIRA_HOME}/data/git-plugin/{real_root}")
    };
    let ty = parent.map(|p| p.integration_type.as_str()).unwrap_or("");
    let web = origin.trim_end_matches(".git");
    let (link_type, formats) = documented::web_links(ty, web);
    let mut m = Map::new();
    m.insert("id".into(), json!(r.id));
    if parent.is_some() {
        m.insert("group".into(), json!(r.group));
    }
    let name = r
        .overrides
        .get("displayName")
        .cloned()
        .unwrap_or_else(|| json!(r.name));
    m.insert("displayName".into(), name);
    m.insert("origin".into(), json!(origin));
    m.insert("mainBranch".into(), json!(r.main_branch));
    m.insert("root".into(), json!(root));
    m.insert("realRoot".into(), json!(real_root));
    m.insert("absoluteRoot".into(), json!(absolute));
    m.insert("disabled".into(), json!(r.disabled));
    m.insert(
        "enableFetches".into(),
        r.overrides
            .get("enableFetches")
            .cloned()
            .unwrap_or(json!(true)),
    );
    m.insert("hosted".into(), json!(false));
    m.insert("initDate".into(), json!(r.init_date));
    if let Some(t) = r.last_indexed_date {
        m.insert("lastIndexedDate".into(), json!(t));
    }
    for k in [
        "sendCommitEmails",
        "maxMinsToCommitEmail",
        "global",
        "revisionIndexing",
        "gitViewerEnabled",
        "disableSslVerification",
        "smartCommitsEnabled",
        "requireUserPat",
        "projectMappingIds",
        "showAllTags",
        "sourcesDiffViewEnabled",
        "refSpecNotes",
        "refSpecChanges",
        "trustFolderStat",
    ] {
        m.insert(k.into(), get(k));
    }
    m.insert("webLinkType".into(), json!(link_type));
    m.insert("viewFormat".into(), json!(""));
    for (k, v) in formats {
        m.insert(k.into(), json!(v));
    }
    for k in REPO_LINK_KEYS {
        if let Some(v) = r.overrides.get(*k) {
            m.insert((*k).into(), v.clone());
        }
    }
    m.insert(
        "commitsValidationRequired".into(),
        r.overrides
            .get("commitsValidationRequired")
            .cloned()
            .unwrap_or(json!(true)),
    );
    if let Some(p) = parent {
        m.insert("trackedFolderId".into(), json!(p.id));
        m.insert("integrationType".into(), json!(p.integration_type));
        let git = p.integration_type != "FILESPACE";
        m.insert("supportsBranchCreationApi".into(), json!(git));
        m.insert(
            "supportsPullRequestApi".into(),
            json!(if git { "PULL_REQUESTS_GROUP" } else { "NONE" }),
        );
    } else {
        m.insert("supportsBranchCreationApi".into(), json!(false));
    }
    let keys = match (answer, parent.is_some()) {
        (RepoAnswer::List, true) => documented::LIST_REPOSITORY_KEYS,
        (RepoAnswer::List | RepoAnswer::Add, _) => documented::ADD_REPOSITORY_KEYS,
        (RepoAnswer::Update, _) => documented::UPDATE_REPOSITORY_KEYS,
    };
    Value::Object(documented::cut(&m, keys, &[]))
}

/// Web-linking keys a repository update may set.
const REPO_LINK_KEYS: &[&str] = &[
    "webLinkType",
    "viewFormat",
    "changesetFormat",
    "fileAddedFormat",
    "fileModifiedFormat",
    "fileDeletedFormat",
    "mergeRequestFormat",
    "branchLinkFormat",
];

/// The whole site as a client's `read_site` reads it through the list endpoints, built from the
/// same views (for benchmarks and tests that need a large [`crate::api::LiveSite`] in memory).
pub(super) fn live_site(site: &SiteState, now: i64) -> crate::api::LiveSite {
    crate::api::LiveSite {
        server: wire::ServerInfo {
            base_url: Some(site.server.base_url.clone()),
            server_title: Some(site.server.server_title.clone()),
            version: Some("9.12.2".into()),
            deployment_type: Some("Server".into()),
        },
        projects: site
            .projects
            .iter()
            .map(|p| wire::Project {
                id: Some(p.id),
                key: p.key.clone(),
                name: p.name.clone(),
            })
            .collect(),
        integrations: site
            .integrations
            .values()
            .map(|i| integration_view(site, i, now))
            .collect(),
        repositories: site
            .repositories
            .values()
            .map(|r| repo_view(site, r, now).into())
            .collect(),
    }
}

/// The window one list request asks for, checked against the list's length.
pub(super) struct Window {
    start: u64,
    limit: Option<u64>,
}

impl Window {
    /// The window of a request's `start` and `limit`; a limit outside 1–1000 is refused.
    pub(super) fn new(start: Option<u64>, limit: Option<u64>) -> Result<Window, ApiErr> {
        let start = start.unwrap_or(0);
        if let Some(l) = limit
            && !(1..=MAX_LIMIT).contains(&l)
        {
            return Err(err(
                StatusCode::BAD_REQUEST,
                format!("Invalid limit {l}"),
                format!("Use a limit between 1 and {MAX_LIMIT}"),
            ));
        }
        Ok(Window { start, limit })
    }

    /// How many items to skip and take.
    pub(super) fn bounds(&self) -> (usize, usize) {
        (
            usize::try_from(self.start).unwrap_or(usize::MAX),
            self.limit
                .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX)),
        )
    }

    /// The page answer around `size` items of a list of `total`; the caller fills the items.
    /// Only the page's items are ever turned into wire objects: building views of the whole
    /// list for every page made reading 200,000 repositories quadratic.
    pub(super) fn page(&self, size: usize, total: usize) -> wire::Page {
        let (size, total) = (size as u64, total as u64);
        let end = self.start.saturating_add(size);
        wire::Page {
            success: true,
            integrations: None,
            repositories: None,
            start: Some(self.start),
            limit: self.limit,
            size: Some(size),
            total: Some(total),
            is_last_page: Some(end >= total),
            next_page_start: (end < total).then_some(end),
        }
    }
}
