//! Indexing in progress, end to end: the real binary against an in-process dev-server whose
//! clock is frozen (time scale 0), so an integration stays indexing until the test advances
//! the clock. Covers `plan` and `drift` listing what is still indexing, and `gijctl status`:
//! its exit codes (12 still indexing, 13 indexing error, 0 done), `--watch` ending when
//! indexing ends, and that it never writes.

mod common;

use std::io::{BufRead as _, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use common::site::{Site, code, stderr, stdout};
use serde_json::{Value, json};

const GH_TOKEN: &str = "dev-gh-status-token";

/// A frozen site with one GitHub integration (`acme`, two repositories of 50,000 commits)
/// whose initial indexing has started and, the clock being frozen, does not move on; plus, when
/// `failing`, an indexed integration (`beta`) with a repository in ERROR.
fn frozen(failing: bool) -> Site {
    frozen_on(failing, common::site::default_profile())
}

/// The failing repository of `beta`: its name holds an OSC title sequence and a bidi override,
/// which every output must escape (GIJ's error text repeats the name).
const BROKEN: &str = "bro\u{1b}]0;owned\u{7}ken\u{202e}";

/// [`frozen`] in `profile`.
fn frozen_on(failing: bool, profile: gijctl::devserver::Profile) -> Site {
    let repos = json!([
        {"name": "api", "commits": 50_000},
        {"name": "web", "commits": 50_000}
    ]);
    let mut integrations = vec![json!({
        "type": "GITHUB", "group": "acme", "credential": GH_TOKEN, "indexed": false,
        "settings": {"displayName": "GitHub · acme", "requireUserPat": true}
    })];
    if failing {
        integrations.push(json!({
            "type": "GITHUB", "group": "beta", "credential": GH_TOKEN,
            "settings": {"displayName": "GitHub · beta", "requireUserPat": true}
        }));
    }
    let seed = json!({
        "projects": [{"id": 10000, "key": "OPS", "name": "Operations"}],
        "catalog": {"services": [{
            "type": "GITHUB", "origin": "https://api.github.com",
            "groups": [
                {"name": "acme", "repositories": repos},
                {"name": "beta", "repositories": [
                    {"name": "ok", "commits": 100},
                    {"name": BROKEN, "commits": 100, "failIndexing": true}
                ]}
            ],
            "tokens": [{"value": GH_TOKEN, "groups": ["acme", "beta"]}]
        }]},
        "integrations": integrations,
    });
    Site::start_profile(&seed, profile, |c| c.time_scale = 0.0).with_env("GH_TOKEN", GH_TOKEN)
}

/// A config that matches the frozen site exactly (so plan has no changes).
const CONFIG: &str = r#"version = 1

[integrations.acme-github]
service = "github"
owner = "acme"
credential = "env:GH_TOKEN"
display-name = "GitHub · acme"
projects = "all"
"#;

const BETA: &str = r#"
[integrations.beta-github]
service = "github"
owner = "beta"
credential = "env:GH_TOKEN"
display-name = "GitHub · beta"
projects = "all"
"#;

/// Writes the config as `site.toml` (not gij.toml, so `status` without `-c` sees none).
fn config(site: &Site, extra: &str) -> String {
    site.write("site.toml", &format!("{CONFIG}{extra}"))
        .display()
        .to_string()
}

fn json_of(o: &std::process::Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(o), stderr(o)))
}

/// No output names a secret: the admin token or the git-service token.
fn assert_no_secrets(site: &Site, o: &std::process::Output) {
    let all = format!("{}{}", stdout(o), stderr(o));
    for s in [site.server().admin_token().expose(), GH_TOKEN] {
        assert!(!all.contains(s), "a secret was printed:\n{all}");
    }
}

/// Indexing of every repository done: 50,000 commits at 100 a second is 500 s each.
fn finish_indexing(site: &Site) {
    site.server().advance(Duration::from_secs(3600));
}

#[test]
fn plan_says_no_changes_but_still_indexing_in_every_format() {
    let site = frozen(false);
    let cfg = config(&site, "");
    let o = site.run(&["plan", "-c", &cfg, "--detailed-exitcode"]);
    assert_eq!(code(&o), 0, "no changes:\n{}\n{}", stdout(&o), stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("No changes. 1 integration is still indexing: see `gijctl status`."),
        "{text}"
    );
    assert!(!text.contains("The site matches the config"), "{text}");
    assert!(
        text.contains("~ acme-github (#1): INDEXING 0.0%, 0/2 repositories, ~"),
        "{text}"
    );

    let o = site.run(&["plan", "-c", &cfg, "--format", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let plan = json_of(&o);
    assert_eq!(plan["actions"], json!([]));
    let indexing = &plan["indexing"];
    assert_eq!(indexing.as_array().map(Vec::len), Some(1), "{plan:#}");
    assert_eq!(indexing[0]["key"], "acme-github");
    assert_eq!(indexing[0]["id"], 1);
    assert_eq!(indexing[0]["progress"]["state"], "INDEXING");
    assert_eq!(indexing[0]["progress"]["repositories_total"], 2);
    assert!(indexing[0]["progress"]["estimated_remaining_secs"].as_u64() > Some(0));

    let o = site.run(&["plan", "-c", &cfg, "--format", "markdown"]);
    let md = stdout(&o);
    assert!(
        md.contains("No changes. 1 integration is still indexing"),
        "{md}"
    );
    assert!(md.contains("- acme-github (#1): INDEXING 0.0%"), "{md}");
    assert_no_secrets(&site, &o);

    // Once indexing is done the plan is the plain "no changes" again.
    finish_indexing(&site);
    let o = site.run(&["plan", "-c", &cfg]);
    assert!(
        stdout(&o).ends_with("No changes. The site matches the config.\n"),
        "{}",
        stdout(&o)
    );
    let o = site.run(&["plan", "-c", &cfg, "--format", "json"]);
    assert!(json_of(&o).get("indexing").is_none(), "empty: left out");
    assert_eq!(site.writes(), 0);
}

#[test]
fn drift_lists_indexing_in_progress_without_calling_it_drift() {
    let site = frozen(false);
    let cfg = config(&site, "");
    let o = site.run(&["drift", "-c", &cfg]);
    assert_eq!(code(&o), 0, "indexing is not drift:\n{}", stdout(&o));
    let text = stdout(&o);
    assert!(
        text.contains("No drift. 1 integration is still indexing: see `gijctl status`."),
        "{text}"
    );
    assert!(text.contains("~ acme-github (#1): INDEXING"), "{text}");

    let o = site.run(&["drift", "-c", &cfg, "--format", "json"]);
    assert_eq!(code(&o), 0);
    let report = json_of(&o);
    assert_eq!(report["indexing"][0]["key"], "acme-github");
    assert_eq!(report["indexing"][0]["progress"]["state"], "INDEXING");

    let o = site.run(&["drift", "-c", &cfg, "--format", "markdown"]);
    assert!(
        stdout(&o).contains("| `acme-github (#1)` | INDEXING 0.0%"),
        "{}",
        stdout(&o)
    );
    assert_no_secrets(&site, &o);
}

#[test]
fn status_exits_11_while_indexing_and_0_once_indexing_is_done() {
    let site = frozen(false);
    let cfg = config(&site, "");
    let o = site.run(&["status", "-c", &cfg]);
    assert_eq!(code(&o), 12, "{}\n{}", stdout(&o), stderr(&o));
    let text = stdout(&o);
    assert!(
        text.starts_with("status: 1 running, 0 error, 0 indexed"),
        "{text}"
    );
    assert!(
        text.contains("~ acme-github (#1): INDEXING 0.0%, 0/2 repositories, ~"),
        "{text}"
    );
    assert!(
        text.contains("(created then, never indexed before)"),
        "{text}"
    );
    assert!(
        text.contains("Still indexing: 1 integration(s), ~"),
        "{text}"
    );
    assert_no_secrets(&site, &o);

    let o = site.run(&["status", "-c", &cfg, "--format", "json"]);
    assert_eq!(code(&o), 12);
    let r = json_of(&o);
    assert_eq!(r["format_version"], 1);
    assert_eq!(r["integrations"][0]["key"], "acme-github");
    assert_eq!(r["integrations"][0]["progress"]["state"], "INDEXING");
    assert_eq!(r["integrations"][0]["since"]["source"], "created");
    assert_eq!(r["summary"]["running"], 1);

    finish_indexing(&site);
    let o = site.run(&["status", "-c", &cfg]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    assert!(
        stdout(&o).contains("= acme-github (#1): INDEXED, 2/2 repositories\n"),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).ends_with("Indexing is done: nothing is scanning or indexing.\n"));
    assert_eq!(site.writes(), 0, "status only reads");
}

#[test]
fn status_without_a_config_lists_every_live_integration_by_id() {
    let site = frozen(false);
    let o = site.run(&["status"]);
    assert_eq!(code(&o), 12, "{}", stderr(&o));
    assert!(
        stdout(&o).contains("~ #1 \"GitHub · acme\": INDEXING"),
        "{}",
        stdout(&o)
    );
}

both_profiles!(
    an_indexing_error_is_exit_13_once_nothing_runs,
    an_indexing_error_is_exit_13_once_nothing_runs_extended,
    an_indexing_error_is_exit_13_once_nothing_runs_documented
);

/// On the documented profile the repository list shows the failed repository like a queued
/// one; status asks GIJ's `index.json` about it, as apply does, and reports the error.
fn an_indexing_error_is_exit_13_once_nothing_runs(profile: gijctl::devserver::Profile) {
    let site = frozen_on(true, profile);
    let cfg = config(&site, BETA);
    // GIJ retries the failed repository: `beta` indexes again, so both are still running.
    let o = site.run(&["status", "-c", &cfg]);
    assert_eq!(code(&o), 12, "{}", stdout(&o));
    assert!(
        stdout(&o).contains("~ beta-github (#4): INDEXING 50.0%, 1/2 repositories"),
        "{}",
        stdout(&o)
    );
    assert!(!stdout(&o).contains("failed"), "{}", stdout(&o));
    finish_indexing(&site);
    // `acme` is indexed, `beta` failed again and nothing runs any more.
    let before = site.server().stats().requests;
    let o = site.run(&["status", "-c", &cfg]);
    assert_eq!(code(&o), 13, "{}\n{}", stdout(&o), stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("  ! beta-github (#4): ERROR 100.0%, 1/2 repositories, 1 failed"),
        "{text}"
    );
    // The failed repository, on the line after its integration's.
    assert!(
        text.contains(
            "\n      repository \"bro\\u{1b}]0;owned\\u{7}ken\\u{202e}\" (#6) failed: Indexing \
             bro\\u{1b}]0;owned\\u{7}ken\\u{202e} failed\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("1 integration(s) report an indexing error"),
        "{text}"
    );
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{202e}'),
        "{text}"
    );
    assert_no_secrets(&site, &o);
    // One index.json request, about the failed integration (or its repository): the indexed
    // `acme` needs none.
    let after = site.server().stats().requests;
    let key = "GET /rest/gitplugin/1.0/index.json";
    let asked = after.get(key).copied().unwrap_or(0) - before.get(key).copied().unwrap_or(0);
    assert_eq!(asked, 1, "{after:?}");

    let o = site.run(&["status", "-c", &cfg, "--format", "json"]);
    assert_eq!(code(&o), 13);
    let r = json_of(&o);
    assert_eq!(r["summary"]["error"], 1, "{r:#}");
    let failure = &r["integrations"][1]["failures"][0];
    assert_eq!(failure["id"], 6, "{r:#}");
    assert_eq!(failure["name"], BROKEN);
    assert_eq!(failure["error"], format!("Indexing {BROKEN} failed"));
    assert_no_secrets(&site, &o);
    assert_eq!(site.writes(), 0, "status only reads");

    // plan and drift ask index.json too (on plain GIJ the failed repository looks queued), so
    // they never call a failed integration "still indexing".
    for (command, line) in [
        (
            "plan",
            "No changes. 1 integration reports an indexing error: see `gijctl status`.",
        ),
        (
            "drift",
            "No drift. 1 integration reports an indexing error: see `gijctl status`.",
        ),
    ] {
        let o = site.run(&[command, "-c", &cfg]);
        assert_eq!(code(&o), 0, "an error is not a change: {}", stderr(&o));
        assert!(stdout(&o).contains(line), "{command}:\n{}", stdout(&o));
        assert!(!stdout(&o).contains("still indexing"), "{}", stdout(&o));
        assert_no_secrets(&site, &o);
    }
    assert_eq!(site.writes(), 0);
}

#[test]
fn status_watch_ends_when_indexing_ends() {
    let site = frozen(false);
    let cfg = config(&site, "");
    let mut child = site
        .command(&["status", "-c", &cfg, "--watch", "--poll-interval", "10ms"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // Off a terminal, --watch prints one line per change: first the integration indexing.
    let first = rx
        .recv_timeout(common::DEADLINE)
        .expect("no first status line");
    assert!(first.starts_with("~ acme-github (#1): INDEXING"), "{first}");
    // Still running while the clock stands still; it ends once indexing is done.
    assert!(child.try_wait().unwrap().is_none(), "ended while indexing");
    finish_indexing(&site);
    let mut rest = Vec::new();
    while let Ok(line) = rx.recv_timeout(common::DEADLINE) {
        rest.push(line);
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{rest:?}");
    assert_eq!(
        rest,
        [
            "= acme-github (#1): INDEXED, 2/2 repositories",
            "Indexing is done: nothing is scanning or indexing.",
        ]
    );
    assert_eq!(site.writes(), 0);
}

#[test]
fn status_watch_timeout_exits_12_while_still_indexing() {
    let site = frozen(false);
    let cfg = config(&site, "");
    let o = site.run(&[
        "status",
        "-c",
        &cfg,
        "--watch",
        "--poll-interval",
        "10ms",
        "--timeout",
        "50ms",
    ]);
    assert_eq!(code(&o), 12, "{}\n{}", stdout(&o), stderr(&o));
    // Two repositories of 50,000 commits, at the model's 30 s + 25 commits/s each.
    assert!(
        stdout(&o).ends_with(
            "Still indexing: 1 integration(s), ~1h 07m left (estimated from repository sizes).\n"
        ),
        "{}",
        stdout(&o)
    );
}

#[test]
fn bad_status_input_is_a_clear_error() {
    let site = frozen(false);
    let o = site.run(&["status", "-c", "missing.toml"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("missing.toml"), "{}", stderr(&o));
    let o = site.run(&["status", "--poll-interval", "10ms"]);
    assert_eq!(code(&o), 1, "--poll-interval needs --watch");
    let o = site.run(&["status", "--watch", "--poll-interval", "soon"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("is not a duration"), "{}", stderr(&o));
}

/// The documents with indexing in them match their committed schemas (an independent
/// validator: a field the schema does not know, or a wrong type, fails here).
#[test]
fn documents_with_indexing_match_their_schemas() {
    let site = frozen(true);
    let cfg = config(&site, BETA);
    for (args, schema) in [
        (
            vec!["status", "-c", &cfg, "--format", "json"],
            "status.schema.json",
        ),
        (
            vec!["plan", "-c", &cfg, "--format", "json"],
            "plan.schema.json",
        ),
        (
            vec!["drift", "-c", &cfg, "--format", "json"],
            "drift.schema.json",
        ),
    ] {
        let doc = json_of(&site.run(&args));
        let text = std::fs::read_to_string(common::root().join("schema").join(schema)).unwrap();
        let v = jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap();
        let errors: Vec<String> = v.iter_errors(&doc).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{schema}: {errors:#?}");
        assert!(doc.to_string().contains("INDEXING"), "{schema}: {doc:#}");
    }
}
