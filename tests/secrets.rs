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

/// What the proxy in front of the dev-server does to the create request (`POST
/// /rest/gitplugin/1.0/integration`), whose body carries the git PAT.
#[derive(Clone, Copy)]
enum Echo {
    /// A 422 whose `error` quotes the whole request body and whose `advice` names the PAT.
    Unprocessable,
    /// Not the create: the project list answered with the API token as a JSON string, which
    /// serde's decode message ("invalid type: string \"...\"") quotes.
    DecodeQuote,
    /// A 500 HTML page quoting the body percent-encoded and the PAT in base64 (a proxy's dump).
    Encoded,
}

/// A loopback proxy that forwards every request to `upstream` (an in-process dev-server) and
/// answers the create request itself, echoing the credential as `echo` says.
fn echoing_proxy(rt: &tokio::runtime::Runtime, upstream: String, echo: Echo) -> String {
    use axum::body::{Body, to_bytes};
    use axum::http::{Request, StatusCode, header};
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let app = axum::Router::new().fallback(move |req: Request<Body>| {
        let client = client.clone();
        let upstream = upstream.clone();
        async move {
            let (parts, body) = req.into_parts();
            let bytes = to_bytes(body, 16 << 20).await.unwrap_or_default();
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let path = parts.uri.path().to_owned();
            if matches!(echo, Echo::DecodeQuote) && path == "/rest/api/2/project" {
                return (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "application/json")],
                    serde_json::json!(API_TOKEN).to_string(),
                )
                    .into_response();
            }
            if parts.method == axum::http::Method::POST && path == "/rest/gitplugin/1.0/integration"
            {
                let json = |status: StatusCode, v: serde_json::Value| {
                    (
                        status,
                        [(header::CONTENT_TYPE, "application/json")],
                        v.to_string(),
                    )
                        .into_response()
                };
                return match echo {
                    Echo::Unprocessable => json(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        serde_json::json!({
                            "success": false,
                            "error": format!("cannot log in with {text}"),
                            "advice": format!("token `{ENV_CRED}` was refused by the git service"),
                        }),
                    ),
                    Echo::DecodeQuote => StatusCode::IM_A_TEAPOT.into_response(),
                    Echo::Encoded => {
                        let url: String =
                            url::form_urlencoded::byte_serialize(text.as_bytes()).collect();
                        let b64 = base64_of(ENV_CRED);
                        (
                            StatusCode::INTERNAL_SERVER_ERROR,
                            format!("<html><title>auth {b64} body {url}</title></html>"),
                        )
                            .into_response()
                    }
                };
            }
            let mut out = client.request(parts.method.clone(), format!("{upstream}{}", parts.uri));
            for (k, v) in &parts.headers {
                if k != header::HOST {
                    out = out.header(k, v);
                }
            }
            match out.body(bytes).send().await {
                Ok(r) => {
                    let status = r.status();
                    let ct = r.headers().get(header::CONTENT_TYPE).cloned();
                    let body = r.bytes().await.unwrap_or_default();
                    let mut resp = (status, body).into_response();
                    if let Some(ct) = ct {
                        resp.headers_mut().insert(header::CONTENT_TYPE, ct);
                    }
                    resp
                }
                Err(_) => StatusCode::BAD_GATEWAY.into_response(),
            }
        }
    });
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

fn base64_of(s: &str) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in s.as_bytes().chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for (i, sh) in [18, 12, 6, 0].into_iter().enumerate() {
            out.push(if i <= c.len() {
                A[((n >> sh) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    out
}

/// A git PAT read from `env:` is sent in the create body; a server that echoes it back, in a
/// 422's `error` and `advice`, in a value serde's decode error quotes, or percent-encoded and
/// in base64 in an error page, must not get it printed: not in the error report, the apply
/// lines, the NDJSON events nor the trace log; nor may the API token a decode error quotes.
/// Before the redaction registry only the API token
/// was masked, and every one of these printed the PAT.
#[test]
fn a_server_echoing_a_git_pat_has_it_masked_everywhere() {
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
    for echo in [Echo::Unprocessable, Echo::DecodeQuote, Echo::Encoded] {
        let ep = echoing_proxy(&rt, server.base_url(), echo);
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        std::fs::write(
            dir.join("gij.toml"),
            "version = 1\n\n[integrations.acme-gitlab]\nservice = \"gitlab-self-managed\"\n\
             host = \"https://gitlab.acme.internal\"\nowner = \"platform\"\n\
             credential = \"env:ACME_GH\"\nprojects = [\"OPS\"]\n",
        )
        .unwrap();
        let events = dir.join("events.ndjson");
        let events_arg = events.to_string_lossy().into_owned();
        let out = gijctl(
            dir,
            &[
                "-vv",
                "apply",
                "-c",
                "gij.toml",
                "--endpoint",
                &ep,
                "--auto-approve",
                "--max-attempts",
                "1",
                "--events",
                &events_arg,
            ],
            &[TRACE[0], TRACE[1], ("GIJ_TOKEN", API_TOKEN)],
        );
        let what = match echo {
            Echo::Unprocessable => "422 echo",
            Echo::DecodeQuote => "decode quote",
            Echo::Encoded => "encoded echo",
        };
        assert_ne!(out.code, 0, "{what}: {}", out.all());
        assert!(
            out.all().contains("[redacted]"),
            "{what}: nothing masked?\n{}",
            out.all()
        );
        check(what, &out);
        let ev = std::fs::read_to_string(&events).unwrap_or_default();
        assert_no_secret(&format!("{what} events"), &ev);
        for form in [
            url::form_urlencoded::byte_serialize(ENV_CRED.as_bytes()).collect::<String>(),
            base64_of(ENV_CRED).trim_end_matches('=').to_owned(),
        ] {
            assert!(
                !out.all().contains(&form),
                "{what}: `{form}` leaked:\n{}",
                out.all()
            );
        }
    }
    drop(server);
}
