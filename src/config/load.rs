//! Reading gij.toml into [`ConfigFile`] while keeping every span, and collecting every
//! syntax error, type error and unknown key instead of stopping at the first.
//!
//! The document is parsed once into a spanned `DeTable`. Deserialization goes through
//! `serde_ignored` so unknown keys are collected (config-as-code must not drop a typo'd setting
//! silently). A type error aborts serde, so the offending key is removed from the table and
//! deserialization is retried: each round finds one more error, and the keys that failed are
//! remembered so that `validate` does not also report them as missing.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::ops::Range;
use std::path::Path;

use serde::Deserialize as _;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::diagnostic::Problem;
use super::model::ConfigFile;
use super::schema::{TableKind, known_keys};
use crate::secret::SecretRef;

/// Files larger than this are refused before parsing: no real gij.toml comes close.
pub const MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;

/// A key path inside the document, e.g. `["integrations", "acme", "owner"]`.
pub type KeyPath = Vec<String>;

/// Where each key and value of the document is.
#[derive(Debug, Default, Clone)]
pub struct Spans {
    /// Keyed by the path's segments joined with NUL (a key holding a control character is
    /// reported as an error by `check_strings`'s key walk, so a NUL inside a key can at worst
    /// misplace a snippet of a file that is already refused), so that an entry costs one string and a lookup one
    /// allocation: a path of owned segments cost three allocations per key of a
    /// 10,000-integration file, and as much again per lookup.
    entries: HashMap<String, (Range<usize>, Range<usize>)>,
    /// Start offset of each integration's key, for file order.
    pub whole: Range<usize>,
}

/// Separates path segments in [`Spans`] keys.
const SEP: char = '\0';

impl Spans {
    fn build(table: &Spanned<DeTable<'_>>) -> Spans {
        let mut s = Spans {
            entries: HashMap::new(),
            whole: table.span(),
        };
        let mut path = String::new();
        walk_table(table.get_ref(), &mut path, &mut s.entries);
        s
    }

    fn get(&self, path: &[&str]) -> Option<&(Range<usize>, Range<usize>)> {
        let mut joined = String::with_capacity(path.iter().map(|p| p.len() + 1).sum());
        for p in path {
            joined.push_str(p);
            joined.push(SEP);
        }
        self.entries.get(&joined)
    }

    /// The span of the key at `path` (for arrays, the element).
    pub fn key(&self, path: &[&str]) -> Option<Range<usize>> {
        self.get(path).map(|(k, _)| k.clone())
    }

    /// The span of the value at `path`.
    pub fn value(&self, path: &[&str]) -> Option<Range<usize>> {
        self.get(path).map(|(_, v)| v.clone())
    }

    /// The value span at `path`, else the nearest ancestor's key span, else the file start.
    pub fn best(&self, path: &[&str]) -> Range<usize> {
        for n in (1..=path.len()).rev() {
            if n == path.len() {
                if let Some(v) = self.value(&path[..n]) {
                    return v;
                }
            } else if let Some(k) = self.key(&path[..n]) {
                return k;
            }
        }
        0..0
    }
}

fn walk_table(
    t: &DeTable<'_>,
    path: &mut String,
    out: &mut HashMap<String, (Range<usize>, Range<usize>)>,
) {
    for (k, v) in t.iter() {
        let len = path.len();
        path.push_str(k.get_ref());
        path.push(SEP);
        out.insert(path.clone(), (k.span(), v.span()));
        walk_value(v, path, out);
        path.truncate(len);
    }
}

fn walk_value(
    v: &Spanned<DeValue<'_>>,
    path: &mut String,
    out: &mut HashMap<String, (Range<usize>, Range<usize>)>,
) {
    match v.get_ref() {
        DeValue::Table(t) => walk_table(t, path, out),
        DeValue::Array(a) => {
            for (i, item) in a.iter().enumerate() {
                let len = path.len();
                path.push_str(&i.to_string());
                path.push(SEP);
                out.insert(path.clone(), (item.span(), item.span()));
                walk_value(item, path, out);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// The result of reading and deserializing a file, before semantic validation.
#[derive(Debug, Default)]
pub struct Parsed {
    /// The file, leniently deserialized (keys with type errors removed).
    pub file: ConfigFile,
    /// Where everything is.
    pub spans: Spans,
    /// Keys whose values had the wrong type (already reported).
    pub failed: BTreeSet<KeyPath>,
    /// Problems found so far.
    pub problems: Vec<Problem>,
    /// Whether the TOML syntax itself is broken (validation is then skipped).
    pub syntax_broken: bool,
    /// The source with secret-looking values masked, for snippets.
    pub masked_source: String,
    /// Secret-looking values found in the file, to scrub from any message.
    pub secrets: Vec<String>,
}

/// The kernel's pseudo-file systems: their "files" are processes' memory and environment
/// (`/proc/self/environ` holds the API token), devices or pipes (`/dev/stdin`), never a
/// config or a token file. The same list as the `file:` credential policy.
pub(crate) const PSEUDO_FILE_ROOTS: [&str; 3] = ["/dev", "/proc", "/sys"];

/// Whether `path`, any symlink on the way to its target, or the target itself lies in a
/// pseudo-file system ([`PSEUDO_FILE_ROOTS`]). Each hop of a symlink chain is checked, not
/// only the end: `/dev/stdin` resolves through `/proc/self/fd/0` to whatever stdin is, which
/// may be an ordinary file elsewhere.
pub(crate) fn in_pseudo_fs(path: &Path) -> bool {
    let inside = |p: &Path| PSEUDO_FILE_ROOTS.iter().any(|r| p.starts_with(r));
    let absolute = |p: &Path| -> std::path::PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir().unwrap_or_default().join(p)
        }
    };
    let mut hop = absolute(path);
    // As many hops as the kernel follows before ELOOP.
    for _ in 0..40 {
        if inside(&hop) {
            return true;
        }
        // Symlinked directories on the way count too: canonicalise the parent.
        if let Some(parent) = hop.parent()
            && let Ok(real) = std::fs::canonicalize(parent)
            && inside(&real)
        {
            return true;
        }
        match std::fs::read_link(&hop) {
            Ok(target) => {
                let base = hop.parent().map(Path::to_path_buf).unwrap_or_default();
                hop = if target.is_absolute() {
                    target
                } else {
                    base.join(target)
                };
            }
            Err(_) => break,
        }
    }
    std::fs::canonicalize(path).is_ok_and(|c| inside(&c))
}

/// Reads the file, refusing what cannot be a config before opening it (directories, devices,
/// FIFOs, sockets, anything under `/dev`, `/proc` or `/sys`), then huge files and non-UTF-8
/// content, each with a clear error.
pub fn read_source(path: &Path) -> Result<String, Problem> {
    if in_pseudo_fs(path) {
        // Checked before `metadata`: `/proc/self/environ` is a "regular file" whose content
        // is the environment, API token included, and a syntax error would print a snippet.
        return Err(Problem::file(
            "the config path is not a regular file of yours: it points into /dev, /proc or /sys, \
             which hold no config files",
        )
        .help("pass a gij.toml file, e.g. `-c gij.toml`"));
    }
    let meta = std::fs::metadata(path).map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::NotFound {
            "create it (see examples/quickstart/gij.toml) or pass another file with `-c FILE`"
        } else {
            "check the path and its permissions"
        };
        Problem::file(format!("cannot read the config file: {}", io_reason(&e))).help(hint)
    })?;
    if meta.is_dir() {
        return Err(Problem::file("the config path is a directory, not a file")
            .help("pass the file itself, e.g. `-c dir/gij.toml`"));
    }
    if !meta.is_file() {
        // A device (`/dev/zero`), FIFO or socket would never end or block forever.
        return Err(Problem::file(
            "the config path is not a regular file (a device, FIFO or socket)",
        )
        .help("pass a gij.toml file"));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(Problem::file(format!(
            "the config file is {} bytes; gijctl refuses files larger than 10 MiB",
            meta.len()
        ))
        .help("is this the right file? a gij.toml is a few kilobytes"));
    }
    // Read through a cap as well: the file may have grown (or been swapped) since `metadata`.
    // The opened handle is checked again, as for token files: the path may have been swapped
    // for a device or a FIFO since `metadata`.
    let mut bytes = Vec::new();
    let file = std::fs::File::open(path)
        .map_err(|e| Problem::file(format!("cannot read the config file: {}", io_reason(&e))))?;
    if !file.metadata().is_ok_and(|m| m.is_file()) {
        return Err(Problem::file(
            "the config path is not a regular file (a device, FIFO or socket)",
        )
        .help("pass a gij.toml file"));
    }
    {
        use std::io::Read as _;
        file.take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| {
                Problem::file(format!("cannot read the config file: {}", io_reason(&e)))
            })?;
    }
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(Problem::file(
            "the config file grew past 10 MiB while it was read; gijctl refuses files larger than 10 MiB",
        ));
    }
    // A UTF-8 byte order mark (Windows editors add one) is not TOML: drop it, keeping offsets
    // meaningful for everything after it.
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        bytes.drain(..3);
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let line = bytes[..at].iter().filter(|b| **b == b'\n').count() + 1;
        Problem::file(format!(
            "the config file is not valid UTF-8 (line {line}, byte {at})"
        ))
        .help("TOML files must be UTF-8: re-save the file with UTF-8 encoding")
    })
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => e.to_string().to_lowercase(),
    }
}

/// Parses `source`; never panics on any input.
pub fn parse(source: &str) -> Parsed {
    let (doc, syntax_errors) = DeTable::parse_recoverable(source);
    let (masked_source, secrets) = mask_secrets(source, doc.get_ref());
    let mut out = Parsed {
        spans: Spans::build(&doc),
        masked_source,
        secrets,
        ..Parsed::default()
    };
    if !syntax_errors.is_empty() {
        out.syntax_broken = true;
        for e in syntax_errors {
            let span = e.span().unwrap_or(0..0);
            out.problems.push(
                Problem::at(
                    span,
                    "here",
                    format!("invalid TOML: {}", first_line(e.message())),
                )
                .help("fix the TOML syntax first; other checks run once the file parses"),
            );
        }
        return out;
    }

    check_strings(doc.get_ref(), &mut Vec::new(), &mut out.problems);

    let mut table = doc;
    let mut pruned = false;
    // A valid file deserializes in the first round. At the first type error every type error
    // is found at once (`prune_type_errors`), so the next round normally succeeds; the rounds
    // stay as the safety net for an error that pruning did not locate.
    for _ in 0..500 {
        let mut ignored: Vec<KeyPath> = Vec::new();
        let de = toml::de::Deserializer::from(table.clone());
        let result: Result<ConfigFile, toml::de::Error> =
            serde_ignored::deserialize(de, |p| ignored.push(path_of(&p)));
        match result {
            Ok(file) => {
                // Only the first few unknown keys are shown (`diagnostic::MAX_SHOWN_PER_KIND`),
                // so only they get a did-you-mean: comparing each of 500,000 generated keys
                // with every known key took most of a 10 MiB file's validation.
                let mut located: Vec<(Range<usize>, KeyPath)> = ignored
                    .into_iter()
                    .map(|p| {
                        let refs: Vec<&str> = p.iter().map(String::as_str).collect();
                        let at = out
                            .spans
                            .key(&refs)
                            .unwrap_or_else(|| out.spans.best(&refs));
                        (at, p)
                    })
                    .collect();
                located.sort_by_key(|(at, _)| at.start);
                for (i, (span, path)) in located.into_iter().enumerate() {
                    let suggest = i < super::diagnostic::MAX_SHOWN_PER_KIND;
                    out.problems.push(unknown_key(&path, span, suggest));
                }
                out.file = file;
                return out;
            }
            Err(_) if !pruned => {
                pruned = true;
                prune_type_errors(&mut table, &mut out);
            }
            Err(e) => {
                let span = e.span();
                let removed = span.clone().and_then(|s| remove_at(table.get_mut(), &s));
                out.problems
                    .push(type_problem(&e, removed.as_deref(), span));
                match removed {
                    Some(path) => {
                        out.failed.insert(path);
                    }
                    None => return out,
                }
            }
        }
    }
    out
}

/// Finds every type error and removes the key holding it from `doc`, recording the problem
/// and the key's path, at a cost linear in the document.
///
/// serde stops at the first error, and deserializing the whole document again after removing
/// each failing key cost the document's size per error: 100,000 integrations with a wrong
/// `owner` took over two minutes. Here a part that deserializes is done with; a part that does
/// not is split into its keys (the document into its tables, `[integrations]` into
/// integrations, an integration into its keys), each tried on its own, and only an
/// indivisible part (one key's value) is retried after each removal, at the cost of that value.
/// The messages are serde's own for the same value, so they read as before.
fn prune_type_errors(doc: &mut Spanned<DeTable<'_>>, out: &mut Parsed) {
    let whole = doc.span();
    let mut pending: Vec<KeyPath> = vec![Vec::new()];
    while let Some(unit) = pending.pop() {
        // The document (known to fail) and `[integrations]` (most of a large file) are split
        // without a try, which would cost a copy of them.
        let containers = unit.is_empty() || unit == ["integrations"];
        if containers && let Some(children) = split(doc.get_ref(), &unit) {
            pending.extend(children.into_iter().rev());
            continue;
        }
        let Some(mut part) = part_of(doc.get_ref(), &unit, &whole) else {
            continue;
        };
        if deserializes(&part) {
            continue;
        }
        if let Some(children) = split(doc.get_ref(), &unit) {
            // Reversed so that parts are tried, and problems found, in document order.
            pending.extend(children.into_iter().rev());
            continue;
        }
        for _ in 0..500 {
            let Err(e) = ConfigFile::deserialize(toml::de::Deserializer::from(part.clone())) else {
                break;
            };
            let span = e.span();
            let removed = span.clone().and_then(|s| remove_at(part.get_mut(), &s));
            // An error that names no key of the part (a table written as an array of tables)
            // drops the whole part, and the message names it.
            let path = removed.unwrap_or_else(|| unit.clone());
            out.problems.push(type_problem(&e, Some(&path), span));
            let whole_part = path == unit;
            out.failed.insert(path);
            if whole_part {
                break;
            }
        }
    }
    // Removed at the end, in one pass per table: a table's keys are kept in file order, so
    // removing one key shifts all those after it.
    if !out.failed.is_empty() {
        let mut prefixes: HashSet<&[String]> = HashSet::new();
        for f in &out.failed {
            for n in 1..f.len() {
                prefixes.insert(&f[..n]);
            }
        }
        remove_paths(doc.get_mut(), &mut Vec::new(), &out.failed, &prefixes);
    }
}

/// Removes every key of `failed` below `path` from `t`, descending only into the tables on the
/// way to one (`prefixes`).
fn remove_paths(
    t: &mut DeTable<'_>,
    path: &mut KeyPath,
    failed: &BTreeSet<KeyPath>,
    prefixes: &HashSet<&[String]>,
) {
    let old = std::mem::take(t);
    for (k, mut v) in old {
        path.push(k.get_ref().to_string());
        if !failed.contains(path) {
            if prefixes.contains(path.as_slice())
                && let DeValue::Table(inner) = v.get_mut()
            {
                remove_paths(inner, path, failed, prefixes);
            }
            t.insert(k, v);
        }
        path.pop();
    }
}

/// Whether `part` deserializes as a gij.toml (unknown keys are ignored here).
fn deserializes(part: &Spanned<DeTable<'_>>) -> bool {
    ConfigFile::deserialize(toml::de::Deserializer::from(part.clone())).is_ok()
}

/// The parts a failing part at `path` splits into: the keys of the document, of
/// `[integrations]`, of one integration, or of another top-level table; `None` for a key's
/// value, which is retried as a whole.
fn split(doc: &DeTable<'_>, path: &[String]) -> Option<Vec<KeyPath>> {
    let splittable = path.len() <= 1 || (path.len() == 2 && path[0] == "integrations");
    if !splittable {
        return None;
    }
    let mut t = doc;
    for p in path {
        match t.get(p.as_str()).map(|v| v.get_ref()) {
            Some(DeValue::Table(inner)) => t = inner,
            _ => return None,
        }
    }
    Some(
        t.iter()
            .map(|(k, _)| {
                let mut child = path.to_vec();
                child.push(k.get_ref().to_string());
                child
            })
            .collect(),
    )
}

/// A document holding only the key at `path` (and the tables leading to it, with their
/// spans), so that deserializing it checks that key alone; `None` if `path` is gone.
fn part_of<'i>(
    doc: &DeTable<'i>,
    path: &[String],
    whole: &Range<usize>,
) -> Option<Spanned<DeTable<'i>>> {
    let Some((first, rest)) = path.split_first() else {
        return Some(Spanned::new(whole.clone(), doc.clone()));
    };
    let (key, value) = doc.get_key_value(first.as_str())?;
    let inner = match rest.is_empty() {
        true => value.clone(),
        false => match value.get_ref() {
            DeValue::Table(t) => {
                let sub = part_of(t, rest, &value.span())?;
                Spanned::new(value.span(), DeValue::Table(sub.into_inner()))
            }
            _ => return None,
        },
    };
    let mut table = DeTable::new();
    table.insert(key.clone(), inner);
    Some(Spanned::new(whole.clone(), table))
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s).trim()
}

fn path_of(p: &serde_ignored::Path<'_>) -> KeyPath {
    let mut v = Vec::new();
    fn go(p: &serde_ignored::Path<'_>, v: &mut KeyPath) {
        match p {
            serde_ignored::Path::Root => {}
            serde_ignored::Path::Seq { parent, index } => {
                go(parent, v);
                v.push(index.to_string());
            }
            serde_ignored::Path::Map { parent, key } => {
                go(parent, v);
                v.push(key.clone());
            }
            serde_ignored::Path::Some { parent }
            | serde_ignored::Path::NewtypeStruct { parent }
            | serde_ignored::Path::NewtypeVariant { parent } => go(parent, v),
        }
    }
    go(p, &mut v);
    v
}

/// Removes the innermost key whose key or value contains `span`; returns its path.
///
/// Standard tables (`[a.b]`) have no contiguous span, so every table is searched.
fn remove_at(t: &mut DeTable<'_>, span: &Range<usize>) -> Option<KeyPath> {
    fn find(t: &DeTable<'_>, span: &Range<usize>) -> Option<KeyPath> {
        let contains = |r: Range<usize>| r.start <= span.start && span.end <= r.end;
        for (k, v) in t.iter() {
            if let DeValue::Table(inner) = v.get_ref()
                && v.span() != *span
                && let Some(mut sub) = find(inner, span)
            {
                sub.insert(0, k.get_ref().to_string());
                return Some(sub);
            }
        }
        t.iter()
            .find(|(k, v)| contains(k.span()) || contains(v.span()))
            .map(|(k, _)| vec![k.get_ref().to_string()])
    }
    let path = find(t, span)?;
    let (last, parents) = path.split_last()?;
    let mut cur = t;
    for p in parents {
        match cur.get_mut(p.as_str()).map(|v| v.get_mut()) {
            Some(DeValue::Table(inner)) => cur = inner,
            _ => return None,
        }
    }
    cur.remove(last.as_str())?;
    Some(path)
}

fn type_problem(
    e: &toml::de::Error,
    path: Option<&[String]>,
    span: Option<Range<usize>>,
) -> Problem {
    let msg = first_line(e.message()).to_owned();
    let where_ = path
        .map(|p| format!("`{}`: ", p.join(".")))
        .unwrap_or_default();
    let mut p = match span {
        Some(s) => Problem::at(s, "wrong value", format!("{where_}{msg}")),
        None => Problem::file(format!("{where_}{msg}")),
    };
    if let Some((got, expected)) = parse_unknown_variant(&msg) {
        p.message = format!("{where_}unknown value `{got}`");
        p.label = "unknown value".into();
        match did_you_mean(&got, expected.iter().map(String::as_str)) {
            Some(s) => p = p.help(format!("did you mean `{s}`?")),
            None => p = p.help(format!("use one of: {}", expected.join(", "))),
        }
    } else if msg.contains("expected a boolean") {
        p = p.help("write `true` or `false` without quotes");
    } else if msg.contains("expected i64") || msg.contains("expected an integer") {
        p = p.help("write a whole number without quotes");
    } else if msg.contains("expected a string") {
        p = p.help("quote the value: \"...\"");
    } else if msg.contains("expected a sequence") {
        p = p.help("write a list: [\"a\", \"b\"]");
    } else {
        p = p.help("see docs/config.md for the values this key accepts");
    }
    p
}

/// Splits serde's "unknown variant `x`, expected one of `a`, `b`" message.
fn parse_unknown_variant(msg: &str) -> Option<(String, Vec<String>)> {
    let rest = msg.strip_prefix("unknown variant `")?;
    let (got, rest) = rest.split_once('`')?;
    let expected = rest
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect::<Vec<_>>();
    Some((got.to_owned(), expected))
}

/// Strings longer than this are not compared as typos (see [`did_you_mean`]).
const MAX_TYPO_CHARS: usize = 64;

/// The closest candidate to `got`, if it is close enough to be a typo.
pub fn did_you_mean<'a>(got: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    // A typo is about as long as the word it misspells, and every candidate is short: a longer
    // string is no typo, and comparing it would cost its length times each candidate's (a
    // Damerau-Levenshtein table of a 1,000,000-character key is megabytes per candidate).
    if got.chars().count() > MAX_TYPO_CHARS {
        return None;
    }
    let norm = got.to_ascii_lowercase().replace('_', "-");
    candidates
        .map(|c| {
            let score = if c == norm {
                1.0
            } else {
                strsim::jaro_winkler(&norm, c).max(strsim::normalized_damerau_levenshtein(&norm, c))
            };
            (score, c)
        })
        .filter(|(s, _)| *s >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

fn table_kind(parent: &[String]) -> Option<TableKind> {
    let p: Vec<&str> = parent.iter().map(String::as_str).collect();
    Some(match p.as_slice() {
        [] => TableKind::Root,
        ["defaults"] => TableKind::Defaults,
        ["apply"] => TableKind::Apply,
        ["policy"] => TableKind::Policy,
        ["integrations", _] => TableKind::Integration,
        ["integrations", _, "repositories"] | ["defaults", "repositories"] => {
            TableKind::Repositories
        }
        _ => return None,
    })
}

/// The problem of the unknown key at `path` (whose key is at `span`); with `suggest`, its help names the key meant (did you mean,
/// or where the key belongs), else it points at the reference (the problem is only counted).
fn unknown_key(path: &[String], span: Range<usize>, suggest: bool) -> Problem {
    let (parent, key) = match path.split_last() {
        Some((k, parent)) => (parent, k.as_str()),
        None => (&[][..], ""),
    };
    let table = if parent.is_empty() {
        "the top level".to_owned()
    } else {
        // Each segment shortened: the path is not between backticks, and an integration key can
        // be as long as the file.
        let segments: Vec<String> = parent
            .iter()
            .map(|s| super::diagnostic::shorten(s, super::diagnostic::MAX_ECHO_CHARS))
            .collect();
        format!("[{}]", segments.join("."))
    };
    let mut p = Problem::at(
        span,
        "unknown key",
        format!("unknown key `{key}` in {table}"),
    );
    let Some(kind) = table_kind(parent) else {
        return p.help("remove it: this table takes no extra keys");
    };
    if !suggest {
        return p.help("see docs/config.md for every key");
    }
    let known = known_keys(kind);
    if let Some(s) = did_you_mean(key, known.iter().map(String::as_str)) {
        return p.help(format!("did you mean `{s}`?"));
    }
    // A key valid in another table: say where it belongs.
    let elsewhere = [
        TableKind::Integration,
        TableKind::Apply,
        TableKind::Defaults,
        TableKind::Root,
    ]
    .into_iter()
    .find(|k| *k != kind && known_keys(*k).iter().any(|x| x == key));
    if let Some(other) = elsewhere {
        let where_ = match other {
            TableKind::Integration => "each `[integrations.<key>]` table".to_owned(),
            TableKind::Root => "the top level of the file".to_owned(),
            o => format!("`{}`", o.header()),
        };
        return p.help(format!(
            "`{key}` cannot be set in {}: it belongs in {where_}",
            kind.header()
        ));
    }
    if kind == TableKind::Root {
        p.label = "unknown key".into();
        return p.help(format!(
            "the top level takes {}; integrations go under `[integrations.<key>]`",
            known.join(", ")
        ));
    }
    if known.len() <= 10 {
        p = p.help(format!("{} takes: {}", kind.header(), known.join(", ")));
    } else {
        p = p.help("see docs/config.md for every key");
    }
    p
}

/// Longest string value accepted anywhere (`api-path` and `api-filter` have the same limit):
/// longer values are mistakes or attacks, and would flood diagnostics.
pub const MAX_STRING_CHARS: usize = 2000;

/// Characters that must not appear in any value: C0/C1 controls (terminal escape sequences,
/// NUL) and the Unicode bidirectional controls that can make a reviewed value read differently
/// from what it is ("Trojan Source").
fn forbidden_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Refuses control characters, over-long strings and pasted tokens in every string value.
/// Credential values are left to `validate`, which explains references.
fn check_strings(t: &DeTable<'_>, path: &mut KeyPath, problems: &mut Vec<Problem>) {
    fn value(
        v: &Spanned<DeValue<'_>>,
        path: &mut KeyPath,
        problems: &mut Vec<Problem>,
        credential: bool,
    ) {
        match v.get_ref() {
            DeValue::String(s) => {
                let at = path.join(".");
                if let Some(c) = s.chars().find(|c| forbidden_char(*c)) {
                    problems.push(
                        Problem::at(
                            v.span(),
                            "control character",
                            format!(
                                "`{at}` contains a control character (U+{:04X})",
                                u32::from(c)
                            ),
                        )
                        .help("remove escape sequences and invisible characters from the value"),
                    );
                } else if s.chars().count() > MAX_STRING_CHARS {
                    problems.push(
                        Problem::at(
                            v.span(),
                            "too long",
                            format!(
                                "`{at}` is {} characters long; values are at most {MAX_STRING_CHARS}",
                                s.chars().count()
                            ),
                        )
                        .help("is this the intended value?"),
                    );
                } else if !credential && has_token_prefix(s) {
                    problems.push(
                        Problem::at(
                            v.span(),
                            "literal secret",
                            format!(
                                "`{at}` looks like a literal credential (a token was pasted here)"
                            ),
                        )
                        .help("remove it, and revoke the token if this file was shared; credentials go in `credential = \"env:NAME\"`"),
                    );
                }
            }
            DeValue::Array(a) => {
                for (i, item) in a.iter().enumerate() {
                    path.push(i.to_string());
                    value(item, path, problems, credential);
                    path.pop();
                }
            }
            DeValue::Table(t) => table(t, path, problems),
            _ => {}
        }
    }
    fn table(t: &DeTable<'_>, path: &mut KeyPath, problems: &mut Vec<Problem>) {
        for (k, v) in t.iter() {
            let key = k.get_ref();
            if let Some(c) = key.chars().find(|c| forbidden_char(*c)) {
                problems.push(Problem::at(
                    k.span(),
                    "control character",
                    format!(
                        "a key contains a control character (U+{:04X})",
                        u32::from(c)
                    ),
                ));
                continue;
            }
            if has_token_prefix(key) {
                // A key or table name that is a token: the file cannot be used, and plan
                // output would otherwise print the key.
                problems.push(
                    Problem::at(
                        k.span(),
                        "literal secret",
                        "a key looks like a literal credential (a token was pasted here)",
                    )
                    .help("remove it, and revoke the token if this file was shared; credentials go in `credential = \"env:NAME\"`"),
                );
                continue;
            }
            path.push(key.to_string());
            value(v, path, problems, key == "credential");
            path.pop();
        }
    }
    table(t, path, problems);
}

/// Keys whose values are credentials (or typos of `credential`), so their values are masked.
fn is_credential_key(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    ["credential", "token", "secret", "password", "passwd"]
        .iter()
        .any(|w| k.contains(w))
        || k == "pat"
        || near_credential(&k)
}

/// Whether a lowercase key is a typo of `credential` (normalised Damerau-Levenshtein
/// similarity of at least 0.6). Two cheap bounds come first, because a generated file has
/// hundreds of thousands of distinct keys: the distance is at least the length difference, and
/// at least the number of characters that `credential` does not have (each needs an edit).
fn near_credential(k: &str) -> bool {
    const WORD: &str = "credential";
    let longest = k.chars().count().max(WORD.len());
    // similarity = 1 - distance / longest >= 0.6  <=>  distance * 5 <= longest * 2
    let fits = |lower_bound: usize| lower_bound * 5 <= longest * 2;
    let foreign = k.chars().filter(|c| !WORD.contains(*c)).count();
    fits(longest - k.chars().count().min(WORD.len()))
        && fits(foreign)
        && strsim::normalized_damerau_levenshtein(k, WORD) >= 0.6
}

/// Well-known token prefixes that must never be echoed whatever key they sit under.
pub(crate) fn has_token_prefix(s: &str) -> bool {
    crate::secret::TOKEN_PREFIXES
        .iter()
        .any(|p| s.starts_with(p))
}

/// Characters a token may continue with after its prefix (base64 and base64url, which covers
/// every format in [`crate::secret::TOKEN_PREFIXES`]).
fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'+' | b'/' | b'=')
}

/// `text` with the part after the prefix of every token-shaped string replaced by `*`, byte
/// for byte (so spans into a masked source stay valid), wherever it is: a comment, a key, a
/// table name, a value or a message. Linear: one automaton pass over the text.
pub fn mask_tokens(text: &str) -> std::borrow::Cow<'_, str> {
    static PREFIXES: std::sync::LazyLock<aho_corasick::AhoCorasick> =
        std::sync::LazyLock::new(|| {
            aho_corasick::AhoCorasick::new(crate::secret::TOKEN_PREFIXES)
                .expect("the token prefixes build an automaton")
        });
    let bytes = text.as_bytes();
    let mut masked: Option<Vec<u8>> = None;
    for m in PREFIXES.find_iter(text) {
        let mut end = m.end();
        while end < bytes.len() && is_token_char(bytes[end]) {
            end += 1;
        }
        if end > m.end() {
            let out = masked.get_or_insert_with(|| bytes.to_vec());
            out[m.end()..end].fill(b'*');
        }
    }
    match masked {
        // Only ASCII bytes were replaced by ASCII bytes: still UTF-8.
        Some(out) => std::borrow::Cow::Owned(
            String::from_utf8(out).unwrap_or_else(|_| "*".repeat(text.len())),
        ),
        None => std::borrow::Cow::Borrowed(text),
    }
}

/// Whether a string is a URL with `user:password@` (a token pasted into `host`).
fn has_userinfo(s: &str) -> bool {
    let Some(i) = s.find("://") else {
        return false;
    };
    let rest = &s[i + 3..];
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    authority.contains('@')
}

/// Masks secret-looking string values in the source (same byte length, so spans stay valid)
/// and returns the values themselves, for scrubbing messages.
fn mask_secrets(source: &str, doc: &DeTable<'_>) -> (String, Vec<String>) {
    let mut found: Vec<(Range<usize>, String)> = Vec::new();
    // Keys repeat in every integration table; the fuzzy `credential` test per key was 2% of a
    // 10,000-integration plan until each distinct key was judged once.
    let mut judged: HashMap<String, bool> = HashMap::new();
    let mut credential_key = |k: &str| -> bool {
        if let Some(&b) = judged.get(k) {
            return b;
        }
        let b = is_credential_key(k);
        // Bounded: the keys that repeat are met early, and a generated file's hundreds of
        // thousands of distinct keys would only fill the map.
        if judged.len() < 4096 {
            judged.insert(k.to_owned(), b);
        }
        b
    };
    fn visit(
        v: &Spanned<DeValue<'_>>,
        under_credential: bool,
        found: &mut Vec<(Range<usize>, String)>,
        credential_key: &mut dyn FnMut(&str) -> bool,
    ) {
        match v.get_ref() {
            DeValue::String(s) => {
                let secretish = (under_credential && SecretRef::parse(s).is_err())
                    || has_token_prefix(s)
                    || s.strip_prefix("env:").is_some_and(has_token_prefix)
                    || has_userinfo(s);
                if secretish && !s.is_empty() {
                    found.push((v.span(), s.to_string()));
                }
            }
            DeValue::Array(a) => {
                for item in a.iter() {
                    visit(item, under_credential, found, credential_key);
                }
            }
            DeValue::Table(t) => {
                for (k, item) in t.iter() {
                    let c = credential_key(k.get_ref());
                    visit(item, c, found, credential_key);
                }
            }
            _ => {}
        }
    }
    for (k, v) in doc.iter() {
        let c = credential_key(k.get_ref());
        visit(v, c, &mut found, &mut credential_key);
    }
    let mut bytes = source.as_bytes().to_vec();
    for (span, _) in &found {
        // Keep the quotes so the snippet still reads as a string.
        let inner = (span.start + 1)..span.end.saturating_sub(1);
        if inner.start < inner.end && inner.end <= bytes.len() {
            for b in &mut bytes[inner] {
                *b = b'*';
            }
        }
    }
    let masked = String::from_utf8(bytes).unwrap_or_else(|_| "*".repeat(source.len()));
    // Tokens outside string values (a comment, a key, a table name) are masked too.
    let masked = mask_tokens(&masked).into_owned();
    let mut values: Vec<String> = found.into_iter().map(|(_, s)| s).collect();
    values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    values.dedup();
    (masked, values)
}

/// Replaces every secret-looking value in `text` with asterisks, and masks token-shaped
/// strings ([`mask_tokens`]).
pub fn scrub(text: &str, secrets: &[String]) -> String {
    Scrubber::new(secrets).scrub(text)
}

/// Masks a file's secret-looking values in any text, built once per file: replacing each value
/// in turn cost values × text, which a file of 100,000 pasted tokens turned into hours. One
/// automaton finds every value in one pass, the longest first where they overlap.
pub struct Scrubber {
    values: Option<aho_corasick::AhoCorasick>,
}

impl Scrubber {
    /// A scrubber for `secrets` (values shorter than 4 characters are not masked: they would
    /// mask ordinary words).
    pub fn new(secrets: &[String]) -> Scrubber {
        let long: Vec<&str> = secrets
            .iter()
            .map(String::as_str)
            .filter(|s| s.len() >= 4)
            .collect();
        let values = (!long.is_empty())
            .then(|| {
                aho_corasick::AhoCorasick::builder()
                    .match_kind(aho_corasick::MatchKind::LeftmostLongest)
                    .build(&long)
                    .ok()
            })
            .flatten();
        Scrubber { values }
    }

    /// `text` with every value replaced by `********` and token-shaped strings masked.
    pub fn scrub(&self, text: &str) -> String {
        let replaced = match &self.values {
            Some(ac) => {
                let mut out = String::with_capacity(text.len());
                ac.replace_all_with(text, &mut out, |_, _, dst| {
                    dst.push_str("********");
                    true
                });
                out
            }
            None => text.to_owned(),
        };
        mask_tokens(&replaced).into_owned()
    }

    /// `p` with its message, labels and help scrubbed.
    pub fn scrub_problem(&self, p: &Problem) -> Problem {
        Problem {
            message: self.scrub(&p.message),
            span: p.span.clone(),
            label: self.scrub(&p.label),
            related: p
                .related
                .iter()
                .map(|(r, l)| (r.clone(), self.scrub(l)))
                .collect(),
            help: p.help.as_deref().map(|h| self.scrub(h)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_every_type_error() {
        let p = parse(
            "version = 1\n[integrations.a]\nservice = \"github\"\nowner = 5\nenabled = \"yes\"\n",
        );
        assert_eq!(p.problems.len(), 2, "{:?}", p.problems);
        assert!(
            p.failed
                .contains(&vec!["integrations".into(), "a".into(), "owner".into()])
        );
        assert!(
            p.failed
                .contains(&vec!["integrations".into(), "a".into(), "enabled".into()])
        );
        let a = &p.file.integrations.as_ref().unwrap()["a"];
        assert!(a.service.is_some());
    }

    #[test]
    fn unknown_keys_suggest_the_right_one() {
        let p = parse("version = 1\n[integrations.a]\nservice = \"github\"\nonwer = \"x\"\n");
        assert_eq!(p.problems.len(), 1);
        assert_eq!(p.problems[0].help.as_deref(), Some("did you mean `owner`?"));
        let p = parse("version = 1\n[defaults]\nservice = \"github\"\n");
        assert!(
            p.problems[0]
                .help
                .as_deref()
                .unwrap()
                .contains("belongs in")
        );
    }

    #[test]
    fn unknown_service_suggests() {
        let p = parse("version = 1\n[integrations.a]\nservice = \"githb\"\n");
        assert_eq!(
            p.problems[0].help.as_deref(),
            Some("did you mean `github`?")
        );
    }

    #[test]
    fn syntax_errors_do_not_panic() {
        for src in [
            "[",
            "a = ",
            "x = \"unterminated",
            "[[a]]\n[a]",
            "= 1",
            "a.b = 1\na = 2",
        ] {
            let p = parse(src);
            assert!(!p.problems.is_empty(), "{src}");
        }
    }

    #[test]
    fn masks_literal_credentials_keeping_offsets() {
        let src = "credential = \"hunter2hunter2\"\nx = \"env:OK\"\n";
        let p = parse(src);
        assert_eq!(p.masked_source.len(), src.len());
        assert!(!p.masked_source.contains("hunter2"));
        assert!(p.masked_source.contains("env:OK"));
        assert_eq!(scrub("got hunter2hunter2!", &p.secrets), "got ********!");
    }
}
