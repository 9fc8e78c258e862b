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
