//! Policy rules: each rule kind with a passing and a failing config (failing diagnostics
//! snapshotted), allowances, merging of two rule sources, the `--policy FILE` loader and the
//! interaction with scopes.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::*;
use crate::api::{LiveSite, wire};
use crate::config::LoadedConfig;
use crate::plan::scope::{Scope, narrow, suggested_keys};
use crate::plan::{PlanOptions, from_site};

/// A site: `acme` (GitHub, #1, Require User PAT on, projects OPS and WEB, four repositories
/// of which `legacy-monolith` is disabled, indexed for 2 hours) and `old-org` (GitHub, #20,
/// undeclared, two repositories, its initial indexing took 10 hours).
fn site() -> LiveSite {
    let integrations: Vec<wire::Integration> = serde_json::from_value(json!([
        {"id": 1, "displayName": "GitHub · acme", "origin": "https://api.github.com",
         "integrationType": "GITHUB", "group": "acme", "global": false,
         "projectMappingIds": [10000, 10001], "requireUserPat": true,
         "initDate": 1_000_000, "lastIndexedDate": 1_000_000 + 2 * 3_600_000},
        {"id": 20, "displayName": "GitHub · old-org", "origin": "https://api.github.com",
         "integrationType": "GITHUB", "group": "old-org", "global": true,
         "initDate": 5_000_000}
    ]))
    .unwrap();
    let repositories: Vec<wire::SiteRepository> = serde_json::from_value(json!([
        {"id": 2, "displayName": "api-gateway", "trackedFolderId": 1, "state": "UPDATED"},
        {"id": 3, "displayName": "web-app", "trackedFolderId": 1, "state": "UPDATED"},
        {"id": 4, "displayName": "docs", "trackedFolderId": 1, "state": "UPDATED"},
        {"id": 5, "displayName": "legacy-monolith", "trackedFolderId": 1, "disabled": true},
        {"id": 21, "displayName": "a", "trackedFolderId": 20, "state": "UPDATED",
         "lastIndexedDate": 5_000_000 + 10 * 3_600_000},
        {"id": 22, "displayName": "b", "trackedFolderId": 20, "state": "UPDATED"}
    ]))
    .unwrap();
    let projects: Vec<wire::Project> = serde_json::from_value(json!([
        {"id": "10000", "key": "OPS", "name": "Operations"},
        {"id": "10001", "key": "WEB", "name": "Web"},
        {"id": "10002", "key": "API", "name": "API Platform"}
    ]))
    .unwrap();
    LiveSite {
        server: Default::default(),
        projects,
        integrations,
        repositories,
    }
}

/// A gij.toml declaring `acme` with `body` lines, a `[policy]` table and extra tables.
fn config(body: &str, policy: &str, extra: &str) -> String {
    format!(
        "version = 1\n{extra}\n[policy]\n{policy}\n\n[integrations.acme]\nservice = \"github\"\nowner = \"acme\"\ncredential = \"env:GH_TOKEN\"\ndisplay-name = \"GitHub · acme\"\nprojects = [\"OPS\", \"WEB\"]\nrepositories = {{ include = [\"*\"], exclude = [\"legacy-*\"] }}\n{body}"
    )
}

struct Run {
    loaded: LoadedConfig,
    eval: Evaluation,
}

impl Run {
    fn rendered(&self) -> String {
        let all: Vec<&Violation> = self.eval.violations.iter().collect();
        render(&all, &self.loaded.source, false)
    }
}

fn run_scoped(text: &str, scope: &Scope) -> Run {
    let loaded = crate::config::load_text(text, "gij.toml").unwrap_or_else(|e| panic!("{e}"));
    let wire = site();
    let live = from_site(&wire);
    let plan = crate::plan::plan(&loaded.desired, &live, &PlanOptions::default()).unwrap();
    let suggested = suggested_keys(&loaded.desired, &live, &plan);
    let plan = narrow(plan, scope, &loaded.desired, &live, &suggested).unwrap();
    let dates = IndexingDates::from_site(&wire);
    let in_scope = |k: &str| scope.contains(k, None);
    let eval = evaluate(
        &loaded.rules,
        &Context {
            desired: &loaded.desired,
            source: &loaded.source,
            live: &live,
            dates: &dates,
            plan: &plan,
            in_scope: &in_scope,
        },
    );
    Run { loaded, eval }
}

fn run(text: &str) -> Run {
    run_scoped(text, &Scope::default())
}

fn rules_hit(r: &Run) -> Vec<&'static str> {
    r.eval.violations.iter().map(|v| v.rule).collect()
}

#[test]
fn no_policy_means_no_rule() {
    let r = run(&config("require-user-pat = false\n", "", ""));
    assert!(r.loaded.rules.is_empty());
    assert!(r.eval.violations.is_empty());
}

#[test]
fn require_user_pat() {
    let pass = run(&config("", "require-user-pat = true", ""));
    assert!(pass.eval.violations.is_empty(), "{:?}", pass.eval);
    let fail = run(&config(
        "require-user-pat = false\n",
        "require-user-pat = true",
        "",
    ));
    assert_eq!(rules_hit(&fail), ["require-user-pat"]);
    let v = &fail.eval.violations[0];
    assert_eq!(
        (v.key.as_str(), v.field.as_str(), v.allow),
        ("acme", "require-user-pat", None)
    );
    insta::assert_snapshot!(fail.rendered());
}

#[test]
fn require_user_pat_points_at_defaults_when_the_value_comes_from_there() {
    let r = run(&config(
        "",
        "require-user-pat = true",
        "[defaults]\nrequire-user-pat = false\n",
    ));
    assert_eq!(rules_hit(&r), ["require-user-pat"]);
    assert!(r.rendered().contains("gij.toml:3:20"), "{}", r.rendered());
}

#[test]
fn forbid_all_projects() {
    let pass = run(&config("", "forbid-all-projects = true", ""));
    assert!(pass.eval.violations.is_empty(), "{:?}", pass.eval);
    // `projects` is removed: the default, "all", applies.
    let text =
        config("", "forbid-all-projects = true", "").replace("projects = [\"OPS\", \"WEB\"]\n", "");
    let fail = run(&text);
    assert_eq!(rules_hit(&fail), ["forbid-all-projects"]);
    insta::assert_snapshot!(fail.rendered());
}

#[test]
fn require_pat_for() {
    let pass = run(&config("", "require-pat-for = [\"github\"]", ""));
    assert!(pass.eval.violations.is_empty(), "{:?}", pass.eval);
    let text = config(
        "auth = \"oauth\"\n",
        "require-pat-for = [\"github\", \"gitlab\"]",
        "",
    )
    .replace("credential = \"env:GH_TOKEN\"\n", "");
    let fail = run(&text);
    assert_eq!(rules_hit(&fail), ["require-pat-for"]);
    insta::assert_snapshot!(fail.rendered());
    // Another service is not concerned.
    let other = run(&text.replace("\"github\", \"gitlab\"", "\"gitlab\""));
    assert!(other.eval.violations.is_empty());
}

#[test]
fn display_name_pattern() {
    let pass = run(&config(
        "",
        "display-name-pattern = '^GitHub · [a-z-]+$'",
        "",
    ));
    assert!(pass.eval.violations.is_empty(), "{:?}", pass.eval);
    let fail = run(&config("", "display-name-pattern = '^gh-[a-z]+$'", ""));
    assert_eq!(rules_hit(&fail), ["display-name-pattern"]);
    insta::assert_snapshot!(fail.rendered());
}

#[test]
fn max_repositories_per_integration_counts_what_the_selector_enables() {
    // The selector enables 3 of the 4 repositories (legacy-monolith is excluded).
    let pass = run(&config("", "max-repositories-per-integration = 3", ""));
    assert!(pass.eval.violations.is_empty(), "{:?}", pass.eval);
    let fail = run(&config("", "max-repositories-per-integration = 2", ""));
    assert_eq!(rules_hit(&fail), ["max-repositories-per-integration"]);
    assert!(fail.eval.violations[0].message.contains("3 enabled"));
    insta::assert_snapshot!(fail.rendered());
}

#[test]
fn max_repositories_per_integration_skips_integrations_not_yet_created() {
    let text = format!(
        "{}\n[integrations.new]\nservice = \"gitlab\"\nowner = \"newco\"\ncredential = \"env:GL\"\nprojects = [\"OPS\"]\n",
        config("", "max-repositories-per-integration = 1", "")
    );
    let r = run(&text);
    // `acme` is over the limit; `new` cannot be counted yet and is noted, not refused.
    assert_eq!(rules_hit(&r), ["max-repositories-per-integration"]);
    assert_eq!(r.eval.violations[0].key, "acme");
    assert!(
        r.eval.notes.iter().any(|n| n.contains("skipped for `new`")),
        "{:?}",
        r.eval.notes
    );
}

#[test]
fn max_repositories_total_counts_undeclared_integrations() {
    // acme 3 + old-org's 2 enabled repositories = 5.
    let pass = run(&config("", "max-repositories-total = 5", ""));
    assert!(pass.eval.violations.is_empty(), "{:?}", pass.eval);
    let fail = run(&config("", "max-repositories-total = 4", ""));
    assert_eq!(rules_hit(&fail), ["max-repositories-total"]);
    assert_eq!(fail.eval.violations[0].key, "*");
    insta::assert_snapshot!(fail.rendered());
    // Pruning old-org brings the site under the limit.
    let pruned = run(&config(
        "",
        "max-repositories-total = 4",
        "[apply]\nprune = true\n",
    ));
    assert!(pruned.eval.violations.is_empty(), "{:?}", pruned.eval);
}

#[test]
fn max_repositories_total_is_not_narrowed_by_a_scope() {
    let scope = Scope::new(&["#*".to_owned()], &[]).unwrap();
    let r = run_scoped(&config("", "max-repositories-total = 4", ""), &scope);
    assert_eq!(rules_hit(&r), ["max-repositories-total"]);
}

#[test]
fn protect_require_user_pat() {
    let pass = run(&config("", "protect-require-user-pat = true", ""));
    assert!(pass.eval.violations.is_empty(), "{:?}", pass.eval);
    let fail = run(&config(
        "require-user-pat = false\n",
        "protect-require-user-pat = true",
        "",
    ));
    assert_eq!(rules_hit(&fail), ["protect-require-user-pat"]);
    let v = &fail.eval.violations[0];
    assert_eq!(v.allow, Some(Allow::WeakenRequireUserPat));
    insta::assert_snapshot!(fail.rendered());
    let allowed = BTreeSet::from([Allow::WeakenRequireUserPat]);
    assert!(fail.eval.refused(&allowed).is_empty());
    assert_eq!(fail.eval.approved(&allowed).len(), 1);
    // Another flag does not approve it.
    assert_eq!(
        fail.eval
            .refused(&BTreeSet::from([Allow::RemoveProjects]))
            .len(),
        1
    );
}

#[test]
fn protect_projects() {
    let adding = run(&config("", "protect-projects = true", "").replace(
        "projects = [\"OPS\", \"WEB\"]",
        "projects = [\"OPS\", \"WEB\", \"API\"]",
    ));
    assert!(adding.eval.violations.is_empty(), "{:?}", adding.eval);
    let fail = run(&config("", "protect-projects = true", "").replace(
        "projects = [\"OPS\", \"WEB\"]",
        "projects = [\"OPS\", \"API\"]",
    ));
    assert_eq!(rules_hit(&fail), ["protect-projects"]);
    assert!(fail.eval.violations[0].message.contains("removes `WEB`"));
    assert_eq!(fail.eval.violations[0].allow, Some(Allow::RemoveProjects));
    insta::assert_snapshot!(fail.rendered());
}

#[test]
fn protect_indexing_longer_than() {
    // old-org (#20) took 10 hours to index; pruning deletes it.
    let pass = run(&config(
        "",
        "protect-indexing-longer-than = \"12h\"",
        "[apply]\nprune = true\n",
    ));
    assert!(pass.eval.violations.is_empty(), "{:?}", pass.eval);
    let fail = run(&config(
        "",
        "protect-indexing-longer-than = \"6h\"",
        "[apply]\nprune = true\n",
    ));
    assert_eq!(rules_hit(&fail), ["protect-indexing-longer-than"]);
    let v = &fail.eval.violations[0];
    assert_eq!(v.key, "#20");
    assert_eq!(v.allow, Some(Allow::DeleteLongIndexing));
    assert!(v.message.contains("about 10h"), "{}", v.message);
    insta::assert_snapshot!(fail.rendered());
    // Without deletions there is nothing to protect.
    let keep = run(&config("", "protect-indexing-longer-than = \"6h\"", ""));
    assert!(keep.eval.violations.is_empty());
}

#[test]
fn indexing_dates_come_from_the_integration_or_its_repositories() {
    let d = IndexingDates::from_site(&site());
    assert_eq!(d.indexing_secs(1), Some(2 * 3600));
    assert_eq!(d.indexing_secs(20), Some(10 * 3600), "from repository a");
    assert_eq!(d.indexing_secs(99), None);
    let mut d = IndexingDates::default();
    d.insert(7, Some(1000), None);
    assert_eq!(d.indexing_secs(7), None, "still indexing: unknown");
}

#[test]
fn per_integration_rules_follow_the_scope() {
    let text = config("require-user-pat = false\n", "require-user-pat = true", "");
    let out = Scope::new(&[], &["acme".to_owned()]).unwrap();
    assert!(run_scoped(&text, &out).eval.violations.is_empty());
    let inside = Scope::new(&["ac*".to_owned()], &[]).unwrap();
    assert_eq!(rules_hit(&run_scoped(&text, &inside)), ["require-user-pat"]);
}

#[test]
fn merged_rules_keep_the_stricter_value() {
    let a = crate::config::load_text(
        &config(
            "",
            "max-repositories-total = 10\nrequire-pat-for = [\"github\"]",
            "",
        ),
        "gij.toml",
    )
    .unwrap();
    let b = crate::config::load_text(
        &config(
            "",
            "max-repositories-total = 4\nrequire-pat-for = [\"gitlab\"]\nrequire-user-pat = true",
            "",
        ),
        "other.toml",
    )
    .unwrap();
    let merged = a.rules.clone().merge(b.rules.clone());
    let total = merged
        .rules
        .iter()
        .find_map(|r| match r.kind {
            RuleKind::MaxRepositoriesTotal(n) => Some((n, r.defined_at.clone())),
            _ => None,
        })
        .unwrap();
    assert_eq!(total.0, 4);
    assert!(total.1.starts_with("other.toml:"), "{}", total.1);
    let services = merged
        .rules
        .iter()
        .find_map(|r| match &r.kind {
            RuleKind::RequirePatFor(s) => Some(s.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(services, BTreeSet::from([Service::Github, Service::Gitlab]));
    assert_eq!(merged.rules.len(), 3);
    // The looser file cannot relax the stricter one, whichever comes first.
    let reverse = b.rules.merge(a.rules);
    assert!(
        reverse
            .rules
            .iter()
            .any(|r| matches!(r.kind, RuleKind::MaxRepositoriesTotal(4)))
    );
}

#[test]
fn policy_values_are_checked_with_positions() {
    let text = "version = 1\n[policy]\ndisplay-name-pattern = '(unclosed'\nmax-repositories-total = -1\nprotect-indexing-longer-than = \"6 hours\"\nrequire-pat-for = [\"github\", \"github\", \"bitbucket\"]\nrequire-user-pta = true\n";
    let err = crate::config::load_text(text, "gij.toml").unwrap_err();
    insta::assert_snapshot!(err.render(false));
}

#[test]
fn policy_file_holds_only_policy() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("policy.toml");
    std::fs::write(
        &good,
        "[policy]\nrequire-user-pat = true\nprotect-projects = true\n",
    )
    .unwrap();
    let rules = table::load_file(&good).unwrap();
    assert_eq!(rules.rules.len(), 2);
    assert!(
        rules.rules[0].defined_at.ends_with("policy.toml:2:1"),
        "{}",
        rules.rules[0].defined_at
    );
    assert!(rules.rules.iter().all(|r| r.config_span.is_none()));
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[policy]\nrequire-user-pat = \"yes\"\n[integrations.x]\nservice = \"github\"\n",
    )
    .unwrap();
    let e = table::load_file(&bad).unwrap_err().rendered;
    assert!(e.contains("bad.toml:2:20"), "{e}");
    assert!(e.contains("a policy file holds only `[policy]`"), "{e}");
    let empty = dir.path().join("empty.toml");
    std::fs::write(&empty, "version = 1\n").unwrap();
    assert!(
        table::load_file(&empty)
            .unwrap_err()
            .rendered
            .contains("no `[policy]` table")
    );
}

#[test]
fn rules_from_a_policy_file_name_their_file() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("policy.toml");
    std::fs::write(&f, "[policy]\nrequire-user-pat = true\n").unwrap();
    let extra = table::load_file(&f).unwrap();
    let loaded =
        crate::config::load_text(&config("require-user-pat = false\n", "", ""), "gij.toml")
            .unwrap();
    let rules = loaded.rules.clone().merge(extra);
    let wire = site();
    let live = from_site(&wire);
    let plan = crate::plan::plan(&loaded.desired, &live, &PlanOptions::default()).unwrap();
    let all = |_: &str| true;
    let ev = evaluate(
        &rules,
        &Context {
            desired: &loaded.desired,
            source: &loaded.source,
            live: &live,
            dates: &IndexingDates::default(),
            plan: &plan,
            in_scope: &all,
        },
    );
    assert_eq!(ev.violations.len(), 1);
    let shown = render(
        &ev.violations.iter().collect::<Vec<_>>(),
        &loaded.source,
        false,
    );
    assert!(shown.contains("policy.toml:2:1"), "{shown}");
    assert!(
        shown.contains("gij.toml:"),
        "points at the value in gij.toml: {shown}"
    );
}

/// The scope narrows actions, renumbers them and says what it left out.
#[test]
fn scope_narrows_a_plan() {
    let text = format!(
        "{}\n[integrations.new]\nservice = \"gitlab\"\nowner = \"newco\"\ncredential = \"env:GL\"\nprojects = [\"OPS\"]\n",
        config("require-user-pat = false\n", "", "[apply]\nprune = true\n")
    );
    let loaded = crate::config::load_text(&text, "gij.toml").unwrap();
    let live = from_site(&site());
    let full = crate::plan::plan(&loaded.desired, &live, &PlanOptions::default()).unwrap();
    let keys: BTreeSet<&str> = full.actions.iter().map(|a| a.key.as_str()).collect();
    assert_eq!(keys, BTreeSet::from(["#20", "acme", "new"]));
    let suggested: BTreeMap<u64, String> = suggested_keys(&loaded.desired, &live, &full);
    assert_eq!(suggested.get(&20).map(String::as_str), Some("old-org"));

    let only = Scope::new(&["new".to_owned()], &[]).unwrap();
    let p = narrow(full.clone(), &only, &loaded.desired, &live, &suggested).unwrap();
    assert!(p.actions.iter().all(|a| a.key == "new"));
    assert_eq!(p.actions[0].step, 1);
    let s = p.scope.clone().unwrap();
    assert_eq!((s.in_scope, s.left_out, s.left_out_with_changes), (1, 2, 2));
    assert_ne!(p.checksum, full.checksum);
    assert_eq!(p.checksum, crate::plan::fingerprint::plan_checksum(&p));

    // Undeclared integrations match by suggested key too.
    let by_alias = Scope::new(&["old-*".to_owned()], &[]).unwrap();
    let p = narrow(full.clone(), &by_alias, &loaded.desired, &live, &suggested).unwrap();
    assert_eq!(
        p.actions.iter().map(|a| a.key.as_str()).collect::<Vec<_>>(),
        ["#20"]
    );

    let excl = Scope::new(&[], &["#*".to_owned()]).unwrap();
    let p = narrow(full.clone(), &excl, &loaded.desired, &live, &suggested).unwrap();
    assert!(p.actions.iter().all(|a| !a.key.starts_with('#')));

    let typo = Scope::new(&["acne".to_owned()], &[]).unwrap();
    let e = narrow(full.clone(), &typo, &loaded.desired, &live, &suggested).unwrap_err();
    assert!(e.to_string().contains("matches no integration"), "{e}");

    // No scope: the plan is untouched.
    let same = narrow(
        full.clone(),
        &Scope::default(),
        &loaded.desired,
        &live,
        &suggested,
    )
    .unwrap();
    assert_eq!(same, full);
}

#[test]
fn saved_plan_allowances_round_trip_and_name_their_plan() {
    let r = run(&config(
        "require-user-pat = false\n",
        "protect-require-user-pat = true",
        "",
    ));
    assert_eq!(r.eval.violations.len(), 1);
    let live = from_site(&site());
    let mut plan = crate::plan::plan(&r.loaded.desired, &live, &PlanOptions::default()).unwrap();
    let checksum = plan.checksum.clone();
    plan.allowances = vec![crate::plan::model::Allowance {
        allow: Allow::WeakenRequireUserPat,
        plan_checksum: checksum.clone(),
        approves: vec!["x".into()],
    }];
    let text = crate::plan::file::to_string(&plan);
    let back = crate::plan::file::from_str(std::path::Path::new("p.json"), &text).unwrap();
    assert_eq!(back.allowances, plan.allowances);
    assert_eq!(
        back.checksum, checksum,
        "allowances are outside the checksum"
    );
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["allowances"][0]["allow"], "weaken-require-user-pat");
}
