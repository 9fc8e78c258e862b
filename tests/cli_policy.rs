//! End-to-end tests of policy rules and scoped runs: the real binary against an in-process
//! dev-server (time scaled so indexing takes milliseconds). Covers a violation refusing plan
//! and apply before any change (exit 10), an `--allow` that approves one plan and not another,
//! scoped plan and apply, and safety limits computed on the whole site under a scope.

mod common;

use common::site::{Site, code, stderr, stdout};
use serde_json::{Value, json};

const GH_TOKEN: &str = "dev-gh-policy-token";

/// A site seeded with `seed`, whose commands see the catalog's GitHub token as `GH_TOKEN`.
fn start(seed: Value) -> Site {
    Site::start(&seed, |_| {}).with_env("GH_TOKEN", GH_TOKEN)
}

/// `n` GitHub organisations with two repositories each; `existing` integrations already there
/// (seeded integrations were created 30 days ago and indexed an hour ago).
fn seed(n: usize, existing: Vec<Value>) -> Value {
    let groups: Vec<Value> = (1..=n)
        .map(|i| {
            json!({"name": format!("org-{i:02}"), "repositories": [
                {"name": "app", "commits": 300}, {"name": "lib", "commits": 200}
            ]})
        })
        .collect();
    let names: Vec<String> = (1..=n).map(|i| format!("org-{i:02}")).collect();
    json!({
        "projects": [{"id": 10000, "key": "OPS", "name": "Operations"},
                     {"id": 10001, "key": "WEB", "name": "Web"}],
        "catalog": {"services": [{
            "type": "GITHUB", "origin": "https://api.github.com", "groups": groups,
            "tokens": [{"value": GH_TOKEN, "groups": names}]
        }]},
        "integrations": existing,
    })
}

fn existing(i: usize, settings: Value) -> Value {
    json!({"type": "GITHUB", "group": format!("org-{i:02}"), "credential": GH_TOKEN,
           "settings": settings})
}

/// A gij.toml declaring organisations `range` (projects OPS), with extra top-level text and
/// extra lines in every integration.
fn config(range: std::ops::RangeInclusive<usize>, top: &str, each: &str) -> String {
    let mut s = format!("version = 1\n{top}\n");
    for i in range {
        s.push_str(&format!(
            "\n[integrations.org-{i:02}]\nservice = \"github\"\nowner = \"org-{i:02}\"\ncredential = \"env:GH_TOKEN\"\nprojects = [\"OPS\"]\n{each}"
        ));
    }
    s
}

fn rup_site() -> Site {
    start(seed(
        1,
        vec![existing(
            1,
            json!({"displayName": "GitHub · org-01", "requireUserPat": true, "global": false,
                   "projectMappingIds": [10000]}),
        )],
    ))
}

#[test]
fn a_violation_refuses_plan_and_apply_before_any_change() {
    let site = rup_site();
    let cfg = site.write(
        "gij.toml",
        &config(
            1..=1,
            "[policy]\nprotect-require-user-pat = true\n",
            "display-name = \"GitHub · org-01\"\nrequire-user-pat = false\n",
        ),
    );
    let cfg = cfg.to_str().unwrap();
    let plan_file = site.dir.path().join("p.json");
    let o = site.run(&["plan", "-c", cfg, "--out", plan_file.to_str().unwrap()]);
    assert_eq!(code(&o), 10, "{}", stderr(&o));
    let err = stderr(&o);
    for want in [
        "policy rule `protect-require-user-pat`",
        "(live integration #1)",
        "gij.toml:12:20]",
        "require-user-pat = false",
        "--allow weaken-require-user-pat",
        "the plan was not saved",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
    assert!(!plan_file.exists(), "a refused plan was saved");
    // The plan is shown, with the refusal and its flag first: a reviewer sees what apply
    // would refuse, not an empty comment.
    let out = stdout(&o);
    let refusal = out
        .find("policy rule `protect-require-user-pat`")
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        out.contains("approve with `--allow weaken-require-user-pat`"),
        "{out}"
    );
    assert!(refusal < out.find("~ org-01").unwrap(), "{out}");

    let o = site.run(&["apply", "-c", cfg, "--auto-approve"]);
    assert_eq!(code(&o), 10, "{}", stderr(&o));
    assert_eq!(site.writes(), 0, "a refused apply changed the site");

    // Invariants have no override.
    let cfg2 = site.write(
        "strict.toml",
        &config(
            1..=1,
            "[policy]\nrequire-user-pat = true\n",
            "require-user-pat = false\n",
        ),
    );
    let o = site.run(&[
        "plan",
        "-c",
        cfg2.to_str().unwrap(),
        "--allow",
        "weaken-require-user-pat",
    ]);
    assert_eq!(code(&o), 10, "{}", stderr(&o));
    assert!(stderr(&o).contains("this rule has no `--allow` override"));
}

#[test]
fn an_allowance_approves_one_plan_and_not_another() {
    let site = rup_site();
    // The rule lives in a separately owned policy file; gij.toml has no [policy].
    let policy = site.write("policy.toml", "[policy]\nprotect-require-user-pat = true\n");
    let policy = policy.to_str().unwrap();
    let weaken = config(
        1..=1,
        "",
        "display-name = \"GitHub · org-01\"\nrequire-user-pat = false\n",
    );
    let cfg = site.write("gij.toml", &weaken);
    let cfg = cfg.to_str().unwrap();
    let a = site.dir.path().join("a.json");
    let a = a.to_str().unwrap();
    let b = site.dir.path().join("b.json");
    let b = b.to_str().unwrap();

    // Plan A: approved with --allow, recorded with A's checksum.
    let o = site.run(&[
        "plan",
        "-c",
        cfg,
        "--policy",
        policy,
        "--out",
        a,
        "--allow",
        "weaken-require-user-pat",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("allowed by `--allow weaken-require-user-pat`"));
    let plan_a: Value = serde_json::from_str(&std::fs::read_to_string(a).unwrap()).unwrap();
    assert_eq!(plan_a["allowances"][0]["allow"], "weaken-require-user-pat");
    assert_eq!(plan_a["allowances"][0]["plan_checksum"], plan_a["checksum"]);

    // Plan B: another plan (it also renames), saved without the policy file, then given A's
    // allowances by hand. Applying it under the policy refuses: the allowance names plan A.
    let cfg_b = site.write(
        "b.toml",
        &weaken.replace("GitHub · org-01", "GitHub · renamed"),
    );
    let o = site.run(&["plan", "-c", cfg_b.to_str().unwrap(), "--out", b]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let mut plan_b: Value = serde_json::from_str(&std::fs::read_to_string(b).unwrap()).unwrap();
    assert_ne!(plan_b["checksum"], plan_a["checksum"]);
    plan_b["allowances"] = plan_a["allowances"].clone();
    std::fs::write(b, serde_json::to_string_pretty(&plan_b).unwrap()).unwrap();
    let o = site.run(&["apply", b, "--policy", policy]);
    assert_eq!(code(&o), 10, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("it was given for another plan"),
        "{}",
        stderr(&o)
    );
    assert_eq!(site.writes(), 0);

    // `--allow` belongs to the plan, not to the apply of a saved plan.
    let o = site.run(&[
        "apply",
        b,
        "--policy",
        policy,
        "--allow",
        "weaken-require-user-pat",
    ]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("belong to the plan"), "{}", stderr(&o));

    // A fresh apply: refused without --allow, approved for that run with it.
    let o = site.run(&["apply", "-c", cfg, "--policy", policy, "--auto-approve"]);
    assert_eq!(code(&o), 10, "{}", stderr(&o));
    assert_eq!(site.writes(), 0);

    // Plan A itself applies: its allowance was given for it.
    let o = site.run(&["apply", a, "--policy", policy]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let st = site.server().state_snapshot();
    let i = st.integrations.values().next().unwrap();
    assert_eq!(i.settings.require_user_pat, Some(false));
}

#[test]
fn a_fresh_apply_takes_allow_for_that_run_only() {
    let site = start(seed(
        2,
        vec![existing(
            1,
            json!({"displayName": "GitHub · org-01", "requireUserPat": true,
                               "global": false, "projectMappingIds": [10000, 10001]}),
        )],
    ));
    let cfg = site.write(
        "gij.toml",
        &config(
            1..=1,
            "[policy]\nprotect-projects = true\n",
            "display-name = \"GitHub · org-01\"\n",
        ),
    );
    let cfg = cfg.to_str().unwrap();
    let o = site.run(&["apply", "-c", cfg, "--auto-approve"]);
    assert_eq!(code(&o), 10, "{}", stderr(&o));
    assert!(stderr(&o).contains("removes `WEB`"), "{}", stderr(&o));
    let o = site.run(&[
        "apply",
        "-c",
        cfg,
        "--auto-approve",
        "--allow",
        "remove-projects",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Nothing of the allowance remains: the next plan is empty and has none.
    let o = site.run(&["plan", "-c", cfg, "--format", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let plan: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(plan["actions"].as_array().unwrap().is_empty());
    assert!(plan.get("allowances").is_none());
}

#[test]
fn deleting_a_long_indexing_integration_needs_its_flag() {
    // Both were created 30 days ago and last indexed an hour ago: about 719h by GIJ's dates.
    let site = start(seed(
        2,
        vec![
            existing(1, json!({"displayName": "GitHub · org-01"})),
            existing(2, json!({"displayName": "GitHub · org-02"})),
        ],
    ));
    let cfg = site.write(
        "gij.toml",
        &config(
            1..=1,
            "[apply]\nprune = true\n\n[policy]\nprotect-indexing-longer-than = \"1d\"\n",
            "display-name = \"GitHub · org-01\"\nrequire-user-pat = false\n",
        )
        .replace("[\"OPS\"]", "\"all\""),
    );
    let cfg = cfg.to_str().unwrap();
    let o = site.run(&["plan", "-c", cfg]);
    assert_eq!(code(&o), 10, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("whose initial indexing took about 71"),
        "{err}"
    );
    assert!(err.contains("prune = true"), "{err}");
    assert!(err.contains("--allow delete-long-indexing"), "{err}");
    let o = site.run(&[
        "apply",
        "-c",
        cfg,
        "--auto-approve",
        "--allow",
        "delete-long-indexing",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(site.groups(), ["org-01"]);
}

#[test]
fn scoped_plan_and_apply_end_to_end() {
    let site = start(seed(3, vec![]));
    let cfg = site.write("gij.toml", &config(1..=3, "", ""));
    let cfg = cfg.to_str().unwrap();

    let o = site.run(&["plan", "-c", cfg, "--only", "org-01", "--only", "org-03"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("Plan: 2 to create"), "{out}");
    assert!(
        out.contains(
            "Scoped run (--only org-01, --only org-03): 2 integrations in scope, 1 left out (1 with changes this run does not make)"
        ),
        "{out}"
    );
    assert!(!out.contains("org-02"), "{out}");

    let o = site.run(&["plan", "-c", cfg, "--only", "org-9*"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("matches no integration"),
        "{}",
        stderr(&o)
    );

    // A saved scoped plan keeps its scope; apply takes no scope flags with it.
    let p = site.dir.path().join("scoped.json");
    let p = p.to_str().unwrap();
    let o = site.run(&["plan", "-c", cfg, "--exclude", "org-0[12]", "--out", p]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = site.run(&["apply", p, "--only", "org-01"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let o = site.run(&["apply", p]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(site.groups(), ["org-03"]);

    // A fresh scoped apply, then the rest.
    let o = site.run(&["apply", "-c", cfg, "--auto-approve", "--only", "org-02"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(site.groups(), ["org-02", "org-03"]);
    let o = site.run(&["apply", "-c", cfg, "--auto-approve"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(site.groups(), ["org-01", "org-02", "org-03"]);
}

#[test]
fn safety_limits_count_the_whole_site_under_a_scope() {
    let existing: Vec<Value> = (1..=10)
        .map(|i| existing(i, json!({"displayName": format!("GitHub · org-{i:02}")})))
        .collect();
    let site = start(seed(10, existing));
    // Declares 6 of 10 and prunes: 4 deletions = 40% of the site, over the 30% limit.
    let cfg = site.write(
        "gij.toml",
        &config(
            1..=6,
            "[apply]\nprune = true\nmax-deletes = 10\n",
            "require-user-pat = false\n",
        )
        .replace("[\"OPS\"]", "\"all\""),
    );
    let cfg = cfg.to_str().unwrap();
    // Scoped to the four undeclared integrations, the run holds fewer integrations than the
    // 10 below which percentages are skipped; the share is still taken of the whole site.
    for scope in [
        vec![],
        vec!["--only", "#*"],
        vec!["--exclude", "org-0[1-6]"],
    ] {
        let mut args = vec!["apply", "-c", cfg, "--auto-approve"];
        args.extend(scope.iter().copied());
        let o = site.run(&args);
        assert_eq!(code(&o), 3, "{scope:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("deletes 4 of 10 live integrations (40%)"),
            "{scope:?}: {}",
            stderr(&o)
        );
        assert_eq!(site.writes(), 0);
    }
    // One undeclared integration, named by its suggested key: 1 of 10 = 10%, allowed.
    let o = site.run(&["apply", "-c", cfg, "--auto-approve", "--only", "org-07"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(site.groups().len(), 9);
    assert!(!site.groups().contains(&"org-07".to_owned()));
}
