//! The `[policy]` table: its syntax (serde + schemars, shared by gij.toml and `--policy FILE`),
//! the checks of its values with spans, and its resolution into [`Rules`].
//!
//! The same table shape is accepted in two places so that a config repository can keep the
//! rules that matter most in a separate file with stricter ownership (a CODEOWNERS entry):
//! both sets apply, and where both set the same rule the stricter value wins. Neither file can
//! relax the other.

use std::collections::BTreeSet;
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Rule, RuleKind, Rules};
use crate::config::diagnostic::Problem;
use crate::config::load::{Parsed, Spans};
use crate::model::Service;

/// `[policy]`: rules every plan is checked against before anything is applied. A violated
/// rule makes `plan` fail and `apply` refuse (exit 10). Rules on the change itself name the
/// `--allow` flag that approves one plan's exception.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[schemars(extend("additionalProperties" = false))]
pub struct PolicyTable {
    /// Every integration keeps Require User PAT on (GIJ's strong recommendation). Services
    /// without the setting (AWS CodeCommit, Gerrit, plain git) are exempt.
    pub require_user_pat: Option<bool>,
    /// No integration is associated with all Jira projects (`projects = "all"`, also the
    /// default when `projects` is not set).
    pub forbid_all_projects: Option<bool>,
    /// Integrations of these services must authenticate with a PAT, not OAuth.
    pub require_pat_for: Option<Vec<Service>>,
    /// Display names must match this regular expression, e.g. `^(GitHub|GitLab) · [a-z-]+$`.
    #[schemars(length(min = 1, max = 1000))]
    pub display_name_pattern: Option<String>,
    /// At most this many enabled repositories per integration (GIJ advises about 2,000).
    /// Counted from the repositories the selector enables when the live repository list is
    /// known; skipped with a note for integrations that do not exist yet.
    #[schemars(range(min = 0))]
    pub max_repositories_per_integration: Option<i64>,
    /// At most this many enabled repositories on the whole site, undeclared integrations
    /// included (GIJ Cloud Standard caps connected repositories at 200).
    #[schemars(range(min = 0))]
    pub max_repositories_total: Option<i64>,
    /// Turning Require User PAT off on an existing integration needs
    /// `--allow weaken-require-user-pat`.
    pub protect_require_user_pat: Option<bool>,
    /// Removing a project association from an existing integration (or narrowing "all" to a
    /// list) needs `--allow remove-projects`.
    pub protect_projects: Option<bool>,
    /// Deleting (or replacing) an integration whose initial indexing took longer than this,
    /// e.g. `"6h"`, needs `--allow delete-long-indexing`. GIJ does not report the duration
    /// itself: gijctl uses `lastIndexedDate - initDate` (see docs/config.md).
    #[schemars(regex(pattern = crate::duration::PATTERN))]
    pub protect_indexing_longer_than: Option<String>,
}

/// Checks the values of a `[policy]` table found at `base` (e.g. `["policy"]`), with spans.
pub fn check(table: Option<&PolicyTable>, spans: &Spans) -> Vec<Problem> {
    let Some(t) = table else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let at = |key: &str| spans.best(&["policy", key]);
    if let Some(p) = &t.display_name_pattern
        && let Err(e) = regex::Regex::new(p)
    {
        let first = e.to_string();
        let reason = first
            .lines()
            .last()
            .unwrap_or("invalid")
            .trim()
            .trim_start_matches("error: ")
            .to_owned();
        out.push(
            Problem::at(
                at("display-name-pattern"),
                "invalid regular expression",
                format!("`display-name-pattern` is not a valid regular expression: {reason}"),
            )
            .help("write a Rust regular expression, e.g. '^GitHub · [a-z-]+$' (single quotes keep backslashes literal)"),
        );
    }
    for (key, v) in [
        (
            "max-repositories-per-integration",
            t.max_repositories_per_integration,
        ),
        ("max-repositories-total", t.max_repositories_total),
    ] {
        if let Some(n) = v
            && n < 0
        {
            out.push(
                Problem::at(at(key), "negative", format!("`{key}` must be 0 or more"))
                    .help("write a whole number of repositories, e.g. 2000"),
            );
        }
    }
    if let Some(d) = &t.protect_indexing_longer_than
        && let Err(e) = crate::duration::parse(d, crate::duration::INDEXING_AGE)
    {
        out.push(
            Problem::at(
                at("protect-indexing-longer-than"),
                "invalid duration",
                format!("`protect-indexing-longer-than` is not a duration: {e}"),
            )
            .help("write e.g. \"6h\", \"90m\" or \"1d12h\""),
        );
    }
    if let Some(list) = &t.require_pat_for {
        let mut seen = BTreeSet::new();
        for (i, s) in list.iter().enumerate() {
            if !seen.insert(*s) {
                let idx = i.to_string();
                out.push(
                    Problem::at(
                        spans.best(&["policy", "require-pat-for", &idx]),
                        "duplicate",
                        format!("`require-pat-for` lists `{s}` twice"),
                    )
                    .help("remove the duplicate"),
                );
            } else if !s.supports_pat() {
                let idx = i.to_string();
                out.push(
                    Problem::at(
                        spans.best(&["policy", "require-pat-for", &idx]),
                        "no PAT for this service",
                        format!(
                            "`require-pat-for` lists `{s}`, which GIJ connects only with OAuth"
                        ),
                    )
                    .help("remove it: the rule could never be met"),
                );
            }
        }
    }
    out
}

/// Resolves a checked table into rules. `name` and `source` locate each rule for messages;
/// `in_config` tells whether the spans are in gij.toml (so violations can point at the rule).
pub fn resolve(table: Option<&PolicyTable>, name: &str, parsed: &Parsed, in_config: bool) -> Rules {
    let Some(t) = table else {
        return Rules::default();
    };
    let spans = &parsed.spans;
    let mut rules = Vec::new();
    let mut push = |key: &'static str, kind: RuleKind| {
        let span = spans.best(&["policy", key]);
        let key_at = spans.key(&["policy", key]).unwrap_or_else(|| span.clone());
        rules.push(Rule {
            kind,
            defined_at: crate::config::diagnostic::location(
                name,
                &parsed.masked_source,
                key_at.start,
            ),
            config_span: in_config.then_some(span),
        });
    };
    if t.require_user_pat == Some(true) {
        push("require-user-pat", RuleKind::RequireUserPat);
    }
    if t.forbid_all_projects == Some(true) {
        push("forbid-all-projects", RuleKind::ForbidAllProjects);
    }
    if let Some(list) = &t.require_pat_for
        && !list.is_empty()
    {
        push(
            "require-pat-for",
            RuleKind::RequirePatFor(list.iter().copied().collect()),
        );
    }
    if let Some(p) = &t.display_name_pattern
        && let Ok(re) = regex::Regex::new(p)
    {
        push("display-name-pattern", RuleKind::DisplayNamePattern(re));
    }
    if let Some(n) = t
        .max_repositories_per_integration
        .and_then(|n| u64::try_from(n).ok())
    {
        push(
            "max-repositories-per-integration",
            RuleKind::MaxRepositoriesPerIntegration(n),
        );
    }
    if let Some(n) = t.max_repositories_total.and_then(|n| u64::try_from(n).ok()) {
        push("max-repositories-total", RuleKind::MaxRepositoriesTotal(n));
    }
    if t.protect_require_user_pat == Some(true) {
        push("protect-require-user-pat", RuleKind::ProtectRequireUserPat);
    }
    if t.protect_projects == Some(true) {
        push("protect-projects", RuleKind::ProtectProjects);
    }
    if let Some(secs) = t
        .protect_indexing_longer_than
        .as_deref()
        .and_then(|d| crate::duration::parse(d, crate::duration::INDEXING_AGE).ok())
        .map(|d| d.as_secs())
    {
        push(
            "protect-indexing-longer-than",
            RuleKind::ProtectIndexingLongerThan(secs),
        );
    }
    Rules { rules }
}

/// A `--policy FILE` that could not be used; `Display` renders every problem with positions.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{rendered}")]
pub struct PolicyFileError {
    /// The rendered diagnostics, without colour.
    pub rendered: String,
}

/// Reads a `--policy FILE`: a TOML file holding only a `[policy]` table (and optionally
/// `version = 1`), checked like gij.toml (types, unknown keys, values) with positions.
pub fn load_file(path: &Path) -> Result<Rules, PolicyFileError> {
    let name = path.display().to_string();
    let fail = |problems: &[Problem], source: &str, secrets: &[String]| PolicyFileError {
        rendered: crate::config::diagnostic::render(problems, &name, source, secrets, false),
    };
    let source = crate::config::load::read_source(path)
        .map_err(|p| fail(std::slice::from_ref(&p), "", &[]))?;
    let parsed = crate::config::load::parse(&source);
    let mut problems = parsed.problems.clone();
    if !parsed.syntax_broken {
        let f = &parsed.file;
        for (key, present) in [
            ("defaults", f.defaults.is_some()),
            ("apply", f.apply.is_some()),
            ("integrations", f.integrations.is_some()),
        ] {
            if present {
                problems.push(
                    Problem::at(
                        parsed.spans.key(&[key]).unwrap_or(0..0),
                        "not a policy key",
                        format!("a policy file holds only `[policy]`, not `[{key}]`"),
                    )
                    .help("move this table to gij.toml"),
                );
            }
        }
        if let Some(v) = f.version
            && v != 1
        {
            problems.push(
                Problem::at(
                    parsed.spans.best(&["version"]),
                    "unsupported version",
                    format!("unsupported policy file version `{v}`"),
                )
                .help("write `version = 1` or leave it out"),
            );
        }
        if f.policy.is_none() {
            problems.push(
                Problem::file("the policy file has no `[policy]` table")
                    .help("add `[policy]` and the rules, see docs/config.md"),
            );
        }
        problems.extend(check(f.policy.as_ref(), &parsed.spans));
    }
    if !problems.is_empty() {
        problems.sort_by_key(|p| p.span.as_ref().map_or(0, |s| s.start));
        return Err(fail(&problems, &parsed.masked_source, &parsed.secrets));
    }
    Ok(resolve(parsed.file.policy.as_ref(), &name, &parsed, false))
}
