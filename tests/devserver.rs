//! Contract tests of `gijctl dev-server` over loopback HTTP with plain reqwest: pagination,
//! auth, CRUD and validation, discovery and indexing on a frozen virtual clock, statistics,
//! rate limiting, every fault kind, state persistence, GIJ's documented JSON shapes, and the
//! CLI's start-up line and SIGTERM handling.

use std::path::PathBuf;
use std::time::Duration;

use gijctl::api::wire;
use gijctl::devserver::{
    DevServer, DevServerConfig, FaultConfig, FaultKind, RateLimitConfig, RunningServer,
    ScriptedFault, SeedSource,
};
use gijctl::secret::Secret;
use reqwest::StatusCode;
use serde_json::{Value, json};

const ADMIN: &str = "test-admin-token";
const USER: &str = "test-user-token";

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("examples/{name}/seed.json"))
}

fn config(seed: Option<&str>) -> DevServerConfig {
    DevServerConfig {
        seed: seed.map(|s| SeedSource::Path(example(s))),
        time_scale: 0.0,
        admin_tokens: vec![Secret::new(ADMIN.into())],
        user_tokens: vec![Secret::new(USER.into())],
        ..DevServerConfig::default()
    }
}

struct T {
    srv: RunningServer,
    http: reqwest::Client,
}

impl T {
    async fn start(cfg: DevServerConfig) -> T {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let srv = DevServer::start(cfg).await.expect("server starts");
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        T { srv, http }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.srv.base_url())
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Result<(StatusCode, reqwest::header::HeaderMap, Value), reqwest::Error> {
        let mut rb = self.http.request(method, self.url(path));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await?;
        let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, headers, v))
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let (s, _, v) = self
            .send(reqwest::Method::GET, path, Some(ADMIN), None)
            .await
            .unwrap();
        (s, v)
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let (s, _, v) = self
            .send(reqwest::Method::POST, path, Some(ADMIN), Some(body))
            .await
            .unwrap();
        (s, v)
    }

    async fn put(&self, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let (s, _, v) = self
            .send(reqwest::Method::PUT, path, Some(ADMIN), body)
            .await
            .unwrap();
        (s, v)
    }

    async fn integration(&self, id: u64) -> Value {
        let (s, v) = self
            .get(&format!("/rest/gitplugin/1.0/integration/{id}"))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v["integration"][0].clone()
    }

    async fn repos(&self, id: u64) -> Vec<Value> {
        let (s, v) = self
            .get(&format!(
                "/rest/gitplugin/1.0/repository?trackedFolderId={id}"
            ))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v["repositories"].as_array().unwrap().clone()
    }

    fn advance_secs(&self, s: f64) {
        self.srv.advance(Duration::from_secs_f64(s));
    }
}

fn repo<'a>(repos: &'a [Value], name: &str) -> &'a Value {
    repos
        .iter()
        .find(|r| r["displayName"] == name)
        .unwrap_or_else(|| panic!("no repo {name}"))
}

const LIST: &str = "/rest/gitplugin/1.0/integration";

fn gitlab_body() -> Value {
    json!({"type": "GITLAB_SERVER", "origin": "https://gitlab.acme.internal/", "group": "platform",
           "pat": "dev-gitlab-token", "displayName": "GitLab · platform"})
}

#[tokio::test]
async fn pagination_edges() {
    let t = T::start(config(None)).await;
    let (s, v) = t.get(LIST).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["success"], json!(true));
    assert_eq!(v["integrations"], json!([]));
    assert_eq!(
        (v["total"].clone(), v["isLastPage"].clone()),
        (json!(0), json!(true))
    );

    let t = T::start(config(Some("quickstart"))).await;
    // Seeded: integration 1 with repositories 2..=6.
    let (_, v) = t.get("/rest/gitplugin/1.0/repository").await;
    assert_eq!(v["total"], 5);
    assert!(v.get("limit").is_none(), "no limit: whole list");
    let (_, v) = t.get("/rest/gitplugin/1.0/repository?limit=5").await;
    assert_eq!(
        (v["size"].clone(), v["isLastPage"].clone()),
        (json!(5), json!(true))
    );
    assert!(v.get("nextPageStart").is_none());
    let mut start = 0;
    let mut seen = Vec::new();
    loop {
        let (_, v) = t
            .get(&format!(
                "/rest/gitplugin/1.0/repository?start={start}&limit=2"
            ))
            .await;
        for r in v["repositories"].as_array().unwrap() {
            seen.push(r["id"].as_u64().unwrap());
        }
        match v["nextPageStart"].as_u64() {
            Some(n) => {
                assert_eq!(v["isLastPage"], false);
                start = n;
            }
            None => {
                assert_eq!(v["isLastPage"], true);
                break;
            }
        }
    }
    assert_eq!(seen, vec![2, 3, 4, 5, 6]);
    let (_, v) = t.get("/rest/gitplugin/1.0/repository?limit=1000").await;
    assert_eq!(
        (v["size"].clone(), v["limit"].clone()),
        (json!(5), json!(1000))
    );
    let (_, v) = t
        .get("/rest/gitplugin/1.0/repository?start=9&limit=2")
        .await;
    assert_eq!(
        (v["size"].clone(), v["total"].clone()),
        (json!(0), json!(5))
    );
    for bad in ["limit=0", "limit=1001", "start=-1", "limit=x"] {
        let (s, v) = t.get(&format!("{LIST}?{bad}")).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(v["success"], false);
    }
    // Filters (extension).
    let (_, v) = t
        .get(&format!(
            "{LIST}?type=GITHUB&origin=https://API.github.com/&group=acme"
        ))
        .await;
    assert_eq!(v["total"], 1);
    let (_, v) = t.get(&format!("{LIST}?group=nobody")).await;
    assert_eq!(v["total"], 0);
}

#[tokio::test]
async fn authentication_and_permissions() {
    let t = T::start(config(Some("quickstart"))).await;
    let get = reqwest::Method::GET;
    let (s, _, v) = t.send(get.clone(), LIST, None, None).await.unwrap();
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(v["success"], false);
    let (s, _, _) = t
        .send(get.clone(), LIST, Some("wrong"), None)
        .await
        .unwrap();
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _, v) = t.send(get.clone(), LIST, Some(USER), None).await.unwrap();
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(v["error"].as_str().unwrap().contains("administrators"));
    let (s, _, _) = t
        .send(reqwest::Method::POST, LIST, Some(USER), Some(gitlab_body()))
        .await
        .unwrap();
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = t
        .send(
            get.clone(),
            "/rest/gitplugin/1.0/repository",
            Some(USER),
            None,
        )
        .await
        .unwrap();
    assert_eq!(s, StatusCode::OK);
    let (s, _, v) = t
        .send(get.clone(), "/rest/api/2/project", Some(USER), None)
        .await
        .unwrap();
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v[0],
        json!({"id": "10000", "key": "OPS", "name": "Operations"})
    );
    let projects: Vec<wire::Project> = serde_json::from_value(v).unwrap();
    assert_eq!(projects.len(), 4);
    let (s, _, _) = t.send(get, "/_dev/stats", Some(USER), None).await.unwrap();
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn create_read_update_delete() {
    let t = T::start(config(Some("quickstart"))).await;
    let (s, v) = t.post(LIST, gitlab_body()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // Documented create answer: string success, integration as an object, no credentials.
    assert_eq!(v["success"], "true");
    let i = &v["integration"];
    assert!(i.is_object());
    assert_eq!(i["id"], 7, "one id space after the seeded 1..=6");
    assert_eq!(i["integrationType"], "GITLAB_SERVER");
    assert_eq!(i["origin"], "https://gitlab.acme.internal");
    assert_eq!(i["indexingState"], "SCANNING");
    assert_eq!(i["global"], true);
    assert!(i.get("lastIndexedDate").is_none());
    let text = v.to_string();
    assert!(!text.contains("dev-gitlab-token") && !text.contains("\"pat\""));

    // Partial update keeps what is not sent.
    let (s, v) = t
        .put(
            &format!("{LIST}/7"),
            Some(json!({"requireUserPat": true, "projectMappingIds": [10000, 10002]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let i = t.integration(7).await;
    assert_eq!(i["displayName"], "GitLab · platform");
    assert_eq!(i["requireUserPat"], true);
    assert_eq!(i["global"], false);
    assert_eq!(i["projectMappingIds"], json!([10000, 10002]));
    assert_eq!(i["smartCommitsEnabled"], true);

    // Validation on update.
    let (s, _) = t
        .put(&format!("{LIST}/7"), Some(json!({"type": "GITHUB"})))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = t
        .put(
            &format!("{LIST}/7"),
            Some(json!({"type": "GITLAB_SERVER", "displayName": "x"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "same type is accepted");
    let (s, v) = t
        .put(
            &format!("{LIST}/7"),
            Some(json!({"global": true, "projectMappingIds": [10000]})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, v) = t
        .put(
            &format!("{LIST}/7"),
            Some(json!({"projectMappingIds": [999]})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["error"], "Unknown Jira project id 999");
    let (s, _) = t
        .put(&format!("{LIST}/7"), Some(json!({"pat": "wrong"})))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, v) = t.put(&format!("{LIST}/77"), Some(json!({}))).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(v["error"], "Integration with id=77 does not exist");
    let (s, _) = t
        .put(&format!("{LIST}/7"), Some(json!({"global": true})))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(t.integration(7).await["projectMappingIds"], json!([]));

    // Enable/disable through /repository/{id}/disable.
    let (s, v) = t
        .put(
            "/rest/gitplugin/1.0/repository/7/disable?disable=true",
            None,
        )
        .await;
    assert_eq!((s, v), (StatusCode::OK, json!({"success": true})));
    assert_eq!(t.integration(7).await["disabled"], true);
    let (s, _) = t
        .put("/rest/gitplugin/1.0/repository/7/disable", None)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = t
        .put(
            "/rest/gitplugin/1.0/repository/999/disable?disable=false",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Delete, with GIJ's deleteFiles parameter.
    let (s, _, _) = t
        .send(
            reqwest::Method::DELETE,
            &format!("{LIST}/7?deleteFiles=maybe"),
            Some(ADMIN),
            None,
        )
        .await
        .unwrap();
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _, v) = t
        .send(
            reqwest::Method::DELETE,
            &format!("{LIST}/7?deleteFiles=false"),
            Some(ADMIN),
            None,
        )
        .await
        .unwrap();
    assert_eq!((s, v), (StatusCode::OK, json!({"success": true})));
    let (s, v) = t.get(&format!("{LIST}/7")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(v["success"], false);
    let (s, _, v) = t
        .send(
            reqwest::Method::DELETE,
            &format!("{LIST}/7"),
            Some(ADMIN),
            None,
        )
        .await
        .unwrap();
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(v["error"], "Repository with id=7 does not exist");
    // The next create continues the id space.
    let (_, v) = t.post(LIST, gitlab_body()).await;
    assert_eq!(v["integration"]["id"], 8);
}

#[tokio::test]
async fn create_validation() {
    let t = T::start(config(Some("quickstart"))).await;
    let (s, v) = t
        .post(
            LIST,
            json!({"type": "GITHUB", "group": "acme", "authMethod": "OAUTH"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(v["error"].as_str().unwrap().contains("OAuth"));
    assert!(v["advice"].as_str().unwrap().contains("browser"));
    let (s, v) = t
        .post(
            LIST,
            json!({"type": "GITHUB", "group": "acme", "pat": "ghp_wrong"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["error"], "Invalid credentials for https://api.github.com");
    assert!(!v.to_string().contains("ghp_wrong"));
    let (s, v) = t
        .post(
            LIST,
            json!({"type": "GITHUB", "group": "globex", "pat": "dev-github-token"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(v["advice"].as_str().unwrap().contains("globex"));
    let (s, v) = t
        .post(
            LIST,
            json!({"type": "GITLAB_SERVER", "group": "platform", "pat": "dev-gitlab-token"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["error"].as_str().unwrap().contains("`origin`"));
    let (s, _) = t
        .post(LIST, json!({"type": "GITHUB", "group": "acme"}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "missing pat");
    let (s, _) = t.post(LIST, json!({"type": "NOPE", "pat": "x"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = t.post(LIST, json!({"pat": "x"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "missing type");
    let mut b = gitlab_body();
    b["global"] = json!(true);
    b["projectMappingIds"] = json!([10000]);
    let (s, _) = t.post(LIST, b).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let mut b = gitlab_body();
    b["projectMappingIds"] = json!([12345]);
    let (s, _) = t.post(LIST, b).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _, v) = t
        .send(reqwest::Method::POST, LIST, Some(ADMIN), None)
        .await
        .unwrap();
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    // Nothing was created by the refused requests.
    let (_, v) = t.get(LIST).await;
    assert_eq!(v["total"], 1);
}

#[tokio::test]
async fn selective_create_indexes_only_enabled_repositories() {
    let t = T::start(config(Some("quickstart"))).await;
    let (s, v) = t
        .post(
            LIST,
            json!({"type": "GITHUB", "group": "acme", "pat": "dev-github-token",
                   "displayName": "GitHub · acme", "disabled": true}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let id = v["integration"]["id"].as_u64().unwrap();
    assert!(
        t.repos(id).await.is_empty(),
        "repositories appear after the scan"
    );
    t.advance_secs(2.0);
    let i = t.integration(id).await;
    assert_eq!(i["indexingState"], "DISABLED");
    let repos = t.repos(id).await;
    assert_eq!(repos.len(), 5);
    assert!(
        repos
            .iter()
            .all(|r| r["disabled"] == false && r.get("state").is_none())
    );
    let legacy = repo(&repos, "legacy-monolith")["id"].as_u64().unwrap();
    let (s, _) = t
        .put(
            &format!("/rest/gitplugin/1.0/repository/{legacy}/disable?disable=true"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    t.advance_secs(100.0);
    assert!(
        t.repos(id)
            .await
            .iter()
            .all(|r| r.get("lastIndexedDate").is_none())
    );
    let (s, _) = t
        .put(
            &format!("/rest/gitplugin/1.0/repository/{id}/disable?disable=false"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    // One indexing thread per integration: api-gateway (4000 commits = 40 s) runs first.
    let repos = t.repos(id).await;
    assert_eq!(repo(&repos, "api-gateway")["state"], "SCANNING");
    assert_eq!(repo(&repos, "web-app")["state"], "QUEUED");
    assert!(repo(&repos, "legacy-monolith").get("state").is_none());
    t.advance_secs(20.0);
    let repos = t.repos(id).await;
    assert_eq!(repo(&repos, "api-gateway")["indexingPercent"], 50.0);
    let i = t.integration(id).await;
    assert_eq!(i["indexingState"], "INDEXING");
    // 2000 of 8000 enabled commits done.
    assert_eq!(i["indexingPercent"], 25.0);
    let (_, idx) = t
        .get(&format!("/rest/gitplugin/1.0/index.json?repoId={id}"))
        .await;
    let idx: wire::IndexStatus = serde_json::from_value(idx).unwrap();
    assert!(!idx.finished);
    assert_eq!(idx.messages.len(), 4);
    // 40 + 25 + 3 + 12 = 80 virtual seconds in all.
    t.advance_secs(59.9);
    assert_eq!(t.integration(id).await["indexingState"], "INDEXING");
    t.advance_secs(0.2);
    let i = t.integration(id).await;
    assert_eq!(i["indexingState"], "INDEXED");
    assert_eq!(i["indexingPercent"], 100.0);
    assert!(i["lastIndexedDate"].is_i64());
    let repos = t.repos(id).await;
    for r in &repos {
        if r["displayName"] == "legacy-monolith" {
            assert!(r.get("lastIndexedDate").is_none());
            assert_eq!(r["disabled"], true);
        } else {
            assert_eq!(r["state"], "UPDATED", "{r}");
            assert!(r["lastIndexedDate"].is_i64());
        }
    }
    let (_, idx) = t
        .get(&format!("/rest/gitplugin/1.0/index.json?repoId={id}"))
        .await;
    assert_eq!(idx["finished"], true);
    assert_eq!(idx["lastOperationPercent"], 100.0);
    // Enabling a repository later starts its indexing.
    let (s, _) = t
        .put(
            &format!("/rest/gitplugin/1.0/repository/{legacy}/disable?disable=false"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(t.integration(id).await["indexingState"], "INDEXING");
    t.advance_secs(90.0);
    let repos = t.repos(id).await;
    assert_eq!(repo(&repos, "legacy-monolith")["state"], "UPDATED");
    // Two runs of this integration never overlapped another integration.
    assert_eq!(t.srv.stats().peak_indexing, 1);
}

#[tokio::test]
async fn failing_repository_reports_error() {
    let mut seed: gijctl::devserver::Seed =
        serde_json::from_str(&std::fs::read_to_string(example("quickstart")).unwrap()).unwrap();
    seed.catalog.services[0].groups[0].repositories[2].fail_indexing = true; // docs
    seed.integrations.clear();
    let mut cfg = config(None);
    cfg.seed = Some(SeedSource::Seed(Box::new(seed)));
    let t = T::start(cfg).await;
    let (_, v) = t
        .post(
            LIST,
            json!({"type": "GITHUB", "group": "acme", "pat": "dev-github-token"}),
        )
        .await;
    let id = v["integration"]["id"].as_u64().unwrap();
    t.advance_secs(200.0);
    let i = t.integration(id).await;
    assert_eq!(i["indexingState"], "ERROR");
    let repos = t.repos(id).await;
    assert_eq!(repo(&repos, "docs")["state"], "ERROR");
    assert!(repo(&repos, "docs").get("lastIndexedDate").is_none());
    let (_, idx) = t
        .get(&format!("/rest/gitplugin/1.0/index.json?repoId={id}"))
        .await;
    assert_eq!(idx["errors"].as_object().unwrap().len(), 1);
}

#[tokio::test]
async fn peak_indexing_statistic() {
    let t = T::start(config(Some("quickstart"))).await;
    t.srv.reset_stats();
    let body_gh = json!({"type": "GITHUB", "group": "acme", "pat": "dev-github-token"});
    let body_az = json!({"type": "AZURE", "group": "acme-corp", "pat": "dev-azure-token"});
    t.post(LIST, body_gh.clone()).await;
    t.post(LIST, body_az.clone()).await;
    t.advance_secs(10.0);
    let st = t.srv.stats();
    assert_eq!((st.peak_indexing, st.current_indexing), (2, 2));
    assert_eq!(st.requests["POST /rest/gitplugin/1.0/integration"], 2);
    t.advance_secs(1000.0);
    let (s, v) = t.get("/_dev/stats").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (v["peakIndexing"].clone(), v["currentIndexing"].clone()),
        (json!(2), json!(0))
    );
    // After a reset, one integration at a time peaks at one.
    let (s, _) = t.post("/_dev/stats/reset", json!({})).await;
    assert_eq!(s, StatusCode::OK);
    t.post(LIST, body_az.clone()).await;
    t.advance_secs(1000.0);
    t.post(LIST, body_az).await;
    t.advance_secs(1000.0);
    let st = t.srv.stats();
    assert_eq!(st.peak_indexing, 1);
    assert_eq!(st.total_requests, 2, "/_dev/ calls are not counted");
}

#[tokio::test]
async fn rate_limit_answers_429_with_headers() {
    let mut cfg = config(Some("quickstart"));
    cfg.rate_limit = RateLimitConfig {
        capacity: 2,
        refill_per_sec: 1.0,
    };
    let t = T::start(cfg).await;
    let get = reqwest::Method::GET;
    let (s, h, _) = t.send(get.clone(), LIST, Some(ADMIN), None).await.unwrap();
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h["x-ratelimit-limit"], "2");
    assert_eq!(h["x-ratelimit-remaining"], "1");
    assert!(
        h["x-ratelimit-reset"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 1_600_000_000
    );
    t.send(get.clone(), LIST, Some(ADMIN), None).await.unwrap();
    let (s, h, v) = t.send(get.clone(), LIST, Some(ADMIN), None).await.unwrap();
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(v["success"], false);
    assert_eq!(h["retry-after"], "1");
    assert_eq!(h["retry-after-ms"], "1000");
    assert_eq!(h["x-ratelimit-remaining"], "0");
    // Buckets are per token.
    let (s, _, _) = t
        .send(get.clone(), "/rest/api/2/project", Some(USER), None)
        .await
        .unwrap();
    assert_eq!(s, StatusCode::OK);
    t.advance_secs(1.0);
    let (s, _, _) = t.send(get, LIST, Some(ADMIN), None).await.unwrap();
    assert_eq!(s, StatusCode::OK);
    assert_eq!(t.srv.stats().rate_limited, 1);
}

fn script(kinds: &[FaultKind]) -> FaultConfig {
    FaultConfig {
        script: kinds
            .iter()
            .map(|k| ScriptedFault {
                kind: *k,
                route: None,
            })
            .collect(),
        retry_after_ms: 2500,
        ..FaultConfig::default()
    }
}

#[tokio::test]
async fn scripted_faults_of_every_kind() {
    let t = T::start(config(Some("quickstart"))).await;
    t.srv.set_faults(script(&[
        FaultKind::Error500,
        FaultKind::Error502,
        FaultKind::Error503,
        FaultKind::Drop,
    ]));
    let get = reqwest::Method::GET;
    let (s, _, v) = t.send(get.clone(), LIST, Some(ADMIN), None).await.unwrap();
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(v["success"], false);
    let (s, _, _) = t.send(get.clone(), LIST, Some(ADMIN), None).await.unwrap();
    assert_eq!(s, StatusCode::BAD_GATEWAY);
    let (s, h, _) = t.send(get.clone(), LIST, Some(ADMIN), None).await.unwrap();
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(h["retry-after"], "3");
    assert_eq!(h["retry-after-ms"], "2500");
    let e = t
        .send(get.clone(), LIST, Some(ADMIN), None)
        .await
        .expect_err("dropped connection");
    assert!(e.is_request() || e.is_connect() || e.is_body(), "{e:?}");
    let (s, _, _) = t.send(get.clone(), LIST, Some(ADMIN), None).await.unwrap();
    assert_eq!(s, StatusCode::OK, "script consumed");

    // A lost create answer: the connection drops but the integration exists.
    t.srv.set_faults(script(&[FaultKind::LoseCreate]));
    let (s, _) = t.get(LIST).await;
    assert_eq!(s, StatusCode::OK, "loseCreate waits for a create");
    let e = t
        .send(
            reqwest::Method::POST,
            LIST,
            Some(ADMIN),
            Some(gitlab_body()),
        )
        .await
        .expect_err("answer lost");
    assert!(!e.is_status());
    let (_, v) = t
        .get(&format!("{LIST}?type=GITLAB_SERVER&group=platform"))
        .await;
    assert_eq!(v["total"], 1, "the create was applied");
    let st = t.srv.stats();
    for k in ["error500", "error502", "error503", "drop", "loseCreate"] {
        assert_eq!(st.faults.get(k), Some(&1), "{k}");
    }

    // Runtime change through /_dev/faults, with a route filter.
    let (s, _) = t
        .put(
            "/_dev/faults",
            Some(json!({"script": [{"kind": "error503", "route": "GET /rest/api/2/project"}]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(t.get(LIST).await.0, StatusCode::OK);
    assert_eq!(
        t.get("/rest/api/2/project").await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

async fn random_fault_sequence(seed: u64) -> Vec<u16> {
    let mut cfg = config(Some("quickstart"));
    cfg.faults = FaultConfig {
        seed,
        error_rate: 0.3,
        drop_rate: 0.1,
        ..FaultConfig::default()
    };
    let t = T::start(cfg).await;
    let mut out = Vec::new();
    for _ in 0..40 {
        out.push(
            match t.send(reqwest::Method::GET, LIST, Some(ADMIN), None).await {
                Ok((s, _, _)) => s.as_u16(),
                Err(_) => 0,
            },
        );
    }
    let st = t.srv.stats();
    let injected: u64 = st.faults.values().sum();
    assert_eq!(injected, out.iter().filter(|s| **s != 200).count() as u64);
    out
}

#[tokio::test]
async fn random_faults_are_deterministic_per_seed() {
    let a = random_fault_sequence(42).await;
    assert_eq!(a, random_fault_sequence(42).await);
    assert_ne!(a, random_fault_sequence(43).await);
    assert!(a.contains(&0) && a.contains(&200) && a.iter().any(|s| *s >= 500));
}

#[tokio::test]
async fn latency_is_added() {
    let mut cfg = config(Some("quickstart"));
    cfg.faults = FaultConfig {
        latency_ms: 30,
        spike_rate: 1.0,
        spike_ms: 40,
        ..FaultConfig::default()
    };
    let t = T::start(cfg).await;
    let started = std::time::Instant::now();
    assert_eq!(t.get(LIST).await.0, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(70));
    assert_eq!(t.srv.stats().faults.get("spike"), Some(&1));
}

#[tokio::test]
async fn state_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("site.json");
    let mut cfg = config(Some("quickstart"));
    cfg.state_file = Some(path.clone());
    cfg.save_on_mutation = true;
    let t = T::start(cfg.clone()).await;
    assert!(!path.exists());
    t.post(LIST, gitlab_body()).await;
    assert!(path.exists(), "saved after the create");
    t.advance_secs(5.0);
    assert_eq!(t.repos(7).await.len(), 3);
    let before = t.srv.state_snapshot();
    t.srv.shutdown().await.unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    for secret in ["dev-gitlab-token", "dev-github-token", ADMIN] {
        assert!(!text.contains(secret), "state file leaks a credential");
    }
    // Restart without the seed: the state file wins.
    cfg.seed = None;
    let t = T::start(cfg).await;
    let after = t.srv.state_snapshot();
    assert_eq!(after.integrations, before.integrations);
    assert_eq!(after.repositories.len(), before.repositories.len());
    assert_eq!(t.repos(7).await.len(), 3);
    let (_, v) = t.post(LIST, gitlab_body()).await;
    assert_eq!(v["integration"]["id"], 11, "the id counter was saved");
}

#[tokio::test]
async fn answers_match_gij_documented_shapes() {
    let t = T::start(config(Some("org"))).await;
    let (_, list) = t.get(LIST).await;
    // The list uses a boolean success; retrieve-one a string and an array.
    assert_eq!(list["success"], json!(true));
    let page: wire::Page = serde_json::from_value(list.clone()).unwrap();
    let integrations = page.integrations.unwrap();
    assert_eq!(integrations.len(), 5);
    let oauth = integrations
        .iter()
        .find(|i| i.auth_method.as_deref() == Some("OAUTH"))
        .expect("gh-mobile is an OAuth integration");
    assert_eq!(oauth.group.as_deref(), Some("globex-mobile"));
    let (_, one) = t
        .get(&format!("{LIST}/{}", integrations[0].id.unwrap()))
        .await;
    assert_eq!(one["success"], json!("true"));
    assert!(one["integration"].is_array());
    let parsed: wire::IntegrationResponse = serde_json::from_value(one.clone()).unwrap();
    let i = parsed.integration.unwrap();
    for key in [
        "id",
        "displayName",
        "origin",
        "disabled",
        "sendCommitEmails",
        "maxMinsToCommitEmail",
        "global",
        "initDate",
        "lastIndexedDate",
        "revisionIndexing",
        "gitViewerEnabled",
        "disableSslVerification",
        "smartCommitsEnabled",
        "tagsFilter",
        "requireUserPat",
        "projectMappingIds",
        "integrationType",
        "sourcesDiffViewEnabled",
        "refSpecNotes",
        "refSpecChanges",
        "apiPath",
        "apiFilter",
        "trustFolderStat",
    ] {
        assert!(one["integration"][0].get(key).is_some(), "missing {key}");
    }
    assert_eq!(i.indexing_state.as_deref(), Some("INDEXED"));
    // Seeded integrations are indexed; disabled repositories are not.
    let (_, repos) = t.get("/rest/gitplugin/1.0/repository").await;
    let repos: wire::Page = serde_json::from_value(repos).unwrap();
    let repos = repos.repositories.unwrap();
    let legacy = repos
        .iter()
        .find(|r| r.display_name == "legacy-ledger")
        .unwrap();
    assert!(legacy.disabled && legacy.last_indexed_date.is_none());
    assert!(
        repos
            .iter()
            .filter(|r| !r.disabled)
            .all(|r| r.state.as_deref() == Some("UPDATED") && r.tracked_folder_id.is_some())
    );
    // The OAuth integration can be updated and toggled, not given a PAT.
    let oid = oauth.id.unwrap();
    let (s, _) = t
        .put(
            &format!("{LIST}/{oid}"),
            Some(json!({"requireUserPat": true})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = t
        .put(&format!("{LIST}/{oid}"), Some(json!({"pat": "x"})))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // Every org credential is accepted for its service.
    for (body, ok) in [
        (
            json!({"type": "GITHUB_SERVER", "origin": "https://github.globex.internal", "group": "legacy", "pat": "dev-globex-github"}),
            true,
        ),
        (
            json!({"type": "GITLAB", "group": "globex-oss", "pat": "dev-globex-gitlab-com"}),
            true,
        ),
        (
            json!({"type": "AZURE_DEVOPS", "origin": "https://tfs.globex.internal/tfs", "group": "erp", "pat": "dev-globex-tfs"}),
            true,
        ),
        (
            json!({"type": "AWS", "group": "globex-ml", "awsRegion": "eu-west-1", "username": "AKIAEXAMPLEGLOBEX01", "password": "dev-globex-aws"}),
            true,
        ),
        (
            json!({"type": "AWS", "group": "globex-ml", "awsRegion": "eu-west-1", "username": "someone-else", "password": "dev-globex-aws"}),
            false,
        ),
        (
            json!({"type": "GERRIT", "origin": "https://gerrit.globex.internal", "group": "android", "username": "svc-gij", "password": "dev-globex-gerrit"}),
            true,
        ),
        (
            json!({"type": "BITBUCKET_SERVER", "origin": "https://bitbucket.globex.internal", "group": "PAY", "pat": "dev-globex-bitbucket"}),
            true,
        ),
    ] {
        let (s, v) = t.post(LIST, body.clone()).await;
        assert_eq!(s == StatusCode::OK, ok, "{body} -> {v}");
    }
}

#[test]
fn cli_prints_url_and_saves_state_on_sigterm() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_gijctl"))
        .args([
            "dev-server",
            "--listen",
            "127.0.0.1:0",
            "--admin-token",
            ADMIN,
            "--seed",
        ])
        .arg(example("quickstart"))
        .arg("--state")
        .arg(&state)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().to_owned();
    assert!(
        url.starts_with("http://127.0.0.1:") && !url.ends_with(":0"),
        "{url}"
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let status = rt.block_on(async {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::new()
            .get(format!("{url}/rest/api/2/project"))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, StatusCode::OK);
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!(saved["integrations"].as_object().unwrap().len(), 1);
}

/// A supervisor that reads the URL line and stops the server at once must find the state
/// saved: the signal handlers are installed before the URL is printed. Before that fix a
/// SIGTERM sent right after the line killed the process (SIGTERM's default action) in most
/// tries, so the test repeats the race a few times; with the fix no try can lose.
#[test]
fn cli_saves_state_on_sigterm_sent_right_after_the_url_line() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    for attempt in 0..10 {
        let state = dir.path().join(format!("state-{attempt}.json"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_gijctl"))
            .args([
                "dev-server",
                "--listen",
                "127.0.0.1:0",
                "--admin-token",
                ADMIN,
                "--seed",
            ])
            .arg(example("quickstart"))
            .arg("--state")
            .arg(&state)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("http://127.0.0.1:"), "{line}");
        let pid = libc::pid_t::try_from(child.id()).unwrap();
        // SAFETY: kill(2) with a pid this test spawned and has not reaped yet.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        let exit = child.wait().unwrap();
        assert!(
            exit.success(),
            "try {attempt}: the server did not stop cleanly on SIGTERM: {exit:?}"
        );
        let text = std::fs::read_to_string(&state)
            .unwrap_or_else(|e| panic!("try {attempt}: no state file after SIGTERM: {e}"));
        let saved: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(saved["integrations"].as_object().unwrap().len(), 1);
    }
}
