//! The pull-request comment rendering.
//!
//! Starts with a hidden marker (`<!-- gijctl-plan -->`) so CI can find and update its own
//! comment, then the summary table, then the risky actions as a warning list, the policy
//! exceptions approved with `--allow`, then one collapsed `<details>` block per integration
//! (with the same per-key project breakdown as the terminal). GitHub rejects comments over 65,536 characters, so the
//! output is capped at [`MAX_CHARS`]: blocks that do not fit are left out and a note says how
//! many.

use std::fmt::Write as _;

use super::drift::cell;
use super::text::{
    OTHER_SETTINGS_DEFAULT, change_note, create_lines, create_omits_defaults, summary_line,
};
use super::{
    ALLOWANCES_TITLE, AllowanceNote, REFUSALS_TITLE, allowance_notes, duration, refusal_line,
};
use crate::plan::fields::{field_name, toml_value};
use crate::plan::{Action, ActionKind, CreateSpec, Plan};

/// The hidden marker CI bots look for.
pub const MARKER: &str = "<!-- gijctl-plan -->";
/// Hard cap on the comment length, in characters.
pub const MAX_CHARS: usize = 65_000;

/// Keeps a line from closing a fenced block.
fn fence_safe(s: &str) -> String {
    s.replace("```", "``\u{200b}`")
}

/// A creation inside a `diff` block: `+` lines, then the defaults note as a context line.
fn create_diff_lines(spec: &CreateSpec, body: &mut String) {
    for l in create_lines(spec) {
        let _ = writeln!(body, "+ {}", fence_safe(&l));
    }
    if create_omits_defaults(spec) {
        let _ = writeln!(body, "  {OTHER_SETTINGS_DEFAULT}");
    }
}

fn details_block(key: &str, actions: &[&Action]) -> String {
    let mut body = String::new();
    let verbs: Vec<&str> = actions.iter().map(|a| a.verb()).collect();
    let sym = actions.first().map_or("~", |a| a.symbol());
    let _ = writeln!(
        body,
        "<details><summary><code>{sym} {}</code>: {}</summary>\n",
        cell(key),
        verbs.join(", ")
    );
    let _ = writeln!(body, "```diff");
    for a in actions {
        match &a.kind {
            ActionKind::Create(spec) => {
                create_diff_lines(spec, &mut body);
            }
            ActionKind::Update { changes } => {
                for c in changes {
                    let name = field_name(c.field);
                    let _ = writeln!(body, "- {name} = {}", fence_safe(&toml_value(&c.old)));
                    let _ = writeln!(body, "+ {name} = {}", fence_safe(&toml_value(&c.new)));
                }
                // The same per-key breakdown as the terminal, as context lines.
                for note in changes.iter().filter_map(change_note) {
                    let _ = writeln!(body, "  ({})", fence_safe(&note));
                }
            }
            ActionKind::Repositories { enable, disable } => {
                for r in enable {
                    let _ = writeln!(
                        body,
                        "+ repository {} (#{}) enabled",
                        fence_safe(&r.name),
                        r.id
                    );
                }
                for r in disable {
                    let _ = writeln!(
                        body,
                        "- repository {} (#{}) disabled",
                        fence_safe(&r.name),
                        r.id
                    );
                }
            }
            ActionKind::Delete {
                display_name,
                service,
                owner,
                repositories,
            } => {
                let _ = writeln!(
                    body,
                    "- {service} {} {:?} ({repositories} repositories)",
                    fence_safe(&crate::escape::shown(owner)),
                    fence_safe(display_name)
                );
            }
            ActionKind::Replace {
                old,
                old_repositories,
                create,
            } => {
                let _ = writeln!(
                    body,
                    "- {} {} at {} {:?} ({old_repositories} repositories)",
                    old.service,
                    fence_safe(&crate::escape::shown(&old.owner)),
                    fence_safe(&crate::escape::shown(&old.origin)),
                    fence_safe(&old.display_name)
                );
                create_diff_lines(create, &mut body);
            }
            ActionKind::Manual {
                reason,
                instructions,
            } => {
                let _ = writeln!(body, "! manual step: {}", fence_safe(reason));
                for (i, s) in instructions.iter().enumerate() {
                    let _ = writeln!(body, "!   {}. {}", i + 1, fence_safe(s));
                }
            }
            ActionKind::RotateCredential {
                credential,
                switches_to_pat,
            } => {
                let _ = writeln!(
                    body,
                    "~ credential sent again{} (reference fingerprint {})",
                    if *switches_to_pat {
                        ", switching from OAuth to a PAT"
                    } else {
                        ""
                    },
                    credential
                        .reference_fingerprint
                        .as_deref()
                        .unwrap_or("none")
                );
            }
        }
    }
    let _ = writeln!(body, "```\n\n</details>\n");
    body
}

/// The refusals apply would make, as a caution block: the reviewer must see that merging will
/// not apply until someone approves them.
fn refusal_blocks(plan: &Plan, blocks: &mut Vec<String>) {
    if plan.refusals.is_empty() {
        return;
    }
    blocks.push(format!("> [!CAUTION]\n> {REFUSALS_TITLE}:\n\n"));
    for r in &plan.refusals {
        blocks.push(format!("- {}\n", cell(&refusal_line(r))));
    }
    blocks.push("\n".to_owned());
}

/// The approvals recorded in the plan (`plan --out FILE --allow RULE`), right after the
/// risky changes they waive: a reviewer approving the pull request approves them too, so they
/// must be in the comment, not only on the stderr of the job that made the plan. One block a
/// line, so a long list is cut by the same cap as everything else. An allowance tied to another
/// plan's checksum is shown as ignored, as apply treats it.
fn allowance_blocks(plan: &Plan, blocks: &mut Vec<String>) {
    let notes = allowance_notes(plan);
    if notes.is_empty() {
        return;
    }
    blocks.push(format!("> [!IMPORTANT]\n> {ALLOWANCES_TITLE}:\n\n"));
    for n in notes {
        match n {
            AllowanceNote::OtherPlan { flag, checksum } => blocks.push(format!(
                "- `{flag}` was given for another plan (checksum `{}`): apply ignores it\n",
                cell(checksum)
            )),
            AllowanceNote::Idle { flag } => {
                blocks.push(format!("- `{flag}` approves nothing in this plan\n"))
            }
            AllowanceNote::Approves { flag, violations } => {
                blocks.push(format!("- `{flag}` approves:\n"));
                for v in violations {
                    blocks.push(format!("  - {}\n", cell(v)));
                }
            }
        }
    }
    blocks.push("\n".to_owned());
}

/// Integrations still indexing listed in a comment; the rest are counted, so that a site
/// re-indexing everything cannot push the comment over GitHub's size limit.
const MAX_INDEXING_ROWS: usize = 20;

/// Renders the plan as a pull-request comment of at most [`MAX_CHARS`] characters.
pub fn render(plan: &Plan) -> String {
    let s = &plan.summary;
    let mut head = String::new();
    let _ = writeln!(head, "{MARKER}");
    let _ = writeln!(head, "### gijctl plan\n");
    let _ = writeln!(head, "**{}**\n", summary_line(s));
    if let Some(scope) = &plan.scope {
        let _ = writeln!(head, "> {}\n", super::text::scope_line(scope));
    }
    let _ = writeln!(head, "| Change | Integrations |\n|---|---:|");
    let mut rows = vec![("Create", s.create), ("Update", s.update)];
    if s.replace > 0 {
        rows.push(("Replace", s.replace));
    }
    rows.extend([
        ("Delete", s.delete),
        ("Manual", s.manual),
        ("Unchanged", s.unchanged),
        ("Unmanaged", s.unmanaged),
    ]);
    for (name, n) in rows {
        let _ = writeln!(head, "| {name} | {n} |");
    }
    let _ = writeln!(head);
    if plan.has_changes() {
        let _ = writeln!(
            head,
            "Estimated indexing time: **{}** with at most {} integration(s) indexing at once; \
             {} API calls.\n",
            duration(plan.schedule.estimated_indexing_secs),
            plan.schedule.max_parallel_indexing,
            plan.schedule.api_calls
        );
    } else {
        let _ = writeln!(head, "{}\n", super::text::no_changes_line(plan));
    }
    // Right under the summary, before any block that could be cut for length: an empty plan
    // with this list is "not done yet", not "done".
    if !plan.indexing.is_empty() {
        let _ = writeln!(head, "{}:\n", super::STILL_INDEXING_TITLE);
        for s in plan.indexing.iter().take(MAX_INDEXING_ROWS) {
            let _ = writeln!(head, "- {}", cell(&super::still_indexing_line(s)));
        }
        if plan.indexing.len() > MAX_INDEXING_ROWS {
            let _ = writeln!(
                head,
                "- ... and {} more (`gijctl status` lists them all)",
                plan.indexing.len() - MAX_INDEXING_ROWS
            );
        }
        let _ = writeln!(head);
    }

    // Blocks in priority order; each is added only when it fits.
    let mut blocks: Vec<String> = Vec::new();
    refusal_blocks(plan, &mut blocks);
    let risky: Vec<&Action> = plan.risky_actions().collect();
    if !risky.is_empty() {
        blocks.push("> [!WARNING]\n> Risky changes: review these before applying.\n\n".to_owned());
        for a in risky {
            let what: Vec<&str> = a.risks.iter().map(|r| r.describe()).collect();
            blocks.push(format!(
                "- :warning: step {}: `{}` {}\n",
                a.step,
                cell(&a.key),
                what.join("; ")
            ));
        }
        blocks.push("\n".to_owned());
    }
    allowance_blocks(plan, &mut blocks);
    for w in &plan.warnings {
        blocks.push(format!("- note: {}\n", cell(w)));
    }
    let mut keys: Vec<&str> = Vec::new();
    for a in &plan.actions {
        if !keys.contains(&a.key.as_str()) {
            keys.push(&a.key);
        }
    }
    if !keys.is_empty() {
        blocks.push("#### Changes\n\n".to_owned());
    }
    for key in keys {
        let actions: Vec<&Action> = plan.actions.iter().filter(|a| a.key == key).collect();
        blocks.push(details_block(key, &actions));
    }
    if !plan.unmanaged.is_empty() {
        blocks.push(
            "#### Unmanaged\n\nLive integrations not in the config (left alone):\n\n\
             | Id | Service | Owner | Display name | Repositories | Suggested key |\n\
             |---:|---|---|---|---:|---|\n"
                .to_owned(),
        );
        for u in &plan.unmanaged {
            blocks.push(format!(
                "| {} | {} | {} | {} | {} | `{}` |\n",
                u.id,
                cell(&u.service),
                cell(&u.owner),
                cell(&u.display_name),
                u.repositories,
                cell(&u.suggested_key)
            ));
        }
        blocks.push("\n".to_owned());
    }
    if !plan.actions.is_empty() {
        let mut order = String::from(
            "<details><summary>Execution order</summary>\n\n| Step | Integration | Action | Phase | Indexing | API calls |\n|---:|---|---|---|---|---:|\n",
        );
        for a in &plan.actions {
            let idx = plan
                .schedule
                .timeline
                .iter()
                .find(|s| s.step == a.step)
                .map(|s| {
                    format!(
                        "~{} (slot {}, from +{})",
                        duration(s.end_secs - s.start_secs),
                        s.slot,
                        duration(s.start_secs)
                    )
                })
                .unwrap_or_else(|| {
                    if a.starts_indexing {
                        super::text::MANUAL_INDEXING.to_owned()
                    } else {
                        String::new()
                    }
                });
            let phase = serde_json::to_value(a.phase)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let _ = writeln!(
                order,
                "| {} | `{}` | {} | {phase} | {idx} | {} |",
                a.step,
                cell(&a.key),
                a.verb(),
                a.api_calls
            );
        }
        order.push_str("\n</details>\n");
        blocks.push(order);
    }

    let note_reserve = 300;
    let mut out = head;
    let mut used = out.chars().count();
    let mut left_out = 0usize;
    for b in blocks {
        let n = b.chars().count();
        if left_out == 0 && used + n + note_reserve <= MAX_CHARS {
            out.push_str(&b);
            used += n;
        } else {
            left_out += 1;
        }
    }
    if left_out > 0 {
        let _ = writeln!(
            out,
            "\n> [!NOTE]\n> This comment was truncated to stay under {MAX_CHARS} characters: \
             {left_out} section(s) were left out. Run `gijctl plan` or see the JSON plan for \
             everything."
        );
    }
    out
}
