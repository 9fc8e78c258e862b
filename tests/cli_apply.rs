//! End-to-end tests of `gijctl apply`: the real binary against a real dev-server over loopback,
//! with the dev-server's clock scaled so indexing takes milliseconds. Covers the indexing limit
//! (the server's own peak record), faults, kill -9 and resume, safety limits and stale plans.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::site::{Site, code, stderr};
use gijctl::devserver::{
    DevServerConfig, FaultConfig, FaultKind, Profile, RateLimitConfig, ScriptedFault,
};
use serde_json::{Value, json};

const GH_TOKEN: &str = "dev-gh-apply-token";

/// A site seeded with `seed`, whose commands see the catalog's GitHub token as `GH_TOKEN`.
fn start(seed: Value, tweak: impl FnOnce(&mut DevServerConfig)) -> Site {
    Site::start(&seed, tweak).with_env("GH_TOKEN", GH_TOKEN)
}

/// [`start`] in `profile`.
fn start_in(profile: Profile, seed: Value, tweak: impl FnOnce(&mut DevServerConfig)) -> Site {
    Site::start_profile(&seed, profile, tweak).with_env("GH_TOKEN", GH_TOKEN)
}

/// A catalog of `n` GitHub organisations with `m` repositories each, and the OPS project.
fn seed(n: usize, m: usize, existing: Vec<Value>) -> Value {
    let groups: Vec<Value> = (1..=n)
        .map(|i| {
            let repos: Vec<Value> = (1..=m)
                .map(|j| json!({"name": format!("repo-{j}"), "commits": 200 + (i * 37 + j * 53) % 400}))
                .collect();
            json!({"name": format!("org-{i:02}"), "repositories": repos})
        })
        .collect();
    let names: Vec<String> = (1..=n).map(|i| format!("org-{i:02}")).collect();
    json!({
        "projects": [{"id": 10000, "key": "OPS", "name": "Operations"}],
        "catalog": {"services": [{
            "type": "GITHUB", "origin": "https://api.github.com", "groups": groups,
            "tokens": [{"value": GH_TOKEN, "groups": names}]
        }]},
        "integrations": existing,
    })
}

/// A gij.toml declaring organisations `range`.
fn config(range: std::ops::RangeInclusive<usize>, extra: &str) -> String {
    let mut s = format!("version = 1\n\n[apply]\nmax-parallel-indexing = 2\n{extra}\n");
    for i in range {
        s.push_str(&format!(
            "\n[integrations.org-{i:02}]\nservice = \"github\"\nowner = \"org-{i:02}\"\ncredential = \"env:GH_TOKEN\"\nprojects = [\"OPS\"]\n"
        ));
    }
    s
}

/// `gijctl apply -c CFG --auto-approve --poll-interval 10ms`, then `extra`.
fn apply(site: &Site, cfg: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "apply",
        "-c",
        cfg.to_str().unwrap(),
        "--auto-approve",
        "--poll-interval",
        "10ms",
    ];
    args.extend_from_slice(extra);
    site.run(&args)
}

/// `apply --auto-approve` with a 10 ms poll and `--events FILE`; the output and the event lines.
fn apply_with_events(site: &Site, cfg: &Path) -> (std::process::Output, Vec<String>) {
    let events = site.dir.path().join("events.ndjson");
    let o = apply(site, cfg, &["--events", events.to_str().unwrap()]);
    let lines = std::fs::read_to_string(&events)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect();
    (o, lines)
}

fn plan_is_empty(site: &Site, cfg: &Path) {
    let o = site.run(&["plan", "-c", cfg.to_str().unwrap(), "--detailed-exitcode"]);
    assert_eq!(
        code(&o),
        0,
        "plan after apply is not empty:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        stderr(&o)
    );
}

both_profiles!(
    twenty_integrations_never_exceed_the_indexing_limit,
    twenty_integrations_never_exceed_the_indexing_limit_extended,
    twenty_integrations_never_exceed_the_indexing_limit_documented
);

/// The clock is frozen and moved by the test, so the outcome does not depend on how busy the
/// machine is: time moves only while two integrations are enabled and unfinished (or nothing is
/// left to enable), in steps small enough that two integrations never finish in one step. So
/// the window is full whenever indexing progresses (peak exactly 2) and a creation starts
/// while the other one still indexes (the window slides).
fn twenty_integrations_never_exceed_the_indexing_limit(profile: Profile) {
    let site = start_in(profile, seed(20, 3, vec![]), |c| c.time_scale = 0.0);
    let cfg = site.write("gij.toml", &config(1..=20, ""));
    let events_path = site.dir.path().join("events.ndjson");
    let mut child = site
        .command(&[
            "apply",
            "-c",
            cfg.to_str().unwrap(),
            "--auto-approve",
            "--poll-interval",
            "5ms",
            "--events",
            events_path.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr_pipe = child.stderr.take().unwrap();
    let stderr_reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut { stderr_pipe }, &mut s).unwrap();
        s
    });
    // A hung apply fails the test instead of hanging CI.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("apply did not finish within 120 s");
        }
        let state = site.server().state_snapshot();
        let enabled: Vec<_> = state
            .integrations
            .values()
            .filter(|i| !i.disabled)
            .collect();
        let unfinished = enabled
            .iter()
            .filter(|i| {
                i.scan_done_ms.is_some()
                    || state.repositories.values().any(|r| {
                        r.integration_id == i.id
                            && !r.disabled
                            && r.last_indexed_date.is_none()
                            && !r.failed
                    })
            })
            .count();
        if unfinished >= 2 || (enabled.len() == 20 && unfinished > 0) {
            site.server().advance(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let status = child.wait().unwrap();
    let err = stderr_reader.join().unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    let events: Vec<String> = std::fs::read_to_string(&events_path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let stats = site.server().stats();
    assert_eq!(
        stats.peak_indexing, 2,
        "the server saw {} integrations indexing at once",
        stats.peak_indexing
    );
    assert_eq!(site.identities().len(), 20);
    site.assert_no_duplicates();

    // The event stream is versioned NDJSON, and at no point were more than two creations in
    // flight; the window slides (a creation starts before the earlier pair has both finished).
    let mut in_flight = 0i32;
    let mut peak = 0;
    let mut slid = false;
    let mut done_since_start = 0;
    for line in &events {
        let e: Value = serde_json::from_str(line).unwrap();
        assert_eq!(e["v"], 1);
        match e["type"].as_str().unwrap() {
            "action_start" => {
                in_flight += 1;
                if done_since_start == 1 {
                    slid = true;
                }
                done_since_start = 0;
            }
            "action_done" => {
                in_flight -= 1;
                done_since_start += 1;
            }
            _ => {}
        }
        peak = peak.max(in_flight);
    }
    assert_eq!(peak, 2);
    assert!(
        slid,
        "every creation waited for two completions: not a sliding window"
    );
    assert!(
        events
            .last()
            .is_some_and(|l| l.contains("\"type\":\"apply_complete\""))
    );
    plan_is_empty(&site, &cfg);
}

both_profiles!(
    apply_survives_5xx_drops_lost_answers_and_rate_limits,
    apply_survives_faults_extended,
    apply_survives_faults_documented
);

fn apply_survives_5xx_drops_lost_answers_and_rate_limits(profile: Profile) {
    let site = start_in(profile, seed(8, 2, vec![]), |c| {
        c.faults = FaultConfig {
            seed: 7,
            error_rate: 0.1,
            drop_rate: 0.05,
            lose_create_rate: 0.3,
            latency_ms: 1,
            spike_rate: 0.05,
            spike_ms: 30,
            retry_after_ms: 5,
            ..FaultConfig::default()
        };
        c.rate_limit = RateLimitConfig {
            capacity: 20,
            refill_per_sec: 4000.0,
        };
    });
    let cfg = site.write("gij.toml", &config(1..=8, ""));
    let o = apply(&site, &cfg, &[]);
    let faults: u64 = site.server().stats().faults.values().sum();
    assert!(faults > 0, "no fault was injected");
    // Every action either succeeded, or a rerun finishes the job: nothing is lost either way.
    if code(&o) != 0 {
        let o = apply(&site, &cfg, &[]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
    }
    site.assert_no_duplicates();
    assert_eq!(site.identities().len(), 8);
    site.server().set_faults(FaultConfig::default());
    plan_is_empty(&site, &cfg);
}

both_profiles!(
    an_indexing_error_ends_its_step_and_frees_its_slot,
    an_indexing_error_ends_its_step_extended,
    an_indexing_error_ends_its_step_documented
);

/// A repository of org-01 and one of org-02 fail to index. The documented repository list has
/// no `state`, so a failure looks like a repository still waiting: apply asks GIJ's
/// `index.json?repoId=`, ends those steps as failed instead of waiting out the indexing
/// timeout, and the gate does not count the failed integrations as indexing (two of them
/// would fill both slots), so org-03 and org-04 still run.
fn an_indexing_error_ends_its_step_and_frees_its_slot(profile: Profile) {
    let mut s = seed(4, 2, vec![]);
    for g in 0..2 {
        s["catalog"]["services"][0]["groups"][g]["repositories"][0]["failIndexing"] = json!(true);
    }
    let site = start_in(profile, s, |_| {});
    let cfg = site.write("gij.toml", &config(1..=4, ""));
    let started = std::time::Instant::now();
    let o = apply(&site, &cfg, &["--indexing-timeout", "30s"]);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "apply waited for the indexing timeout"
    );
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("reported an indexing error"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("timed out"), "{}", stderr(&o));
    let stats = site.server().stats();
    assert!(stats.peak_indexing <= 2, "peak {}", stats.peak_indexing);
    assert_eq!(site.identities().len(), 4);
    site.assert_no_duplicates();
}

both_profiles!(
    a_lost_create_answer_is_adopted_while_the_integration_scans,
    a_lost_create_answer_is_adopted_while_scanning_extended,
    a_lost_create_answer_is_adopted_while_scanning_documented
);

/// The dev-server applies each create and then drops its answer, and the new integration
/// stays scanning for a real second, so the lookup after the lost answer sees it with no
/// repository yet: on the documented profile the list says nothing about its owner (no
/// `group`), and only what gijctl set on create (type, origin, display name) can tell it is
/// this run's. Adopted, not created twice.
fn a_lost_create_answer_is_adopted_while_the_integration_scans(profile: Profile) {
    let lose = || ScriptedFault {
        kind: FaultKind::LoseCreate,
        route: None,
    };
    let site = start_in(profile, seed(2, 2, vec![]), |c| {
        c.time_scale = 100.0;
        c.scan_ms = 100_000;
        c.faults = FaultConfig {
            script: vec![lose(), lose()],
            ..FaultConfig::default()
        };
    });
    let cfg = site.write("gij.toml", &config(1..=2, ""));
    let o = apply(&site, &cfg, &[]);
    site.assert_no_duplicates();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(site.identities().len(), 2);
    assert_eq!(
        site.server().stats().faults.values().sum::<u64>(),
        2,
        "both create answers were lost"
    );
    assert!(
        !stderr(&o).contains("was not created; posting again"),
        "{}",
        stderr(&o)
    );
    plan_is_empty(&site, &cfg);
}

both_profiles!(
    kill_9_at_several_points_then_rerun_converges,
    kill_9_then_rerun_converges_extended,
    kill_9_then_rerun_converges_documented
);

fn kill_9_at_several_points_then_rerun_converges(profile: Profile) {
    let site = start_in(profile, seed(6, 3, vec![]), |c| c.time_scale = 100.0);
    let cfg = site.write("gij.toml", &config(1..=6, ""));
    let args = [
        "apply",
        "-c",
        cfg.to_str().unwrap(),
        "--auto-approve",
        "--poll-interval",
        "10ms",
    ];
    for threshold in [4u64, 9, 15, 30] {
        let before = site.server().stats().total_requests;
        let mut child = site
            .command(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut finished = false;
        loop {
            if child.try_wait().unwrap().is_some() {
                finished = true;
                break;
            }
            if site.server().stats().total_requests >= before + threshold {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        if !finished {
            child.kill().unwrap(); // SIGKILL
        }
        let _ = child.wait();
        site.assert_no_duplicates();
    }
    let o = site.run(&args);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    site.assert_no_duplicates();
    assert_eq!(site.identities().len(), 6);
    plan_is_empty(&site, &cfg);
}

fn existing(i: usize, name: &str) -> Value {
    json!({"type": "GITHUB", "group": format!("org-{i:02}"), "credential": GH_TOKEN,
           "settings": {"displayName": name, "global": true}})
}

#[test]
fn safety_limits_refuse_before_any_change() {
    let existing: Vec<Value> = (1..=12).map(|i| existing(i, &format!("old {i}"))).collect();
    let site = start(seed(12, 1, existing), |_| {});
    // Declares one of twelve and prunes: eleven deletions, over the default limit of five.
    let cfg = site.write("gij.toml", &config(1..=1, "prune = true"));
    let o = site.run(&["apply", "-c", cfg.to_str().unwrap(), "--auto-approve"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("deletes 11 integrations, over the limit of 5"),
        "{err}"
    );
    assert!(err.contains("--max-deletes 11"), "{err}");
    assert_eq!(site.writes(), 0, "a refused apply changed the site");
    assert_eq!(site.identities().len(), 12);
}

#[test]
fn no_approval_no_change() {
    let site = start(seed(2, 1, vec![]), |_| {});
    let cfg = site.write("gij.toml", &config(1..=2, ""));
    let o = site.run(&["apply", "-c", cfg.to_str().unwrap()]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("--auto-approve"), "{}", stderr(&o));
    assert_eq!(site.writes(), 0);
}

#[test]
fn stale_saved_plan_actions_are_refused() {
    let site = start(seed(2, 1, vec![existing(1, "Old name")]), |_| {});
    let cfg = site.write("gij.toml", &config(1..=2, ""));
    let planfile = site.dir.path().join("plan.json");
    let o = site.run(&[
        "plan",
        "-c",
        cfg.to_str().unwrap(),
        "--out",
        planfile.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let plan_text = std::fs::read_to_string(&planfile).unwrap();
    assert!(!plan_text.contains(GH_TOKEN));

    // Someone edits org-01 in the UI after the plan was reviewed.
    let id = *site
        .server()
        .state_snapshot()
        .integrations
        .keys()
        .next()
        .unwrap();
    site.edit_integration(id, &json!({"smartCommitsEnabled": false}));

    // --strict refuses the whole plan.
    let o = site.run(&["apply", planfile.to_str().unwrap(), "--strict"]);
    assert_eq!(code(&o), 5, "{}", stderr(&o));
    assert_eq!(site.identities().len(), 1, "--strict changed the site");

    // Without --strict the fresh action (create org-02) runs and the stale one is refused.
    let o = site.run(&[
        "apply",
        planfile.to_str().unwrap(),
        "--poll-interval",
        "10ms",
    ]);
    assert_eq!(code(&o), 5, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("changed on the site since the plan was made"),
        "{}",
        stderr(&o)
    );
    assert_eq!(site.identities().len(), 2);
    let state = site.server().state_snapshot();
    assert_eq!(
        state.integrations[&id].settings.display_name.as_deref(),
        Some("Old name")
    );
}

both_profiles!(
    two_concurrent_applies_never_duplicate,
    two_concurrent_applies_never_duplicate_extended,
    two_concurrent_applies_never_duplicate_documented
);

fn two_concurrent_applies_never_duplicate(profile: Profile) {
    for round in 0..3 {
        let site = start_in(profile, seed(4, 2, vec![]), |_| {});
        let cfg = site.write("gij.toml", &config(1..=4, ""));
        let args = [
            "apply",
            "-c",
            cfg.to_str().unwrap(),
            "--auto-approve",
            "--poll-interval",
            "10ms",
        ];
        let a = site
            .command(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let b = site
            .command(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        site.assert_no_duplicates();
        assert_eq!(site.identities().len(), 4, "round {round}");
        // Whoever lost a race says so and exits with the partial code; the other finished.
        for o in [&a, &b] {
            assert!(matches!(code(o), 0 | 4), "round {round}: {}", stderr(o));
            if code(o) == 4 {
                assert!(
                    stderr(o).contains("another apply"),
                    "round {round}: {}",
                    stderr(o)
                );
            }
        }
        plan_is_empty(&site, &cfg);
    }
}

both_profiles!(
    resume_after_a_kill_between_create_and_enable_indexes_nothing_unwanted,
    resume_between_create_and_enable_extended,
    resume_between_create_and_enable_documented
);

fn resume_after_a_kill_between_create_and_enable_indexes_nothing_unwanted(profile: Profile) {
    // org-01 was created disabled (repository selection pending) and apply died before
    // selecting and enabling: the rerun must select first, then enable.
    let pending = json!({"type": "GITHUB", "group": "org-01", "credential": GH_TOKEN, "disabled": true,
                         "indexed": false, "settings": {"displayName": "GitHub · org-01", "global": false,
                         "projectMappingIds": [10000]}});
    let site = start_in(profile, seed(1, 4, vec![pending]), |_| {});
    let cfg = site.write(
        "gij.toml",
        &config(1..=1, "").replace(
            "projects = [\"OPS\"]\n",
            "projects = [\"OPS\"]\nrepositories = { include = [\"*\"], exclude = [\"repo-4\"] }\n",
        ),
    );
    let o = apply(&site, &cfg, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let state = site.server().state_snapshot();
    let indexed: Vec<&str> = state
        .repositories
        .values()
        .filter(|r| !r.disabled)
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(indexed, ["repo-1", "repo-2", "repo-3"]);
    assert!(
        !state.indexing_log.iter().any(|i| state
            .repositories
            .get(&i.repo_id)
            .is_some_and(|r| r.name == "repo-4")),
        "repo-4 was indexed"
    );
    site.assert_no_duplicates();
    plan_is_empty(&site, &cfg);
}

#[test]
fn events_carry_an_overall_eta_that_starts_at_the_plan_estimate_and_ends_at_zero() {
    let site = start(seed(6, 3, vec![]), |_| {});
    let cfg = site.write("gij.toml", &config(1..=6, ""));
    let o = site.run(&["plan", "-c", cfg.to_str().unwrap(), "--format", "json"]);
    let plan: Value = serde_json::from_slice(&o.stdout).unwrap();
    let planned = plan["schedule"]["estimated_indexing_secs"]
        .as_u64()
        .unwrap();
    assert!(planned > 0);

    let (o, events) = apply_with_events(&site, &cfg);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let lines: Vec<Value> = events
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let eta = |e: &Value| {
        e["eta_secs"]
            .as_u64()
            .unwrap_or_else(|| panic!("no eta_secs in {e}"))
    };
    // Before anything ran, the estimate is the plan's own (same model, same slots).
    assert_eq!(lines[0]["type"], "apply_start");
    assert_eq!(eta(&lines[0]), planned);
    // The dev-server indexes far faster than a real site: once progress is observed the
    // estimate is calibrated down, and it never ends above zero.
    let done: Vec<&Value> = lines
        .iter()
        .filter(|e| e["type"] == "action_done" && e["outcome"] == "succeeded")
        .collect();
    assert_eq!(done.len(), 6);
    assert!(eta(done[0]) < planned, "{}", done[0]);
    assert_eq!(eta(done[5]), 0);
    let last = lines.last().unwrap();
    assert_eq!(last["type"], "apply_complete");
    assert_eq!(eta(last), 0);
    // Every progress line carries it; indexing steps say so when they start.
    assert!(lines.iter().all(|e| e.get("eta_secs").is_some()));
    let starts = lines.iter().filter(|e| e["type"] == "action_start");
    assert!(starts.clone().all(|e| e["indexing"] == true));
    assert_eq!(starts.count(), 6);
    // Off a terminal, the plain lines give the overall picture as integrations finish.
    let err = stderr(&o);
    assert!(
        err.contains("indexing: 6 integrations, about") && err.contains("(plan estimate)"),
        "{err}"
    );
    assert!(err.contains("indexing: 1/6 finished, "), "{err}");
    assert!(
        err.contains("indexing: 6/6 finished, nothing left"),
        "{err}"
    );
}

#[test]
fn a_saved_plan_shown_in_text_lists_its_allow_approvals() {
    let rup = json!({"type": "GITHUB", "group": "org-01", "credential": GH_TOKEN,
                     "settings": {"displayName": "GitHub · org-01", "requireUserPat": true,
                                  "global": false, "projectMappingIds": [10000]}});
    let site = start(seed(1, 1, vec![rup]), |_| {});
    let cfg = config(1..=1, "\n[policy]\nprotect-require-user-pat = true\n").replace(
        "projects = [\"OPS\"]\n",
        "projects = [\"OPS\"]\ndisplay-name = \"GitHub · org-01\"\nrequire-user-pat = false\n",
    );
    let cfg = site.write("gij.toml", &cfg);
    let planfile = site.dir.path().join("plan.json");
    let o = site.run(&[
        "plan",
        "-c",
        cfg.to_str().unwrap(),
        "--out",
        planfile.to_str().unwrap(),
        "--allow",
        "weaken-require-user-pat",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Shown later, when the saved plan is applied: the approval is on screen with what it
    // approves, not only in the stderr of the run that made the plan.
    let o = site.run(&[
        "apply",
        planfile.to_str().unwrap(),
        "--poll-interval",
        "10ms",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = common::site::stdout(&o);
    let at = out
        .find("Approved for this plan with `--allow` and raised safety limits (they approve this plan only):\n  --allow weaken-require-user-pat approves:\n    - ")
        .unwrap_or_else(|| panic!("{out}"));
    assert!(at < out.find("~ org-01").unwrap(), "{out}");
}

/// The `(N requests)` count of apply's `note: ... paced to the site's rate limit` line; 0
/// without the line (printed only when something was retried, rate-limited or paced).
fn paced_requests(stderr: &str) -> u64 {
    stderr
        .lines()
        .find(|l| l.starts_with("note:") && l.contains("paced to the site's rate limit"))
        .and_then(|l| {
            l.rsplit_once('(')?
                .1
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

#[test]
fn no_pace_leaves_a_tight_rate_limit_to_the_429_handling() {
    // A budget of 24 requests refilling at 10 per real second (0.005 per virtual second at
    // the harness's time scale of 2000): an apply of 4 integrations with 10 ms polls makes
    // more than 29 requests (4 of them the site reads before each enable), so even a slow run
    // draws the budget low and the client paces, unless told not to; then the 429s are
    // waited out instead.
    let mut paced = Vec::new();
    for no_pace in [false, true] {
        let site = start(seed(4, 3, Vec::new()), |c| {
            c.rate_limit = RateLimitConfig {
                capacity: 24,
                refill_per_sec: 0.005,
            };
        });
        let cfg = site.write("gij.toml", &config(1..=4, ""));
        let o = apply(&site, &cfg, if no_pace { &["--no-pace"] } else { &[] });
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        site.assert_no_duplicates();
        assert_eq!(site.identities().len(), 4);
        paced.push(paced_requests(&stderr(&o)));
    }
    assert!(paced[0] > 0, "the default run never paced: {paced:?}");
    assert_eq!(paced[1], 0, "--no-pace still paced");
}

#[test]
fn a_panicked_worker_is_a_failed_step_in_the_account_and_exits_4() {
    let site = start(seed(2, 1, vec![existing(1, "Old name")]), |_| {});
    let id = *site
        .server()
        .state_snapshot()
        .integrations
        .keys()
        .next()
        .unwrap();
    // The settings update of org-01 (its display name changes) panics in its worker task.
    let site = site.with_env("GIJCTL_DEBUG_PANIC_ON_UPDATE", &id.to_string());
    let cfg = site.write("gij.toml", &config(1..=2, ""));
    let (o, events) = apply_with_events(&site, &cfg);
    let (out, err) = (common::site::stdout(&o), stderr(&o));
    assert_eq!(code(&o), 4, "{out}\n{err}");
    let events: Vec<Value> = events
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let done = |key: &str| -> Vec<&Value> {
        events
            .iter()
            .filter(|e| e["type"] == "action_done" && e["key"] == key)
            .collect()
    };
    // One end per step: the panicked update failed, the other integration was still created.
    let broken = done("org-01");
    assert_eq!(broken.len(), 1, "{events:?}");
    assert_eq!(broken[0]["outcome"], "failed");
    let step = broken[0]["step"].as_u64().unwrap();
    assert_eq!(done("org-02").len(), 1);
    assert_eq!(done("org-02")[0]["outcome"], "succeeded");
    let complete = events.last().unwrap();
    assert_eq!(complete["type"], "apply_complete");
    assert_eq!(complete["failed"], 1);
    assert_eq!(complete["exit_code"], 4);
    // The final account names the step, and nothing prints the panic's payload.
    assert!(
        err.contains(&format!(
            "failed       step {step} `org-01`: internal error: the task running this step panicked"
        )),
        "{err}"
    );
    let all = format!("{out}{err}{events:?}");
    assert!(!all.contains("payload-must-not-be-printed"), "{all}");
}

/// `runs` applies of one config started at once; their outputs.
fn concurrent_applies(site: &Site, cfg: &Path, runs: usize) -> Vec<std::process::Output> {
    let children: Vec<_> = (0..runs)
        .map(|_| {
            site.command(&[
                "apply",
                "-c",
                cfg.to_str().unwrap(),
                "--auto-approve",
                "--poll-interval",
                "10ms",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect()
}

#[test]
fn concurrent_applies_share_the_sites_indexing_limit() {
    // The limit is the site's: two or three applies of one config started together never have
    // more than `max-parallel-indexing = 2` integrations indexing at once between them, by the
    // dev-server's own record, and still converge without duplicates.
    for runs in [2, 3] {
        for round in 0..3 {
            let site = start(seed(8, 2, vec![]), |_| {});
            let cfg = site.write("gij.toml", &config(1..=8, ""));
            let outs = concurrent_applies(&site, &cfg, runs);
            let peak = site.server().stats().peak_indexing;
            assert!(
                (1..=2).contains(&peak),
                "{runs} applies, round {round}: the site had {peak} integrations indexing at once"
            );
            site.assert_no_duplicates();
            assert_eq!(site.identities().len(), 8, "{runs} applies, round {round}");
            for o in &outs {
                // A run that reads the site while another's losing duplicate still exists
                // (it is deleted right after) refuses to plan the ambiguous key and changes
                // nothing: the plan's guard, not the indexing gate.
                if code(o) == 1 {
                    assert!(
                        stderr(o).contains("matches 2 live integrations"),
                        "{runs} applies, round {round}: {}",
                        stderr(o)
                    );
                    continue;
                }
                assert!(
                    matches!(code(o), 0 | 4),
                    "{runs} applies, round {round}: {}",
                    stderr(o)
                );
                if code(o) == 4 {
                    // The only failures allowed are the lost create races.
                    for line in stderr(o)
                        .lines()
                        .filter(|l| l.contains("failed       step"))
                    {
                        assert!(line.contains("another apply"), "{runs}/{round}: {line}");
                    }
                }
            }
            plan_is_empty(&site, &cfg);
        }
    }
}

both_profiles!(
    declared_tags_filter_and_refspecs_converge,
    declared_tags_filter_and_refspecs_converge_extended,
    declared_tags_filter_and_refspecs_converge_documented
);

/// A declared tags filter and fetch refspecs converge: after apply, `plan --detailed-exitcode`
/// exits 0. GIJ's documented integration list reports neither (`tagsFilter` is only in the
/// single GET, `refSpecCustom` in no answer): on the documented profile plan reads the filter
/// from the single GET of the declaring integration and warns once that it cannot verify the
/// refspecs; on both profiles a hand-made change of the filter is a change.
fn declared_tags_filter_and_refspecs_converge(profile: Profile) {
    let site = start_in(profile, seed(1, 2, vec![]), |_| {});
    let extra =
        "tags-filter = '^v[0-9]+$'\nfetch-refspecs = [\"+refs/pull/*:refs/remotes/pull/*\"]\n";
    let cfg = site.write("gij.toml", &format!("{}{extra}", config(1..=1, "")));
    let o = apply(&site, &cfg, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    plan_is_empty(&site, &cfg);
    let o = site.run(&["plan", "-c", cfg.to_str().unwrap()]);
    let out = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
    match profile {
        Profile::Documented => assert!(
            out.contains("does not report fetch-refspecs") && !out.contains("tags-filter"),
            "{out}"
        ),
        Profile::Extended => assert!(!out.contains("does not report"), "{out}"),
    }
    // Someone changes the filter by hand: plan shows it, on either profile.
    let snapshot = site.server().state_snapshot();
    let id = *snapshot.integrations.keys().next().unwrap();
    site.edit_integration(id, &json!({"tagsFilter": ".*"}));
    site.server().reset_stats();
    let o = site.run(&["plan", "-c", cfg.to_str().unwrap(), "--detailed-exitcode"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("tags-filter"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    // The single GET costs one request where the list lacks the filter, none where it has it.
    let requests = site.server().stats().requests;
    let single = requests
        .iter()
        .filter(|(k, _)| k.starts_with("GET /rest/gitplugin/1.0/integration/"))
        .map(|(_, n)| n)
        .sum::<u64>();
    let expected = match profile {
        Profile::Documented => 1,
        Profile::Extended => 0,
    };
    assert_eq!(single, expected, "{requests:?}");
}
