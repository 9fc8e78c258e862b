//! Renderings of a [`DriftReport`] (`gijctl drift`): text for cron logs, JSON for automation
//! (the document itself, `schema/drift.schema.json`), Markdown for an issue body.
//!
//! Also the value formatting shared with the three-way review ([`super::review`]).

use std::fmt::Write as _;

use serde_json::Value;

use super::section::{capped_rows, section};
use crate::plan::UnmanagedIntegration;
use crate::plan::drift::{DriftReport, Item, Subject};
use crate::plan::fields::toml_value;

/// The hidden marker of drift issues: the nightly job looks for an open issue carrying it and
/// comments there instead of opening a duplicate.
pub const MARKER: &str = "<!-- gijctl-drift -->";
/// Rows per Markdown section; the rest is counted (issue bodies are capped at 65,536 chars).
pub const MAX_ROWS: usize = 200;

/// How a value reads in a report: gij.toml syntax for fields, enabled/disabled for
/// repositories, present/absent for whole integrations, a fingerprint for credentials.
pub fn show(subject: &Subject, v: Option<&Value>) -> String {
    match (subject, v) {
        (Subject::Repository { .. }, Some(Value::Bool(true))) => "enabled".to_owned(),
        (Subject::Repository { .. }, Some(Value::Bool(false))) => "disabled".to_owned(),
        (Subject::Integration, Some(_)) => "present".to_owned(),
        (Subject::Integration, None) => "absent".to_owned(),
        (Subject::Credential, Some(Value::String(fp))) => format!("reference {fp}"),
        (Subject::Credential, Some(_)) => "new credential".to_owned(),
        (Subject::Credential, None) => "unknown (GIJ never returns credentials)".to_owned(),
        (_, Some(v)) => toml_value(v),
        (_, None) => "(left alone)".to_owned(),
    }
}

/// `key (#id)` or `key`.
pub fn who(key: &str, target_id: Option<u64>) -> String {
    match target_id {
        Some(id) if key != format!("#{id}") => format!("{key} (#{id})"),
        _ => key.to_owned(),
    }
}

fn item_line(i: &Item) -> String {
    match &i.detail {
        Some(d) => format!("{}  {}", who(&i.key, i.target_id), d),
        None => format!(
            "{}  {}: live {} -> config {}",
            who(&i.key, i.target_id),
            i.subject.label(),
            show(&i.subject, i.live.as_ref()),
            show(&i.subject, i.desired.as_ref())
        ),
    }
}

fn undeclared_line(u: &UnmanagedIntegration) -> String {
    format!(
        "#{} {} `{}` {:?} ({} repositories), suggested key `{}`",
        u.id,
        u.service,
        crate::escape::shown(&u.owner),
        u.display_name,
        u.repositories,
        u.suggested_key
    )
}

/// The one-line summary: `drift: 2 managed, 1 ignored, 0 undeclared`.
pub fn summary_line(r: &DriftReport) -> String {
    let s = &r.summary;
    format!(
        "drift: {} managed, {} ignored, {} undeclared",
        s.managed, s.ignored, s.undeclared
    )
}

fn undeclared_title(r: &DriftReport) -> &'static str {
    if r.prune {
        "Undeclared live integrations (`prune = true`: apply would delete them)"
    } else {
        "Undeclared live integrations (apply leaves them alone; `gijctl import` writes them)"
    }
}

/// The line of a report without drift: while integrations are still indexing, "the site
/// matches the config" would read as "done", so it says what is still running instead (the
/// exit code stays 0: indexing in progress is not drift).
pub fn no_drift_line(r: &DriftReport) -> String {
    match crate::plan::indexing::not_done_note(&r.indexing) {
        Some(note) => format!("No drift. {note}."),
        None => "No drift. The site matches the config.".to_owned(),
    }
}

/// Renders the report for a terminal or a cron log.
pub fn text(r: &DriftReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", summary_line(r));
    if let Some(scope) = &r.scope {
        let _ = writeln!(out, "{}", super::text::scope_line(scope));
    }
    for w in &r.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    if !r.indexing.is_empty() {
        let _ = writeln!(out, "\n{}:", super::STILL_INDEXING_TITLE);
        for s in &r.indexing {
            let sym = if s.progress.is_running() { "~" } else { "!" };
            let _ = writeln!(out, "  {sym} {}", super::still_indexing_line(s));
        }
    }
    if r.class().is_none() {
        let _ = writeln!(out, "\n{}", no_drift_line(r));
        return out;
    }
    section(
        &mut out,
        "Managed drift (apply would change these)",
        "~",
        &r.managed,
        item_line,
    );
    section(
        &mut out,
        "Ignored fields that differ from the config (apply leaves them alone)",
        ".",
        &r.ignored,
        item_line,
    );
    section(
        &mut out,
        undeclared_title(r),
        "?",
        &r.undeclared,
        undeclared_line,
    );
    out
}

/// The report as pretty JSON with a trailing newline.
pub fn json(r: &DriftReport) -> String {
    super::json::pretty(r)
}

/// The JSON Schema (draft-07) of the drift document.
pub fn schema() -> String {
    super::json::schema_of::<DriftReport>()
}

/// Escapes text for a Markdown table cell, list item or inline HTML (every Markdown rendering
/// uses it): no `|`, backtick, HTML or line break can leak out of its place.
pub fn cell(s: &str) -> String {
    // A line break ends a table row: it becomes a space; any other control or bidi character
    // is escaped (a cell often holds a server string).
    crate::escape::shown(&s.replace('\n', " "))
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "\\|")
        .replace('`', "'")
}

fn item_row(i: &Item) -> String {
    format!(
        "| `{}` | {} | `{}` | `{}` |",
        cell(&who(&i.key, i.target_id)),
        cell(&i.detail.clone().unwrap_or_else(|| i.subject.label())),
        cell(&show(&i.subject, i.live.as_ref())),
        cell(&show(&i.subject, i.desired.as_ref()))
    )
}

/// Renders the report as a Markdown issue body (starts with [`MARKER`]).
pub fn markdown(r: &DriftReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{MARKER}");
    let _ = writeln!(out, "### gijctl drift\n");
    let _ = writeln!(out, "**{}**\n", summary_line(r));
    if let Some(scope) = &r.scope {
        let _ = writeln!(out, "_{}_\n", super::text::scope_line(scope));
    }
    let _ = writeln!(out, "| Class | Count |\n|---|---:|");
    let s = &r.summary;
    let _ = writeln!(
        out,
        "| Managed drift (apply would change) | {} |",
        s.managed
    );
    let _ = writeln!(out, "| Ignored fields that differ | {} |", s.ignored);
    let _ = writeln!(out, "| Undeclared integrations | {} |\n", s.undeclared);
    for w in &r.warnings {
        let _ = writeln!(out, "- note: {}", cell(w));
    }
    if !r.indexing.is_empty() {
        let _ = writeln!(
            out,
            "#### {}\n\n| Integration | Indexing |\n|---|---|",
            super::STILL_INDEXING_TITLE
        );
        capped_rows(&mut out, &r.indexing, MAX_ROWS, "status", |s| {
            format!(
                "| `{}` | {} |",
                cell(&who(&s.key, Some(s.id))),
                cell(&super::progress_phrase(&s.progress))
            )
        });
    }
    if r.class().is_none() {
        let _ = writeln!(out, "{}", no_drift_line(r));
        return out;
    }
    let header = "| Integration | What | Live | Config |\n|---|---|---|---|";
    if !r.managed.is_empty() {
        let _ = writeln!(out, "#### Managed drift\n\n{header}");
        capped_rows(&mut out, &r.managed, MAX_ROWS, "drift", item_row);
    }
    if !r.ignored.is_empty() {
        let _ = writeln!(out, "#### Ignored fields that differ\n\n{header}");
        capped_rows(&mut out, &r.ignored, MAX_ROWS, "drift", item_row);
    }
    if !r.undeclared.is_empty() {
        let _ = writeln!(
            out,
            "#### {}\n\n| Id | Service | Owner | Name | Repositories | Suggested key |\n|---:|---|---|---|---:|---|",
            undeclared_title(r)
        );
        capped_rows(&mut out, &r.undeclared, MAX_ROWS, "drift", |u| {
            format!(
                "| {} | {} | `{}` | {} | {} | `{}` |",
                u.id,
                cell(&u.service),
                cell(&u.owner),
                cell(&u.display_name),
                u.repositories,
                cell(&u.suggested_key)
            )
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::PlanMeta;
    use crate::plan::testkit::quickstart;

    fn report() -> DriftReport {
        let (mut d, l) = quickstart();
        d.integrations[0]
            .ignore
            .insert(crate::model::Field::DisplayName);
        crate::plan::drift::drift(
            &d,
            &l,
            PlanMeta {
                gijctl_version: "0.0.0-test".into(),
                ..PlanMeta::default()
            },
        )
        .unwrap()
    }

    #[test]
    fn text_snapshot() {
        insta::assert_snapshot!(text(&report()));
    }

    #[test]
    fn markdown_snapshot() {
        let md = markdown(&report());
        assert!(md.starts_with(MARKER));
        insta::assert_snapshot!(md);
    }

    #[test]
    fn json_snapshot() {
        let v: serde_json::Value = serde_json::from_str(&json(&report())).unwrap();
        assert_eq!(v["format_version"], 1);
        insta::assert_json_snapshot!(v);
    }

    #[test]
    fn cells_cannot_break_the_table() {
        assert_eq!(cell("a|b<c>`\nd"), "a\\|b&lt;c&gt;' d");
        assert_eq!(cell("x\u{1b}[2J\u{202e}y"), "x\\u{1b}[2J\\u{202e}y");
    }

    /// Fails when `schema/drift.schema.json` is out of date; run with `GIJCTL_UPDATE_SCHEMA=1`.
    #[test]
    fn committed_schema_is_current() {
        crate::render::json::assert_schema_current("drift.schema.json", &schema(), "render::drift");
    }
}
