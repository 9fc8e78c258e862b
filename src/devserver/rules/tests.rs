use serde_json::{Map, Value, json};

use super::*;
use crate::devserver::Seed;
use crate::devserver::indexing::settle;

const NOW: i64 = 1_000_000_000;
const SCAN_MS: i64 = 2_000;
const HOUR: i64 = 3_600_000;

/// A site with two Jira projects, a GitHub with two organisations (`acme` with two
/// repositories, `other`), a token that sees only `acme`, a Gerrit, and one indexed GitHub
/// integration of `acme` (id 1; its repositories 2 and 3).
fn site() -> SiteState {
    let seed: Seed = serde_json::from_value(json!({
        "projects": [{"id": 10000, "key": "OPS", "name": "Ops"},
                     {"id": 10001, "key": "WEB", "name": "Web"}],
        "catalog": {"services": [
            {"type": "GITHUB", "origin": "https://api.github.com",
             "groups": [{"name": "acme", "repositories": [{"name": "api", "commits": 100},
                                                          {"name": "web", "commits": 300}]},
                        {"name": "other", "repositories": [{"name": "x"}]}],
             "tokens": [{"value": "tok-acme", "groups": ["acme"]},
                        {"value": "tok-all", "groups": ["acme", "other", "ghost"]},
                        {"value": "tok-none", "groups": []}]},
            {"type": "GERRIT", "origin": "https://gerrit.example.com",
             "groups": [{"name": "core", "repositories": [{"name": "g"}]}],
             "tokens": [{"value": "gpw", "username": "bot", "groups": ["core"]}]}
        ]},
        "integrations": [{"type": "GITHUB", "group": "acme", "credential": "tok-acme"}]
    }))
    .unwrap();
    seed.into_state(NOW, SCAN_MS, 100.0).unwrap()
}

fn body(v: Value) -> WriteBody {
    serde_json::from_value(v).unwrap()
}

fn map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("not an object"),
    }
}

fn create(site: &mut SiteState, v: Value) -> Result<u64, RuleError> {
    create_integration(site, body(v), Profile::Extended, NOW)
}

fn missing_field(field: &'static str, ty: &str) -> RuleError {
    RuleError::Missing {
        field,
        ty: ty.to_owned(),
    }
}

#[test]
fn the_seeded_site_is_as_the_tests_assume() {
    let s = site();
    assert_eq!(s.integrations.keys().copied().collect::<Vec<_>>(), [1]);
    assert_eq!(s.repositories.keys().copied().collect::<Vec<_>>(), [2, 3]);
    assert!(
        s.repositories
            .values()
            .all(|r| r.last_indexed_date.is_some())
    );
}

#[test]
fn a_create_without_a_field_its_type_needs_is_refused_and_changes_nothing() {
    let cases = [
        (json!({"pat": "tok-acme"}), missing_field("type", "(none)")),
        (
            json!({"type": "GITHUB_SERVER", "pat": "p"}),
            missing_field("origin", "GITHUB_SERVER"),
        ),
        (
            json!({"type": "GERRIT", "origin": "https://gerrit.example.com", "password": "gpw"}),
            missing_field("username", "GERRIT"),
        ),
        (
            json!({"type": "GERRIT", "origin": "https://gerrit.example.com", "username": "bot"}),
            missing_field("password", "GERRIT"),
        ),
        (json!({"type": "gitlab"}), missing_field("pat", "GITLAB")),
        (
            json!({"type": "AWS", "username": "AKIA", "password": "s"}),
            missing_field("awsRegion", "AWS"),
        ),
        (
            json!({"type": "GITHUB", "password": "tok-acme"}),
            missing_field("username", "GITHUB"),
        ),
        (json!({"type": "GITHUB"}), missing_field("pat", "GITHUB")),
        (
            json!({"type": "NOPE", "pat": "p"}),
            RuleError::UnknownType("NOPE".into()),
        ),
        (
            json!({"type": "BITBUCKET", "pat": "p"}),
            RuleError::OauthCreate,
        ),
        (
            json!({"type": "GITHUB", "authMethod": "oauth", "pat": "p"}),
            RuleError::OauthCreate,
        ),
        (
            json!({"type": "FILESPACE", "origin": "/srv/git/*"}),
            RuleError::UnsupportedType("FILESPACE".into()),
        ),
    ];
    for (v, want) in cases {
        let mut s = site();
        let before = s.clone();
        assert_eq!(create(&mut s, v.clone()), Err(want), "{v}");
        assert_eq!(s, before, "a refused create changed the site: {v}");
    }
}

#[test]
fn a_create_stores_the_integration_disabled_as_asked_with_its_scan_pending() {
    let mut s = site();
    let id = create(
        &mut s,
        json!({"type": "github", "group": "other", "pat": "tok-all", "disabled": true,
               "projectMappingIds": [10001]}),
    )
    .unwrap();
    assert_eq!(id, 4);
    let i = &s.integrations[&id];
    assert_eq!(i.integration_type, "GITHUB");
    assert_eq!(i.origin, "https://api.github.com");
    assert!(i.disabled);
    assert_eq!(
        i.credential_sha256.as_deref(),
        Some(&*hash_secret("tok-all"))
    );
    assert_eq!(i.settings.display_name.as_deref(), Some("other (GITHUB)"));
    // Project ids without `global` mean not global.
    assert_eq!(i.settings.global, Some(false));
    assert_eq!(i.settings.project_mapping_ids, Some(vec![10001]));
    assert_eq!(i.scan_done_ms, Some(NOW + SCAN_MS));
    // The scan discovers the organisation's repository; disabled, nothing indexes.
    settle(&mut s, NOW + SCAN_MS);
    let repos: Vec<_> = s.repos_of(id).collect();
    assert_eq!(repos.len(), 1);
    assert!(repos[0].job.is_none());
}

#[test]
fn a_create_whose_credential_does_not_fit_is_refused() {
    let refused = |origin: &str, problem| RuleError::Credentials {
        origin: origin.to_owned(),
        problem,
    };
    let gh = "https://api.github.com";
    let cases = [
        (
            json!({"type": "GITHUB", "pat": "wrong"}),
            refused(gh, CredentialProblem::Refused),
        ),
        (
            json!({"type": "GITHUB", "group": "other", "pat": "tok-acme"}),
            refused(gh, CredentialProblem::GroupNotVisible("other".into())),
        ),
        (
            json!({"type": "GITHUB", "group": "ghost", "pat": "tok-all"}),
            refused(gh, CredentialProblem::NoSuchGroup("ghost".into())),
        ),
        (
            json!({"type": "GITHUB", "pat": "tok-none"}),
            refused(gh, CredentialProblem::NoGroups),
        ),
        (
            json!({"type": "GITLAB", "pat": "tok-acme"}),
            refused(
                "https://gitlab.com",
                CredentialProblem::NoService {
                    ty: "GITLAB".into(),
                },
            ),
        ),
        (
            json!({"type": "GERRIT", "origin": "https://gerrit.example.com",
                   "username": "someone", "password": "gpw"}),
            refused("https://gerrit.example.com", CredentialProblem::Refused),
        ),
    ];
    for (v, want) in cases {
        let mut s = site();
        assert_eq!(create(&mut s, v.clone()), Err(want), "{v}");
        assert_eq!(s.integrations.len(), 1, "{v}");
    }
    // The username goes with the password.
    let mut s = site();
    create(
        &mut s,
        json!({"type": "GERRIT", "origin": "https://gerrit.example.com/",
               "username": "bot", "password": "gpw"}),
    )
    .unwrap();
}

#[test]
fn projects_must_exist_and_cannot_go_with_global() {
    let mut s = site();
    let global_and_ids =
        json!({"type": "GITHUB", "pat": "tok-acme", "global": true, "projectMappingIds": [10000]});
    assert_eq!(
        create(&mut s, global_and_ids),
        Err(RuleError::GlobalWithProjects)
    );
    let unknown = json!({"type": "GITHUB", "pat": "tok-acme", "projectMappingIds": [10000, 42]});
    assert_eq!(create(&mut s, unknown), Err(RuleError::UnknownProject(42)));
    let update = body(json!({"projectMappingIds": [7]}));
    assert_eq!(
        update_integration(&mut s, 1, update, NOW),
        Err(RuleError::UnknownProject(7))
    );
    assert_eq!(s, site());
    // Going global clears the project list.
    update_integration(&mut s, 1, body(json!({"projectMappingIds": [10000]})), NOW).unwrap();
    assert_eq!(s.integrations[&1].settings.global, Some(false));
    update_integration(&mut s, 1, body(json!({"global": true})), NOW).unwrap();
    assert_eq!(s.integrations[&1].settings.global, Some(true));
    assert_eq!(
        s.integrations[&1].settings.project_mapping_ids,
        Some(Vec::new())
    );
}

#[test]
fn disable_then_enable_keeps_what_was_indexed() {
    let mut s = site();
    let dates: Vec<_> = s.repos_of(1).map(|r| r.last_indexed_date).collect();
    set_disabled(&mut s, 1, true, NOW + HOUR).unwrap();
    assert!(s.integrations[&1].disabled);
    set_disabled(&mut s, 1, false, NOW + 2 * HOUR).unwrap();
    assert!(!s.integrations[&1].disabled);
    // Nothing indexed is indexed again, and the dates stay.
    assert!(s.repos_of(1).all(|r| r.job.is_none()));
    settle(&mut s, NOW + 3 * HOUR);
    let after: Vec<_> = s.repos_of(1).map(|r| r.last_indexed_date).collect();
    assert_eq!(after, dates);
    assert!(after.iter().all(Option::is_some));
}

#[test]
fn enabling_indexes_what_was_never_indexed_and_disabling_cancels_it() {
    let mut s = site();
    s.repositories.get_mut(&3).unwrap().last_indexed_date = None;
    set_disabled(&mut s, 1, true, NOW).unwrap();
    set_disabled(&mut s, 1, false, NOW).unwrap();
    assert!(s.repositories[&2].job.is_none());
    let job = s.repositories[&3]
        .job
        .expect("the never-indexed repository indexes");
    assert_eq!(job.start_ms, NOW);
    // A disabled repository stops indexing; its integration keeps its other repository.
    set_disabled(&mut s, 3, true, NOW + 1).unwrap();
    assert!(s.repositories[&3].disabled);
    assert!(s.repositories[&3].job.is_none());
    assert!(!s.integrations[&1].disabled);
    assert_eq!(
        set_disabled(&mut s, 99, true, NOW),
        Err(RuleError::NoRepository(99))
    );
}

#[test]
fn an_update_keeps_type_and_method_and_checks_where_the_credential_goes() {
    let mut s = site();
    let cases = [
        (
            json!({"type": "GITLAB"}),
            RuleError::TypeChange {
                is: "GITHUB".into(),
                got: "GITLAB".into(),
            },
        ),
        (json!({"authMethod": "OAUTH"}), RuleError::AuthMethodChange),
        (
            json!({"group": "other"}),
            RuleError::Credentials {
                origin: "https://api.github.com".into(),
                problem: CredentialProblem::MovedOutOfSight,
            },
        ),
    ];
    for (v, want) in cases {
        assert_eq!(
            update_integration(&mut s, 1, body(v.clone()), NOW),
            Err(want),
            "{v}"
        );
    }
    assert_eq!(
        update_integration(&mut s, 9, body(json!({})), NOW),
        Err(RuleError::NoIntegration(9))
    );
    assert_eq!(s, site());
    // Same type in another case is no change; a new credential that sees the group moves it.
    update_integration(
        &mut s,
        1,
        body(json!({"type": "github", "group": "other", "pat": "tok-all"})),
        NOW,
    )
    .unwrap();
    let i = &s.integrations[&1];
    assert_eq!(i.group.as_deref(), Some("other"));
    assert_eq!(i.scan_done_ms, Some(NOW + SCAN_MS));
    assert_eq!(
        i.credential_sha256.as_deref(),
        Some(&*hash_secret("tok-all"))
    );
}

#[test]
fn deleting_an_integration_takes_its_repositories() {
    let mut s = site();
    assert_eq!(
        delete_integration(&mut s, 2, NOW),
        Err(RuleError::NoRepository(2))
    );
    delete_integration(&mut s, 1, NOW).unwrap();
    assert!(s.integrations.is_empty());
    assert!(s.repositories.is_empty());
}

#[test]
fn a_reindex_covers_its_target() {
    let mut s = site();
    assert_eq!(start_reindex(&mut s, Some(1), NOW), Ok(vec![2, 3]));
    assert!(s.repos_of(1).all(|r| r.job.is_some()));
    assert_eq!(start_reindex(&mut s, Some(3), NOW), Ok(vec![3]));
    assert_eq!(start_reindex(&mut s, None, NOW), Ok(vec![2, 3]));
    assert_eq!(
        start_reindex(&mut s, Some(42), NOW),
        Err(RuleError::NoRepository(42))
    );
}

#[test]
fn adding_a_repository_needs_an_origin_and_well_typed_fields() {
    let mut s = site();
    let cases = [
        (
            json!({"mainBranch": "main"}),
            missing_field("origin", "repository"),
        ),
        (
            json!({"origin": "  "}),
            missing_field("origin", "repository"),
        ),
        (
            json!({"origin": "https://git.example.com/a.git", "disabled": "yes"}),
            RuleError::RepoField("disabled".into()),
        ),
        (
            json!({"origin": "https://git.example.com/a.git", "projectMappingIds": [10000, -1]}),
            RuleError::RepoField("projectMappingIds".into()),
        ),
        (
            json!({"origin": "https://git.example.com/a.git", "projectMappingIds": [5]}),
            RuleError::UnknownProject(5),
        ),
    ];
    for (v, want) in cases {
        assert_eq!(
            add_repository(&mut s, &map(v.clone()), NOW),
            Err(want),
            "{v}"
        );
    }
    assert_eq!(s, site());
    let id = add_repository(
        &mut s,
        &map(json!({"origin": "https://git.example.com/team/tool.git",
                    "projectMappingIds": [10000], "readOnly": 1})),
        NOW,
    )
    .unwrap();
    let r = &s.repositories[&id];
    assert_eq!((r.integration_id, r.name.as_str()), (0, "tool"));
    assert_eq!(r.main_branch, "master");
    assert_eq!(r.overrides["realRoot"], json!(format!("{id}_tool")));
    assert_eq!(r.overrides["global"], json!(false));
    assert!(!r.overrides.contains_key("readOnly"));
    assert!(r.job.is_some(), "a new repository indexes");
    // Disabled, it does not.
    let id = add_repository(
        &mut s,
        &map(json!({"origin": "/srv/git/other", "disabled": true, "mainBranch": "main"})),
        NOW,
    )
    .unwrap();
    let r = &s.repositories[&id];
    assert!(r.disabled && r.job.is_none());
    assert_eq!((r.name.as_str(), r.main_branch.as_str()), ("other", "main"));
}

#[test]
fn a_repository_update_sets_only_what_its_kind_may_set() {
    let mut s = site();
    assert_eq!(
        update_repository(&mut s, &map(json!({"displayName": "x"})), NOW),
        Err(RuleError::MissingRepoId)
    );
    assert_eq!(
        update_repository(&mut s, &map(json!({"id": 77})), NOW),
        Err(RuleError::NoRepository(77))
    );
    assert_eq!(
        update_repository(&mut s, &map(json!({"id": 2, "global": "no"})), NOW),
        Err(RuleError::RepoField("global".into()))
    );
    assert_eq!(s, site());
    // A nested repository ignores the standalone fields.
    let nested = json!({"id": 2, "displayName": "API", "mainBranch": "dev",
                        "origin": "https://elsewhere/x.git",
                        "global": true, "projectMappingIds": [10000]});
    assert_eq!(update_repository(&mut s, &map(nested), NOW), Ok(2));
    let r = &s.repositories[&2];
    assert_eq!(r.main_branch, "main");
    assert_eq!(r.overrides["displayName"], json!("API"));
    assert_eq!(r.overrides["projectMappingIds"], json!([]));
    assert!(!r.overrides.contains_key("origin"));
    // A standalone one sets them; enabling it again reindexes it.
    let id = add_repository(&mut s, &map(json!({"origin": "/srv/git/a"})), NOW).unwrap();
    settle(&mut s, NOW + HOUR);
    assert!(s.repositories[&id].job.is_none());
    let off = json!({"id": id, "disabled": true, "mainBranch": "trunk"});
    update_repository(&mut s, &map(off), NOW + HOUR).unwrap();
    assert_eq!(s.repositories[&id].main_branch, "trunk");
    assert!(s.repositories[&id].disabled);
    update_repository(
        &mut s,
        &map(json!({"id": id, "disabled": false})),
        NOW + HOUR,
    )
    .unwrap();
    assert!(s.repositories[&id].job.is_some());
}

#[test]
fn deleting_a_repository_cancels_its_indexing() {
    let mut s = site();
    start_reindex(&mut s, Some(2), NOW).unwrap();
    assert_eq!(
        delete_repository(&mut s, 1, NOW),
        Err(RuleError::NoRepository(1))
    );
    delete_repository(&mut s, 2, NOW + 1).unwrap();
    assert!(!s.repositories.contains_key(&2));
    assert_eq!(s.repos_of(1).map(|r| r.id).collect::<Vec<_>>(), [3]);
    // Its indexing interval ends at the deletion.
    assert!(
        s.indexing_log
            .iter()
            .filter(|iv| iv.repo_id == 2)
            .all(|iv| iv.end_ms <= NOW + 1)
    );
}

#[test]
fn the_documented_profile_creates_tracked_folders() {
    let mut s = site();
    let fs = |v: Value| body(v);
    assert_eq!(
        create_integration(
            &mut s,
            fs(json!({"type": "FILESPACE"})),
            Profile::Documented,
            NOW
        ),
        Err(missing_field("origin", "FILESPACE"))
    );
    assert_eq!(
        create_integration(
            &mut s,
            fs(json!({"type": "FILESPACE", "origin": "/srv/*", "folderDepth": 6})),
            Profile::Documented,
            NOW
        ),
        Err(RuleError::FolderDepth)
    );
    let id = create_integration(
        &mut s,
        fs(json!({"type": "FILESPACE", "origin": "/srv/*", "folderDepth": 2})),
        Profile::Documented,
        NOW,
    )
    .unwrap();
    let i = &s.integrations[&id];
    assert_eq!(
        (i.auth_method.as_str(), i.origin.as_str()),
        ("NONE", "/srv/*")
    );
    assert_eq!(i.settings.display_name.as_deref(), Some("/srv/*"));
    assert!(i.credential_sha256.is_none());
}
