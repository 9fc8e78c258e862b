//! Tests of the diff, matching, ordering, fingerprints, plan files and the apply simulation.

use std::collections::BTreeSet;

use proptest::prelude::*;

use super::fingerprint::{LiveScope, live_fingerprint, stale_actions};
use super::simulate::simulate_apply;
use super::testkit::*;
use super::*;
use crate::model::{
    AuthMethod, DesiredState, Field, LiveProjects, RepoSelector, Service, Settings,
};

fn opts() -> PlanOptions {
    PlanOptions::default()
}

fn kinds(p: &Plan) -> Vec<(u32, String, &'static str, Phase)> {
    p.actions
        .iter()
        .map(|a| (a.step, a.key.clone(), a.verb(), a.phase))
        .collect()
}

fn no_discovery(_: &CreateSpec) -> Vec<String> {
    Vec::new()
}

#[test]
fn quickstart_first_plan() {
    let (d, l) = quickstart();
    let p = plan(&d, &l, &opts()).unwrap();
    assert_eq!(
        kinds(&p),
        vec![
            (1, "acme-github".into(), "update", Phase::Settings),
            (2, "acme-github".into(), "repositories", Phase::Settings),
            (3, "platform-gitlab".into(), "create", Phase::Indexing),
            (4, "acme-azure".into(), "create", Phase::Indexing),
            // Creating it by hand starts indexing: it is gated with the other creations.
            (5, "acme-mobile".into(), "manual", Phase::Indexing),
        ]
    );
    assert_eq!(
        p.summary,
        Summary {
            create: 2,
            update: 1,
            replace: 0,
            delete: 0,
            manual: 1,
            unchanged: 0,
            unmanaged: 1
        }
    );
    let ActionKind::Update { changes } = &p.actions[0].kind else {
        panic!("not an update")
    };
    let fields: Vec<Field> = changes.iter().map(|c| c.field).collect();
    assert_eq!(
        fields,
        [Field::DisplayName, Field::RequireUserPat, Field::Projects]
    );
    assert_eq!(changes[2].added, ["API", "OPS", "WEB"]);
    assert_eq!(p.actions[0].risks, [Risk::ProjectsRemoved]);
    let ActionKind::Repositories { enable, disable } = &p.actions[1].kind else {
        panic!("not repositories")
    };
    assert!(enable.is_empty());
    assert_eq!(
        disable,
        &[RepoRef {
            id: 6,
            name: "legacy-monolith".into()
        }]
    );
    assert!(
        !p.actions[1].starts_indexing,
        "disabling starts no indexing"
    );
    assert_eq!(p.unmanaged.len(), 1);
    assert_eq!(p.unmanaged[0].id, 20);
    assert_eq!(p.unmanaged[0].suggested_key, "old-team");
    // Two creates, two slots: both start at once.
    assert_eq!(p.schedule.timeline.len(), 2);
    assert!(p.schedule.timeline.iter().all(|s| s.start_secs == 0));
    // update 1 + repositories 1 + manual 0 + two creates 1 each.
    assert_eq!(p.schedule.api_calls, 4);
    assert!(p.has_changes());
}

#[test]
fn one_slot_serialises_indexing() {
    let (mut d, l) = quickstart();
    d.policy.max_parallel_indexing = 1;
    let p = plan(&d, &l, &opts()).unwrap();
    let t = &p.schedule.timeline;
    assert_eq!(t[1].start_secs, t[0].end_secs);
    assert_eq!(p.schedule.estimated_indexing_secs, t[1].end_secs);
    let p2 = plan(
        &d,
        &l,
        &PlanOptions {
            max_parallel_indexing: Some(3),
            ..opts()
        },
    )
    .unwrap();
    assert_eq!(p2.schedule.max_parallel_indexing, 3);
}

#[test]
fn prune_deletes_last_and_flags_risk() {
    let (d, l) = quickstart();
    let p = plan(
        &d,
        &l,
        &PlanOptions {
            prune: Some(true),
            ..opts()
        },
    )
    .unwrap();
    let last = p.actions.last().unwrap();
    assert_eq!(last.key, "#20");
    assert_eq!(last.phase, Phase::Delete);
    assert_eq!(last.risks, [Risk::Delete]);
    assert!(p.unmanaged.is_empty());
    assert_eq!(p.summary.delete, 1);
    // Policy prune works the same way as the flag.
    let mut d2 = d.clone();
    d2.policy.prune = true;
    assert_eq!(plan(&d2, &l, &opts()).unwrap().summary.delete, 1);
}

#[test]
fn matching_live_from_desired_is_empty() {
    let (d, _) = quickstart();
    let mut live = LiveState {
        projects: projects(),
        ..LiveState::default()
    };
    let d = DesiredState {
        integrations: d.integrations[..3].to_vec(),
        policy: d.policy,
    };
    for (i, di) in d.integrations.iter().enumerate() {
        live.integrations.push(live_from(
            di,
            100 * (i as u64 + 1),
            repos(
                100 * (i as u64 + 1) + 1,
                &[("legacy-x", true), ("app", false)],
            ),
        ));
    }
    let p = plan(&d, &live, &opts()).unwrap();
    assert!(!p.has_changes(), "{:#?}", p.actions);
    assert_eq!(
        p.unchanged.iter().collect::<Vec<_>>(),
        ["acme-github", "platform-gitlab", "acme-azure"]
    );
}

#[test]
fn normalisation_ignores_case_slashes_order_and_gij_fields() {
    let mut d = desired("gl", Service::GitlabSelfManaged, "Platform", 0);
    d.origin = "GitLab.Acme.Internal/".into();
    d.projects = keys(&["web", "ops"]);
    d.settings.fetch_refspecs = vec!["refs/b/*".into(), " refs/a/*".into(), "refs/a/*".into()];
    let mut l = live_from(&d, 7, repos(8, &[("x", true)]));
    l.origin = "https://gitlab.acme.internal".into();
    l.owner = "platform".into();
    l.projects = LiveProjects::Keys(["OPS".into(), "WEB".into()].into());
    l.settings.fetch_refspecs = vec!["refs/a/*".into(), "refs/b/*".into(), String::new()];
    l.indexing = crate::model::IntegrationIndexing::Indexing;
    l.repositories[0].percent = 40.0;
    l.repositories[0].state = crate::model::IndexState::Scanning;
    let live = LiveState {
        integrations: vec![l],
        projects: projects(),
        ..LiveState::default()
    };
    let ds = DesiredState {
        integrations: vec![d],
        policy: Default::default(),
    };
    let p = plan(&ds, &live, &opts()).unwrap();
    assert!(p.actions.is_empty(), "{:#?}", p.actions);
    assert_eq!(
        p.schedule.busy.len(),
        1,
        "indexing integration holds a slot"
    );
    assert_eq!(p.schedule.busy[0].key, "gl");
}

#[test]
fn rename_is_an_update_not_a_replacement() {
    let d = desired("a", Service::Github, "acme", 0);
    let mut l = live_from(&d, 1, vec![]);
    l.display_name = "Old name".into();
    let p = plan(
        &DesiredState {
            integrations: vec![d],
            policy: Default::default(),
        },
        &LiveState {
            integrations: vec![l],
            projects: projects(),
            ..Default::default()
        },
        &opts(),
    )
    .unwrap();
    assert_eq!(kinds(&p), vec![(1, "a".into(), "update", Phase::Settings)]);
}

fn state(ds: Vec<crate::model::DesiredIntegration>) -> DesiredState {
    DesiredState {
        integrations: ds,
        policy: Default::default(),
    }
}

fn site(ls: Vec<crate::model::LiveIntegration>) -> LiveState {
    LiveState {
        integrations: ls,
        projects: projects(),
        ..Default::default()
    }
}

#[test]
fn ambiguous_match_lists_candidates() {
    let d = desired("a", Service::Github, "acme", 0);
    let mut l1 = live_from(&d, 1, vec![]);
    l1.display_name = "GitHub one".into();
    let mut l2 = live_from(&d, 2, vec![]);
    l2.owner = "ACME".into();
    l2.display_name = "GitHub two".into();
    let e = plan(&state(vec![d]), &site(vec![l1, l2]), &opts()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "`a` matches 2 live integrations: #1 \"GitHub one\", #2 \"GitHub two\"; \
         pin one with `id = <ID>` in `[integrations.a]`"
    );
}

#[test]
fn owners_match_by_their_lower_case_form() {
    // Unicode lower-casing, as `str::to_lowercase`: the Kelvin sign lower-cases to `k`, so a
    // non-ASCII owner can equal an ASCII one; `Straße` and `STRAßE` are one owner.
    let a = desired("a", Service::Github, "\u{212A}ube", 0);
    let b = desired("b", Service::Github, "STRAßE", 1);
    let c = desired("c", Service::Gitlab, "Acme", 2);
    let mut la = live_from(&a, 1, vec![]);
    la.owner = "kube".into();
    let mut lb = live_from(&b, 2, vec![]);
    lb.owner = "straße".into();
    let mut lc = live_from(&c, 3, vec![]);
    lc.owner = "acme".into();
    let p = plan(&state(vec![a, b, c]), &site(vec![la, lb, lc]), &opts()).unwrap();
    assert!(p.actions.is_empty(), "{:#?}", p.actions);
    assert_eq!(p.unchanged.iter().collect::<Vec<_>>(), ["a", "b", "c"]);

    // Three live integrations share one key: every one is a candidate, in id order.
    let d = desired("d", Service::Github, "acme", 0);
    let ls: Vec<_> = [("ACME", 4), ("acme", 5), ("Acme", 6)]
        .into_iter()
        .map(|(owner, id)| {
            let mut l = live_from(&d, id, vec![]);
            l.owner = owner.into();
            l
        })
        .collect();
    let e = plan(&state(vec![d]), &site(ls), &opts()).unwrap_err();
    assert!(
        matches!(&e, PlanError::Ambiguous { candidates, .. } if candidates.iter().map(|c| c.id).eq([4, 5, 6])),
        "{e}"
    );
}

#[test]
fn pinned_id_wins_and_claims_are_exclusive() {
    let mut a = desired("a", Service::Github, "acme", 0);
    a.pinned_id = Some(5);
    let b = desired("b", Service::Github, "acme", 1);
    let l = live_from(&a, 5, vec![]);
    let e = plan(&state(vec![a.clone(), b]), &site(vec![l.clone()]), &opts()).unwrap_err();
    assert!(matches!(e, PlanError::ClaimedTwice { id: 5, .. }), "{e}");
    assert!(e.to_string().contains("`a` and `b`"));

    // Pinned to an id whose natural key differs: found by id, not created.
    let mut other = l.clone();
    other.id = 6;
    let mut a2 = a.clone();
    a2.pinned_id = Some(6);
    let p = plan(&state(vec![a2]), &site(vec![l, other]), &opts()).unwrap();
    assert!(p.actions.is_empty());
    assert_eq!(p.unmanaged.len(), 1);
    assert_eq!(p.unmanaged[0].id, 5);

    let e = plan(&state(vec![a]), &site(vec![]), &opts()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "`a` is pinned to live integration #5, which does not exist; remove `id` to match by \
         service, host and owner, or fix the id"
    );
}

#[test]
fn service_change_on_pinned_id_needs_allow_replace() {
    let mut d = desired("a", Service::Gitlab, "acme", 0);
    d.pinned_id = Some(1);
    let gh = desired("x", Service::Github, "acme", 0);
    let l = live_from(&gh, 1, repos(2, &[("r", true)]));
    let e = plan(&state(vec![d.clone()]), &site(vec![l.clone()]), &opts()).unwrap_err();
    assert!(matches!(e, PlanError::IdentityChanged { .. }), "{e}");
    assert!(e.to_string().contains("allow-replace = true"));
    d.allow_replace = true;
    let p = plan(&state(vec![d]), &site(vec![l]), &opts()).unwrap();
    assert_eq!(kinds(&p), vec![(1, "a".into(), "replace", Phase::Indexing)]);
    assert_eq!(p.actions[0].risks, [Risk::Delete, Risk::Replace]);
    assert_eq!(p.summary.replace, 1);
}

#[test]
fn unknown_project_is_an_error_with_suggestion() {
    let mut d = desired("a", Service::Github, "acme", 0);
    d.projects = keys(&["OPS", "WEBB"]);
    let mut d2 = desired("b", Service::Github, "beta", 1);
    d2.projects = keys(&["ZZZ"]);
    let e = plan(&state(vec![d.clone()]), &site(vec![]), &opts()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "`a` associates project `WEBB`, which Jira does not know; did you mean `WEB`?"
    );
    let e = plan(&state(vec![d, d2]), &site(vec![]), &opts()).unwrap_err();
    let PlanError::Multiple(all) = &e else {
        panic!("{e}")
    };
    assert_eq!(all.len(), 2);
    assert!(
        e.to_string()
            .starts_with("2 problems prevent planning:\n- ")
    );
}

#[test]
fn ignored_fields_are_left_alone() {
    let mut d = desired("a", Service::Github, "acme", 0);
    d.repositories = RepoSelector {
        include: vec!["web-*".into()],
        exclude: vec![],
    };
    let mut l = live_from(&d, 1, repos(2, &[("web-a", true), ("api", false)]));
    l.display_name = "Other".into();
    l.settings.require_user_pat = false;
    l.settings.smart_commits = false;
    l.repositories.iter_mut().for_each(|r| r.enabled = true);
    d.ignore = [
        Field::DisplayName,
        Field::RequireUserPat,
        Field::Repositories,
    ]
    .into();
    let p = plan(&state(vec![d]), &site(vec![l]), &opts()).unwrap();
    assert_eq!(p.actions.len(), 1);
    let ActionKind::Update { changes } = &p.actions[0].kind else {
        panic!()
    };
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].field, Field::SmartCommits);
}

#[test]
fn risks_for_require_user_pat_off_and_all_projects() {
    let mut d = desired("a", Service::Github, "acme", 0);
    d.settings.require_user_pat = false;
    let mut l = live_from(&d, 1, vec![]);
    l.settings.require_user_pat = true;
    l.projects = LiveProjects::Keys(["OPS".into(), "#99".into()].into());
    let p = plan(&state(vec![d]), &site(vec![l]), &opts()).unwrap();
    assert_eq!(
        p.actions[0].risks,
        [Risk::RequireUserPatOff, Risk::AllProjects]
    );
}

/// Changing how GIJ lists repositories is flagged: its next scan adds and removes repositories
/// (and the per-repository settings of those removed); other settings are not.
#[test]
fn risk_for_api_path_and_api_filter_changes() {
    for change in [
        |d: &mut crate::model::DesiredIntegration| d.settings.api_path = "/orgs/acme/repos".into(),
        |d: &mut crate::model::DesiredIntegration| {
            d.settings.api_filter = "[?starts_with(name, 'web')]".into()
        },
    ] {
        let d = desired("a", Service::Github, "acme", 0);
        let l = live_from(&d, 1, vec![]);
        let mut d2 = d.clone();
        change(&mut d2);
        let p = plan(&state(vec![d2]), &site(vec![l]), &opts()).unwrap();
        assert_eq!(p.actions[0].risks, [Risk::RepositoryListChange]);
    }
    let mut d = desired("a", Service::Github, "acme", 0);
    let l = live_from(&d, 1, vec![]);
    d.settings.tags_filter = "v*".into();
    let p = plan(&state(vec![d]), &site(vec![l]), &opts()).unwrap();
    assert!(p.actions[0].risks.is_empty());
}

#[test]
fn enabling_repositories_and_integration_starts_indexing_in_order() {
    let mut a = desired("a", Service::Github, "acme", 0);
    a.order = Some(2);
    let mut b = desired("b", Service::Github, "beta", 1);
    b.order = Some(1);
    let mut c = desired("c", Service::Github, "gamma", 2);
    c.order = Some(3);
    let mut la = live_from(&a, 1, repos(2, &[("x", true), ("y", true)]));
    la.repositories[1].enabled = false;
    let mut lb = live_from(&b, 10, repos(11, &[("z", true)]));
    lb.settings.enabled = false;
    lb.repositories[0].enabled = false;
    let p = plan(&state(vec![a, b, c]), &site(vec![la, lb]), &opts()).unwrap();
    assert_eq!(
        kinds(&p),
        vec![
            // An enable is in the indexing phase, where apply's executor gates every enable,
            // even one that starts nothing yet (the integration is enabled by step 2).
            (1, "b".into(), "repositories", Phase::Indexing),
            (2, "b".into(), "update", Phase::Indexing),
            (3, "a".into(), "repositories", Phase::Indexing),
            (4, "c".into(), "create", Phase::Indexing),
        ]
    );
    assert!(!p.actions[0].starts_indexing, "integration still disabled");
    assert!(p.actions[1].starts_indexing);
    assert_eq!(
        p.actions[2].estimated_indexing_secs,
        Some(order::SECS_PER_REPOSITORY)
    );
    // Sliding window with two slots: step 4 waits for the first of steps 2 and 3 to finish.
    let t = &p.schedule.timeline;
    assert_eq!(t.len(), 3);
    assert_eq!(t[2].start_secs, t[0].end_secs.min(t[1].end_secs));
}

#[test]
fn rotation_and_auth_changes() {
    let pat = desired("p", Service::Github, "acme", 0);
    let mut oauth = desired("o", Service::Github, "beta", 1);
    oauth.auth = AuthMethod::Oauth;
    oauth.credential = None;
    let lp = live_from(&pat, 1, vec![]);
    let lo = live_from(&oauth, 2, vec![]);
    let rotate = PlanOptions {
        rotate: ["p".to_owned(), "o".to_owned()].into(),
        ..opts()
    };
    let p = plan(
        &state(vec![pat.clone(), oauth.clone()]),
        &site(vec![lp.clone(), lo.clone()]),
        &rotate,
    )
    .unwrap();
    assert_eq!(
        kinds(&p),
        vec![
            (1, "p".into(), "rotate", Phase::Settings),
            (2, "o".into(), "manual", Phase::Settings),
        ]
    );
    let ActionKind::RotateCredential {
        credential,
        switches_to_pat,
    } = &p.actions[0].kind
    else {
        panic!()
    };
    assert!(!switches_to_pat);
    assert_eq!(
        credential.reference_fingerprint.as_ref().map(String::len),
        Some(8)
    );

    let e = plan(
        &state(vec![pat.clone()]),
        &site(vec![lp.clone()]),
        &PlanOptions {
            rotate: ["nope".to_owned()].into(),
            ..opts()
        },
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "`--rotate nope`: the config declares no integration `nope`"
    );

    // Live OAuth, declared PAT: send the PAT (risky). Live PAT, declared OAuth: manual.
    let mut lo_as_pat = lo.clone();
    lo_as_pat.auth = Some(AuthMethod::Pat);
    let mut lp_as_oauth = lp;
    lp_as_oauth.auth = Some(AuthMethod::Oauth);
    let p = plan(
        &state(vec![pat, oauth]),
        &site(vec![lp_as_oauth, lo_as_pat]),
        &opts(),
    )
    .unwrap();
    assert_eq!(kinds(&p)[0].2, "rotate");
    assert_eq!(p.actions[0].risks, [Risk::AuthMethodChange]);
    assert_eq!(kinds(&p)[1].2, "manual");
    assert_eq!(p.actions[1].risks, [Risk::AuthMethodChange]);
}

#[test]
fn oauth_declared_but_missing_is_manual() {
    let (d, l) = quickstart();
    let p = plan(&d, &l, &opts()).unwrap();
    let m = p.actions.iter().find(|a| a.key == "acme-mobile").unwrap();
    let ActionKind::Manual { instructions, .. } = &m.kind else {
        panic!()
    };
    assert!(instructions.last().unwrap().contains("gijctl plan"));
    assert_eq!(m.api_calls, 0);
}

#[test]
fn stale_actions_are_detected_per_scope() {
    let (d, l) = quickstart();
    let p = plan(&d, &l, &opts()).unwrap();
    assert!(stale_actions(&p, &d, &l).is_empty());
    // Someone renames the integration on the site: the settings update is stale, the
    // repository action is not.
    let mut l2 = l.clone();
    l2.integrations[0].display_name = "Renamed".into();
    l2.integrations[0].indexing = crate::model::IntegrationIndexing::Indexing;
    let stale = stale_actions(&p, &d, &l2);
    assert_eq!(stale.len(), 1);
    assert_eq!(stale[0].step, 1);
    // The config of a created integration changes.
    let mut d2 = d.clone();
    d2.integrations[1].display_name = "GitLab!".into();
    let stale = stale_actions(&p, &d2, &l);
    assert_eq!(
        stale.iter().map(|s| s.key.as_str()).collect::<Vec<_>>(),
        ["platform-gitlab"]
    );
    // Indexing progress never makes a plan stale.
    let mut l3 = l.clone();
    l3.integrations[0].repositories[0].percent = 3.0;
    assert_eq!(
        live_fingerprint(&l.integrations[0], LiveScope::Whole),
        live_fingerprint(&l3.integrations[0], LiveScope::Whole)
    );
}

#[test]
fn plan_files_round_trip_and_refuse_other_versions() {
    let (d, l) = quickstart();
    let p = plan(&d, &l, &opts()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.json");
    file::write(&path, &p).unwrap();
    assert_eq!(file::read(&path).unwrap(), p);
    let text = file::to_string(&p);
    assert!(
        !text.contains("tokens/github.token"),
        "no credential reference in plans"
    );

    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["format_version"] = 1.into();
    let e = file::from_str(&path, &v.to_string()).unwrap_err();
    assert!(e.to_string().contains("plan format version 1"), "{e}");
    v["format_version"] = 2.into();
    v["actions"][0]["key"] = "tampered".into();
    let e = file::from_str(&path, &v.to_string()).unwrap_err();
    assert!(matches!(e, file::PlanFileError::Checksum { .. }), "{e}");
}

#[test]
fn plans_are_deterministic() {
    let (d, l) = quickstart();
    let a = plan(&d, &l, &opts()).unwrap();
    let b = plan(&d, &l, &opts()).unwrap();
    assert_eq!(file::to_string(&a), file::to_string(&b));
}

#[test]
fn simulated_apply_converges_on_quickstart() {
    let (d, l) = quickstart();
    let p = plan(
        &d,
        &l,
        &PlanOptions {
            prune: Some(true),
            ..opts()
        },
    )
    .unwrap();
    let discover = |s: &CreateSpec| match s.owner.as_str() {
        "platform" => vec![
            "deploy-tools".into(),
            "terraform-modules".into(),
            "ci-templates".into(),
        ],
        _ => vec!["billing".into(), "payments".into()],
    };
    let after = simulate_apply(&l, &p, &discover);
    let p2 = plan(
        &d,
        &after,
        &PlanOptions {
            prune: Some(true),
            ..opts()
        },
    )
    .unwrap();
    // Only the OAuth manual step remains: gijctl cannot create it.
    assert_eq!(
        kinds(&p2),
        vec![(1, "acme-mobile".into(), "manual", Phase::Indexing)]
    );
    let _ = no_discovery;
}

// ---- property tests ----

const OWNERS: [&str; 4] = ["acme", "beta", "gamma", "delta"];
const SERVICES: [Service; 3] = [
    Service::Github,
    Service::GitlabSelfManaged,
    Service::AzureDevops,
];
const REPOS: [&str; 5] = ["api", "web-app", "legacy-one", "docs", "infra"];
const PROJECT_KEYS: [&str; 4] = ["OPS", "WEB", "API", "DATA"];

fn arb_settings() -> impl Strategy<Value = Settings> {
    (
        any::<[bool; 8]>(),
        0u32..3000,
        prop::sample::subsequence(vec!["refs/a/*", "refs/b/*", "refs/c/*"], 0..3),
        prop::bool::ANY,
    )
        .prop_map(|(b, mins, specs, rev)| {
            let mut specs: Vec<String> = specs.into_iter().map(String::from).collect();
            if rev {
                specs.reverse();
            }
            Settings {
                enabled: b[0],
                require_user_pat: b[1],
                smart_commits: b[2],
                repository_browser: b[3],
                diff_viewing: b[4],
                revision_indexing: b[5],
                commit_emails: b[6],
                commit_email_max_age_minutes: mins,
                tags_filter: if b[7] { "v.*".into() } else { String::new() },
                fetch_refspecs: specs,
                ..Settings::default()
            }
        })
}

fn arb_projects() -> impl Strategy<Value = Option<Vec<&'static str>>> {
    prop::option::of(prop::sample::subsequence(PROJECT_KEYS.to_vec(), 0..4))
}

fn arb_selector() -> impl Strategy<Value = RepoSelector> {
    prop::sample::select(vec![
        RepoSelector::default(),
        RepoSelector {
            include: vec!["*".into()],
            exclude: vec!["legacy-*".into()],
        },
        RepoSelector {
            include: vec!["api".into(), "WEB-*".into()],
            exclude: vec![],
        },
    ])
}

#[derive(Debug, Clone)]
struct Decl {
    combo: usize,
    settings: Settings,
    projects: Option<Vec<&'static str>>,
    selector: RepoSelector,
    name: bool,
    ignore: Vec<Field>,
    order: Option<i64>,
}

fn arb_decl() -> impl Strategy<Value = Decl> {
    (
        0..OWNERS.len() * SERVICES.len(),
        arb_settings(),
        arb_projects(),
        arb_selector(),
        any::<bool>(),
        prop::sample::subsequence(
            vec![
                Field::DisplayName,
                Field::Projects,
                Field::Repositories,
                Field::Enabled,
                Field::SmartCommits,
            ],
            0..2,
        ),
        prop::option::of(-3i64..3),
    )
        .prop_map(
            |(combo, settings, projects, selector, name, ignore, order)| Decl {
                combo,
                settings,
                projects,
                selector,
                name,
                ignore,
                order,
            },
        )
}

fn build_desired(decls: &[Decl]) -> DesiredState {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for dl in decls {
        if !seen.insert(dl.combo) {
            continue;
        }
        let service = SERVICES[dl.combo % SERVICES.len()];
        let owner = OWNERS[dl.combo / SERVICES.len()];
        let mut d = desired(&format!("k{}", dl.combo), service, owner, out.len());
        d.settings = dl.settings.clone();
        d.projects = match &dl.projects {
            None => crate::model::ProjectScope::All,
            Some(k) => keys(k),
        };
        d.repositories = dl.selector.clone();
        if dl.name {
            d.display_name = format!("Renamed {owner}");
        }
        d.ignore = dl.ignore.iter().copied().collect();
        d.order = dl.order;
        out.push(d);
    }
    DesiredState {
        integrations: out,
        policy: Default::default(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// A site built to match the config plans to nothing. (Convergence after an apply,
    /// determinism and idempotence are `props.rs`'s, over config text.)
    #[test]
    fn plan_of_matching_site_is_empty(decls in prop::collection::vec(arb_decl(), 0..6)) {
        let d = build_desired(&decls);
        let mut live = LiveState { projects: projects(), ..Default::default() };
        for (i, di) in d.integrations.iter().enumerate() {
            let id = 100 * (i as u64 + 1);
            let names: Vec<(&str, bool)> = REPOS.iter().map(|n| (*n, true)).collect();
            live.integrations.push(live_from(di, id, repos(id + 1, &names)));
        }
        let p = plan(&d, &live, &PlanOptions::default()).unwrap();
        prop_assert!(p.actions.is_empty(), "{:#?}", p.actions);
        prop_assert_eq!(p.unchanged.len(), d.integrations.len());
    }
}

#[test]
fn order_defaults_to_zero_like_sync_waves() {
    let mut late = desired("late", Service::Github, "acme", 0);
    late.order = Some(100);
    let plain = desired("plain", Service::Github, "beta", 1);
    let mut early = desired("early", Service::Github, "gamma", 2);
    early.order = Some(-1);
    let p = plan(&state(vec![late, plain, early]), &site(vec![]), &opts()).unwrap();
    let keys: Vec<&str> = p.actions.iter().map(|a| a.key.as_str()).collect();
    assert_eq!(keys, ["early", "plain", "late"]);
}
