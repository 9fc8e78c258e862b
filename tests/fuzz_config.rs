//! Fuzzing the config loader with proptest (runs on stable; see docs/security.md#fuzzing).
//!
//! Whatever the input (arbitrary bytes, arbitrary text, or a valid gij.toml mutated by
//! deleting, duplicating and inserting hostile fragments), `config::load_str` and
//! `config::load` never panic, and a refusal always says where: every problem has a span
//! inside the source on character boundaries, and the rendered report names `file:line:col`.
//! `PROPTEST_CASES` raises the case count for long runs.

use gijctl::config::{ConfigErrors, load, load_str};
use proptest::prelude::*;

const VALID: &str = r#"#:schema ../schema/gijctl.schema.json
version = 1

[defaults]
projects = ["OPS"]
smart-commits = true

[apply]
max-parallel-indexing = 2
indexing-timeout = "1h30m"

[integrations.acme-github]
service = "github"
owner = "acme"
credential = "env:GITHUB_TOKEN"
display-name = "GitHub · acme"
repositories = { include = ["*"], exclude = ["legacy-*"] }
tags-filter = "v[0-9]+"
fetch-refspecs = ["+refs/pull/*:refs/remotes/pr/*"]

[integrations.platform-gitlab]
service = "gitlab-self-managed"
host = "https://gitlab.acme.internal"
owner = "platform"
credential = "file:tokens/gitlab.token"
projects = ["OPS", "WEB"]
ignore = ["display-name"]
order = 1
"#;

/// Fragments that break TOML or the schema in interesting ways.
const FRAGMENTS: &[&str] = &[
    "=",
    "[",
    "]",
    "[[integrations]]",
    "[integrations.acme-github]",
    "\"",
    "'''",
    "{",
    "}",
    ",",
    "\n",
    "version = 2\n",
    "owner = 5\n",
    "service = \"svn\"\n",
    "credential = \"ghp_0123456789abcdefghijklmnopqrstuvwxyzAB\"\n",
    "credential = \"file:../../etc/passwd\"\n",
    "projects = [\"ops\", \"OPS\"]\n",
    "host = \"http://user:pw@x\"\n",
    "tags-filter = \"([\"\n",
    "a.b.c.d.e = 1\n",
    "x = [[[[[[[[[[1]]]]]]]]]]\n",
    "x = {a={b={c={d={}}}}}\n",
    "d = 1979-05-27T07:32:00Z\n",
    "n = nan\n",
    "\u{0}",
    "\u{feff}",
    "é",
    "😀",
    "\r\n",
    "\t",
    "#",
];

fn check(
    src: &str,
    r: Result<gijctl::model::DesiredState, ConfigErrors>,
) -> Result<(), TestCaseError> {
    let Err(e) = r else { return Ok(()) };
    prop_assert!(e.count >= 1, "an error without problems");
    prop_assert_eq!(e.problems().len(), e.count);
    for p in e.problems() {
        let Some(span) = &p.span else {
            return Err(TestCaseError::fail(format!(
                "problem without a position: {}",
                p.message
            )));
        };
        prop_assert!(
            span.start <= span.end && span.end <= src.len(),
            "{span:?} outside {}",
            src.len()
        );
        prop_assert!(
            src.is_char_boundary(span.start) && src.is_char_boundary(span.end),
            "{span:?} splits a character"
        );
        prop_assert!(!p.message.is_empty());
    }
    prop_assert!(
        e.rendered
            .split("gij.toml:")
            .skip(1)
            .any(|rest| rest.starts_with(|c: char| c.is_ascii_digit())),
        "no file:line:col in\n{}",
        e.rendered
    );
    Ok(())
}

/// A valid file, mutated.
fn mutated() -> impl Strategy<Value = String> {
    let op = (
        0u8..4,
        any::<prop::sample::Index>(),
        any::<prop::sample::Index>(),
        0..FRAGMENTS.len(),
    );
    prop::collection::vec(op, 1..6).prop_map(|ops| {
        let mut s = VALID.to_owned();
        for (kind, a, b, f) in ops {
            let bounds: Vec<usize> = (0..=s.len()).filter(|i| s.is_char_boundary(*i)).collect();
            let (x, y) = (bounds[a.index(bounds.len())], bounds[b.index(bounds.len())]);
            let (lo, hi) = (x.min(y), x.max(y));
            // The end of a piece of at most `n` bytes from `lo`, on a character boundary.
            let cap = |n: usize| {
                let limit = hi.min(lo + n);
                bounds
                    .iter()
                    .copied()
                    .filter(|&e| e <= limit)
                    .max()
                    .unwrap_or(lo)
            };
            match kind {
                0 => s.replace_range(lo..cap(40), ""),
                1 => s.insert_str(lo, FRAGMENTS[f]),
                2 => {
                    let end = cap(80);
                    let piece = s[lo..end].to_owned();
                    s.insert_str(end, &piece);
                }
                _ => s.replace_range(lo..cap(10), FRAGMENTS[f]),
            }
        }
        s
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics_and_errors_have_positions(src in "\\PC{0,300}") {
        check(&src, load_str(&src, "gij.toml"))?;
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        check(&text, load_str(&text, "gij.toml"))?;
        // The file path: invalid UTF-8 is refused as a whole-file problem, with a message.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("gij.toml");
        std::fs::write(&p, &bytes).unwrap();
        if let Err(e) = load(&p) {
            prop_assert!(e.count >= 1 && !e.rendered.is_empty());
            if std::str::from_utf8(&bytes).is_err() {
                prop_assert!(e.rendered.contains("UTF-8"), "{}", e.rendered);
            }
        }
    }

    #[test]
    fn mutated_configs_never_panic_and_errors_have_positions(src in mutated()) {
        check(&src, load_str(&src, "gij.toml"))?;
    }
}

#[test]
fn the_unmutated_base_is_valid() {
    // Otherwise the mutation test would start from an error and prove less.
    if let Err(e) = load_str(VALID, "gij.toml") {
        panic!("{}", e.rendered);
    }
}
