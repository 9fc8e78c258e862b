//! Canonical formatting of gij.toml with toml_edit, keeping every comment.
//!
//! Canonical form keeps pull-request diffs minimal: keys in a fixed order inside each table
//! (unknown keys after the known ones, in their original order), tables left in file order
//! (file order is the apply order), bare keys where possible, strings, numbers and booleans in
//! their default spelling, `key = value` with single spaces, short arrays on one line and long
//! or commented arrays one element per line, one blank line before each table header and
//! before each commented key (except the first in a table), no trailing whitespace, one final
//! newline. Formatting is idempotent: `format(format(x)) == format(x)`.

use toml_edit::{Array, DocumentMut, InlineTable, Item, RawString, Table, Value};

/// Lines longer than this put arrays one element per line.
const MAX_WIDTH: usize = 100;

/// Canonical key order per table. Keys not listed sort after, in their original order.
const ROOT_ORDER: &[&str] = &["version", "defaults", "apply", "integrations"];
const INTEGRATION_ORDER: &[&str] = &[
    "service",
    "host",
    "owner",
    "auth",
    "credential",
    "username",
    "aws-region",
    "display-name",
    "order",
    "id",
    "projects",
    "repositories",
    "enabled",
    "require-user-pat",
    "smart-commits",
    "repository-browser",
    "diff-viewing",
    "revision-indexing",
    "commit-emails",
    "commit-email-max-age-minutes",
    "tags-filter",
    "pr-hide-filter",
    "ssl-verify",
    "trust-folder-stat",
    "fetch-notes",
    "fetch-changes",
    "fetch-refspecs",
    "api-path",
    "api-filter",
    "ignore",
    "allow-replace",
];
const APPLY_ORDER: &[&str] = &[
    "max-parallel-indexing",
    "indexing-timeout",
    "on-timeout",
    "prune",
    "max-deletes",
    "max-delete-percent",
    "max-update-percent",
    "min-existing-for-percent",
];
const REPOSITORIES_ORDER: &[&str] = &["include", "exclude"];

/// Formats gij.toml text canonically. Fails only when the TOML syntax is invalid.
pub fn format(source: &str) -> Result<String, toml_edit::TomlError> {
    let mut doc: DocumentMut = source.parse()?;
    format_table(doc.as_table_mut(), &[], true);
    let trailing = comments_of(doc.trailing().as_str().unwrap_or_default());
    let trailing = if trailing.is_empty() {
        String::new()
    } else {
        format!("\n{trailing}")
    };
    doc.set_trailing(trailing);
    let mut out = doc.to_string();
    // Strip leading blank lines and end with exactly one newline.
    let start = out.len() - out.trim_start_matches('\n').len();
    out.drain(..start);
    let end = out.trim_end().len();
    out.truncate(end);
    out.push('\n');
    Ok(out)
}

/// Whether the text is already canonical (invalid TOML is not).
pub fn is_canonical(source: &str) -> bool {
    format(source).is_ok_and(|f| f == source)
}

fn order_for(path: &[String]) -> &'static [&'static str] {
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    match p.as_slice() {
        [] => ROOT_ORDER,
        ["defaults"] | ["integrations", _] => INTEGRATION_ORDER,
        ["apply"] => APPLY_ORDER,
        ["defaults", "repositories"] | ["integrations", _, "repositories"] => REPOSITORIES_ORDER,
        _ => &[],
    }
}

fn rank(order: &[&str], key: &str) -> usize {
    order.iter().position(|k| *k == key).unwrap_or(order.len())
}

/// Splits the decor before an item into whether it starts with a blank line, and the rest:
/// comment lines trimmed, runs of blank lines collapsed to one (a blank line between the
/// comments and the item is kept as written).
fn lines_of(raw: &str) -> (bool, String) {
    let mut parts: Vec<&str> = raw.split('\n').collect();
    // The last part is the indentation before the item itself.
    parts.pop();
    let mut leading_blank = false;
    let mut body = String::new();
    let mut pending_blank = false;
    let mut seen_comment = false;
    for l in parts {
        let l = l.trim();
        if l.starts_with('#') {
            if pending_blank {
                body.push('\n');
            }
            pending_blank = false;
            seen_comment = true;
            body.push_str(l);
            body.push('\n');
        } else if seen_comment {
            pending_blank = true;
        } else {
            leading_blank = true;
        }
    }
    if pending_blank {
        body.push('\n');
    }
    (leading_blank, body)
}

/// The comment lines of a decor string, each trimmed and ending with a newline.
fn comments_of(raw: &str) -> String {
    raw.lines()
        .map(str::trim)
        .filter(|l| l.starts_with('#'))
        .map(|l| format!("{}\n", l.trim_end()))
        .collect()
}

fn raw(r: Option<&RawString>) -> &str {
    r.and_then(RawString::as_str).unwrap_or_default()
}

fn format_table(t: &mut Table, path: &[String], is_root: bool) {
    let order = order_for(path);
    t.sort_values_by(|k1, _, k2, _| rank(order, k1.get()).cmp(&rank(order, k2.get())));

    // Header decor: a blank line, the comments above it, and a trailing comment if any.
    if !is_root && !t.is_implicit() && !t.is_dotted() {
        let (_, body) = lines_of(raw(t.decor().prefix()));
        let suffix = trailing_comment(raw(t.decor().suffix()));
        t.decor_mut().set_prefix(format!("\n{body}"));
        t.decor_mut().set_suffix(suffix);
    }

    let mut first_value = true;
    for (mut key, item) in t.iter_mut() {
        let name = key.get().to_owned();
        let mut child_path = path.to_vec();
        child_path.push(name.clone());
        match item {
            Item::Value(v) => {
                let (leading_blank, body) = lines_of(raw(key.leaf_decor().prefix()));
                key.fmt();
                let blank = if leading_blank && !first_value {
                    "\n"
                } else {
                    ""
                };
                key.leaf_decor_mut().set_prefix(format!("{blank}{body}"));
                key.leaf_decor_mut().set_suffix(" ");
                let width = name.len() + 3;
                format_value(v, &child_path, width, false);
                let suffix = trailing_comment(raw(v.decor().suffix()));
                v.decor_mut().set_prefix(" ");
                v.decor_mut().set_suffix(suffix);
                first_value = false;
            }
            Item::Table(sub) => {
                // Header keys: bare where possible, no inner whitespace.
                if !sub.is_dotted() {
                    key.fmt();
                }
                format_table(sub, &child_path, false);
            }
            Item::ArrayOfTables(arr) => {
                for sub in arr.iter_mut() {
                    format_table(sub, &child_path, false);
                }
            }
            Item::None => {}
        }
    }
}

/// ` # comment` from a value or header suffix, or nothing.
fn trailing_comment(suffix: &str) -> String {
    match suffix.find('#') {
        Some(i) => format!(" {}", suffix[i..].trim_end()),
        None => String::new(),
    }
}

fn format_value(v: &mut Value, path: &[String], indent_width: usize, inline: bool) {
    let decor = v.decor().clone();
    match v {
        Value::String(s) => {
            let val = s.value().clone();
            *v = Value::from(val);
        }
        Value::Integer(i) => {
            let val = *i.value();
            *v = Value::from(val);
        }
        Value::Float(f) => {
            let val = *f.value();
            *v = Value::from(val);
        }
        Value::Boolean(b) => {
            let val = *b.value();
            *v = Value::from(val);
        }
        Value::Datetime(_) => {}
        Value::Array(a) => format_array(a, path, indent_width, inline),
        Value::InlineTable(t) => format_inline_table(t, path),
    }
    *v.decor_mut() = decor;
}

fn array_has_comments(a: &Array) -> bool {
    a.iter()
        .any(|e| raw(e.decor().prefix()).contains('#') || raw(e.decor().suffix()).contains('#'))
        || raw(Some(a.trailing())).contains('#')
}

fn format_array(a: &mut Array, path: &[String], indent_width: usize, inline: bool) {
    let commented = array_has_comments(a);
    // Remember the comments before each element and after the last one.
    let before: Vec<String> = a
        .iter()
        .map(|e| comments_of(raw(e.decor().prefix())))
        .collect();
    let after: Vec<String> = a
        .iter()
        .map(|e| trailing_comment(raw(e.decor().suffix())))
        .collect();
    let tail = comments_of(raw(Some(a.trailing())));
    for e in a.iter_mut() {
        format_value(e, path, 0, true);
    }
    // Single-line candidate.
    for (i, e) in a.iter_mut().enumerate() {
        e.decor_mut().set_prefix(if i == 0 { "" } else { " " });
        e.decor_mut().set_suffix("");
    }
    a.set_trailing_comma(false);
    a.set_trailing("");
    let single = a.to_string();
    let fits = indent_width + single.len() <= MAX_WIDTH && !single.contains('\n');
    if ((fits || inline) && !commented) || a.is_empty() {
        return;
    }
    for (i, e) in a.iter_mut().enumerate() {
        let comments: String = before[i].lines().map(|l| format!("\n    {l}")).collect();
        e.decor_mut().set_prefix(format!("{comments}\n    "));
        // Element suffix comments would swallow the comma; keep them before the next element.
        e.decor_mut().set_suffix("");
    }
    let mut trailing: String = String::new();
    for (i, c) in after.iter().enumerate() {
        if !c.is_empty() {
            // Move end-of-line comments of elements to the line after their element.
            let _ = i;
            trailing.push_str(&format!("\n   {c}"));
        }
    }
    for l in tail.lines() {
        trailing.push_str(&format!("\n    {l}"));
    }
    trailing.push('\n');
    a.set_trailing_comma(true);
    a.set_trailing(trailing);
}

fn format_inline_table(t: &mut InlineTable, path: &[String]) {
    let order = order_for(path);
    t.sort_values_by(|k1, _, k2, _| rank(order, k1.get()).cmp(&rank(order, k2.get())));
    for (mut key, v) in t.iter_mut() {
        let mut child = path.to_vec();
        child.push(key.get().to_owned());
        key.fmt();
        format_value(v, &child, 0, true);
    }
    t.fmt();
}

#[cfg(test)]
mod tests {
    use super::*;

    const MESSY: &str = r#"#:schema ../../schema/gijctl.schema.json

version=1
[integrations."acme-github"]
# the token lives in a file
credential =   'file:tokens/github.token'   # keep out of git
owner    = "acme"
service = "github"
projects = [ "OPS",
  "WEB" ]
repositories = {exclude=["legacy-*"],include=["*"]}
  [apply]
prune=false
max-parallel-indexing = 0x2
"#;

    #[test]
    fn formats_canonically_and_keeps_comments() {
        let out = format(MESSY).unwrap();
        insta::assert_snapshot!(out, @r##"
        #:schema ../../schema/gijctl.schema.json

        version = 1

        [integrations.acme-github]
        service = "github"
        owner = "acme"
        # the token lives in a file
        credential = "file:tokens/github.token" # keep out of git
        projects = ["OPS", "WEB"]
        repositories = { include = ["*"], exclude = ["legacy-*"] }

        [apply]
        max-parallel-indexing = 2
        prune = false
        "##);
    }

    #[test]
    fn is_idempotent() {
        let once = format(MESSY).unwrap();
        assert_eq!(format(&once).unwrap(), once);
        assert!(is_canonical(&once));
        assert!(!is_canonical(MESSY));
    }

    #[test]
    fn long_and_commented_arrays_go_multiline() {
        let src = "ignore = [\n  # why\n  \"projects\", \"enabled\"]\nx = [\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaa\", \"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\", \"cccccccccccccccccccccccccccccccccc\"]\n";
        let out = format(src).unwrap();
        assert!(
            out.contains("ignore = [\n    # why\n    \"projects\",\n    \"enabled\",\n]"),
            "{out}"
        );
        assert!(out.contains("x = [\n    \"aaaa"), "{out}");
        assert_eq!(format(&out).unwrap(), out);
    }

    #[test]
    fn invalid_toml_is_an_error() {
        assert!(format("a = ").is_err());
    }
}

#[cfg(test)]
mod props {
    use proptest::prelude::*;

    /// TOML-ish fragments, so that many generated inputs parse.
    fn doc() -> impl Strategy<Value = String> {
        let line = prop_oneof![
            Just("version = 1".to_owned()),
            Just("[integrations.a]".to_owned()),
            Just("[apply]".to_owned()),
            Just("# note".to_owned()),
            Just(String::new()),
            Just("  owner='x'   # c".to_owned()),
            Just("service = \"github\"".to_owned()),
            Just("projects = [\"A\",\n # k\n \"B\" ]".to_owned()),
            Just("repositories={include=[\"*\"]}".to_owned()),
            Just("zzz = 0x1F".to_owned()),
            "[a-z]{1,6} = [0-9]{1,3}",
        ];
        proptest::collection::vec(line, 0..12).prop_map(|v| v.join("\n"))
    }

    proptest! {
        #[test]
        fn format_is_idempotent_and_loading_never_panics(src in doc()) {
            let _ = crate::config::load_str(&src, "gij.toml");
            if let Ok(once) = super::format(&src) {
                prop_assert_eq!(super::format(&once).ok(), Some(once.clone()));
                let a: Result<toml::Table, _> = toml::from_str(&src);
                let b: Result<toml::Table, _> = toml::from_str(&once);
                prop_assert_eq!(a.ok(), b.ok(), "formatting keeps the meaning");
            }
        }
    }
}
