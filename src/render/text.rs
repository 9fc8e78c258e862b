//! The terminal rendering: a summary line, one block per integration with a diff of its
//! settings, the unmanaged integrations, and the execution order with estimates.
//!
//! Symbols (`+ ~ - !`) carry the meaning; colour is decoration, added only when the caller
//! says so (a TTY without `NO_COLOR`).

use std::fmt::Write as _;

use owo_colors::OwoColorize;
use similar::{ChangeTag, TextDiff};

use super::{
    ALLOWANCES_TITLE, AllowanceNote, REFUSALS_TITLE, STILL_INDEXING_TITLE, allowance_notes,
    duration, refusal_line, still_indexing_line,
};
use crate::escape::shown;
use crate::model::{Field, Settings};
use crate::plan::fields::{self, field_name, toml_string, toml_value};
use crate::plan::{
    Action, ActionKind, CreateSpec, FieldChange, Phase, Plan, SettingValue, Summary,
};

/// Paints text only when colour is on.
#[derive(Debug, Clone, Copy)]
struct Paint(bool);

impl Paint {
    fn green(self, s: &str) -> String {
        if self.0 {
            s.green().to_string()
        } else {
            s.to_owned()
        }
    }
    fn red(self, s: &str) -> String {
        if self.0 {
            s.red().to_string()
        } else {
            s.to_owned()
        }
    }
    fn yellow(self, s: &str) -> String {
        if self.0 {
            s.yellow().to_string()
        } else {
            s.to_owned()
        }
    }
    fn bold(self, s: &str) -> String {
        if self.0 {
            s.bold().to_string()
        } else {
            s.to_owned()
        }
    }
    fn dim(self, s: &str) -> String {
        if self.0 {
            s.dimmed().to_string()
        } else {
            s.to_owned()
        }
    }
    fn symbol(self, sym: &str) -> String {
        match sym {
            "+" => self.green(sym),
            "-" | "-/+" => self.red(sym),
            _ => self.yellow(sym),
        }
    }
}

/// The summary line: `Plan: 2 to create, 1 to update, 0 to delete, 1 manual, 3 unchanged`
/// (replacements are listed only when there are some).
pub fn summary_line(s: &Summary) -> String {
    let replace = if s.replace > 0 {
        format!(", {} to replace", s.replace)
    } else {
        String::new()
    };
    format!(
        "Plan: {} to create, {} to update{replace}, {} to delete, {} manual, {} unchanged",
        s.create, s.update, s.delete, s.manual, s.unchanged
    )
}

/// The note that follows a creation's lines when settings at their defaults were left out.
pub const OTHER_SETTINGS_DEFAULT: &str = "other settings: defaults";

/// Whether a creation lists this setting: only values that differ from the defaults
/// ([`Settings::default`], GIJ's own defaults except where gijctl is safer), so that a reviewer
/// sees what is special about the new integration instead of 17 lines of boilerplate.
/// Require User PAT is always listed: it decides whether users act with their own identity.
fn shown_on_create(s: &SettingValue, defaults: &Settings) -> bool {
    s.field == Field::RequireUserPat || fields::get(defaults, s.field).as_ref() != Some(&s.value)
}

/// Whether a creation leaves settings out of [`create_lines`] because they are at their
/// defaults; renderers then add [`OTHER_SETTINGS_DEFAULT`].
pub fn create_omits_defaults(spec: &CreateSpec) -> bool {
    let defaults = Settings::default();
    spec.settings.iter().any(|s| !shown_on_create(s, &defaults))
}

/// The `field = value` lines of a creation, in gij.toml order: the connection, projects and
/// repositories, then only the settings that differ from the defaults (plus Require User PAT).
pub fn create_lines(spec: &CreateSpec) -> Vec<String> {
    let mut lines = vec![
        format!("service = {}", toml_string(spec.service.config_name())),
        format!("origin = {}", toml_string(&spec.origin)),
        format!("owner = {}", toml_string(&spec.owner)),
        format!("display-name = {}", toml_string(&spec.display_name)),
        format!("auth = {}", toml_string(&spec.auth.to_string())),
    ];
    if let Some(fp) = &spec.credential.reference_fingerprint {
        lines.push(format!("credential = (reference fingerprint {fp})"));
    }
    if let Some(u) = &spec.username {
        lines.push(format!("username = {}", toml_string(u)));
    }
    if let Some(r) = &spec.aws_region {
        lines.push(format!("aws-region = {}", toml_string(r)));
    }
    lines.push(format!(
        "projects = {}",
        toml_value(&spec.projects.to_value())
    ));
    lines.push(format!(
        "repositories = {{ include = {}, exclude = {} }}",
        toml_value(&spec.repositories.include.clone().into()),
        toml_value(&spec.repositories.exclude.clone().into())
    ));
    let defaults = Settings::default();
    for s in spec
        .settings
        .iter()
        .filter(|s| shown_on_create(s, &defaults))
    {
        lines.push(format!(
            "{} = {}",
            field_name(s.field),
            toml_value(&s.value)
        ));
    }
    lines
}

/// The unified-ish diff of an update's changes: `- field = old` / `+ field = new` lines.
fn change_diff(changes: &[FieldChange], p: Paint, out: &mut String) {
    for c in changes {
        let name = field_name(c.field);
        let old = format!("{name} = {}\n", toml_value(&c.old));
        let new = format!("{name} = {}\n", toml_value(&c.new));
        let diff = TextDiff::from_lines(&old, &new);
        for ch in diff.iter_all_changes() {
            let line = ch.value().trim_end_matches('\n');
            let _ = match ch.tag() {
                ChangeTag::Delete => writeln!(out, "    {}", p.red(&format!("- {line}"))),
                ChangeTag::Insert => writeln!(out, "    {}", p.green(&format!("+ {line}"))),
                ChangeTag::Equal => writeln!(out, "      {line}"),
            };
        }
    }
    for c in changes {
        if let Some(note) = change_note(c) {
            let _ = writeln!(out, "    {}", p.dim(&format!("({note})")));
        }
    }
}

/// What a change means key by key, printed under its `-`/`+` lines by the text and the
/// Markdown renderings alike (one computation, so the terminal and the pull request never
/// disagree): `projects: +API -DATA`. From or to "all", +/- lists would mislead (the listed
/// projects were or stay associated), so the note says what the switch means instead. `None`
/// for changes without a breakdown (every field but `projects`).
pub fn change_note(c: &FieldChange) -> Option<String> {
    let all = serde_json::Value::from("all");
    let name = field_name(c.field);
    if c.field == Field::Projects && (c.old == all || c.new == all) {
        let note = if c.new == all {
            "every Jira project, including future ones".to_owned()
        } else {
            format!("no longer every Jira project, only {}", list_keys(&c.new))
        };
        return Some(format!("{name}: {note}"));
    }
    if c.added.is_empty() && c.removed.is_empty() {
        return None;
    }
    let mut parts: Vec<String> = c.added.iter().map(|k| format!("+{k}")).collect();
    parts.extend(c.removed.iter().map(|k| format!("-{k}")));
    Some(format!("{name}: {}", parts.join(" ")))
}

/// `API, OPS, WEB` from a JSON list of project keys.
fn list_keys(v: &serde_json::Value) -> String {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(serde_json::Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

fn repo_list(r: &[crate::plan::RepoRef]) -> String {
    r.iter()
        .map(|r| format!("{} (#{})", shown(&r.name), r.id))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A creation's `+` lines and, when some settings are left out, the defaults note.
fn create_body(spec: &CreateSpec, p: Paint, out: &mut String) {
    for l in create_lines(spec) {
        let _ = writeln!(out, "    {}", p.green(&format!("+ {l}")));
    }
    if create_omits_defaults(spec) {
        let _ = writeln!(out, "      {}", p.dim(OTHER_SETTINGS_DEFAULT));
    }
}

/// One action's body lines under its integration's header.
fn action_body(a: &Action, p: Paint, out: &mut String) {
    match &a.kind {
        ActionKind::Create(spec) => create_body(spec, p, out),
        ActionKind::Update { changes } => change_diff(changes, p, out),
        ActionKind::Repositories { enable, disable } => {
            if !enable.is_empty() {
                let _ = writeln!(
                    out,
                    "    {}",
                    p.green(&format!("+ enable repositories: {}", repo_list(enable)))
                );
            }
            if !disable.is_empty() {
                let _ = writeln!(
                    out,
                    "    {}",
                    p.red(&format!("- disable repositories: {}", repo_list(disable)))
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
                out,
                "    {}",
                p.red(&format!(
                    "- delete {service} `{}` {display_name:?} ({repositories} repositories; clones are kept)",
                    shown(owner)
                ))
            );
        }
        ActionKind::Replace {
            old,
            old_repositories,
            create,
        } => {
            let _ = writeln!(
                out,
                "    {}",
                p.red(&format!(
                    "- delete {} `{}` at {} {:?} ({old_repositories} repositories)",
                    old.service,
                    shown(&old.owner),
                    shown(&old.origin),
                    old.display_name
                ))
            );
            create_body(create, p, out);
        }
        ActionKind::Manual {
            reason,
            instructions,
        } => {
            let _ = writeln!(out, "    {}", p.yellow(&format!("! manual step: {reason}")));
            for (i, s) in instructions.iter().enumerate() {
                let _ = writeln!(out, "      {}. {s}", i + 1);
            }
        }
        ActionKind::RotateCredential {
            credential,
            switches_to_pat,
        } => {
            let what = if *switches_to_pat {
                "switch from OAuth to a PAT and send it"
            } else {
                "send the credential again"
            };
            let fp = credential
                .reference_fingerprint
                .as_deref()
                .unwrap_or("none");
            let _ = writeln!(
                out,
                "    {}",
                p.yellow(&format!("~ {what} (reference fingerprint {fp})"))
            );
        }
    }
    for r in &a.risks {
        let _ = writeln!(
            out,
            "    {}",
            p.yellow(&format!("warning: {}", r.describe()))
        );
    }
}

fn header_of(a: &Action) -> String {
    match (&a.kind, a.target_id) {
        (ActionKind::Create(spec), _) => format!(
            "create {} `{}` at {}",
            spec.service, spec.owner, spec.origin
        ),
        (ActionKind::Delete { .. }, Some(id)) => format!("delete live integration #{id}"),
        (ActionKind::Replace { .. }, Some(id)) => format!("replace live integration #{id}"),
        (_, Some(id)) => format!("live integration #{id}"),
        (ActionKind::Manual { .. }, None) => "manual step in GIJ's UI".to_owned(),
        (_, None) => String::new(),
    }
}

/// A manual step that starts indexing (an OAuth creation): apply does not make it, so it has
/// no slot in apply's schedule, but the runbook gates it where the plan puts it.
pub const MANUAL_INDEXING: &str = "starts indexing once made in GIJ's UI (not by apply)";

/// The line that says a run was scoped and what it left out:
/// `Scoped run (--only gh-*): 2 integrations in scope, 3 left out (1 with changes not planned)`.
pub fn scope_line(s: &crate::plan::model::ScopeSummary) -> String {
    let mut flags: Vec<String> = s.only.iter().map(|p| format!("--only {p}")).collect();
    flags.extend(s.exclude.iter().map(|p| format!("--exclude {p}")));
    let mut line = format!(
        "Scoped run ({}): {} integration{} in scope, {} left out",
        flags.join(", "),
        s.in_scope,
        if s.in_scope == 1 { "" } else { "s" },
        s.left_out
    );
    if s.left_out_with_changes > 0 {
        let _ = write!(
            line,
            " ({} with changes this run does not make)",
            s.left_out_with_changes
        );
    }
    line
}

/// Every refusal apply would make of the plan, first of all: a plan that cannot be applied as
/// it is must say so before anything else (the same list as the Markdown comment's).
fn refusals(plan: &Plan, p: Paint, out: &mut String) {
    if plan.refusals.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n{}", p.red(&p.bold(&format!("{REFUSALS_TITLE}:"))));
    for r in &plan.refusals {
        let _ = writeln!(out, "  {} {}", p.red("!"), refusal_line(r));
    }
}

/// The approvals recorded in the plan (`plan --out FILE --allow RULE`, `--max-deletes N`), near the top:
/// whoever applies a saved plan approves them too, so they must be on screen, not only on the
/// stderr of the run that made the plan. Same content as the Markdown comment's list.
fn allowances(plan: &Plan, p: Paint, out: &mut String) {
    let notes = allowance_notes(plan);
    if notes.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n{}", p.bold(&format!("{ALLOWANCES_TITLE}:")));
    for n in notes {
        match n {
            AllowanceNote::OtherPlan { flag, checksum } => {
                let _ = writeln!(
                    out,
                    "  {}",
                    p.yellow(&format!(
                        "{flag} was given for another plan (checksum {checksum}): apply ignores it"
                    ))
                );
            }
            AllowanceNote::Idle { flag } => {
                let _ = writeln!(out, "  {flag} approves nothing in this plan");
            }
            AllowanceNote::Approves { flag, violations } => {
                let _ = writeln!(out, "  {flag} approves:");
                for v in violations {
                    let _ = writeln!(out, "    - {v}");
                }
            }
        }
    }
}

/// Renders the whole plan for a terminal.
pub fn render(plan: &Plan, color: bool) -> String {
    let p = Paint(color);
    let mut out = String::new();
    let _ = writeln!(out, "{}", p.bold(&summary_line(&plan.summary)));
    if let Some(s) = &plan.scope {
        let _ = writeln!(out, "{}", p.yellow(&scope_line(s)));
    }
    for w in &plan.warnings {
        let _ = writeln!(out, "{}", p.yellow(&format!("warning: {w}")));
    }
    refusals(plan, p, &mut out);
    allowances(plan, p, &mut out);

    // Per-integration blocks, in order of first appearance.
    let mut keys: Vec<&str> = Vec::new();
    for a in &plan.actions {
        if !keys.contains(&a.key.as_str()) {
            keys.push(&a.key);
        }
    }
    for key in keys {
        let actions: Vec<&Action> = plan.actions.iter().filter(|a| a.key == key).collect();
        let Some(first) = actions.first() else {
            continue;
        };
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{} {}  {}",
            p.symbol(first.symbol()),
            p.bold(key),
            p.dim(&header_of(first))
        );
        for a in actions {
            action_body(a, p, &mut out);
        }
    }

    if !plan.unmanaged.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{} live integration(s) not in the config (left alone; `gijctl import` writes them, \
             `prune = true` deletes them):",
            plan.unmanaged.len()
        );
        for u in &plan.unmanaged {
            let _ = writeln!(
                out,
                "  ? #{} {} `{}` {:?} ({} repositories), suggested key `{}`",
                u.id,
                u.service,
                shown(&u.owner),
                u.display_name,
                u.repositories,
                u.suggested_key
            );
        }
    }

    if !plan.indexing.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "{STILL_INDEXING_TITLE}:");
        for s in &plan.indexing {
            let _ = writeln!(
                out,
                "  {} {}",
                indexing_symbol(s, p),
                still_indexing_line(s)
            );
        }
    }

    if !plan.actions.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "{}", p.bold("Execution order:"));
        let mut phase = None;
        for a in &plan.actions {
            if phase != Some(a.phase) {
                phase = Some(a.phase);
                let title = match a.phase {
                    Phase::Settings => "settings (start no indexing)".to_owned(),
                    Phase::Indexing => format!(
                        "indexing (at most {} at a time)",
                        plan.schedule.max_parallel_indexing
                    ),
                    Phase::Delete => "deletions".to_owned(),
                };
                let _ = writeln!(out, "  {title}");
            }
            let mut line = format!("{:>4}. {} {} {}", a.step, a.symbol(), a.key, a.verb());
            if let Some(s) = plan.schedule.timeline.iter().find(|s| s.step == a.step) {
                let _ = write!(
                    line,
                    ", starts indexing (~{}, slot {}, from +{})",
                    duration(s.end_secs - s.start_secs),
                    s.slot,
                    duration(s.start_secs)
                );
            } else if a.starts_indexing {
                let _ = write!(line, ", {MANUAL_INDEXING}");
            }
            let _ = write!(
                line,
                ", {} API call{}",
                a.api_calls,
                if a.api_calls == 1 { "" } else { "s" }
            );
            let _ = writeln!(out, "  {line}");
        }
        for b in &plan.schedule.busy {
            let _ = writeln!(
                out,
                "  already indexing on the site: {} (#{}), ~{} left",
                b.key,
                b.id,
                duration(b.remaining_secs)
            );
        }
        let _ = writeln!(
            out,
            "Estimated indexing time: {} with {} parallel slot(s); {} API calls (not counting \
             progress polling)",
            duration(plan.schedule.estimated_indexing_secs),
            plan.schedule.max_parallel_indexing,
            plan.schedule.api_calls
        );
    } else {
        let _ = writeln!(out);
        let _ = writeln!(out, "{}", no_changes_line(plan));
    }
    out
}

/// The line of a plan without actions. While integrations are still indexing, "the site
/// matches the config" would read as "done"; the line says what is still running instead.
pub fn no_changes_line(plan: &Plan) -> String {
    match crate::plan::indexing::not_done_note(&plan.indexing) {
        Some(note) => format!("No changes. {note}."),
        None => "No changes. The site matches the config.".to_owned(),
    }
}

/// `~` for an integration GIJ is still working on, `!` for one stopped on an error.
fn indexing_symbol(s: &crate::plan::StillIndexing, p: Paint) -> String {
    if s.progress.is_running() {
        p.yellow("~")
    } else {
        p.red("!")
    }
}
