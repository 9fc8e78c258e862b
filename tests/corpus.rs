//! The bad-input corpus: every file under `tests/corpus/config/` is a malformed or hostile
//! gij.toml, plus cases generated here that cannot be committed (a file over 10 MiB, symlinks
//! to devices, FIFOs, an empty file). For each one, `gijctl validate` and `gijctl plan` (against
//! an in-process dev-server) must exit 1 with a distinctive message, never panic, never echo a
//! literal secret, never print an escape sequence from the input, make no API request (the
//! dev-server's request counter stays 0) and leave the file untouched.
//!
//! Each committed file starts with `# tests: ...` (what it is), `# expect: ...` (a substring the
//! error must contain) and `# at: LINE:COL` (the position the diagnostic must point at, or `-`
//! when the position is not the point of the case). Every literal secret in the corpus contains `SECRETVALUE`, which must never be printed.
//!
//! Run: `cargo test --test corpus`.

mod common;

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use common::{Out, assert_clean_failure, gijctl, root};
use gijctl::devserver::{DevServer, DevServerConfig, RunningServer, SeedSource};
use gijctl::secret::Secret;

const ADMIN: &str = "corpus-admin-token-7d1e";
const MARK: &str = "SECRETVALUE";

/// One hostile input and what its error must say.
struct Case {
    name: String,
    path: PathBuf,
    expect: String,
    at: Option<String>,
}

fn header_value(text: &str, key: &str) -> Option<String> {
    text.lines()
        .take(5)
        .find_map(|l| l.trim_start_matches('\u{feff}').strip_prefix(key))
        .map(|v| v.trim().to_owned())
}

fn committed_cases() -> Vec<Case> {
    let dir = root().join("tests/corpus/config");
    let mut cases = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("corpus dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let bytes = std::fs::read(&path).expect("read corpus file");
        let text = String::from_utf8_lossy(&bytes);
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            header_value(&text, "# tests:").is_some_and(|t| !t.is_empty()),
            "{name}: first lines must say `# tests: ...`"
        );
        let expect = header_value(&text, "# expect:")
            .filter(|e| !e.is_empty())
            .unwrap_or_else(|| panic!("{name}: needs a non-empty `# expect: ...` line"));
        cases.push(Case {
            name,
            path,
            expect,
            at: header_value(&text, "# at:").filter(|a| a != "-"),
        });
    }
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    cases
}

/// A valid config whose only credential is `credential`, written into `dir`.
fn with_credential(dir: &Path, name: &str, credential: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(
        &p,
        format!(
            "version = 1\n[integrations.acme-github]\nservice = \"github\"\nowner = \"acme\"\n\
             credential = \"{credential}\"\n"
        ),
    )
    .unwrap();
    p
}

/// Inputs that are generated because they are huge, binary, or special files.
fn generated_cases(dir: &Path) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut add = |name: &str, path: PathBuf, expect: &str| {
        cases.push(Case {
            name: format!("generated:{name}"),
            path,
            expect: expect.to_owned(),
            at: None,
        });
    };

    let huge = dir.join("huge.toml");
    let mut text = String::from("version = 1\n");
    let line = "# padding padding padding padding padding padding padding padding padding\n";
    while text.len() <= 10 * 1024 * 1024 {
        text.push_str(line);
    }
    std::fs::write(&huge, &text).unwrap();
    add("over-10-MiB", huge, "larger than 10 MiB");

    let empty = dir.join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    add("empty-file", empty, "missing `version`");

    let deep = dir.join("deep.toml");
    std::fs::write(
        &deep,
        format!(
            "version = 1\nx = {}1{}\n",
            "[".repeat(100_000),
            "]".repeat(100_000)
        ),
    )
    .unwrap();
    add("arrays-100000-deep", deep, "invalid TOML");

    let long = dir.join("long.toml");
    std::fs::write(
        &long,
        format!(
            "version = 1\n[integrations.a]\nservice = \"github\"\nowner = \"{}\"\ncredential = \"env:X\"\n",
            "o".repeat(2_000_000)
        ),
    )
    .unwrap();
    add("two-million-char-owner", long, "values are at most 2000");

    let invalid = dir.join("latin1.toml");
    std::fs::write(&invalid, b"version = 1\n# caf\xe9\n").unwrap();
    add("latin1-comment", invalid, "not valid UTF-8 (line 2");

    for dev in ["/dev/zero", "/dev/urandom"] {
        let link = dir.join(format!("config-to-{}.toml", &dev[5..]));
        symlink(dev, &link).unwrap();
        add(
            &format!("config-symlink-to-{dev}"),
            link,
            "not a regular file",
        );
        let tokens = dir.join(format!("tokens-{}", &dev[5..]));
        std::fs::create_dir_all(&tokens).unwrap();
        symlink(dev, tokens.join("github.token")).unwrap();
        let cfg = with_credential(
            dir,
            &format!("cred-{}.toml", &dev[5..]),
            &format!("file:tokens-{}/github.token", &dev[5..]),
        );
        add(
            &format!("credential-symlink-to-{dev}"),
            cfg,
            "not a regular file",
        );
    }

    let fifo = dir.join("fifo.token");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let cfg = with_credential(dir, "cred-fifo.toml", "file:fifo.token");
    add("credential-is-a-fifo", cfg, "not a regular file");
    let fifo_cfg = dir.join("fifo.toml");
    std::process::Command::new("mkfifo")
        .arg(&fifo_cfg)
        .status()
        .expect("mkfifo");
    add("config-is-a-fifo", fifo_cfg, "not a regular file");

    std::fs::create_dir_all(dir.join("tokdir")).unwrap();
    let cfg = with_credential(dir, "cred-dir.toml", "file:tokdir");
    add("credential-is-a-directory", cfg, "not a regular file");

    symlink("loop-b", dir.join("loop-a")).unwrap();
    symlink("loop-a", dir.join("loop-b")).unwrap();
    let cfg = with_credential(dir, "cred-loop.toml", "file:loop-a");
    add("credential-symlink-loop", cfg, "cannot be read");

    let big = dir.join("big.token");
    std::fs::write(&big, "x".repeat(70 * 1024)).unwrap();
    let cfg = with_credential(dir, "cred-big.toml", "file:big.token");
    add("credential-file-over-64-KiB", cfg, "larger than 64 KiB");

    // Repetition and size (issue 18): the diagnostics stay bounded (the check keeps stderr
    // under 64 KiB) and count what they do not show.
    let many = dir.join("many-unknown-keys.toml");
    let keys: String = (0..3000).map(|i| format!("unknown-{i} = 1\n")).collect();
    std::fs::write(
        &many,
        format!(
            "version = 1\n[integrations.acme-github]\nservice = \"github\"\nowner = \"acme\"\ncredential = \"env:X\"\n{keys}"
        ),
    )
    .unwrap();
    add(
        "3000-unknown-keys",
        many,
        "and 2980 more \"unknown key\" problems",
    );
    let names = dir.join("many-duplicate-names.toml");
    let tables: String = (0..1000)
        .map(|i| {
            format!("[integrations.i{i}]\nservice = \"github\"\nowner = \"o{i}\"\ncredential = \"env:X\"\ndisplay-name = \"Same\"\n")
        })
        .collect();
    std::fs::write(&names, format!("version = 1\n{tables}")).unwrap();
    add(
        "1000-integrations-one-display-name",
        names,
        "and 979 more \"duplicate\" problems",
    );
    let long_key = dir.join("long-key.toml");
    std::fs::write(
        &long_key,
        format!(
            "version = 1\n[integrations.acme-github]\nservice = \"github\"\nowner = \"acme\"\ncredential = \"env:X\"\n{} = 1\n",
            "k".repeat(1_000_000)
        ),
    )
    .unwrap();
    add(
        "million-character-key",
        long_key,
        &format!("unknown key `{}…`", "k".repeat(40)),
    );
    // The config itself in a pseudo-file system: refused before it is read, as `file:` is.
    let environ = dir.join("config-to-environ.toml");
    symlink("/proc/self/environ", &environ).unwrap();
    add(
        "config-symlink-to-proc-self-environ",
        environ,
        "not a regular file of yours",
    );
    add(
        "config-is-proc-self-environ",
        PathBuf::from("/proc/self/environ"),
        "not a regular file of yours",
    );

    let outside = dir.join("sub");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(dir.join("secret.token"), format!("{MARK}-token")).unwrap();
    let cfg = with_credential(&outside, "cred-parent.toml", "file:../secret.token");
    add(
        "credential-in-parent-directory",
        cfg,
        "leaves the config directory",
    );
    cases
}

fn check(case: &Case, out: &Out, command: &str) {
    let what = format!("{} ({command})", case.name);
    assert_clean_failure(&what, out);
    assert!(
        out.stderr.contains(&case.expect),
        "{what}: stderr lacks `{}`:\n{}",
        case.expect,
        out.stderr
    );
    if let Some(at) = &case.at {
        let needle = format!("{}:{at}]", case.path.file_name().unwrap().to_string_lossy());
        assert!(
            out.stderr.contains(&needle),
            "{what}: stderr does not point at `{needle}`:\n{}",
            out.stderr
        );
    }
    assert!(
        !out.all().contains(MARK),
        "{what}: a literal secret was printed:\n{}",
        out.all()
    );
    assert!(
        out.stdout.is_empty(),
        "{what}: stdout is not empty: {}",
        out.stdout
    );
    assert!(
        out.stderr.len() < 64 * 1024,
        "{what}: {} bytes of diagnostics; long values must be cut",
        out.stderr.len()
    );
}

fn fingerprint(path: &Path) -> Option<Vec<u8>> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if meta.file_type().is_file() {
        std::fs::read(path).ok()
    } else {
        Some(format!("{:?}", meta.file_type()).into_bytes())
    }
}

fn start_dev_server(rt: &tokio::runtime::Runtime) -> RunningServer {
    rt.block_on(DevServer::start(DevServerConfig {
        seed: Some(SeedSource::Path(
            root().join("examples/quickstart/seed.json"),
        )),
        time_scale: 0.0,
        admin_tokens: vec![Secret::new(ADMIN.into())],
        ..DevServerConfig::default()
    }))
    .expect("dev-server starts")
}

#[test]
fn corpus_has_at_least_fifty_committed_files() {
    let n = committed_cases().len();
    assert!(n >= 50, "only {n} corpus files");
}

#[test]
fn every_bad_config_is_refused_cleanly_before_any_api_call() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = start_dev_server(&rt);
    let endpoint = server.base_url();
    let tmp = tempfile::tempdir().unwrap();
    let mut cases = committed_cases();
    cases.extend(generated_cases(tmp.path()));

    let before = server.state_snapshot();
    let failures = std::sync::Mutex::new(Vec::new());
    let chunks: Vec<&[Case]> = cases.chunks(cases.len().div_ceil(4)).collect();
    std::thread::scope(|s| {
        for chunk in chunks {
            let endpoint = &endpoint;
            let failures = &failures;
            s.spawn(move || {
                for case in chunk {
                    let r = std::panic::catch_unwind(|| {
                        let dir = case.path.parent().unwrap();
                        let file = case.path.to_string_lossy().into_owned();
                        let was = fingerprint(&case.path);
                        let v = gijctl(dir, &["validate", "-c", &file], &[]);
                        check(case, &v, "validate");
                        let p = gijctl(
                            dir,
                            &["plan", "-c", &file, "--endpoint", endpoint],
                            &[("GIJ_TOKEN", ADMIN)],
                        );
                        check(case, &p, "plan");
                        assert_eq!(was, fingerprint(&case.path), "{}: file changed", case.name);
                    });
                    if let Err(e) = r {
                        let msg = e
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                            .unwrap_or_default();
                        failures.lock().unwrap().push(msg);
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
    let stats = server.stats();
    assert_eq!(
        stats.total_requests, 0,
        "plan made API calls for a bad config: {:?}",
        stats.requests
    );
    assert_eq!(
        serde_json::to_value(before).unwrap(),
        serde_json::to_value(server.state_snapshot()).unwrap(),
        "the site changed"
    );
}

#[test]
fn the_closed_port_is_never_contacted_for_a_bad_config() {
    // Same guarantee without a server: a bad config fails on its own error, not a connection one.
    let case = root().join("tests/corpus/config/unknown-in-integration.toml");
    let out = gijctl(
        &root(),
        &[
            "plan",
            "-c",
            &case.to_string_lossy(),
            "--endpoint",
            "http://127.0.0.1:1",
        ],
        &[("GIJ_TOKEN", ADMIN)],
    );
    assert_clean_failure("closed port", &out);
    assert!(out.stderr.contains("unknown key `onwer`"), "{}", out.stderr);
    assert!(!out.stderr.contains("connect"), "{}", out.stderr);
}
