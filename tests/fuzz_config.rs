//! Fuzzing the config loader with proptest (runs on stable; see docs/security.md#fuzzing).
//!
//! Whatever the input (arbitrary bytes, arbitrary text, or a valid gij.toml mutated by
//! deleting, duplicating and inserting hostile fragments), `config::load_str` and
//! `config::load` never panic, and a refusal always says where: every problem has a span
//! inside the source on character boundaries, and the rendered report names `file:line:col`.
//! Reports are bounded: no literal secret, no over-long line, at most twenty problems of a kind
//! (the rest counted), even for a fragment repeated hundreds of times.
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
    // Hostile input (issue 18): tokens outside values, lookalike names, oversized globs and keys.
    "# pasted ghp_SECRETVALUE0123456789abcdef\n",
    "github_pat_SECRETVALUE_0123 = 1\n",
    "[integrations.glpat-SECRETVALUE-abc]\n",
    "display-name = \"Do\\u200Bcs\"\n",
    "display-name = \"GitHub · acme\"\n",
    "repositories = { include = [\"{{{{{{{{{{a}}}}}}}}}}\"] }\n",
    LONG_KEY,
];

/// A key far longer than any message may echo.
const LONG_KEY: &str = concat!(
    "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk",
    "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk",
    "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk",
    "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk",
    "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk",
    "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk",
    " = 1\n"
);

/// Every literal secret in the fragments contains this right after its prefix.
const MARK: &str = "SECRETVALUE";

/// How many problems of one kind a report shows (`config::diagnostic::MAX_SHOWN_PER_KIND`).
const SHOWN_PER_KIND: usize = 20;

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
    check_bounded(&e)
}

/// The report is bounded whatever the input: no token, no line longer than a snippet line or a
/// shortened message, and at most [`SHOWN_PER_KIND`] problems of a kind, the rest counted in
/// one line per kind.
fn check_bounded(e: &ConfigErrors) -> Result<(), TestCaseError> {
    // A mutation may cut a token's prefix, after which it is no longer token-shaped: what must
    // never show is a prefix followed by the secret.
    for text in [e.rendered.clone(), e.render(true)] {
        for prefix in gijctl::secret::TOKEN_PREFIXES {
            let token = format!("{prefix}{MARK}");
            prop_assert!(!text.contains(&token), "a token was shown:\n{}", text);
        }
    }
    for line in e.rendered.lines() {
        prop_assert!(line.len() <= 1024, "a {}-byte line", line.len());
    }
    let mut kinds: std::collections::BTreeMap<&str, usize> = Default::default();
    for p in e.problems() {
        *kinds.entry(p.kind()).or_default() += 1;
    }
    let shown: usize = kinds.values().map(|n| (*n).min(SHOWN_PER_KIND)).sum();
    let summaries = kinds.values().filter(|n| **n > SHOWN_PER_KIND).count();
    let blocks = e.rendered.lines().filter(|l| l.starts_with("  × ")).count();
    prop_assert_eq!(blocks, shown + summaries, "blocks in\n{}", e.rendered);
    for (kind, n) in &kinds {
        if *n > SHOWN_PER_KIND {
            let line = format!("and {} more \"{kind}\" problems", n - SHOWN_PER_KIND);
            prop_assert!(e.rendered.contains(&line), "no `{}`", line);
        }
    }
    Ok(())
}

/// A valid file with one hostile fragment repeated up to 600 times at one place: repetition is
/// what made validation quadratic and its output unbounded.
fn repeated() -> impl Strategy<Value = String> {
    (
        0..FRAGMENTS.len(),
        1usize..600,
        any::<prop::sample::Index>(),
    )
        .prop_map(|(f, n, at)| {
            let mut s = VALID.to_owned();
            let lines: Vec<usize> = std::iter::once(0)
                .chain(s.match_indices('\n').map(|(i, _)| i + 1))
                .filter(|i| *i <= s.len())
                .collect();
            let at = lines[at.index(lines.len())];
            let mut piece = FRAGMENTS[f].to_owned();
            if !piece.ends_with('\n') {
                piece.push('\n');
            }
            // Distinct copies where a key would otherwise clash as a duplicate key.
            let copies: String = (0..n)
                .map(|i| piece.replacen(" = ", &format!("{i} = "), 1))
                .collect();
            s.insert_str(at, &copies);
            s
        })
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

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn repeated_fragments_give_bounded_reports(src in repeated()) {
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
