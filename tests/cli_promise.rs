//! "A plan is a promise": what `plan` shows is what `apply` does, on the site and config it was
//! made for. The real binary against real dev-servers over loopback: saved plans bound to
//! their site and config, every refusal shown by plan and approvable there, every missing
//! credential found in one run, one duration grammar, and `--dev-server` winning over
//! `GIJ_URL`.

mod common;

use std::path::Path;

use common::site::{Site, code, stderr, stdout};
use gijctl::devserver::Profile;
use serde_json::{Value, json};

const GH_TOKEN: &str = "dev-gh-promise-token";

/// A site whose catalog has `n` GitHub organisations (one repository each) and `existing`
/// integrations, its commands seeing the token as `GH_TOKEN`.
fn start(n: usize, existing: Vec<Value>, title: &str) -> Site {
    start_in(Profile::Extended, n, existing, title)
}

/// [`start`] in the dev-server's `profile`.
fn start_in(profile: Profile, n: usize, existing: Vec<Value>, title: &str) -> Site {
    let groups: Vec<Value> = (1..=n)
        .map(|i| json!({"name": format!("org-{i:02}"), "repositories": [{"name": "repo", "commits": 100}]}))
        .collect();
    let names: Vec<String> = (1..=n).map(|i| format!("org-{i:02}")).collect();
    let seed = json!({
        "server": {"baseUrl": "https://jira.example.com", "serverTitle": title},
        "projects": [{"id": 10000, "key": "OPS", "name": "Operations"}],
        "catalog": {"services": [{
            "type": "GITHUB", "origin": "https://api.github.com", "groups": groups,
            "tokens": [{"value": GH_TOKEN, "groups": names}]
        }]},
        "integrations": existing,
    });
    Site::start_profile(&seed, profile, |_| {}).with_env("GH_TOKEN", GH_TOKEN)
}

fn existing(i: usize) -> Value {
    json!({"type": "GITHUB", "group": format!("org-{i:02}"), "credential": GH_TOKEN,
           "settings": {"displayName": format!("old {i}"), "global": true}})
}

/// A gij.toml declaring organisations `range`, each with credential `env:<var(i)>`.
fn config_with(
    range: std::ops::RangeInclusive<usize>,
    extra: &str,
    var: impl Fn(usize) -> String,
) -> String {
    let mut s = format!("version = 1\n\n[apply]\nmax-parallel-indexing = 2\n{extra}\n");
    for i in range {
        s.push_str(&format!(
            "\n[integrations.org-{i:02}]\nservice = \"github\"\nowner = \"org-{i:02}\"\ncredential = \"env:{}\"\nprojects = [\"OPS\"]\n",
            var(i)
        ));
    }
    s
}

fn config(range: std::ops::RangeInclusive<usize>, extra: &str) -> String {
    config_with(range, extra, |_| "GH_TOKEN".to_owned())
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

both_profiles!(
    saved_plan_is_bound_to_its_site,
    a_saved_plan_applies_only_to_the_site_it_was_made_against,
    a_saved_plan_applies_only_to_the_site_it_was_made_against_documented
);

fn saved_plan_is_bound_to_its_site(profile: Profile) {
    let staging = start_in(profile, 2, vec![], "Globex staging");
    // Production: a restored copy of staging reports the same base URL; only the title and
    // the URL gijctl talks to tell them apart.
    let production = start_in(profile, 2, vec![], "Globex production");
    let cfg = staging.write("gij.toml", &config(1..=2, ""));
    let saved = staging.dir.path().join("saved.json");
    let o = staging.run(&["plan", "-c", s(&cfg), "--out", s(&saved)]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    assert_eq!(doc["target"]["site"]["server_title"], "Globex staging");
    assert_eq!(
        doc["target"]["site"]["base_url"],
        "https://jira.example.com"
    );
    assert_eq!(doc["target"]["config"]["path"], s(&cfg));

    // Applied to production: refused before any write, naming both sites.
    let o = production.run(&["apply", s(&saved), "-c", s(&cfg)]);
    assert_eq!(code(&o), 11, "{}", stderr(&o));
    let err = stderr(&o);
    for want in [
        "Globex staging",
        "Globex production",
        staging.server().base_url().trim_end_matches('/'),
        production.server().base_url().trim_end_matches('/'),
        "nothing was changed",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
    assert_eq!(
        production.writes(),
        0,
        "a plan for staging wrote to production"
    );
    assert!(production.groups().is_empty());

    // The target is sealed by the checksum: editing it to production's is a tampered plan.
    let mut edited = doc.clone();
    edited["target"]["site"]["server_title"] = json!("Globex production");
    edited["target"]["site"]["endpoint"] =
        json!(production.server().base_url().trim_end_matches('/'));
    let edited_path = staging.write("edited.json", &edited.to_string());
    let o = production.run(&["apply", s(&edited_path), "-c", s(&cfg)]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("checksum mismatch"), "{}", stderr(&o));
    assert_eq!(production.writes(), 0);

    // On its own site it applies.
    let o = staging.run(&["apply", s(&saved), "--poll-interval", "10ms"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(staging.groups(), ["org-01", "org-02"]);
}

both_profiles!(
    saved_plan_is_bound_to_its_config,
    a_saved_plan_applied_with_another_config_says_so,
    a_saved_plan_applied_with_another_config_says_so_documented
);

fn saved_plan_is_bound_to_its_config(profile: Profile) {
    let site = start_in(profile, 3, vec![], "Globex");
    let cfg = site.write("gij.toml", &config(1..=2, ""));
    let saved = site.dir.path().join("saved.json");
    let o = site.run(&["plan", "-c", s(&cfg), "--out", s(&saved)]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));

    // Another file with other content: refused, naming both files.
    let other = site.write("other.toml", &config(3..=3, ""));
    let o = site.run(&["apply", s(&saved), "-c", s(&other)]);
    assert_eq!(code(&o), 11, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains(s(&cfg)) && err.contains(s(&other)), "{err}");
    assert!(!err.contains("Nothing to apply"), "{err}");
    assert_eq!(site.writes(), 0);

    // The same content elsewhere (another checkout) is the same config.
    let copy = site.write("copy.toml", &config(1..=2, ""));
    let o = site.run(&[
        "apply",
        s(&saved),
        "-c",
        s(&copy),
        "--poll-interval",
        "10ms",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("has the same content"),
        "{}",
        stderr(&o)
    );
    assert_eq!(site.groups(), ["org-01", "org-02"]);
}

both_profiles!(
    plan_shows_refusals_and_approvals_apply,
    plan_shows_every_refusal_and_a_plan_approved_there_applies_without_new_flags,
    plan_shows_every_refusal_and_a_plan_approved_there_applies_without_new_flags_documented
);

fn plan_shows_refusals_and_approvals_apply(profile: Profile) {
    let site = start_in(profile, 12, (1..=12).map(existing).collect(), "Globex");
    // Declares 4 of 12, renames them (an update each: 4 of 12 = 34% > 25%) and prunes the
    // other 8 (over max-deletes = 5 and 30%).
    let cfg = site.write(
        "gij.toml",
        &config(1..=4, "prune = true\nmax-update-percent = 25\n"),
    );
    let o = site.run(&["plan", "-c", s(&cfg), "--out", "p.json"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let out = stdout(&o);
    for want in [
        "apply would refuse this plan",
        "safety limit `max-deletes`",
        "approve with `--max-deletes 8`",
        "safety limit `max-delete-percent`",
        "approve with `--max-delete-percent 67`",
        "safety limit `max-update-percent`",
        "approve with `--max-update-percent 34`",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    assert!(
        stderr(&o).contains("the plan was not saved"),
        "{}",
        stderr(&o)
    );
    assert!(!site.dir.path().join("p.json").exists());

    // The same refusals in JSON and Markdown.
    let o = site.run(&["plan", "-c", s(&cfg), "--format", "json"]);
    assert_eq!(code(&o), 3);
    let doc: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let flags: Vec<&str> = doc["refusals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["approve_with"].as_str().unwrap())
        .collect();
    assert_eq!(
        flags,
        [
            "--max-deletes 8",
            "--max-delete-percent 67",
            "--max-update-percent 34"
        ]
    );
    let o = site.run(&["plan", "-c", s(&cfg), "--format", "markdown"]);
    assert!(stdout(&o).contains("[!CAUTION]"), "{}", stdout(&o));
    assert!(stdout(&o).contains("--max-delete-percent 67"));

    // Approving two of three still refuses, naming only the third.
    let o = site.run(&[
        "plan",
        "-c",
        s(&cfg),
        "--max-deletes",
        "8",
        "--max-delete-percent",
        "67",
    ]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("--max-update-percent 34"), "{out}");
    assert!(!out.contains("approve with `--max-deletes"), "{out}");

    // Approved in plan: saved with its approvals, shown, applied with no new flag.
    let o = site.run(&[
        "plan",
        "-c",
        s(&cfg),
        "--out",
        "p.json",
        "--max-deletes",
        "8",
        "--max-delete-percent",
        "67",
        "--max-update-percent",
        "34",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).contains("--max-deletes 8 approves:"),
        "{}",
        stdout(&o)
    );
    assert_eq!(site.writes(), 0);
    // Flags belong to the plan: giving them again to apply is an error.
    let o = site.run(&["apply", "p.json", "--max-deletes", "9"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(site.writes(), 0);
    let o = site.run(&["apply", "p.json", "--poll-interval", "10ms"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(site.groups(), ["org-01", "org-02", "org-03", "org-04"]);
}

#[test]
fn the_org_example_plan_shows_the_refusal_apply_would_make() {
    let root = common::root();
    let args = [
        "plan",
        "-c",
        "examples/org/gij.toml",
        "--dev-server",
        "examples/org/seed.json",
    ];
    let o = common::gijctl(&root, &args, &[]);
    assert_eq!(o.code, 3, "{}", o.stderr);
    assert!(
        o.stdout.contains("safety limit `max-update-percent`"),
        "{}",
        o.stdout
    );
    // The flag the refusal names approves it.
    let flag = o
        .stdout
        .split("approve with `--max-update-percent ")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .expect("the refusal names its flag")
        .to_owned();
    let o = common::gijctl(
        &root,
        &[
            "plan",
            "-c",
            "examples/org/gij.toml",
            "--dev-server",
            "examples/org/seed.json",
            "--max-update-percent",
            &flag,
        ],
        &[],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
}

both_profiles!(
    missing_credentials_in_one_run,
    every_missing_credential_is_listed_in_one_run,
    every_missing_credential_is_listed_in_one_run_documented
);

fn missing_credentials_in_one_run(profile: Profile) {
    let site = start_in(profile, 3, vec![], "Globex");
    let cfg = site.write(
        "gij.toml",
        &config_with(1..=3, "", |i| format!("PROMISE_MISSING_{i}")),
    );
    let o = site.run(&["apply", "-c", s(&cfg), "--auto-approve"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let err = stderr(&o);
    for (i, line) in [(1, 10), (2, 16), (3, 22)] {
        let want = format!(
            "{}:{line}:14: `env:PROMISE_MISSING_{i}` of integration `org-0{i}`",
            s(&cfg)
        );
        assert!(err.contains(&want), "missing {want:?} in:\n{err}");
    }
    assert!(err.contains("3 credentials cannot be read"), "{err}");
    assert_eq!(site.writes(), 0);

    // plan lists the same three as warnings and still plans.
    let o = site.run(&["plan", "-c", s(&cfg)]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let warnings = stderr(&o)
        .lines()
        .filter(|l| l.contains("cannot read here") && l.contains("PROMISE_MISSING_"))
        .count();
    assert_eq!(warnings, 3, "{}", stderr(&o));
}

#[test]
fn durations_have_one_grammar_and_a_range() {
    let site = start(1, vec![], "Globex");
    let cfg = site.write("gij.toml", &config(1..=1, "indexing-timeout = \"1h30m\""));
    // gij.toml's grammar on the command line.
    let o = site.run(&[
        "apply",
        "-c",
        s(&cfg),
        "--auto-approve",
        "--indexing-timeout",
        "1h30m",
        "--poll-interval",
        "10ms",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Out of range: an error naming the range, not a panic.
    for (flag, value, range) in [
        (
            "--indexing-timeout",
            "99999999999999999999h",
            "from 1s to 30d",
        ),
        ("--indexing-timeout", "31d", "from 1s to 30d"),
        ("--poll-interval", "2h", "from 1ms to 1h"),
    ] {
        let o = site.run(&["apply", "-c", s(&cfg), "--auto-approve", flag, value]);
        assert_eq!(code(&o), 1, "{flag} {value}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains(range), "{flag} {value}: {err}");
        assert!(!err.contains("internal error"), "{flag} {value}: {err}");
    }
    // gij.toml takes the same range.
    let far = site.write(
        "far.toml",
        &config(1..=1, "indexing-timeout = \"99999999999999999999h\""),
    );
    let o = common::gijctl(site.dir.path(), &["validate", "-c", s(&far)], &[]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(o.stderr.contains("is out of range"), "{}", o.stderr);
    assert!(o.stderr.contains("from 1s to 30d"), "{}", o.stderr);
}

#[test]
fn an_explicit_dev_server_wins_over_gij_url() {
    let root = common::root();
    let o = common::gijctl(
        &root,
        &[
            "plan",
            "-c",
            "examples/quickstart/gij.toml",
            "--dev-server",
            "examples/quickstart/seed.json",
        ],
        &[("GIJ_URL", "https://jira.example.com")],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr
            .contains("`--dev-server` given, so `GIJ_URL` (https://jira.example.com) is not used"),
        "{}",
        o.stderr
    );
    // Both typed: still a conflict.
    let o = common::gijctl(
        &root,
        &[
            "plan",
            "-c",
            "examples/quickstart/gij.toml",
            "--dev-server",
            "examples/quickstart/seed.json",
            "--endpoint",
            "https://jira.example.com",
        ],
        &[],
    );
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(o.stderr.contains("cannot be used with"), "{}", o.stderr);
}

/// A saved plan is read like the config: only a regular file, at most 256 MiB, read through the
/// cap (`gijctl apply /dev/zero` once read until allocation failed). The harness's deadline
/// proves nothing is read forever.
#[test]
fn apply_refuses_a_plan_path_that_is_not_a_bounded_regular_file() {
    let dir = tempfile::tempdir().unwrap();
    let huge = dir.path().join("huge.json");
    // Sparse: one byte over the cap costs no disk.
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(256 * 1024 * 1024 + 1)
        .unwrap();
    let cases = [
        ("/dev/zero", "is not a regular file"),
        (dir.path().to_str().unwrap(), "is not a regular file"),
        (huge.to_str().unwrap(), "is larger than 256 MiB"),
    ];
    for (path, expect) in cases {
        let out = common::gijctl(dir.path(), &["apply", path], &[]);
        common::assert_clean_failure(path, &out);
        assert!(
            out.stderr.contains(expect),
            "{path}: stderr lacks `{expect}`:\n{}",
            out.stderr
        );
    }
}
