//! Semantic checks and resolution of a parsed gij.toml into [`DesiredState`].
//!
//! Every check runs and reports; nothing stops at the first problem. Values are checked where
//! they are written (a bad glob in `[defaults]` is reported once, at `[defaults]`), and checks
//! that depend on the merged result (conflicts, service support) point at the place the
//! deciding value came from. Credentials are parsed as references and never resolved here.

use std::collections::{BTreeSet, HashMap};
use std::ops::Range;
use std::path::Path;

use super::diagnostic::{Problem, shorten};
use super::load::{KeyPath, Parsed, Spans};
use super::model::{ApplyTable, DefaultsTable, IntegrationTable, ProjectsValue, RepositoriesTable};
use crate::model::{
    ApplyPolicy, AuthMethod, DesiredIntegration, DesiredState, Field, ProjectKey, ProjectScope,
    RepoSelector, Service, Settings, normalize_origin,
};
use crate::secret::{SecretError, SecretRef};

/// Largest `api-path` / `api-filter` GIJ's wizard accepts.
const MAX_API_LEN: usize = 2000;

/// The name GIJ users know a service by, for default display names and messages.
pub fn service_title(s: Service) -> &'static str {
    match s {
        Service::Github => "GitHub",
        Service::GithubEnterprise => "GitHub Enterprise",
        Service::Gitlab | Service::GitlabSelfManaged => "GitLab",
        Service::AzureDevops => "Azure DevOps",
        Service::AzureDevopsServer => "Azure DevOps Server",
        Service::Bitbucket => "Bitbucket",
        Service::BitbucketDataCenter => "Bitbucket Data Center",
        Service::AwsCodecommit => "AWS CodeCommit",
        Service::Gerrit => "Gerrit",
        Service::PlainGit => "Git",
    }
}

/// Whether GIJ offers Require User PAT for the service (auto-connected hosts only).
pub fn supports_user_pat(s: Service) -> bool {
    !matches!(
        s,
        Service::AwsCodecommit | Service::Gerrit | Service::PlainGit
    )
}

/// Whether GIJ's Custom API Path applies to the service (GitHub and GitLab only).
fn supports_api_path(s: Service) -> bool {
    matches!(
        s,
        Service::Github | Service::GithubEnterprise | Service::Gitlab | Service::GitlabSelfManaged
    )
}

/// The self-managed counterpart of a SaaS service, for "did you mean" hints on `host`.
fn self_managed_of(s: Service) -> Option<Service> {
    Some(match s {
        Service::Github => Service::GithubEnterprise,
        Service::Gitlab => Service::GitlabSelfManaged,
        Service::AzureDevops => Service::AzureDevopsServer,
        Service::Bitbucket => Service::BitbucketDataCenter,
        _ => return None,
    })
}

/// AWS CodeCommit's origin for a region (what GIJ stores).
pub fn aws_origin(region: &str) -> String {
    format!("https://git-codecommit.{region}.amazonaws.com")
}

/// Longest repository pattern accepted: repository names are at most a few hundred characters
/// on every service, and a pattern is compiled into a regular expression whose size grows
/// with it.
pub const MAX_GLOB_CHARS: usize = 256;

/// Deepest nesting of `{a,b}` alternatives accepted in a repository pattern.
pub const MAX_GLOB_NESTING: usize = 8;

/// Most `{a,b}` alternatives (commas inside braces, over the whole pattern) accepted.
pub const MAX_GLOB_ALTERNATIVES: usize = 64;

/// Checks a repository pattern: size and nesting first (documented limits, so that a pattern
/// that would compile into an oversized expression is refused here with its position, not in
/// `plan` without one), then by building the matcher exactly as [`RepoSelector::matcher`] does,
/// regular expression included.
fn check_glob(p: &str) -> Result<(), String> {
    if p.trim().is_empty() {
        return Err("empty pattern".into());
    }
    let chars = p.chars().count();
    if chars > MAX_GLOB_CHARS {
        return Err(format!(
            "the pattern is {chars} characters long; patterns are at most {MAX_GLOB_CHARS}"
        ));
    }
    let (mut depth, mut deepest, mut alternatives) = (0usize, 0usize, 0usize);
    let (mut escaped, mut in_class) = (false, false);
    for c in p.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            _ if in_class => {}
            '{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            '}' => depth = depth.saturating_sub(1),
            ',' if depth > 0 => alternatives += 1,
            _ => {}
        }
    }
    if deepest > MAX_GLOB_NESTING {
        return Err(format!(
            "`{{...}}` alternatives nest {deepest} deep; at most {MAX_GLOB_NESTING} levels are allowed"
        ));
    }
    if alternatives > MAX_GLOB_ALTERNATIVES {
        return Err(format!(
            "the pattern has {} alternatives; at most {MAX_GLOB_ALTERNATIVES} are allowed",
            alternatives + 1
        ));
    }
    let glob = globset::GlobBuilder::new(p)
        .case_insensitive(true)
        .literal_separator(true)
        .build()
        .map_err(|e| e.kind().to_string())?;
    globset::GlobSetBuilder::new()
        .add(glob)
        .build()
        .map(|_| ())
        .map_err(|e| e.kind().to_string())
}

struct V<'a> {
    spans: &'a Spans,
    failed: &'a BTreeSet<KeyPath>,
    problems: Vec<Problem>,
}

impl V<'_> {
    fn span(&self, path: &[&str]) -> Range<usize> {
        self.spans.best(path)
    }

    fn key_span(&self, path: &[&str]) -> Range<usize> {
        self.spans
            .key(path)
            .unwrap_or_else(|| self.spans.best(path))
    }

    /// Whether the key at `path`, or a table holding it, had a type error (already reported).
    /// One lookup per prefix: scanning every failed key per check was quadratic once type
    /// errors were no longer capped at 500.
    fn failed(&self, path: &[&str]) -> bool {
        let mut prefix: KeyPath = Vec::with_capacity(path.len());
        path.iter().any(|p| {
            prefix.push((*p).to_owned());
            self.failed.contains(&prefix)
        })
    }

    fn push(&mut self, p: Problem) {
        self.problems.push(p);
    }
}

/// A value merged from an integration and `[defaults]`, with where it came from.
struct Merged<T> {
    value: T,
    /// The path of the deciding key, `None` when it is the built-in default.
    from: Option<Vec<String>>,
}

fn merge<T: Clone>(
    own: Option<&T>,
    def: Option<&T>,
    base: T,
    key: &str,
    int_key: &str,
) -> Merged<T> {
    match (own, def) {
        (Some(v), _) => Merged {
            value: v.clone(),
            from: Some(vec!["integrations".into(), int_key.into(), key.into()]),
        },
        (None, Some(v)) => Merged {
            value: v.clone(),
            from: Some(vec!["defaults".into(), key.into()]),
        },
        (None, None) => Merged {
            value: base,
            from: None,
        },
    }
}

fn refs(p: &[String]) -> Vec<&str> {
    p.iter().map(String::as_str).collect()
}

/// Validates the parsed file and resolves it. Returns the state and every problem found.
pub fn validate(parsed: &Parsed) -> (DesiredState, Vec<Problem>) {
    let mut v = V {
        spans: &parsed.spans,
        failed: &parsed.failed,
        problems: Vec::new(),
    };
    let file = &parsed.file;

    match file.version {
        Some(1) => {}
        Some(n) => {
            let span = v.span(&["version"]);
            v.push(
                Problem::at(
                    span,
                    "unsupported version",
                    format!("unsupported config version `{n}`"),
                )
                .help("this gijctl reads `version = 1`"),
            );
        }
        None if v.failed(&["version"]) => {}
        None => {
            v.push(Problem::at(0..0, "", "missing `version`").help(
                "add `version = 1` at the top of the file, so future formats can be told apart",
            ))
        }
    }

    let defaults = file.defaults.clone().unwrap_or_default();
    check_settings_values(&mut v, &defaults_as_settings(&defaults), &["defaults"]);
    let policy = resolve_apply(&mut v, file.apply.as_ref());

    let empty = Default::default();
    let tables = file.integrations.as_ref().unwrap_or(&empty);
    let mut keys: Vec<&String> = tables.keys().collect();
    // Cached: a key's span is a lookup, and a sort asks for it O(log n) times per key.
    keys.sort_by_cached_key(|k| v.key_span(&["integrations", k]).start);

    let mut integrations = Vec::new();
    for (index, key) in keys.into_iter().enumerate() {
        let t = &tables[key];
        if let Some(d) = resolve_integration(&mut v, key, t, &defaults, index) {
            integrations.push(d);
        }
    }
    check_uniqueness(&mut v, &integrations);

    let mut problems = v.problems;
    problems.sort_by_key(|p| p.span.as_ref().map_or(0, |s| s.start));
    (
        DesiredState {
            integrations,
            policy,
        },
        problems,
    )
}

/// The settings part of `[defaults]`, viewed as an integration table (same field names).
fn defaults_as_settings(d: &DefaultsTable) -> IntegrationTable {
    IntegrationTable {
        projects: d.projects.clone(),
        repositories: d.repositories.clone(),
        enabled: d.enabled,
        require_user_pat: d.require_user_pat,
        smart_commits: d.smart_commits,
        repository_browser: d.repository_browser,
        diff_viewing: d.diff_viewing,
        revision_indexing: d.revision_indexing,
        commit_emails: d.commit_emails,
        commit_email_max_age_minutes: d.commit_email_max_age_minutes,
        tags_filter: d.tags_filter.clone(),
        pr_hide_filter: d.pr_hide_filter.clone(),
        ssl_verify: d.ssl_verify,
        trust_folder_stat: d.trust_folder_stat,
        fetch_notes: d.fetch_notes,
        fetch_changes: d.fetch_changes,
        fetch_refspecs: d.fetch_refspecs.clone(),
        api_path: d.api_path.clone(),
        api_filter: d.api_filter.clone(),
        ignore: d.ignore.clone(),
        auth: d.auth,
        ..IntegrationTable::default()
    }
}

/// Checks values that are wrong wherever they are written.
fn check_settings_values(v: &mut V<'_>, t: &IntegrationTable, base: &[&str]) {
    let at = |k: &[&str]| -> Vec<String> {
        base.iter()
            .chain(k.iter())
            .map(|s| (*s).to_owned())
            .collect()
    };
    if let Some(n) = t.commit_email_max_age_minutes
        && n < 1
    {
        let s = v.span(&refs(&at(&["commit-email-max-age-minutes"])));
        v.push(
            Problem::at(
                s,
                "must be at least 1",
                "`commit-email-max-age-minutes` must be at least 1",
            )
            .help("GIJ counts the age in minutes; 1440 is one day"),
        );
    } else if let Some(n) = t.commit_email_max_age_minutes
        && n > i64::from(u32::MAX)
    {
        let s = v.span(&refs(&at(&["commit-email-max-age-minutes"])));
        v.push(Problem::at(
            s,
            "too large",
            "`commit-email-max-age-minutes` is too large",
        ));
    }
    for key in ["tags-filter", "pr-hide-filter"] {
        let val = if key == "tags-filter" {
            &t.tags_filter
        } else {
            &t.pr_hide_filter
        };
        if let Some(re) = val
            && !re.is_empty()
            && let Err(e) = regex::Regex::new(re)
        {
            let s = v.span(&refs(&at(&[key])));
            let reason = match e {
                regex::Error::Syntax(m) => {
                    m.lines().last().unwrap_or("syntax error").trim().to_owned()
                }
                regex::Error::CompiledTooBig(_) => "the expression is too large".to_owned(),
                _ => "invalid expression".to_owned(),
            };
            v.push(
                Problem::at(s, "invalid regex", format!("`{key}` is not a valid regular expression: {}", reason.trim_start_matches("error: ")))
                    .help("GIJ matches this as a regular expression; escape literal characters such as `.` or `(` with `\\`"),
            );
        }
    }
    if let Some(p) = &t.api_path {
        let s = v.span(&refs(&at(&["api-path"])));
        if !p.is_empty() && !p.starts_with('/') {
            v.push(
                Problem::at(
                    s.clone(),
                    "must start with /",
                    "`api-path` must be a path starting with `/`",
                )
                .help(format!("write `/{}`", p.trim_start_matches('/'))),
            );
        }
        if p.len() > MAX_API_LEN {
            v.push(Problem::at(
                s,
                "too long",
                "`api-path` is longer than 2000 characters",
            ));
        }
    }
    if let Some(f) = &t.api_filter
        && f.len() > MAX_API_LEN
    {
        let s = v.span(&refs(&at(&["api-filter"])));
        v.push(Problem::at(
            s,
            "too long",
            "`api-filter` is longer than 2000 characters",
        ));
    }
    if let Some(specs) = &t.fetch_refspecs {
        for (i, spec) in specs.iter().enumerate() {
            let idx = i.to_string();
            let s = v.span(&refs(&at(&["fetch-refspecs", &idx])));
            if spec.trim().is_empty() || spec.contains(',') || spec.contains(char::is_whitespace) {
                v.push(
                    Problem::at(
                        s,
                        "invalid refspec",
                        "a refspec cannot be empty or contain commas or spaces",
                    )
                    .help("write one refspec per list item, e.g. \"+refs/pull/*:refs/pull/*\""),
                );
            }
        }
    }
    if let Some(ProjectsValue::Keys(keys)) = &t.projects {
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (i, k) in keys.iter().enumerate() {
            let idx = i.to_string();
            let s = v.span(&refs(&at(&["projects", &idx])));
            match ProjectKey::parse(k) {
                Err(msg) => v.push(
                    Problem::at(s, "not a project key", msg).help(
                        "use the Jira project key (the prefix of issue keys, e.g. `OPS` in OPS-123), not its name",
                    ),
                ),
                Ok(pk) => {
                    if let Some(first) = seen.get(pk.as_str()) {
                        let fs = v.span(&refs(&at(&["projects", &first.to_string()])));
                        v.push(
                            Problem::at(s, "listed again", format!("project `{pk}` is listed twice"))
                                .related(fs, "first listed here")
                                .help("project keys ignore case; remove the duplicate"),
                        );
                    } else {
                        seen.insert(pk.as_str().to_owned(), i);
                    }
                }
            }
        }
    }
    if let Some(r) = &t.repositories {
        check_repositories(v, r, &at(&["repositories"]));
    }
    if let Some(fields) = &t.ignore {
        let mut seen = BTreeSet::new();
        for (i, f) in fields.iter().enumerate() {
            if !seen.insert(*f) {
                let s = v.span(&refs(&at(&["ignore", &i.to_string()])));
                v.push(
                    Problem::at(s, "listed again", "field listed twice in `ignore`")
                        .help("remove the duplicate"),
                );
            }
        }
    }
}

fn check_repositories(v: &mut V<'_>, r: &RepositoriesTable, base: &[String]) {
    for (list_name, list) in [("include", &r.include), ("exclude", &r.exclude)] {
        let Some(list) = list else { continue };
        if list_name == "include" && list.is_empty() {
            let mut p = base.to_vec();
            p.push("include".into());
            let s = v.span(&refs(&p));
            v.push(
                Problem::at(s, "selects nothing", "`repositories.include` is empty, so no repository would be indexed")
                    .help("list names or globs (`[\"*\"]` for all); to stop indexing, set `enabled = false`"),
            );
        }
        for (i, pat) in list.iter().enumerate() {
            if let Err(why) = check_glob(pat) {
                let mut p = base.to_vec();
                p.push(list_name.into());
                p.push(i.to_string());
                let s = v.span(&refs(&p));
                v.push(
                    Problem::at(s, "invalid glob", format!("invalid repository pattern: {why}"))
                        .help("patterns are globs: `*` matches within a name, `?` one character, `[abc]` a set, `{a,b}` alternatives"),
                );
            }
        }
    }
    if let Some(ex) = &r.exclude
        && ex.iter().any(|p| p == "*" || p == "**")
    {
        let mut p = base.to_vec();
        p.push("exclude".into());
        let s = v.span(&refs(&p));
        v.push(
            Problem::at(
                s,
                "excludes everything",
                "`repositories.exclude` matches every repository",
            )
            .help("to stop indexing, set `enabled = false` instead"),
        );
    }
}

fn to_u32(v: &mut V<'_>, val: Option<i64>, key: &str, min: i64, max: i64, default: u32) -> u32 {
    let Some(n) = val else { return default };
    if n < min || n > max {
        let s = v.span(&["apply", key]);
        let range = if max == i64::from(u32::MAX) {
            format!("at least {min}")
        } else {
            format!("between {min} and {max}")
        };
        let mut p = Problem::at(s, "out of range", format!("`{key}` must be {range}"));
        if key == "max-parallel-indexing" && n < 1 {
            p = p.help("at least one integration must be allowed to index; GIJ advises 1 or 2");
        } else if max == 100 {
            p = p.help("percentages are whole numbers from 0 to 100");
        } else {
            p = p.help(format!("write a whole number, {range}"));
        }
        v.push(p);
        return default;
    }
    u32::try_from(n).unwrap_or(default)
}

fn resolve_apply(v: &mut V<'_>, t: Option<&ApplyTable>) -> ApplyPolicy {
    let d = ApplyPolicy::default();
    let Some(t) = t else { return d };
    let big = i64::from(u32::MAX);
    let mut p = ApplyPolicy {
        max_parallel_indexing: to_u32(
            v,
            t.max_parallel_indexing,
            "max-parallel-indexing",
            1,
            big,
            d.max_parallel_indexing,
        ),
        max_deletes: to_u32(v, t.max_deletes, "max-deletes", 0, big, d.max_deletes),
        max_delete_percent: to_u32(
            v,
            t.max_delete_percent,
            "max-delete-percent",
            0,
            100,
            d.max_delete_percent,
        ),
        max_update_percent: to_u32(
            v,
            t.max_update_percent,
            "max-update-percent",
            0,
            100,
            d.max_update_percent,
        ),
        min_existing_for_percent: to_u32(
            v,
            t.min_existing_for_percent,
            "min-existing-for-percent",
            0,
            big,
            d.min_existing_for_percent,
        ),
        on_timeout: t.on_timeout.unwrap_or(d.on_timeout),
        prune: t.prune.unwrap_or(d.prune),
        indexing_timeout_secs: d.indexing_timeout_secs,
    };
    if let Some(s) = &t.indexing_timeout {
        let span = v.span(&["apply", "indexing-timeout"]);
        match crate::duration::parse(s, crate::duration::INDEXING_TIMEOUT) {
            Ok(d) => p.indexing_timeout_secs = d.as_secs(),
            Err(crate::duration::DurationError::OutOfRange { range, .. }) => v.push(
                Problem::at(
                    span,
                    "out of range",
                    "`indexing-timeout` is out of range".to_owned(),
                )
                .help(format!(
                    "write a duration from {} to {}, e.g. \"4h\"",
                    crate::duration::format(range.min),
                    crate::duration::format(range.max)
                )),
            ),
            Err(why) => v.push(
                Problem::at(
                    span,
                    "not a duration",
                    format!("`indexing-timeout` is not a duration: {why}"),
                )
                .help("write a number and a unit: \"4h\", \"90m\", \"1h30m\", \"2d\""),
            ),
        }
    }
    p
}

fn is_valid_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 64
        && k.starts_with(|c: char| c.is_ascii_alphanumeric())
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn is_valid_region(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[0].chars().all(|c| c.is_ascii_lowercase())
        && parts[1..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts
            .last()
            .is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

#[allow(clippy::too_many_lines)]
fn resolve_integration(
    v: &mut V<'_>,
    key: &str,
    t: &IntegrationTable,
    d: &DefaultsTable,
    file_index: usize,
) -> Option<DesiredIntegration> {
    let p = |k: &str| -> Vec<String> { vec!["integrations".into(), key.into(), k.into()] };
    let head = v.key_span(&["integrations", key]);
    let at = |v: &V<'_>, k: &str| v.span(&refs(&p(k)));

    if !is_valid_key(key) {
        v.push(
            Problem::at(head.clone(), "invalid key", format!("integration key `{}` is not a simple name", shorten(key, 64)))
                .help("use letters, digits, `-` and `_` (at most 64), e.g. `acme-github`; the key must stay stable"),
        );
    }
    check_settings_values(v, t, &["integrations", key]);

    let service = match t.service {
        Some(s) => Some(s),
        None => {
            if !v.failed(&refs(&p("service"))) {
                let names: Vec<&str> = Service::ALL.iter().map(|s| s.config_name()).collect();
                v.push(
                    Problem::at(
                        head.clone(),
                        "no service",
                        format!("integration `{key}` has no `service`"),
                    )
                    .help(format!(
                        "add `service = \"github\"` (one of: {})",
                        names.join(", ")
                    )),
                );
            }
            None
        }
    };

    let owner = t
        .owner
        .as_deref()
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    if owner.is_empty() && !v.failed(&refs(&p("owner"))) {
        let (span, label) = match &t.owner {
            Some(_) => (at(v, "owner"), "empty"),
            None => (head.clone(), "no owner"),
        };
        v.push(
            Problem::at(span, label, format!("integration `{key}` has no `owner`"))
                .help("set `owner` to the organisation, group or project collection to connect, e.g. `owner = \"acme\"`"),
        );
    }

    let auth = merge(
        t.auth.as_ref(),
        d.auth.as_ref(),
        AuthMethod::Pat,
        "auth",
        key,
    );
    let auth_span = auth
        .from
        .as_ref()
        .map_or_else(|| head.clone(), |f| v.span(&refs(f)));

    // Credential: a reference only, never resolved here.
    let mut credential = None;
    if let Some(c) = &t.credential {
        let span = at(v, "credential");
        match SecretRef::parse(c.trim()) {
            Ok(r) => {
                if let Some(p) = reference_problem(&r, span.clone()) {
                    v.push(p);
                }
                credential = Some(r)
            }
            Err(SecretError::Literal) => v.push(
                Problem::at(span, "literal secret", SecretError::Literal.to_string()).help(
                    "for example `credential = \"env:GITHUB_TOKEN\"`, then `export GITHUB_TOKEN=...` before running gijctl; revoke the token if this file was shared",
                ),
            ),
            Err(_) => v.push(
                Problem::at(span, "not a reference", "`credential` is not a secret reference")
                    .help("write `env:NAME` (an environment variable) or `file:PATH` (relative to this file)"),
            ),
        }
    }

    let mut origin = String::new();
    if let Some(service) = service {
        // Authentication method against the service.
        match auth.value {
            AuthMethod::Oauth if !service.supports_oauth() => v.push(
                Problem::at(auth_span.clone(), "not supported", format!("{service} integrations cannot use OAuth"))
                    .help("use `auth = \"pat\"` with a `credential`"),
            ),
            AuthMethod::Pat if !service.supports_pat() => v.push(
                Problem::at(
                    if auth.from.is_some() { auth_span.clone() } else { at(v, "service") },
                    "needs oauth",
                    format!("{service} integrations cannot use a personal access token"),
                )
                .help("GIJ connects Bitbucket Cloud through OAuth: set `auth = \"oauth\"` and grant access in the browser"),
            ),
            _ => {}
        }
        if auth.value == AuthMethod::Oauth && t.credential.is_some() {
            v.push(
                Problem::at(
                    at(v, "credential"),
                    "not used with oauth",
                    "an OAuth integration takes no `credential`",
                )
                .help("remove `credential`, or set `auth = \"pat\"` to connect with a token")
                .related(auth_span.clone(), "oauth chosen here"),
            );
        }
        if auth.value == AuthMethod::Pat
            && service.supports_pat()
            && t.credential.is_none()
            && !v.failed(&refs(&p("credential")))
        {
            v.push(
                Problem::at(head.clone(), "no credential", format!("integration `{key}` uses a token but has no `credential`"))
                    .help("add `credential = \"env:NAME\"` or `credential = \"file:PATH\"`, or use `auth = \"oauth\"`"),
            );
        }

        // Where the service lives.
        match (&t.host, service.default_origin()) {
            (Some(_), Some(_)) => {
                let help = match self_managed_of(service) {
                    Some(sm) => format!(
                        "remove `host`, or use `service = \"{sm}\"` for a self-managed server"
                    ),
                    None => "remove `host`".to_owned(),
                };
                v.push(
                    Problem::at(
                        at(v, "host"),
                        "not used",
                        format!("`host` is not used by {service}: its address is fixed"),
                    )
                    .help(help),
                );
                origin = service.default_origin().unwrap_or_default().to_owned();
            }
            (None, Some(o)) => origin = o.to_owned(),
            (Some(h), None) if service == Service::AwsCodecommit => {
                let _ = h;
                v.push(
                    Problem::at(
                        at(v, "host"),
                        "not used",
                        "`host` is not used by aws-codecommit",
                    )
                    .help("remove `host`: the address follows from `aws-region`"),
                );
            }
            (Some(h), None) => match check_host(h) {
                Ok(o) => origin = o,
                Err(why) => v.push(
                    Problem::at(
                        at(v, "host"),
                        "invalid URL",
                        format!("`host` is not a usable URL: {why}"),
                    )
                    .help(
                        "write the server's base URL, e.g. `host = \"https://gitlab.example.com\"`",
                    ),
                ),
            },
            (None, None) if service.requires_host() => {
                if !v.failed(&refs(&p("host"))) {
                    v.push(
                        Problem::at(
                            head.clone(),
                            "no host",
                            format!(
                                "{service} is self-managed: integration `{key}` needs a `host`"
                            ),
                        )
                        .help(
                            "add the server's base URL, e.g. `host = \"https://git.example.com\"`",
                        ),
                    );
                }
            }
            (None, None) => {}
        }

        // Username (Gerrit user, AWS access key id).
        if service.requires_username() {
            if auth.value == AuthMethod::Pat
                && t.username.is_none()
                && !v.failed(&refs(&p("username")))
            {
                let what = if service == Service::AwsCodecommit {
                    "the AWS access key id as `username` (the secret key goes in `credential`)"
                } else {
                    "a `username` (the password goes in `credential`)"
                };
                v.push(
                    Problem::at(
                        head.clone(),
                        "no username",
                        format!("{service} integration `{key}` has no `username`"),
                    )
                    .help(format!("add {what}")),
                );
            }
        } else if t.username.is_some() {
            v.push(
                Problem::at(
                    at(v, "username"),
                    "not used",
                    format!("`username` is not used by {service}"),
                )
                .help("only gerrit and aws-codecommit take a username; remove it"),
            );
        }
        if t.username.as_deref().is_some_and(|u| u.trim().is_empty()) {
            v.push(Problem::at(
                at(v, "username"),
                "empty",
                "`username` is empty",
            ));
        }

        // AWS region.
        if service == Service::AwsCodecommit {
            match &t.aws_region {
                None if !v.failed(&refs(&p("aws-region"))) => v.push(
                    Problem::at(
                        head.clone(),
                        "no region",
                        format!("aws-codecommit integration `{key}` has no `aws-region`"),
                    )
                    .help("add the region of the repositories, e.g. `aws-region = \"eu-west-1\"`"),
                ),
                Some(r) if !is_valid_region(r) => v.push(
                    Problem::at(
                        at(v, "aws-region"),
                        "not a region",
                        format!("`{r}` is not an AWS region"),
                    )
                    .help("write a region code such as `eu-west-1` or `us-east-2`"),
                ),
                Some(r) => origin = aws_origin(r),
                None => {}
            }
        } else if t.aws_region.is_some() {
            v.push(
                Problem::at(
                    at(v, "aws-region"),
                    "not used",
                    format!("`aws-region` is not used by {service}"),
                )
                .help("only aws-codecommit takes a region; remove it"),
            );
        }

        // Custom API path only exists for GitHub and GitLab.
        let api_path = merge(
            t.api_path.as_ref(),
            d.api_path.as_ref(),
            String::new(),
            "api-path",
            key,
        );
        if !api_path.value.is_empty() && !supports_api_path(service) {
            let span = api_path
                .from
                .as_ref()
                .map_or_else(|| head.clone(), |f| v.span(&refs(f)));
            v.push(
                Problem::at(span, "not supported", format!("`api-path` is not supported by {service} (integration `{key}`)"))
                    .help("GIJ's custom API path exists for GitHub and GitLab only; use `api-filter` or `repositories` instead"),
            );
        }
    }

    // Settings, merged.
    let base = Settings::default();
    macro_rules! m {
        ($field:ident, $key:literal) => {
            merge(
                t.$field.as_ref(),
                d.$field.as_ref(),
                base.$field.clone(),
                $key,
                key,
            )
        };
    }
    let rup = m!(require_user_pat, "require-user-pat");
    let browser = m!(repository_browser, "repository-browser");
    let mut require_user_pat = rup.value;
    if let Some(service) = service
        && !supports_user_pat(service)
    {
        if t.require_user_pat == Some(true) {
            v.push(
                Problem::at(
                    at(v, "require-user-pat"),
                    "not supported",
                    format!("{service} does not support Require User PAT"),
                )
                .help("remove `require-user-pat` (it defaults to off for this service)"),
            );
        }
        // From [defaults] or the built-in default: not applicable here, so off.
        require_user_pat = false;
    }
    if require_user_pat && !browser.value {
        let (span, other) = match (&rup.from, &browser.from) {
            (Some(r), Some(b)) if r[0] == "integrations" || b[0] != "integrations" => {
                (v.span(&refs(r)), Some(v.span(&refs(b))))
            }
            (_, Some(b)) => (
                v.span(&refs(b)),
                rup.from.as_ref().map(|r| v.span(&refs(r))),
            ),
            (Some(r), None) => (v.span(&refs(r)), None),
            (None, None) => (head.clone(), None),
        };
        let mut prob = Problem::at(
            span,
            "conflict",
            format!("integration `{key}`: Require User PAT needs the repository browser"),
        )
        .help("GIJ requires the repository browser for Require User PAT: set `repository-browser = true`, or `require-user-pat = false`");
        if let Some(o) = other {
            prob = prob.related(o, "conflicts with this");
        }
        v.push(prob);
    }
    let projects_raw = merge(
        t.projects.as_ref(),
        d.projects.as_ref(),
        ProjectsValue::Keys(vec![]),
        "projects",
        key,
    );
    let projects = match (&projects_raw.from, &projects_raw.value) {
        (None, _) | (_, ProjectsValue::All(_)) => ProjectScope::All,
        (Some(_), ProjectsValue::Keys(keys)) => ProjectScope::Keys(
            keys.iter()
                .filter_map(|k| ProjectKey::parse(k).ok())
                .collect(),
        ),
    };
    if matches!(&projects_raw.value, ProjectsValue::Keys(k) if k.is_empty())
        && projects_raw.from.is_some()
        && browser.value
    {
        let span = projects_raw
            .from
            .as_ref()
            .map_or_else(|| head.clone(), |f| v.span(&refs(f)));
        v.push(
            Problem::at(span, "no projects", format!("integration `{key}` has the repository browser on but no Jira project"))
                .help("GIJ needs at least one associated project for the repository browser: list projects, use `\"all\"`, or set `repository-browser = false`"),
        );
    }

    let settings = Settings {
        enabled: m!(enabled, "enabled").value,
        require_user_pat,
        smart_commits: m!(smart_commits, "smart-commits").value,
        repository_browser: browser.value,
        diff_viewing: m!(diff_viewing, "diff-viewing").value,
        revision_indexing: m!(revision_indexing, "revision-indexing").value,
        commit_emails: m!(commit_emails, "commit-emails").value,
        commit_email_max_age_minutes: merge(
            t.commit_email_max_age_minutes.as_ref(),
            d.commit_email_max_age_minutes.as_ref(),
            i64::from(base.commit_email_max_age_minutes),
            "commit-email-max-age-minutes",
            key,
        )
        .value
        .try_into()
        .unwrap_or(base.commit_email_max_age_minutes),
        tags_filter: m!(tags_filter, "tags-filter").value,
        pr_hide_filter: m!(pr_hide_filter, "pr-hide-filter").value,
        ssl_verify: m!(ssl_verify, "ssl-verify").value,
        trust_folder_stat: m!(trust_folder_stat, "trust-folder-stat").value,
        fetch_notes: m!(fetch_notes, "fetch-notes").value,
        fetch_changes: m!(fetch_changes, "fetch-changes").value,
        fetch_refspecs: m!(fetch_refspecs, "fetch-refspecs").value,
        api_path: m!(api_path, "api-path").value,
        api_filter: m!(api_filter, "api-filter").value,
    };

    let repos_own = t.repositories.clone().unwrap_or_default();
    let repos_def = d.repositories.clone().unwrap_or_default();
    let dflt = RepoSelector::default();
    let repositories = RepoSelector {
        include: repos_own
            .include
            .or(repos_def.include)
            .unwrap_or(dflt.include),
        exclude: repos_own
            .exclude
            .or(repos_def.exclude)
            .unwrap_or(dflt.exclude),
    };

    // `ignore` merges as a union: a default ignore cannot be switched back on per integration
    // by omission, only by not listing it in [defaults].
    let mut ignore: BTreeSet<Field> = d.ignore.clone().unwrap_or_default().into_iter().collect();
    ignore.extend(t.ignore.clone().unwrap_or_default());
    if let Some(own) = &t.ignore {
        for (i, f) in own.iter().enumerate() {
            let name = serde_json::to_value(f)
                .ok()
                .and_then(|x| x.as_str().map(str::to_owned))
                .unwrap_or_default();
            if v.spans.value(&refs(&p(&name))).is_some() {
                let s = v.span(&refs(&[p("ignore"), vec![i.to_string()]].concat()));
                v.push(
                    Problem::at(s, "also set", format!("`{name}` is both set and ignored in integration `{key}`"))
                        .related(v.key_span(&refs(&p(&name))), "set here")
                        .help("an ignored field is never written: remove the value or remove it from `ignore`"),
                );
            }
        }
    }

    let pinned_id = match t.id {
        Some(n) if n < 1 => {
            v.push(
                Problem::at(
                    at(v, "id"),
                    "invalid id",
                    "`id` must be a positive GIJ integration id",
                )
                .help("copy the id from `gijctl plan` or GIJ's integration page"),
            );
            None
        }
        Some(n) => u64::try_from(n).ok(),
        None => None,
    };

    let display_name = match &t.display_name {
        Some(n) if n.trim().is_empty() => {
            v.push(
                Problem::at(at(v, "display-name"), "empty", "`display-name` is empty")
                    .help("remove it to get the default (service · owner), or write a name"),
            );
            String::new()
        }
        Some(n) => n.trim().to_owned(),
        None => service.map_or_else(String::new, |s| format!("{} · {owner}", service_title(s))),
    };

    let service = service?;
    if owner.is_empty() {
        return None;
    }
    Some(DesiredIntegration {
        key: key.to_owned(),
        service,
        origin,
        owner,
        auth: auth.value,
        credential: if auth.value == AuthMethod::Pat {
            credential
        } else {
            None
        },
        username: t.username.as_ref().map(|u| u.trim().to_owned()),
        aws_region: t.aws_region.clone(),
        display_name,
        repositories,
        projects,
        settings,
        order: t.order,
        file_index,
        pinned_id,
        ignore,
        allow_replace: t.allow_replace.unwrap_or(false),
    })
}

/// Static checks of a parsed reference: a token pasted after `env:`, and `file:` paths that
/// climb out of the config's directory (the policy in docs/security.md).
fn reference_problem(r: &SecretRef, span: Range<usize>) -> Option<Problem> {
    match r {
        SecretRef::Env(name) => {
            let lower = name.to_ascii_lowercase();
            let pasted = super::load::has_token_prefix(name)
                || ["ghp_", "gho_", "ghs_", "ghu_", "github_pat_", "glpat"]
                    .iter()
                    .any(|p| lower.starts_with(p));
            pasted.then(|| {
                Problem::at(span, "literal secret", SecretError::Literal.to_string()).help(
                    "`env:` takes the name of an environment variable, e.g. `env:GITHUB_TOKEN`, \
                     not the token itself; revoke the token if this file was shared",
                )
            })
        }
        SecretRef::File(p) => {
            let climbs = p.is_relative()
                && p.components()
                    .any(|c| matches!(c, std::path::Component::ParentDir));
            climbs.then(|| {
                Problem::at(
                    span,
                    "leaves the config directory",
                    "this `file:` reference leaves the config directory (`..`)",
                )
                .help(
                    "keep token files next to gij.toml or below it, or write an absolute path \
                     (e.g. `file:/run/secrets/github-token`) so reviewers see where it points",
                )
            })
        }
    }
}

/// Checks the files that `file:` credential references point at, without reading them: each
/// must be a regular file (after symlinks) of at most 64 KiB, outside `/dev`, `/proc` and
/// `/sys`. A missing file is not an error here (it may be provisioned only where apply runs);
/// resolving it later reports it.
pub fn check_secret_files(parsed: &Parsed, base: &Path) -> Vec<Problem> {
    let mut problems = Vec::new();
    let Some(tables) = parsed.file.integrations.as_ref() else {
        return problems;
    };
    for (key, t) in tables {
        let Some(Ok(SecretRef::File(rel))) =
            t.credential.as_deref().map(|c| SecretRef::parse(c.trim()))
        else {
            continue;
        };
        let shown = rel.display().to_string();
        if shown.chars().any(char::is_control)
            || (rel.is_relative()
                && rel
                    .components()
                    .any(|c| matches!(c, std::path::Component::ParentDir)))
        {
            continue; // already reported
        }
        let span = parsed
            .spans
            .value(&["integrations", key, "credential"])
            .unwrap_or(0..0);
        let path = if rel.is_absolute() {
            rel.clone()
        } else {
            base.join(&rel)
        };
        let problem = |label: &str, msg: String| Problem::at(span.clone(), label.to_owned(), msg);
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound
                    && std::fs::symlink_metadata(&path).is_err() =>
            {
                continue;
            }
            Err(e) => {
                problems.push(
                    problem(
                        "unreadable",
                        format!(
                            "the file of `file:{shown}` cannot be read: {}",
                            e.to_string().to_lowercase()
                        ),
                    )
                    .help("point `file:` at a readable regular file holding only the token"),
                );
                continue;
            }
        };
        if !meta.is_file() {
            problems.push(
                problem(
                    "not a regular file",
                    format!("`file:{shown}` is not a regular file (a device, FIFO or directory)"),
                )
                .help("point `file:` at a regular file holding only the token"),
            );
            continue;
        }
        // Every hop of a symlink chain, not only its end: `/dev/stdin` ends at whatever
        // stdin is, possibly an ordinary file.
        if super::load::in_pseudo_fs(&path) {
            problems.push(
                problem(
                    "not a token file",
                    format!(
                        "`file:{shown}` points into /dev, /proc or /sys, which hold no token files"
                    ),
                )
                .help("point `file:` at a regular file holding only the token"),
            );
            continue;
        }
        if meta.len() > 64 * 1024 {
            problems.push(problem(
                "too large",
                format!("`file:{shown}` is larger than 64 KiB; it cannot be a token"),
            ));
        }
    }
    problems
}

fn check_host(h: &str) -> Result<String, String> {
    let with_scheme = if h.contains("://") {
        h.trim().to_owned()
    } else {
        format!("https://{}", h.trim())
    };
    let u = url::Url::parse(&with_scheme).map_err(|e| e.to_string())?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(format!("scheme `{}` is not http or https", u.scheme()));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err("it has no host name".into());
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err("it contains credentials; put them in `credential`".into());
    }
    if u.query().is_some() || u.fragment().is_some() {
        return Err("it has a query or fragment".into());
    }
    Ok(normalize_origin(&with_scheme))
}

/// The form of a display name that uniqueness is judged on: format characters (Unicode general
/// category Cf: zero-width space and joiners, word joiner, byte order mark, bidirectional
/// controls) removed, then NFKC (compatibility forms such as full-width letters fold to the
/// plain ones), lowercase, NFKC again (lowercasing can leave a non-normalised sequence), and
/// runs of whitespace as one space. Two names equal in this form look the same in GIJ's list,
/// so they would be told apart by nothing a reader can see.
fn normalise_name(n: &str) -> String {
    use unicode_normalization::UnicodeNormalization as _;
    let folded: String = n
        .chars()
        .filter(|c| !is_format_char(*c))
        .nfkc()
        .flat_map(char::to_lowercase)
        .nfkc()
        .collect();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether `c` is a format character (general category Cf): invisible, yet part of the text.
fn is_format_char(c: char) -> bool {
    unicode_general_category::get_general_category(c)
        == unicode_general_category::GeneralCategory::Format
}

/// A display name for a message, its invisible characters written as `<U+200B>` so that two
/// names that print the same can be told apart.
fn visible_name(n: &str) -> String {
    let mut out = String::with_capacity(n.len());
    for c in n.chars() {
        if is_format_char(c) {
            out.push_str(&format!("<U+{:04X}>", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

fn check_uniqueness(v: &mut V<'_>, ints: &[DesiredIntegration]) {
    let mut names: HashMap<String, &DesiredIntegration> = HashMap::new();
    let mut idents: HashMap<(Service, String, String), &DesiredIntegration> = HashMap::new();
    let mut ids: HashMap<u64, &DesiredIntegration> = HashMap::new();
    let name_span = |v: &V<'_>, d: &DesiredIntegration| {
        v.spans
            .value(&["integrations", &d.key, "display-name"])
            .unwrap_or_else(|| v.key_span(&["integrations", &d.key]))
    };
    for d in ints {
        if let Some(id) = d.pinned_id {
            if let Some(first) = ids.get(&id) {
                let s = v.span(&["integrations", &d.key, "id"]);
                let fs = v.span(&["integrations", &first.key, "id"]);
                v.push(
                    Problem::at(
                        s,
                        "duplicate",
                        format!("live id {id} is pinned by `{}` and `{}`", first.key, d.key),
                    )
                    .related(fs, "first pinned here")
                    .help("an id belongs to one integration; remove one of the pins"),
                );
            } else {
                ids.insert(id, d);
            }
        }
        if !d.origin.is_empty() {
            let ident = (d.service, d.origin.clone(), d.owner.to_lowercase());
            if let Some(first) = idents.get(&ident) {
                let s = v.key_span(&["integrations", &d.key]);
                let fs = v.key_span(&["integrations", &first.key]);
                v.push(
                    Problem::at(
                        s,
                        "duplicate",
                        format!(
                            "`{}` and `{}` connect the same {} owner `{}` at {}",
                            first.key, d.key, d.service, d.owner, d.origin
                        ),
                    )
                    .related(fs, "first declared here")
                    .help("declare each service, host and owner once; merge the two tables"),
                );
                // Their derived display names collide too; one report is enough.
                continue;
            } else {
                idents.insert(ident, d);
            }
        }
        if !d.display_name.is_empty() {
            if let Some(first) = names.get(&normalise_name(&d.display_name)) {
                let s = name_span(v, d);
                let fs = name_span(v, first);
                v.push(
                    Problem::at(s, "duplicate", format!("display name `{}` is used by `{}` and `{}`", visible_name(&d.display_name), first.key, d.key))
                        .related(fs, "first used here")
                        .help("GIJ shows integrations by name: give each a distinct `display-name` (case, spacing, invisible characters and Unicode compatibility forms are ignored when comparing)"),
                );
            } else {
                names.insert(normalise_name(&d.display_name), d);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(src: &str) -> DesiredState {
        match crate::config::load_str(src, "gij.toml") {
            Ok(d) => d,
            Err(e) => panic!("{}", e.rendered),
        }
    }

    fn errors(src: &str) -> Vec<String> {
        match crate::config::load_str(src, "gij.toml") {
            Ok(_) => Vec::new(),
            Err(e) => e.problems().iter().map(|p| p.message.clone()).collect(),
        }
    }

    #[test]
    fn defaults_merge_under_each_integration() {
        let d = load(
            r#"version = 1
[defaults]
projects = ["ops"]
smart-commits = false
repositories = { exclude = ["old-*"] }
ignore = ["display-name"]
[integrations.b]
service = "gitlab-self-managed"
host = "GitLab.Example.com/"
owner = "platform"
credential = "env:T"
smart-commits = true
ignore = ["projects"]
[integrations.a]
service = "github"
owner = "acme"
credential = "file:t.token"
projects = "all"
"#,
        );
        let [b, a] = &d.integrations[..] else {
            panic!("two integrations")
        };
        assert_eq!(
            (b.key.as_str(), b.file_index),
            ("b", 0),
            "file order, not key order"
        );
        assert_eq!(b.origin, "https://gitlab.example.com");
        assert!(b.settings.smart_commits, "integration overrides defaults");
        assert!(!a.settings.smart_commits, "defaults apply");
        assert!(
            a.settings.require_user_pat,
            "require-user-pat defaults to on"
        );
        assert_eq!(a.origin, "https://api.github.com");
        assert_eq!(a.display_name, "GitHub · acme");
        assert_eq!(b.display_name, "GitLab · platform");
        assert_eq!(a.projects, ProjectScope::All);
        assert_eq!(
            b.projects,
            ProjectScope::Keys([ProjectKey::parse("OPS").unwrap()].into())
        );
        assert_eq!(a.repositories.include, vec!["*"]);
        assert_eq!(a.repositories.exclude, vec!["old-*"]);
        assert_eq!(b.ignore, [Field::DisplayName, Field::Projects].into());
        assert_eq!(a.credential.as_ref().unwrap().to_string(), "file:t.token");
        assert_eq!(d.policy, ApplyPolicy::default());
    }

    #[test]
    fn user_pat_is_off_where_the_service_has_none() {
        let d = load(
            r#"version = 1
[integrations.ml]
service = "aws-codecommit"
owner = "ml"
aws-region = "eu-west-1"
username = "AKIAEXAMPLE"
credential = "env:AWS"
"#,
        );
        let ml = &d.integrations[0];
        assert!(!ml.settings.require_user_pat);
        assert_eq!(ml.origin, "https://git-codecommit.eu-west-1.amazonaws.com");
        assert_eq!(ml.username.as_deref(), Some("AKIAEXAMPLE"));
    }

    #[test]
    fn apply_policy_parses() {
        let d = load(
            "version = 1\n[apply]\nmax-parallel-indexing = 1\nindexing-timeout = \"1h30m\"\non-timeout = \"continue\"\nprune = true\nmax-deletes = 0\n",
        );
        assert_eq!(d.policy.max_parallel_indexing, 1);
        assert_eq!(d.policy.indexing_timeout_secs, 5400);
        assert_eq!(d.policy.on_timeout, crate::model::OnTimeout::Continue);
        assert!(d.policy.prune);
        assert_eq!(d.policy.max_deletes, 0);
        assert!(d.integrations.is_empty());
    }

    #[test]
    fn oauth_integrations_have_no_credential() {
        let d = load(
            "version = 1\n[integrations.m]\nservice = \"github\"\nowner = \"m\"\nauth = \"oauth\"\n",
        );
        assert_eq!(d.integrations[0].auth, AuthMethod::Oauth);
        assert!(d.integrations[0].credential.is_none());
    }

    #[test]
    fn missing_version_and_type_errors_do_not_cascade() {
        let e = errors("[integrations.a]\nservice = \"github\"\nowner = \"a\"\ncredential = 5\n");
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].contains("missing `version`"), "{e:?}");
        assert!(e[1].contains("credential"), "{e:?}");
    }

    #[test]
    fn pinned_ids_must_be_unique_and_positive() {
        let base = "version = 1\n[integrations.a]\nservice = \"github\"\nowner = \"a\"\ncredential = \"env:T\"\nid = 7\n[integrations.b]\nservice = \"github\"\nowner = \"b\"\ncredential = \"env:T\"\nid = 7\n";
        assert_eq!(errors(base).len(), 1);
        assert!(errors(&base.replace("id = 7", "id = 0"))[0].contains("positive"));
    }

    #[test]
    fn regions_validate() {
        assert!(is_valid_region("eu-west-1"));
        assert!(is_valid_region("us-gov-east-1"));
        assert!(!is_valid_region("eu-west"));
        assert!(!is_valid_region("EU-WEST-1"));
    }

    #[test]
    fn hosts_normalise_and_reject_bad_urls() {
        assert_eq!(
            check_host("GitLab.Example.com/").unwrap(),
            "https://gitlab.example.com"
        );
        assert!(check_host("ftp://x").is_err());
        assert!(check_host("https://u:p@x").is_err());
        assert!(check_host("https://x?y=1").is_err());
    }
}
