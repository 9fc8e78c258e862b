//! Contract tests: the real client (`gijctl::api::client::Client`) against the real dev-server
//! (`gijctl::devserver::DevServer`, in-process on 127.0.0.1:0) over loopback HTTP.
//!
//! The two sides were written separately against docs/api.md; these tests prove they agree:
//! a full read equals the dev-server's own state with the fewest requests, every error status
//! maps to the right `ApiError`, retries survive every injected fault, a lost create never
//! makes a duplicate, the selective create flow indexes only the wanted repositories, and the
//! client rides out the dev-server's token bucket. The dev-server clock is frozen (or scaled)
//! so nothing sleeps beyond the few milliseconds a server-directed wait asks for.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use gijctl::api::client::{Client, ClientConfig};
use gijctl::api::retry::RetryPolicy;
use gijctl::api::wire::{Integration, IntegrationRequest};
use gijctl::api::{ApiError, GijApi, LiveSite};
use gijctl::devserver::{
    DevServer, DevServerConfig, FaultConfig, FaultKind, Profile, RateLimitConfig, RunningServer,
    ScriptedFault, SeedSource, SiteState,
};
use gijctl::secret::Secret;

const ADMIN: &str = "contract-admin-7d41c9-secret";
const USER: &str = "contract-user-19fe02-secret";
const WRONG: &str = "contract-wrong-5a3b88-secret";
const GITHUB_PAT: &str = "dev-globex-github";

const R_PROJECTS: &str = "GET /rest/api/2/project";
const R_SERVER_INFO: &str = "GET /rest/api/2/serverInfo";
const R_INTEGRATIONS: &str = "GET /rest/gitplugin/1.0/integration";
const R_INTEGRATION: &str = "GET /rest/gitplugin/1.0/integration/{id}";
const R_REPOSITORIES: &str = "GET /rest/gitplugin/1.0/repository";
const R_CREATE: &str = "POST /rest/gitplugin/1.0/integration";

fn seed(name: &str) -> SeedSource {
    SeedSource::Path(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("examples/{name}/seed.json")),
    )
}

/// A frozen-clock server config with one admin and one ordinary user.
fn server_config(seed_name: Option<&str>) -> DevServerConfig {
    DevServerConfig {
        seed: seed_name.map(seed),
        time_scale: 0.0,
        admin_tokens: vec![Secret::new(ADMIN.into())],
        user_tokens: vec![Secret::new(USER.into())],
        ..DevServerConfig::default()
    }
}

async fn start(cfg: DevServerConfig) -> RunningServer {
    DevServer::start(cfg).await.expect("dev-server starts")
}

async fn org() -> RunningServer {
    start(server_config(Some("org"))).await
}

fn policy(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(4),
        max_total: Duration::from_secs(15),
    }
}

fn config(srv: &RunningServer, token: &str) -> ClientConfig {
    let mut c = ClientConfig::new(srv.base_url(), Secret::new(token.into()));
    c.retry = policy(5);
    c.request_timeout = Duration::from_secs(5);
    c
}

fn client(srv: &RunningServer) -> Client {
    Client::new(config(srv, ADMIN)).expect("client builds")
}

/// A client that does not pace itself: the tests of the 429 safety net need it to run into the
/// limit, which pacing otherwise avoids.
fn unpaced_client(srv: &RunningServer) -> Client {
    let mut c = config(srv, ADMIN);
    c.pace.enabled = false;
    Client::new(c).expect("client builds")
}

fn paged_client(srv: &RunningServer, integration_page: u32, repository_page: u32) -> Client {
    let mut c = config(srv, ADMIN);
    c.integration_page_size = integration_page;
    c.repository_page_size = repository_page;
    Client::new(c).expect("client builds")
}

fn scripted(kind: FaultKind, route: &str) -> ScriptedFault {
    ScriptedFault {
        kind,
        route: Some(route.into()),
    }
}

fn script(retry_after_ms: u64, faults: Vec<ScriptedFault>) -> FaultConfig {
    FaultConfig {
        retry_after_ms,
        script: faults,
        ..FaultConfig::default()
    }
}

/// A PAT create of a GitHub integration on the org site's catalog.
fn github_request(group: &str, name: &str, disabled: bool) -> IntegrationRequest {
    IntegrationRequest {
        integration_type: Some("GITHUB".into()),
        fields: Integration {
            group: Some(group.into()),
            display_name: Some(name.into()),
            disabled: Some(disabled),
            ..Integration::default()
        },
        pat: Some(Secret::new(GITHUB_PAT.into())),
        ..IntegrationRequest::default()
    }
}

fn request_count(srv: &RunningServer, route: &str) -> u64 {
    srv.stats().requests.get(route).copied().unwrap_or(0)
}

fn fault_count(srv: &RunningServer, kind: &str) -> u64 {
    srv.stats().faults.get(kind).copied().unwrap_or(0)
}

/// Asserts that what the client read is exactly the dev-server's own state.
fn assert_read_equals_state(site: &LiveSite, st: &SiteState) {
    let mut projects: Vec<(u64, String, String)> = site
        .projects
        .iter()
        .map(|p| (p.id.expect("project id"), p.key.clone(), p.name.clone()))
        .collect();
    projects.sort();
    let mut want_projects: Vec<(u64, String, String)> = st
        .projects
        .iter()
        .map(|p| (p.id, p.key.clone(), p.name.clone()))
        .collect();
    want_projects.sort();
    assert_eq!(projects, want_projects);

    type IntegrationKey = (
        String,
        String,
        Option<String>,
        String,
        Option<String>,
        bool,
        Option<bool>,
        Vec<u64>,
        Option<bool>,
    );
    let got: BTreeMap<u64, IntegrationKey> = site
        .integrations
        .iter()
        .map(|i| {
            (
                i.id.expect("integration id"),
                (
                    i.integration_type.clone().unwrap_or_default(),
                    i.origin.clone().unwrap_or_default(),
                    i.group.clone(),
                    i.auth_method.clone().unwrap_or_default(),
                    i.display_name.clone(),
                    i.disabled.expect("disabled flag"),
                    i.global,
                    i.project_mapping_ids.clone().unwrap_or_default(),
                    i.require_user_pat,
                ),
            )
        })
        .collect();
    assert_eq!(
        got.len(),
        site.integrations.len(),
        "an integration read twice"
    );
    let want: BTreeMap<u64, IntegrationKey> = st
        .integrations
        .values()
        .map(|i| {
            (
                i.id,
                (
                    i.integration_type.clone(),
                    i.origin.clone(),
                    i.group.clone(),
                    i.auth_method.clone(),
                    i.settings.display_name.clone(),
                    i.disabled,
                    i.settings.global,
                    i.settings.project_mapping_ids.clone().unwrap_or_default(),
                    i.settings.require_user_pat,
                ),
            )
        })
        .collect();
    assert_eq!(got, want);

    let repos: BTreeMap<u64, (String, Option<u64>, bool)> = site
        .repositories
        .iter()
        .map(|r| {
            (
                r.id,
                (r.display_name.to_string(), r.tracked_folder_id, r.disabled),
            )
        })
        .collect();
    assert_eq!(
        repos.len(),
        site.repositories.len(),
        "a repository read twice"
    );
    let want_repos: BTreeMap<u64, (String, Option<u64>, bool)> = st
        .repositories
        .values()
        .map(|r| (r.id, (r.name.clone(), Some(r.integration_id), r.disabled)))
        .collect();
    assert_eq!(repos, want_repos);
}

fn pages(total: usize, size: u32) -> u64 {
    (total as u64).div_ceil(u64::from(size)).max(1)
}

/// Reads the site with the given page sizes and checks the result and the request count.
async fn read_and_count(srv: &RunningServer, integration_page: u32, repository_page: u32) {
    let st = srv.state_snapshot();
    let c = paged_client(srv, integration_page, repository_page);
    srv.reset_stats();
    let site = c.read_site().await.expect("read_site");
    assert_read_equals_state(&site, &st);
    let stats = srv.stats();
    let want_int = pages(st.integrations.len(), integration_page);
    let want_repo = pages(st.repositories.len(), repository_page);
    let ctx = format!(
        "{} integrations / page {integration_page}, {} repositories / page {repository_page}: {:?}",
        st.integrations.len(),
        st.repositories.len(),
        stats.requests
    );
    assert_eq!(stats.requests.get(R_PROJECTS), Some(&1), "{ctx}");
    assert_eq!(stats.requests.get(R_SERVER_INFO), Some(&1), "{ctx}");
    assert_eq!(stats.requests.get(R_INTEGRATIONS), Some(&want_int), "{ctx}");
    assert_eq!(
        stats.requests.get(R_REPOSITORIES),
        Some(&want_repo),
        "{ctx}"
    );
    assert_eq!(stats.total_requests, 2 + want_int + want_repo, "{ctx}");
    assert_eq!(c.stats().requests, stats.total_requests);
    assert_eq!(c.stats().retries, 0);
    // The server timed its own answers, and a reset starts the sum again.
    assert!(stats.handler_ms > 0.0, "{ctx}");
    srv.reset_stats();
    assert_eq!(srv.stats().handler_ms, 0.0);
}

// ------------------------------------------------------------------ full read and pagination

#[tokio::test]
async fn full_read_of_the_org_site_equals_the_server_state_with_fewest_requests() {
    let srv = org().await;
    let st = srv.state_snapshot();
    // The seed's shape, so the page sizes below really make several pages.
    assert_eq!(st.integrations.len(), 5);
    assert_eq!(st.repositories.len(), 19);
    assert_eq!(st.projects.len(), 15);
    // Several pages of each list (5 = 2+2+1, 19 = 4*4+3), then the defaults (one page each).
    read_and_count(&srv, 2, 4).await;
    read_and_count(&srv, 3, 7).await;
    read_and_count(&srv, 500, 1000).await;
    // Page size 1: one request per item.
    read_and_count(&srv, 1, 1).await;
    // Exactly one full page, and a page size larger than the list.
    read_and_count(&srv, 5, 19).await;
    read_and_count(&srv, 6, 20).await;
    srv.shutdown().await.unwrap();
}

#[tokio::test]
async fn totals_that_are_a_multiple_of_the_page_size() {
    let srv = org().await;
    let c = client(&srv);
    // Without the OAuth integration (3 repositories) the site has 4 integrations and 16
    // repositories; without the Bitbucket test one (2) as well, 3 and 14.
    let st = srv.state_snapshot();
    let bitbucket = st
        .integrations
        .values()
        .find(|i| i.integration_type == "BITBUCKET_SERVER")
        .map(|i| i.id)
        .expect("seeded Bitbucket integration");
    let oauth = st
        .integrations
        .values()
        .find(|i| i.auth_method == "OAUTH")
        .map(|i| i.id)
        .expect("seeded OAuth integration");
    c.delete_integration(oauth).await.unwrap();
    let st = srv.state_snapshot();
    assert_eq!((st.integrations.len(), st.repositories.len()), (4, 16));
    for (ip, rp) in [(2, 4), (2, 8), (4, 16), (1, 2), (4, 1)] {
        read_and_count(&srv, ip, rp).await;
    }
    c.delete_integration(bitbucket).await.unwrap();
    let st = srv.state_snapshot();
    assert_eq!((st.integrations.len(), st.repositories.len()), (3, 14));
    for (ip, rp) in [(3, 7), (1, 14), (3, 2)] {
        read_and_count(&srv, ip, rp).await;
    }
}

#[tokio::test]
async fn empty_site_reads_in_four_requests() {
    let srv = start(server_config(None)).await;
    for (ip, rp) in [(1, 1), (500, 1000)] {
        read_and_count(&srv, ip, rp).await;
    }
    let site = client(&srv).read_site().await.unwrap();
    assert!(site.projects.is_empty() && site.integrations.is_empty());
    assert!(site.repositories.is_empty());
}

// ------------------------------------------------------------------ error statuses

/// Asserts that neither the Display chain nor the Debug form of an error shows a secret.
fn assert_no_secret(e: &ApiError) {
    let mut text = format!("{e:?}");
    let mut src: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = src {
        text.push_str(&s.to_string());
        src = s.source();
    }
    for secret in [ADMIN, USER, WRONG, GITHUB_PAT, "wrong-pat-0c7e"] {
        assert!(!text.contains(secret), "secret leaked: {text}");
    }
}

#[tokio::test]
async fn every_error_status_maps_to_a_typed_error() {
    let srv = org().await;
    let admin = client(&srv);

    // 401: a token the site does not know.
    let wrong = Client::new(config(&srv, WRONG)).unwrap();
    let e = wrong.read_site().await.unwrap_err();
    assert!(matches!(e, ApiError::Unauthorized { .. }), "{e:?}");
    assert!(e.to_string().contains("401") && e.to_string().contains("token"));
    assert_no_secret(&e);

    // 403: a valid token of a user who is not a Jira administrator. The project and
    // repository lists are open to users, the integration list is not.
    let user = Client::new(config(&srv, USER)).unwrap();
    let e = user.read_site().await.unwrap_err();
    assert!(matches!(e, ApiError::Forbidden { .. }), "{e:?}");
    assert!(e.to_string().contains("not a Jira administrator"), "{e}");
    assert_no_secret(&e);
    let e = user.get_integration(1).await.unwrap_err();
    assert!(matches!(e, ApiError::Forbidden { .. }), "{e:?}");
    let e = user
        .create_integration(&github_request("globex-web", "x", false))
        .await
        .unwrap_err();
    assert!(matches!(e, ApiError::Forbidden { .. }), "{e:?}");
    assert_no_secret(&e);

    // 404: get (as `None`), update, delete and enable/disable of an unknown id.
    assert!(admin.get_integration(9999).await.unwrap().is_none());
    let upd = IntegrationRequest {
        fields: Integration {
            display_name: Some("renamed".into()),
            ..Integration::default()
        },
        ..IntegrationRequest::default()
    };
    let e = admin.update_integration(9999, &upd).await.unwrap_err();
    assert!(matches!(e, ApiError::NotFound { .. }), "{e:?}");
    assert!(e.to_string().contains("integration 9999"), "{e}");
    assert!(e.to_string().contains("id=9999 does not exist"), "{e}");
    assert_no_secret(&e);
    let e = admin.delete_integration(9999).await.unwrap_err();
    assert!(
        matches!(e, ApiError::NotFound { .. }) && e.is_not_found(),
        "{e:?}"
    );
    assert!(e.to_string().contains("9999"), "{e}");
    let e = admin.set_disabled(9999, true).await.unwrap_err();
    assert!(matches!(e, ApiError::NotFound { .. }), "{e:?}");

    // 422: a PAT the git service refuses, an OAuth create, an unknown project id.
    let mut bad_pat = github_request("globex-web", "bad pat", false);
    bad_pat.pat = Some(Secret::new("wrong-pat-0c7e".into()));
    let e = admin.create_integration(&bad_pat).await.unwrap_err();
    match &e {
        ApiError::Unprocessable { error, advice, .. } => {
            assert_eq!(error, "Invalid credentials for https://api.github.com");
            assert!(advice.as_deref().is_some_and(|a| !a.is_empty()), "{e:?}");
        }
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("422"), "{e}");
    assert_no_secret(&e);

    let mut oauth = github_request("globex-web", "oauth", false);
    oauth.pat = None;
    oauth.fields.auth_method = Some("OAUTH".into());
    let e = admin.create_integration(&oauth).await.unwrap_err();
    match &e {
        ApiError::Unprocessable { error, advice, .. } => {
            assert!(error.contains("OAuth"), "{error}");
            assert!(
                advice.as_deref().is_some_and(|a| a.contains("browser")),
                "{e:?}"
            );
        }
        other => panic!("{other:?}"),
    }

    let mut unknown_project = github_request("globex-web", "projects", false);
    unknown_project.fields.project_mapping_ids = Some(vec![10000, 424242]);
    let e = admin
        .create_integration(&unknown_project)
        .await
        .unwrap_err();
    assert!(matches!(e, ApiError::Unprocessable { .. }), "{e:?}");
    assert!(
        e.to_string().contains("Unknown Jira project id 424242"),
        "{e}"
    );
    let mut upd_projects = upd.clone();
    upd_projects.fields.project_mapping_ids = Some(vec![424242]);
    let e = admin
        .update_integration(1, &upd_projects)
        .await
        .unwrap_err();
    assert!(matches!(e, ApiError::Unprocessable { .. }), "{e:?}");

    // 400: a forbidden field combination, a missing required field, a type change.
    let mut both = github_request("globex-web", "both", false);
    both.fields.global = Some(true);
    both.fields.project_mapping_ids = Some(vec![10000]);
    let e = admin.create_integration(&both).await.unwrap_err();
    assert!(matches!(e, ApiError::Status { status: 400, .. }), "{e:?}");
    assert!(e.to_string().contains("projectMappingIds"), "{e}");
    assert_no_secret(&e);
    let mut no_origin = github_request("legacy", "ghe", false);
    no_origin.integration_type = Some("GITHUB_SERVER".into());
    let e = admin.create_integration(&no_origin).await.unwrap_err();
    assert_eq!(e.status(), Some(400), "{e:?}");
    assert!(e.to_string().contains("origin"), "{e}");
    let retype = IntegrationRequest {
        integration_type: Some("GITLAB".into()),
        ..IntegrationRequest::default()
    };
    let e = admin.update_integration(1, &retype).await.unwrap_err();
    assert_eq!(e.status(), Some(400), "{e:?}");
    assert!(e.to_string().contains("type cannot be changed"), "{e}");

    // A wrong context path: the fallback 404 says what the endpoint should be.
    let mut lost = config(&srv, ADMIN);
    lost.base_url = format!("{}/jira", srv.base_url());
    let e = Client::new(lost).unwrap().read_site().await.unwrap_err();
    assert!(matches!(e, ApiError::NotFound { .. }), "{e:?}");
    assert!(e.to_string().contains("Jira base URL"), "{e}");
    assert_no_secret(&e);

    // OAuth integrations can be updated, but not given a PAT.
    let oauth_id = srv
        .state_snapshot()
        .integrations
        .values()
        .find(|i| i.auth_method == "OAUTH")
        .map(|i| i.id)
        .unwrap();
    let mut give_pat = upd.clone();
    give_pat.pat = Some(Secret::new(GITHUB_PAT.into()));
    let e = admin
        .update_integration(oauth_id, &give_pat)
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(400), "{e:?}");
    assert!(e.to_string().contains("OAuth"), "{e}");
    assert_no_secret(&e);
    assert!(!format!("{admin:?}").contains(ADMIN));

    // None of this created or changed anything.
    let st = srv.state_snapshot();
    assert_eq!(st.integrations.len(), 5);
    assert_eq!(
        st.integrations[&1].settings.display_name.as_deref(),
        Some("GitHub · globex-platform")
    );
    // And no 4xx was retried.
    assert_eq!(admin.stats().retries, 0);
}

// ------------------------------------------------------------------ retries under faults

#[tokio::test]
async fn server_errors_then_success_are_retried() {
    let srv = org().await;
    let c = client(&srv);
    srv.set_faults(script(
        60,
        vec![
            scripted(FaultKind::Error500, R_INTEGRATIONS),
            scripted(FaultKind::Error502, R_INTEGRATIONS),
            scripted(FaultKind::Error503, R_INTEGRATIONS),
        ],
    ));
    let st = srv.state_snapshot();
    let started = Instant::now();
    let site = c.read_site().await.expect("read after 500, 502, 503");
    let elapsed = started.elapsed();
    assert_read_equals_state(&site, &st);
    assert_eq!(request_count(&srv, R_INTEGRATIONS), 4);
    for kind in ["error500", "error502", "error503"] {
        assert_eq!(fault_count(&srv, kind), 1, "{kind}");
    }
    let cs = c.stats();
    assert_eq!(cs.retries, 3);
    assert_eq!(cs.requests, srv.stats().total_requests);
    // The 503's Retry-After-Ms (60 virtual ms on a frozen clock = 60 real ms) was honoured.
    assert!(elapsed >= Duration::from_millis(60), "{elapsed:?}");
    assert!(cs.total_wait >= Duration::from_millis(60), "{cs:?}");
}

/// A 429 no header announced (another job drained the token's budget) is waited out with its
/// Retry-After-Ms and retried, even with pacing on: pacing cannot foresee it.
#[tokio::test]
async fn unannounced_429_is_waited_out_and_retried() {
    let srv = org().await;
    let c = client(&srv);
    srv.set_faults(script(
        80,
        vec![
            scripted(FaultKind::Error429, R_INTEGRATIONS),
            scripted(FaultKind::Error429, R_INTEGRATIONS),
        ],
    ));
    let st = srv.state_snapshot();
    let started = Instant::now();
    let site = c.read_site().await.expect("read after two 429s");
    assert_read_equals_state(&site, &st);
    assert_eq!(request_count(&srv, R_INTEGRATIONS), 3);
    assert_eq!(fault_count(&srv, "error429"), 2);
    let stats = srv.stats();
    assert_eq!(stats.rate_limited, 2);
    let cs = c.stats();
    assert_eq!(cs.rate_limited, 2, "{cs:?}");
    assert_eq!(cs.requests, stats.total_requests);
    // Two Retry-After-Ms of 80 ms each (frozen clock: virtual = real), one after the other.
    assert!(started.elapsed() >= Duration::from_millis(160), "{cs:?}");
}

#[tokio::test]
async fn dropped_connections_on_reads_are_retried() {
    let srv = org().await;
    let c = client(&srv);
    srv.set_faults(script(
        1,
        vec![
            scripted(FaultKind::Drop, R_REPOSITORIES),
            scripted(FaultKind::Drop, R_INTEGRATION),
        ],
    ));
    let st = srv.state_snapshot();
    let site = c
        .read_site()
        .await
        .expect("read after a dropped connection");
    assert_read_equals_state(&site, &st);
    let gitlab = st
        .integrations
        .values()
        .find(|i| i.integration_type == "GITLAB_SERVER")
        .map(|i| i.id)
        .expect("seeded GitLab integration");
    let one = c
        .get_integration(gitlab)
        .await
        .unwrap()
        .expect("GitLab infra");
    assert_eq!(one.display_name.as_deref(), Some("GitLab infra"));
    assert_eq!(fault_count(&srv, "drop"), 2);
    assert_eq!(request_count(&srv, R_REPOSITORIES), 2);
    assert_eq!(request_count(&srv, R_INTEGRATION), 2);
    assert_eq!(c.stats().retries, 2);
}

#[tokio::test]
async fn gives_up_after_the_attempt_limit() {
    let srv = org().await;
    let mut cfg = config(&srv, ADMIN);
    cfg.retry = policy(3);
    let c = Client::new(cfg).unwrap();
    srv.set_faults(script(
        1,
        vec![
            scripted(FaultKind::Error500, R_INTEGRATION),
            scripted(FaultKind::Error502, R_INTEGRATION),
            scripted(FaultKind::Error500, R_INTEGRATION),
            // Never reached: the client stops at three attempts.
            scripted(FaultKind::Error500, R_INTEGRATION),
        ],
    ));
    let e = c.get_integration(1).await.unwrap_err();
    match &e {
        ApiError::GaveUp { attempts, last, .. } => {
            assert_eq!(*attempts, 3);
            assert!(
                matches!(**last, ApiError::Server { status: 500, .. }),
                "{last:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("gave up after 3 attempts"), "{e}");
    assert_eq!(e.status(), Some(500));
    assert_no_secret(&e);
    assert_eq!(request_count(&srv, R_INTEGRATION), 3);
    // The fourth scripted fault is still pending: the next call meets it once, then succeeds.
    assert!(c.get_integration(1).await.unwrap().is_some());
    assert_eq!(request_count(&srv, R_INTEGRATION), 5);
}

// ------------------------------------------------------------------ no duplicate create

/// Integrations of the server with this display name.
fn named(st: &SiteState, name: &str) -> Vec<u64> {
    st.integrations
        .values()
        .filter(|i| i.settings.display_name.as_deref() == Some(name))
        .map(|i| i.id)
        .collect()
}

#[tokio::test]
async fn lost_create_answer_is_adopted_without_a_duplicate() {
    let srv = org().await;
    let c = client(&srv);
    srv.set_faults(script(
        1,
        vec![ScriptedFault {
            kind: FaultKind::LoseCreate,
            route: None,
        }],
    ));
    let req = github_request("globex-web", "GitHub · globex-web", true);
    let created = c.create_integration(&req).await.expect("adopted");
    assert_eq!(fault_count(&srv, "loseCreate"), 1);
    assert_eq!(
        request_count(&srv, R_CREATE),
        1,
        "the create was not posted again"
    );
    let st = srv.state_snapshot();
    let same: Vec<u64> = st
        .integrations
        .values()
        .filter(|i| {
            i.integration_type == "GITHUB"
                && i.origin == "https://api.github.com"
                && i.group.as_deref() == Some("globex-web")
        })
        .map(|i| i.id)
        .collect();
    assert_eq!(same.len(), 1, "{same:?}");
    assert_eq!(created.id, Some(same[0]));
    assert_eq!(created.group.as_deref(), Some("globex-web"));
    assert_eq!(created.disabled, Some(true));
    assert_eq!(c.stats().adopted_creates, 1);
}

#[tokio::test]
async fn create_answered_503_is_posted_again_once() {
    let srv = org().await;
    let c = client(&srv);
    srv.set_faults(script(5, vec![scripted(FaultKind::Error503, R_CREATE)]));
    let req = github_request("globex-data", "GitHub · globex-data", false);
    let created = c.create_integration(&req).await.expect("created");
    assert_eq!(fault_count(&srv, "error503"), 1);
    assert_eq!(request_count(&srv, R_CREATE), 2);
    let st = srv.state_snapshot();
    let same = named(&st, "GitHub · globex-data");
    assert_eq!(same.len(), 1, "{same:?}");
    assert_eq!(created.id, Some(same[0]));
    assert_eq!(c.stats().adopted_creates, 0);
}

#[tokio::test]
async fn dropped_create_is_looked_up_then_posted_again() {
    let srv = org().await;
    let c = client(&srv);
    // `drop` closes the connection before the create is applied.
    srv.set_faults(script(1, vec![scripted(FaultKind::Drop, R_CREATE)]));
    let req = github_request("globex-data", "dropped", false);
    let created = c.create_integration(&req).await.expect("created");
    assert_eq!(request_count(&srv, R_CREATE), 2);
    assert_eq!(
        named(&srv.state_snapshot(), "dropped"),
        vec![created.id.unwrap()]
    );
}

#[tokio::test]
async fn seeded_faulty_creates_never_duplicate() {
    let srv = org().await;
    let mut cfg = config(&srv, ADMIN);
    cfg.retry = policy(10);
    let c = Client::new(cfg).unwrap();
    srv.set_faults(FaultConfig {
        seed: 42,
        error_rate: 0.1,
        lose_create_rate: 0.3,
        retry_after_ms: 2,
        ..FaultConfig::default()
    });
    let groups = [
        "globex-platform",
        "globex-web",
        "globex-data",
        "globex-mobile",
    ];
    let mut ids = Vec::new();
    for n in 0..30 {
        let name = format!("loop-{n:02}");
        let req = github_request(groups[n % groups.len()], &name, n % 2 == 0);
        let created = c
            .create_integration(&req)
            .await
            .unwrap_or_else(|e| panic!("create {name}: {e}"));
        assert_eq!(created.display_name.as_deref(), Some(name.as_str()));
        ids.push(created.id.expect("id"));
    }
    let stats = srv.stats();
    // The faults really happened, so the test proves something.
    let lost = stats.faults.get("loseCreate").copied().unwrap_or(0);
    let errors: u64 = ["error500", "error502", "error503"]
        .iter()
        .filter_map(|k| stats.faults.get(*k))
        .sum();
    assert!(lost >= 3, "{stats:?}");
    assert!(errors >= 3, "{stats:?}");
    let st = srv.state_snapshot();
    assert_eq!(st.integrations.len(), 5 + 30, "duplicates were made");
    for (n, id) in ids.iter().enumerate() {
        let name = format!("loop-{n:02}");
        assert_eq!(named(&st, &name), vec![*id], "{name}");
    }
    assert_eq!(c.stats().adopted_creates, lost);
}

// ------------------------------------------------------------------ selective create flow

#[tokio::test]
async fn create_disabled_then_enable_indexes_only_the_wanted_repositories() {
    let srv = org().await;
    let c = client(&srv);
    let created = c
        .create_integration(&github_request("globex-data", "GitHub · globex-data", true))
        .await
        .unwrap();
    let id = created.id.unwrap();
    assert_eq!(created.indexing_state.as_deref(), Some("SCANNING"));
    assert_eq!(created.disabled, Some(true));
    // Scanning: no repositories yet.
    assert!(c.list_repositories(id).await.unwrap().is_empty());
    srv.advance(Duration::from_millis(
        u64::try_from(srv.state_snapshot().scan_ms).unwrap() + 1,
    ));
    let repos = c.list_repositories(id).await.unwrap();
    assert_eq!(repos.len(), 5, "{repos:?}");
    assert!(repos.iter().all(|r| !r.disabled && r.state.is_none()));
    assert!(repos.iter().all(|r| r.tracked_folder_id == Some(id)));
    let state = c.get_integration(id).await.unwrap().unwrap();
    assert_eq!(state.indexing_state.as_deref(), Some("DISABLED"));

    // Disable two, then enable the integration.
    let unwanted: Vec<u64> = repos.iter().take(2).map(|r| r.id).collect();
    for r in &unwanted {
        c.set_disabled(*r, true).await.unwrap();
    }
    c.set_disabled(id, false).await.unwrap();
    let during = c.list_repositories(id).await.unwrap();
    for r in &during {
        if unwanted.contains(&r.id) {
            assert!(r.disabled && r.state.is_none(), "{r:?}");
        } else {
            assert!(
                matches!(r.state.as_deref(), Some("QUEUED" | "SCANNING")),
                "{r:?}"
            );
        }
    }
    assert_eq!(
        c.get_integration(id)
            .await
            .unwrap()
            .unwrap()
            .indexing_state
            .as_deref(),
        Some("INDEXING")
    );

    // Enough virtual time for every commit of the group at the default speed.
    srv.advance(Duration::from_secs(24 * 3600));
    let after = c.list_repositories(id).await.unwrap();
    for r in &after {
        if unwanted.contains(&r.id) {
            assert!(r.disabled, "{r:?}");
            assert_eq!(r.state, None, "{r:?}");
            assert_eq!(r.last_indexed_date, None, "{r:?}");
        } else {
            assert_eq!(r.state.as_deref(), Some("UPDATED"), "{r:?}");
            assert!(r.last_indexed_date.is_some(), "{r:?}");
        }
    }
    let done = c.get_integration(id).await.unwrap().unwrap();
    assert_eq!(done.indexing_state.as_deref(), Some("INDEXED"));
    assert_eq!(done.disabled, Some(false));
    // Indexing ran one integration at a time here.
    assert_eq!(srv.stats().peak_indexing, 1);
}

// ------------------------------------------------------------------ rate limiting

/// A server whose clock runs at real speed, so its token bucket refills while the client waits.
async fn real_time_org(rate: RateLimitConfig) -> RunningServer {
    start(DevServerConfig {
        time_scale: 1.0,
        rate_limit: rate,
        ..server_config(Some("org"))
    })
    .await
}

#[tokio::test]
async fn retry_after_ms_of_a_429_is_honoured() {
    // Two requests of burst, then one every 250 ms.
    let srv = real_time_org(RateLimitConfig {
        capacity: 2,
        refill_per_sec: 4.0,
    })
    .await;
    let c = unpaced_client(&srv);
    c.get_integration(1).await.unwrap();
    c.get_integration(1).await.unwrap();
    let started = Instant::now();
    c.get_integration(1).await.unwrap();
    let elapsed = started.elapsed();
    let s = srv.stats();
    // One 429, then exactly one retry: the client did not come back before it was told to.
    assert_eq!(s.rate_limited, 1, "{s:?}");
    assert_eq!(s.total_requests, 4);
    let cs = c.stats();
    assert_eq!((cs.rate_limited, cs.retries, cs.requests), (1, 1, 4));
    assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
    assert!(cs.total_wait >= Duration::from_millis(200), "{cs:?}");
}

#[tokio::test]
async fn a_429_pauses_every_request_of_the_client() {
    // One request of burst, then one every 400 ms.
    let srv = real_time_org(RateLimitConfig {
        capacity: 1,
        refill_per_sec: 2.5,
    })
    .await;
    let c = unpaced_client(&srv);
    let ids: Vec<u64> = srv.state_snapshot().integrations.keys().copied().collect();
    c.get_integration(ids[0]).await.unwrap();
    let started = Instant::now();
    let a = tokio::spawn({
        let c = c.clone();
        let id = ids[1];
        async move { c.get_integration(id).await }
    });
    while c.stats().rate_limited == 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    // A fresh, generous bucket: a request that did not wait for the client's shared pause
    // would now go straight through.
    srv.set_rate_limit(RateLimitConfig {
        capacity: 100,
        refill_per_sec: 100.0,
    });
    let b_started = Instant::now();
    let b = c.get_integration(ids[2]).await.unwrap();
    let b_elapsed = b_started.elapsed();
    assert!(b.is_some());
    assert!(a.await.unwrap().unwrap().is_some());
    // B waited out the pause A's 429 set (400 ms less the time A took to see it).
    assert!(
        b_elapsed + b_started.duration_since(started) >= Duration::from_millis(350),
        "{b_elapsed:?}"
    );
    let s = srv.stats();
    assert_eq!(s.rate_limited, 1, "{s:?}");
    assert_eq!(s.total_requests, 4, "{s:?}");
    assert_eq!(c.stats().rate_limited, 1);
}

#[tokio::test]
async fn low_token_bucket_makes_a_full_read_wait_not_fail() {
    // Three requests of burst, then one every 5 ms; a page-size-1 read needs 26 requests.
    let srv = real_time_org(RateLimitConfig {
        capacity: 3,
        refill_per_sec: 200.0,
    })
    .await;
    let st = srv.state_snapshot();
    let mut cfg = config(&srv, ADMIN);
    cfg.integration_page_size = 1;
    cfg.repository_page_size = 1;
    cfg.retry = policy(30);
    cfg.pace.enabled = false;
    let c = Client::new(cfg).unwrap();
    let site = c.read_site().await.expect("the client waits out the limit");
    assert_read_equals_state(&site, &st);
    let s = srv.stats();
    let cs = c.stats();
    assert!(s.rate_limited > 0, "{s:?}");
    assert_eq!(cs.rate_limited, s.rate_limited);
    assert_eq!(cs.requests, s.total_requests);
    assert_eq!(s.total_requests, 26 + s.rate_limited);
    assert!(cs.total_wait > Duration::ZERO);
}

#[tokio::test]
async fn timed_out_creates_are_posted_again_without_duplicates() {
    let srv = org().await;
    let mut cfg = config(&srv, ADMIN);
    cfg.retry = policy(10);
    cfg.request_timeout = Duration::from_millis(60);
    let c = Client::new(cfg).unwrap();
    // Spikes outlast the client's request timeout; the dev-server cancels the handler of a
    // request whose client went away, so a timed-out create was not applied.
    srv.set_faults(FaultConfig {
        seed: 7,
        spike_rate: 0.3,
        spike_ms: 150,
        drop_rate: 0.1,
        ..FaultConfig::default()
    });
    let mut ids = Vec::new();
    for n in 0..10 {
        let name = format!("timeout-{n:02}");
        let created = c
            .create_integration(&github_request("globex-web", &name, false))
            .await
            .unwrap_or_else(|e| panic!("create {name}: {e}"));
        ids.push(created.id.expect("id"));
    }
    let stats = srv.stats();
    assert!(
        stats.faults.get("spike").copied().unwrap_or(0) >= 2,
        "{stats:?}"
    );
    assert!(
        stats.faults.get("drop").copied().unwrap_or(0) >= 1,
        "{stats:?}"
    );
    let st = srv.state_snapshot();
    assert_eq!(st.integrations.len(), 5 + 10, "duplicates were made");
    for (n, id) in ids.iter().enumerate() {
        assert_eq!(named(&st, &format!("timeout-{n:02}")), vec![*id]);
    }
}

#[tokio::test]
async fn a_429_on_create_is_retried_and_creates_once() {
    // One request of burst, then one every 300 ms: the create's duplicate check takes the
    // only token, so the POST is answered 429.
    let srv = real_time_org(RateLimitConfig {
        capacity: 1,
        refill_per_sec: 3.4,
    })
    .await;
    let c = unpaced_client(&srv);
    let created = c
        .create_integration(&github_request("globex-web", "limited", true))
        .await
        .unwrap();
    assert_eq!(
        named(&srv.state_snapshot(), "limited"),
        vec![created.id.unwrap()]
    );
    assert_eq!(request_count(&srv, R_CREATE), 2);
    // The POST met the limit once; the post-create duplicate check may meet it too. Client and
    // server must agree on every 429.
    assert!(srv.stats().rate_limited >= 1);
    assert_eq!(c.stats().rate_limited, srv.stats().rate_limited);
}

#[tokio::test]
async fn paged_read_under_random_faults_still_equals_the_state() {
    let srv = org().await;
    let st = srv.state_snapshot();
    let mut cfg = config(&srv, ADMIN);
    cfg.integration_page_size = 1;
    cfg.repository_page_size = 2;
    cfg.retry = policy(12);
    let c = Client::new(cfg).unwrap();
    srv.set_faults(FaultConfig {
        seed: 3,
        error_rate: 0.2,
        drop_rate: 0.1,
        retry_after_ms: 2,
        ..FaultConfig::default()
    });
    let site = c.read_site().await.expect("read under faults");
    assert_read_equals_state(&site, &st);
    let s = srv.stats();
    let faults: u64 = s.faults.values().sum();
    assert!(faults > 0, "{s:?}");
    // Every fault cost exactly one retry; nothing else was repeated.
    assert_eq!(c.stats().retries, faults);
    assert_eq!(s.total_requests, 2 + 5 + 10 + faults);
}

#[tokio::test]
async fn writes_round_trip_through_the_site() {
    let srv = org().await;
    let c = client(&srv);
    let gitlab = srv
        .state_snapshot()
        .integrations
        .values()
        .find(|i| i.integration_type == "GITLAB_SERVER")
        .map(|i| i.id)
        .unwrap();
    // A partial update: only these fields change (a dropped answer is retried, PUT is
    // idempotent).
    srv.set_faults(script(
        1,
        vec![scripted(
            FaultKind::Drop,
            "PUT /rest/gitplugin/1.0/integration/{id}",
        )],
    ));
    let upd = IntegrationRequest {
        fields: Integration {
            display_name: Some("GitLab · infra".into()),
            require_user_pat: Some(true),
            global: Some(false),
            project_mapping_ids: Some(vec![10103, 10000]),
            ..Integration::default()
        },
        ..IntegrationRequest::default()
    };
    let got = c.update_integration(gitlab, &upd).await.unwrap();
    assert_eq!(got.display_name.as_deref(), Some("GitLab · infra"));
    assert_eq!(got.require_user_pat, Some(true));
    assert_eq!(
        got.smart_commits_enabled,
        Some(false),
        "untouched setting kept"
    );
    let rec = &srv.state_snapshot().integrations[&gitlab];
    assert_eq!(rec.settings.project_mapping_ids, Some(vec![10103, 10000]));
    assert_eq!(rec.settings.global, Some(false));
    let read = c.get_integration(gitlab).await.unwrap().unwrap();
    assert_eq!(read.display_name.as_deref(), Some("GitLab · infra"));
    assert_eq!(read.project_mapping_ids, Some(vec![10103, 10000]));
    // A delete whose connection drops before it is applied is retried.
    srv.set_faults(script(
        1,
        vec![scripted(
            FaultKind::Drop,
            "DELETE /rest/gitplugin/1.0/integration/{id}",
        )],
    ));
    c.delete_integration(gitlab).await.unwrap();
    let st = srv.state_snapshot();
    assert!(!st.integrations.contains_key(&gitlab));
    assert!(st.repositories.values().all(|r| r.integration_id != gitlab));
    assert!(c.get_integration(gitlab).await.unwrap().is_none());
}

// ------------------------------------------------------------------ pacing

/// A bucket of 6 refilled at 0.5 requests per virtual second on a server running 50 times
/// faster than real time: 25 requests per real second, announced through
/// `X-RateLimit-Reset-Ms` (whole epoch seconds could not describe a 40 ms refill).
async fn tight_bucket_org() -> RunningServer {
    start(DevServerConfig {
        time_scale: 50.0,
        rate_limit: RateLimitConfig {
            capacity: 6,
            refill_per_sec: 0.5,
        },
        ..server_config(Some("org"))
    })
    .await
}

/// Reads the whole org site page by page (25 requests), renames every integration with
/// concurrent PUTs, then reads it again, and checks what was read and written.
async fn read_write_read(srv: &RunningServer, c: &Client) {
    let st = srv.state_snapshot();
    let site = c.read_site().await.expect("paged read");
    assert_read_equals_state(&site, &st);
    let ids: Vec<u64> = st.integrations.keys().copied().collect();
    let mut set = tokio::task::JoinSet::new();
    for id in ids.clone() {
        let c = c.clone();
        set.spawn(async move {
            let req = IntegrationRequest {
                fields: Integration {
                    display_name: Some(format!("paced #{id}")),
                    ..Integration::default()
                },
                ..IntegrationRequest::default()
            };
            c.update_integration(id, &req).await
        });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap().expect("rename");
    }
    let st = srv.state_snapshot();
    for id in &ids {
        assert_eq!(
            st.integrations[id].settings.display_name.as_deref(),
            Some(format!("paced #{id}").as_str())
        );
    }
    let site = c.read_site().await.expect("second read");
    assert_read_equals_state(&site, &st);
}

#[tokio::test]
async fn pacing_spreads_requests_so_a_tight_bucket_never_answers_429() {
    let paged = |srv: &RunningServer, pace: bool| {
        let mut cfg = config(srv, ADMIN);
        cfg.integration_page_size = 1;
        cfg.repository_page_size = 1;
        cfg.retry = policy(30);
        cfg.pace.enabled = pace;
        Client::new(cfg).unwrap()
    };

    // Without pacing: the same work bursts past the bucket (its concurrent pages go out far
    // faster than 25 a second) and leans on the 429 safety net; the result is still right.
    let srv = tight_bucket_org().await;
    let c = paged(&srv, false);
    read_write_read(&srv, &c).await;
    let without = srv.stats().rate_limited;
    eprintln!("without pacing: {:?}", c.stats());
    assert!(without > 0, "{:?}", srv.stats());
    assert_eq!(c.stats().rate_limited, without);
    assert_eq!(c.stats().paced_requests, 0);

    // With pacing: zero 429s. The client reads the budget from every answer, reserves each
    // request from it before sending (the renames run concurrently) and spreads the last 20 %
    // over the time to the refill. Zero, not merely fewer: the only blind requests are the
    // first three concurrent ones (before any answer described the budget), which the bucket
    // of 6 holds, and every later estimate errs on the safe side.
    let srv = tight_bucket_org().await;
    let c = paged(&srv, true);
    read_write_read(&srv, &c).await;
    let s = srv.stats();
    let cs = c.stats();
    eprintln!("with pacing: {cs:?}");
    assert_eq!(s.rate_limited, 0, "{s:?} {cs:?}");
    assert_eq!((cs.rate_limited, cs.retries), (0, 0), "{cs:?}");
    assert_eq!(cs.requests, s.total_requests);
    assert!(
        cs.requests > 6 * 4,
        "more requests than the bucket holds: {cs:?}"
    );
    assert!(cs.paced_requests > 0 && cs.paced > Duration::ZERO, "{cs:?}");
}

/// Jira DC's own rate limiting, as the documented profile sends it: a token bucket described
/// by `X-RateLimit-Limit`, `-Remaining`, `-FillRate` and `-Interval-Seconds`, with no reset
/// time at all. Paced from those headers alone, a burst of reads and concurrent gets meets no
/// 429; unpaced, the same work runs into the bucket (so the test can tell the two apart).
#[tokio::test]
async fn pacing_reads_jira_dc_rate_limit_headers_on_the_documented_profile() {
    for pace in [false, true] {
        let srv = start(DevServerConfig {
            time_scale: 50.0,
            rate_limit: RateLimitConfig {
                capacity: 6,
                refill_per_sec: 0.5,
            },
            profile: Profile::Documented,
            ..server_config(Some("org"))
        })
        .await;
        let mut cfg = config(&srv, ADMIN);
        cfg.retry = policy(30);
        cfg.pace.enabled = pace;
        let c = Client::new(cfg).unwrap();
        for _ in 0..3 {
            c.read_site().await.expect("whole-site read");
        }
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..12 {
            let c = c.clone();
            set.spawn(async move { c.get_integration(1).await });
        }
        while let Some(r) = set.join_next().await {
            r.unwrap().expect("get");
        }
        let (s, cs) = (srv.stats(), c.stats());
        if pace {
            assert_eq!(s.rate_limited, 0, "paced: {s:?} {cs:?}");
            assert!(cs.paced_requests > 0, "{cs:?}");
        } else {
            assert!(s.rate_limited > 0, "unpaced: {s:?} {cs:?}");
        }
    }
}

#[tokio::test]
async fn reset_ms_extension_announces_the_refill_in_real_milliseconds() {
    // Full again 1 virtual second after the first request: 100 real ms at a scale of 10.
    let srv = start(DevServerConfig {
        time_scale: 10.0,
        rate_limit: RateLimitConfig {
            capacity: 4,
            refill_per_sec: 1.0,
        },
        ..server_config(Some("org"))
    })
    .await;
    // A bare reqwest client needs the crypto provider gijctl's own client installs; this test
    // may run first in its process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let before = std::time::SystemTime::now();
    let resp = reqwest::Client::new()
        .get(format!("{}/rest/api/2/project", srv.base_url()))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    let h = resp.headers();
    assert_eq!(h["x-ratelimit-limit"], "4");
    assert_eq!(h["x-ratelimit-remaining"], "3");
    assert_eq!(h["x-ratelimit-reset-ms"], "100");
    let reset: u64 = h["x-ratelimit-reset"].to_str().unwrap().parse().unwrap();
    let now_secs = before
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        (now_secs..=now_secs + 2).contains(&reset),
        "{reset} vs {now_secs}"
    );
    let o = gijctl::api::pace::Observation::from_headers(h, std::time::SystemTime::now())
        .expect("the client reads the headers");
    assert_eq!(
        (o.limit, o.remaining, o.reset_in),
        (4, 3, Duration::from_millis(100))
    );
}
