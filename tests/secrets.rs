//! Known secret values through every command, output format and error path: they must never
//! appear in stdout, stderr, trace logs (`GIJCTL_LOG=trace`, `-vv`), plan files or imported
//! configs, nor in the report of a panic.
//!
//! Secrets used: a config credential from an environment variable, a config credential from a
//! file, the API token (from the environment and from a file), a wrong API token, and a token
//! a misbehaving server echoes back.
//!
//! Run: `cargo test --test secrets`.

mod common;

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use axum::response::IntoResponse;
use common::{Out, gijctl, root};
use gijctl::devserver::{DevServer, DevServerConfig, SeedSource};
use gijctl::secret::Secret;

const ENV_CRED: &str = "envcred-1f4e8a-SECRET";
const FILE_CRED: &str = "filecred-9b7c2d-SECRET";
const API_TOKEN: &str = "apitoken-3a6e0f-SECRET";
const WRONG_TOKEN: &str = "wrongtoken-77d1c3-SECRET";
const ALL: [&str; 4] = [ENV_CRED, FILE_CRED, API_TOKEN, WRONG_TOKEN];

fn assert_no_secret(what: &str, text: &str) {
    for s in ALL {
        assert!(!text.contains(s), "{what}: `{s}` leaked:\n{text}");
        // Also the part after the prefix, in case something prints it cut or masked partly.
        let tail = &s[s.len() - 13..];
        assert!(
            !text.contains(tail),
            "{what}: part of `{s}` leaked:\n{text}"
        );
    }
    assert!(!text.contains("panicked"), "{what}: panicked:\n{text}");
}

fn check(what: &str, out: &Out) {
    assert_no_secret(what, &out.all());
}

/// A config with one credential from the environment and one from a file.
fn write_config(dir: &Path) -> String {
    std::fs::create_dir_all(dir.join("tokens")).unwrap();
    std::fs::write(dir.join("tokens/gitlab.token"), format!("{FILE_CRED}\n")).unwrap();
    std::fs::write(dir.join("api.token"), format!("{API_TOKEN}\n")).unwrap();
    let cfg = dir.join("gij.toml");
    std::fs::write(
        &cfg,
        "version = 1\n\n[integrations.acme-github]\nservice = \"github\"\nowner = \"acme\"\n\
         credential = \"env:ACME_GH\"\nprojects = [\"OPS\"]\n\n\
         [integrations.platform-gitlab]\nservice = \"gitlab-self-managed\"\n\
         host = \"https://gitlab.acme.internal\"\nowner = \"platform\"\n\
         credential = \"file:tokens/gitlab.token\"\n",
    )
    .unwrap();
    cfg.to_string_lossy().into_owned()
}

const TRACE: [(&str, &str); 2] = [("GIJCTL_LOG", "trace"), ("ACME_GH", ENV_CRED)];

#[test]
fn no_command_prints_a_secret() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt
        .block_on(DevServer::start(DevServerConfig {
            seed: Some(SeedSource::Path(
                root().join("examples/quickstart/seed.json"),
            )),
            time_scale: 0.0,
            admin_tokens: vec![Secret::new(API_TOKEN.into())],
            ..DevServerConfig::default()
        }))
        .unwrap();
    let ep = server.base_url();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cfg = write_config(dir);
    let env_token = [TRACE[0], TRACE[1], ("GIJ_TOKEN", API_TOKEN)];

    for args in [
        vec!["validate", "-c", &cfg],
        vec!["fmt", "--check", "-c", &cfg],
        vec!["schema"],
    ] {
        let out = gijctl(dir, &args, &TRACE);
        check(&format!("{args:?}"), &out);
    }
    for format in ["text", "json", "markdown"] {
        let args = [
            "-vv",
            "plan",
            "-c",
            &cfg,
            "--endpoint",
            &ep,
            "--format",
            format,
        ];
        let out = gijctl(dir, &args, &env_token);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(!out.stdout.is_empty());
        check(&format!("plan {format}"), &out);
    }
    // The token from a file, the plan saved to a file.
    let plan_file = dir.join("plan.json");
    let out = gijctl(
        dir,
        &[
            "plan",
            "-c",
            &cfg,
            "--endpoint",
            &ep,
            "--token",
            "file:api.token",
            "--out",
            &plan_file.to_string_lossy(),
            "--rotate",
            "acme-github",
        ],
        &TRACE,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    check("plan --out", &out);
    assert_no_secret("plan file", &std::fs::read_to_string(&plan_file).unwrap());
    // import to stdout and to a file.
    let out = gijctl(dir, &["import", "--endpoint", &ep, "-o", "-"], &env_token);
    assert_eq!(out.code, 0, "{}", out.stderr);
    check("import -o -", &out);
    let imported = dir.join("imported.toml");
    let out = gijctl(
        dir,
        &[
            "import",
            "--endpoint",
            &ep,
            "-o",
            &imported.to_string_lossy(),
        ],
        &env_token,
    );
    check("import -o FILE", &out);
    assert_no_secret(
        "imported file",
        &std::fs::read_to_string(&imported).unwrap(),
    );

    // Error paths.
    let wrong = gijctl(
        dir,
        &["plan", "-c", &cfg, "--endpoint", &ep],
        &[TRACE[0], TRACE[1], ("GIJ_TOKEN", WRONG_TOKEN)],
    );
    assert_eq!(wrong.code, 1);
    assert!(wrong.stderr.contains("401"), "{}", wrong.stderr);
    check("wrong token", &wrong);
    let missing = gijctl(
        dir,
        &[
            "plan",
            "-c",
            &cfg,
            "--endpoint",
            &ep,
            "--token",
            "env:GIJ_SURELY_UNSET",
        ],
        &TRACE,
    );
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("GIJ_SURELY_UNSET"),
        "{}",
        missing.stderr
    );
    check("missing env var", &missing);
    for bad in ["file:nope.token", "file:tokens"] {
        let out = gijctl(
            dir,
            &["plan", "-c", &cfg, "--endpoint", &ep, "--token", bad],
            &TRACE,
        );
        assert_eq!(out.code, 1, "{bad}");
        check(bad, &out);
    }
    // A token pasted as `--token` is refused and not echoed.
    let literal = gijctl(
        dir,
        &[
            "plan",
            "-c",
            &cfg,
            "--endpoint",
            &ep,
            "--token",
            WRONG_TOKEN,
        ],
        &TRACE,
    );
    assert_eq!(literal.code, 1);
    check("literal --token", &literal);
    // A forced panic whose payload is a secret.
    let panic = gijctl(
        dir,
        &["validate", "-c", &cfg],
        &[("GIJCTL_DEBUG_FORCE_PANIC", API_TOKEN)],
    );
    assert_eq!(panic.code, 1);
    assert!(panic.stderr.contains("internal error"), "{}", panic.stderr);
    check("panic", &panic);
    drop(server);
}

#[test]
fn a_server_echoing_the_token_in_a_500_has_it_masked() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let app = axum::Router::new().fallback(|| async {
        (
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            format!("<html><title>proxy error: Authorization: Bearer {API_TOKEN}</title></html>"),
        )
            .into_response()
    });
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write_config(tmp.path());
    let out = gijctl(
        tmp.path(),
        &[
            "-vv",
            "plan",
            "-c",
            &cfg,
            "--endpoint",
            &format!("http://{addr}"),
            "--max-attempts",
            "1",
        ],
        &[TRACE[0], TRACE[1], ("GIJ_TOKEN", API_TOKEN)],
    );
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("500"), "{}", out.stderr);
    check("500 echo", &out);
}

#[test]
fn the_dev_server_does_not_print_its_admin_token() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gijctl"))
        .args([
            "-vv",
            "dev-server",
            "--listen",
            "127.0.0.1:0",
            "--admin-token",
            API_TOKEN,
        ])
        .env("GIJCTL_LOG", "trace")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("http://127.0.0.1:"), "{first}");
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_no_secret("dev-server", &format!("{first}{stderr}"));
}
