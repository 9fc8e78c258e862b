//! End-to-end tests of the configuration commands (`validate`, `schema`, `fmt`) through the real
//! binary, plus one snapshot per validation error kind through the library.
//!
//! Snapshots are rendered without colour (`NO_COLOR=1`, and stderr is a pipe). Update them with
//! `INSTA_UPDATE=always cargo test --test cli_config` and review the diff.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn gijctl(dir: &Path, args: &[&str]) -> Out {
    let out = Command::new(env!("CARGO_BIN_EXE_gijctl"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("GIJCTL_LOG")
        .output()
        .expect("run gijctl");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn validate_accepts_every_example() {
    let q = gijctl(&root(), &["validate", "-c", "examples/quickstart/gij.toml"]);
    assert_eq!(q.code, 0, "{}", q.stderr);
    assert_eq!(
        q.stdout,
        "examples/quickstart/gij.toml: valid, 3 integrations (3 pat, 0 oauth)\n"
    );
    let o = gijctl(&root(), &["validate", "-c", "examples/org/gij.toml"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stdout,
        "examples/org/gij.toml: valid, 13 integrations (12 pat, 1 oauth)\n"
    );
}

#[test]
fn validate_defaults_to_gij_toml_in_the_current_directory() {
    let out = gijctl(&root().join("examples/quickstart"), &["validate"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with("gij.toml: valid"), "{}", out.stdout);
}

#[test]
fn validate_reports_every_mistake() {
    let out = gijctl(
        &root(),
        &["validate", "-c", "examples/invalid/mistakes.toml"],
    );
    assert_eq!(out.code, 1);
    assert_eq!(out.stdout, "");
    assert!(!out.stderr.contains('\u{1b}'), "no colour without a TTY");
    insta::assert_snapshot!("mistakes", out.stderr);
}

#[test]
fn validate_reports_unreadable_files_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let missing = gijctl(d, &["validate"]);
    assert_eq!(missing.code, 1);
    assert!(
        missing
            .stderr
            .contains("gij.toml: cannot read the config file: no such file"),
        "{}",
        missing.stderr
    );

    std::fs::write(d.join("latin1.toml"), b"version = 1\n# caf\xe9\n").unwrap();
    let bad = gijctl(d, &["validate", "-c", "latin1.toml"]);
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr.contains("not valid UTF-8 (line 2"),
        "{}",
        bad.stderr
    );

    let big = std::fs::File::create(d.join("big.toml")).unwrap();
    big.set_len(10 * 1024 * 1024 + 1).unwrap();
    let huge = gijctl(d, &["validate", "-c", "big.toml"]);
    assert_eq!(huge.code, 1);
    assert!(
        huge.stderr.contains("larger than 10 MiB"),
        "{}",
        huge.stderr
    );

    std::fs::create_dir(d.join("dir.toml")).unwrap();
    let dir_out = gijctl(d, &["validate", "-c", "dir.toml"]);
    assert_eq!(dir_out.code, 1);
    assert!(
        dir_out.stderr.contains("is a directory"),
        "{}",
        dir_out.stderr
    );
}

/// One config per validation error kind; each must produce exactly that one error.
const KINDS: &[(&str, &str)] = &[
    (
        "missing_version",
        "[integrations.a]\nservice = \"github\"\nowner = \"a\"\ncredential = \"env:T\"\n",
    ),
    ("wrong_version", "version = 3\n"),
    (
        "syntax",
        "version = 1\n[integrations.a\nservice = \"github\"\n",
    ),
    (
        "unknown_key",
        "version = 1\n[integrations.a]\nservice = \"github\"\nowner = \"a\"\ncredential = \"env:T\"\nrequire_user_pat = true\n",
    ),
    (
        "unknown_key_elsewhere",
        "version = 1\n[integrations.a]\nservice = \"github\"\nowner = \"a\"\ncredential = \"env:T\"\nprune = true\n",
    ),
    (
        "unknown_top_level",
        "version = 1\n[integration.a]\nservice = \"github\"\n",
    ),
    (
        "wrong_type",
        "version = 1\n[integrations.a]\nservice = \"github\"\nowner = \"a\"\ncredential = \"env:T\"\nprojects = \"OPS\"\n",
    ),
    (
        "unknown_service",
        "version = 1\n[integrations.a]\nservice = \"gitlab-selfhosted\"\nowner = \"a\"\ncredential = \"env:T\"\n",
    ),
    (
        "unknown_ignore_field",
        "version = 1\n[integrations.a]\nservice = \"github\"\nowner = \"a\"\ncredential = \"env:T\"\nignore = [\"smart-commit\"]\n",
    ),
    (
        "missing_service",
        "version = 1\n[integrations.a]\nowner = \"a\"\ncredential = \"env:T\"\n",
    ),
    (
        "missing_owner",
        "version = 1\n[integrations.a]\nservice = \"github\"\ncredential = \"env:T\"\n",
    ),
    (
        "invalid_integration_key",
        "version = 1\n[integrations.\"acme github\"]\nservice = \"github\"\nowner = \"a\"\ncredential = \"env:T\"\n",
    ),
    (
        "duplicate_display_name",
        "version = 1\n[integrations.a]\nservice = \"github\"\nowner = \"a\"\ncredential = \"env:T\"\ndisplay-name = \"Acme\"\n[integrations.b]\nservice = \"github\"\nowner = \"b\"\ncredential = \"env:T\"\ndisplay-name = \"ACME \"\n",
    ),
    (
        "duplicate_identity",
        "version = 1\n[integrations.a]\nservice = \"gitlab-self-managed\"\nhost = \"https://git.acme.io\"\nowner = \"a\"\ncredential = \"env:T\"\n[integrations.b]\nservice = \"gitlab-self-managed\"\nhost = \"HTTPS://Git.Acme.io/\"\nowner = \"A\"\ncredential = \"env:T\"\ndisplay-name = \"Other\"\n",
    ),
    (
        "duplicate_pinned_id",
        "version = 1\n[integrations.a]\nservice = \"github\"\nowner = \"a\"\ncredential = \"env:T\"\nid = 4\n[integrations.b]\nservice = \"github\"\nowner = \"b\"\ncredential = \"env:T\"\nid = 4\n",
    ),
    (
        "malformed_project_key",
        "version = 1\n[integrations.a]\nservice = \"github\"\nowner = \"a\"\ncredential = \"env:T\"\nprojects = [\"Operations Team\"]\n",
    ),
    (
        "duplicate_project_key",
        "version = 1\n[integrations.a]\nservice = \"github\"\nowner = \"a\"\ncredential = \"env:T\"\nprojects = [\"OPS\", \"ops\"]\n",
    ),
    (
        "invalid_glob",
        "version = 1\n[integrations.a]\nservice = \"github\"\nowner = \"a\"\ncredential = \"env:T\"\nrepositories = { exclude = [\"{api,web\"] }\n",
    ),
    (
        "empty_include",
        "version = 1\n[integrations.a]\nservice = \"github\"\nowner = \"a\"\ncredential = \"env:T\"\nrepositories = { include = [] }\n",
    ),
    (
        "exclude_everything",
        "version = 1\n[integrations.a]\nservice = \"github\"\nowner = \"a\"\ncredential = \"env:T\"\nrepositories = { exclude = [\"*\"] }\n",
    ),
    (
        "missing_host",
        "version = 1\n[integrations.a]\nservice = \"github-enterprise\"\nowner = \"a\"\ncredential = \"env:T\"\n",
    ),
    (
        "host_for_saas",
        "version = 1\n[integrations.a]\nservice = \"github\"\nhost = \"https://github.com\"\nowner = \"a\"\ncredential = \"env:T\"\n",
    ),
    (
        "invalid_host",
        "version = 1\n[integrations.a]\nservice = \"gerrit\"\nhost = \"ssh://gerrit.acme.io\"\nowner = \"a\"\nusername = \"u\"\ncredential = \"env:T\"\n",
    ),
    (
        "oauth_with_credential",
        "version = 1\n[defaults]\nauth = \"oauth\"\n[integrations.a]\nservice = \"github\"\nowner = \"a\"\ncredential = \"env:T\"\n",
    ),
    (
        "pat_without_credential",
        "version = 1\n[integrations.a]\nservice = \"gitlab\"\nowner = \"a\"\n",
    ),
    (
        "oauth_unsupported",
        "version = 1\n[integrations.a]\nservice = \"plain-git\"\nhost = \"https://git.acme.io\"\nowner = \"a\"\nauth = \"oauth\"\n",
    ),
    (
        "pat_for_bitbucket",
        "version = 1\n[integrations.a]\nservice = \"bitbucket\"\nowner = \"a\"\ncredential = \"env:T\"\n",
    ),
    (
        "literal_secret",
        "version = 1\n[integrations.a]\nservice = \"github\"\nowner = \"a\"\ncredential = \"ghp_EXAMPLEexampleEXAMPLEexample01\"\n",
    ),
    (
        "not_a_secret_reference",
        "version = 1\n[integrations.a]\nservice = \"github\"\nowner = \"a\"\ncredential = \"vault:kv/gh\"\n",
    ),
    (
        "missing_username",
        "version = 1\n[integrations.a]\nservice = \"gerrit\"\nhost = \"https://gerrit.acme.io\"\nowner = \"a\"\ncredential = \"env:T\"\n",
    ),
    (
        "username_not_used",
        "version = 1\n[integrations.a]\nservice = \"github\"\nowner = \"a\"\nusername = \"me\"\ncredential = \"env:T\"\n",
    ),
    (
        "missing_aws_region",
        "version = 1\n[integrations.a]\nservice = \"aws-codecommit\"\nowner = \"a\"\nusername = \"AKIAEXAMPLE\"\ncredential = \"env:T\"\n",
    ),
    (
        "invalid_aws_region",
        "version = 1\n[integrations.a]\nservice = \"aws-codecommit\"\nowner = \"a\"\nusername = \"AKIAEXAMPLE\"\naws-region = \"Ireland\"\ncredential = \"env:T\"\n",
    ),
    (
        "aws_region_not_used",
        "version = 1\n[integrations.a]\nservice = \"github\"\nowner = \"a\"\naws-region = \"eu-west-1\"\ncredential = \"env:T\"\n",
    ),
    (
        "require_user_pat_needs_browser",
        "version = 1\n[defaults]\nrepository-browser = false\n[integrations.a]\nservice = \"github\"\nowner = \"a\"\ncredential = \"env:T\"\nrequire-user-pat = true\n",
    ),
    (
        "require_user_pat_unsupported",
        "version = 1\n[integrations.a]\nservice = \"gerrit\"\nhost = \"https://gerrit.acme.io\"\nowner = \"a\"\nusername = \"u\"\ncredential = \"env:T\"\nrequire-user-pat = true\n",
    ),
    (
        "browser_without_projects",
        "version = 1\n[integrations.a]\nservice = \"github\"\nowner = \"a\"\ncredential = \"env:T\"\nprojects = []\n",
    ),
    (
        "ignored_and_set",
        "version = 1\n[integrations.a]\nservice = \"github\"\nowner = \"a\"\ncredential = \"env:T\"\nsmart-commits = false\nignore = [\"smart-commits\"]\n",
    ),
    (
        "invalid_regex",
        "version = 1\n[defaults]\npr-hide-filter = \"(wip\"\n",
    ),
    (
        "api_path_relative",
        "version = 1\n[integrations.a]\nservice = \"github\"\nowner = \"a\"\ncredential = \"env:T\"\napi-path = \"orgs/a/repos\"\n",
    ),
    (
        "api_path_unsupported",
        "version = 1\n[integrations.a]\nservice = \"azure-devops\"\nowner = \"a\"\ncredential = \"env:T\"\napi-path = \"/x\"\n",
    ),
    (
        "invalid_refspec",
        "version = 1\n[integrations.a]\nservice = \"github\"\nowner = \"a\"\ncredential = \"env:T\"\nfetch-refspecs = [\"+refs/a/*:refs/a/*,+refs/b/*:refs/b/*\"]\n",
    ),
    (
        "commit_email_age_zero",
        "version = 1\n[defaults]\ncommit-email-max-age-minutes = 0\n",
    ),
    (
        "max_parallel_indexing_zero",
        "version = 1\n[apply]\nmax-parallel-indexing = 0\n",
    ),
    (
        "percent_out_of_range",
        "version = 1\n[apply]\nmax-update-percent = 101\n",
    ),
    (
        "bad_timeout",
        "version = 1\n[apply]\nindexing-timeout = \"90\"\n",
    ),
    (
        "unknown_on_timeout",
        "version = 1\n[apply]\non-timeout = \"abort\"\n",
    ),
    (
        "glob_too_complex",
        "version = 1\n[integrations.a]\nservice = \"github\"\nowner = \"a\"\ncredential = \"env:T\"\nrepositories = { include = [\"{{{{{{{{{{api}}}}}}}}}}\"] }\n",
    ),
    (
        "token_as_key",
        "version = 1\n[integrations.ghp_EXAMPLEexampleEXAMPLE01]\nservice = \"github\"\nowner = \"a\"\ncredential = \"env:T\"\n",
    ),
];

#[test]
fn every_error_kind_is_reported_once_with_location_and_help() {
    for (name, src) in KINDS {
        let err = match gijctl::config::load_str(src, "gij.toml") {
            Ok(_) => panic!("{name}: expected an error"),
            Err(e) => e,
        };
        assert_eq!(
            err.count, 1,
            "{name}: exactly one error expected:\n{}",
            err.rendered
        );
        assert!(err.rendered.contains("gij.toml"), "{name}: names the file");
        assert!(
            err.rendered.contains("help:"),
            "{name}: has a hint:\n{}",
            err.rendered
        );
        insta::assert_snapshot!(format!("kind_{name}"), err.rendered);
    }
}

#[test]
fn schema_file_is_current() {
    let path = root().join("schema/gijctl.schema.json");
    let fresh = gijctl::config::schema::schema_json();
    if std::env::var_os("GIJCTL_UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &fresh).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "schema/gijctl.schema.json is stale: regenerate it with \
         `GIJCTL_UPDATE_SCHEMA=1 cargo test --test cli_config schema_file_is_current` \
         (or `gijctl schema > schema/gijctl.schema.json`) and commit it"
    );
}

#[test]
fn schema_command_prints_the_committed_schema() {
    let out = gijctl(&root(), &["schema"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let committed = std::fs::read_to_string(root().join("schema/gijctl.schema.json")).unwrap();
    assert_eq!(out.stdout, committed);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["$schema"], "http://json-schema.org/draft-07/schema#");
}

#[test]
fn every_example_points_at_the_schema() {
    for ex in [
        "quickstart/gij.toml",
        "org/gij.toml",
        "invalid/mistakes.toml",
    ] {
        let text = std::fs::read_to_string(root().join("examples").join(ex)).unwrap();
        assert!(
            text.starts_with("#:schema ../../schema/gijctl.schema.json\n"),
            "{ex}"
        );
        assert!(
            root()
                .join("examples")
                .join(ex)
                .parent()
                .unwrap()
                .join("../../schema/gijctl.schema.json")
                .exists()
        );
    }
}

#[test]
fn fmt_check_accepts_the_examples() {
    for ex in [
        "examples/quickstart/gij.toml",
        "examples/org/gij.toml",
        "examples/invalid/mistakes.toml",
    ] {
        let out = gijctl(&root(), &["fmt", "--check", "-c", ex]);
        assert_eq!(out.code, 0, "{ex} is not canonical:\n{}", out.stderr);
    }
}

const MESSY: &str = r#"#:schema ../../schema/gijctl.schema.json
version=1
# apply first
[integrations.b]
credential='env:B_TOKEN'   # from CI
owner   =   "b"
service="github"
projects=["OPS",
   "WEB"]
[apply]
prune = false
max-parallel-indexing=1
"#;

#[test]
fn fmt_rewrites_in_place_keeps_comments_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gij.toml");
    std::fs::write(&file, MESSY).unwrap();

    let check = gijctl(dir.path(), &["fmt", "--check"]);
    assert_eq!(check.code, 1);
    assert!(
        check.stderr.contains("gij.toml: not formatted"),
        "{}",
        check.stderr
    );
    assert!(
        check.stderr.contains("-credential='env:B_TOKEN'"),
        "{}",
        check.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        MESSY,
        "--check writes nothing"
    );

    let first = gijctl(dir.path(), &["fmt"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let once = std::fs::read_to_string(&file).unwrap();
    for comment in [
        "#:schema ../../schema/gijctl.schema.json",
        "# apply first",
        "# from CI",
    ] {
        assert!(once.contains(comment), "kept `{comment}`:\n{once}");
    }
    insta::assert_snapshot!("fmt_messy", once);

    let second = gijctl(dir.path(), &["fmt"]);
    assert_eq!(second.code, 0);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        once,
        "fmt twice = same bytes"
    );
    assert_eq!(gijctl(dir.path(), &["fmt", "--check"]).code, 0);
    assert_eq!(
        gijctl(dir.path(), &["validate"]).code,
        0,
        "formatting keeps the meaning"
    );
}

#[test]
fn fmt_refuses_invalid_toml() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("gij.toml"), "version = \n").unwrap();
    let out = gijctl(dir.path(), &["fmt"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("invalid TOML"), "{}", out.stderr);
    assert!(out.stderr.contains("gij.toml:1:"), "{}", out.stderr);
}

#[test]
fn literal_tokens_never_appear_in_any_output() {
    const TOKENS: [&str; 4] = [
        "ghp_SuperSecretTokenValue1234567890",
        "glpat-AnotherSecretValue0987",
        "hunter2-short",
        "ghp_InUnknownKey_abcdefgh",
    ];
    let src = format!(
        "version=1\n[integrations.a]\nservice = \"github\"\nowner = \"a\"\ncredential = \"{}\"\n\
         [integrations.b]\nservice=\"gitlab\"\nowner=\"b\"\ncredentail = \"{}\"\n\
         [integrations.c]\nservice=\"github\"\nowner=\"c\"\ncredential = \"{}\"\n\
         [integrations.d]\nservice=\"github\"\nowner=\"d\"\ncredential=\"env:D\"\ntoken = \"{}\"\n",
        TOKENS[0], TOKENS[1], TOKENS[2], TOKENS[3]
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("gij.toml"), &src).unwrap();
    let runs = [
        gijctl(dir.path(), &["validate"]),
        gijctl(dir.path(), &["fmt", "--check"]),
        gijctl(dir.path(), &["--color", "always", "validate"]),
        gijctl(dir.path(), &["fmt"]),
        gijctl(dir.path(), &["validate"]),
    ];
    assert_eq!(runs[0].code, 1);
    assert_eq!(
        runs[1].code, 1,
        "the file is not canonical, so a diff is shown"
    );
    assert!(
        runs[0].stderr.contains("literal credential"),
        "{}",
        runs[0].stderr
    );
    for (i, out) in runs.iter().enumerate() {
        for t in TOKENS {
            assert!(!out.stdout.contains(t), "run {i}: token in stdout");
            assert!(
                !out.stderr.contains(t),
                "run {i}: token in stderr:\n{}",
                out.stderr
            );
        }
    }
}

/// An integration table with a valid connection, for the hostile-input tests below.
fn integration(key: &str, extra: &str) -> String {
    format!(
        "[integrations.{key}]\nservice = \"github\"\nowner = \"{key}\"\ncredential = \"env:T\"\n{extra}"
    )
}

fn load_err(src: &str) -> gijctl::config::ConfigErrors {
    match gijctl::config::load_str(src, "gij.toml") {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}

/// Problems of one kind beyond the twentieth are counted, not shown: 8,000 unknown keys
/// printed 2.6 MB and took 6 s before.
#[test]
fn repeated_diagnostics_are_capped_per_kind_with_a_count_of_the_rest() {
    let mut src = String::from("version = 1\n");
    let keys: String = (0..100).map(|i| format!("unknown-{i} = 1\n")).collect();
    src.push_str(&integration("a", &keys));
    for i in 0..30 {
        src.push_str(&integration(&format!("n{i}"), "display-name = \"Same\"\n"));
    }
    let e = load_err(&src);
    assert_eq!(e.count, 100 + 29, "every problem is counted");
    let shown_unknown = e.rendered.matches("× unknown key `").count();
    let shown_dupes = e.rendered.matches("× display name `Same`").count();
    assert_eq!((shown_unknown, shown_dupes), (20, 20), "{}", e.rendered);
    for line in [
        "× and 80 more \"unknown key\" problems like the ones above (the first 20 are shown)",
        "× and 9 more \"duplicate\" problems like the ones above (the first 20 are shown)",
    ] {
        assert!(e.rendered.contains(line), "no `{line}` in\n{}", e.rendered);
    }
    // The shown ones are the first in the file.
    assert!(e.rendered.contains("unknown key `unknown-19`"));
    assert!(!e.rendered.contains("unknown key `unknown-20`"));
}

/// Echoed keys and values are cut to 40 characters and `…`, wherever the check that echoes
/// them is: a 1,000,000-character key was printed in full.
#[test]
fn echoed_keys_and_values_are_shortened() {
    let long_key = "k".repeat(1_000_000);
    let long_int = "i".repeat(5_000);
    let src = format!(
        "version = 1\n{}{}",
        integration("a", &format!("{long_key} = 1\n")),
        format_args!("[integrations.{long_int}]\nowner = \"x\"\n")
    );
    let e = load_err(&src);
    assert!(
        e.rendered.len() < 8 * 1024,
        "{} bytes of diagnostics",
        e.rendered.len()
    );
    let cut = format!("`{}…`", "k".repeat(40));
    assert!(e.rendered.contains(&cut), "{}", e.rendered);
    assert!(!e.rendered.contains(&"k".repeat(41)), "{}", e.rendered);
    assert!(!e.rendered.contains(&"i".repeat(41)), "{}", e.rendered);
}

/// A token-shaped string is masked wherever the snippet shows it: a comment, a key, a table
/// name or a value, not only a `credential` value. Keys and table names that are tokens are
/// refused.
#[test]
fn token_shaped_strings_are_masked_anywhere_in_a_snippet() {
    let src = "version = 1\n\
        [integrations.a]\n\
        service = \"github\"\n\
        owner = \"a\"\n\
        credential = \"env:T\"\n\
        # the old one was ghp_SECRETVALUEinAcomment0123456789\n\
        onwer = \"a\" # glpat-SECRETVALUEtrailing01\n\
        github_pat_SECRETVALUEasAkey0123 = 1\n\
        [integrations.ghs_SECRETVALUEasAtable01]\n\
        service = \"github\"\n\
        owner = \"b\"\n\
        credential = \"env:T\"\n\
        tags-filter = \"(xoxb-SECRETVALUEinAvalue\"\n";
    let e = load_err(src);
    for text in [e.rendered.clone(), e.render(true)] {
        assert!(!text.contains("SECRETVALUE"), "a token was shown:\n{text}");
    }
    assert!(e.rendered.contains("ghp_*****"), "{}", e.rendered);
    assert!(
        e.rendered
            .contains("a key looks like a literal credential (a token was pasted here)"),
        "{}",
        e.rendered
    );
    // Through the binary, coloured or not.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("gij.toml"), src).unwrap();
    for args in [
        &["validate"][..],
        &["--color", "always", "validate"],
        &["fmt", "--check"],
    ] {
        let out = gijctl(dir.path(), args);
        assert_eq!(out.code, 1, "{args:?}: {}", out.stderr);
        assert!(
            !out.stderr.contains("SECRETVALUE") && !out.stdout.contains("SECRETVALUE"),
            "{args:?}: a token was shown:\n{}",
            out.stderr
        );
    }
}

/// Display names that differ only by invisible characters or Unicode compatibility forms
/// look the same in GIJ's list, so they are duplicates.
#[test]
fn lookalike_display_names_are_duplicates() {
    for (other, duplicate) in [
        (r"Do\u200Bcs", true), // zero-width space
        (r"Do\u200Dcs", true), // zero-width joiner
        (r"Do\u2060cs", true), // word joiner
        (r"\uFEFFDocs", true), // byte order mark
        (r"Do\u00ADcs", true), // soft hyphen
        (r"Ｄｏｃｓ", true),   // full-width letters
        (r"Docs\u00A0", true), // no-break space, trailing
        ("Dogs", false),
    ] {
        let src = format!(
            "version = 1\n{}{}",
            integration("a", "display-name = \"Docs\"\n"),
            integration("b", &format!("display-name = \"{other}\"\n"))
        );
        let r = gijctl::config::load_str(&src, "gij.toml");
        assert_eq!(
            r.is_err(),
            duplicate,
            "{other}: {:?}",
            r.err().map(|e| e.rendered)
        );
        if let Err(e) = r {
            assert_eq!(e.count, 1, "{}", e.rendered);
            assert!(
                e.rendered.contains("is used by `a` and `b`"),
                "{}",
                e.rendered
            );
        }
    }
    // The message makes the invisible character visible.
    let e = load_err(&format!(
        "version = 1\n{}{}",
        integration("a", "display-name = \"Docs\"\n"),
        integration("b", "display-name = \"Do\\u200Bcs\"\n")
    ));
    assert!(e.rendered.contains("`Do<U+200B>cs`"), "{}", e.rendered);
}

/// Patterns that nest deeply or have many alternatives are refused by validate with their
/// position (documented limits), instead of failing later in plan without one.
#[test]
fn oversized_globs_are_refused_with_a_position() {
    let deep = |n: usize| format!("{}api{}", "{".repeat(n), "}".repeat(n));
    let many = format!(
        "{{{}}}",
        (0u8..70)
            .map(|i| format!("{}{}", char::from(b'a' + i / 26), char::from(b'a' + i % 26)))
            .collect::<Vec<_>>()
            .join(",")
    );
    for (pattern, why) in [
        (deep(150), "characters long; patterns are at most 256"),
        (deep(20), "alternatives nest 20 deep; at most 8"),
        (many, "the pattern has 70 alternatives; at most 64"),
        ("x".repeat(300), "characters long"),
    ] {
        let src = format!(
            "version = 1\n{}",
            integration(
                "a",
                &format!("repositories = {{ exclude = [\"ok-*\", \"{pattern}\"] }}\n")
            )
        );
        let e = load_err(&src);
        assert_eq!(e.count, 1, "{}", e.rendered);
        assert!(e.rendered.contains(why), "{why}:\n{}", e.rendered);
        assert!(
            e.rendered.contains("gij.toml:6:36") || e.rendered.contains("gij.toml:6:37"),
            "the pattern's position:\n{}",
            e.rendered
        );
    }
    // Within the limits, nesting and alternatives are fine.
    let src = format!(
        "version = 1\n{}",
        integration(
            "a",
            "repositories = { include = [\"{api,{web,app}-*}\", \"[{]x\"] }\n"
        )
    );
    if let Err(e) = gijctl::config::load_str(&src, "gij.toml") {
        panic!("{}", e.rendered);
    }
}

/// A config path that is not a regular file of the user's is refused before it is read, like
/// a `file:` credential: `/proc/self/environ` is a "regular file" holding the environment
/// (the API token included), and `/dev/stdin` can end at any file.
#[test]
fn config_paths_into_pseudo_file_systems_are_refused_before_reading() {
    const MARK: &str = "SECRETVALUE-in-the-environment";
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::os::unix::fs::symlink("/proc/self/environ", d.join("environ.toml")).unwrap();
    std::fs::write(d.join("valid.toml"), "version = 1\n").unwrap();
    let run = |args: &[&str], stdin: Option<&Path>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_gijctl"));
        c.args(args)
            .current_dir(d)
            .env("NO_COLOR", "1")
            .env("GIJCTL_HOSTILE_TEST", MARK);
        if let Some(p) = stdin {
            c.stdin(std::fs::File::open(p).unwrap());
        }
        let out = c.output().unwrap();
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    };
    let valid = d.join("valid.toml");
    for (args, stdin) in [
        (&["validate", "-c", "/proc/self/environ"][..], None),
        (&["validate", "-c", "environ.toml"], None),
        (&["validate", "-c", "/dev/stdin"], Some(valid.as_path())),
        (&["fmt", "--check", "-c", "/proc/self/environ"], None),
        (
            &[
                "plan",
                "-c",
                "/proc/self/environ",
                "--endpoint",
                "http://127.0.0.1:1",
            ],
            None,
        ),
    ] {
        let out = run(args, stdin);
        assert_eq!(out.code, 1, "{args:?}: {}{}", out.stdout, out.stderr);
        assert!(
            out.stderr
                .contains("is not a regular file of yours: it points into /dev, /proc or /sys"),
            "{args:?}: {}",
            out.stderr
        );
        assert!(
            !out.stderr.contains(MARK) && !out.stdout.contains(MARK),
            "{args:?}"
        );
    }
}

/// Type errors are found part by part (linear), yet every one is still reported, once, with
/// its key, and the rest of the file is still checked.
#[test]
fn every_type_error_is_reported_once_with_its_key() {
    let mut src = String::from("version = 1\n[defaults]\nsmart-commits = \"on\"\n");
    for i in 0..60 {
        src.push_str(&format!(
            "[integrations.i{i}]\nservice = \"github\"\nowner = {i}\ncredential = \"env:T\"\nenabled = \"yes\"\nrepositories = {{ include = [1], exclude = \"x\" }}\n"
        ));
    }
    src.push_str("[[integrations.arr]]\nservice = \"github\"\n[apply]\nmax-deletes = \"two\"\n");
    let e = load_err(&src);
    let mut messages: Vec<&str> = e.problems().iter().map(|p| p.message.as_str()).collect();
    let before = messages.len();
    messages.sort_unstable();
    messages.dedup();
    assert_eq!(before, messages.len(), "a problem was reported twice");
    assert_eq!(e.count, 1 + 60 * 4 + 1 + 1, "{:#?}", e.problems());
    for i in [0, 31, 59] {
        for key in [
            "owner",
            "enabled",
            "repositories.include",
            "repositories.exclude",
        ] {
            let needle = format!("`integrations.i{i}.{key}`");
            assert!(messages.iter().any(|m| m.starts_with(&needle)), "{needle}");
        }
    }
    for needle in [
        "`defaults.smart-commits`",
        "`apply.max-deletes`",
        "`integrations.arr`",
    ] {
        assert!(
            messages.iter().any(|m| m.starts_with(needle)),
            "{needle}: {messages:#?}"
        );
    }
}
