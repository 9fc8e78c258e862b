//! Malformed and hostile server answers, and the transport rules, through the real binary:
//! `gijctl plan --endpoint` against tiny axum mocks on loopback. Every case must exit 1 with a
//! clear message, never panic, never print the API token, and finish fast (the request timeout
//! is set with `--request-timeout`, retries with `--max-attempts`).
//!
//! Run: `cargo test --test server_answers`.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use common::{Out, assert_clean_failure, gijctl, root};

const TOKEN: &str = "srv-answers-token-5b2c91ee";

/// A mock site: every request gets `answer()`; requests and their Authorization headers are
/// counted.
struct Mock {
    base: String,
    hits: Arc<AtomicUsize>,
    with_token: Arc<AtomicUsize>,
    _rt: tokio::runtime::Runtime,
}

fn serve<F>(ip: [u8; 4], answer: F) -> Mock
where
    F: Fn() -> Response + Clone + Send + Sync + 'static,
{
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let with_token = Arc::new(AtomicUsize::new(0));
    let (h, t) = (hits.clone(), with_token.clone());
    let app = Router::new().fallback(move |headers: HeaderMap| {
        let answer = answer.clone();
        let (h, t) = (h.clone(), t.clone());
        async move {
            h.fetch_add(1, Ordering::SeqCst);
            if headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains(TOKEN))
            {
                t.fetch_add(1, Ordering::SeqCst);
            }
            answer()
        }
    });
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(SocketAddr::from((ip, 0))))
        .expect("bind");
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Mock {
        base: format!("http://{addr}"),
        hits,
        with_token,
        _rt: rt,
    }
}

fn plan(endpoint: &str, attempts: &str) -> Out {
    plan_within(endpoint, attempts, "1")
}

/// [`plan`] with another request timeout, in seconds.
fn plan_within(endpoint: &str, attempts: &str, timeout: &str) -> Out {
    let cfg = root().join("examples/quickstart/gij.toml");
    let cfg = cfg.to_string_lossy();
    let args = vec![
        "plan",
        "-c",
        &cfg,
        "--endpoint",
        endpoint,
        "--request-timeout",
        timeout,
        "--max-attempts",
        attempts,
    ];
    gijctl(&root(), &args, &[("GIJ_TOKEN", TOKEN)])
}

fn assert_refused(what: &str, out: &Out, expect: &str) {
    assert_clean_failure(what, out);
    assert!(
        out.stderr.contains(expect),
        "{what}: stderr lacks `{expect}`:\n{}",
        out.stderr
    );
    assert!(
        !out.all().contains(TOKEN),
        "{what}: token printed:\n{}",
        out.all()
    );
    assert!(out.stdout.is_empty(), "{what}: stdout: {}", out.stdout);
}

fn json(status: u16, body: &'static str) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// A name, the mock's answer, and what the error must say.
type Case = (&'static str, fn() -> Response, &'static str);

#[test]
fn malformed_bodies_are_clear_errors() {
    let cases: Vec<Case> = vec![
        (
            "truncated JSON",
            || json(200, r#"{"integrations": [{"id": 1, "displayName": "#),
            "unexpected answer",
        ),
        (
            "wrong types",
            || json(200, r#"{"integrations": "many", "repositories": 7}"#),
            "does not have the expected shape",
        ),
        ("empty 200", || json(200, ""), "unexpected answer"),
        (
            "JSON nested 100000 deep",
            || {
                let s = "[".repeat(100_000);
                (StatusCode::OK, s).into_response()
            },
            "unexpected answer",
        ),
        (
            "non-JSON 500",
            || {
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal Server Error: database down",
                )
                    .into_response()
            },
            "500 server error",
        ),
        (
            "HTML login page with 200",
            || {
                (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "text/html")],
                    "<html><head><title>Log in - Jira</title></head><body><form>...</form></body></html>",
                )
                    .into_response()
            },
            "the server answered HTML",
        ),
        (
            "401",
            || json(401, r#"{"message":"unauthorized"}"#),
            "401 Unauthorized",
        ),
        (
            "500 echoing the token",
            || {
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!(r#"{{"success":false,"error":"bad header Bearer {TOKEN}"}}"#),
                )
                    .into_response()
            },
            "[redacted]",
        ),
        (
            "200 success=false",
            || json(200, r#"{"success":false,"error":"index locked"}"#),
            "index locked",
        ),
        (
            "declared 200 MB body",
            || {
                // A stream that sends a little and then stalls: hyper keeps the declared length
                // and flushes the headers.
                let body = StallAfter(Some(bytes::Bytes::from_static(b"{")));
                let mut r = Response::new(Body::from_stream(body));
                r.headers_mut()
                    .insert(header::CONTENT_LENGTH, "200000000".parse().unwrap());
                r
            },
            "refusing to read it",
        ),
    ];
    for (what, answer, expect) in cases {
        let mock = serve([127, 0, 0, 1], answer);
        let out = plan(&mock.base, "2");
        assert_refused(what, &out, expect);
        assert!(mock.hits.load(Ordering::SeqCst) >= 1, "{what}: no request");
    }
}

// ---- inconsistent reads (issue 18, item 2) ---------------------------------------------------

/// What a hostile site answers to a list request: the list (`integrations`, `repositories`)
/// and the `start` asked for, to the answer body.
type Lists = fn(&str, u64) -> serde_json::Value;

/// A GIJ-shaped mock: Jira's server info and projects, and `lists` for the two GIJ lists.
/// Any other request (a write) is counted and answered 500.
struct SiteMock {
    base: String,
    writes: Arc<AtomicUsize>,
    reads: Arc<AtomicUsize>,
    _rt: tokio::runtime::Runtime,
}

fn serve_site(lists: Lists) -> SiteMock {
    serve_site_with(lists, &[])
}

/// [`serve_site`], every answer carrying `headers` too.
fn serve_site_with(lists: Lists, headers: &'static [(&'static str, &'static str)]) -> SiteMock {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let writes = Arc::new(AtomicUsize::new(0));
    let reads = Arc::new(AtomicUsize::new(0));
    let (w, r) = (writes.clone(), reads.clone());
    let app = Router::new().fallback(move |method: axum::http::Method, uri: axum::http::Uri| {
        let (w, r) = (w.clone(), r.clone());
        async move {
            let path = uri.path().to_owned();
            let start = uri
                .query()
                .unwrap_or("")
                .split('&')
                .find_map(|kv| kv.strip_prefix("start="))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0u64);
            let body = if method != axum::http::Method::GET {
                w.fetch_add(1, Ordering::SeqCst);
                return json(500, r#"{"success": false, "error": "mock: no writes"}"#);
            } else if path.ends_with("/rest/api/2/serverInfo") {
                serde_json::json!({"baseUrl": "https://jira.example.com", "serverTitle": "mock"})
            } else if path.ends_with("/rest/api/2/project") {
                serde_json::json!([{"id": "10000", "key": "OPS"}, {"id": "10001", "key": "WEB"},
                                       {"id": "10002", "key": "API"}, {"id": "10003", "key": "DATA"}])
            } else if path.ends_with("/rest/gitplugin/1.0/integration") {
                r.fetch_add(1, Ordering::SeqCst);
                lists("integrations", start)
            } else if path.ends_with("/rest/gitplugin/1.0/repository") {
                r.fetch_add(1, Ordering::SeqCst);
                lists("repositories", start)
            } else {
                return json(404, r#"{"success": false, "error": "mock: unknown path"}"#);
            };
            let mut answer = (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                body.to_string(),
            )
                .into_response();
            for (k, v) in headers {
                answer
                    .headers_mut()
                    .insert(*k, axum::http::HeaderValue::from_static(v));
            }
            answer
        }
    });
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(SocketAddr::from((
            [127, 0, 0, 1],
            0,
        ))))
        .expect("bind");
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    SiteMock {
        base: format!("http://{addr}"),
        writes,
        reads,
        _rt: rt,
    }
}

/// The quickstart's `acme-github` as GIJ lists it, under id `id`.
fn acme(id: u64) -> serde_json::Value {
    serde_json::json!({"id": id, "displayName": "GitHub · acme", "origin": "https://api.github.com",
        "integrationType": "GITHUB", "group": "acme", "disabled": false, "global": false,
        "projectMappingIds": [10000, 10001, 10002], "requireUserPat": true})
}

fn other(id: u64) -> serde_json::Value {
    serde_json::json!({"id": id, "displayName": format!("other {id}"), "origin": "https://api.github.com",
        "integrationType": "GITHUB", "group": format!("other{id}"), "disabled": false})
}

/// A page of `items` with the pagination extension's keys.
fn page(
    key: &str,
    items: Vec<serde_json::Value>,
    start: u64,
    total: Option<u64>,
    last: bool,
) -> serde_json::Value {
    let size = items.len() as u64;
    let mut v = serde_json::json!({"success": true, key: items, "start": start, "size": size, "isLastPage": last});
    if let Some(t) = total {
        v["total"] = serde_json::json!(t);
    }
    if !last {
        v["nextPageStart"] = serde_json::json!(start + size);
    }
    v
}

fn no_repositories(key: &str) -> serde_json::Value {
    serde_json::json!({"success": true, key: []})
}

/// Runs gijctl `args` (the quickstart config, the mock's endpoint, a short timeout) in `dir`.
fn run_against(dir: &std::path::Path, mock: &SiteMock, args: &[&str]) -> Out {
    let cfg = root().join("examples/quickstart/gij.toml");
    let cfg = cfg.to_string_lossy().into_owned();
    let mut all: Vec<&str> = args.to_vec();
    if args[0] != "import" {
        all.extend(["-c", &cfg]);
    }
    all.extend([
        "--endpoint",
        &mock.base,
        "--request-timeout",
        "5",
        "--max-attempts",
        "2",
    ]);
    gijctl(dir, &all, &[("GIJ_TOKEN", TOKEN)])
}

/// Every hostile list shape, against every command that reads the site: exit 1, a message
/// naming the list and the id or page, nothing written (with `--prune`, the duplicate once
/// made apply delete the declared integration).
#[test]
fn an_inconsistent_read_is_refused_by_every_command_and_never_written_from() {
    let cases: Vec<(&str, Lists, &str)> = vec![
        (
            "an integration id twice in a whole list",
            |key, _| match key {
                "integrations" => {
                    serde_json::json!({"success": true, key: [acme(1), other(2), acme(1)]})
                }
                _ => no_repositories(key),
            },
            "integrations read is inconsistent: id 1 appears twice",
        ),
        (
            "isLastPage false with no further page",
            |key, start| match (key, start) {
                ("integrations", 0) => page(key, vec![acme(1), other(2)], 0, None, false),
                ("integrations", s) => {
                    let mut p = page(key, vec![], s, None, false);
                    p.as_object_mut().unwrap().remove("nextPageStart");
                    p
                }
                _ => no_repositories(key),
            },
            "the page at 2 is empty but says more pages follow",
        ),
        (
            "total larger than what was read",
            |key, start| match (key, start) {
                ("integrations", 0) => page(key, vec![other(2), other(3)], 0, Some(5), false),
                ("integrations", s) => page(key, vec![acme(4)], s, Some(5), true),
                _ => no_repositories(key),
            },
            "ends at 3 items but the site said `total` 5",
        ),
        (
            "start ignored, so a page repeats",
            |key, _| match key {
                "integrations" => page(key, vec![acme(1), other(2)], 0, Some(4), false),
                _ => no_repositories(key),
            },
            "the page at 2 says it starts at 0",
        ),
        (
            "ids that change between pages",
            |key, start| match (key, start) {
                ("integrations", 0) => page(key, vec![other(5), other(9)], 0, Some(4), false),
                ("integrations", s) => page(key, vec![acme(1), other(3)], s, Some(4), true),
                _ => no_repositories(key),
            },
            "id 1 in the page at 2 comes after id 9",
        ),
        (
            "a repository id twice",
            |key, _| match key {
                "integrations" => serde_json::json!({"success": true, key: [acme(1)]}),
                _ => {
                    let r =
                        serde_json::json!({"id": 100, "displayName": "web", "trackedFolderId": 1});
                    serde_json::json!({"success": true, key: [r.clone(), r]})
                }
            },
            "repositories read is inconsistent: id 100 appears twice",
        ),
        (
            "a repository of an integration the list lacks",
            |key, _| match key {
                "integrations" => serde_json::json!({"success": true, key: [other(2)]}),
                _ => serde_json::json!({"success": true, key: [
                    {"id": 100, "displayName": "web", "group": "acme", "trackedFolderId": 1}]}),
            },
            "repository 100 belongs to integration 1, which the integration list does not have",
        ),
        (
            "a repository id that is also an integration's",
            |key, _| match key {
                "integrations" => serde_json::json!({"success": true, key: [acme(1), other(2)]}),
                _ => serde_json::json!({"success": true, key: [
                    {"id": 2, "displayName": "web", "group": "acme", "trackedFolderId": 1}]}),
            },
            "id 2 is both an integration and a repository",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let commands: &[&[&str]] = &[
        &["plan"],
        &["plan", "--prune"],
        &["apply", "--auto-approve", "--prune"],
        &["drift"],
        &["import"],
        &["status"],
    ];
    // Every case and command is run and every failure reported, so one run shows the whole
    // class.
    let mut failures = Vec::new();
    for (what, lists, expect) in cases {
        let mock = serve_site(lists);
        for args in commands {
            let what = format!("{what}: gijctl {}", args.join(" "));
            let out = run_against(dir.path(), &mock, args);
            let writes = mock.writes.swap(0, Ordering::SeqCst);
            let refused = std::panic::catch_unwind(|| assert_refused(&what, &out, expect));
            if refused.is_err() || writes > 0 || !out.stderr.contains("does not act on an") {
                failures.push(format!(
                    "{what}: exit {}, {writes} writes, stderr:\n{}",
                    out.code, out.stderr
                ));
            }
        }
        // Each run read the site again before giving up (a list that changed while it was
        // read reads consistently a moment later), and not forever.
        assert!(mock.reads.load(Ordering::SeqCst) >= 3, "{what}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n---\n"));
}

/// Numbers from the server bound nothing: `total: 10^15` is refused before a second request
/// (it once aborted the process in an allocation), and a site that never says its last page
/// hits the documented cap of 10,000 pages.
#[test]
fn server_numbers_never_size_an_allocation_or_an_endless_read() {
    let huge = serve_site(|key, start| match (key, start) {
        ("integrations", 0) => page(key, vec![acme(1)], 0, Some(1_000_000_000_000_000), false),
        ("integrations", _) => panic!("a page after the first was fetched"),
        _ => no_repositories(key),
    });
    let dir = tempfile::tempdir().unwrap();
    let out = run_against(dir.path(), &huge, &["plan"]);
    assert_refused(
        "total 10^15",
        &out,
        "the site says `total` 1000000000000000 in pages of 1",
    );
    assert!(out.stderr.contains("too long to read"), "{}", out.stderr);

    let endless = serve_site(|key, start| match key {
        "integrations" => page(key, vec![other(start + 1)], start, None, false),
        _ => no_repositories(key),
    });
    let out = run_against(dir.path(), &endless, &["plan"]);
    assert_refused(
        "isLastPage false forever",
        &out,
        "has not said the last page after 10000 pages",
    );
    // One read only: a list too long to read is not read again (10,000 integration pages and
    // the one repository list).
    assert_eq!(endless.reads.load(Ordering::SeqCst), 10_001);
}

/// The reads apply makes later are checked like the first: here the site reads consistently
/// for the plan (one declared integration, disabled), then lists it twice when apply reads the
/// site before enabling it. The enable is never sent.
#[test]
fn an_inconsistent_read_before_an_enable_stops_the_enable() {
    static LISTS: AtomicUsize = AtomicUsize::new(0);
    static ENABLES: AtomicUsize = AtomicUsize::new(0);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let app = Router::new().fallback(|method: axum::http::Method, uri: axum::http::Uri| async move {
        use axum::http::Method as M;
        let path = uri.path();
        let query = uri.query().unwrap_or("");
        let acme = || {
            let mut a = acme(1);
            a["disabled"] = serde_json::json!(true);
            a
        };
        let body = match (&method, path) {
            (&M::GET, p) if p.ends_with("/rest/api/2/serverInfo") => {
                serde_json::json!({"baseUrl": "https://jira.example.com", "serverTitle": "mock"})
            }
            (&M::GET, p) if p.ends_with("/rest/api/2/project") => serde_json::json!([
                {"id": "10000", "key": "OPS"}, {"id": "10001", "key": "WEB"}, {"id": "10002", "key": "API"}]),
            (&M::GET, p) if p.ends_with("/rest/gitplugin/1.0/integration") => {
                if LISTS.fetch_add(1, Ordering::SeqCst) == 0 {
                    serde_json::json!({"success": true, "integrations": [acme()]})
                } else {
                    serde_json::json!({"success": true, "integrations": [acme(), acme()]})
                }
            }
            (&M::GET, p) if p.ends_with("/rest/gitplugin/1.0/integration/1") => {
                serde_json::json!({"success": "true", "integration": [acme()]})
            }
            (&M::PUT, p) if p.ends_with("/rest/gitplugin/1.0/integration/1") => {
                serde_json::json!({"success": "true", "integration": acme()})
            }
            (&M::GET, p) if p.ends_with("/rest/gitplugin/1.0/repository") => {
                serde_json::json!({"success": true, "repositories": []})
            }
            (&M::PUT, p) if p.ends_with("/repository/1/disable") => {
                if query.contains("disable=false") {
                    ENABLES.fetch_add(1, Ordering::SeqCst);
                }
                serde_json::json!({"success": true})
            }
            _ => return json(404, r#"{"success": false, "error": "mock: unknown path"}"#),
        };
        (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
    });
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    rt.spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let dir = tempfile::tempdir().unwrap();
    let token = root().join("examples/quickstart/tokens/github.token");
    std::fs::write(
        dir.path().join("gij.toml"),
        format!(
            "version = 1\n\n[integrations.acme-github]\nservice = \"github\"\nowner = \"acme\"\n\
             credential = \"file:{}\"\ndisplay-name = \"GitHub · acme\"\n\
             projects = [\"OPS\", \"WEB\", \"API\"]\nrequire-user-pat = true\n",
            token.display()
        ),
    )
    .unwrap();
    let args = [
        "apply",
        "-c",
        "gij.toml",
        "--auto-approve",
        "--endpoint",
        &base,
        "--request-timeout",
        "5",
        "--max-attempts",
        "2",
    ];
    let out = gijctl(dir.path(), &args, &[("GIJ_TOKEN", TOKEN)]);
    assert_eq!(
        ENABLES.load(Ordering::SeqCst),
        0,
        "enabled:\n{}",
        out.stderr
    );
    assert!(
        LISTS.load(Ordering::SeqCst) >= 2,
        "apply never read the site again:\n{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("integrations read is inconsistent: id 1 appears twice"),
        "{}",
        out.stderr
    );
    assert_ne!(out.code, 0, "{}", out.stderr);
    assert!(!out.all().contains(TOKEN));
}

// ---- bounded waits (issue 18, item 3) --------------------------------------------------------

/// A server-requested wait longer than the request's budget (`--max-attempts` ×
/// `--request-timeout`, here 4 s) fails at once with a message saying why, for 503 and 429
/// alike; `Retry-After: 299` once slept 299 s. The harness's DEADLINE (20 s) proves the bound.
#[test]
fn a_server_requested_wait_past_the_budget_fails_at_once() {
    for (status, what) in [(503, "503 Retry-After 299"), (429, "429 Retry-After 299")] {
        let mock = serve([127, 0, 0, 1], move || {
            (
                StatusCode::from_u16(status).unwrap(),
                [
                    (header::CONTENT_TYPE, "application/json"),
                    (header::RETRY_AFTER, "299"),
                ],
                r#"{"success": false, "error": "busy"}"#,
            )
                .into_response()
        });
        let out = plan_within(&mock.base, "2", "2");
        assert_refused(
            what,
            &out,
            "the site asked to wait 299 s before retrying, more than the",
        );
        assert!(
            out.stderr
                .contains("4 s budget (--max-attempts × --request-timeout)")
                && out
                    .stderr
                    .contains("retry later, or raise --request-timeout or --max-attempts"),
            "{what}: {}",
            out.stderr
        );
    }
}

/// Pacing is bounded by the same budget: a site whose rate-limit headers say the budget is
/// spent for the next hour gets its next request (the second page of the integration list,
/// asked for after the first answer) after at most the budget (4 s), not pacing's own cap of
/// 60 s, and the plan is made.
#[test]
fn pacing_never_waits_past_the_request_budget() {
    let mock = serve_site_with(
        |key, start| match (key, start) {
            ("integrations", 0) => page(key, vec![acme(1)], 0, Some(2), false),
            ("integrations", s) => page(key, vec![other(2)], s, Some(2), true),
            _ => no_repositories(key),
        },
        &[
            ("x-ratelimit-limit", "100"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset-ms", "3600000"),
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg = root().join("examples/quickstart/gij.toml");
    let cfg = cfg.to_string_lossy();
    let args = [
        "plan",
        "-c",
        &cfg,
        "--endpoint",
        &mock.base,
        "--request-timeout",
        "2",
        "--max-attempts",
        "2",
    ];
    let started = Instant::now();
    let out = gijctl(dir.path(), &args, &[("GIJ_TOKEN", TOKEN)]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("acme-github"), "{}", out.stdout);
    // Not a timing assertion on gijctl, which the harness's DEADLINE bounds: only a report.
    eprintln!("paced plan took {:?}", started.elapsed());
}

/// Peak resident memory of the largest child process waited for so far, in bytes.
fn children_max_rss() -> u64 {
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct we own.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) };
    assert_eq!(rc, 0);
    u64::try_from(u.ru_maxrss).unwrap_or(0) * 1024
}

#[test]
fn an_endless_body_is_refused_at_the_cap_without_buffering_it() {
    // 1 GiB streamed without a length: the client must stop at its 64 MiB list cap.
    let mock = serve([127, 0, 0, 1], || {
        let chunk = bytes::Bytes::from(vec![b' '; 1 << 20]);
        let stream = futures_stream(chunk, 1024);
        Response::new(Body::from_stream(stream))
    });
    let started = Instant::now();
    // A request timeout well above the time 64 MiB takes over loopback: with 1 s, a busy CI
    // machine sometimes hit the timeout before the cap, and this test is about the cap.
    let out = plan_within(&mock.base, "1", "12");
    assert_refused("endless body", &out, "refusing to read it");
    assert!(started.elapsed() < Duration::from_secs(15));
    let rss = children_max_rss();
    assert!(
        rss < 300 * 1024 * 1024,
        "gijctl peaked at {} MiB for a 1 GiB answer; the cap is 64 MiB",
        rss >> 20
    );
}

fn futures_stream(
    chunk: bytes::Bytes,
    n: usize,
) -> impl futures_core::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send {
    tokio_stream_iter(std::iter::repeat_n(chunk, n))
}

fn tokio_stream_iter<I>(
    it: I,
) -> impl futures_core::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send
where
    I: Iterator<Item = bytes::Bytes> + Send + Unpin + 'static,
{
    struct S<I>(I);
    impl<I: Iterator<Item = bytes::Bytes> + Unpin> futures_core::Stream for S<I> {
        type Item = Result<bytes::Bytes, std::io::Error>;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            std::task::Poll::Ready(self.0.next().map(Ok))
        }
    }
    S(it)
}

#[test]
fn slow_loris_and_silent_servers_hit_the_request_timeout() {
    // Headers at once, then one byte per 200 ms forever.
    let trickle = serve([127, 0, 0, 1], || {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(1);
        tokio::spawn(async move {
            loop {
                if tx.send(Ok(bytes::Bytes::from_static(b" "))).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        let stream = ReceiverStream(rx);
        Response::new(Body::from_stream(stream))
    });
    let started = Instant::now();
    let out = plan(&trickle.base, "2");
    assert_refused("slow loris", &out, "request timeout");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );

    // Accepts the connection and never answers.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    let started = Instant::now();
    let out = plan(&format!("http://{addr}"), "2");
    assert_refused("silent server", &out, "request timeout");
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// Yields its chunk, then never ends (and never wakes anyone).
struct StallAfter(Option<bytes::Bytes>);

impl futures_core::Stream for StallAfter {
    type Item = Result<bytes::Bytes, std::io::Error>;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        match self.0.take() {
            Some(b) => std::task::Poll::Ready(Some(Ok(b))),
            None => std::task::Poll::Pending,
        }
    }
}

struct ReceiverStream(tokio::sync::mpsc::Receiver<Result<bytes::Bytes, std::io::Error>>);

impl futures_core::Stream for ReceiverStream {
    type Item = Result<bytes::Bytes, std::io::Error>;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}

// ---- transport ------------------------------------------------------------------------------

#[test]
fn plain_http_to_a_remote_host_is_refused_before_any_connection() {
    for endpoint in ["http://example.com", "http://10.255.255.1:8080/jira"] {
        let started = Instant::now();
        // No token at all: the endpoint is checked first.
        let cfg = root().join("examples/quickstart/gij.toml");
        let out = gijctl(
            &root(),
            &["plan", "-c", &cfg.to_string_lossy(), "--endpoint", endpoint],
            &[],
        );
        assert_clean_failure(endpoint, &out);
        assert!(out.stderr.contains("plain http"), "{}", out.stderr);
        assert!(!out.stderr.contains("connect"), "{}", out.stderr);
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}

#[test]
fn the_token_is_not_sent_after_a_cross_host_redirect() {
    let other = serve([127, 0, 0, 2], || json(200, r#"{"integrations":[]}"#));
    for (status, target) in [
        (StatusCode::FOUND, format!("{}/login.jsp", other.base)),
        (
            StatusCode::TEMPORARY_REDIRECT,
            format!("{}/rest/api/2/project", other.base),
        ),
    ] {
        let to = target.clone();
        let first = serve([127, 0, 0, 1], move || {
            (status, [(header::LOCATION, to.clone())]).into_response()
        });
        let out = plan(&first.base, "2");
        assert_refused("cross-host redirect", &out, "redirected to another origin");
        assert!(first.with_token.load(Ordering::SeqCst) >= 1);
    }
    assert_eq!(
        other.hits.load(Ordering::SeqCst),
        0,
        "the other host was contacted"
    );
    assert_eq!(other.with_token.load(Ordering::SeqCst), 0);
}

/// Characters that must never reach a terminal raw from a server: ESC (CSI and OSC sequences),
/// BEL, CR, a C1 CSI, DEL and the bidi overrides and isolates.
const HOSTILE: [char; 9] = [
    '\u{1b}', '\u{7}', '\r', '\u{9b}', '\u{7f}', '\u{202e}', '\u{202d}', '\u{2066}', '\u{200f}',
];

fn assert_inert(what: &str, text: &str) {
    for c in HOSTILE {
        assert!(
            !text.contains(c),
            "{what}: raw U+{:04X} printed:\n{}",
            c as u32,
            text.escape_debug()
        );
    }
}

/// Error texts are server text too: a 4xx/5xx `error` or `advice`, an HTML title, a Jira
/// `errorMessages` list, and a `success: false`, each
/// holding escape sequences and bidi overrides, must be printed escaped (`\u{1b}`, `\u{202e}`)
/// and on one line. Before, the sanitiser turned C0 controls into spaces but let C1 and bidi
/// characters through. (serde's own decode messages quote values with `{:?}`, already escaped.)
#[test]
fn hostile_error_texts_are_escaped() {
    let cases: Vec<Case> = vec![
        (
            "422 error and advice",
            || {
                json(
                    422,
                    "{\"success\":false,\"error\":\"bad \\u001b]0;pwned\\u0007 \\u009b2J\",\
                     \"advice\":\"read \\u202etxt.exe\\u202c carefully\"}",
                )
            },
            "422 Unprocessable",
        ),
        (
            "500 Jira errorMessages",
            || {
                json(
                    500,
                    "{\"errorMessages\":[\"\\u001b[2J\\u001b[Hcleared\",\"\\u2066iso\\u2069 \\u200f\"]}",
                )
            },
            "500 server error",
        ),
        (
            "HTML title",
            || {
                (
                    StatusCode::BAD_GATEWAY,
                    [(header::CONTENT_TYPE, "text/html")],
                    "<html><title>\u{1b}[31mproxy\u{202e} \u{7f}down</title></html>",
                )
                    .into_response()
            },
            "the server answered HTML",
        ),
        (
            "200 success=false",
            || {
                json(
                    200,
                    "{\"success\":false,\"error\":\"locked \\u202dby\\u001b[8m admin\"}",
                )
            },
            "success=false",
        ),
    ];
    for (what, answer, expect) in cases {
        let mock = serve([127, 0, 0, 1], answer);
        let out = plan(&mock.base, "1");
        assert_refused(what, &out, expect);
        assert_inert(what, &out.all());
        assert!(
            out.stderr.contains("\\u{"),
            "{what}: nothing escaped, was the text dropped?\n{}",
            out.stderr
        );
    }
}

/// A dev-server seeded with hostile names: a group (owner) with a clear-screen sequence, an
/// RTL override and a newline, a repository with an OSC title sequence, a display name with
/// colour and an override. Nothing gijctl prints about the site (plan in text and Markdown,
/// drift, status, runbook, import, the `-vv` log) may carry those characters raw, and import's
/// gij.toml must be valid TOML that reads back as the very same strings. Before, the plan
/// printed the owner raw (ESC, U+202E and a forged line) and import wrote U+202E raw.
#[test]
fn hostile_names_from_a_seeded_site_are_inert_everywhere() {
    let evil_group = "evil\u{1b}[2J\u{202e}grp\nfake";
    let evil_repo = "repo\u{1b}]0;pwned\u{7}\u{2066}";
    let evil_name = "Evil \u{1b}[31mred\u{202e} name\u{9b}";
    let mut seed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("examples/quickstart/seed.json")).unwrap(),
    )
    .unwrap();
    let gitlab = &mut seed["catalog"]["services"][1];
    gitlab["groups"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!(
        {"name": evil_group, "repositories": [{"name": evil_repo, "commits": 10}]}));
    gitlab["tokens"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!(
        {"value": "hostile-seed-pat", "groups": [evil_group]}));
    seed["integrations"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
        "type": "GITLAB_SERVER", "origin": "https://gitlab.acme.internal", "group": evil_group,
        "authMethod": "PAT", "credential": "hostile-seed-pat",
        "settings": {"displayName": evil_name}}));
    let tmp = tempfile::tempdir().unwrap();
    let seed_path = tmp.path().join("seed.json");
    std::fs::write(&seed_path, seed.to_string()).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt
        .block_on(gijctl::devserver::DevServer::start(
            gijctl::devserver::DevServerConfig {
                seed: Some(gijctl::devserver::SeedSource::Path(seed_path)),
                time_scale: 0.0,
                admin_tokens: vec![gijctl::secret::Secret::new(TOKEN.into())],
                ..Default::default()
            },
        ))
        .unwrap();
    let ep = server.base_url();
    let cfg = root().join("examples/quickstart/gij.toml");
    let cfg = cfg.to_string_lossy();
    let env = [("GIJ_TOKEN", TOKEN), ("GIJCTL_LOG", "debug")];
    let dir = root();
    for args in [
        vec!["plan", "-c", &cfg, "--endpoint", &ep],
        vec![
            "plan",
            "-c",
            &cfg,
            "--endpoint",
            &ep,
            "--format",
            "markdown",
        ],
        vec!["--color", "always", "plan", "-c", &cfg, "--endpoint", &ep],
        vec!["drift", "-c", &cfg, "--endpoint", &ep],
        vec![
            "drift",
            "-c",
            &cfg,
            "--endpoint",
            &ep,
            "--format",
            "markdown",
        ],
        vec!["status", "--endpoint", &ep],
        vec!["runbook", "-c", &cfg, "--endpoint", &ep, "--format", "text"],
        vec!["import", "--endpoint", &ep, "-o", "-"],
    ] {
        let out = gijctl(&dir, &args, &env);
        let what = format!("{args:?}");
        assert!(out.code == 0 || out.code == 2, "{what}: {}", out.all());
        // Colour is gijctl's own: with `--color always`, only SGR sequences may remain, so
        // strip them before looking.
        let text = strip_sgr(&out.all());
        assert_inert(&what, &text);
        assert!(
            !out.stdout
                .lines()
                .any(|l| l.trim_start().starts_with("fake")),
            "{what}: a server newline forged a line:\n{}",
            out.stdout
        );
        if args[0] == "import" {
            let doc: toml::Table = toml::from_str(&out.stdout).expect("import writes valid TOML");
            let owners: Vec<&str> = doc["integrations"]
                .as_table()
                .unwrap()
                .values()
                .filter_map(|i| i.get("owner").and_then(|o| o.as_str()))
                .collect();
            assert!(owners.contains(&evil_group), "{owners:?}");
            let names: Vec<&str> = doc["integrations"]
                .as_table()
                .unwrap()
                .values()
                .filter_map(|i| i.get("display-name").and_then(|o| o.as_str()))
                .collect();
            assert!(names.contains(&evil_name), "{names:?}");
        }
    }
    drop(server);
}

/// Removes SGR colour sequences (`ESC [ digits;... m`), the only escapes gijctl emits itself.
fn strip_sgr(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("\u{1b}[") {
        out.push_str(&rest[..i]);
        let tail = &rest[i + 2..];
        let n = tail
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b';')
            .count();
        if tail.as_bytes().get(n) == Some(&b'm') {
            rest = &tail[n + 1..];
        } else {
            out.push('\u{1b}');
            rest = &rest[i + 1..];
        }
    }
    out.push_str(rest);
    out
}

/// GIJ has no snapshot read: an integration created while the two lists are read shows up as a
/// repository of an integration the (earlier) integration list lacks. That is a site that
/// changed, not one that lies: gijctl reads the integration list once more and plans from it,
/// with one extra request and no warning; the site that keeps answering so is refused above.
#[test]
fn an_integration_created_between_the_two_lists_is_read_not_refused() {
    static INTEGRATION_READS: AtomicUsize = AtomicUsize::new(0);
    let mock = serve_site(|key, _| match key {
        "integrations" => {
            if INTEGRATION_READS.fetch_add(1, Ordering::SeqCst) == 0 {
                serde_json::json!({"success": true, key: [other(2)]})
            } else {
                serde_json::json!({"success": true, key: [acme(1), other(2)]})
            }
        }
        _ => serde_json::json!({"success": true, key: [
            {"id": 100, "displayName": "web", "group": "acme", "trackedFolderId": 1}]}),
    });
    let dir = tempfile::tempdir().unwrap();
    let out = run_against(dir.path(), &mock, &["plan"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stderr.contains("inconsistent"), "{}", out.stderr);
    assert!(out.stdout.contains("acme-github"), "{}", out.stdout);
    // The integration list twice, the repository list once: not a whole second read.
    assert_eq!(INTEGRATION_READS.load(Ordering::SeqCst), 2);
    assert_eq!(mock.reads.load(Ordering::SeqCst), 3);
    assert_eq!(mock.writes.load(Ordering::SeqCst), 0);
}
