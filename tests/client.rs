//! The HTTP client against a scripted in-test GIJ mock (axum on 127.0.0.1:0): paginated reads,
//! error mapping, retries and rate-limit pauses, dropped connections, the no-duplicate create,
//! redirects, endpoint checks and that the token never shows up in any error.
//!
//! The mock keeps a small GIJ-like state (integrations, repositories, projects), logs every
//! request, and runs a script of one-shot faults matched by method and path. A "dropped
//! connection" is a handler panic: hyper then closes the socket without an answer, exactly what
//! a crashed or cut-off server looks like to the client.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use gijctl::api::client::{Client, ClientConfig};
use gijctl::api::retry::RetryPolicy;
use gijctl::api::wire::{Integration, IntegrationRequest};
use gijctl::api::{ApiError, GijApi};
use gijctl::secret::Secret;
use serde_json::{Value, json};
use tokio::sync::{Barrier, Notify};

const TOKEN: &str = "tok-3f9a-very-secret-admin-token";
const DROP: &str = "mock: drop connection";

/// What the mock does instead of its normal answer, once.
#[derive(Clone)]
enum Fault {
    /// Answer with this status, headers and body.
    Answer(u16, Vec<(&'static str, String)>, String),
    /// Close the connection without answering.
    Drop,
    /// Do the normal work (e.g. apply a create), then close the connection without answering.
    ApplyThenDrop,
    /// Wait, then answer normally (to trigger the client's request timeout).
    Delay(Duration),
}

struct Scripted {
    method: Method,
    path: String,
    fault: Fault,
}

#[derive(Clone, Debug)]
struct Logged {
    method: Method,
    uri: String,
    auth: Option<String>,
    body: String,
    at: Instant,
}

#[derive(Default)]
struct MockState {
    integrations: Vec<Value>,
    repositories: Vec<Value>,
    next_id: u64,
    script: VecDeque<Scripted>,
    log: Vec<Logged>,
}

struct Mock {
    state: Mutex<MockState>,
    /// Whether lists honour `start`/`limit` and carry the pagination keys (the extension).
    paginate: bool,
    /// Whether `GET /integration` honours the `type`/`origin`/`group` filters (the extension).
    filters: bool,
    /// The largest `limit` the mock honours (a server may cap what the client asks for).
    max_limit: u64,
    /// Signalled every time a scripted fault fires.
    fired: Notify,
    /// When set, integration list requests with `start > 0` wait here until all have arrived.
    page_barrier: Option<Barrier>,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
}

struct Server {
    mock: Arc<Mock>,
    base: String,
}

impl Server {
    fn log(&self) -> Vec<Logged> {
        self.mock.state.lock().unwrap().log.clone()
    }
    fn count(&self, method: &Method, path_prefix: &str) -> usize {
        self.log()
            .iter()
            .filter(|l| l.method == *method && l.uri.starts_with(path_prefix))
            .count()
    }
    fn script(&self, method: Method, path: &str, fault: Fault) {
        self.mock.state.lock().unwrap().script.push_back(Scripted {
            method,
            path: path.to_owned(),
            fault,
        });
    }
    fn integrations(&self) -> Vec<Value> {
        self.mock.state.lock().unwrap().integrations.clone()
    }
}

fn quiet_drop_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let msg = info
                .payload()
                .downcast_ref::<&str>()
                .copied()
                .unwrap_or_default();
            if msg != DROP {
                previous(info);
            }
        }));
    });
}

struct Builder {
    integrations: usize,
    repositories: usize,
    paginate: bool,
    filters: bool,
    page_barrier: Option<usize>,
    max_limit: u64,
}

impl Builder {
    fn new() -> Builder {
        Builder {
            integrations: 3,
            repositories: 4,
            paginate: true,
            filters: true,
            page_barrier: None,
            max_limit: 1000,
        }
    }

    async fn start(self) -> Server {
        quiet_drop_panics();
        let mut st = MockState::default();
        for i in 1..=self.integrations as u64 {
            st.integrations.push(json!({
                "id": i, "displayName": format!("GitHub {i}"), "origin": "https://api.github.com",
                "integrationType": "GITHUB", "group": format!("org{i}"), "disabled": false,
                "global": true, "projectMappingIds": [], "requireUserPat": false
            }));
        }
        for r in 0..self.repositories as u64 {
            let parent = 1 + r % (self.integrations.max(1) as u64);
            st.repositories.push(json!({
                "id": 1000 + r, "displayName": format!("repo-{r}"), "group": format!("org{parent}"),
                "disabled": false, "trackedFolderId": parent, "integrationType": "GITHUB",
                "state": "UPDATED"
            }));
        }
        // A standalone repository (no parent integration): not part of the live site.
        st.repositories
            .push(json!({"id": 5000, "displayName": "plain", "disabled": false}));
        st.next_id = 10_000;
        let mock = Arc::new(Mock {
            state: Mutex::new(st),
            paginate: self.paginate,
            filters: self.filters,
            max_limit: self.max_limit,
            fired: Notify::new(),
            page_barrier: self.page_barrier.map(Barrier::new),
            in_flight: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        });
        let app = Router::new().fallback(handle).with_state(mock.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Server {
            mock,
            base: format!("http://{addr}"),
        }
    }
}

fn json_answer(status: u16, body: Value) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn not_found(what: &str) -> Response {
    json_answer(
        404,
        json!({"success": false, "error": format!("{what} does not exist"),
               "advice": "Please try again with an existing id."}),
    )
}

fn query_map(uri: &Uri) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

fn norm(o: &str) -> String {
    o.trim_end_matches('/').to_ascii_lowercase()
}

fn list_answer(mock: &Mock, key: &str, items: Vec<Value>, q: &BTreeMap<String, String>) -> Value {
    if !mock.paginate {
        return json!({"success": true, key: items});
    }
    let total = items.len() as u64;
    let start: u64 = q.get("start").and_then(|s| s.parse().ok()).unwrap_or(0);
    let limit: u64 = q
        .get("limit")
        .and_then(|s| s.parse().ok())
        .unwrap_or(total.max(1))
        .min(mock.max_limit);
    let page: Vec<Value> = items
        .into_iter()
        .skip(start as usize)
        .take(limit as usize)
        .collect();
    let size = page.len() as u64;
    let last = start + size >= total;
    let mut v = json!({"success": true, key: page, "start": start, "limit": limit, "size": size,
                       "total": total, "isLastPage": last});
    if !last {
        v["nextPageStart"] = json!(start + size);
    }
    v
}

struct InFlight<'a>(&'a Mock);
impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn handle(
    State(mock): State<Arc<Mock>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = mock.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    mock.peak.fetch_max(now, Ordering::SeqCst);
    let _guard = InFlight(&mock);
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let path = uri.path().to_owned();
    let fault = {
        let mut st = mock.state.lock().unwrap();
        st.log.push(Logged {
            method: method.clone(),
            uri: uri.to_string(),
            auth: auth.clone(),
            body: String::from_utf8_lossy(&body).into_owned(),
            at: Instant::now(),
        });
        let pos = st
            .script
            .iter()
            .position(|s| s.method == method && path == s.path);
        pos.and_then(|p| st.script.remove(p)).map(|s| s.fault)
    };
    if fault.is_some() {
        mock.fired.notify_one();
    }
    match fault {
        Some(Fault::Answer(status, hdrs, body)) => {
            let mut resp = (StatusCode::from_u16(status).unwrap(), body).into_response();
            for (k, v) in hdrs {
                resp.headers_mut().insert(k, v.parse().unwrap());
            }
            return resp;
        }
        Some(Fault::Drop) => panic!("{}", DROP),
        Some(Fault::Delay(d)) => tokio::time::sleep(d).await,
        Some(Fault::ApplyThenDrop) | None => {}
    }
    if auth.as_deref() != Some(&format!("Bearer {TOKEN}")) {
        return json_answer(
            401,
            json!({"success": false, "error": "Authentication required"}),
        );
    }
    let answer = route(&mock, &method, &uri, &body).await;
    if matches!(fault, Some(Fault::ApplyThenDrop)) {
        panic!("{}", DROP);
    }
    answer
}

async fn route(mock: &Mock, method: &Method, uri: &Uri, body: &Bytes) -> Response {
    let q = query_map(uri);
    let path = uri.path();
    let gij = "/rest/gitplugin/1.0/";
    if path == "/rest/api/2/serverInfo" && method == Method::GET {
        return json_answer(
            200,
            json!({"baseUrl": "https://jira.example.com", "serverTitle": "Mock Jira",
                   "version": "9.12.2", "deploymentType": "Server"}),
        );
    }
    if path == "/rest/api/2/project" && method == Method::GET {
        return json_answer(
            200,
            json!([{"id": "10000", "key": "OPS", "name": "Operations"},
                   {"id": "10001", "key": "WEB", "name": "Web"}]),
        );
    }
    let Some(rest) = path.strip_prefix(gij) else {
        return not_found("resource");
    };
    let segments: Vec<&str> = rest.split('/').collect();
    match (method.clone(), segments.as_slice()) {
        (Method::GET, ["integration"]) => {
            if let (Some(b), Some(start)) = (&mock.page_barrier, q.get("start"))
                && start != "0"
            {
                b.wait().await;
            }
            let mut items = mock.state.lock().unwrap().integrations.clone();
            if mock.filters {
                items.retain(|i| {
                    q.get("type")
                        .is_none_or(|t| i["integrationType"] == json!(t))
                        && q.get("origin")
                            .is_none_or(|o| i["origin"].as_str().map(norm) == Some(norm(o)))
                        && q.get("group").is_none_or(|g| i["group"] == json!(g))
                });
            }
            json_answer(200, list_answer(mock, "integrations", items, &q))
        }
        (Method::GET, ["repository"]) => {
            let mut items = mock.state.lock().unwrap().repositories.clone();
            if mock.filters
                && let Some(t) = q.get("trackedFolderId")
            {
                let t: u64 = t.parse().unwrap();
                items.retain(|r| r["trackedFolderId"] == json!(t));
            }
            json_answer(200, list_answer(mock, "repositories", items, &q))
        }
        (Method::POST, ["integration"]) => {
            let req: Value = serde_json::from_slice(body).unwrap();
            if req["authMethod"] == json!("OAUTH") {
                return json_answer(
                    422,
                    json!({"success": false,
                           "error": "OAuth integrations cannot be created through the API",
                           "advice": "Create it in the browser, then run gijctl again."}),
                );
            }
            let mut st = mock.state.lock().unwrap();
            st.next_id += 1;
            let id = st.next_id;
            let mut i = req.clone();
            let obj = i.as_object_mut().unwrap();
            obj.remove("pat");
            let ty = obj.remove("type").unwrap_or(json!("GITHUB"));
            obj.insert("integrationType".into(), ty);
            obj.entry("origin")
                .or_insert(json!("https://api.github.com"));
            obj.insert("id".into(), json!(id));
            st.integrations.push(i.clone());
            json_answer(200, json!({"success": "true", "integration": i}))
        }
        (m, ["integration", id]) => {
            let id: u64 = id.parse().unwrap();
            let mut st = mock.state.lock().unwrap();
            let pos = st.integrations.iter().position(|i| i["id"] == json!(id));
            let Some(pos) = pos else {
                return not_found(&format!("Integration with id={id}"));
            };
            match m {
                Method::GET => json_answer(
                    200,
                    json!({"success": "true", "integration": [st.integrations[pos].clone()]}),
                ),
                Method::PUT => {
                    let patch: Value = serde_json::from_slice(body).unwrap();
                    for (k, v) in patch.as_object().unwrap() {
                        st.integrations[pos][k] = v.clone();
                    }
                    json_answer(
                        200,
                        json!({"success": true, "integration": st.integrations[pos].clone()}),
                    )
                }
                Method::DELETE => {
                    st.integrations.remove(pos);
                    json_answer(200, json!({"success": true}))
                }
                _ => json_answer(
                    405,
                    json!({"success": false, "error": "method not allowed"}),
                ),
            }
        }
        (Method::PUT, ["repository", id, "disable"]) => {
            let id: u64 = id.parse().unwrap();
            let disable = q.get("disable").map(String::as_str) == Some("true");
            let mut guard = mock.state.lock().unwrap();
            let st = &mut *guard;
            let found = st
                .integrations
                .iter_mut()
                .chain(st.repositories.iter_mut())
                .find(|x| x["id"] == json!(id));
            match found {
                Some(x) => {
                    x["disabled"] = json!(disable);
                    json_answer(200, json!({"success": true}))
                }
                None => not_found(&format!("Repository with id={id}")),
            }
        }
        _ => not_found("resource"),
    }
}

fn fast_policy(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(4),
        max_total: Duration::from_secs(20),
    }
}

fn config(base: &str) -> ClientConfig {
    let mut c = ClientConfig::new(base, Secret::new(TOKEN.into()));
    c.retry = fast_policy(4);
    c.request_timeout = Duration::from_secs(10);
    c
}

fn client(server: &Server) -> Client {
    Client::new(config(&server.base)).unwrap()
}

/// Asserts that neither the message chain nor the Debug form of an error shows the token.
fn assert_no_token(e: &ApiError) {
    let mut text = format!("{e:?}");
    let mut src: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = src {
        text.push_str(&s.to_string());
        src = s.source();
    }
    assert!(!text.contains(TOKEN), "token leaked: {text}");
    assert!(!text.contains("3f9a"), "token fragment leaked: {text}");
}

fn github_request(group: &str, name: &str) -> IntegrationRequest {
    IntegrationRequest {
        integration_type: Some("GITHUB".into()),
        fields: Integration {
            origin: Some("https://API.github.com/".into()),
            group: Some(group.into()),
            display_name: Some(name.into()),
            disabled: Some(true),
            ..Default::default()
        },
        pat: Some(Secret::new("dev-github-token".into())),
        ..Default::default()
    }
}

#[tokio::test]
async fn full_read_paginates_concurrently_without_repeats() {
    let server = Builder {
        integrations: 23,
        repositories: 57,
        // Pages 2–5 of the integrations must be in flight together or this test hangs.
        page_barrier: Some(4),
        ..Builder::new()
    }
    .start()
    .await;
    let mut cfg = config(&server.base);
    cfg.integration_page_size = 5;
    cfg.repository_page_size = 10;
    cfg.max_concurrency = 12;
    let c = Client::new(cfg).unwrap();
    let site = tokio::time::timeout(Duration::from_secs(20), c.read_site())
        .await
        .expect("later pages were not fetched concurrently")
        .unwrap();
    assert_eq!(site.projects.len(), 2);
    assert_eq!(site.projects[0].id, Some(10000));
    let ids: Vec<u64> = site.integrations.iter().map(|i| i.id.unwrap()).collect();
    assert_eq!(ids, (1..=23).collect::<Vec<_>>());
    // 57 nested repositories; the standalone one is not part of the live site.
    assert_eq!(site.repositories.len(), 57);
    assert!(
        site.repositories
            .iter()
            .all(|r| r.tracked_folder_id.is_some())
    );
    let log = server.log();
    // 1 server-info and 1 project request, ceil(23/5)=5 integration pages, ceil(58/10)=6
    // repository pages.
    assert_eq!(log.len(), 2 + 5 + 6, "{log:#?}");
    let distinct: BTreeSet<&str> = log.iter().map(|l| l.uri.as_str()).collect();
    assert_eq!(distinct.len(), log.len(), "a request was repeated");
    assert!(
        log.iter()
            .all(|l| l.auth.as_deref() == Some(&*format!("Bearer {TOKEN}")))
    );
    assert!(distinct.contains("/rest/gitplugin/1.0/integration?start=0&limit=5"));
    assert!(distinct.contains("/rest/gitplugin/1.0/repository?start=50&limit=10"));
    let stats = c.stats();
    assert_eq!(stats.requests, 13);
    assert_eq!(stats.retries, 0);
}

#[tokio::test]
async fn pages_follow_a_server_that_caps_the_limit() {
    let server = Builder {
        integrations: 10,
        repositories: 3,
        max_limit: 4,
        ..Builder::new()
    }
    .start()
    .await;
    let c = client(&server);
    let site = c.read_site().await.unwrap();
    let ids: Vec<u64> = site.integrations.iter().map(|i| i.id.unwrap()).collect();
    assert_eq!(ids, (1..=10).collect::<Vec<_>>());
    let uris: Vec<String> = server
        .log()
        .into_iter()
        .map(|l| l.uri)
        .filter(|u| u.contains("/integration?"))
        .collect();
    assert_eq!(uris.len(), 3, "{uris:?}");
    assert!(
        uris.iter().any(|u| u.ends_with("start=8&limit=500")),
        "{uris:?}"
    );
}

#[tokio::test]
async fn concurrency_is_bounded() {
    let server = Builder {
        integrations: 40,
        repositories: 40,
        ..Builder::new()
    }
    .start()
    .await;
    let mut cfg = config(&server.base);
    cfg.integration_page_size = 2;
    cfg.repository_page_size = 2;
    cfg.max_concurrency = 2;
    let c = Client::new(cfg).unwrap();
    let site = c.read_site().await.unwrap();
    assert_eq!(site.integrations.len(), 40);
    assert!(server.mock.peak.load(Ordering::SeqCst) <= 2);
    assert_eq!(server.log().len(), 2 + 20 + 21);
}

#[tokio::test]
async fn server_without_pagination_is_read_in_one_request_per_list() {
    let server = Builder {
        integrations: 7,
        repositories: 30,
        paginate: false,
        filters: false,
        ..Builder::new()
    }
    .start()
    .await;
    let mut cfg = config(&server.base);
    cfg.integration_page_size = 2;
    cfg.repository_page_size = 2;
    let c = Client::new(cfg).unwrap();
    let site = c.read_site().await.unwrap();
    assert_eq!(site.integrations.len(), 7);
    assert_eq!(site.repositories.len(), 30);
    assert_eq!(server.log().len(), 4);
    // Without server-side filtering the client filters per integration itself.
    let repos = c.list_repositories(2).await.unwrap();
    assert!(!repos.is_empty());
    assert!(repos.iter().all(|r| r.tracked_folder_id == Some(2)));
    assert_eq!(server.log().len(), 5);
}

#[tokio::test]
async fn error_statuses_map_to_typed_errors() {
    let server = Builder::new().start().await;
    let c = client(&server);
    let p = "/rest/gitplugin/1.0/integration/1";
    let err_body =
        |e: &str, a: &str| json!({"success": false, "error": e, "advice": a}).to_string();

    server.script(Method::GET, p, Fault::Answer(401, vec![], String::new()));
    let e = c.get_integration(1).await.unwrap_err();
    assert!(matches!(e, ApiError::Unauthorized { .. }), "{e:?}");
    assert!(e.to_string().contains("GIJ_TOKEN"), "{e}");
    assert_no_token(&e);

    server.script(
        Method::GET,
        p,
        Fault::Answer(403, vec![], err_body("no", "")),
    );
    let e = c.get_integration(1).await.unwrap_err();
    assert!(matches!(e, ApiError::Forbidden { .. }), "{e:?}");
    assert!(e.to_string().contains("not a Jira administrator"), "{e}");

    // 404 on a read is "does not exist", on an update an error naming what was missing.
    assert!(c.get_integration(77).await.unwrap().is_none());
    let e = c
        .update_integration(77, &IntegrationRequest::default())
        .await
        .unwrap_err();
    assert!(matches!(e, ApiError::NotFound { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("integration 77 does not exist"), "{msg}");
    assert!(
        msg.contains("Integration with id=77 does not exist"),
        "{msg}"
    );
    assert!(msg.contains("PUT http://127.0.0.1:"), "{msg}");

    server.script(
        Method::DELETE,
        p,
        Fault::Answer(409, vec![], err_body("indexing in progress", "wait")),
    );
    let e = c.delete_integration(1).await.unwrap_err();
    assert!(matches!(e, ApiError::Conflict { .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains("indexing in progress (advice: wait)")
    );

    let mut oauth = github_request("acme", "GitHub · acme");
    oauth.fields.auth_method = Some("OAUTH".into());
    let e = c.create_integration(&oauth).await.unwrap_err();
    match &e {
        ApiError::Unprocessable { error, advice, .. } => {
            assert_eq!(
                error,
                "OAuth integrations cannot be created through the API"
            );
            assert_eq!(
                advice.as_deref(),
                Some("Create it in the browser, then run gijctl again.")
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("(advice: Create it in the browser"));

    server.script(
        Method::GET,
        p,
        Fault::Answer(400, vec![], err_body("bad id", "")),
    );
    let e = c.get_integration(1).await.unwrap_err();
    assert!(matches!(e, ApiError::Status { status: 400, .. }), "{e:?}");

    // A 200 that says success=false is a failure too.
    server.script(
        Method::GET,
        p,
        Fault::Answer(200, vec![], err_body("Integration is broken", "")),
    );
    let e = c.get_integration(1).await.unwrap_err();
    assert!(matches!(e, ApiError::Unsuccessful { .. }), "{e:?}");
    assert!(e.to_string().contains("Integration is broken"));

    // 5xx is retried; after the limit the last error is kept as the source.
    for _ in 0..4 {
        server.script(
            Method::GET,
            p,
            Fault::Answer(502, vec![], err_body("upstream", "")),
        );
    }
    let e = c.get_integration(1).await.unwrap_err();
    match &e {
        ApiError::GaveUp { attempts, last, .. } => {
            assert_eq!(*attempts, 4);
            assert!(
                matches!(**last, ApiError::Server { status: 502, .. }),
                "{last:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(e.status(), Some(502));
    assert_no_token(&e);
}

#[tokio::test]
async fn retries_503_and_500_then_succeeds() {
    let server = Builder::new().start().await;
    let c = client(&server);
    let p = "/rest/gitplugin/1.0/integration/2";
    server.script(
        Method::GET,
        p,
        Fault::Answer(503, vec![("retry-after-ms", "3".into())], String::new()),
    );
    server.script(Method::GET, p, Fault::Answer(500, vec![], "oops".into()));
    let i = c.get_integration(2).await.unwrap().unwrap();
    assert_eq!(i.id, Some(2));
    assert_eq!(server.count(&Method::GET, p), 3);
    let s = c.stats();
    assert_eq!((s.requests, s.retries, s.rate_limited), (3, 2, 0));
    assert!(s.total_wait >= Duration::from_millis(3));
}

#[tokio::test]
async fn gives_up_after_the_attempt_limit() {
    let server = Builder::new().start().await;
    let mut cfg = config(&server.base);
    cfg.retry = fast_policy(3);
    let c = Client::new(cfg).unwrap();
    let p = "/rest/gitplugin/1.0/integration/2";
    for _ in 0..5 {
        server.script(Method::GET, p, Fault::Answer(500, vec![], "boom".into()));
    }
    let e = c.get_integration(2).await.unwrap_err();
    assert!(matches!(e, ApiError::GaveUp { attempts: 3, .. }), "{e:?}");
    assert!(e.to_string().contains("gave up after 3 attempts"), "{e}");
    assert_eq!(server.count(&Method::GET, p), 3);
}

#[tokio::test]
async fn total_time_budget_bounds_server_directed_waits() {
    let server = Builder::new().start().await;
    let mut cfg = config(&server.base);
    cfg.retry.max_total = Duration::from_millis(500);
    let c = Client::new(cfg).unwrap();
    let p = "/rest/gitplugin/1.0/integration/2";
    // Asking for an hour cannot be honoured within the budget: fail now, do not hang.
    server.script(
        Method::GET,
        p,
        Fault::Answer(429, vec![("retry-after", "3600".into())], String::new()),
    );
    let started = Instant::now();
    let e = c.get_integration(2).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(e.status(), Some(429));
    assert_eq!(server.count(&Method::GET, p), 1);
}

#[tokio::test]
async fn rate_limit_pause_is_shared_by_all_requests() {
    let server = Builder::new().start().await;
    let c = client(&server);
    let pause = Duration::from_millis(400);
    let p1 = "/rest/gitplugin/1.0/integration/1";
    server.script(
        Method::GET,
        p1,
        Fault::Answer(
            429,
            vec![
                ("retry-after-ms", pause.as_millis().to_string()),
                ("retry-after", "30".into()),
            ],
            json!({"success": false, "error": "rate limited"}).to_string(),
        ),
    );
    let a = {
        let c = c.clone();
        tokio::spawn(async move { c.get_integration(1).await })
    };
    server.mock.fired.notified().await;
    // The client counts the 429 once its pause is in place.
    while c.stats().rate_limited == 0 {
        tokio::task::yield_now().await;
    }
    let t429 = server.log()[0].at;
    // A different request, issued while the pause is running, must wait for it too.
    let issued = Instant::now();
    let b = c.get_integration(2).await.unwrap().unwrap();
    assert_eq!(b.id, Some(2));
    assert!(a.await.unwrap().unwrap().is_some());
    assert!(
        issued < t429 + pause,
        "the second request was issued too late"
    );
    let log = server.log();
    assert_eq!(log.len(), 3);
    for l in &log[1..] {
        assert!(
            l.at >= t429 + pause,
            "{} arrived {:?} after the 429, inside the {pause:?} pause",
            l.uri,
            l.at - t429
        );
    }
    let s = c.stats();
    assert_eq!(s.rate_limited, 1);
    assert_eq!(s.retries, 1);
    // Both requests waited (Retry-After-Ms was preferred over Retry-After: 30 s).
    assert!(s.total_wait >= pause, "{s:?}");
    assert!(s.total_wait < Duration::from_secs(10), "{s:?}");
}

#[tokio::test]
async fn dropped_connection_is_retried_for_reads() {
    let server = Builder::new().start().await;
    let c = client(&server);
    let p = "/rest/gitplugin/1.0/integration/3";
    server.script(Method::GET, p, Fault::Drop);
    let i = c.get_integration(3).await.unwrap().unwrap();
    assert_eq!(i.id, Some(3));
    assert_eq!(server.count(&Method::GET, p), 2);
    assert_eq!(c.stats().retries, 1);
}

#[tokio::test]
async fn request_timeout_is_retried_for_reads() {
    let server = Builder::new().start().await;
    let mut cfg = config(&server.base);
    cfg.request_timeout = Duration::from_millis(300);
    let c = Client::new(cfg).unwrap();
    let p = "/rest/gitplugin/1.0/integration/3";
    server.script(Method::GET, p, Fault::Delay(Duration::from_secs(5)));
    let i = c.get_integration(3).await.unwrap().unwrap();
    assert_eq!(i.id, Some(3));
    assert_eq!(server.count(&Method::GET, p), 2);
}

#[tokio::test]
async fn lost_create_answer_is_adopted_not_duplicated() {
    let server = Builder::new().start().await;
    let c = client(&server);
    let post = "/rest/gitplugin/1.0/integration";
    server.script(Method::POST, post, Fault::ApplyThenDrop);
    let created = c
        .create_integration(&github_request("acme", "GitHub · acme"))
        .await
        .unwrap();
    let matching: Vec<Value> = server
        .integrations()
        .into_iter()
        .filter(|i| i["group"] == json!("acme"))
        .collect();
    assert_eq!(matching.len(), 1, "{matching:#?}");
    assert_eq!(created.id, matching[0]["id"].as_u64());
    assert_eq!(created.display_name.as_deref(), Some("GitHub · acme"));
    assert_eq!(server.count(&Method::POST, post), 1);
    assert_eq!(c.stats().adopted_creates, 1);
    // The lookups used the server-side filter with the normalised origin.
    assert!(server.log().iter().any(|l| l.method == Method::GET
        && l.uri.contains("type=GITHUB")
        && l.uri.contains("origin=https%3A%2F%2Fapi.github.com")
        && l.uri.contains("group=acme")));
}

#[tokio::test]
async fn lost_create_adoption_works_when_the_server_ignores_filters() {
    let server = Builder {
        filters: false,
        paginate: false,
        ..Builder::new()
    }
    .start()
    .await;
    let c = client(&server);
    let post = "/rest/gitplugin/1.0/integration";
    // An integration of the same type for another group exists before: the lookup, which the
    // server does not filter, must not adopt it.
    let old = c
        .create_integration(&github_request("other", "GitHub · other"))
        .await
        .unwrap();
    server.script(Method::POST, post, Fault::ApplyThenDrop);
    let created = c
        .create_integration(&github_request("acme", "GitHub · acme"))
        .await
        .unwrap();
    let acme: Vec<Value> = server
        .integrations()
        .into_iter()
        .filter(|i| i["group"] == json!("acme"))
        .collect();
    assert_eq!(acme.len(), 1);
    assert_ne!(created.id, old.id);
    assert_eq!(created.id, acme[0]["id"].as_u64());
    assert_eq!(server.count(&Method::POST, post), 2);
}

#[tokio::test]
async fn create_refuses_when_the_integration_already_exists() {
    let server = Builder::new().start().await;
    let c = client(&server);
    let post = "/rest/gitplugin/1.0/integration";
    c.create_integration(&github_request("acme", "GitHub · acme"))
        .await
        .unwrap();
    // Planned as a create, but someone (a concurrent apply) made it meanwhile.
    let err = c
        .create_integration(&github_request("acme", "GitHub · acme"))
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::AlreadyExists { .. }), "{err:?}");
    assert!(err.to_string().contains("another apply"), "{err}");
    assert_eq!(server.count(&Method::POST, post), 1);
}

#[tokio::test]
async fn create_dropped_before_it_applied_is_posted_again_once() {
    let server = Builder::new().start().await;
    let c = client(&server);
    let post = "/rest/gitplugin/1.0/integration";
    server.script(Method::POST, post, Fault::Drop);
    let created = c
        .create_integration(&github_request("acme", "GitHub · acme"))
        .await
        .unwrap();
    let acme: Vec<Value> = server
        .integrations()
        .into_iter()
        .filter(|i| i["group"] == json!("acme"))
        .collect();
    assert_eq!(acme.len(), 1);
    assert_eq!(created.id, acme[0]["id"].as_u64());
    assert_eq!(server.count(&Method::POST, post), 2);
    assert_eq!(c.stats().adopted_creates, 0);
}

#[tokio::test]
async fn create_5xx_is_looked_up_and_429_is_simply_retried() {
    let server = Builder::new().start().await;
    let c = client(&server);
    let post = "/rest/gitplugin/1.0/integration";
    // A 500 may or may not have applied: the client looks (nothing) and posts again.
    server.script(
        Method::POST,
        post,
        Fault::Answer(500, vec![], String::new()),
    );
    c.create_integration(&github_request("a", "A"))
        .await
        .unwrap();
    assert_eq!(server.count(&Method::POST, post), 2);
    // A 429 means not applied: the POST is repeated after the wait, without a lookup.
    let gets_before = server.count(&Method::GET, post);
    server.script(
        Method::POST,
        post,
        Fault::Answer(429, vec![("retry-after-ms", "2".into())], String::new()),
    );
    c.create_integration(&github_request("b", "B"))
        .await
        .unwrap();
    assert_eq!(server.count(&Method::POST, post), 4);
    // Only the pre-create snapshot and the post-create duplicate check were read.
    assert_eq!(server.count(&Method::GET, post), gets_before + 2);
    let groups: Vec<Value> = server
        .integrations()
        .iter()
        .map(|i| i["group"].clone())
        .collect();
    assert_eq!(groups.iter().filter(|g| **g == json!("a")).count(), 1);
    assert_eq!(groups.iter().filter(|g| **g == json!("b")).count(), 1);
    assert_eq!(c.stats().rate_limited, 1);
}

#[tokio::test]
async fn html_login_page_is_a_clear_decode_error() {
    let server = Builder::new().start().await;
    let c = client(&server);
    server.script(
        Method::GET,
        "/rest/api/2/project",
        Fault::Answer(
            200,
            vec![("content-type", "text/html;charset=UTF-8".into())],
            "<!DOCTYPE html>\n<html><head><title>Log in - Jira</title></head><body>login</body></html>"
                .repeat(50),
        ),
    );
    let e = c.read_site().await.unwrap_err();
    assert!(matches!(e, ApiError::Decode { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("the server answered HTML, not JSON: is the URL the Jira base URL and is the token valid?"),
        "{msg}"
    );
    assert!(msg.contains("page title `Log in - Jira`"), "{msg}");
    assert!(msg.len() < 600, "the body prefix is not short: {msg}");
    assert!(!msg.contains('\n'));
}

#[tokio::test]
async fn same_origin_redirect_is_followed_cross_origin_is_refused() {
    let server = Builder::new().start().await;
    let other = Builder::new().start().await;
    let c = client(&server);
    let p = "/rest/gitplugin/1.0/integration/1";
    server.script(
        Method::GET,
        p,
        Fault::Answer(
            307,
            vec![("location", "/rest/gitplugin/1.0/integration/2".into())],
            String::new(),
        ),
    );
    assert_eq!(c.get_integration(1).await.unwrap().unwrap().id, Some(2));

    server.script(
        Method::GET,
        p,
        Fault::Answer(
            302,
            vec![(
                "location",
                format!("{}/rest/gitplugin/1.0/integration/1", other.base),
            )],
            String::new(),
        ),
    );
    let e = c.get_integration(1).await.unwrap_err();
    match &e {
        ApiError::Redirect { location, .. } => assert_eq!(location, &other.base),
        other => panic!("{other:?}"),
    }
    assert_no_token(&e);
    assert!(other.log().is_empty(), "the other host was contacted");
    // Not retried: a redirect is not transient.
    assert_eq!(server.count(&Method::GET, p), 2);
}

#[tokio::test]
async fn endpoints_are_checked() {
    for bad in ["http://jira.example.com", "http://192.168.1.10:8080/jira"] {
        let e = Client::new(config(bad)).unwrap_err();
        assert!(matches!(e, ApiError::Endpoint(_)), "{e:?}");
        assert!(e.to_string().contains("plain http"), "{e}");
    }
    let e = Client::new(config(&format!("https://admin:{TOKEN}@jira.example.com"))).unwrap_err();
    assert_no_token(&e);
    assert!(Client::new(config("https://jira.example.com/jira")).is_ok());
    assert!(Client::new(config("http://[::1]:9/")).is_ok());
    let mut cfg = config("https://jira.example.com");
    cfg.integration_page_size = 5000;
    assert!(matches!(
        Client::new(cfg).unwrap_err(),
        ApiError::InvalidConfig(_)
    ));
}

#[tokio::test]
async fn context_path_is_kept_in_every_request() {
    let server = Builder::new().start().await;
    let c = Client::new(config(&format!("{}/jira", server.base))).unwrap();
    // The mock serves at the root, so everything under /jira is a 404 with GIJ's error body.
    let e = c.list_repositories(1).await.unwrap_err();
    assert!(matches!(e, ApiError::NotFound { .. }), "{e:?}");
    assert!(
        e.to_string().contains("Git Integration for Jira installed"),
        "{e}"
    );
    assert_eq!(
        server.log()[0].uri,
        "/jira/rest/gitplugin/1.0/repository?trackedFolderId=1&start=0&limit=1000"
    );
}

#[tokio::test]
async fn writes_use_gij_paths_and_send_only_set_fields() {
    let server = Builder::new().start().await;
    let c = client(&server);
    let patch = IntegrationRequest {
        fields: Integration {
            require_user_pat: Some(true),
            display_name: Some("Renamed".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let i = c.update_integration(2, &patch).await.unwrap();
    assert_eq!(i.display_name.as_deref(), Some("Renamed"));
    assert_eq!(i.require_user_pat, Some(true));
    c.set_disabled(1001, true).await.unwrap();
    c.set_disabled(3, false).await.unwrap();
    c.delete_integration(1).await.unwrap();
    let log = server.log();
    let lines: Vec<String> = log
        .iter()
        .map(|l| format!("{} {}", l.method, l.uri))
        .collect();
    assert_eq!(
        lines,
        vec![
            "PUT /rest/gitplugin/1.0/integration/2",
            "PUT /rest/gitplugin/1.0/repository/1001/disable?disable=true",
            "PUT /rest/gitplugin/1.0/repository/3/disable?disable=false",
            "DELETE /rest/gitplugin/1.0/integration/1?deleteFiles=false",
        ]
    );
    let sent: Value = serde_json::from_str(&log[0].body).unwrap();
    assert_eq!(
        sent,
        json!({"displayName": "Renamed", "requireUserPat": true})
    );
    assert!(server.integrations().iter().all(|i| i["id"] != json!(1)));
}

#[tokio::test]
async fn delete_whose_answer_was_lost_counts_as_done() {
    let server = Builder::new().start().await;
    let c = client(&server);
    let p = "/rest/gitplugin/1.0/integration/2";
    server.script(Method::DELETE, p, Fault::ApplyThenDrop);
    c.delete_integration(2).await.unwrap();
    assert_eq!(server.count(&Method::DELETE, p), 2);
    // A plain 404 on the first attempt is still an error.
    let e = c.delete_integration(99).await.unwrap_err();
    assert!(e.is_not_found(), "{e:?}");
}

#[tokio::test]
async fn token_is_masked_even_when_the_server_echoes_it() {
    let server = Builder::new().start().await;
    let c = client(&server);
    let p = "/rest/gitplugin/1.0/integration/1";
    server.script(
        Method::GET,
        p,
        Fault::Answer(
            400,
            vec![],
            json!({"success": false, "error": format!("bad header Bearer {TOKEN}")}).to_string(),
        ),
    );
    let e = c.get_integration(1).await.unwrap_err();
    assert_no_token(&e);
    assert!(e.to_string().contains("Bearer [redacted]"), "{e}");
    server.script(
        Method::GET,
        p,
        Fault::Answer(200, vec![], format!("<html>{TOKEN}</html>")),
    );
    let e = c.get_integration(1).await.unwrap_err();
    assert_no_token(&e);
    let debug = format!("{c:?}");
    assert!(!debug.contains(TOKEN), "{debug}");
    assert!(debug.contains(&server.base), "{debug}");
}

#[tokio::test]
async fn wrong_token_is_unauthorized_and_not_retried() {
    let server = Builder::new().start().await;
    let mut cfg = config(&server.base);
    cfg.token = Secret::new("some-other-token".into());
    let c = Client::new(cfg).unwrap();
    let e = c.read_site().await.unwrap_err();
    assert!(matches!(e, ApiError::Unauthorized { .. }), "{e:?}");
    assert!(!e.to_string().contains("some-other-token"));
    assert!(c.stats().retries == 0);
}

#[tokio::test]
async fn from_env_reads_the_token_reference() {
    let server = Builder::new().start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token");
    std::fs::write(&path, format!("{TOKEN}\n")).unwrap();
    let c = Client::from_env(
        Some(&server.base),
        Some(&format!("file:{}", path.display())),
    )
    .unwrap();
    assert_eq!(c.get_integration(1).await.unwrap().unwrap().id, Some(1));

    // A literal token given as the reference is refused without being echoed.
    let e = Client::from_env(Some(&server.base), Some(TOKEN)).unwrap_err();
    assert!(matches!(e, ApiError::Token { .. }), "{e:?}");
    assert_no_token(&e);
    let e =
        Client::from_env(Some(&server.base), Some("env:GIJCTL_TEST_SURELY_UNSET_VAR")).unwrap_err();
    assert!(
        e.to_string().contains("env:GIJCTL_TEST_SURELY_UNSET_VAR"),
        "{e}"
    );
}

// ---- inconsistent reads ---------------------------------------------------------------------

/// A whole list answer with integration 1 twice.
fn doubled() -> Fault {
    let i = json!({"id": 1, "displayName": "GitHub 1", "origin": "https://api.github.com",
                   "integrationType": "GITHUB", "group": "org1"});
    Fault::Answer(
        200,
        vec![("content-type", "application/json".into())],
        json!({"success": true, "integrations": [i.clone(), i]}).to_string(),
    )
}

const INTEGRATIONS: &str = "/rest/gitplugin/1.0/integration";

#[tokio::test]
async fn a_read_that_was_inconsistent_once_is_read_again() {
    let server = Builder::new().start().await;
    server.script(Method::GET, INTEGRATIONS, doubled());
    let site = client(&server).read_site().await.unwrap();
    let ids: Vec<u64> = site.integrations.iter().filter_map(|i| i.id).collect();
    assert_eq!(ids, vec![1, 2, 3]);
    assert_eq!(server.count(&Method::GET, INTEGRATIONS), 2);
}

#[tokio::test]
async fn an_inconsistent_read_is_a_typed_error_after_three_reads_for_site_and_indexing() {
    let server = Builder::new().start().await;
    for _ in 0..3 {
        server.script(Method::GET, INTEGRATIONS, doubled());
    }
    let e = client(&server).read_site().await.unwrap_err();
    match &e {
        ApiError::Inconsistent { list, problem, .. } => {
            assert_eq!(list, "integrations");
            assert!(problem.contains("id 1 appears twice"), "{problem}");
        }
        other => panic!("{other:?}"),
    }
    assert_no_token(&e);
    assert_eq!(server.count(&Method::GET, INTEGRATIONS), 3);

    for _ in 0..3 {
        server.script(Method::GET, INTEGRATIONS, doubled());
    }
    let e = client(&server).read_indexing().await.unwrap_err();
    assert!(matches!(e, ApiError::Inconsistent { .. }), "{e:?}");
    assert_eq!(server.count(&Method::GET, INTEGRATIONS), 6);
}

/// The duplicate-safe create looks the integration up first; an inconsistent lookup is no
/// ground to post.
#[tokio::test]
async fn create_does_not_post_after_an_inconsistent_lookup() {
    let server = Builder::new().start().await;
    server.script(Method::GET, INTEGRATIONS, doubled());
    let e = client(&server)
        .create_integration(&github_request("org9", "new"))
        .await
        .unwrap_err();
    assert!(matches!(e, ApiError::Inconsistent { .. }), "{e:?}");
    assert_eq!(server.count(&Method::POST, INTEGRATIONS), 0);
}

#[tokio::test]
async fn one_integrations_repositories_must_be_unique_too() {
    let server = Builder::new().start().await;
    let r = json!({"id": 1000, "displayName": "repo-0", "trackedFolderId": 1});
    server.script(
        Method::GET,
        "/rest/gitplugin/1.0/repository",
        Fault::Answer(
            200,
            vec![("content-type", "application/json".into())],
            json!({"success": true, "repositories": [r.clone(), r]}).to_string(),
        ),
    );
    let e = client(&server).list_repositories(1).await.unwrap_err();
    match e {
        ApiError::Inconsistent { list, problem, .. } => {
            assert_eq!(list, "repositories");
            assert!(problem.contains("id 1000 appears twice"), "{problem}");
        }
        other => panic!("{other:?}"),
    }
}
