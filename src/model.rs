//! Domain types shared by `config`, `plan`, `apply` and `api`.
//!
//! These types are the *resolved* view of an integration: the config layer turns gij.toml (with
//! `[defaults]` merged in) into [`DesiredIntegration`]s, and the live layer turns GIJ's wire JSON
//! into [`LiveIntegration`]s. `plan` only ever compares these two, so every normalisation rule
//! (case of project keys, trailing slashes, list order) lives in the constructors here, once.

use std::collections::BTreeSet;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::secret::SecretRef;

/// A git service that GIJ can integrate with, as users name it in gij.toml.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Service {
    /// GitHub.com or GitHub Enterprise Cloud (GIJ type `GITHUB`).
    Github,
    /// GitHub Enterprise Server, self-managed (GIJ type `GITHUB_SERVER`).
    GithubEnterprise,
    /// GitLab.com (GIJ type `GITLAB`).
    Gitlab,
    /// GitLab self-managed, API v4 (GIJ type `GITLAB_SERVER`).
    GitlabSelfManaged,
    /// Azure DevOps Services / Azure Repos (GIJ type `AZURE`).
    AzureDevops,
    /// Azure DevOps Server, self-managed (GIJ type `AZURE_DEVOPS`).
    AzureDevopsServer,
    /// Bitbucket Cloud (gijctl extension type `BITBUCKET`; GIJ Cloud offers it through OAuth).
    Bitbucket,
    /// Bitbucket Data Center (gijctl extension type `BITBUCKET_SERVER`).
    BitbucketDataCenter,
    /// AWS CodeCommit (GIJ type `AWS`): access key id as `username`, secret key as credential.
    AwsCodecommit,
    /// Gerrit (GIJ type `GERRIT`): username and password.
    Gerrit,
    /// A plain git host (gijctl extension type `PLAIN_GIT`).
    PlainGit,
}

impl Service {
    /// Every service, in declaration order (for "did you mean" and docs).
    pub const ALL: [Service; 11] = [
        Service::Github,
        Service::GithubEnterprise,
        Service::Gitlab,
        Service::GitlabSelfManaged,
        Service::AzureDevops,
        Service::AzureDevopsServer,
        Service::Bitbucket,
        Service::BitbucketDataCenter,
        Service::AwsCodecommit,
        Service::Gerrit,
        Service::PlainGit,
    ];

    /// The name users write in gij.toml.
    pub fn config_name(self) -> &'static str {
        match self {
            Service::Github => "github",
            Service::GithubEnterprise => "github-enterprise",
            Service::Gitlab => "gitlab",
            Service::GitlabSelfManaged => "gitlab-self-managed",
            Service::AzureDevops => "azure-devops",
            Service::AzureDevopsServer => "azure-devops-server",
            Service::Bitbucket => "bitbucket",
            Service::BitbucketDataCenter => "bitbucket-data-center",
            Service::AwsCodecommit => "aws-codecommit",
            Service::Gerrit => "gerrit",
            Service::PlainGit => "plain-git",
        }
    }

    /// The integration `type` on GIJ's REST API.
    pub fn wire_type(self) -> &'static str {
        match self {
            Service::Github => "GITHUB",
            Service::GithubEnterprise => "GITHUB_SERVER",
            Service::Gitlab => "GITLAB",
            Service::GitlabSelfManaged => "GITLAB_SERVER",
            Service::AzureDevops => "AZURE",
            Service::AzureDevopsServer => "AZURE_DEVOPS",
            Service::Bitbucket => "BITBUCKET",
            Service::BitbucketDataCenter => "BITBUCKET_SERVER",
            Service::AwsCodecommit => "AWS",
            Service::Gerrit => "GERRIT",
            Service::PlainGit => "PLAIN_GIT",
        }
    }

    /// Parses GIJ's wire `type` (accepting the legacy aliases GIJ still reports).
    pub fn from_wire_type(s: &str) -> Option<Service> {
        Some(match s.to_ascii_uppercase().as_str() {
            "GITHUB" => Service::Github,
            "GITHUB_SERVER" => Service::GithubEnterprise,
            "GITLAB" => Service::Gitlab,
            "GITLAB_SERVER" | "GITLAB_SERVER_LEGACY" => Service::GitlabSelfManaged,
            "AZURE" | "VSTS" => Service::AzureDevops,
            "AZURE_DEVOPS" | "TFS_SERVER" => Service::AzureDevopsServer,
            "BITBUCKET" => Service::Bitbucket,
            "BITBUCKET_SERVER" => Service::BitbucketDataCenter,
            "AWS" => Service::AwsCodecommit,
            "GERRIT" => Service::Gerrit,
            "PLAIN_GIT" | "FILESPACE" => Service::PlainGit,
            _ => return None,
        })
    }

    /// Whether the service is self-managed, so that gij.toml must give its `host`.
    pub fn requires_host(self) -> bool {
        matches!(
            self,
            Service::GithubEnterprise
                | Service::GitlabSelfManaged
                | Service::AzureDevopsServer
                | Service::BitbucketDataCenter
                | Service::Gerrit
                | Service::PlainGit
        )
    }

    /// The fixed origin of a SaaS service (what GIJ stores as `origin`), `None` when self-managed.
    ///
    /// AWS CodeCommit's origin depends on the region and is computed by [`Service::origin_for`].
    pub fn default_origin(self) -> Option<&'static str> {
        match self {
            Service::Github => Some("https://api.github.com"),
            Service::Gitlab => Some("https://gitlab.com"),
            Service::AzureDevops => Some("https://dev.azure.com"),
            Service::Bitbucket => Some("https://api.bitbucket.org"),
            _ => None,
        }
    }

    /// Whether GIJ needs a `username` next to the credential (password-style services).
    pub fn requires_username(self) -> bool {
        matches!(self, Service::AwsCodecommit | Service::Gerrit)
    }

    /// Whether GIJ can create an integration of this service with OAuth (browser consent).
    pub fn supports_oauth(self) -> bool {
        matches!(
            self,
            Service::Github
                | Service::Gitlab
                | Service::AzureDevops
                | Service::AzureDevopsServer
                | Service::Bitbucket
                | Service::AwsCodecommit
                | Service::Gerrit
        )
    }

    /// Whether GIJ supports a personal access token (or password) for this service.
    pub fn supports_pat(self) -> bool {
        !matches!(self, Service::Bitbucket)
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.config_name())
    }
}

/// How an integration authenticates to its git service.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMethod {
    /// A personal access token (or password) held by gijctl and sent on create or rotation.
    Pat,
    /// An OAuth grant made in a browser: gijctl manages the settings but cannot create it.
    Oauth,
}

impl AuthMethod {
    /// The value of the `authMethod` extension field on the wire.
    pub fn wire_name(self) -> &'static str {
        match self {
            AuthMethod::Pat => "PAT",
            AuthMethod::Oauth => "OAUTH",
        }
    }

    /// Parses the `authMethod` wire value. `authMethod` is an extension GIJ's documented
    /// answers do not carry, so an absent key says nothing: `None`, never a guessed PAT (a
    /// guess would make an OAuth integration look like one to switch, for ever). Any value
    /// other than `OAUTH` is a credential-based integration.
    pub fn from_wire(s: Option<&str>) -> Option<AuthMethod> {
        let s = s?;
        Some(if s.eq_ignore_ascii_case("OAUTH") {
            AuthMethod::Oauth
        } else {
            AuthMethod::Pat
        })
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AuthMethod::Pat => "pat",
            AuthMethod::Oauth => "oauth",
        })
    }
}

/// A Jira project key, normalised to upper case (`abc` and `ABC` are the same project).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProjectKey(String);

impl ProjectKey {
    /// Parses a key the way Jira defines it: a letter, then letters, digits or `_`, at most 255.
    pub fn parse(s: &str) -> Result<ProjectKey, String> {
        let up = s.trim().to_ascii_uppercase();
        let mut chars = up.chars();
        match chars.next() {
            Some(c) if c.is_ascii_uppercase() => {}
            _ => {
                return Err(format!(
                    "`{s}` is not a Jira project key: it must start with a letter"
                ));
            }
        }
        if up.len() > 255
            || !chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(format!(
                "`{s}` is not a Jira project key: use letters, digits and `_` only (for example `OPS`)"
            ));
        }
        Ok(ProjectKey(up))
    }

    /// The normalised key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which Jira projects see an integration's repositories.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProjectScope {
    /// "Associate with all projects" (GIJ's `global: true`).
    All,
    /// Only these projects (GIJ's `global: false` with `projectMappingIds`).
    Keys(BTreeSet<ProjectKey>),
}

/// Per-integration feature settings, every field resolved (no "unset").
///
/// Field names follow gij.toml (kebab-case); the comment on each gives GIJ's wire field. The
/// defaults are GIJ's own, except `require_user_pat`, which GIJ's setup guide strongly
/// recommends turning on and gijctl therefore defaults to `true`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Settings {
    /// `!disabled`: the integration is enabled and indexed.
    pub enabled: bool,
    /// `requireUserPat`: users must use their own PAT to create branches and pull requests.
    pub require_user_pat: bool,
    /// `smartCommitsEnabled`.
    pub smart_commits: bool,
    /// `gitViewerEnabled`: the repository browser.
    pub repository_browser: bool,
    /// `sourcesDiffViewEnabled`: commit and file diffs.
    pub diff_viewing: bool,
    /// `revisionIndexing`: index the revision history for issue keys.
    pub revision_indexing: bool,
    /// `sendCommitEmails`.
    pub commit_emails: bool,
    /// `maxMinsToCommitEmail`.
    pub commit_email_max_age_minutes: u32,
    /// `tagsFilter`: a regex for the tags shown on issues; empty shows all tags.
    pub tags_filter: String,
    /// `prHideFilter`: a regex for pull requests hidden on issue pages; empty hides none.
    pub pr_hide_filter: String,
    /// `!disableSslVerification`.
    pub ssl_verify: bool,
    /// `trustFolderStat`.
    pub trust_folder_stat: bool,
    /// `refSpecNotes`: fetch `refs/notes/*`.
    pub fetch_notes: bool,
    /// `refSpecChanges`: fetch `refs/changes/*`.
    pub fetch_changes: bool,
    /// `refSpecCustom`: extra refspecs (GIJ stores them comma-separated).
    pub fetch_refspecs: Vec<String>,
    /// `apiPath`: custom API path used to list repositories; empty for the service default.
    pub api_path: String,
    /// `apiFilter`: JMESPath filter over the repository list; empty for none.
    pub api_filter: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            enabled: true,
            require_user_pat: true,
            smart_commits: true,
            repository_browser: true,
            diff_viewing: true,
            revision_indexing: true,
            commit_emails: false,
            commit_email_max_age_minutes: 1440,
            tags_filter: String::new(),
            pr_hide_filter: String::new(),
            ssl_verify: true,
            trust_folder_stat: false,
            fetch_notes: true,
            fetch_changes: false,
            fetch_refspecs: Vec::new(),
            api_path: String::new(),
            api_filter: String::new(),
        }
    }
}

/// Which of the git service's repositories an integration indexes.
///
/// GIJ discovers every repository the credential can see under the owner; gijctl then keeps
/// enabled exactly those that match `include` and do not match `exclude`. Plain names are globs
/// without wildcards. Patterns match the repository name case-insensitively, and `*` does not
/// cross `/` (GitLab subgroups).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoSelector {
    /// Names or globs to include; `["*"]` when the config gives none.
    pub include: Vec<String>,
    /// Names or globs to exclude, applied after `include`.
    pub exclude: Vec<String>,
}

impl Default for RepoSelector {
    fn default() -> Self {
        RepoSelector {
            include: vec!["*".to_owned()],
            exclude: Vec::new(),
        }
    }
}

impl RepoSelector {
    /// Whether every discovered repository is selected (no filtering needed on create).
    pub fn selects_all(&self) -> bool {
        self.exclude.is_empty() && self.include.iter().any(|p| p == "*" || p == "**")
    }

    /// Compiles the selector into a matcher. Patterns were validated by `config`, so an error
    /// here is reported as an invalid glob.
    pub fn matcher(&self) -> Result<RepoMatcher, globset::Error> {
        fn build(patterns: &[String]) -> Result<globset::GlobSet, globset::Error> {
            let mut b = globset::GlobSetBuilder::new();
            for p in patterns {
                b.add(
                    globset::GlobBuilder::new(p)
                        .case_insensitive(true)
                        .literal_separator(true)
                        .build()?,
                );
            }
            b.build()
        }
        Ok(RepoMatcher {
            include: build(&self.include)?,
            exclude: build(&self.exclude)?,
        })
    }
}

/// A compiled [`RepoSelector`].
#[derive(Debug, Clone)]
pub struct RepoMatcher {
    include: globset::GlobSet,
    exclude: globset::GlobSet,
}

impl RepoMatcher {
    /// Whether the repository named `name` should be enabled. The name is prepared for
    /// matching once for both sets (`GlobSet::is_match` prepares it on every call: a fifth of
    /// planning 10,000 integrations went to preparing each of their 200,000 names twice).
    pub fn is_match(&self, name: &str) -> bool {
        let candidate = globset::Candidate::new(name);
        self.include.is_match_candidate(&candidate) && !self.exclude.is_match_candidate(&candidate)
    }
}

/// Settings fields that a user may tell gijctl to leave alone (`ignore = [...]`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Field {
    /// The display name.
    DisplayName,
    /// The set of enabled repositories.
    Repositories,
    /// The project associations.
    Projects,
    /// See [`Settings::enabled`].
    Enabled,
    /// See [`Settings::require_user_pat`].
    RequireUserPat,
    /// See [`Settings::smart_commits`].
    SmartCommits,
    /// See [`Settings::repository_browser`].
    RepositoryBrowser,
    /// See [`Settings::diff_viewing`].
    DiffViewing,
    /// See [`Settings::revision_indexing`].
    RevisionIndexing,
    /// See [`Settings::commit_emails`].
    CommitEmails,
    /// See [`Settings::commit_email_max_age_minutes`].
    CommitEmailMaxAgeMinutes,
    /// See [`Settings::tags_filter`].
    TagsFilter,
    /// See [`Settings::pr_hide_filter`].
    PrHideFilter,
    /// See [`Settings::ssl_verify`].
    SslVerify,
    /// See [`Settings::trust_folder_stat`].
    TrustFolderStat,
    /// See [`Settings::fetch_notes`].
    FetchNotes,
    /// See [`Settings::fetch_changes`].
    FetchChanges,
    /// See [`Settings::fetch_refspecs`].
    FetchRefspecs,
    /// See [`Settings::api_path`].
    ApiPath,
    /// See [`Settings::api_filter`].
    ApiFilter,
}

/// One integration as gij.toml declares it, with `[defaults]` merged in.
#[derive(Debug, Clone)]
pub struct DesiredIntegration {
    /// The user's stable key (`[integrations.<key>]`).
    pub key: String,
    /// The git service.
    pub service: Service,
    /// Normalised origin (scheme + host + path, no trailing slash), e.g. `https://api.github.com`.
    pub origin: String,
    /// The organisation, group, project or owner the integration connects (GIJ `group`).
    pub owner: String,
    /// PAT or OAuth.
    pub auth: AuthMethod,
    /// For PAT integrations, where the credential comes from; `None` for OAuth.
    pub credential: Option<SecretRef>,
    /// Username for password-style services (Gerrit, AWS access key id).
    pub username: Option<String>,
    /// AWS region for CodeCommit.
    pub aws_region: Option<String>,
    /// The display name GIJ shows.
    pub display_name: String,
    /// Repositories to keep enabled.
    pub repositories: RepoSelector,
    /// Jira project associations.
    pub projects: ProjectScope,
    /// Feature settings.
    pub settings: Settings,
    /// Apply order of indexing steps (lower first, like Argo CD sync waves); `None` means 0,
    /// and ties keep file order.
    pub order: Option<i64>,
    /// Position in the file, for stable ordering after `order`.
    pub file_index: usize,
    /// A live id the user pinned this declaration to, overriding natural-key matching.
    pub pinned_id: Option<u64>,
    /// Fields that gijctl must not manage for this integration.
    pub ignore: BTreeSet<Field>,
    /// Whether this integration may be deleted and recreated when its service changes.
    pub allow_replace: bool,
}

/// How apply behaves, from gij.toml's `[apply]` table (flags may override).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ApplyPolicy {
    /// How many integrations may be running initial indexing at once (GIJ advises 1 or 2).
    pub max_parallel_indexing: u32,
    /// How long one integration's initial indexing may take before apply reports it stuck.
    pub indexing_timeout_secs: u64,
    /// What to do when an integration's indexing times out.
    pub on_timeout: OnTimeout,
    /// Whether live integrations that gij.toml does not declare are deleted.
    pub prune: bool,
    /// Largest number of deletions one apply may make.
    pub max_deletes: u32,
    /// Largest share of live integrations one apply may delete, in percent.
    pub max_delete_percent: u32,
    /// Largest share of live integrations one apply may update, in percent.
    pub max_update_percent: u32,
    /// Sites with fewer live integrations than this skip the percentage checks.
    pub min_existing_for_percent: u32,
}

impl Default for ApplyPolicy {
    fn default() -> Self {
        ApplyPolicy {
            max_parallel_indexing: 2,
            indexing_timeout_secs: 4 * 3600,
            on_timeout: OnTimeout::Stop,
            prune: false,
            max_deletes: 5,
            max_delete_percent: 30,
            max_update_percent: 100,
            min_existing_for_percent: 10,
        }
    }
}

/// What apply does when an integration's initial indexing exceeds its timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OnTimeout {
    /// Stop starting new work and exit with the timeout code (the default).
    #[default]
    Stop,
    /// Report it, free the slot, and go on with the next integration.
    Continue,
}

/// The whole desired state: every declared integration plus the apply policy.
#[derive(Debug, Clone)]
pub struct DesiredState {
    /// Integrations in file order.
    pub integrations: Vec<DesiredIntegration>,
    /// The apply policy.
    pub policy: ApplyPolicy,
}

/// Where one repository is in GIJ's indexing lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IndexState {
    /// Waiting in GIJ's indexing queue.
    Queued,
    /// Being cloned and scanned (GIJ shows SCANNING/INDEXING).
    Scanning,
    /// Indexed and up to date (GIJ's UPDATED).
    Updated,
    /// Indexing failed.
    Error,
    /// Disabled: never indexed.
    Disabled,
}

/// A repository inside a live integration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveRepository {
    /// GIJ's id (shared id space with integrations).
    pub id: u64,
    /// The repository name (GIJ `displayName`).
    pub name: String,
    /// Whether the repository is enabled.
    pub enabled: bool,
    /// Indexing state.
    pub state: IndexState,
    /// Indexing progress, 0 to 100.
    pub percent: f64,
}

/// Aggregate indexing status of a live integration (in GIJ's own words, as its UI shows them:
/// the plan, drift and status documents carry it as is).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IntegrationIndexing {
    /// GIJ is still listing the git service's repositories.
    Scanning,
    /// Some enabled repository is queued or indexing.
    Indexing,
    /// Every enabled repository is indexed.
    Indexed,
    /// Some enabled repository failed to index.
    Error,
    /// The integration is disabled.
    Disabled,
}

/// One integration as the live site reports it, normalised for comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveIntegration {
    /// GIJ's id.
    pub id: u64,
    /// The git service.
    pub service: Service,
    /// Normalised origin.
    pub origin: String,
    /// The owner (GIJ `group`), as the site reports it.
    pub owner: String,
    /// PAT or OAuth; `None` when the site does not say (GIJ's documented answers have no
    /// `authMethod`): plan then does not compare it and runbook `--check` cannot verify it,
    /// like the settings in [`LiveIntegration::unknown`].
    pub auth: Option<AuthMethod>,
    /// Display name.
    pub display_name: String,
    /// Project associations, with ids resolved to keys. Ids Jira no longer knows are kept as
    /// `#<id>` pseudo-keys so that the plan can remove them.
    pub projects: LiveProjects,
    /// Feature settings (missing wire fields filled with GIJ's defaults).
    pub settings: Settings,
    /// Repositories, sorted by name.
    pub repositories: Vec<LiveRepository>,
    /// Aggregate indexing status.
    pub indexing: IntegrationIndexing,
    /// AWS region, for CodeCommit.
    pub aws_region: Option<String>,
    /// Settings the site's answer did not carry (GIJ's documented integration list has no
    /// `tagsFilter`, `refSpecCustom`, `apiPath`, `apiFilter`): their value in `settings` is a
    /// placeholder (GIJ's default), so plan does not compare them and runbook `--check` cannot
    /// verify them. Empty when the site reports every setting.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub unknown: BTreeSet<Field>,
}

/// Live project associations: the same shape as [`ProjectScope`] but tolerant of unknown ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LiveProjects {
    /// Associated with all projects.
    All,
    /// Associated with these project keys (unknown ids appear as `#<id>`).
    Keys(BTreeSet<String>),
}

/// A Jira project as `GET /rest/api/2/project` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JiraProject {
    /// Numeric id (Jira sends it as a string).
    pub id: u64,
    /// Project key.
    pub key: String,
    /// Project name.
    pub name: String,
}

/// Normalises a host or origin for comparison: lower-case scheme and host, no trailing slash,
/// `https://` assumed when no scheme is given.
pub fn normalize_origin(s: &str) -> String {
    let s = s.trim();
    let with_scheme = if s.contains("://") {
        s.to_owned()
    } else {
        format!("https://{s}")
    };
    match url::Url::parse(&with_scheme) {
        Ok(u) => {
            let mut out = format!("{}://{}", u.scheme(), u.host_str().unwrap_or_default());
            if let Some(port) = u.port() {
                out.push_str(&format!(":{port}"));
            }
            out.push_str(u.path().trim_end_matches('/'));
            out
        }
        Err(_) => with_scheme.trim_end_matches('/').to_ascii_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_normalise() {
        assert_eq!(
            normalize_origin("GitLab.Example.com/"),
            "https://gitlab.example.com"
        );
        assert_eq!(normalize_origin("http://h:8080/tfs/"), "http://h:8080/tfs");
        assert_eq!(
            normalize_origin("https://api.github.com"),
            "https://api.github.com"
        );
    }

    #[test]
    fn project_keys_are_case_insensitive() {
        assert_eq!(
            ProjectKey::parse("ops").unwrap(),
            ProjectKey::parse("OPS").unwrap()
        );
        assert!(ProjectKey::parse("1ABC").is_err());
        assert!(ProjectKey::parse("A-B").is_err());
    }

    #[test]
    fn wire_types_round_trip() {
        for s in Service::ALL {
            assert_eq!(Service::from_wire_type(s.wire_type()), Some(s));
        }
    }

    #[test]
    fn selector_matches_globs_case_insensitively() {
        let sel = RepoSelector {
            include: vec!["api-*".into(), "Web".into()],
            exclude: vec!["*-old".into()],
        };
        let m = sel.matcher().unwrap();
        assert!(m.is_match("API-gateway"));
        assert!(m.is_match("web"));
        assert!(!m.is_match("api-old"));
        assert!(!m.is_match("group/api-x"));
    }
}
