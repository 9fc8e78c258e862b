//! Renderings of a [`Runbook`]: a Markdown checklist for pull requests and issues, plain text
//! for terminals, JSON for automation. Pure functions; the caller picks where output goes.

use std::fmt::Write as _;

use super::{Runbook, Step, StepStatus};

/// The hidden marker a CI bot can look for to update its own comment.
pub const MARKER: &str = "<!-- gijctl-runbook -->";

/// Keeps config-derived text (display names, owners) from becoming HTML in a PR comment.
fn md_safe(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Drops Markdown emphasis for terminals.
fn plain(s: &str) -> String {
    s.replace("**", "")
}

fn header_line(r: &Runbook) -> String {
    format!(
        "GIJ {} · config {} · state: {} · at most {} initial indexing(s) at a time",
        r.edition.label(),
        r.config,
        r.state,
        r.max_parallel_indexing
    )
}

fn progress_line(r: &Runbook) -> Option<String> {
    let against = r.checked_against.as_deref()?;
    let (done, open, unverifiable) = r.progress();
    let mut s = format!("Checked against {against}: {done} done, {open} open");
    if unverifiable > 0 {
        s.push_str(&format!(
            ", {unverifiable} to confirm by hand (the state cannot show them)"
        ));
    }
    Some(s)
}

const EMPTY: &str = "Nothing to do: the site already matches the config.";

fn status_suffix(s: &Step) -> &'static str {
    match s.status {
        Some(StepStatus::Unverifiable) => " _(confirm by hand: the state cannot show it)_",
        _ => "",
    }
}

/// The Markdown checklist (`- [ ]` items; `- [x]` for steps `--check` found done).
pub fn markdown(r: &Runbook) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{MARKER}");
    let _ = writeln!(out, "# GIJ runbook\n");
    let _ = writeln!(out, "{}\n", md_safe(&header_line(r)));
    if let Some(p) = progress_line(r) {
        let _ = writeln!(out, "**{}**\n", md_safe(&p));
    }
    if r.is_empty() {
        let _ = writeln!(out, "{EMPTY}");
    } else {
        let _ = writeln!(
            out,
            "Do the steps in order and tick each box when done; `gijctl runbook --check` ticks \
             what it can read from the site. Secrets are never shown: each credential step names \
             the reference to read the value from.\n"
        );
    }
    for sec in &r.sections {
        let _ = writeln!(out, "## {}\n", md_safe(&sec.title));
        for s in &sec.steps {
            let mark = if s.status == Some(StepStatus::Done) {
                "x"
            } else {
                " "
            };
            let _ = writeln!(
                out,
                "- [{mark}] **{}.** {}{}",
                s.number,
                md_safe(&s.title),
                status_suffix(s)
            );
            for d in &s.details {
                let _ = writeln!(out, "  - {}", md_safe(d));
            }
        }
        let _ = writeln!(out);
    }
    if !r.notes.is_empty() {
        let _ = writeln!(out, "## Notes\n");
        for n in &r.notes {
            let _ = writeln!(out, "- {}", md_safe(n));
        }
        let _ = writeln!(out);
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// Plain text for terminals (`[ ]`/`[x]` boxes, no Markdown syntax).
pub fn text(r: &Runbook) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "GIJ runbook");
    let _ = writeln!(out, "{}", header_line(r));
    if let Some(p) = progress_line(r) {
        let _ = writeln!(out, "{p}");
    }
    if r.is_empty() {
        let _ = writeln!(out, "\n{EMPTY}");
    }
    for sec in &r.sections {
        let _ = writeln!(out, "\n== {} ==", sec.title);
        for s in &sec.steps {
            let mark = match s.status {
                Some(StepStatus::Done) => "[x]",
                Some(StepStatus::Unverifiable) => "[?]",
                _ => "[ ]",
            };
            let _ = writeln!(out, "{mark} {:>2}. {}", s.number, plain(&s.title));
            for d in &s.details {
                let _ = writeln!(out, "        - {}", plain(d));
            }
        }
    }
    if !r.notes.is_empty() {
        let _ = writeln!(out, "\nNotes:");
        for n in &r.notes {
            let _ = writeln!(out, "  - {n}");
        }
    }
    out
}

/// The runbook as pretty JSON with a trailing newline.
pub fn json(r: &Runbook) -> String {
    let mut s = serde_json::to_string_pretty(r).unwrap_or_default();
    s.push('\n');
    s
}
