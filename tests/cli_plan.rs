//! End-to-end tests of `gijctl plan` and `gijctl import`: the real binary against a real
//! dev-server over loopback.
//!
//! Two ways to get a site:
//! - [`Site::start`] runs a dev-server in this process (seeded from `examples/*/seed.json`) and
//!   the binary talks to it with `--endpoint URL --token env:E2E_GIJ_TOKEN`; the test can then
//!   look at the server's request statistics;
//! - `--dev-server SEED --dev-state FILE` makes the binary embed its own dev-server, and the
//!   state file carries the site from one command to the next (import, then plan).
//!
//! Snapshots are rendered without colour (`NO_COLOR=1`, and stdout is a pipe). Update them with
//! `INSTA_UPDATE=always cargo test --test cli_plan` and review the diff.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use gijctl::devserver::{DevServer, DevServerConfig, Profile, RunningServer, SeedSource};
use gijctl::secret::Secret;
use serde_json::Value;

/// The admin token of in-process dev-servers. Never expected in any output.
const ADMIN_TOKEN: &str = "e2e-admin-token-5f2c81d7";
/// The environment variable the binary reads the admin token from.
const TOKEN_VAR: &str = "E2E_GIJ_TOKEN";

/// Every secret value the examples' seeds know (git-service tokens). None may ever be printed
/// or written by plan or import.
const SEED_SECRETS: [&str; 11] = [
    "dev-github-token",
    "dev-gitlab-token",
    "dev-azure-token",
    "dev-globex-github",
    "dev-globex-gitlab",
    "dev-globex-gitlab-com",
    "dev-globex-azure",
    "dev-globex-tfs",
    "dev-globex-bitbucket",
    "dev-globex-aws",
    "dev-globex-gerrit",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn example(rel: &str) -> String {
    root().join("examples").join(rel).display().to_string()
}

// ---------------------------------------------------------------------------------------------
// Running the binary

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    /// Both streams, for assertion messages and leak checks.
    fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// A `gijctl` invocation with a clean environment: no colour, no site from the caller's
/// environment, no log filter.
fn gijctl(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gijctl"));
    c.args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("GIJ_URL")
        .env_remove("GIJ_TOKEN")
        .env_remove("GIJCTL_LOG")
        .env_remove(TOKEN_VAR);
    c
}

fn output(mut c: Command) -> Out {
    let out = c.output().expect("run gijctl");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn run(dir: &Path, args: &[&str]) -> Out {
    output(gijctl(dir, args))
}

/// Fails when any known secret value appears in `text`.
fn assert_no_secrets(text: &str, extra: &[&str]) {
    for s in SEED_SECRETS.iter().chain([ADMIN_TOKEN].iter()).chain(extra) {
        assert!(!text.contains(s), "secret value `{s}` leaked:\n{text}");
    }
}

// ---------------------------------------------------------------------------------------------
// In-process dev-server

/// A dev-server running in this test process, on its own runtime.
struct Site {
    rt: tokio::runtime::Runtime,
    server: Option<RunningServer>,
}

impl Site {
    /// Starts a dev-server seeded from `examples/<name>/seed.json`, with a frozen clock (plans
    /// only read, and a frozen site cannot change between two commands).
    fn start(name: &str) -> Site {
        Site::start_seed(
            root().join("examples").join(name).join("seed.json"),
            Profile::Extended,
        )
    }

    /// [`Site::start`] from a seed file, in `profile`.
    fn start_seed(seed: PathBuf, profile: Profile) -> Site {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let cfg = DevServerConfig {
            seed: Some(SeedSource::Path(seed)),
            admin_tokens: vec![Secret::new(ADMIN_TOKEN.to_owned())],
            time_scale: 0.0,
            profile,
            ..DevServerConfig::default()
        };
        let server = rt
            .block_on(DevServer::start(cfg))
            .expect("start dev-server");
        Site {
            rt,
            server: Some(server),
        }
    }

    fn server(&self) -> &RunningServer {
        self.server.as_ref().expect("server running")
    }

    fn url(&self) -> String {
        self.server().base_url()
    }

    /// `gijctl <args> --endpoint URL --token env:E2E_GIJ_TOKEN` with the admin token set.
    fn gijctl(&self, dir: &Path, args: &[&str]) -> Command {
        let url = self.url();
        let token_ref = format!("env:{TOKEN_VAR}");
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--endpoint", &url, "--token", &token_ref]);
        let mut c = gijctl(dir, &all);
        c.env(TOKEN_VAR, ADMIN_TOKEN);
        c
    }

    fn run(&self, dir: &Path, args: &[&str]) -> Out {
        output(self.gijctl(dir, args))
    }

    /// The `"METHOD /route"` keys of every request the server answered.
    fn requests(&self) -> BTreeSet<String> {
        self.server().stats().requests.into_keys().collect()
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            let _ = self.rt.block_on(s.shutdown());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A structural JSON Schema (draft-07) check, for the keywords schema/plan.schema.json uses

fn schema_type_ok(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        other => panic!("schema type `{other}` not handled by this checker"),
    }
}

/// Appends to `errs` every way `v` breaks `schema` (resolving `#/definitions/...` in `root`).
fn check_schema(root: &Value, schema: &Value, v: &Value, at: &str, errs: &mut Vec<String>) {
    let s = match schema {
        Value::Bool(true) => return,
        Value::Bool(false) => {
            errs.push(format!("{at}: no value allowed"));
            return;
        }
        Value::Object(s) => s,
        other => panic!("not a schema at {at}: {other}"),
    };
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let name = r
            .strip_prefix("#/definitions/")
            .unwrap_or_else(|| panic!("unsupported $ref {r}"));
        check_schema(root, &root["definitions"][name], v, at, errs);
    }
    for sub in s
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        check_schema(root, sub, v, at, errs);
    }
    for (kw, exactly_one) in [("oneOf", true), ("anyOf", false)] {
        if let Some(alts) = s.get(kw).and_then(Value::as_array) {
            let ok = alts
                .iter()
                .filter(|a| {
                    let mut e = Vec::new();
                    check_schema(root, a, v, at, &mut e);
                    e.is_empty()
                })
                .count();
            if ok == 0 || (exactly_one && ok > 1) {
                errs.push(format!("{at}: {ok} alternatives of {kw} match {v}"));
            }
        }
    }
    match s.get("type") {
        Some(Value::String(t)) if !schema_type_ok(t, v) => {
            errs.push(format!("{at}: expected {t}, found {v}"));
        }
        Some(Value::Array(ts))
            if !ts
                .iter()
                .any(|t| schema_type_ok(t.as_str().unwrap_or(""), v)) =>
        {
            errs.push(format!("{at}: expected one of {ts:?}, found {v}"));
        }
        _ => {}
    }
    if let Some(c) = s.get("const")
        && c != v
    {
        errs.push(format!("{at}: expected {c}, found {v}"));
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array)
        && !e.contains(v)
    {
        errs.push(format!("{at}: {v} not in {e:?}"));
    }
    if let (Some(min), Some(n)) = (s.get("minimum").and_then(Value::as_f64), v.as_f64())
        && n < min
    {
        errs.push(format!("{at}: {n} < minimum {min}"));
    }
    if let Value::Object(obj) = v {
        for req in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let req = req.as_str().unwrap_or_default();
            if !obj.contains_key(req) {
                errs.push(format!("{at}: missing required `{req}`"));
            }
        }
        let props = s.get("properties").and_then(Value::as_object);
        for (k, val) in obj {
            let here = format!("{at}.{k}");
            match props.and_then(|p| p.get(k)) {
                Some(p) => check_schema(root, p, val, &here, errs),
                None => {
                    if let Some(extra) = s.get("additionalProperties") {
                        check_schema(root, extra, val, &here, errs);
                    }
                }
            }
        }
    }
    if let (Value::Array(items), Some(item_schema)) = (v, s.get("items")) {
        for (i, item) in items.iter().enumerate() {
            check_schema(root, item_schema, item, &format!("{at}[{i}]"), errs);
        }
    }
}

fn assert_matches_plan_schema(doc: &Value) {
    let text = fs_err::read_to_string(root().join("schema/plan.schema.json")).expect("schema");
    let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
    let mut errs = Vec::new();
    check_schema(&schema, &schema, doc, "$", &mut errs);
    assert!(
        errs.is_empty(),
        "plan does not match its schema:\n{}",
        errs.join("\n")
    );
}

#[test]
fn the_schema_checker_rejects_what_it_should() {
    // The checker is only worth something if it can fail.
    let schema = serde_json::json!({
        "type": "object",
        "required": ["a"],
        "properties": {"a": {"$ref": "#/definitions/A"}},
        "additionalProperties": false,
        "definitions": {"A": {"oneOf": [{"type": "integer", "minimum": 1}, {"const": "x"}]}}
    });
    let bad = [
        serde_json::json!({}),
        serde_json::json!({"a": 0}),
        serde_json::json!({"a": "y"}),
        serde_json::json!({"a": 1, "b": 2}),
    ];
    for b in bad {
        let mut e = Vec::new();
        check_schema(&schema, &schema, &b, "$", &mut e);
        assert!(!e.is_empty(), "{b} should fail");
    }
    let mut e = Vec::new();
    check_schema(
        &schema,
        &schema,
        &serde_json::json!({"a": "x"}),
        "$",
        &mut e,
    );
    assert!(e.is_empty(), "{e:?}");
}

// ---------------------------------------------------------------------------------------------
// Plans against an in-process dev-server

/// Replaces the loopback port, which changes on every run.
fn port_filters() -> Vec<(&'static str, &'static str)> {
    vec![(r"127\.0\.0\.1:\d+", "127.0.0.1:[port]")]
}

#[test]
fn quickstart_plan_as_text() {
    let site = Site::start("quickstart");
    let out = site.run(&root(), &["plan", "-c", "examples/quickstart/gij.toml"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.ends_with('\n') && !out.stdout.ends_with("\n\n"));
    assert!(
        out.stdout
            .starts_with("Plan: 2 to create, 1 to update, 0 to delete, 0 manual, 0 unchanged\n"),
        "{}",
        out.stdout
    );
    assert_no_secrets(&out.all(), &[]);
    insta::with_settings!({filters => port_filters()}, {
        insta::assert_snapshot!("quickstart_text", out.stdout);
    });
    // Plan only reads.
    for r in site.requests() {
        assert!(r.starts_with("GET "), "plan sent {r}");
    }
}

#[test]
fn quickstart_plan_as_json_follows_the_schema() {
    let site = Site::start("quickstart");
    let out = site.run(
        &root(),
        &[
            "plan",
            "-c",
            "examples/quickstart/gij.toml",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: Value = serde_json::from_str(&out.stdout).expect("stdout is one JSON document");
    assert_matches_plan_schema(&doc);
    assert_eq!(
        doc["format_version"],
        u64::from(gijctl::plan::FORMAT_VERSION)
    );
    let s = &doc["summary"];
    let counts: Vec<u64> = [
        "create",
        "update",
        "replace",
        "delete",
        "manual",
        "unchanged",
    ]
    .iter()
    .map(|k| s[k].as_u64().unwrap_or(u64::MAX))
    .collect();
    assert_eq!(counts, [2, 1, 0, 0, 0, 0], "{s}");
    assert_eq!(doc["meta"]["endpoint"], site.url());
    let kinds: Vec<(&str, &str)> = doc["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .map(|a| {
            (
                a["key"].as_str().unwrap_or(""),
                a["kind"]["type"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("acme-github", "update"),
            ("acme-github", "repositories"),
            ("platform-gitlab", "create"),
            ("acme-azure", "create"),
        ]
    );
    assert_no_secrets(&out.all(), &[]);
    // The JSON is the document the library parses back.
    let plan = gijctl::plan::file::from_str(Path::new("stdout"), &out.stdout).expect("a plan");
    assert_eq!(plan.actions.len(), 4);
}

#[test]
fn quickstart_plan_as_markdown() {
    let site = Site::start("quickstart");
    let out = site.run(
        &root(),
        &[
            "plan",
            "-c",
            "examples/quickstart/gij.toml",
            "--format",
            "markdown",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with("<!-- gijctl-plan -->\n"));
    assert_no_secrets(&out.all(), &[]);
    insta::with_settings!({filters => port_filters()}, {
        insta::assert_snapshot!("quickstart_markdown", out.stdout);
    });
}

#[test]
fn detailed_exitcode_tells_changes_from_errors() {
    let site = Site::start("quickstart");
    let changes = site.run(
        &root(),
        &[
            "plan",
            "-c",
            "examples/quickstart/gij.toml",
            "--detailed-exitcode",
        ],
    );
    assert_eq!(changes.code, 2, "{}", changes.stderr);
    assert!(changes.stdout.starts_with("Plan: 2 to create"));

    // An error is 1 with or without the flag, and prints no plan.
    let missing = site.run(
        &root(),
        &["plan", "-c", "no/such/gij.toml", "--detailed-exitcode"],
    );
    assert_eq!(missing.code, 1, "{}", missing.stderr);
    assert_eq!(missing.stdout, "");
    let bad_token = {
        let mut c = site.gijctl(
            &root(),
            &[
                "plan",
                "-c",
                "examples/quickstart/gij.toml",
                "--detailed-exitcode",
            ],
        );
        c.env(TOKEN_VAR, "not-the-admin-token");
        output(c)
    };
    assert_eq!(bad_token.code, 1, "{}", bad_token.stderr);
    assert_eq!(bad_token.stdout, "");
    // (Exit 0 with the flag: see `import_then_plan_is_empty_*`.)
}

#[test]
fn saved_plan_reads_back_and_holds_no_secret() {
    let site = Site::start("quickstart");
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("plan.json");
    let file_arg = file.display().to_string();
    let cfg = example("quickstart/gij.toml");
    let out = site.run(
        tmp.path(),
        &["plan", "-c", &cfg, "--out", &file_arg, "--format", "json"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("Saved the plan to"), "{}", out.stderr);
    let plan = gijctl::plan::file::read(&file).expect("the saved plan reads back");
    assert_eq!(plan.summary.create, 2);
    assert_eq!(plan.summary.update, 1);
    assert_eq!(plan.actions.len(), 4);
    assert!(
        plan.actions
            .iter()
            .all(|a| a.live_fingerprint.is_some() == a.target_id.is_some()),
        "every action on a live integration records what it was computed from"
    );
    let text = fs_err::read_to_string(&file).expect("read plan file");
    assert_no_secrets(&text, &[]);
    // The file and stdout are the same plan.
    let printed = gijctl::plan::file::from_str(Path::new("stdout"), &out.stdout).expect("plan");
    assert_eq!(printed.actions, plan.actions);
}

#[test]
fn unknown_project_key_is_an_error_before_any_change() {
    let site = Site::start("quickstart");
    let tmp = tempfile::tempdir().expect("tempdir");
    copy_example("quickstart", tmp.path());
    let cfg = tmp.path().join("gij.toml");
    let text = fs_err::read_to_string(&cfg).expect("read");
    let edited = text.replace(r#"projects = ["DATA"]"#, r#"projects = ["DATA", "NOPE"]"#);
    assert_ne!(text, edited);
    fs_err::write(&cfg, edited).expect("write");

    let out = site.run(tmp.path(), &["plan", "--detailed-exitcode"]);
    assert_eq!(out.code, 1, "{}", out.all());
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr
            .contains("`acme-azure` associates project `NOPE`, which Jira does not know"),
        "{}",
        out.stderr
    );
    let requests = site.requests();
    assert!(!requests.is_empty());
    for r in requests {
        assert!(r.starts_with("GET "), "sent {r}");
    }
}

#[test]
fn bad_token_is_a_401_error_that_never_shows_the_token() {
    const WRONG: &str = "e2e-wrong-token-9d41c0";
    let site = Site::start("quickstart");
    let mut c = site.gijctl(
        &root(),
        &["-vv", "plan", "-c", "examples/quickstart/gij.toml"],
    );
    c.env(TOKEN_VAR, WRONG);
    let out = output(c);
    assert_eq!(out.code, 1, "{}", out.all());
    assert_eq!(out.stdout, "");
    assert!(out.stderr.contains("401"), "{}", out.stderr);
    assert!(
        out.stderr.contains("the API token was refused"),
        "{}",
        out.stderr
    );
    assert_no_secrets(&out.all(), &[WRONG]);
}

#[test]
fn trace_logs_never_show_the_admin_token() {
    let site = Site::start("quickstart");
    let out = site.run(
        &root(),
        &["-vv", "plan", "-c", "examples/quickstart/gij.toml"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stderr.is_empty(), "-vv logs something");
    assert_no_secrets(&out.all(), &[]);
}

#[test]
fn missing_token_variable_is_a_clear_error() {
    let site = Site::start("quickstart");
    let mut c = site.gijctl(&root(), &["plan", "-c", "examples/quickstart/gij.toml"]);
    c.env_remove(TOKEN_VAR);
    let out = output(c);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains(&format!("environment variable `{TOKEN_VAR}` is not set")),
        "{}",
        out.stderr
    );
    assert!(site.requests().is_empty(), "no request without a token");
}

/// A variable holding several lines (a pasted key file, `$(cat .env)`) is not one token: it is
/// refused as a token file of several lines is, naming the variable and never the value, and
/// nothing is sent.
#[test]
fn multi_line_token_variable_is_refused_naming_only_the_variable() {
    let site = Site::start("quickstart");
    for value in [
        format!("{ADMIN_TOKEN}\nSECRETVALUE-second-line"),
        format!("{ADMIN_TOKEN}\u{1b}SECRETVALUE"),
    ] {
        let mut c = site.gijctl(&root(), &["plan", "-c", "examples/quickstart/gij.toml"]);
        c.env(TOKEN_VAR, &value);
        let out = output(c);
        assert_eq!(out.code, 1, "{}", out.all());
        assert!(
            out.stderr.contains(&format!(
                "environment variable `{TOKEN_VAR}` does not hold a single token"
            )),
            "{}",
            out.stderr
        );
        assert!(!out.all().contains("SECRETVALUE"), "{}", out.all());
        assert_no_secrets(&out.all(), &[]);
    }
    assert!(site.requests().is_empty(), "nothing is sent");
}

#[test]
fn endpoint_and_token_default_to_the_environment() {
    let site = Site::start("quickstart");
    let mut c = gijctl(&root(), &["plan", "-c", "examples/quickstart/gij.toml"]);
    c.env("GIJ_URL", site.url()).env("GIJ_TOKEN", ADMIN_TOKEN);
    let out = output(c);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.starts_with("Plan: 2 to create"),
        "{}",
        out.stdout
    );
    assert_no_secrets(&out.all(), &[]);
}

#[test]
fn import_prints_to_stdout_and_never_overwrites_silently() {
    let site = Site::start("quickstart");
    let printed = site.run(&root(), &["import", "-o", "-"]);
    assert_eq!(printed.code, 0, "{}", printed.stderr);
    assert!(
        printed.stdout.contains("[integrations.acme]"),
        "{}",
        printed.stdout
    );
    assert_no_secrets(&printed.all(), &[]);

    let tmp = tempfile::tempdir().expect("tempdir");
    fs_err::write(tmp.path().join("gij.toml"), "# mine\n").expect("write");
    let refused = site.run(tmp.path(), &["import"]);
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("already exists"),
        "{}",
        refused.stderr
    );
    let kept = fs_err::read_to_string(tmp.path().join("gij.toml")).expect("read");
    assert_eq!(kept, "# mine\n");
    let forced = site.run(tmp.path(), &["import", "--force"]);
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    let written = fs_err::read_to_string(tmp.path().join("gij.toml")).expect("read");
    assert_eq!(written, printed.stdout, "file and stdout agree");
}

#[test]
fn no_endpoint_and_no_dev_server_is_a_clear_error() {
    let out = run(&root(), &["plan", "-c", "examples/quickstart/gij.toml"]);
    assert_eq!(out.code, 1);
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr,
        "error: no GIJ site given: pass `--endpoint URL` or set `GIJ_URL` (or `--dev-server SEED` \
         for a local simulation)\n"
    );
    let import = run(&root(), &["import", "-o", "-"]);
    assert_eq!(import.code, 1);
    assert!(
        import.stderr.contains("no GIJ site given"),
        "{}",
        import.stderr
    );
}

#[test]
fn no_color_is_respected_and_color_always_colours() {
    let site = Site::start("quickstart");
    // NO_COLOR (set by `gijctl()`), with debug logs on stderr too.
    let plain = site.run(
        &root(),
        &["-v", "plan", "-c", "examples/quickstart/gij.toml"],
    );
    assert_eq!(plain.code, 0, "{}", plain.stderr);
    assert!(!plain.stderr.is_empty());
    assert!(!plain.all().contains('\u{1b}'), "{}", plain.all());

    let coloured = site.run(
        &root(),
        &[
            "--color",
            "always",
            "plan",
            "-c",
            "examples/quickstart/gij.toml",
        ],
    );
    assert_eq!(coloured.code, 0, "{}", coloured.stderr);
    assert!(coloured.stdout.contains("\u{1b}["), "{}", coloured.stdout);
    let stripped =
        String::from_utf8(anstream::adapter::strip_bytes(coloured.stdout.as_bytes()).into_vec())
            .expect("utf-8");
    assert_eq!(stripped, plain.stdout, "colour only decorates");

    // Without NO_COLOR, a pipe is not a terminal: still no colour.
    let mut c = site.gijctl(
        &root(),
        &["-v", "plan", "-c", "examples/quickstart/gij.toml"],
    );
    c.env_remove("NO_COLOR");
    let piped = output(c);
    assert!(!piped.all().contains('\u{1b}'), "{}", piped.all());
}

#[test]
fn org_plan_updates_the_existing_oauth_integration() {
    let site = Site::start("org");
    let out = site.run(
        &root(),
        &[
            "plan",
            "-c",
            "examples/org/gij.toml",
            "--format",
            "json",
            // The org example's own limit (50%) refuses 4 of 5; approved here.
            "--max-update-percent",
            "80",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: Value = serde_json::from_str(&out.stdout).expect("json");
    assert_matches_plan_schema(&doc);
    let plan = gijctl::plan::file::from_str(Path::new("stdout"), &out.stdout).expect("plan");
    assert_eq!(
        (
            plan.summary.create,
            plan.summary.update,
            plan.summary.delete,
            plan.summary.manual,
            plan.summary.unmanaged
        ),
        (9, 4, 0, 0, 1),
        "{:?}",
        plan.summary
    );
    // gh-mobile exists (OAuth, created in the browser): its settings are managed, nothing asks
    // for a manual step.
    let mobile: Vec<&str> = plan
        .actions
        .iter()
        .filter(|a| a.key == "gh-mobile")
        .map(|a| a.verb())
        .collect();
    assert_eq!(mobile, ["update"]);
    assert_eq!(plan.unmanaged.len(), 1);
    assert_eq!(plan.unmanaged[0].owner, "TEST");
    // The indexing estimate of the repository to enable uses its real size from the site.
    let ledger = plan
        .actions
        .iter()
        .find(|a| a.key == "ado-finance" && a.verb() == "repositories")
        .expect("ado-finance enables legacy-ledger");
    let commits = repo_commits("org", "globex-finance", "legacy-ledger");
    use gijctl::plan::order::{BASE_SECS_PER_REPOSITORY, COMMITS_PER_SEC, SECS_PER_REPOSITORY};
    let expected = BASE_SECS_PER_REPOSITORY + commits / COMMITS_PER_SEC;
    assert_ne!(
        expected, SECS_PER_REPOSITORY,
        "the seed size must be telling"
    );
    assert_eq!(ledger.estimated_indexing_secs, Some(expected));
    assert_no_secrets(&out.all(), &[]);
}

#[test]
fn declared_oauth_integration_that_is_missing_is_a_manual_step() {
    let site = Site::start("org");
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut text = fs_err::read_to_string(root().join("examples/org/gij.toml")).expect("read");
    text.push_str(
        "\n[integrations.gh-design]\nservice = \"github\"\nowner = \"globex-design\"\n\
         auth = \"oauth\"\nprojects = [\"PLAT\"]\n",
    );
    let cfg = tmp.path().join("gij.toml");
    fs_err::write(&cfg, text).expect("write");
    let out = site.run(
        tmp.path(),
        &["plan", "--detailed-exitcode", "--max-update-percent", "80"],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stdout
            .starts_with("Plan: 9 to create, 4 to update, 0 to delete, 1 manual"),
        "{}",
        out.stdout
    );
    let block = block_of(&out.stdout, "gh-design");
    assert!(block.starts_with("! gh-design"), "{block}");
    assert!(block.contains("! manual step: OAuth integrations can only be created in GIJ's UI"));
    assert!(block.contains("organization `globex-design`"), "{block}");
    let json = site.run(tmp.path(), &["plan", "--format", "json"]);
    let plan = gijctl::plan::file::from_str(Path::new("stdout"), &json.stdout).expect("plan");
    let design: Vec<&str> = plan
        .actions
        .iter()
        .filter(|a| a.key == "gh-design")
        .map(|a| a.verb())
        .collect();
    assert_eq!(design, ["manual"], "never a create through the API");
}

// ---------------------------------------------------------------------------------------------
// Multi-command flows with an embedded dev-server and a state file

/// `--dev-server SEED --dev-state FILE` arguments for `examples/<name>`.
fn embedded(name: &str, state: &Path) -> Vec<String> {
    vec![
        "--dev-server".into(),
        example(&format!("{name}/seed.json")),
        "--dev-state".into(),
        state.display().to_string(),
    ]
}

fn run_embedded(dir: &Path, args: &[&str], name: &str, state: &Path, env: &[(&str, &str)]) -> Out {
    let mut all: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    all.extend(embedded(name, state));
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    let mut c = gijctl(dir, &refs);
    for (k, v) in env {
        c.env(k, v);
    }
    output(c)
}

/// The `env:` variables an imported file asks for, per integration key.
fn env_refs(toml_text: &str) -> Vec<(String, String)> {
    let doc: toml_edit::DocumentMut = toml_text.parse().expect("imported file is TOML");
    let mut out = Vec::new();
    if let Some(ints) = doc["integrations"].as_table() {
        for (key, item) in ints {
            if let Some(var) = item
                .get("credential")
                .and_then(|c| c.as_str())
                .and_then(|c| c.strip_prefix("env:"))
            {
                out.push((key.to_owned(), var.to_owned()));
            }
        }
    }
    out
}

/// Imports the site of `examples/<name>` into `dir/imported.toml` and checks the file.
fn import(dir: &Path, name: &str, state: &Path) -> String {
    let out = run_embedded(dir, &["import", "-o", "imported.toml"], name, state, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(state.exists(), "the embedded dev-server saved its state");
    let text = fs_err::read_to_string(dir.join("imported.toml")).expect("imported file");
    assert_no_secrets(&text, &[]);
    assert_no_secrets(&out.all(), &[]);
    text
}

/// The credential values to give the variables an import named (the seed's tokens, keyed by
/// the imported integration key), so the imported config is complete.
fn credentials_for(refs: &[(String, String)], values: &[(&str, &str)]) -> Vec<(String, String)> {
    refs.iter()
        .map(|(key, var)| {
            let v = values
                .iter()
                .find(|(k, _)| k == key)
                .unwrap_or_else(|| panic!("no test credential for imported `{key}`"))
                .1;
            (var.clone(), v.to_owned())
        })
        .collect()
}

fn plan_after_import(
    dir: &Path,
    name: &str,
    state: &Path,
    creds: &[(String, String)],
    extra: &[&str],
) -> Out {
    let env: Vec<(&str, &str)> = creds
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut args = vec!["plan", "-c", "imported.toml"];
    args.extend(extra);
    run_embedded(dir, &args, name, state, &env)
}

/// `import`, then `validate`, then `plan --detailed-exitcode` against `site`, with the seed's
/// token values given to the variables the import names (`values`: imported key, value).
/// Returns the imported text and the plan's output.
fn import_validate_plan(site: &Site, values: &[(&str, &str)]) -> (String, Out) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = site.run(tmp.path(), &["import", "-o", "imported.toml"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = fs_err::read_to_string(tmp.path().join("imported.toml")).expect("imported file");
    assert_no_secrets(&text, &[]);
    assert_no_secrets(&out.all(), &[]);
    assert!(!text.contains("owner = \"\""), "{text}");
    let validate = run(tmp.path(), &["validate", "-c", "imported.toml"]);
    assert_eq!(validate.code, 0, "{text}\n{}", validate.all());
    let creds = credentials_for(&env_refs(&text), values);
    let mut c = site.gijctl(
        tmp.path(),
        &["plan", "-c", "imported.toml", "--detailed-exitcode"],
    );
    for (k, v) in &creds {
        c.env(k, v);
    }
    (text, output(c))
}

/// The examples' sites on either profile: import, validate, plan is empty. The documented
/// profile shows no owner on integrations, so each owner comes from its repositories.
fn import_round_trip(profile: Profile) {
    let site = Site::start_seed(root().join("examples/quickstart/seed.json"), profile);
    let (text, out) = import_validate_plan(&site, &[("acme", "dev-github-token")]);
    assert_eq!(env_refs(&text).len(), 1, "{text}");
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        out.stdout,
        "Plan: 0 to create, 0 to update, 0 to delete, 0 manual, 1 unchanged\n\n\
         No changes. The site matches the config.\n"
    );
    assert_no_secrets(&out.all(), &[]);

    let site = Site::start_seed(root().join("examples/org/seed.json"), profile);
    let (text, out) = import_validate_plan(
        &site,
        &[
            ("globex-platform", "dev-globex-github"),
            ("infra", "dev-globex-gitlab"),
            ("globex-finance", "dev-globex-azure"),
            ("test", "dev-globex-bitbucket"),
            // The documented profile does not tell OAuth (only the `authMethod` extension
            // does): gh-mobile is imported as a PAT reference there (docs/api.md).
            ("globex-mobile", "unused"),
        ],
    );
    if profile == Profile::Extended {
        assert!(text.contains("auth = \"oauth\""), "{text}");
        assert_eq!(
            env_refs(&text).len(),
            4,
            "every PAT integration names a variable"
        );
    } else {
        assert_eq!(env_refs(&text).len(), 5, "{text}");
    }
    assert_eq!(out.code, 0, "{text}\n{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .starts_with("Plan: 0 to create, 0 to update, 0 to delete, 0 manual, 5 unchanged\n"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("No changes."));
    assert_no_secrets(&out.all(), &[]);
}

#[test]
fn import_then_plan_is_empty_for_the_examples_extended() {
    import_round_trip(Profile::Extended);
}

#[test]
fn import_then_plan_is_empty_for_the_examples_documented() {
    import_round_trip(Profile::Documented);
}

/// A declared OAuth integration that is OAuth on the site converges on both profiles. The org
/// site's gh-mobile (`globex-mobile`) is OAuth; import writes it as such where the site says
/// so (extended), and where it does not (documented, no `authMethod`) as GIJ's default, a PAT
/// reference with a comment on every integration: that import plans empty too. Declaring
/// gh-mobile `auth = "oauth"`, as the comment says to, plans empty as well: on the documented
/// profile with the one warning that the auth method cannot be verified, never a switch to
/// OAuth to make by hand; on the extended profile without a warning.
fn declared_oauth_that_is_oauth_on_the_site_plans_empty(profile: Profile) {
    let site = Site::start_seed(root().join("examples/org/seed.json"), profile);
    let values = [
        ("globex-platform", "dev-globex-github"),
        ("infra", "dev-globex-gitlab"),
        ("globex-finance", "dev-globex-azure"),
        ("test", "dev-globex-bitbucket"),
        ("globex-mobile", "unused"),
    ];
    let (text, out) = import_validate_plan(&site, &values);
    assert_eq!(out.code, 0, "{text}\n{}", out.all());
    let comment = "# The site does not report how its integrations authenticate";
    let mark = "  # PAT assumed";
    // The imported table of gh-mobile, up to the blank line before the next one.
    let table = |text: &str| -> String {
        let start = text
            .find("[integrations.globex-mobile]\n")
            .unwrap_or_else(|| panic!("{text}"));
        let rest = &text[start..];
        rest[..rest.find("\n\n").unwrap_or(rest.len())].to_owned()
    };
    let mobile = table(&text);
    let declared = match profile {
        Profile::Documented => {
            assert_eq!(text.matches(comment).count(), 1, "{text}");
            assert_eq!(text.matches(mark).count(), 5, "{text}");
            let cred = mobile
                .lines()
                .find(|l| l.starts_with("credential = "))
                .unwrap_or_else(|| panic!("{mobile}"));
            assert!(cred.ends_with(mark), "{mobile}");
            text.replacen(&format!("{cred}\n"), "auth = \"oauth\"\n", 1)
        }
        Profile::Extended => {
            assert!(!text.contains(comment), "{text}");
            assert!(mobile.contains("auth = \"oauth\""), "{mobile}");
            text.clone()
        }
    };
    assert!(table(&declared).contains("auth = \"oauth\""), "{declared}");
    let tmp = tempfile::tempdir().expect("tempdir");
    fs_err::write(tmp.path().join("gij.toml"), &declared).expect("write");
    let mut c = site.gijctl(tmp.path(), &["plan", "--detailed-exitcode"]);
    for (k, v) in credentials_for(&env_refs(&declared), &values) {
        c.env(k, v);
    }
    let out = output(c);
    assert_eq!(out.code, 0, "{declared}\n{}", out.all());
    assert!(
        out.stdout
            .starts_with("Plan: 0 to create, 0 to update, 0 to delete, 0 manual, 5 unchanged\n"),
        "{}",
        out.stdout
    );
    let all = out.all();
    assert!(!all.contains("OAuth needs consent"), "{all}");
    let warning = "does not report auth, so plan cannot verify the declared values";
    match profile {
        Profile::Documented => assert_eq!(all.matches(warning).count(), 1, "{all}"),
        Profile::Extended => assert!(!all.contains("does not report"), "{all}"),
    }
    assert_no_secrets(&all, &[]);
}

both_profiles!(
    declared_oauth_that_is_oauth_on_the_site_plans_empty,
    declared_oauth_that_is_oauth_on_the_site_plans_empty_extended,
    declared_oauth_that_is_oauth_on_the_site_plans_empty_documented
);

/// Integrations whose owner nothing shows on the documented profile: one whose organisation
/// has no repository (named the default way, `GitHub · empty-org`), one with a custom name
/// and no repository, and one just created and still scanning (the clock is frozen). Import
/// pins each by id with an owner it can defend, validate accepts the file, and the plan is
/// empty; on both profiles.
fn import_round_trip_with_unknown_owners(profile: Profile) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let seed = serde_json::json!({
        "projects": [{"id": 10000, "key": "OPS", "name": "Operations"}],
        "catalog": {"services": [{
            "type": "GITHUB", "origin": "https://api.github.com",
            "groups": [
                {"name": "acme", "repositories": [{"name": "api", "commits": 100}]},
                {"name": "empty-org", "repositories": []},
                {"name": "lonely", "repositories": []},
                {"name": "fresh", "repositories": [{"name": "new", "commits": 100}]}
            ],
            "tokens": [{"value": "dev-github-token", "groups": ["acme", "empty-org", "lonely", "fresh"]}]
        }]},
        "integrations": [
            {"type": "GITHUB", "group": "acme", "credential": "dev-github-token",
             "settings": {"displayName": "GitHub · acme", "global": true}},
            {"type": "GITHUB", "group": "empty-org", "credential": "dev-github-token",
             "settings": {"displayName": "GitHub · empty-org", "global": true}},
            {"type": "GITHUB", "group": "lonely", "credential": "dev-github-token",
             "settings": {"displayName": "Lonely", "global": true}}
        ]
    });
    let seed_path = tmp.path().join("seed.json");
    fs_err::write(&seed_path, seed.to_string()).expect("seed");
    let site = Site::start_seed(seed_path, profile);
    // Created through the API with the clock frozen: it scans until the clock moves.
    let _ = rustls::crypto::ring::default_provider().install_default();
    site.rt.block_on(async {
        let r = reqwest::Client::new()
            .post(format!("{}/rest/gitplugin/1.0/integration", site.url()))
            .bearer_auth(ADMIN_TOKEN)
            .json(
                &serde_json::json!({"type": "GITHUB", "group": "fresh", "pat": "dev-github-token",
                                      "displayName": "Fresh", "global": true}),
            )
            .send()
            .await
            .expect("create");
        assert!(
            r.status().is_success(),
            "{}",
            r.text().await.unwrap_or_default()
        );
    });
    let values: Vec<(&str, &str)> = ["acme", "empty-org", "lonely", "fresh", "Lonely", "Fresh"]
        .iter()
        .map(|k| (*k, "dev-github-token"))
        .collect();
    let (text, out) = import_validate_plan(&site, &values);
    assert_eq!(out.code, 0, "{text}\n{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .starts_with("Plan: 0 to create, 0 to update, 0 to delete, 0 manual, 4 unchanged\n"),
        "{text}\n{}",
        out.stdout
    );
    let doc: toml::Table = toml::from_str(&text).expect("toml");
    let owners: BTreeSet<(String, Option<i64>)> = doc["integrations"]
        .as_table()
        .expect("integrations")
        .values()
        .map(|t| {
            (
                t["owner"].as_str().expect("owner").to_owned(),
                t.get("id").and_then(|i| i.as_integer()),
            )
        })
        .collect();
    if profile == Profile::Documented {
        // The default display name tells its owner; the others are pinned to a name.
        assert_eq!(
            owners,
            [
                ("acme".to_owned(), None),
                ("empty-org".to_owned(), Some(3)),
                ("Lonely".to_owned(), Some(4)),
                ("Fresh".to_owned(), Some(5)),
            ]
            .into_iter()
            .collect(),
            "{text}"
        );
    } else {
        assert!(owners.iter().all(|(_, id)| id.is_none()), "{text}");
    }
}

#[test]
fn import_with_unknown_owners_then_plan_is_empty_extended() {
    import_round_trip_with_unknown_owners(Profile::Extended);
}

#[test]
fn import_with_unknown_owners_then_plan_is_empty_documented() {
    import_round_trip_with_unknown_owners(Profile::Documented);
}

#[test]
fn one_edit_after_import_shows_exactly_that_change() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let state = tmp.path().join("site.json");
    let text = import(tmp.path(), "org", &state);
    let mut doc: toml_edit::DocumentMut = text.parse().expect("toml");
    let before = doc["integrations"]["infra"]["smart-commits"].as_bool();
    assert_eq!(
        before,
        Some(false),
        "the seed turns smart commits off for infra"
    );
    doc["integrations"]["infra"]["smart-commits"] = toml_edit::value(true);
    fs_err::write(tmp.path().join("imported.toml"), doc.to_string()).expect("write");

    let json = plan_after_import(tmp.path(), "org", &state, &[], &["--format", "json"]);
    assert_eq!(json.code, 0, "{}", json.stderr);
    let plan = gijctl::plan::file::from_str(Path::new("stdout"), &json.stdout).expect("plan");
    assert_eq!(plan.summary.update, 1);
    assert_eq!(plan.summary.unchanged, 4);
    assert_eq!(plan.actions.len(), 1, "{:#?}", plan.actions);
    let a = &plan.actions[0];
    assert_eq!(a.key, "infra");
    let gijctl::plan::ActionKind::Update { changes } = &a.kind else {
        panic!("expected an update, got {:?}", a.kind);
    };
    assert_eq!(changes.len(), 1, "{changes:#?}");
    assert_eq!(changes[0].field, gijctl::model::Field::SmartCommits);
    assert_eq!(
        (&changes[0].old, &changes[0].new),
        (&Value::Bool(false), &Value::Bool(true))
    );

    let text_out = plan_after_import(tmp.path(), "org", &state, &[], &["--detailed-exitcode"]);
    assert_eq!(text_out.code, 2, "{}", text_out.stderr);
    let block = block_of(&text_out.stdout, "infra");
    assert_eq!(
        block,
        "~ infra  live integration #11\n    - smart-commits = false\n    + smart-commits = true"
    );
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// The block of one integration in a text plan: from its header line to the next blank line.
fn block_of<'a>(text: &'a str, key: &str) -> &'a str {
    let start = text
        .lines()
        .map(|l| l.as_ptr() as usize - text.as_ptr() as usize)
        .find(|&i| {
            let line = &text[i..];
            line.get(2..)
                .is_some_and(|rest| rest.starts_with(&format!("{key}  ")))
        })
        .unwrap_or_else(|| panic!("no block for `{key}` in:\n{text}"));
    let rest = &text[start..];
    let end = rest.find("\n\n").unwrap_or(rest.len());
    &rest[..end]
}

/// The commit count of a catalog repository in `examples/<name>/seed.json`.
fn repo_commits(name: &str, group: &str, repo: &str) -> u64 {
    let text =
        fs_err::read_to_string(root().join("examples").join(name).join("seed.json")).expect("seed");
    let seed: Value = serde_json::from_str(&text).expect("seed JSON");
    seed["catalog"]["services"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["groups"].as_array().into_iter().flatten())
        .filter(|g| g["name"] == group)
        .flat_map(|g| g["repositories"].as_array().into_iter().flatten())
        .find(|r| r["name"] == repo)
        .and_then(|r| r["commits"].as_u64())
        .unwrap_or_else(|| panic!("{group}/{repo} not in the {name} seed"))
}

/// Copies `examples/<name>` (config, seed, token files) into `dst`.
fn copy_example(name: &str, dst: &Path) {
    fn copy_dir(src: &Path, dst: &Path) {
        fs_err::create_dir_all(dst).expect("mkdir");
        for e in fs_err::read_dir(src).expect("read_dir") {
            let e = e.expect("entry");
            let to = dst.join(e.file_name());
            if e.path().is_dir() {
                copy_dir(&e.path(), &to);
            } else {
                fs_err::copy(e.path(), &to).expect("copy");
            }
        }
    }
    copy_dir(&root().join("examples").join(name), dst);
}
