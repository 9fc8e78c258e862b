//! The CI recipes in `examples/ci/` run what they say: every `gijctl ...` command line is
//! extracted from each recipe and run, with the recipe's own flags, against a dev-server in
//! this process, through the phases the recipe goes through (pull request, merge, nightly
//! drift). The exit codes and hidden markers the recipes' shell and scripts rely on are
//! asserted, so a renamed flag, a changed exit code or a changed marker breaks this test.
//!
//! Also: `gijctl drift` and `gijctl review` end to end (JSON documents, error exit), and the
//! generated completions and man pages.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::{Out, root};
use serde_json::{Value, json};

/// A dev-server seeded with the quickstart site (the shared harness, time scaled by 100,000),
/// and a work dir holding the quickstart config and token files.
struct Site(common::site::Site);

impl Site {
    fn start() -> Site {
        let q = root().join("examples/quickstart");
        let seed: Value =
            serde_json::from_str(&std::fs::read_to_string(q.join("seed.json")).unwrap()).unwrap();
        let site = common::site::Site::start(&seed, |cfg| cfg.time_scale = 100_000.0);
        let dir = site.dir.path();
        std::fs::copy(q.join("gij.toml"), dir.join("gij.toml")).unwrap();
        std::fs::create_dir(dir.join("tokens")).unwrap();
        for t in ["github", "gitlab", "azure"] {
            let f = format!("{t}.token");
            std::fs::copy(q.join("tokens").join(&f), dir.join("tokens").join(&f)).unwrap();
        }
        Site(site)
    }

    fn path(&self) -> &Path {
        self.0.dir.path()
    }

    /// Runs gijctl with the site in `GIJ_URL`/`GIJ_TOKEN`, as the recipes' environment has it
    /// (not the harness's `--endpoint`: the recipes' command lines are run as they are).
    fn run(&self, args: &[String], token: Option<&str>) -> Out {
        let server = self.0.server();
        let mut c = Command::new(env!("CARGO_BIN_EXE_gijctl"));
        c.args(args)
            .current_dir(self.path())
            .env("NO_COLOR", "1")
            .env_remove("GIJCTL_LOG")
            .env("GIJ_URL", server.base_url())
            .env("GIJ_TOKEN", token.unwrap_or(server.admin_token().expose()));
        let o = c.output().unwrap();
        let out = Out {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        };
        // No run of any recipe command may print a secret, whatever it does.
        let admin = server.admin_token().expose().to_owned();
        for secret in [
            "dev-github-token",
            "dev-gitlab-token",
            "dev-azure-token",
            admin.as_str(),
        ] {
            assert!(
                !out.stdout.contains(secret) && !out.stderr.contains(secret),
                "`gijctl {}` printed a secret",
                args.join(" ")
            );
        }
        out
    }

    /// Someone changes a setting in GIJ's UI.
    fn drift_smart_commits(&self) {
        let id = *self
            .0
            .server()
            .state_snapshot()
            .integrations
            .keys()
            .next()
            .unwrap();
        self.0
            .edit_integration(id, &json!({"smartCommitsEnabled": false}));
    }
}

/// Every `gijctl <command> ...` line of a recipe that starts a shell command (not `echo`
/// text), cut at a redirect, pipe or `;`, split into words with quotes removed.
fn commands(recipe: &str) -> Vec<Vec<String>> {
    let re = regex::Regex::new(
        r"(?m)^[ \t]*(?:-[ \t]+|run:[ \t]+)?gijctl[ \t]+((?:validate|plan|review|apply|drift)\b[^\n>|;]*)",
    )
    .unwrap();
    re.captures_iter(recipe)
        .map(|c| {
            c[1].split_whitespace()
                .map(|w| w.trim_matches('"').to_owned())
                .collect()
        })
        .collect()
}

/// The hidden markers a recipe's scripts search for.
fn markers(recipe: &str) -> Vec<String> {
    let re = regex::Regex::new(r"<!-- gijctl-[a-z]+ -->").unwrap();
    let mut v: Vec<String> = re
        .find_iter(recipe)
        .map(|m| m.as_str().to_owned())
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Replaces the CI variables the commands use with paths in the work dir.
fn localise(cmd: &[String], site: &Site) -> Vec<String> {
    cmd.iter()
        .map(|w| w.replace("$RUNNER_TEMP", &site.path().display().to_string()))
        .collect()
}

fn by_name(recipe: &str) -> BTreeMap<String, Vec<String>> {
    let mut m = BTreeMap::new();
    for c in commands(recipe) {
        let name = c[0].clone();
        assert!(
            m.insert(name.clone(), c).is_none(),
            "two `gijctl {name}` lines"
        );
    }
    m
}

fn recipe(name: &str) -> String {
    std::fs::read_to_string(root().join("examples/ci").join(name)).unwrap()
}

/// Runs one recipe through a pull request, a merge and two nightly drift checks.
fn exercise(name: &str) {
    let text = recipe(name);
    let cmds = by_name(&text);
    assert_eq!(
        cmds.keys().map(String::as_str).collect::<Vec<_>>(),
        ["apply", "drift", "plan", "review", "validate"],
        "{name}: the recipe should validate, plan, review, apply and check drift"
    );
    assert_eq!(
        markers(&text),
        ["<!-- gijctl-drift -->", "<!-- gijctl-plan -->"],
        "{name}"
    );
    // The shell around the commands accepts exactly the documented codes.
    assert!(
        text.contains("0|2|9|3|10)"),
        "{name}: review and plan codes"
    );
    for code in ["2", "7", "8"] {
        assert!(text.contains(code), "{name}: drift code {code}");
    }

    let site = Site::start();
    // The pull request renames acme-github; the base is the quickstart config as it is.
    let base_text = std::fs::read_to_string(site.path().join("gij.toml")).unwrap();
    let head_text = base_text.replace("\"GitHub · acme\"", "\"GitHub (acme)\"");
    assert_ne!(base_text, head_text);
    std::fs::write(site.path().join("gij.toml"), &head_text).unwrap();
    let review = localise(&cmds["review"], &site);
    let base_at = review
        .iter()
        .skip_while(|w| *w != "--base")
        .nth(1)
        .expect("review has --base")
        .clone();
    std::fs::write(site.path().join(&base_at), &base_text).unwrap();

    let o = site.run(&cmds["validate"], None);
    assert_eq!(o.code, 0, "{name} validate: {}", o.stderr);

    // The seed site never saw the base config applied, and the PR renames a field that
    // differs on the site: a conflict (9), posted under the plan marker.
    let o = site.run(&review, None);
    assert_eq!(o.code, 9, "{name} review: {}", o.stderr);
    assert!(o.stdout.starts_with("<!-- gijctl-plan -->"), "{}", o.stdout);
    assert!(o.stdout.contains("#### Conflicts"));
    assert!(!o.stdout.contains("dev-github-token"));

    // The fallback for a pull request that adds gij.toml: changes present (2), same marker.
    let o = site.run(&cmds["plan"], None);
    assert_eq!(o.code, 2, "{name} plan: {}", o.stderr);
    assert!(o.stdout.starts_with("<!-- gijctl-plan -->"));

    // Merge: apply (the poll interval is a timing knob for the time-scaled server only).
    let mut apply = cmds["apply"].clone();
    apply.extend(["--poll-interval".to_owned(), "20ms".to_owned()]);
    let o = site.run(&apply, None);
    assert_eq!(o.code, 0, "{name} apply: {}", o.stderr);

    // The merged config is on the site: no drift.
    let drift = cmds["drift"].clone();
    let o = site.run(&drift, None);
    assert_eq!(
        o.code, 0,
        "{name} drift after apply: {}{}",
        o.stdout, o.stderr
    );
    assert!(o.stdout.starts_with("<!-- gijctl-drift -->"));

    // Nightly: someone turned smart commits off in the UI.
    site.drift_smart_commits();
    let o = site.run(&drift, None);
    assert_eq!(o.code, 2, "{name} drift: {}", o.stderr);
    assert!(o.stdout.starts_with("<!-- gijctl-drift -->"));
    assert!(o.stdout.contains("smart-commits"), "{}", o.stdout);
    let out_at = drift
        .iter()
        .skip_while(|w| *w != "--out")
        .nth(1)
        .expect("drift has --out");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(site.path().join(out_at)).unwrap()).unwrap();
    assert_eq!(report["format_version"], 1);
    assert_eq!(report["summary"]["managed"], 1);

    // Errors are distinct from drift: a bad token is exit 1.
    let o = site.run(&drift, Some("not-the-admin-token"));
    assert_eq!(o.code, 1, "{name} drift with a bad token: {}", o.stdout);
}

#[test]
fn github_actions_recipe_runs() {
    exercise("github-actions.yml");
}

#[test]
fn gitlab_ci_recipe_runs() {
    exercise("gitlab-ci.yml");
}

#[test]
fn extraction_ignores_echo_lines_and_install_lines() {
    let cmds = commands(
        "  run: cargo install --locked gijctl\n  echo \"gijctl drift failed\"\n    gijctl drift -c x --out y > z\n",
    );
    assert_eq!(cmds, [vec!["drift", "-c", "x", "--out", "y"]]);
}

#[test]
fn drift_exit_codes_per_class_and_json() {
    let site = Site::start();
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    // Undeclared only: a config that declares nothing matching the seed's integration.
    std::fs::write(
        site.path().join("other.toml"),
        "version = 1\n\n[integrations.x]\nservice = \"github\"\nowner = \"acme\"\n\
         credential = \"file:tokens/github.token\"\nid = 999\n",
    )
    .unwrap();
    let o = site.run(&s(&["drift", "-c", "other.toml"]), None);
    assert_eq!(o.code, 1, "a pinned id that does not exist is an error");

    let o = site.run(&s(&["drift", "-c", "gij.toml", "--format", "json"]), None);
    assert_eq!(o.code, 2, "{}", o.stderr);
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["summary"]["undeclared"], 0);
    assert!(v["summary"]["managed"].as_u64().unwrap() > 0);

    // Declare only the GitLab integration: the seed's GitHub integration is undeclared (7).
    let cfg = std::fs::read_to_string(site.path().join("gij.toml")).unwrap();
    let only_gitlab = keep_only(&cfg, "platform-gitlab");
    std::fs::write(site.path().join("gitlab-only.toml"), &only_gitlab).unwrap();
    let mut apply = s(&["apply", "-c", "gitlab-only.toml", "--auto-approve"]);
    apply.extend(s(&["--poll-interval", "20ms"]));
    let o = site.run(&apply, None);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let o = site.run(&s(&["drift", "-c", "gitlab-only.toml"]), None);
    assert_eq!(o.code, 7, "{}{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("Undeclared live integrations"));

    // Ignore smart commits on GitLab and flip it on the site: ignored only (8)... after the
    // GitHub integration is declared again and in sync.
    let o = site.run(
        &s(&[
            "apply",
            "-c",
            "gij.toml",
            "--auto-approve",
            "--poll-interval",
            "20ms",
        ]),
        None,
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    site.drift_smart_commits();
    let ignoring = cfg.replace(
        "[integrations.acme-github]\n",
        "[integrations.acme-github]\nignore = [\"smart-commits\"]\n",
    );
    std::fs::write(site.path().join("ignoring.toml"), ignoring).unwrap();
    let o = site.run(
        &s(&["drift", "-c", "ignoring.toml", "--format", "json"]),
        None,
    );
    assert_eq!(o.code, 8, "{}{}", o.stdout, o.stderr);
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["ignored"][0]["subject"]["field"], "smart-commits");
}

/// The config with only one `[integrations.KEY]` table kept.
fn keep_only(cfg: &str, key: &str) -> String {
    let mut out = String::new();
    let mut keep = true;
    for line in cfg.lines() {
        if let Some(rest) = line.strip_prefix("[integrations.") {
            keep = rest.trim_end_matches(']') == key;
        }
        if keep {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[test]
fn review_json_separates_rotation_and_never_prints_references() {
    let site = Site::start();
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    let o = site.run(
        &s(&[
            "apply",
            "-c",
            "gij.toml",
            "--auto-approve",
            "--poll-interval",
            "20ms",
        ]),
        None,
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let base = std::fs::read_to_string(site.path().join("gij.toml")).unwrap();
    std::fs::write(site.path().join("base.toml"), &base).unwrap();
    let head = base
        .replace("file:tokens/github.token", "env:ROTATED_GH_TOKEN_REF")
        .replace("projects = [\"OPS\"]\n", "projects = [\"OPS\", \"WEB\"]\n");
    assert_ne!(head, base);
    std::fs::write(site.path().join("head.toml"), &head).unwrap();
    let o = site.run(
        &s(&[
            "review",
            "--base",
            "base.toml",
            "-c",
            "head.toml",
            "--format",
            "json",
            "--detailed-exitcode",
        ]),
        None,
    );
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(!o.stdout.contains("ROTATED_GH_TOKEN_REF"));
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["format_version"], 1);
    assert_eq!(v["summary"]["conflicts"], 0);
    assert_eq!(v["summary"]["drift"], 0);
    assert_eq!(v["summary"]["rotations"], 1);
    assert_eq!(v["rotations"][0]["key"], "acme-github");
    let subjects: Vec<String> = v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{}:{}",
                c["key"].as_str().unwrap(),
                c["subject"]["kind"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        subjects,
        ["acme-github:credential", "platform-gitlab:field"]
    );
    // Without --detailed-exitcode the review exits 0.
    let o = site.run(
        &s(&["review", "--base", "base.toml", "-c", "head.toml"]),
        None,
    );
    assert_eq!(o.code, 0);
    assert!(o.stdout.contains("Changes this pull request makes"));
}

#[test]
fn completions_and_man_pages_come_from_the_cli() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_gijctl"))
            .args(args)
            .output()
            .unwrap()
    };
    for (shell, needle) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef gijctl"),
        ("fish", "complete -c gijctl"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion"),
    ] {
        let o = run(&["completions", shell]);
        assert!(o.status.success(), "{shell}");
        let text = String::from_utf8(o.stdout).unwrap();
        assert!(text.contains(needle), "{shell}");
        assert!(
            text.contains("drift") && text.contains("detailed-exitcode"),
            "{shell}"
        );
    }
    let o = run(&["completions", "tcsh"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "unknown shells are usage errors (1)"
    );

    let o = run(&["man"]);
    assert!(o.status.success());
    let page = String::from_utf8(o.stdout).unwrap();
    assert!(
        page.starts_with(".ie") || page.contains(".TH gijctl"),
        "{page}"
    );
    assert!(page.contains("review"));

    let dir = tempfile::tempdir().unwrap();
    let o = run(&["man", "--dir", dir.path().to_str().unwrap()]);
    assert!(o.status.success());
    let drift = std::fs::read_to_string(dir.path().join("gijctl-drift.1")).unwrap();
    assert!(drift.contains(".TH gijctl-drift 1"), "{drift}");
    assert!(drift.contains("\\-\\-out"), "{drift}");
    assert!(!dir.path().join("gijctl-help.1").exists());

    let o = run(&["--version"]);
    let v = String::from_utf8(o.stdout).unwrap();
    assert!(
        v.starts_with(concat!("gijctl ", env!("CARGO_PKG_VERSION"))),
        "{v}"
    );
}
