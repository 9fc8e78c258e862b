//! The committed JSON Schemas describe what gijctl really reads and writes, checked with an
//! independent validator (the `jsonschema` crate; CI also runs taplo over the examples):
//! - every example gij.toml matches `schema/gijctl.schema.json`, and the deliberate-mistakes
//!   example does not;
//! - the drift and review JSON documents the binary prints match `schema/drift.schema.json`
//!   and `schema/review.schema.json`.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn validator(name: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(root().join("schema").join(name)).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

fn toml_as_json(rel: &str) -> Value {
    let text = std::fs::read_to_string(root().join(rel)).unwrap();
    let v: toml::Value = toml::from_str(&text).unwrap();
    serde_json::to_value(v).unwrap()
}

fn errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn examples_match_the_config_schema_and_mistakes_do_not() {
    let v = validator("gijctl.schema.json");
    let mut checked = 0;
    for dir in std::fs::read_dir(root().join("examples")).unwrap() {
        let path = dir.unwrap().path().join("gij.toml");
        if !path.exists() {
            continue;
        }
        let rel = path.strip_prefix(root()).unwrap().display().to_string();
        let e = errors(&v, &toml_as_json(&rel));
        assert!(e.is_empty(), "{rel}: {e:#?}");
        checked += 1;
    }
    assert!(checked >= 2, "quickstart and org at least");
    let mistakes = toml_as_json("examples/invalid/mistakes.toml");
    assert!(!v.is_valid(&mistakes));
}

fn gijctl_json(args: &[&str]) -> (i32, Value) {
    let o = Command::new(env!("CARGO_BIN_EXE_gijctl"))
        .args(args)
        .current_dir(root().join("examples/quickstart"))
        .env("NO_COLOR", "1")
        .env_remove("GIJ_URL")
        .env_remove("GIJ_TOKEN")
        .output()
        .unwrap();
    let doc = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)));
    (o.status.code().unwrap_or(-1), doc)
}

#[test]
fn drift_and_review_documents_match_their_schemas() {
    let (code, drift) = gijctl_json(&["drift", "--dev-server", "seed.json", "--format", "json"]);
    assert_eq!(code, 2);
    let e = errors(&validator("drift.schema.json"), &drift);
    assert!(e.is_empty(), "{e:#?}");
    assert!(drift["managed"].as_array().is_some_and(|a| !a.is_empty()));

    let (code, review) = gijctl_json(&[
        "review",
        "--base",
        "gij.toml",
        "--dev-server",
        "seed.json",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0);
    let e = errors(&validator("review.schema.json"), &review);
    assert!(e.is_empty(), "{e:#?}");
    // Same config on both sides: everything is drift that was already there.
    assert_eq!(review["summary"]["changes"], 0);
    assert!(review["summary"]["drift"].as_u64().unwrap() > 0);

    // A document that breaks the schema is caught (the check is not vacuous).
    let mut broken = drift.clone();
    broken["summary"]["managed"] = Value::from("many");
    assert!(!validator("drift.schema.json").is_valid(&broken));
}
