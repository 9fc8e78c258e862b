//! Renderings of a [`crate::plan::Plan`]: text for terminals, JSON for automation, Markdown for
//! pull-request comments; and of the drift, review and status documents. Renderers are pure
//! functions from a document to a `String`; the caller decides where it goes and whether
//! colour is wanted.

pub mod drift;
pub mod json;
pub mod markdown;
pub mod review;
pub mod section;
pub mod status;
pub mod text;

#[cfg(test)]
mod tests;

use crate::model::IntegrationIndexing;
use crate::plan::Plan;
use crate::plan::model::{IndexingProgress, StillIndexing};

/// The heading the plan and drift renderings put above the integrations still indexing.
pub(crate) const STILL_INDEXING_TITLE: &str =
    "Not done indexing on the site (not a change; `gijctl status` follows them)";

/// How far one integration's indexing is, in one phrase shared by plan, drift and status:
/// `INDEXING 42.5%, 2/5 repositories, ~12m left`, `SCANNING (listing repositories), ~2m left`,
/// `ERROR, 4/5 repositories, 1 failed`.
pub fn progress_phrase(p: &IndexingProgress) -> String {
    let state = serde_json::to_value(p.state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let mut out = match p.state {
        IntegrationIndexing::Scanning if p.repositories_total == 0 => {
            format!("{state} (listing repositories)")
        }
        IntegrationIndexing::Indexed | IntegrationIndexing::Disabled => state,
        _ => format!("{state} {:.1}%", p.percent),
    };
    if p.repositories_total > 0 || p.state != IntegrationIndexing::Scanning {
        out.push_str(&format!(
            ", {}/{} repositories",
            p.repositories_done, p.repositories_total
        ));
    }
    if p.repositories_failed > 0 {
        out.push_str(&format!(", {} failed", p.repositories_failed));
    }
    if let Some(secs) = p.estimated_remaining_secs {
        out.push_str(&format!(", ~{} left", duration(secs)));
    }
    out
}

/// `key (#id) "name": phrase`, one integration still indexing, for plan and drift listings.
pub(crate) fn still_indexing_line(s: &StillIndexing) -> String {
    let who = if s.key == format!("#{}", s.id) {
        format!("#{} {:?}", s.id, s.display_name)
    } else {
        format!("{} (#{})", s.key, s.id)
    };
    format!("{who}: {}", progress_phrase(&s.progress))
}

/// The heading both renderings put above the approvals a plan records.
pub(crate) const ALLOWANCES_TITLE: &str =
    "Approved for this plan with `--allow` and raised safety limits (they approve this plan only)";

/// The heading both renderings put above the refusals apply would make.
pub(crate) const REFUSALS_TITLE: &str =
    "apply would refuse this plan; approve each refusal with its flag, or change the config";

/// One refusal as a line: `policy rule `x`: message (gij.toml:3:1; approve with `--allow y`)`.
pub(crate) fn refusal_line(r: &crate::plan::model::Refusal) -> String {
    let what = match r.check {
        crate::plan::model::RefusalCheck::Policy => format!("policy rule `{}`", r.rule),
        crate::plan::model::RefusalCheck::SafetyLimit => format!("safety limit `{}`", r.rule),
    };
    let mut tail = Vec::new();
    if let Some(at) = &r.at {
        tail.push(at.clone());
    }
    tail.push(match &r.approve_with {
        Some(f) => format!("approve with `{f}`"),
        None => "no flag approves it: change the config".to_owned(),
    });
    format!("{what}: {} ({})", r.message, tail.join("; "))
}

/// How one approval (`--allow`, a raised limit) recorded in a plan reads to a reviewer. Prepared once for the text and
/// Markdown renderings, so a plan shown later in a terminal (`gijctl apply PLANFILE`) says
/// exactly what the pull-request comment said, and both judge a foreign checksum as apply does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AllowanceNote<'a> {
    /// Given for another plan (its checksum): apply ignores it.
    OtherPlan {
        /// The flag as typed (`--allow remove-projects`, `--max-deletes 6`).
        flag: String,
        /// The checksum of the plan it was given for.
        checksum: &'a str,
    },
    /// Given for this plan, but nothing in it needed approving.
    Idle {
        /// The flag as typed.
        flag: String,
    },
    /// Given for this plan and approving these refusals.
    Approves {
        /// The flag as typed.
        flag: String,
        /// `rule: message`, one per approved violation.
        violations: &'a [String],
    },
}

/// The plan's recorded approvals, `--allow` first, in the order they were recorded.
pub(crate) fn allowance_notes(plan: &Plan) -> Vec<AllowanceNote<'_>> {
    let allow = plan.allowances.iter().map(|a| {
        (
            format!("--allow {}", a.allow.name()),
            a.plan_checksum.as_str(),
            &a.approves,
        )
    });
    let limits = plan.limit_approvals.iter().map(|l| {
        (
            format!("{} {}", l.limit.flag(), l.value),
            l.plan_checksum.as_str(),
            &l.approves,
        )
    });
    allow
        .chain(limits)
        .map(|(flag, checksum, approves)| {
            if checksum != plan.checksum {
                AllowanceNote::OtherPlan { flag, checksum }
            } else if approves.is_empty() {
                AllowanceNote::Idle { flag }
            } else {
                AllowanceNote::Approves {
                    flag,
                    violations: approves,
                }
            }
        })
        .collect()
}

/// Epoch seconds as RFC 3339 UTC (`2025-03-01T12:00:00Z`); out-of-range values (far outside
/// any date GIJ reports) print as the raw number rather than failing a report.
pub fn utc_timestamp(epoch_secs: i64) -> String {
    jiff::Timestamp::from_second(epoch_secs)
        .map_or_else(|_| format!("@{epoch_secs}"), |t| t.to_string())
}

/// Formats seconds as a short human duration (`45s`, `12m 30s`, `2h 05m`).
pub fn duration(secs: u64) -> String {
    if secs < 60 {
        format!("{secs}s")
    } else if secs < 3600 {
        let s = secs % 60;
        if s == 0 {
            format!("{}m", secs / 60)
        } else {
            format!("{}m {:02}s", secs / 60, s)
        }
    } else {
        format!("{}h {:02}m", secs / 3600, (secs % 3600) / 60)
    }
}
