//! Renderings of the three-way [`Review`] (`gijctl review`): text, JSON
//! (`schema/review.schema.json`) and Markdown as one pull-request comment.
//!
//! The Markdown starts with the same hidden marker as `gijctl plan --format markdown`, so a CI
//! job that switches from one to the other keeps updating the same comment.

use std::fmt::Write as _;

use super::drift::{cell, show, who};
use super::section::{capped_rows, section};
use crate::plan::review::{Adoption, Review, ReviewItem};

/// Rows per Markdown section; GitHub caps comments at 65,536 characters.
pub const MAX_ROWS: usize = 150;

/// `review: 2 change(s) by this pull request, 1 pre-existing drift, 1 conflict(s), ...`.
pub fn summary_line(r: &Review) -> String {
    let s = &r.summary;
    format!(
        "review: {} change(s) by this pull request, {} pre-existing drift, {} conflict(s), {} adopted drift, {} rotation(s)",
        s.changes, s.drift, s.conflicts, s.adoptions, s.rotations
    )
}

/// The title of the adoptions section, the same in text and Markdown.
const ADOPTIONS_TITLE: &str = "Adopts drift (this pull request accepts what was changed on the \
                               site by hand; apply after merge leaves it)";

fn adoption_line(a: &Adoption) -> String {
    format!(
        "{}  {}: live {} stays, base asked for {} ({})",
        who(&a.key, a.target_id),
        a.subject.label(),
        show(&a.subject, a.live.as_ref()),
        show(&a.subject, a.base.as_ref()),
        a.adopted_by.describe()
    )
}

fn change_line(i: &ReviewItem) -> String {
    let what = format!(
        "{}: {} -> {}",
        i.subject.label(),
        show(&i.subject, i.base.as_ref().or(i.live.as_ref())),
        show(&i.subject, i.head.as_ref())
    );
    match &i.detail {
        Some(d) => format!("{}  {what} ({d})", who(&i.key, i.target_id)),
        None => format!("{}  {what}", who(&i.key, i.target_id)),
    }
}

fn three_line(i: &ReviewItem) -> String {
    let mut s = format!(
        "{}  {}: live {}, base {}, head {}",
        who(&i.key, i.target_id),
        i.subject.label(),
        show(&i.subject, i.live.as_ref()),
        show(&i.subject, i.base.as_ref()),
        show(&i.subject, i.head.as_ref())
    );
    if let Some(d) = &i.detail {
        let _ = write!(s, " ({d})");
    }
    s
}

/// Renders the review for a terminal or a CI log.
pub fn text(r: &Review) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", summary_line(r));
    let _ = writeln!(out, "base: {}", r.base_config);
    for w in &r.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    section(
        &mut out,
        "Conflicts (this pull request edits something that drifted on the site)",
        "!",
        &r.conflicts,
        three_line,
    );
    section(
        &mut out,
        "Changes this pull request makes",
        "~",
        &r.changes,
        change_line,
    );
    section(&mut out, ADOPTIONS_TITLE, "=", &r.adoptions, adoption_line);
    section(
        &mut out,
        "Drift already there (not caused by this pull request; apply after merge reverts it too)",
        ".",
        &r.drift,
        three_line,
    );
    section(
        &mut out,
        "Credential rotations (reference fingerprints)",
        "",
        &r.rotations,
        |rot| {
            format!(
                "{}: {} -> {}",
                who(&rot.key, rot.target_id),
                rot.base_fingerprint.as_deref().unwrap_or("none"),
                rot.head_fingerprint.as_deref().unwrap_or("none")
            )
        },
    );
    if r.changes.is_empty()
        && r.drift.is_empty()
        && r.conflicts.is_empty()
        && r.adoptions.is_empty()
    {
        let _ = writeln!(
            out,
            "\nNo changes, and no drift: the site matches both configs."
        );
    } else if !r.has_changes() {
        let _ = writeln!(out, "\nThis pull request changes nothing on the site.");
    }
    out
}

/// The review as pretty JSON with a trailing newline.
pub fn json(r: &Review) -> String {
    super::json::pretty(r)
}

/// The JSON Schema (draft-07) of the review document.
pub fn schema() -> String {
    super::json::schema_of::<Review>()
}

fn table(out: &mut String, title: &str, items: &[ReviewItem]) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "#### {title}\n\n| Integration | What | Live | Base | Head |\n|---|---|---|---|---|"
    );
    capped_rows(out, items, MAX_ROWS, "review", |i| {
        let what = match &i.detail {
            Some(d) => format!("{}: {d}", i.subject.label()),
            None => i.subject.label(),
        };
        format!(
            "| `{}` | {} | `{}` | `{}` | `{}` |",
            cell(&who(&i.key, i.target_id)),
            cell(&what),
            cell(&show(&i.subject, i.live.as_ref())),
            cell(&show(&i.subject, i.base.as_ref())),
            cell(&show(&i.subject, i.head.as_ref()))
        )
    });
}

/// Renders the review as one pull-request comment, starting with the plan comment's marker.
pub fn markdown(r: &Review) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", super::markdown::MARKER);
    let _ = writeln!(out, "### gijctl plan: three-way review\n");
    let s = &r.summary;
    let _ = writeln!(
        out,
        "| This pull request changes | Drift already there | Conflicts | Adopts drift | Rotations |\n|---:|---:|---:|---:|---:|\n| {} | {} | {} | {} | {} |\n",
        s.changes, s.drift, s.conflicts, s.adoptions, s.rotations
    );
    for w in &r.warnings {
        let _ = writeln!(out, "- note: {}", cell(w));
    }
    if !r.conflicts.is_empty() {
        let _ = writeln!(
            out,
            "> [!WARNING]\n> This pull request edits {} thing(s) that drifted on the site since the base config was applied. Decide which value wins before merging.\n",
            r.conflicts.len()
        );
    }
    table(&mut out, "Conflicts", &r.conflicts);
    table(&mut out, "Changes this pull request makes", &r.changes);
    if !r.adoptions.is_empty() {
        let _ = writeln!(
            out,
            "#### {ADOPTIONS_TITLE}\n\n| Integration | What | Live (stays) | Base asked for | How |\n|---|---|---|---|---|"
        );
        capped_rows(&mut out, &r.adoptions, MAX_ROWS, "review", |a| {
            format!(
                "| `{}` | {} | `{}` | `{}` | {} |",
                cell(&who(&a.key, a.target_id)),
                cell(&a.subject.label()),
                cell(&show(&a.subject, a.live.as_ref())),
                cell(&show(&a.subject, a.base.as_ref())),
                cell(a.adopted_by.describe())
            )
        });
    }
    if !r.drift.is_empty() {
        let _ = writeln!(
            out,
            "<details><summary>Drift already there ({}): not caused by this pull request; apply after merge reverts it too</summary>\n",
            r.drift.len()
        );
        table(&mut out, "Pre-existing drift", &r.drift);
        let _ = writeln!(out, "</details>\n");
    }
    if !r.rotations.is_empty() {
        let _ = writeln!(
            out,
            "#### Credential rotations\n\nThe credential reference changed; apply sends the new credential. Fingerprints of the references, never values:\n"
        );
        for rot in &r.rotations {
            let _ = writeln!(
                out,
                "- `{}`: `{}` → `{}`",
                cell(&who(&rot.key, rot.target_id)),
                cell(rot.base_fingerprint.as_deref().unwrap_or("none")),
                cell(rot.head_fingerprint.as_deref().unwrap_or("none"))
            );
        }
        let _ = writeln!(out);
    }
    if r.changes.is_empty() && r.conflicts.is_empty() {
        let _ = writeln!(out, "This pull request changes nothing on the site.");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Service;
    use crate::plan::PlanMeta;
    use crate::plan::testkit::quickstart;
    use crate::secret::SecretRef;

    /// Quickstart base; the site has drifted (smart commits off by hand on #1); the pull
    /// request renames acme-github, rotates its token, and drops acme-azure.
    fn review() -> Review {
        let (base, mut live) = quickstart();
        live.integrations[0].settings.smart_commits = false;
        let mut head = base.clone();
        head.integrations[0].display_name = "GitHub (acme)".into();
        head.integrations[0].credential = Some(SecretRef::Env("ACME_GH_TOKEN".into()));
        head.integrations
            .retain(|d| d.service != Service::AzureDevops);
        crate::plan::review::review(
            &base,
            &head,
            &live,
            "base/gij.toml",
            PlanMeta {
                gijctl_version: "0.0.0-test".into(),
                ..PlanMeta::default()
            },
        )
        .unwrap()
    }

    #[test]
    fn text_snapshot() {
        insta::assert_snapshot!(text(&review()));
    }

    #[test]
    fn markdown_snapshot() {
        let md = markdown(&review());
        assert!(md.starts_with(crate::render::markdown::MARKER));
        assert!(!md.contains("ACME_GH_TOKEN"));
        insta::assert_snapshot!(md);
    }

    #[test]
    fn json_snapshot() {
        let v: serde_json::Value = serde_json::from_str(&json(&review())).unwrap();
        insta::assert_json_snapshot!(v);
    }

    /// Fails when `schema/review.schema.json` is out of date; run with `GIJCTL_UPDATE_SCHEMA=1`.
    #[test]
    fn committed_schema_is_current() {
        crate::render::json::assert_schema_current(
            "review.schema.json",
            &schema(),
            "render::review",
        );
    }
}
