//! `gijctl dev-server --profile documented`: every answer has exactly the key set and JSON
//! types of the GIJ (or Jira) documentation example it implements, no gijctl extension appears
//! in any answer or header of a scripted session, errors are GIJ's JSON, and the extended
//! profile still sends its extensions.
//!
//! The expected key sets below are written from the documentation, not from the server's code.
//! `DC/<slug>` = `https://help.gitkraken.com/git-integration-for-jira-data-center/<slug>/`
//! (source files in `gitkraken/git-integration-for-jira-self-managed-docs` at 028d96a,
//! summarised in /work/shared/reference/gij-api.md).

use std::collections::BTreeSet;
use std::time::Duration;

use gijctl::devserver::{
    DevServer, DevServerConfig, Profile, RateLimitConfig, RunningServer, Seed, SeedSource,
};
use gijctl::secret::Secret;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const ADMIN: &str = "doc-admin-token";

/// `DC/retrieve-integration-list-gij-self-managed`, the example's entries (`prHideFilter`
/// appears there only on the entry that has a filter).
const LIST_INTEGRATION: &[&str] = &[
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
    "requireUserPat",
    "projectMappingIds",
    "integrationType",
    "showAllTags",
    "sourcesDiffViewEnabled",
    "refSpecNotes",
    "refSpecChanges",
    "trustFolderStat",
];
/// `DC/retrieve-an-integration-gij-self-managed`.
const GET_INTEGRATION: &[&str] = &[
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
];
/// `DC/add-new-integration-gij-self-managed` (no `lastIndexedDate`: nothing is indexed yet).
const CREATE_INTEGRATION: &[&str] = &[
    "id",
    "displayName",
    "origin",
    "disabled",
    "sendCommitEmails",
    "maxMinsToCommitEmail",
    "global",
    "initDate",
    "revisionIndexing",
    "gitViewerEnabled",
    "disableSslVerification",
    "smartCommitsEnabled",
    "requireUserPat",
    "projectMappingIds",
    "integrationType",
    "sourcesDiffViewEnabled",
    "refSpecNotes",
    "refSpecChanges",
    "trustFolderStat",
];
/// `DC/update-existing-integration-gij-self-managed` (both examples; no `requireUserPat`).
const UPDATE_INTEGRATION: &[&str] = &[
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
    "projectMappingIds",
    "integrationType",
    "sourcesDiffViewEnabled",
    "refSpecNotes",
    "refSpecChanges",
    "trustFolderStat",
];
/// `DC/retrieve-repository-list-gij-self-managed`, the example's entries.
const LIST_REPOSITORY: &[&str] = &[
    "id",
    "group",
    "displayName",
    "origin",
    "mainBranch",
    "root",
    "realRoot",
    "absoluteRoot",
    "disabled",
    "enableFetches",
    "sendCommitEmails",
    "maxMinsToCommitEmail",
    "global",
    "hosted",
    "initDate",
    "lastIndexedDate",
    "revisionIndexing",
    "gitViewerEnabled",
    "disableSslVerification",
    "smartCommitsEnabled",
    "webLinkType",
    "viewFormat",
    "changesetFormat",
    "fileAddedFormat",
    "fileModifiedFormat",
    "fileDeletedFormat",
    "mergeRequestFormat",
    "branchLinkFormat",
    "commitsValidationRequired",
    "requireUserPat",
    "projectMappingIds",
    "trackedFolderId",
    "integrationType",
    "showAllTags",
    "supportsBranchCreationApi",
    "supportsPullRequestApi",
    "sourcesDiffViewEnabled",
    "refSpecNotes",
    "refSpecChanges",
    "trustFolderStat",
];
/// `DC/add-new-repository-gij-self-managed`, the response (bare, no `lastIndexedDate` yet).
const ADD_REPOSITORY: &[&str] = &[
    "id",
    "displayName",
    "origin",
    "mainBranch",
    "root",
    "realRoot",
    "absoluteRoot",
    "disabled",
    "enableFetches",
    "sendCommitEmails",
    "maxMinsToCommitEmail",
    "global",
    "hosted",
    "initDate",
    "revisionIndexing",
    "gitViewerEnabled",
    "disableSslVerification",
    "smartCommitsEnabled",
    "commitsValidationRequired",
    "requireUserPat",
    "projectMappingIds",
    "showAllTags",
    "supportsBranchCreationApi",
    "sourcesDiffViewEnabled",
    "refSpecNotes",
    "refSpecChanges",
    "trustFolderStat",
];
/// `DC/update-nested-repository-api-gij-self-managed` (and
/// `DC/update-existing-repository-gij-self-managed`), the response (bare).
const UPDATE_REPOSITORY: &[&str] = &[
    "id",
    "displayName",
    "origin",
    "mainBranch",
    "root",
    "realRoot",
    "absoluteRoot",
    "disabled",
    "enableFetches",
    "sendCommitEmails",
    "maxMinsToCommitEmail",
    "global",
    "hosted",
    "initDate",
    "lastIndexedDate",
    "revisionIndexing",
    "gitViewerEnabled",
    "disableSslVerification",
    "smartCommitsEnabled",
    "webLinkType",
    "viewFormat",
    "changesetFormat",
    "fileAddedFormat",
    "fileModifiedFormat",
    "fileDeletedFormat",
    "mergeRequestFormat",
    "branchLinkFormat",
    "commitsValidationRequired",
    "projectMappingIds",
    "trackedFolderId",
    "showAllTags",
    "sourcesDiffViewEnabled",
    "refSpecNotes",
    "refSpecChanges",
    "trustFolderStat",
];
/// `DC/reindex-post-api-gij-self-managed` (also the webhook URL's answer).
const REINDEX: &[&str] = &["success", "finished", "threadId"];
/// `DC/reindex-get-api-gij-self-managed`.
const INDEX_JSON: &[&str] = &[
    "success",
    "finished",
    "threadId",
    "messages",
    "errors",
    "lastOperationPercent",
];
/// `DC/remove-integration-gij-self-managed`, `DC/delete-existing-repository-gij-self-managed`.
const ERROR: &[&str] = &["success", "error", "advice"];
/// Jira DC's `GET /rest/api/2/serverInfo` (Jira Server platform REST API reference example).
const SERVER_INFO: &[&str] = &[
    "baseUrl",
    "version",
    "versionNumbers",
    "deploymentType",
    "buildNumber",
    "buildDate",
    "serverTime",
    "scmInfo",
    "serverTitle",
];

/// Every gijctl extension key (docs/api.md `[ext]`); none may appear in a documented answer.
const EXTENSION_KEYS: &[&str] = &[
    "authMethod",
    "indexingState",
    "indexingPercent",
    "commits",
    "start",
    "limit",
    "size",
    "total",
    "isLastPage",
    "nextPageStart",
    "virtualNowMs",
];
/// Extension headers.
const EXTENSION_HEADERS: &[&str] = &[
    "x-ratelimit-reset",
    "x-ratelimit-reset-ms",
    "retry-after-ms",
];

/// The JSON type GIJ's examples give each key.
fn expected_type(key: &str) -> &'static str {
    match key {
        "id"
        | "initDate"
        | "lastIndexedDate"
        | "maxMinsToCommitEmail"
        | "trackedFolderId"
        | "buildNumber" => "number",
        "projectMappingIds" | "versionNumbers" => "array",
        "messages" | "errors" => "object",
        "displayName"
        | "origin"
        | "integrationType"
        | "tagsFilter"
        | "prHideFilter"
        | "apiPath"
        | "apiFilter"
        | "group"
        | "mainBranch"
        | "root"
        | "realRoot"
        | "webLinkType"
        | "viewFormat"
        | "changesetFormat"
        | "fileAddedFormat"
        | "fileModifiedFormat"
        | "fileDeletedFormat"
        | "mergeRequestFormat"
        | "branchLinkFormat"
        | "supportsPullRequestApi"
        | "error"
        | "advice"
        | "baseUrl"
        | "version"
        | "deploymentType"
        | "buildDate"
        | "serverTime"
        | "scmInfo"
        | "serverTitle" => "string",
        "lastOperationPercent" => "number",
        _ => "boolean",
    }
}

fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// `v` is an object with exactly `keys`, each of its documented type.
#[track_caller]
fn assert_keys(what: &str, v: &Value, keys: &[&str]) {
    let obj = v
        .as_object()
        .unwrap_or_else(|| panic!("{what}: not an object: {v}"));
    let got: BTreeSet<&str> = obj.keys().map(String::as_str).collect();
    let want: BTreeSet<&str> = keys.iter().copied().collect();
    assert_eq!(
        got,
        want,
        "{what}: extra {:?}, missing {:?}",
        got.difference(&want).collect::<Vec<_>>(),
        want.difference(&got).collect::<Vec<_>>()
    );
    for (k, x) in obj {
        if k == "success" || k == "integration" || k == "integrations" || k == "repositories" {
            continue;
        }
        if what.starts_with("reindex") && k == "threadId" {
            assert_eq!(type_of(x), "string", "{what}: threadId is a UUID string");
            continue;
        }
        if what.starts_with("index.json") && k == "threadId" {
            assert_eq!(
                type_of(x),
                "number",
                "{what}: threadId is a number in GIJ's example"
            );
            continue;
        }
        assert_eq!(type_of(x), expected_type(k), "{what}: type of {k} ({x})");
    }
}

fn without<'a>(keys: &[&'a str], drop: &[&str]) -> Vec<&'a str> {
    keys.iter().copied().filter(|k| !drop.contains(k)).collect()
}

fn with<'a>(keys: &[&'a str], add: &[&'a str]) -> Vec<&'a str> {
    keys.iter().chain(add).copied().collect()
}

fn seed() -> Seed {
    serde_json::from_value(json!({
        "projects": [{"id": 10000, "key": "OPS", "name": "Operations"}],
        "catalog": {"services": [
            {"type": "GITHUB", "origin": "https://api.github.com",
             "groups": [{"name": "acme", "repositories": [
                 {"name": "api", "commits": 100}, {"name": "web", "commits": 200}]}],
             "tokens": [{"value": "gh-token", "groups": ["acme"]}]}
        ]}
    }))
    .expect("seed parses")
}

fn config(profile: Profile) -> DevServerConfig {
    DevServerConfig {
        seed: Some(SeedSource::Seed(Box::new(seed()))),
        time_scale: 0.0,
        admin_tokens: vec![Secret::new(ADMIN.into())],
        profile,
        ..DevServerConfig::default()
    }
}

struct T {
    srv: RunningServer,
    http: reqwest::Client,
    /// Every answer of the session, for the extension scan.
    seen: std::sync::Mutex<Vec<(String, reqwest::header::HeaderMap, Value)>>,
}

impl T {
    async fn start(cfg: DevServerConfig) -> T {
        let _ = rustls::crypto::ring::default_provider().install_default();
        T {
            srv: DevServer::start(cfg).await.expect("server starts"),
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .unwrap(),
            seen: std::sync::Mutex::new(Vec::new()),
        }
    }

    async fn call_with(
        &self,
        method: Method,
        path: &str,
        auth: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
        body: Option<Value>,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut rb = auth(
            self.http
                .request(method.clone(), format!("{}{path}", self.srv.base_url())),
        );
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await.expect("request");
        let (status, headers) = (resp.status(), resp.headers().clone());
        let text = resp.text().await.unwrap();
        let v: Value = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{method} {path}: not JSON: {text:?} ({status})"));
        self.seen
            .lock()
            .unwrap()
            .push((format!("{method} {path}"), headers.clone(), v.clone()));
        (status, headers, v)
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let (s, _, v) = self
            .call_with(method, path, |rb| rb.bearer_auth(ADMIN), body)
            .await;
        (s, v)
    }

    fn advance(&self, secs: u64) {
        self.srv.advance(Duration::from_secs(secs));
    }
}

/// Walks `v` and returns the first extension key found, with its path.
fn find_extension(v: &Value, path: &str) -> Option<String> {
    match v {
        Value::Object(m) => m.iter().find_map(|(k, x)| {
            // `group` is documented on repository entries only.
            let ext = EXTENSION_KEYS.contains(&k.as_str())
                || (k == "group" && path.contains("integration"));
            if ext {
                Some(format!("{path}.{k}"))
            } else {
                find_extension(x, &format!("{path}.{k}"))
            }
        }),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .find_map(|(i, x)| find_extension(x, &format!("{path}[{i}]"))),
        _ => None,
    }
}

#[tokio::test]
async fn scripted_session_answers_exactly_the_documented_key_sets() {
    let t = T::start(config(Profile::Documented)).await;
    assert_eq!(t.srv.profile(), Profile::Documented);

    // Add New Integration: `success` the string "true", `integration` an object.
    let (s, v) = t
        .call(
            Method::POST,
            "/rest/gitplugin/1.0/integration",
            Some(json!({"type": "GITHUB", "pat": "gh-token", "group": "acme", "displayName": "GitHub"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["success"], json!("true"));
    assert_keys("create", &v, &["success", "integration"]);
    assert_keys("create.integration", &v["integration"], CREATE_INTEGRATION);
    let id = v["integration"]["id"].as_u64().unwrap();

    t.advance(600); // discovery and indexing finish

    // Retrieve Integration List: boolean success, the whole list, no paging keys.
    let (_, v) = t
        .call(
            Method::GET,
            "/rest/gitplugin/1.0/integration?start=0&limit=1",
            None,
        )
        .await;
    assert_eq!(v["success"], json!(true));
    assert_keys("list", &v, &["success", "integrations"]);
    assert_eq!(v["integrations"].as_array().unwrap().len(), 1);
    assert_keys(
        "list.integrations[0]",
        &v["integrations"][0],
        LIST_INTEGRATION,
    );

    // Retrieve an Integration: a one-element array.
    let (_, v) = t
        .call(
            Method::GET,
            &format!("/rest/gitplugin/1.0/integration/{id}"),
            None,
        )
        .await;
    assert_eq!(v["success"], json!("true"));
    assert_eq!(v["integration"].as_array().map(Vec::len), Some(1), "{v}");
    assert_keys("get.integration[0]", &v["integration"][0], GET_INTEGRATION);

    // Update Existing Integration.
    let (s, v) = t
        .call(
            Method::PUT,
            &format!("/rest/gitplugin/1.0/integration/{id}"),
            Some(json!({"global": false, "projectMappingIds": [10000]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["success"], json!("true"));
    assert_keys("update.integration", &v["integration"], UPDATE_INTEGRATION);
    assert_eq!(v["integration"]["projectMappingIds"], json!([10000]));

    // Retrieve Repository List.
    let (_, v) = t
        .call(Method::GET, "/rest/gitplugin/1.0/repository?limit=1", None)
        .await;
    assert_eq!(v["success"], json!(true));
    assert_keys("repositories", &v, &["success", "repositories"]);
    let repos = v["repositories"].as_array().unwrap().clone();
    assert_eq!(repos.len(), 2, "start/limit are ignored");
    for (i, r) in repos.iter().enumerate() {
        assert_keys(&format!("repositories[{i}]"), r, LIST_REPOSITORY);
        assert_eq!(r["trackedFolderId"], json!(id));
    }
    assert_eq!(repos[0]["origin"], json!("https://github.com/acme/api.git"));
    assert_eq!(
        repos[0]["changesetFormat"],
        json!("https://github.com/acme/api/commit/${rev}")
    );
    let nested = repos[0]["id"].as_u64().unwrap();

    // Update Nested Repository: bare object, partial.
    let (s, v) = t
        .call(
            Method::PUT,
            "/rest/gitplugin/1.0/repository",
            Some(json!({"id": nested, "maxMinsToCommitEmail": 1441, "gitViewerEnabled": false, "mainBranch": "ignored"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_keys("update repository", &v, UPDATE_REPOSITORY);
    assert_eq!(v["maxMinsToCommitEmail"], json!(1441));
    assert_eq!(v["gitViewerEnabled"], json!(false));

    // Enable/disable: the integration keeps its lastIndexedDate once disabled.
    let (_, v) = t
        .call(
            Method::PUT,
            &format!("/rest/gitplugin/1.0/repository/{id}/disable?disable=true"),
            None,
        )
        .await;
    assert_eq!(v, json!({"success": true}));
    let (_, v) = t
        .call(Method::GET, "/rest/gitplugin/1.0/integration", None)
        .await;
    let entry = &v["integrations"][0];
    assert_eq!(entry["disabled"], json!(true));
    assert!(entry["lastIndexedDate"].is_number(), "{entry}");
    let (_, v) = t
        .call(
            Method::PUT,
            &format!("/rest/gitplugin/1.0/repository/{id}/disable?disable=false"),
            None,
        )
        .await;
    assert_eq!(v, json!({"success": true}));

    // Add New Repository (standalone): bare object, listed with the same keys.
    let (s, v) = t
        .call(
            Method::POST,
            "/rest/gitplugin/1.0/repository",
            Some(json!({"displayName": "MyGitLab-testrepo", "origin": "https://github.com/johnsmith/test-repo.git",
                        "mainBranch": "master", "absoluteRoot": false, "pat": "x"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_keys("add repository", &v, ADD_REPOSITORY);
    let standalone = v["id"].as_u64().unwrap();
    t.advance(1);
    let (_, v) = t
        .call(Method::GET, "/rest/gitplugin/1.0/repository", None)
        .await;
    let listed = v["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == json!(standalone))
        .cloned()
        .unwrap();
    assert_keys(
        "standalone in list",
        &listed,
        &with(ADD_REPOSITORY, &["lastIndexedDate"]),
    );
    let (_, v) = t
        .call(
            Method::PUT,
            "/rest/gitplugin/1.0/repository",
            Some(json!({"id": standalone, "displayName": "renamed"})),
        )
        .await;
    assert_keys(
        "update standalone",
        &v,
        &without(UPDATE_REPOSITORY, &["trackedFolderId"]),
    );
    assert_eq!(v["displayName"], json!("renamed"));

    // Reindex POST and GET.
    let (_, v) = t
        .call(
            Method::POST,
            "/rest/gitplugin/2.0/reindex",
            Some(json!({"repoId": nested, "priority": 20})),
        )
        .await;
    assert_keys("reindex", &v, REINDEX);
    assert_eq!(v["success"], json!(true));
    assert_eq!(v["finished"], json!(false));
    let thread = v["threadId"].as_str().unwrap().to_owned();
    assert_eq!(thread.len(), 36, "a UUID: {thread}");
    let (_, v) = t
        .call(
            Method::GET,
            &format!("/rest/gitplugin/1.0/index.json?threadId={thread}"),
            None,
        )
        .await;
    assert_keys("index.json thread", &v, INDEX_JSON);
    assert_eq!(v["finished"], json!(false), "the reindex is queued: {v}");
    assert_eq!(v["messages"].as_object().unwrap().len(), 1, "{v}");
    t.advance(600);
    let (_, v) = t
        .call(
            Method::GET,
            &format!("/rest/gitplugin/1.0/index.json?threadId={thread}&repoId={nested}"),
            None,
        )
        .await;
    assert_keys("index.json thread+repo", &v, INDEX_JSON);
    assert_eq!(v["finished"], json!(true), "{v}");
    let (_, v) = t
        .call(Method::POST, "/rest/gitplugin/2.0/reindex", None)
        .await;
    assert_keys("reindex all", &v, REINDEX);
    let (_, v) = t
        .call(Method::GET, "/rest/gitplugin/1.0/index.json", None)
        .await;
    assert_keys("index.json all", &v, INDEX_JSON);
    // The integration id is not a repository of index.json in the documented profile.
    let (s, v) = t
        .call(
            Method::GET,
            &format!("/rest/gitplugin/1.0/index.json?repoId={id}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_keys("index.json integration id", &v, ERROR);

    // The webhook URL: no Jira credentials, the secret authenticates.
    let hook = t.srv.webhook_path(nested);
    let (s, _, v) = t.call_with(Method::POST, &hook, |rb| rb, None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_keys("reindex webhook", &v, REINDEX);
    let (s, _, v) = t
        .call_with(
            Method::GET,
            "/rest/gitplugin/webhook/1.0/reindex/wrong",
            |rb| rb,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_keys("webhook error", &v, ERROR);

    // Delete Existing Repository and Remove Integration.
    let (_, v) = t
        .call(
            Method::DELETE,
            &format!("/rest/gitplugin/1.0/repository?id={standalone}&deleteFiles=true"),
            None,
        )
        .await;
    assert_eq!(v, json!({"success": true}));
    let (s, v) = t
        .call(
            Method::DELETE,
            &format!("/rest/gitplugin/1.0/repository?id={standalone}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(
        v,
        json!({"success": false, "error": format!("Repository with id={standalone} does not exist"),
               "advice": "Please try again with an existing repository id."})
    );
    let (_, v) = t
        .call(
            Method::DELETE,
            &format!("/rest/gitplugin/1.0/integration/{id}?deleteFiles=false"),
            None,
        )
        .await;
    assert_eq!(v, json!({"success": true}));

    // Jira's serverInfo.
    let (_, v) = t.call(Method::GET, "/rest/api/2/serverInfo", None).await;
    assert_keys("serverInfo", &v, SERVER_INFO);

    // No extension anywhere in the session's answers or headers.
    let seen = t.seen.lock().unwrap();
    assert!(seen.len() >= 24, "{}", seen.len());
    for (what, headers, body) in seen.iter() {
        if let Some(k) = find_extension(body, "$") {
            panic!("{what}: extension key {k} in {body}");
        }
        for h in EXTENSION_HEADERS {
            assert!(!headers.contains_key(*h), "{what}: extension header {h}");
        }
    }
}

#[tokio::test]
async fn errors_are_gij_json_in_both_profiles() {
    for profile in [Profile::Documented, Profile::Extended] {
        let t = T::start(config(profile)).await;
        let cases: &[(Method, &str, Option<Value>, StatusCode)] = &[
            (
                Method::GET,
                "/rest/gitplugin/1.0/nowhere",
                None,
                StatusCode::NOT_FOUND,
            ),
            (
                Method::PATCH,
                "/rest/gitplugin/1.0/integration",
                None,
                StatusCode::METHOD_NOT_ALLOWED,
            ),
            (
                Method::DELETE,
                "/rest/api/2/serverInfo",
                None,
                StatusCode::METHOD_NOT_ALLOWED,
            ),
            (
                Method::GET,
                "/rest/gitplugin/1.0/integration/99",
                None,
                StatusCode::NOT_FOUND,
            ),
            (
                Method::DELETE,
                "/rest/gitplugin/1.0/integration/99",
                None,
                StatusCode::NOT_FOUND,
            ),
            (
                Method::PUT,
                "/rest/gitplugin/1.0/repository",
                Some(json!({"id": 99})),
                StatusCode::NOT_FOUND,
            ),
            (
                Method::PUT,
                "/rest/gitplugin/1.0/repository",
                Some(json!({})),
                StatusCode::BAD_REQUEST,
            ),
            (
                Method::DELETE,
                "/rest/gitplugin/1.0/repository",
                None,
                StatusCode::BAD_REQUEST,
            ),
            (
                Method::POST,
                "/rest/gitplugin/1.0/repository",
                Some(json!({})),
                StatusCode::BAD_REQUEST,
            ),
            (
                Method::POST,
                "/rest/gitplugin/2.0/reindex",
                Some(json!({"repoId": "x"})),
                StatusCode::BAD_REQUEST,
            ),
            (
                Method::POST,
                "/rest/gitplugin/2.0/reindex",
                Some(json!({"repoId": 99})),
                StatusCode::NOT_FOUND,
            ),
            (
                Method::GET,
                "/rest/gitplugin/1.0/index.json?threadId=nope",
                None,
                StatusCode::NOT_FOUND,
            ),
            (
                Method::POST,
                "/rest/gitplugin/1.0/integration",
                Some(json!({"type": "NOPE"})),
                StatusCode::BAD_REQUEST,
            ),
        ];
        for (m, path, body, want) in cases {
            let (s, v) = t.call(m.clone(), path, body.clone()).await;
            assert_eq!(s, *want, "{profile:?} {m} {path}: {v}");
            assert_keys(&format!("{profile:?} {m} {path}"), &v, ERROR);
            assert_eq!(v["success"], json!(false));
        }
        // Unauthenticated and a wrong Basic password: 401, GIJ JSON.
        for auth in [None, Some("admin:wrong")] {
            let (s, _, v) = t
                .call_with(
                    Method::GET,
                    "/rest/gitplugin/1.0/integration",
                    |rb| match auth {
                        Some(a) => {
                            let (u, p) = a.split_once(':').unwrap();
                            rb.basic_auth(u, Some(p))
                        }
                        None => rb,
                    },
                    None,
                )
                .await;
            assert_eq!(s, StatusCode::UNAUTHORIZED);
            assert_keys("401", &v, ERROR);
        }
    }
}

#[tokio::test]
async fn jira_basic_auth_and_rate_limit_headers() {
    let mut cfg = config(Profile::Documented);
    cfg.rate_limit = RateLimitConfig {
        capacity: 3,
        refill_per_sec: 0.5,
    };
    let t = T::start(cfg).await;
    let (s, h, v) = t
        .call_with(
            Method::GET,
            "/rest/gitplugin/1.0/integration",
            |rb| rb.basic_auth("admin", Some(ADMIN)),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let header =
        |h: &reqwest::header::HeaderMap, n: &str| h.get(n).map(|v| v.to_str().unwrap().to_owned());
    // Jira DC: Limit (max tokens), Remaining, FillRate tokens every Interval-Seconds, and
    // Retry-After 0 while tokens are left (a frozen clock answers in virtual time).
    assert_eq!(header(&h, "x-ratelimit-limit").as_deref(), Some("3"));
    assert_eq!(header(&h, "x-ratelimit-remaining").as_deref(), Some("2"));
    assert_eq!(header(&h, "x-ratelimit-fillrate").as_deref(), Some("1"));
    assert_eq!(
        header(&h, "x-ratelimit-interval-seconds").as_deref(),
        Some("2")
    );
    assert_eq!(header(&h, "retry-after").as_deref(), Some("0"));
    for _ in 0..2 {
        t.call(Method::GET, "/rest/gitplugin/1.0/integration", None)
            .await;
    }
    let (s, h, v) = t
        .call_with(
            Method::GET,
            "/rest/gitplugin/1.0/integration",
            |rb| rb.bearer_auth(ADMIN),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert_keys("429", &v, ERROR);
    assert_eq!(header(&h, "retry-after").as_deref(), Some("2"));
    assert_eq!(header(&h, "x-ratelimit-remaining").as_deref(), Some("0"));
    for n in EXTENSION_HEADERS {
        assert!(!h.contains_key(*n), "{n}");
    }
}

#[tokio::test]
async fn filespace_integrations_as_gij_documents_them() {
    let t = T::start(config(Profile::Documented)).await;
    // `DC/add-new-integration-type-api-examples-gij-self-managed`.
    let (s, v) = t
        .call(
            Method::POST,
            "/rest/gitplugin/1.0/integration",
            Some(json!({"type": "FILESPACE", "displayName": "Tracked folder via API", "origin": "D:\\tmp\\*"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let i = &v["integration"];
    assert_keys(
        "filespace create",
        i,
        &with(CREATE_INTEGRATION, &["root", "realRoot", "absoluteRoot"]),
    );
    assert_eq!(i["origin"], json!("D:\\tmp\\*"));
    assert_eq!(i["root"], json!("D:\\tmp\\"));
    assert_eq!(i["absoluteRoot"], json!(true));
    t.advance(10);
    let (_, v) = t
        .call(Method::GET, "/rest/gitplugin/1.0/integration", None)
        .await;
    // Nothing indexed (an empty folder): no lastIndexedDate.
    assert_keys(
        "filespace list",
        &v["integrations"][0],
        &with(
            &without(LIST_INTEGRATION, &["lastIndexedDate"]),
            &["root", "realRoot", "absoluteRoot"],
        ),
    );
    let (s, v) = t
        .call(
            Method::POST,
            "/rest/gitplugin/1.0/integration",
            Some(json!({"type": "FILESPACE", "origin": "/jira/repos/*", "folderDepth": 9})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_keys("folderDepth", &v, ERROR);
    // The extended profile still refuses FILESPACE, as before.
    let e = T::start(config(Profile::Extended)).await;
    let (s, _) = e
        .call(
            Method::POST,
            "/rest/gitplugin/1.0/integration",
            Some(json!({"type": "FILESPACE", "origin": "/x/*"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn extended_profile_keeps_its_extensions() {
    let t = T::start(config(Profile::Extended)).await;
    let (_, v) = t
        .call(
            Method::POST,
            "/rest/gitplugin/1.0/integration",
            Some(json!({"type": "GITHUB", "pat": "gh-token", "group": "acme"})),
        )
        .await;
    let i = &v["integration"];
    for k in ["group", "authMethod", "indexingState", "indexingPercent"] {
        assert!(i.get(k).is_some(), "{k} in {i}");
    }
    t.advance(600);
    let (_, h, v) = t
        .call_with(
            Method::GET,
            "/rest/gitplugin/1.0/repository?limit=1",
            |rb| rb.bearer_auth(ADMIN),
            None,
        )
        .await;
    assert_eq!(v["repositories"].as_array().unwrap().len(), 1);
    assert_eq!(v["total"], json!(2));
    assert!(v["repositories"][0]["commits"].is_number());
    assert!(h.contains_key("x-ratelimit-reset-ms"));
    assert!(!h.contains_key("x-ratelimit-fillrate"));
}
