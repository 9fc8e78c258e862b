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

/// The heading both renderings put above the `--allow` approvals a plan records.
pub(crate) const ALLOWANCES_TITLE: &str =
    "Policy exceptions approved for this plan with `--allow` (they approve this plan only)";

/// How one `--allow` recorded in a plan reads to a reviewer. Prepared once for the text and
/// Markdown renderings, so a plan shown later in a terminal (`gijctl apply PLANFILE`) says
/// exactly what the pull-request comment said, and both judge a foreign checksum as apply does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AllowanceNote<'a> {
    /// Given for another plan (its checksum): apply ignores it.
    OtherPlan {
        /// The flag value, as typed after `--allow`.
        flag: &'static str,
        /// The checksum of the plan it was given for.
        checksum: &'a str,
    },
    /// Given for this plan, but nothing in it needed approving.
    Idle {
        /// The flag value.
        flag: &'static str,
    },
    /// Given for this plan and approving these policy violations.
    Approves {
        /// The flag value.
        flag: &'static str,
        /// `rule: message`, one per approved violation.
        violations: &'a [String],
    },
}

/// The plan's recorded `--allow` approvals, in the order they were recorded.
pub(crate) fn allowance_notes(plan: &Plan) -> Vec<AllowanceNote<'_>> {
    plan.allowances
        .iter()
        .map(|a| {
            let flag = a.allow.name();
            if a.plan_checksum != plan.checksum {
                AllowanceNote::OtherPlan {
                    flag,
                    checksum: &a.plan_checksum,
                }
            } else if a.approves.is_empty() {
                AllowanceNote::Idle { flag }
            } else {
                AllowanceNote::Approves {
                    flag,
                    violations: &a.approves,
                }
            }
        })
        .collect()
}

/// Epoch seconds as RFC 3339 UTC (`2025-03-01T12:00:00Z`), without a date crate.
pub fn utc_timestamp(epoch_secs: i64) -> String {
    let days = epoch_secs.div_euclid(86_400);
    let rem = epoch_secs.rem_euclid(86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
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
