//! Property tests of the diff engine over a wider space than `tests.rs`: the desired state is
//! written as gij.toml text and loaded through `config::load_str` (so the loader and the diff
//! are exercised together), every feature setting varies on both sides, OAuth declarations
//! and live integrations appear, and the live site comes in arbitrary order.
//!
//! The generators are shared with the runbook's property tests (`runbook::props`).
//!
//! Properties: planning is deterministic; a perfect apply of the plan converges (only manual steps remain, the same ones as
//! before); and planning again after that is a fixpoint. `PROPTEST_CASES` sets the case count.

use std::collections::BTreeSet;

use proptest::prelude::*;

use super::live::LiveState;
use super::simulate::simulate_apply;
use super::testkit::{desired, live_from, projects, repos};
use super::{ActionKind, CreateSpec, Plan, PlanOptions, plan};
use crate::model::{AuthMethod, LiveProjects, Service, Settings};

const OWNERS: [&str; 4] = ["acme", "beta", "gamma", "delta"];
const SERVICES: [(&str, Service); 3] = [
    ("github", Service::Github),
    ("gitlab-self-managed", Service::GitlabSelfManaged),
    ("azure-devops", Service::AzureDevops),
];
const HOST: &str = "https://git.example.internal";
const REPOS: [&str; 5] = ["api", "web-app", "legacy-one", "docs", "infra"];
const PROJECT_KEYS: [&str; 4] = ["OPS", "WEB", "API", "DATA"];
const SELECTORS: [&str; 4] = [
    "",
    "repositories = { exclude = [\"legacy-*\"] }\n",
    "repositories = { include = [\"api\", \"WEB-*\"] }\n",
    "repositories = { include = [\"*a*\"], exclude = [\"docs\"] }\n",
];
const IGNORABLE: [&str; 5] = [
    "display-name",
    "projects",
    "repositories",
    "smart-commits",
    "tags-filter",
];

pub(crate) fn settings() -> impl Strategy<Value = Settings> {
    (
        any::<[bool; 12]>(),
        1u32..5000,
        prop::sample::subsequence(vec!["refs/a/*", "refs/b/*"], 0..3),
        0usize..3,
    )
        .prop_map(|(b, mins, specs, filter)| {
            let filters = ["", "v.*", "^release-[0-9]+$"];
            Settings {
                enabled: b[0],
                require_user_pat: b[1] && b[3],
                smart_commits: b[2],
                repository_browser: b[3],
                diff_viewing: b[4],
                revision_indexing: b[5],
                commit_emails: b[6],
                commit_email_max_age_minutes: mins,
                tags_filter: filters[filter].into(),
                pr_hide_filter: if b[7] { "wip.*".into() } else { String::new() },
                ssl_verify: b[8],
                trust_folder_stat: b[9],
                fetch_notes: b[10],
                fetch_changes: b[11],
                fetch_refspecs: specs.into_iter().map(String::from).collect(),
                api_path: String::new(),
                api_filter: if b[7] && b[9] {
                    "[?starts_with(name, 'a')]".into()
                } else {
                    String::new()
                },
            }
        })
}

/// One `[integrations.<key>]` declaration, generated valid by construction.
#[derive(Debug, Clone)]
pub(crate) struct Decl {
    combo: usize,
    oauth: bool,
    name: bool,
    projects: Option<Vec<&'static str>>,
    selector: usize,
    settings: Settings,
    /// Which feature keys are written (the rest come from `[defaults]` or the built-in default).
    written: [bool; 8],
    ignore: Vec<&'static str>,
    order: Option<i64>,
}

pub(crate) fn decl() -> impl Strategy<Value = Decl> {
    (
        0..OWNERS.len() * SERVICES.len(),
        any::<(bool, bool)>(),
        prop::option::of(prop::sample::subsequence(PROJECT_KEYS.to_vec(), 0..5)),
        0..SELECTORS.len(),
        settings(),
        any::<[bool; 8]>(),
        prop::sample::subsequence(IGNORABLE.to_vec(), 0..3),
        prop::option::of(-2i64..3),
    )
        .prop_map(
            |(combo, (oauth, name), projects, selector, settings, written, ignore, order)| Decl {
                combo,
                oauth,
                name,
                projects,
                selector,
                settings,
                written,
                ignore,
                order,
            },
        )
}

fn toml_list(v: &[impl AsRef<str>]) -> String {
    let items: Vec<String> = v.iter().map(|s| format!("{:?}", s.as_ref())).collect();
    format!("[{}]", items.join(", "))
}

/// gij.toml text for the declarations (duplicate identities dropped), with a `[defaults]`
/// table that some declarations inherit from.
pub(crate) fn config_text(decls: &[Decl], defaults: &Settings, prune: bool) -> String {
    let mut s = format!(
        "version = 1\n\n[defaults]\nsmart-commits = {}\ndiff-viewing = {}\nfetch-notes = {}\n\n\
         [apply]\nprune = {prune}\n",
        defaults.smart_commits, defaults.diff_viewing, defaults.fetch_notes
    );
    let mut seen = BTreeSet::new();
    for (n, d) in decls.iter().enumerate() {
        if !seen.insert(d.combo) {
            continue;
        }
        let (service, svc) = SERVICES[d.combo % SERVICES.len()];
        let owner = OWNERS[d.combo / SERVICES.len()];
        let oauth = d.oauth && svc != Service::GitlabSelfManaged;
        s += &format!("\n[integrations.k{n}]\nservice = \"{service}\"\nowner = \"{owner}\"\n");
        if svc == Service::GitlabSelfManaged {
            s += &format!("host = \"{HOST}\"\n");
        }
        if oauth {
            s += "auth = \"oauth\"\n";
        } else {
            s += &format!("credential = \"env:TOKEN_{n}\"\n");
        }
        let ignored = |k: &str| d.ignore.contains(&k);
        if d.name && !ignored("display-name") {
            s += &format!("display-name = \"Declared {n}\"\n");
        }
        let st = &d.settings;
        // The repository browser needs a project; an empty list turns it (and Require User
        // PAT, which needs it) off.
        let no_projects = d.projects.as_ref().is_some_and(Vec::is_empty);
        if !ignored("projects") {
            match &d.projects {
                None => s += "projects = \"all\"\n",
                Some(p) => s += &format!("projects = {}\n", toml_list(p)),
            }
        }
        if !ignored("repositories") {
            s += SELECTORS[d.selector];
        }
        let browser = st.repository_browser && !no_projects;
        s += &format!(
            "enabled = {}\nrepository-browser = {browser}\nrequire-user-pat = {}\n",
            st.enabled,
            st.require_user_pat && browser
        );
        let w = d.written;
        if w[0] && !ignored("smart-commits") {
            s += &format!("smart-commits = {}\n", st.smart_commits);
        }
        if w[1] {
            s += &format!("diff-viewing = {}\n", st.diff_viewing);
        }
        if w[2] {
            s += &format!(
                "revision-indexing = {}\ncommit-emails = {}\ncommit-email-max-age-minutes = {}\n",
                st.revision_indexing, st.commit_emails, st.commit_email_max_age_minutes
            );
        }
        if w[3] && !ignored("tags-filter") {
            s += &format!("tags-filter = {:?}\n", st.tags_filter);
        }
        if w[4] {
            s += &format!(
                "pr-hide-filter = {:?}\nssl-verify = {}\ntrust-folder-stat = {}\n",
                st.pr_hide_filter, st.ssl_verify, st.trust_folder_stat
            );
        }
        if w[5] {
            s += &format!(
                "fetch-notes = {}\nfetch-changes = {}\nfetch-refspecs = {}\n",
                st.fetch_notes,
                st.fetch_changes,
                toml_list(&st.fetch_refspecs)
            );
        }
        if w[6] {
            s += &format!("api-filter = {:?}\n", st.api_filter);
        }
        if !d.ignore.is_empty() {
            s += &format!("ignore = {}\n", toml_list(&d.ignore));
        }
        if let Some(o) = d.order {
            s += &format!("order = {o}\n");
        }
    }
    s
}

/// A live site: some of the same identities (owner case varies), any settings, OAuth or PAT,
/// any projects and repository states.
pub(crate) fn live() -> impl Strategy<Value = LiveState> {
    prop::collection::vec(
        (
            0..OWNERS.len() * SERVICES.len(),
            settings(),
            prop::option::of(prop::sample::subsequence(PROJECT_KEYS.to_vec(), 0..5)),
            any::<[bool; 5]>(),
            any::<(bool, bool, bool)>(),
        ),
        0..8,
    )
    .prop_map(|items| {
        let mut seen = BTreeSet::new();
        let mut integrations = Vec::new();
        for (i, (combo, settings, projects, enabled, (upper, oauth, named))) in
            items.into_iter().enumerate()
        {
            if !seen.insert(combo) {
                continue;
            }
            let (_, service) = SERVICES[combo % SERVICES.len()];
            let owner = OWNERS[combo / SERVICES.len()];
            let mut d = desired("x", service, owner, 0);
            if service == Service::GitlabSelfManaged {
                d.origin = HOST.into();
            }
            d.settings = settings;
            let id = 1000 * (i as u64 + 1);
            let mut l = live_from(&d, id, vec![]);
            if upper {
                l.owner = owner.to_ascii_uppercase();
            }
            if oauth && service != Service::GitlabSelfManaged {
                l.auth = Some(AuthMethod::Oauth);
            }
            if named {
                l.display_name = format!("Live {owner}");
            }
            l.projects = match projects {
                None => LiveProjects::All,
                Some(k) => LiveProjects::Keys(k.iter().map(|s| s.to_string()).collect()),
            };
            let names: Vec<(&str, bool)> = REPOS.iter().copied().zip(enabled).collect();
            l.repositories = repos(id + 1, &names);
            integrations.push(l);
        }
        LiveState {
            integrations,
            projects: projects(),
            ..Default::default()
        }
    })
}

fn discover_all(_: &CreateSpec) -> Vec<String> {
    REPOS.iter().map(|s| s.to_string()).collect()
}

/// What a plan says, without its volatile parts.
fn essence(p: &Plan) -> (String, String, String, Vec<String>, String) {
    (
        serde_json::to_string(&p.actions).unwrap_or_default(),
        serde_json::to_string(&p.summary).unwrap_or_default(),
        serde_json::to_string(&p.unmanaged).unwrap_or_default(),
        p.unchanged.iter().map(str::to_owned).collect(),
        p.checksum.clone(),
    )
}

fn manual_keys(p: &Plan) -> Vec<String> {
    p.actions
        .iter()
        .filter(|a| matches!(a.kind, ActionKind::Manual { .. }))
        .map(|a| a.key.clone())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn diff_engine_properties(
        decls in prop::collection::vec(decl(), 0..7),
        defaults in settings(),
        live in live(),
        prune in any::<bool>(),
    ) {
        let text = config_text(&decls, &defaults, prune);
        let d = match crate::config::load_str(&text, "gij.toml") {
            Ok(d) => d,
            Err(e) => return Err(TestCaseError::fail(format!(
                "a valid-by-construction config was refused:\n{text}\n{}", e.rendered))),
        };
        let o = PlanOptions::default();
        let p = match plan(&d, &live, &o) {
            Ok(p) => p,
            // Identities are unique on both sides, so nothing can be ambiguous.
            Err(e) => return Err(TestCaseError::fail(format!("plan failed: {e}\n{text}"))),
        };

        // Deterministic: the same states give the same plan, checksum included. (Order
        // independence is `from_site`'s job: it sorts integrations by id and repositories by
        // name, which `LiveState` documents and the generator follows.)
        prop_assert_eq!(essence(&p), essence(&plan(&d, &live, &o).unwrap()));

        // Steps are numbered in order and phases never go backwards.
        for (i, a) in p.actions.iter().enumerate() {
            prop_assert_eq!(a.step as usize, i + 1);
        }
        prop_assert!(p.actions.windows(2).all(|w| w[0].phase <= w[1].phase));

        // A perfect apply converges: only the manual steps (OAuth creations) remain.
        let after = simulate_apply(&live, &p, &discover_all);
        let p2 = plan(&d, &after, &o).unwrap();
        prop_assert!(
            p2.actions.iter().all(|a| matches!(a.kind, ActionKind::Manual { .. })),
            "config:\n{}\nfirst: {:#?}\nsecond: {:#?}", text, p.actions, p2.actions
        );
        prop_assert_eq!(manual_keys(&p2), manual_keys(&p));
        if prune {
            prop_assert!(p2.unmanaged.is_empty(), "{:#?}", p2.unmanaged);
        }

        // Idempotent: applying the second plan changes nothing, and plans the same again.
        let after2 = simulate_apply(&after, &p2, &discover_all);
        prop_assert_eq!(&after2.integrations, &after.integrations);
        prop_assert_eq!(essence(&plan(&d, &after2, &o).unwrap()), essence(&p2));
    }
}
