//! Renderings of a [`StatusReport`] (`gijctl status`): a text table for terminals and logs, the
//! JSON document (`schema/status.schema.json`), and the one-line changes `--watch` prints when
//! stdout is not a terminal.

use std::fmt::Write as _;

use super::{duration, progress_phrase, utc_timestamp};
use crate::model::IntegrationIndexing;
use crate::status::{Outcome, RepositoryFailure, SinceSource, StatusEntry, StatusReport};

/// `~` running, `!` error, `=` indexed, `-` disabled, `?` not on the site.
fn symbol(e: &StatusEntry) -> &'static str {
    match e.progress.as_ref().map(|p| p.state) {
        None => "?",
        Some(IntegrationIndexing::Scanning | IntegrationIndexing::Indexing) => "~",
        Some(IntegrationIndexing::Error) => "!",
        Some(IntegrationIndexing::Indexed) => "=",
        Some(IntegrationIndexing::Disabled) => "-",
    }
}

/// `key (#id)`, or `#id "name"` for an integration the config does not declare.
fn who(e: &StatusEntry) -> String {
    match e.id {
        Some(id) if e.key == format!("#{id}") => format!("#{id} {:?}", e.display_name),
        Some(id) => format!("{} (#{id})", e.key),
        None => e.key.clone(),
    }
}

/// One integration: `acme-github (#3): INDEXING 42.5%, 2/5 repositories, ~12m left, since
/// 2025-03-01T12:00:00Z (created)`.
pub fn entry_line(e: &StatusEntry) -> String {
    let Some(p) = &e.progress else {
        return format!(
            "{}: not on the site (`gijctl plan` shows its creation)",
            who(e)
        );
    };
    let mut line = format!("{}: {}", who(e), progress_phrase(p));
    if let Some(s) = &e.since {
        let how = match s.source {
            SinceSource::Created => "created then, never indexed before",
            SinceSource::Observed => "first seen indexing by this run",
        };
        let _ = write!(
            line,
            ", since {} ({how})",
            utc_timestamp(s.at_ms.div_euclid(1000))
        );
    }
    line
}

/// One failed repository: `repository "broken" (#6) failed: <GIJ's error text>`, both texts
/// from the site and so escaped (one line each, whatever they hold).
pub fn failure_line(f: &RepositoryFailure) -> String {
    let one_line = |t: &str| crate::escape::shown(t).into_owned();
    let id = f.id.map_or(String::new(), |id| format!(" (#{id})"));
    let why = f.error.as_deref().map_or_else(
        || ": GIJ gave no error text".to_owned(),
        |t| format!(": {}", one_line(t)),
    );
    format!("repository \"{}\"{id} failed{why}", one_line(&f.name))
}

/// The summary line: `status: 1 running, 0 error, 3 indexed, 0 disabled, 1 absent`.
pub fn summary_line(r: &StatusReport) -> String {
    let s = &r.summary;
    format!(
        "status: {} running, {} error, {} indexed, {} disabled, {} absent",
        s.running, s.error, s.indexed, s.disabled, s.absent
    )
}

/// The closing sentence: done, still indexing (with the overall estimate), or stopped on
/// errors.
pub fn verdict(r: &StatusReport) -> String {
    match r.outcome() {
        Outcome::Done => "Indexing is done: nothing is scanning or indexing.".to_owned(),
        Outcome::Failed => format!(
            "Nothing is indexing any more, but {} integration(s) report an indexing error \
             (see GIJ's indexing log).",
            r.summary.error
        ),
        Outcome::Running => {
            let eta = r.estimated_remaining_secs.map_or(String::new(), |s| {
                let basis = if r.calibrated {
                    "corrected by the speed observed"
                } else {
                    "estimated from repository sizes"
                };
                format!(", ~{} left ({basis})", duration(s))
            });
            format!("Still indexing: {} integration(s){eta}.", r.summary.running)
        }
    }
}

/// The report for a terminal or a log.
pub fn text(r: &StatusReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", summary_line(r));
    for e in &r.integrations {
        let _ = writeln!(out, "  {} {}", symbol(e), entry_line(e));
        for f in &e.failures {
            let _ = writeln!(out, "      {}", failure_line(f));
        }
    }
    let _ = writeln!(out, "{}", verdict(r));
    out
}

/// One line per changed entry, for `--watch` off a terminal: `~ acme-github (#3): ...`.
pub fn change_lines(entries: &[&StatusEntry]) -> String {
    let mut out = String::new();
    for e in entries {
        let _ = writeln!(out, "{} {}", symbol(e), entry_line(e));
    }
    out
}

/// The report as pretty JSON with a trailing newline.
pub fn json(r: &StatusReport) -> String {
    super::json::pretty(r)
}

/// The JSON Schema (draft-07) of the status document.
pub fn schema() -> String {
    super::json::schema_of::<StatusReport>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{IndexingProgress, PlanMeta};
    use crate::status::{STATUS_FORMAT_VERSION, Since, StatusSummary};

    fn progress(state: IntegrationIndexing, done: u32, total: u32) -> IndexingProgress {
        IndexingProgress {
            state,
            percent: 42.5,
            repositories_done: done,
            repositories_failed: 0,
            repositories_total: total,
            estimated_remaining_secs: matches!(state, IntegrationIndexing::Indexing).then_some(750),
        }
    }

    fn report() -> StatusReport {
        StatusReport {
            format_version: STATUS_FORMAT_VERSION,
            meta: PlanMeta {
                gijctl_version: "0.0.0-test".into(),
                ..PlanMeta::default()
            },
            summary: StatusSummary {
                running: 1,
                indexed: 1,
                absent: 1,
                ..StatusSummary::default()
            },
            integrations: vec![
                StatusEntry {
                    key: "acme-github".into(),
                    id: Some(3),
                    display_name: "GitHub · acme".into(),
                    progress: Some(progress(IntegrationIndexing::Indexing, 2, 5)),
                    since: Some(Since {
                        at_ms: 1_740_830_400_000,
                        source: SinceSource::Created,
                    }),
                    failures: Vec::new(),
                },
                StatusEntry {
                    key: "#7".into(),
                    id: Some(7),
                    display_name: "GitLab · platform".into(),
                    progress: Some(IndexingProgress {
                        percent: 100.0,
                        ..progress(IntegrationIndexing::Indexed, 4, 4)
                    }),
                    since: None,
                    failures: Vec::new(),
                },
                StatusEntry {
                    key: "acme-azure".into(),
                    id: None,
                    display_name: String::new(),
                    progress: None,
                    since: None,
                    failures: Vec::new(),
                },
            ],
            estimated_remaining_secs: Some(750),
            calibrated: false,
        }
    }

    #[test]
    fn text_lists_every_integration_and_the_verdict() {
        assert_eq!(
            text(&report()),
            "status: 1 running, 0 error, 1 indexed, 0 disabled, 1 absent\n  \
             ~ acme-github (#3): INDEXING 42.5%, 2/5 repositories, ~12m 30s left, since \
             2025-03-01T12:00:00Z (created then, never indexed before)\n  \
             = #7 \"GitLab · platform\": INDEXED, 4/4 repositories\n  \
             ? acme-azure: not on the site (`gijctl plan` shows its creation)\n\
             Still indexing: 1 integration(s), ~12m 30s left (estimated from repository sizes).\n"
        );
    }

    #[test]
    fn failed_repositories_are_listed_under_their_integration_escaped() {
        let mut r = report();
        r.integrations[0].progress = Some(progress(IntegrationIndexing::Error, 1, 2));
        r.integrations[0].failures = vec![
            RepositoryFailure {
                id: Some(6),
                name: "bro\u{1b}[2Jken".into(),
                error: Some("clone failed:\nfatal\u{202e}".into()),
            },
            RepositoryFailure {
                id: None,
                name: "gone".into(),
                error: None,
            },
        ];
        let text = text(&r);
        assert!(
            text.contains(
                "  ! acme-github (#3): ERROR 42.5%, 1/2 repositories, since \
                 2025-03-01T12:00:00Z (created then, never indexed before)\n      \
                 repository \"bro\\u{1b}[2Jken\" (#6) failed: clone failed:\\u{a}fatal\\u{202e}\n      \
                 repository \"gone\" failed: GIJ gave no error text\n"
            ),
            "{text}"
        );
        assert!(!text.contains('\u{1b}') && !text.contains('\u{202e}'));
    }

    #[test]
    fn verdicts_say_done_and_failed() {
        let mut r = report();
        r.summary.running = 0;
        assert_eq!(
            verdict(&r),
            "Indexing is done: nothing is scanning or indexing."
        );
        r.summary.error = 2;
        assert!(verdict(&r).contains("2 integration(s) report an indexing error"));
    }

    #[test]
    fn json_is_the_versioned_document() {
        let v: serde_json::Value = serde_json::from_str(&json(&report())).unwrap();
        assert_eq!(v["format_version"], 1);
        assert_eq!(v["integrations"][0]["progress"]["state"], "INDEXING");
        assert_eq!(v["integrations"][0]["since"]["source"], "created");
        assert_eq!(v["integrations"][2]["progress"], serde_json::Value::Null);
    }

    /// Fails when `schema/status.schema.json` is out of date; run with `GIJCTL_UPDATE_SCHEMA=1`.
    #[test]
    fn committed_schema_is_current() {
        crate::render::json::assert_schema_current(
            "status.schema.json",
            &schema(),
            "render::status",
        );
    }
}
