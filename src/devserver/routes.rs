//! HTTP routes: the router and thin handlers for GIJ's documented endpoints, the gijctl
//! extensions, and Jira's project and server-info endpoints.
//!
//! Every `/rest/` request passes `guard` first (statistics, fault injection, authentication,
//! rate limiting). A handler parses the request, locks the site and settles it to the virtual
//! time, calls a rule of `rules` for any change, saves, and answers through `views` in GIJ's
//! JSON shapes (docs/api.md). The `/_dev/` controls are in `admin`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{Method, StatusCode};
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use serde_json::{Map, Value, json};

use super::admin;
use super::catalog::hash_secret;
use super::documented::{self, IntegrationAnswer};
use super::guard::timed;
use super::indexing::{self, integration_status, repo_status};
use super::rules::{self, RuleError, WriteBody};
use super::state::{RepoRec, SiteState};
use super::views::{
    ApiErr, RepoAnswer, Res, Window, err, integration_answer, integration_view, ok_json,
    repo_document, repo_settings, repo_view, to_value,
};
use super::{Profile, Shared, lock};
use crate::api::wire;
use crate::model::normalize_origin;

const GIJ: &str = "/rest/gitplugin/1.0";
pub(super) const INTEGRATIONS: &str = "/rest/gitplugin/1.0/integration";
const REINDEX: &str = "/rest/gitplugin/2.0/reindex";
pub(super) const WEBHOOK: &str = "/rest/gitplugin/webhook/1.0/reindex/{secret}";

pub(super) type Sh = State<Arc<Shared>>;

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
        .route("/_dev/stats", get(admin::dev_stats))
        .route("/_dev/stats/reset", post(admin::dev_stats_reset))
        .route(
            "/_dev/faults",
            get(admin::dev_get_faults).put(admin::dev_put_faults),
        )
        .route("/_dev/rate-limit", put(admin::dev_put_rate_limit))
        .route("/_dev/clock/advance", post(admin::dev_advance))
        .route("/_dev/state", get(admin::dev_state));
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

pub(super) fn params(raw: Option<&str>) -> BTreeMap<String, String> {
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

pub(super) fn u64_param(p: &BTreeMap<String, String>, name: &str) -> Result<Option<u64>, ApiErr> {
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
    let window = Window::new(u64_param(&p, "start")?, u64_param(&p, "limit")?)?;
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
        .ok_or(RuleError::NoIntegration(id))?;
    // GIJ's "Retrieve an Integration" answers with a one-element array and a string success.
    let view = integration_answer(sh.profile, &site, i, now, IntegrationAnswer::Get);
    ok_json(json!({"success": "true", "integration": [view]}))
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

async fn create_integration(State(sh): Sh, body: Bytes) -> Res {
    let b = parse_body(&body)?;
    let (mut site, now) = settled(&sh);
    let id = rules::create_integration(&mut site, b, sh.profile, now)?;
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
    let b = parse_body(&body)?;
    let (mut site, now) = settled(&sh);
    rules::update_integration(&mut site, id, b, now)?;
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
    rules::delete_integration(&mut site, id, now)?;
    after_mutation(&sh, &site);
    tracing::info!(id, "integration deleted");
    ok_json(json!({"success": true}))
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
    rules::set_disabled(&mut site, id, disable, now)?;
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
    let window = Window::new(u64_param(&p, "start")?, u64_param(&p, "limit")?)?;
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
    let covered = rules::start_reindex(site, target, now)?;
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

/// `POST /rest/gitplugin/1.0/repository` (`DC/add-new-repository-gij-self-managed`): a
/// standalone repository; the answer is the bare repository.
async fn add_repository(State(sh): Sh, body: Bytes) -> Res {
    let body = repo_body(&body)?;
    let (mut site, now) = settled(&sh);
    let id = rules::add_repository(&mut site, &body, now)?;
    after_mutation(&sh, &site);
    ok_json(repo_document(
        &site,
        &site.repositories[&id],
        RepoAnswer::Add,
    ))
}

/// `PUT /rest/gitplugin/1.0/repository` with `id` in the body
/// (`DC/update-existing-repository-gij-self-managed`, `DC/update-nested-repository-api-gij-self-managed`):
/// a partial update; the answer is the bare repository.
async fn update_repository(State(sh): Sh, body: Bytes) -> Res {
    let body = repo_body(&body)?;
    let (mut site, now) = settled(&sh);
    let id = rules::update_repository(&mut site, &body, now)?;
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
    rules::delete_repository(&mut site, id, now)?;
    after_mutation(&sh, &site);
    ok_json(json!({"success": true}))
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
