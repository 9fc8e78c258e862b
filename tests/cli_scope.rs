//! `--only`/`--exclude` on `drift` and `runbook` (plan and apply are covered in cli_policy.rs):
//! the report keeps only the integrations in scope and says how many were left out.

use std::process::{Command, Output};

use serde_json::Value;

fn gijctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gijctl"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("GIJ_URL")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

const CONFIG: &str = "examples/quickstart/gij.toml";
const SEED: &str = "examples/quickstart/seed.json";

#[test]
fn drift_reports_only_the_scope_and_counts_the_rest() {
    let o = gijctl(&[
        "drift",
        "-c",
        CONFIG,
        "--dev-server",
        SEED,
        "--only",
        "acme-github",
        "--format",
        "json",
    ]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let keys: Vec<&str> = r["managed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["key"].as_str().unwrap())
        .collect();
    assert!(!keys.is_empty());
    assert!(keys.iter().all(|k| *k == "acme-github"), "{keys:?}");
    assert_eq!(r["scope"]["in_scope"], 1);
    assert_eq!(r["scope"]["left_out"], 2);
    assert_eq!(r["scope"]["left_out_with_changes"], 2);

    // Excluding the only drifted-and-existing integration leaves the two missing ones.
    let o = gijctl(&[
        "drift",
        "-c",
        CONFIG,
        "--dev-server",
        SEED,
        "--exclude",
        "acme-*",
        "--format",
        "text",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("Scoped run (--exclude acme-*)"), "{text}");
    assert!(
        text.contains("platform-gitlab") && !text.contains("acme-github"),
        "{text}"
    );
}

#[test]
fn runbook_covers_only_the_scope() {
    let o = gijctl(&[
        "runbook",
        "-c",
        CONFIG,
        "--empty",
        "--only",
        "acme-azure",
        "--format",
        "markdown",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let md = String::from_utf8_lossy(&o.stdout);
    assert!(md.contains("Create `acme-azure`"), "{md}");
    assert!(
        !md.contains("platform-gitlab") && !md.contains("acme-github"),
        "{md}"
    );
    assert!(
        md.contains("Scoped run (--only acme-azure): 1 integration in scope, 2 left out"),
        "{md}"
    );
}

#[test]
fn a_pattern_that_matches_nothing_is_an_error() {
    for cmd in [
        vec![
            "drift",
            "-c",
            CONFIG,
            "--dev-server",
            SEED,
            "--only",
            "nope-*",
        ],
        vec!["runbook", "-c", CONFIG, "--empty", "--only", "nope-*"],
    ] {
        let o = gijctl(&cmd);
        assert_eq!(o.status.code(), Some(1), "{cmd:?}");
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("nope-*"),
            "{cmd:?}"
        );
    }
}
