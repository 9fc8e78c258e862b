//! Renderings of a [`crate::plan::Plan`]: text for terminals, JSON for automation, Markdown for
//! pull-request comments. Renderers are pure functions from a plan to a `String`; the caller
//! decides where it goes and whether colour is wanted.

pub mod drift;
pub mod json;
pub mod markdown;
pub mod review;
pub mod section;
pub mod text;

#[cfg(test)]
mod tests;

use crate::plan::Plan;

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
