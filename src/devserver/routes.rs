//! HTTP routes: GIJ's documented endpoints, the gijctl extensions and the `/_dev/` controls.
//!
//! Every `/rest/` request passes [`guard`] first: statistics, fault injection, authentication
//! and rate limiting, in that order. Handlers then lock the site, settle it to the virtual
//! time and answer in GIJ's JSON shapes (docs/api.md).

use std::collections::BTreeMap;
use std::future::pending;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{MatchedPath, Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::catalog::hash_secret;
use super::documented::{self, IntegrationAnswer};
use super::faults::{FaultConfig, FaultKind, FaultState};
use super::indexing::{self, integration_status, repo_status};
use super::ratelimit::{RateLimitConfig, RateLimiter};
use super::state::{
    IntegrationRec, RepoRec, SiteState, default_origin, default_settings, merge_settings,
    real_epoch_ms, strip_to_settings,
};
use super::{ConnCtl, Profile, Shared, lock};
use crate::api::wire;
use crate::model::normalize_origin;

const GIJ: &str = "/rest/gitplugin/1.0";
const INTEGRATIONS: &str = "/rest/gitplugin/1.0/integration";
const MAX_LIMIT: u64 = 1000;
const REINDEX: &str = "/rest/gitplugin/2.0/reindex";
const WEBHOOK: &str = "/rest/gitplugin/webhook/1.0/reindex/{secret}";
/// Jira's home directory as repository `root`s show it.
const JIRA_HOME: &str = "/var/atlassian/application-data/jira";

type Sh = State<Arc<Shared>>;

/// Builds the router.
pub(super) fn router(sh: Arc<Shared>) -> Router {
    let rest = Router::new()
        .route(
            INTEGRATIONS,
            get(list_integrations).post(create_integration),
        )
        .route(
            &format!("{GIJ}/integration/{{id}}"),
            get(get_integration)
                .put(update_integration)
                .delete(delete_integration),
        )
        .route(
            &format!("{GIJ}/repository"),
            get(list_repositories)
                .post(add_repository)
                .put(update_repository)
                .delete(delete_repository),
        )
        .route(REINDEX, post(reindex))
        .route(
            WEBHOOK,
            get(webhook_reindex)
                .post(webhook_reindex)
                .put(webhook_reindex),
        )
        .route(
            &format!("{GIJ}/repository/{{id}}/disable"),
            put(set_disabled),
        )
        .route(&format!("{GIJ}/index.json"), get(index_status))
        .route("/rest/api/2/project", get(list_projects))
        .route("/rest/api/2/serverInfo", get(server_info))
        .route_layer(middleware::from_fn_with_state(sh.clone(), timed));
    let dev = Router::new()
        .route("/_dev/stats", get(dev_stats))
        .route("/_dev/stats/reset", post(dev_stats_reset))
        .route("/_dev/faults", get(dev_get_faults).put(dev_put_faults))
        .route("/_dev/rate-limit", put(dev_put_rate_limit))
        .route("/_dev/clock/advance", post(dev_advance))
        .route("/_dev/state", get(dev_state));
    rest.merge(dev)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(sh)
}

/// Reindex threads (`POST /rest/gitplugin/2.0/reindex`, the webhook URL), for
/// `index.json?threadId=`.
#[derive(Debug, Default)]
pub(super) struct Threads {
    next: u64,
    by_uuid: BTreeMap<String, Thread>,
    last: Option<u64>,
}

#[derive(Debug)]
struct Thread {
    /// The number `index.json` answers as `threadId` (GIJ's example shows a number there).
    number: u64,
    repos: Vec<u64>,
}

/// The path of the reindex webhook URL of a repository or integration (the `<secret_key>` of
/// GIJ's webhooks page): a hash of the id, so tests and users can compute it.
pub(super) fn webhook_path(id: u64) -> String {
    format!("/rest/gitplugin/webhook/1.0/reindex/{}", webhook_secret(id))
}

fn webhook_secret(id: u64) -> String {
    hash_secret(&format!("gijctl-dev-server-webhook:{id}"))[..32].to_owned()
}

/// A GIJ-style error answer.
#[derive(Debug)]
pub(super) struct ApiErr {
    status: StatusCode,
    error: String,
    advice: String,
}

fn err(status: StatusCode, error: impl Into<String>, advice: impl Into<String>) -> ApiErr {
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

type Res = Result<Response, ApiErr>;

fn ok_json(v: Value) -> Res {
    Ok(axum::Json(v).into_response())
}

async fn not_found() -> ApiErr {
    err(
        StatusCode::NOT_FOUND,
        "No such endpoint",
        "See docs/api.md for the paths gijctl dev-server implements",
    )
}

async fn method_not_allowed(method: Method) -> ApiErr {
    err(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("Method {method} is not allowed on this endpoint"),
        "See docs/api.md for the methods of each path",
    )
}

fn params(raw: Option<&str>) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn bool_param(p: &BTreeMap<String, String>, name: &str) -> Result<Option<bool>, ApiErr> {
    match p.get(name).map(|s| s.to_ascii_lowercase()) {
        None => Ok(None),
        Some(s) if s == "true" => Ok(Some(true)),
        Some(s) if s == "false" => Ok(Some(false)),
        Some(s) => Err(err(
            StatusCode::BAD_REQUEST,
            format!("Invalid value `{s}` for parameter `{name}`"),
            "Use true or false",
        )),
    }
}

fn u64_param(p: &BTreeMap<String, String>, name: &str) -> Result<Option<u64>, ApiErr> {
    p.get(name)
        .map(|s| {
            s.trim().parse::<u64>().map_err(|_| {
                err(
                    StatusCode::BAD_REQUEST,
                    format!("Invalid value `{s}` for parameter `{name}`"),
                    "Use a non-negative integer",
                )
            })
        })
        .transpose()
}

fn parse_id(s: &str) -> Result<u64, ApiErr> {
    s.parse().map_err(|_| {
        err(
            StatusCode::BAD_REQUEST,
            format!("Invalid id `{s}`"),
            "Ids are positive integers",
        )
    })
}

// ---------------------------------------------------------------- guard

fn user_allowed(route: &str) -> bool {
    matches!(
        route,
        "GET /rest/api/2/project"
            | "GET /rest/gitplugin/1.0/repository"
            | "GET /rest/gitplugin/1.0/index.json"
            | "POST /rest/gitplugin/2.0/reindex"
    )
}

/// The hash of the request's credential: a Bearer token (a Jira personal access token), or
/// the password of HTTP Basic authentication (Jira DC accepts both; on the dev-server any
/// username goes with a configured token as its password).
fn bearer_hash(headers: &HeaderMap) -> Option<String> {
    let v = headers.get("authorization")?.to_str().ok()?;
    let (scheme, token) = v.trim().split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(hash_secret(token.trim()));
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let raw = documented::base64_decode(token.trim())?;
        let text = String::from_utf8(raw).ok()?;
        let (_, password) = text.split_once(':')?;
        return Some(hash_secret(password));
    }
    None
}

enum Role {
    Admin,
    User,
}

fn role(sh: &Shared, headers: &HeaderMap) -> Option<(Role, String)> {
    let h = bearer_hash(headers)?;
    if sh.admin_hashes.contains(&h) {
        Some((Role::Admin, h))
    } else if sh.user_hashes.contains(&h) {
        Some((Role::User, h))
    } else {
        None
    }
}

fn unauthorized() -> ApiErr {
    err(
        StatusCode::UNAUTHORIZED,
        "Authentication required: missing or invalid API token",
        "Send `Authorization: Bearer <token>` with a Jira personal access token, or HTTP Basic authentication",
    )
}

fn set_header(resp: &mut Response, name: &'static str, v: u64) {
    if let Ok(hv) = HeaderValue::from_str(&v.to_string()) {
        resp.headers_mut().insert(name, hv);
    }
}

fn set_retry_after(resp: &mut Response, profile: Profile, real_ms: u64) {
    set_header(resp, "retry-after", real_ms.div_ceil(1000).max(1));
    if profile == Profile::Extended {
        set_header(resp, "retry-after-ms", real_ms.max(1));
    }
}

/// Jira DC's description of a token bucket (`X-RateLimit-FillRate` tokens every
/// `X-RateLimit-Interval-Seconds`), in real time, from a bucket refilled `refill_per_sec` times
/// per virtual second on a clock running `scale` times real time (0: frozen, virtual time).
/// Whole numbers, as Jira sends them: the fill rate is rounded down, so a client never expects
/// more than it gets.
pub(super) fn jira_fill(refill_per_sec: f64, scale: f64) -> (u64, u64) {
    let per_real_sec = refill_per_sec.max(0.0) * if scale > 0.0 { scale } else { 1.0 };
    if per_real_sec >= 1.0 {
        (per_real_sec.floor() as u64, 1)
    } else if per_real_sec > 0.0 {
        let interval = (1.0 / per_real_sec).ceil();
        (
            (per_real_sec * interval).floor().max(1.0) as u64,
            interval as u64,
        )
    } else {
        (0, 1)
    }
}

fn count_fault(sh: &Shared, kind: FaultKind) {
    *lock(&sh.counters)
        .faults
        .entry(kind.name().to_owned())
        .or_default() += 1;
}

/// Times [`guard`] (and so the handler) for `handlerMs` in the stats. Injected latency counts:
/// it is time the server makes a client wait.
async fn timed(State(sh): Sh, matched: MatchedPath, req: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let resp = guard(sh.clone(), matched, req, next).await;
    lock(&sh.counters).handler += started.elapsed();
    resp
}

async fn guard(sh: Arc<Shared>, matched: MatchedPath, req: Request, next: Next) -> Response {
    let route = format!("{} {}", req.method(), matched.as_str());
    let is_create = req.method() == Method::POST && matched.as_str() == INTEGRATIONS;
    let ctl = req.extensions().get::<ConnCtl>().cloned();
    {
        let mut c = lock(&sh.counters);
        c.total += 1;
        *c.requests.entry(route.clone()).or_default() += 1;
    }
    if matched.as_str() == WEBHOOK {
        // Called by the git service: the secret in the path is the authentication.
        return next.run(req).await;
    }
    let profile = sh.profile;
    let plan = lock(&sh.faults).decide(&route, is_create);
    if plan.spiked {
        count_fault(&sh, FaultKind::Spike);
    }
    if !plan.delay.is_zero() {
        tokio::time::sleep(plan.delay).await;
    }
    let Some((role, key)) = role(&sh, req.headers()) else {
        return unauthorized().into_response();
    };
    if matches!(role, Role::User) && !user_allowed(&route) {
        return err(
            StatusCode::FORBIDDEN,
            "Only Jira administrators can use this endpoint",
            "Use the API token of a Jira administrator",
        )
        .into_response();
    }
    let now = sh.clock.now_ms();
    let (d, refill) = {
        let mut l = lock(&sh.limiter);
        (l.check(&key, now), l.config.refill_per_sec)
    };
    let headers = |resp: &mut Response| {
        if profile == Profile::Documented {
            // Jira DC's rate-limiting headers; none when the site does not limit.
            if d.limit == 0 {
                return;
            }
            let (fill, interval) = jira_fill(refill, sh.clock.scale());
            set_header(resp, "x-ratelimit-limit", u64::from(d.limit));
            set_header(resp, "x-ratelimit-remaining", u64::from(d.remaining));
            set_header(resp, "x-ratelimit-fillrate", fill);
            set_header(resp, "x-ratelimit-interval-seconds", interval);
            if !resp.headers().contains_key("retry-after") {
                // "If you still have tokens left, it shows 0."
                let wait = sh.clock.real_ms_for(d.retry_in_ms).div_ceil(1000);
                set_header(resp, "retry-after", wait);
            }
            return;
        }
        set_header(resp, "x-ratelimit-limit", u64::from(d.limit));
        set_header(resp, "x-ratelimit-remaining", u64::from(d.remaining));
        let full_in_ms = sh.clock.real_ms_for(d.full_in_ms);
        let reset_ms = real_epoch_ms().max(0) as u64 + full_in_ms;
        set_header(resp, "x-ratelimit-reset", reset_ms.div_ceil(1000));
        // Extension: real milliseconds until the bucket is full; whole epoch seconds are too
        // coarse for a time-scaled server (docs/api.md).
        set_header(resp, "x-ratelimit-reset-ms", full_in_ms);
    };
    if !d.allowed {
        lock(&sh.counters).rate_limited += 1;
        let mut resp = err(
            StatusCode::TOO_MANY_REQUESTS,
            "Rate limit exceeded",
            "Wait for Retry-After (or Retry-After-Ms) before retrying",
        )
        .into_response();
        set_retry_after(&mut resp, profile, sh.clock.real_ms_for(d.retry_in_ms));
        headers(&mut resp);
        return resp;
    }
    match plan.action {
        Some(FaultKind::Drop) => {
            count_fault(&sh, FaultKind::Drop);
            return drop_connection(ctl).await;
        }
        Some(FaultKind::Error429) => {
            count_fault(&sh, FaultKind::Error429);
            lock(&sh.counters).rate_limited += 1;
            let mut resp = err(
                StatusCode::TOO_MANY_REQUESTS,
                "Rate limit exceeded (injected fault)",
                "Wait for Retry-After (or Retry-After-Ms) before retrying",
            )
            .into_response();
            let ms = lock(&sh.faults).config.retry_after_ms;
            set_retry_after(&mut resp, profile, sh.clock.real_ms_for(ms));
            return resp;
        }
        Some(k @ (FaultKind::Error500 | FaultKind::Error502 | FaultKind::Error503)) => {
            count_fault(&sh, k);
            let (status, msg) = match k {
                FaultKind::Error500 => (StatusCode::INTERNAL_SERVER_ERROR, "Internal server error"),
                FaultKind::Error502 => (StatusCode::BAD_GATEWAY, "Bad gateway"),
                _ => (StatusCode::SERVICE_UNAVAILABLE, "Service unavailable"),
            };
            let mut resp =
                err(status, format!("{msg} (injected fault)"), "Retry later").into_response();
            if k == FaultKind::Error503 {
                let ms = lock(&sh.faults).config.retry_after_ms;
                set_retry_after(&mut resp, profile, sh.clock.real_ms_for(ms));
            }
            headers(&mut resp);
            return resp;
        }
        _ => {}
    }
    let mut resp = next.run(req).await;
    if plan.action == Some(FaultKind::LoseCreate) && resp.status().is_success() {
        count_fault(&sh, FaultKind::LoseCreate);
        return drop_connection(ctl).await;
    }
    headers(&mut resp);
    resp
}

/// Closes the connection without an answer; never returns while the connection lives.
async fn drop_connection(ctl: Option<ConnCtl>) -> Response {
    match ctl {
        Some(c) => {
            c.0.notify_one();
            pending::<Response>().await
        }
        None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

// ---------------------------------------------------------------- views

fn integration_view(site: &SiteState, i: &IntegrationRec, now: i64) -> wire::Integration {
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

fn repo_view(site: &SiteState, r: &RepoRec, now: i64) -> wire::Repository {
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
fn integration_answer(
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
enum RepoAnswer {
    List,
    Add,
    Update,
}

/// A repository's settings: its integration's, overlaid with its own.
fn repo_settings(site: &SiteState, r: &RepoRec) -> Map<String, Value> {
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
fn repo_document(site: &SiteState, r: &RepoRec, answer: RepoAnswer) -> Value {
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

fn settled(sh: &Shared) -> (std::sync::MutexGuard<'_, SiteState>, i64) {
    let now = sh.clock.now_ms();
    let mut site = lock(&sh.site);
    indexing::settle(&mut site, now);
    (site, now)
}

fn after_mutation(sh: &Shared, site: &SiteState) {
    if sh.save_on_mutation
        && let Some(p) = &sh.state_file
        && let Err(e) = site.save(p)
    {
        tracing::warn!(error = %e, "saving state failed");
    }
}

/// The window one list request asks for, checked against the list's length.
struct Window {
    start: u64,
    limit: Option<u64>,
}

impl Window {
    fn parse(p: &BTreeMap<String, String>) -> Result<Window, ApiErr> {
        let start = u64_param(p, "start")?.unwrap_or(0);
        let limit = u64_param(p, "limit")?;
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
    fn bounds(&self) -> (usize, usize) {
        (
            usize::try_from(self.start).unwrap_or(usize::MAX),
            self.limit
                .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX)),
        )
    }

    /// The page answer around `size` items of a list of `total`; the caller fills the items.
    /// Only the page's items are ever turned into wire objects: building views of the whole
    /// list for every page made reading 200,000 repositories quadratic.
    fn page(&self, size: usize, total: usize) -> wire::Page {
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

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn integration_not_found(id: u64) -> ApiErr {
    err(
        StatusCode::NOT_FOUND,
        format!("Integration with id={id} does not exist"),
        "Please try again with an existing integration id.",
    )
}

// ---------------------------------------------------------------- integrations

async fn list_integrations(State(sh): Sh, RawQuery(q): RawQuery) -> Res {
    let p = params(q.as_deref());
    let (site, now) = settled(&sh);
    if sh.profile == Profile::Documented {
        // GIJ's list takes no parameters and answers the whole list.
        let items: Vec<Value> = site
            .integrations
            .values()
            .map(|i| integration_answer(sh.profile, &site, i, now, IntegrationAnswer::List))
            .collect();
        return ok_json(json!({"success": true, "integrations": items}));
    }
    let ty = p.get("type").map(|s| s.to_ascii_uppercase());
    let origin = p.get("origin").map(|s| normalize_origin(s));
    let group = p.get("group");
    let window = Window::parse(&p)?;
    let site: &SiteState = &site;
    let matching = || {
        site.integrations
            .values()
            .filter(|i| ty.as_ref().is_none_or(|t| &i.integration_type == t))
            .filter(|i| origin.as_ref().is_none_or(|o| &i.origin == o))
            .filter(|i| {
                group.is_none_or(|g| {
                    i.group
                        .as_deref()
                        .is_some_and(|x| x.eq_ignore_ascii_case(g))
                })
            })
    };
    let total = matching().count();
    let (skip, take) = window.bounds();
    let items: Vec<wire::Integration> = matching()
        .skip(skip)
        .take(take)
        .map(|i| integration_view(site, i, now))
        .collect();
    let mut page = window.page(items.len(), total);
    page.integrations = Some(items);
    Ok(axum::Json(page).into_response())
}

async fn get_integration(State(sh): Sh, Path(id): Path<String>) -> Res {
    let id = parse_id(&id)?;
    let (site, now) = settled(&sh);
    let i = site
        .integrations
        .get(&id)
        .ok_or_else(|| integration_not_found(id))?;
    // GIJ's "Retrieve an Integration" answers with a one-element array and a string success.
    let view = integration_answer(sh.profile, &site, i, now, IntegrationAnswer::Get);
    ok_json(json!({"success": "true", "integration": [view]}))
}

/// Create and update bodies: the settings plus type and credentials.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WriteBody {
    #[serde(rename = "type", default)]
    ty: Option<String>,
    #[serde(flatten)]
    fields: wire::Integration,
    #[serde(default)]
    pat: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

fn parse_body(body: &Bytes) -> Result<WriteBody, ApiErr> {
    serde_json::from_slice(body).map_err(|e| {
        err(
            StatusCode::BAD_REQUEST,
            format!("Invalid JSON body: {e}"),
            "Send a JSON object with GIJ's integration fields",
        )
    })
}

#[derive(Clone, Copy, PartialEq)]
enum Cred {
    Pat,
    UserPass,
    PatOrUserPass,
    OauthOnly,
    Unsupported,
}

/// (origin required, credential rule) per GIJ type, from the IntegrationType javadoc.
fn rules(ty: &str) -> Option<(bool, Cred)> {
    Some(match ty {
        "GITHUB" => (false, Cred::PatOrUserPass),
        "GITHUB_SERVER" => (true, Cred::Pat),
        "GITLAB" => (false, Cred::Pat),
        "GITLAB_SERVER" => (true, Cred::Pat),
        "GITLAB_SERVER_LEGACY" => (true, Cred::UserPass),
        "AZURE" | "VSTS" => (false, Cred::Pat),
        "AZURE_DEVOPS" | "TFS_SERVER" => (true, Cred::PatOrUserPass),
        "AWS" => (false, Cred::UserPass),
        "GERRIT" => (true, Cred::UserPass),
        "BITBUCKET" => (false, Cred::OauthOnly),
        "BITBUCKET_SERVER" => (true, Cred::PatOrUserPass),
        "FILESPACE" | "PLAIN_GIT" => (true, Cred::Unsupported),
        _ => return None,
    })
}

fn missing(field: &str, ty: &str) -> ApiErr {
    err(
        StatusCode::BAD_REQUEST,
        format!("Missing required field `{field}` for integration type {ty}"),
        "See the required connection properties per integration type in GIJ's docs",
    )
}

fn invalid_credentials(origin: &str, advice: impl Into<String>) -> ApiErr {
    err(
        StatusCode::UNPROCESSABLE_ENTITY,
        format!("Invalid credentials for {origin}"),
        advice,
    )
}

/// Checks `global`/`projectMappingIds` of a request and normalises them.
fn check_projects(site: &SiteState, f: &mut wire::Integration) -> Result<(), ApiErr> {
    let ids = f.project_mapping_ids.clone().unwrap_or_default();
    if f.global == Some(true) && !ids.is_empty() {
        return Err(err(
            StatusCode::BAD_REQUEST,
            "projectMappingIds cannot be set when global is true",
            "Send global: false together with projectMappingIds, or global: true alone",
        ));
    }
    if let Some(bad) = ids.iter().find(|id| !site.project_exists(**id)) {
        return Err(err(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("Unknown Jira project id {bad}"),
            "Use numeric ids from GET /rest/api/2/project",
        ));
    }
    if !ids.is_empty() && f.global.is_none() {
        f.global = Some(false);
    }
    if f.global == Some(true) {
        f.project_mapping_ids = Some(Vec::new());
    }
    Ok(())
}

/// Validates a credential against the catalog; returns its hash.
fn check_credential(
    site: &SiteState,
    ty: &str,
    origin: &str,
    group: Option<&str>,
    secret: &str,
    username: Option<&str>,
) -> Result<String, ApiErr> {
    let Some(service) = site.catalog.service(ty, origin) else {
        return Err(invalid_credentials(
            origin,
            format!(
                "The git service could not be reached with these credentials (gijctl dev-server has no {ty} service at {origin} in its catalog)"
            ),
        ));
    };
    let h = hash_secret(secret);
    let Some(token) = site.catalog.token(ty, origin, &h, username) else {
        return Err(invalid_credentials(
            origin,
            "The git service refused the personal access token (or username/password); check it and its expiry",
        ));
    };
    match group {
        Some(g) => {
            if !token.groups.iter().any(|x| x.eq_ignore_ascii_case(g)) {
                return Err(invalid_credentials(
                    origin,
                    format!(
                        "The credential cannot see `{g}`; grant it access to that organisation or use another token"
                    ),
                ));
            }
            if !service
                .groups
                .iter()
                .any(|x| x.name.eq_ignore_ascii_case(g))
            {
                return Err(invalid_credentials(
                    origin,
                    format!("`{g}` does not exist on {origin}"),
                ));
            }
        }
        None if token.groups.is_empty() => {
            return Err(invalid_credentials(
                origin,
                "The credential cannot see any organisation",
            ));
        }
        None => {}
    }
    Ok(h)
}

async fn create_integration(State(sh): Sh, body: Bytes) -> Res {
    let mut b = parse_body(&body)?;
    let ty =
        b.ty.take()
            .or_else(|| b.fields.integration_type.take())
            .map(|t| t.to_ascii_uppercase())
            .ok_or_else(|| missing("type", "(none)"))?;
    let (origin_required, cred) = rules(&ty).ok_or_else(|| {
        err(
            StatusCode::BAD_REQUEST,
            format!("Unknown integration type `{ty}`"),
            "Use one of GITHUB, GITHUB_SERVER, GITLAB, GITLAB_SERVER, GITLAB_SERVER_LEGACY, AZURE, VSTS, AZURE_DEVOPS, TFS_SERVER, AWS, GERRIT, BITBUCKET, BITBUCKET_SERVER",
        )
    })?;
    if b.fields
        .auth_method
        .as_deref()
        .is_some_and(|a| a.eq_ignore_ascii_case("OAUTH"))
        || cred == Cred::OauthOnly
    {
        return Err(err(
            StatusCode::UNPROCESSABLE_ENTITY,
            "OAuth integrations cannot be created through the REST API",
            "Create this integration in Jira with a browser (Git Integration for Jira → Add integration → OAuth); once it exists gijctl can manage its settings",
        ));
    }
    if sh.profile == Profile::Documented && ty == "FILESPACE" {
        return create_filespace(&sh, b).await;
    }
    if cred == Cred::Unsupported {
        return Err(err(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{ty} integrations are not supported by gijctl dev-server"),
            "Use a git-service integration type",
        ));
    }
    let origin = match b.fields.origin.as_deref().filter(|o| !o.trim().is_empty()) {
        Some(o) => normalize_origin(o),
        None if origin_required => return Err(missing("origin", &ty)),
        None => default_origin(&ty, b.fields.aws_region.as_deref())
            .ok_or_else(|| missing("awsRegion", &ty))?,
    };
    if ty == "AWS" && b.fields.aws_region.is_none() {
        return Err(missing("awsRegion", &ty));
    }
    let pat = b.pat.take().filter(|s| !s.is_empty());
    let password = b.password.take().filter(|s| !s.is_empty());
    let username = b.username.take().filter(|s| !s.is_empty());
    let secret = match cred {
        Cred::Pat => pat.ok_or_else(|| missing("pat", &ty))?,
        Cred::UserPass => {
            if username.is_none() {
                return Err(missing("username", &ty));
            }
            password.ok_or_else(|| missing("password", &ty))?
        }
        _ => match (pat, password) {
            (Some(p), _) => p,
            (None, Some(p)) if username.is_some() => p,
            (None, Some(_)) => return Err(missing("username", &ty)),
            (None, None) => return Err(missing("pat", &ty)),
        },
    };
    let group = b.fields.group.take().filter(|g| !g.is_empty());
    let disabled = b.fields.disabled.unwrap_or(false);
    let region = b.fields.aws_region.clone();
    let (mut site, now) = settled(&sh);
    check_projects(&site, &mut b.fields)?;
    let h = check_credential(
        &site,
        &ty,
        &origin,
        group.as_deref(),
        &secret,
        username.as_deref(),
    )?;
    let mut settings = default_settings();
    let mut given = b.fields;
    strip_to_settings(&mut given);
    merge_settings(&mut settings, &given);
    settings.aws_region = region;
    if settings.display_name.as_deref().is_none_or(str::is_empty) {
        settings.display_name = Some(match &group {
            Some(g) => format!("{g} ({ty})"),
            None => ty.clone(),
        });
    }
    let id = site.alloc_id();
    let rec = IntegrationRec {
        id,
        integration_type: ty,
        origin,
        group,
        auth_method: "PAT".to_owned(),
        credential_sha256: Some(h),
        username,
        settings,
        disabled,
        init_date: now,
        scan_done_ms: Some(now + site.scan_ms),
    };
    site.integrations.insert(id, rec);
    let end = now + site.scan_ms;
    site.track_scan(id, end);
    after_mutation(&sh, &site);
    let view = integration_answer(
        sh.profile,
        &site,
        &site.integrations[&id],
        now,
        IntegrationAnswer::Create,
    );
    tracing::info!(id, "integration created");
    ok_json(json!({"success": "true", "integration": view}))
}

async fn update_integration(State(sh): Sh, Path(id): Path<String>, body: Bytes) -> Res {
    let id = parse_id(&id)?;
    let mut b = parse_body(&body)?;
    let (mut site, now) = settled(&sh);
    let cur = site
        .integrations
        .get(&id)
        .cloned()
        .ok_or_else(|| integration_not_found(id))?;
    if let Some(t) = b.ty.take().or_else(|| b.fields.integration_type.take())
        && !t.eq_ignore_ascii_case(&cur.integration_type)
    {
        return Err(err(
            StatusCode::BAD_REQUEST,
            format!(
                "The integration type cannot be changed (is {}, got {t})",
                cur.integration_type
            ),
            "Delete the integration and create a new one of the other type",
        ));
    }
    if b.fields
        .auth_method
        .as_deref()
        .is_some_and(|a| !a.eq_ignore_ascii_case(&cur.auth_method))
    {
        return Err(err(
            StatusCode::BAD_REQUEST,
            "The authentication method cannot be changed",
            "Delete the integration and create it again with the other method",
        ));
    }
    check_projects(&site, &mut b.fields)?;
    let new_origin = b
        .fields
        .origin
        .as_deref()
        .filter(|o| !o.trim().is_empty())
        .map(normalize_origin)
        .unwrap_or_else(|| cur.origin.clone());
    let new_group = match b.fields.group.take() {
        Some(g) if g.is_empty() => None,
        Some(g) => Some(g),
        None => cur.group.clone(),
    };
    let pat = b.pat.take().filter(|s| !s.is_empty());
    let password = b.password.take().filter(|s| !s.is_empty());
    let username = b
        .username
        .take()
        .filter(|s| !s.is_empty())
        .or_else(|| cur.username.clone());
    let new_secret = pat.or(password);
    let moved = new_origin != cur.origin
        || new_group.as_deref().map(str::to_ascii_lowercase)
            != cur.group.as_deref().map(str::to_ascii_lowercase);
    let mut cred_hash = cur.credential_sha256.clone();
    if cur.auth_method == "OAUTH" {
        if new_secret.is_some() {
            return Err(err(
                StatusCode::BAD_REQUEST,
                "OAuth integrations have no credential to update",
                "Reconnect the OAuth grant in Jira with a browser",
            ));
        }
    } else if let Some(s) = &new_secret {
        cred_hash = Some(check_credential(
            &site,
            &cur.integration_type,
            &new_origin,
            new_group.as_deref(),
            s,
            username.as_deref(),
        )?);
    } else if moved {
        // The stored credential must see the new origin/group.
        let visible = cur.credential_sha256.as_deref().and_then(|h| {
            site.catalog
                .token(&cur.integration_type, &new_origin, h, username.as_deref())
        });
        let ok = visible.is_some_and(|t| {
            new_group
                .as_deref()
                .is_none_or(|g| t.groups.iter().any(|x| x.eq_ignore_ascii_case(g)))
        });
        if !ok {
            return Err(invalid_credentials(
                &new_origin,
                "The integration's credential cannot see the new origin or group; send a new `pat`",
            ));
        }
    }
    let disabled = b.fields.disabled;
    let mut given = b.fields;
    let region = given.aws_region.clone();
    strip_to_settings(&mut given);
    let scan_ms = site.scan_ms;
    if let Some(i) = site.integrations.get_mut(&id) {
        merge_settings(&mut i.settings, &given);
        if i.settings.global == Some(true) {
            i.settings.project_mapping_ids = Some(Vec::new());
        }
        if region.is_some() {
            i.settings.aws_region = region;
        }
        i.origin = new_origin;
        i.group = new_group;
        i.credential_sha256 = cred_hash;
        i.username = username;
        if moved {
            i.scan_done_ms = Some(now + scan_ms);
        }
    }
    if moved {
        site.track_scan(id, now + scan_ms);
        indexing::cancel_integration(&mut site, id, now);
    }
    if let Some(d) = disabled {
        apply_disabled(&mut site, id, d, now);
    }
    after_mutation(&sh, &site);
    let view = integration_answer(
        sh.profile,
        &site,
        &site.integrations[&id],
        now,
        IntegrationAnswer::Update,
    );
    ok_json(json!({"success": "true", "integration": view}))
}

async fn delete_integration(State(sh): Sh, Path(id): Path<String>, RawQuery(q): RawQuery) -> Res {
    let id = parse_id(&id)?;
    let p = params(q.as_deref());
    bool_param(&p, "deleteFiles")?;
    let (mut site, now) = settled(&sh);
    if !site.integrations.contains_key(&id) {
        return Err(err(
            StatusCode::NOT_FOUND,
            format!("Repository with id={id} does not exist"),
            "Please try again with an existing repository id.",
        ));
    }
    indexing::cancel_integration(&mut site, id, now);
    site.integrations.remove(&id);
    site.remove_repos_of(id);
    after_mutation(&sh, &site);
    tracing::info!(id, "integration deleted");
    ok_json(json!({"success": true}))
}

fn apply_disabled(site: &mut SiteState, id: u64, disabled: bool, now: i64) -> bool {
    if let Some(i) = site.integrations.get_mut(&id) {
        let changed = i.disabled != disabled;
        i.disabled = disabled;
        if changed {
            if disabled {
                indexing::cancel_integration(site, id, now);
            } else {
                indexing::schedule_pending(site, id, now);
            }
        }
        return true;
    }
    if let Some(r) = site.repositories.get_mut(&id) {
        let parent = r.integration_id;
        let changed = r.disabled != disabled;
        r.disabled = disabled;
        if changed {
            if disabled {
                indexing::cancel(site, id, now);
            } else {
                indexing::schedule_pending(site, parent, now);
            }
        }
        return true;
    }
    false
}

async fn set_disabled(State(sh): Sh, Path(id): Path<String>, RawQuery(q): RawQuery) -> Res {
    let id = parse_id(&id)?;
    let p = params(q.as_deref());
    let disable = bool_param(&p, "disable")?.ok_or_else(|| {
        err(
            StatusCode::BAD_REQUEST,
            "Missing parameter `disable`",
            "Send ?disable=true or ?disable=false",
        )
    })?;
    let (mut site, now) = settled(&sh);
    if !apply_disabled(&mut site, id, disable, now) {
        return Err(err(
            StatusCode::NOT_FOUND,
            format!("Repository with id={id} does not exist"),
            "Please try again with an existing repository id.",
        ));
    }
    after_mutation(&sh, &site);
    ok_json(json!({"success": true}))
}

// ---------------------------------------------------------------- repositories, indexing, projects

async fn list_repositories(State(sh): Sh, RawQuery(q): RawQuery) -> Res {
    let mut p = params(q.as_deref());
    let documented = sh.profile == Profile::Documented;
    if documented {
        // Extensions a real GIJ does not know are ignored, as unknown parameters are.
        for k in ["trackedFolderId", "start", "limit"] {
            p.remove(k);
        }
    }
    let folder = u64_param(&p, "trackedFolderId")?;
    let (site, now) = settled(&sh);
    let project = match p.get("projectKey") {
        Some(k) => Some(
            site.projects
                .iter()
                .find(|x| x.key.eq_ignore_ascii_case(k))
                .map(|x| x.id)
                .ok_or_else(|| {
                    err(
                        StatusCode::NOT_FOUND,
                        format!("No Jira project with key {k}"),
                        "Use a key from GET /rest/api/2/project",
                    )
                })?,
        ),
        None => None,
    };
    let window = Window::parse(&p)?;
    let site: &SiteState = &site;
    if documented {
        let visible = |r: &&RepoRec| match project {
            None => true,
            Some(pid) => {
                let set = repo_settings(site, r);
                !r.disabled
                    && repo_status(r, now).state != Some("ERROR")
                    && (set.get("global") == Some(&json!(true))
                        || set
                            .get("projectMappingIds")
                            .and_then(Value::as_array)
                            .is_some_and(|ids| ids.contains(&json!(pid))))
            }
        };
        let items: Vec<Value> = site
            .repositories
            .values()
            .filter(visible)
            .map(|r| repo_document(site, r, RepoAnswer::List))
            .collect();
        return ok_json(json!({"success": true, "repositories": items}));
    }
    let matching = || {
        let by_folder: Box<dyn Iterator<Item = &RepoRec>> = match folder {
            Some(f) => Box::new(site.repos_of(f)),
            None => Box::new(site.repositories.values()),
        };
        by_folder.filter(move |r| match project {
            None => true,
            Some(pid) => {
                let parent = site.integrations.get(&r.integration_id);
                !r.disabled
                    && repo_status(r, now).state != Some("ERROR")
                    && (parent.and_then(|p| p.settings.global) == Some(true)
                        || parent
                            .and_then(|p| p.settings.project_mapping_ids.as_ref())
                            .is_some_and(|ids| ids.contains(&pid)))
            }
        })
    };
    let (skip, take) = window.bounds();
    let (total, items): (usize, Vec<wire::Repository>) = if folder.is_none() && project.is_none() {
        // The whole list: the page is a slice of the id order, not a walk past `start` entries
        // (which cost O(pages × repositories) reading 200,000 repositories).
        let items = site
            .repos_page(skip, take)
            .map(|r| repo_view(site, r, now))
            .collect();
        (site.repositories.len(), items)
    } else {
        let items = matching()
            .skip(skip)
            .take(take)
            .map(|r| repo_view(site, r, now))
            .collect();
        (matching().count(), items)
    };
    let mut page = window.page(items.len(), total);
    page.repositories = Some(items);
    Ok(axum::Json(page).into_response())
}

async fn index_status(State(sh): Sh, RawQuery(q): RawQuery) -> Res {
    let p = params(q.as_deref());
    let id = u64_param(&p, "repoId")?;
    let documented = sh.profile == Profile::Documented;
    // GIJ's Reindex GET API: `threadId` (a UUID from the Reindex POST API) selects that
    // thread's repositories; without it, every repository (or `repoId`).
    let thread = match p.get("threadId").or_else(|| p.get("threadID")) {
        Some(t) => {
            let threads = lock(&sh.threads);
            let th = threads.by_uuid.get(t.trim()).ok_or_else(|| {
                err(
                    StatusCode::NOT_FOUND,
                    format!("Thread with id={t} does not exist"),
                    "Use the threadId answered by POST /rest/gitplugin/2.0/reindex",
                )
            })?;
            Some((th.number, th.repos.clone()))
        }
        None => None,
    };
    let thread_number = thread
        .as_ref()
        .map(|t| t.0)
        .or(lock(&sh.threads).last)
        .unwrap_or(0);
    let (site, now) = settled(&sh);
    let (mut repos, scanning, percent): (Vec<&RepoRec>, bool, Option<f64>) = match id {
        Some(id) => {
            if let Some(i) = site.integrations.get(&id).filter(|_| !documented) {
                // [ext] an integration id: the aggregate over its enabled repositories.
                let st = integration_status(&site, i, now);
                (
                    site.repos_of(id).filter(|r| !r.disabled).collect(),
                    st.state == "SCANNING",
                    Some(st.percent),
                )
            } else if let Some(r) = site.repositories.get(&id) {
                (vec![r], false, None)
            } else {
                return Err(err(
                    StatusCode::NOT_FOUND,
                    format!("Repository with id={id} does not exist"),
                    "Please try again with an existing repository id.",
                ));
            }
        }
        None => (site.repositories.values().collect(), false, None),
    };
    if let Some((_, ids)) = &thread {
        repos.retain(|r| ids.contains(&r.id));
    }
    let mut messages = BTreeMap::new();
    let mut errors = BTreeMap::new();
    let mut sum = 0.0;
    for r in &repos {
        let st = repo_status(r, now);
        messages.insert(format!("Indexing {}", r.name), st.percent);
        if st.state == Some("ERROR") {
            errors.insert(r.name.clone(), json!(format!("Indexing {} failed", r.name)));
        }
        sum += st.percent;
    }
    let finished = !scanning && repos.iter().all(|r| r.job.is_none());
    let pct = percent.unwrap_or(if repos.is_empty() {
        100.0
    } else {
        (sum / repos.len() as f64 * 10.0).floor() / 10.0
    });
    let status = wire::IndexStatus {
        success: true,
        finished,
        messages,
        errors,
        last_operation_percent: if scanning { 0.0 } else { pct },
    };
    if documented {
        // GIJ's example answers `threadId` as a number (`"threadId":172`) although the thread
        // is asked for by UUID: the thread's number, or the last thread's (0 before any).
        return ok_json(json!({
            "success": true,
            "finished": status.finished,
            "threadId": thread_number,
            "messages": status.messages,
            "errors": status.errors,
            "lastOperationPercent": status.last_operation_percent,
        }));
    }
    ok_json(to_value(&status))
}

// ---------------------------------------------------------------- reindex, repositories (GIJ)

/// Starts a reindex thread over `target` (a repository, an integration's repositories, or
/// everything) and answers GIJ's Reindex POST shape.
fn start_reindex(sh: &Shared, site: &mut SiteState, target: Option<u64>, now: i64) -> Res {
    let mut covered: Vec<u64> = Vec::new();
    let mut by_parent: BTreeMap<u64, std::collections::BTreeSet<u64>> = BTreeMap::new();
    let mut standalone = Vec::new();
    let mut add = |r: &RepoRec| {
        covered.push(r.id);
        if r.integration_id == 0 {
            standalone.push(r.id);
        } else {
            by_parent.entry(r.integration_id).or_default().insert(r.id);
        }
    };
    match target {
        Some(id) if site.integrations.contains_key(&id) => site.repos_of(id).for_each(&mut add),
        Some(id) => match site.repositories.get(&id) {
            Some(r) => add(r),
            None => {
                return Err(err(
                    StatusCode::NOT_FOUND,
                    format!("Repository with id={id} does not exist"),
                    "Please try again with an existing repository id.",
                ));
            }
        },
        None => site.repositories.values().for_each(&mut add),
    }
    for (parent, ids) in by_parent {
        indexing::schedule_reindex(site, parent, &ids, now);
    }
    for id in standalone {
        indexing::schedule_standalone(site, id, now);
    }
    let uuid = documented::uuid_v4();
    {
        let mut t = lock(&sh.threads);
        t.next += 1;
        let number = t.next;
        t.last = Some(number);
        t.by_uuid.insert(
            uuid.clone(),
            Thread {
                number,
                repos: covered,
            },
        );
    }
    after_mutation(sh, site);
    ok_json(json!({"success": true, "finished": false, "threadId": uuid}))
}

/// `POST /rest/gitplugin/2.0/reindex` (`DC/reindex-post-api-gij-self-managed`): body
/// `{"repoId": N, "priority": P}`, both optional.
async fn reindex(State(sh): Sh, body: Bytes) -> Res {
    let v: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            err(
                StatusCode::BAD_REQUEST,
                format!("Invalid JSON body: {e}"),
                "Send {\"repoId\": N, \"priority\": P}, both optional",
            )
        })?
    };
    let int = |k: &str| -> Result<Option<u64>, ApiErr> {
        match v.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(x) => x.as_u64().map(Some).ok_or_else(|| {
                err(
                    StatusCode::BAD_REQUEST,
                    format!("`{k}` must be an integer"),
                    "Send {\"repoId\": N, \"priority\": P}, both optional",
                )
            }),
        }
    };
    let repo = int("repoId")?;
    if int("priority")?.is_some_and(|p| p < 1) {
        return Err(err(
            StatusCode::BAD_REQUEST,
            "`priority` must be 1 or more",
            "The default priority is 24",
        ));
    }
    let (mut site, now) = settled(&sh);
    start_reindex(&sh, &mut site, repo, now)
}

/// The reindex webhook URL of GIJ's webhooks page (`DC/reindex-post-api-gij-self-managed`,
/// "Example with Webhook URL"): the secret names a repository or an integration.
async fn webhook_reindex(State(sh): Sh, Path(secret): Path<String>) -> Res {
    let (mut site, now) = settled(&sh);
    let id = site
        .integrations
        .keys()
        .chain(site.repositories.keys())
        .copied()
        .find(|id| webhook_secret(*id) == secret)
        .ok_or_else(|| {
            err(
                StatusCode::NOT_FOUND,
                "Unknown webhook secret",
                "Copy the webhook URL from the repository's or integration's settings",
            )
        })?;
    start_reindex(&sh, &mut site, Some(id), now)
}

fn repo_body(body: &Bytes) -> Result<Map<String, Value>, ApiErr> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(err(
            StatusCode::BAD_REQUEST,
            "The body must be a JSON object",
            "Send a JSON object with GIJ's repository fields",
        )),
        Err(e) => Err(err(
            StatusCode::BAD_REQUEST,
            format!("Invalid JSON body: {e}"),
            "Send a JSON object with GIJ's repository fields",
        )),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Bool,
    Str,
    Int,
    Ids,
}

/// Repository settings a repository update (or add) may set, with their JSON types
/// (`DC/update-nested-repository-api-gij-self-managed`: the fields not marked read-only).
const REPO_WRITABLE: &[(&str, Kind)] = &[
    ("displayName", Kind::Str),
    ("disabled", Kind::Bool),
    ("sendCommitEmails", Kind::Bool),
    ("maxMinsToCommitEmail", Kind::Int),
    ("global", Kind::Bool),
    ("projectMappingIds", Kind::Ids),
    ("revisionIndexing", Kind::Bool),
    ("gitViewerEnabled", Kind::Bool),
    ("smartCommitsEnabled", Kind::Bool),
    ("webLinkType", Kind::Str),
    ("viewFormat", Kind::Str),
    ("changesetFormat", Kind::Str),
    ("fileAddedFormat", Kind::Str),
    ("fileModifiedFormat", Kind::Str),
    ("fileDeletedFormat", Kind::Str),
    ("mergeRequestFormat", Kind::Str),
    ("branchLinkFormat", Kind::Str),
    ("tagsFilter", Kind::Str),
    ("sourcesDiffViewEnabled", Kind::Bool),
    ("trustFolderStat", Kind::Bool),
    ("refSpecNotes", Kind::Bool),
    ("refSpecChanges", Kind::Bool),
    ("refSpecCustom", Kind::Str),
    ("prHideFilter", Kind::Str),
];

/// What a standalone repository may also set (`DC/update-existing-repository-gij-self-managed`).
const STANDALONE_WRITABLE: &[(&str, Kind)] = &[
    ("origin", Kind::Str),
    ("mainBranch", Kind::Str),
    ("realRoot", Kind::Str),
    ("absoluteRoot", Kind::Bool),
    ("enableFetches", Kind::Bool),
    ("requireUserPat", Kind::Bool),
    ("disableSslVerification", Kind::Bool),
    ("commitsValidationRequired", Kind::Bool),
];

/// The writable fields of a repository body, type-checked; read-only and unknown fields are
/// ignored, as GIJ documents for nested repositories.
fn repo_fields(
    site: &SiteState,
    body: &Map<String, Value>,
    standalone: bool,
) -> Result<Map<String, Value>, ApiErr> {
    let mut out = Map::new();
    let extra: &[(&str, Kind)] = if standalone { STANDALONE_WRITABLE } else { &[] };
    for (k, kind) in REPO_WRITABLE.iter().chain(extra) {
        let Some(v) = body.get(*k) else { continue };
        let ok = match kind {
            Kind::Bool => v.is_boolean(),
            Kind::Str => v.is_string(),
            Kind::Int => v.is_i64(),
            Kind::Ids => v
                .as_array()
                .is_some_and(|a| a.iter().all(serde_json::Value::is_u64)),
        };
        if !ok {
            return Err(err(
                StatusCode::BAD_REQUEST,
                format!("Invalid value for `{k}`"),
                "See the field types on GIJ's repository API pages",
            ));
        }
        out.insert((*k).to_owned(), v.clone());
    }
    let ids: Vec<u64> = out
        .get("projectMappingIds")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    if let Some(bad) = ids.iter().find(|id| !site.project_exists(**id)) {
        return Err(err(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("Unknown Jira project id {bad}"),
            "Use numeric ids from GET /rest/api/2/project",
        ));
    }
    if out.get("global") == Some(&json!(true)) {
        // "If set to true, the projectMappingIds parameter is ignored."
        out.insert("projectMappingIds".into(), json!([]));
    } else if !ids.is_empty() && !out.contains_key("global") {
        out.insert("global".into(), json!(false));
    }
    Ok(out)
}

/// `POST /rest/gitplugin/1.0/repository` (`DC/add-new-repository-gij-self-managed`): a
/// standalone repository; the answer is the bare repository.
async fn add_repository(State(sh): Sh, body: Bytes) -> Res {
    let body = repo_body(&body)?;
    let origin = body
        .get("origin")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .ok_or_else(|| missing("origin", "repository"))?
        .to_owned();
    let (mut site, now) = settled(&sh);
    let mut fields = repo_fields(&site, &body, true)?;
    let name = origin
        .trim_end_matches('/')
        .rsplit(['/', '\\', ':'])
        .next()
        .unwrap_or("repository")
        .trim_end_matches(".git")
        .to_owned();
    let id = site.alloc_id();
    fields.insert("origin".into(), json!(origin));
    let disabled = fields
        .remove("disabled")
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    let main_branch = fields
        .remove("mainBranch")
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "master".to_owned());
    if !fields.contains_key("realRoot") {
        fields.insert("realRoot".into(), json!(format!("{id}_{name}")));
    }
    site.insert_repo(RepoRec {
        id,
        integration_id: 0,
        group: String::new(),
        name,
        commits: 0,
        main_branch,
        fail_indexing: false,
        disabled,
        init_date: now,
        last_indexed_date: None,
        failed: false,
        job: None,
        overrides: fields.into_iter().collect(),
    });
    indexing::schedule_standalone(&mut site, id, now);
    after_mutation(&sh, &site);
    let view = repo_document(&site, &site.repositories[&id], RepoAnswer::Add);
    ok_json(view)
}

/// `PUT /rest/gitplugin/1.0/repository` with `id` in the body
/// (`DC/update-existing-repository-gij-self-managed`, `DC/update-nested-repository-api-gij-self-managed`):
/// a partial update; the answer is the bare repository.
async fn update_repository(State(sh): Sh, body: Bytes) -> Res {
    let body = repo_body(&body)?;
    let id = body.get("id").and_then(Value::as_u64).ok_or_else(|| {
        err(
            StatusCode::BAD_REQUEST,
            "Missing required field `id`",
            "Send the repository id in the body: {\"id\": 3, ...}",
        )
    })?;
    let (mut site, now) = settled(&sh);
    let Some(r) = site.repositories.get(&id) else {
        return Err(err(
            StatusCode::NOT_FOUND,
            format!("Repository with id={id} does not exist"),
            "Please try again with an existing repository id.",
        ));
    };
    let standalone = r.integration_id == 0;
    let mut fields = repo_fields(&site, &body, standalone)?;
    let disabled = fields.remove("disabled").and_then(|v| v.as_bool());
    let branch = fields
        .remove("mainBranch")
        .and_then(|v| v.as_str().map(str::to_owned));
    if let Some(r) = site.repositories.get_mut(&id) {
        if let Some(b) = branch {
            r.main_branch = b;
        }
        r.overrides.extend(fields);
    }
    if let Some(d) = disabled {
        apply_disabled(&mut site, id, d, now);
        if standalone && !d {
            indexing::schedule_standalone(&mut site, id, now);
        }
    }
    after_mutation(&sh, &site);
    ok_json(repo_document(
        &site,
        &site.repositories[&id],
        RepoAnswer::Update,
    ))
}

/// `DELETE /rest/gitplugin/1.0/repository?id=N&deleteFiles=…`
/// (`DC/delete-existing-repository-gij-self-managed`).
async fn delete_repository(State(sh): Sh, RawQuery(q): RawQuery) -> Res {
    let p = params(q.as_deref());
    bool_param(&p, "deleteFiles")?;
    let id = u64_param(&p, "id")?.ok_or_else(|| {
        err(
            StatusCode::BAD_REQUEST,
            "Missing parameter `id`",
            "Send ?id=<repository id>",
        )
    })?;
    let (mut site, now) = settled(&sh);
    if !site.repositories.contains_key(&id) {
        return Err(err(
            StatusCode::NOT_FOUND,
            format!("Repository with id={id} does not exist"),
            "Please try again with an existing repository id.",
        ));
    }
    indexing::cancel(&mut site, id, now);
    site.remove_repo(id);
    after_mutation(&sh, &site);
    ok_json(json!({"success": true}))
}

/// A FILESPACE (tracked folder) integration, as the documented profile creates it: `origin`
/// is a folder path (GIJ's example `D:\\tmp\\*`), `folderDepth` 1–5 (default 1), no
/// credential; its repositories are the catalog's FILESPACE service at that origin, if any.
async fn create_filespace(sh: &Shared, mut b: WriteBody) -> Res {
    let origin = b
        .fields
        .origin
        .as_deref()
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .ok_or_else(|| missing("origin", "FILESPACE"))?
        .to_owned();
    if let Some(d) = b.fields.extra.get("folderDepth")
        && !d.as_u64().is_some_and(|d| (1..=5).contains(&d))
    {
        return Err(err(
            StatusCode::BAD_REQUEST,
            "`folderDepth` must be an integer from 1 to 5",
            "folderDepth is the depth GIJ scans the tracked folder to",
        ));
    }
    let disabled = b.fields.disabled.unwrap_or(false);
    let (mut site, now) = settled(sh);
    check_projects(&site, &mut b.fields)?;
    let mut settings = default_settings();
    let mut given = b.fields;
    strip_to_settings(&mut given);
    merge_settings(&mut settings, &given);
    if settings.display_name.as_deref().is_none_or(str::is_empty) {
        settings.display_name = Some(origin.clone());
    }
    let id = site.alloc_id();
    let end = now + site.scan_ms;
    site.integrations.insert(
        id,
        IntegrationRec {
            id,
            integration_type: "FILESPACE".to_owned(),
            origin,
            group: None,
            auth_method: "NONE".to_owned(),
            credential_sha256: None,
            username: None,
            settings,
            disabled,
            init_date: now,
            scan_done_ms: Some(end),
        },
    );
    site.track_scan(id, end);
    after_mutation(sh, &site);
    let view = integration_answer(
        sh.profile,
        &site,
        &site.integrations[&id],
        now,
        IntegrationAnswer::Create,
    );
    ok_json(json!({"success": "true", "integration": view}))
}

async fn list_projects(State(sh): Sh) -> Res {
    let site = lock(&sh.site);
    let v: Vec<Value> = site
        .projects
        .iter()
        .map(|p| json!({"id": p.id.to_string(), "key": p.key, "name": p.name}))
        .collect();
    ok_json(Value::Array(v))
}

/// Jira DC's `GET /rest/api/2/serverInfo`, with the keys Jira's REST reference shows.
async fn server_info(State(sh): Sh) -> Res {
    let site = lock(&sh.site);
    let now = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S%.3f%z")
        .to_string();
    ok_json(json!({
        "baseUrl": site.server.base_url,
        "version": "9.12.2",
        "versionNumbers": [9, 12, 2],
        "deploymentType": "Server",
        "buildNumber": 912002,
        "buildDate": "2023-11-30T00:00:00.000+0000",
        "serverTime": now,
        "scmInfo": "gijctl-dev-server",
        "serverTitle": site.server.server_title,
    }))
}

// ---------------------------------------------------------------- /_dev/

fn dev_auth(sh: &Shared, headers: &HeaderMap) -> Result<(), ApiErr> {
    match role(sh, headers) {
        Some((Role::Admin, _)) => Ok(()),
        Some((Role::User, _)) => Err(err(
            StatusCode::FORBIDDEN,
            "The /_dev/ endpoints need an admin token",
            "Use the dev-server's admin token",
        )),
        None => Err(unauthorized()),
    }
}

async fn dev_stats(State(sh): Sh, headers: HeaderMap) -> Res {
    dev_auth(&sh, &headers)?;
    ok_json(to_value(&sh.stats()))
}

async fn dev_stats_reset(State(sh): Sh, headers: HeaderMap) -> Res {
    dev_auth(&sh, &headers)?;
    sh.reset_stats();
    ok_json(json!({"success": true}))
}

async fn dev_get_faults(State(sh): Sh, headers: HeaderMap) -> Res {
    dev_auth(&sh, &headers)?;
    let cfg = lock(&sh.faults).config.clone();
    ok_json(to_value(&cfg))
}

fn dev_body<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, ApiErr> {
    serde_json::from_slice(body).map_err(|e| {
        err(
            StatusCode::BAD_REQUEST,
            format!("Invalid JSON body: {e}"),
            "See docs/dev-server.md",
        )
    })
}

async fn dev_put_faults(State(sh): Sh, headers: HeaderMap, body: Bytes) -> Res {
    dev_auth(&sh, &headers)?;
    let cfg: FaultConfig = dev_body(&body)?;
    *lock(&sh.faults) = FaultState::new(cfg);
    ok_json(json!({"success": true}))
}

async fn dev_put_rate_limit(State(sh): Sh, headers: HeaderMap, body: Bytes) -> Res {
    dev_auth(&sh, &headers)?;
    let cfg: RateLimitConfig = dev_body(&body)?;
    *lock(&sh.limiter) = RateLimiter::new(cfg);
    ok_json(json!({"success": true}))
}

async fn dev_advance(State(sh): Sh, headers: HeaderMap, RawQuery(q): RawQuery) -> Res {
    dev_auth(&sh, &headers)?;
    let ms = u64_param(&params(q.as_deref()), "ms")?.ok_or_else(|| {
        err(
            StatusCode::BAD_REQUEST,
            "Missing parameter `ms`",
            "Send ?ms=<virtual milliseconds>",
        )
    })?;
    sh.clock.advance(std::time::Duration::from_millis(ms));
    ok_json(json!({"success": true, "virtualNowMs": sh.clock.now_ms()}))
}

async fn dev_state(State(sh): Sh, headers: HeaderMap) -> Res {
    dev_auth(&sh, &headers)?;
    ok_json(to_value(&sh.snapshot()))
}
