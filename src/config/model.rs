//! The gij.toml file format as serde + schemars types.
//!
//! These types are the *syntax* of the file: every field is optional so that deserialization
//! only fails on wrong types, and `validate` reports missing values with spans and hints. The
//! same types generate the JSON Schema (`gijctl schema`), so the schema and the parser cannot
//! drift apart. Doc comments here become the schema's descriptions that editors show.

use std::borrow::Cow;
use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize};

use crate::model::{AuthMethod, Field, OnTimeout, Service};

/// A whole gij.toml file.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[schemars(title = "gij.toml", extend("additionalProperties" = false))]
pub struct ConfigFile {
    /// Format version of this file. Always `1`; a later gijctl that changes the format will
    /// bump it and refuse files it does not understand instead of misreading them.
    #[schemars(required, range(min = 1, max = 1))]
    pub version: Option<i64>,
    /// Values that apply to every integration unless the integration sets them itself.
    pub defaults: Option<DefaultsTable>,
    /// How `gijctl apply` proceeds: indexing concurrency, timeouts, pruning and safety limits.
    pub apply: Option<ApplyTable>,
    /// The integrations the site must have, under stable keys you choose
    /// (`[integrations.acme-github]`). File order is the apply order unless `order` says otherwise.
    pub integrations: Option<BTreeMap<String, IntegrationTable>>,
    /// Rules every plan is checked against before anything is applied (see
    /// docs/config.md). `--policy FILE` adds rules from a separate file; neither relaxes the
    /// other.
    pub policy: Option<crate::policy::table::PolicyTable>,
}

/// Declares the settings fields shared by `[defaults]` and `[integrations.<key>]` once, so the
/// two tables (and their schema descriptions) cannot disagree.
macro_rules! with_settings {
    (
        $(#[$meta:meta])*
        pub struct $name:ident { $($body:tt)* }
    ) => {
        $(#[$meta])*
        pub struct $name {
            $($body)*
            /// Jira projects whose issues show this integration's commits, branches and pull
            /// requests: a list of project keys (`["OPS", "WEB"]`) or `"all"`. Default: `"all"`.
            pub projects: Option<ProjectsValue>,
            /// Which of the repositories the credential can see are indexed. Default: all of them.
            pub repositories: Option<RepositoriesTable>,
            /// Whether the integration is enabled (indexed). Default: `true`.
            pub enabled: Option<bool>,
            /// Require User PAT: users must use their own token to create branches and pull
            /// requests. Needs the repository browser. Default: `true` where the service
            /// supports it (GIJ's recommendation), `false` elsewhere.
            pub require_user_pat: Option<bool>,
            /// Smart commits (`#comment`, `#time`, transitions in commit messages). Default: `true`.
            pub smart_commits: Option<bool>,
            /// The repository browser in Jira. Default: `true`.
            pub repository_browser: Option<bool>,
            /// Commit and file diffs in Jira. Default: `true`.
            pub diff_viewing: Option<bool>,
            /// Index the revision history for issue keys. Default: `true`.
            pub revision_indexing: Option<bool>,
            /// Send commit notification emails. Default: `false`.
            pub commit_emails: Option<bool>,
            /// Commits older than this many minutes send no notification email. Default: `1440`.
            #[schemars(range(min = 1))]
            pub commit_email_max_age_minutes: Option<i64>,
            /// Regular expression for the tags shown on issues; empty shows all. Default: `""`.
            pub tags_filter: Option<String>,
            /// Regular expression for pull requests hidden on issue pages; empty hides none.
            /// Default: `""`.
            pub pr_hide_filter: Option<String>,
            /// Verify the git service's TLS certificate. Default: `true`.
            pub ssl_verify: Option<bool>,
            /// GIJ's TrustFolderStat pack scanning mode. Default: `false`.
            pub trust_folder_stat: Option<bool>,
            /// Fetch `refs/notes/*`. Default: `true`.
            pub fetch_notes: Option<bool>,
            /// Fetch `refs/changes/*` (Gerrit reviews). Default: `false`.
            pub fetch_changes: Option<bool>,
            /// Extra refspecs to fetch, e.g. `["+refs/pull/*:refs/pull/*"]`. Default: `[]`.
            pub fetch_refspecs: Option<Vec<String>>,
            /// Custom API path (GitHub and GitLab only) used to list repositories, starting with
            /// `/`, e.g. `/orgs/acme/repos`. Default: `""` (the service's own listing).
            #[schemars(length(max = 2000))]
            pub api_path: Option<String>,
            /// JMESPath filter over the repository list, e.g. `[?starts_with(name, 'svc-')]`.
            /// Default: `""`.
            #[schemars(length(max = 2000))]
            pub api_filter: Option<String>,
            /// Fields gijctl leaves alone: plan never shows changes to them and apply never
            /// writes them (like Terraform's `ignore_changes`).
            pub ignore: Option<Vec<Field>>,
        }
    };
}

with_settings! {
    /// `[defaults]`: settings merged under every integration.
    #[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
    #[serde(rename_all = "kebab-case")]
    #[schemars(extend("additionalProperties" = false))]
    pub struct DefaultsTable {
        /// Authentication method for integrations that do not set `auth`. Default: `"pat"`.
        pub auth: Option<AuthMethod>,
    }
}

with_settings! {
    /// `[integrations.<key>]`: one GIJ integration. The key is yours and must stay stable: it is
    /// how gijctl tells "rename" from "delete and create".
    #[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
    #[serde(rename_all = "kebab-case")]
    #[schemars(extend("additionalProperties" = false))]
    pub struct IntegrationTable {
        /// The git service.
        #[schemars(required)]
        pub service: Option<Service>,
        /// Base URL of a self-managed service, e.g. `https://gitlab.example.com`. Required for
        /// `github-enterprise`, `gitlab-self-managed`, `azure-devops-server`,
        /// `bitbucket-data-center`, `gerrit` and `plain-git`; not allowed for SaaS services.
        #[schemars(extend("format" = "uri"))]
        pub host: Option<String>,
        /// The organisation, group, project collection or owner the integration connects.
        #[schemars(required, length(min = 1))]
        pub owner: Option<String>,
        /// `pat` (a token gijctl sends) or `oauth` (granted in a browser; gijctl manages its
        /// settings but cannot create it). Default: `"pat"`.
        pub auth: Option<AuthMethod>,
        /// Where the token (or password, or AWS secret key) comes from: `env:NAME` or
        /// `file:PATH` (relative to this file). Never the token itself.
        #[schemars(regex(pattern = r"^(env:[A-Za-z_][A-Za-z0-9_]*|file:.+)$"))]
        pub credential: Option<String>,
        /// Username for `gerrit`, or the AWS access key id for `aws-codecommit`.
        pub username: Option<String>,
        /// AWS region of CodeCommit repositories, e.g. `eu-west-1`.
        #[schemars(regex(pattern = r"^[a-z]{2}(-[a-z]+)+-[0-9]+$"))]
        pub aws_region: Option<String>,
        /// The name GIJ shows. Default: service and owner, e.g. `GitHub · acme`.
        #[schemars(length(min = 1, max = 255))]
        pub display_name: Option<String>,
        /// Apply order of indexing steps, like Argo CD sync waves: lower values first (default 0,
        /// negative allowed), ties in file order.
        pub order: Option<i64>,
        /// Pins this declaration to a live integration id, for when natural matching (service,
        /// host and owner) cannot tell two integrations apart.
        #[schemars(range(min = 1))]
        pub id: Option<i64>,
        /// Allows apply to delete and recreate this integration when a change cannot be made in
        /// place (e.g. its service changes). Default: `false`.
        pub allow_replace: Option<bool>,
    }
}

/// `repositories = { include = [...], exclude = [...] }`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[schemars(extend("additionalProperties" = false))]
pub struct RepositoriesTable {
    /// Repository names or globs to index (`*` does not cross `/`, matching ignores case).
    /// Default: `["*"]`.
    pub include: Option<Vec<String>>,
    /// Repository names or globs to leave disabled, applied after `include`. Default: `[]`.
    pub exclude: Option<Vec<String>>,
}

/// `[apply]`: how `gijctl apply` proceeds.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[schemars(extend("additionalProperties" = false))]
pub struct ApplyTable {
    /// How many integrations may run initial indexing at once. GIJ advises one or two because
    /// indexing competes with Jira for CPU and disk. Default: `2`.
    #[schemars(range(min = 1))]
    pub max_parallel_indexing: Option<i64>,
    /// How long one integration's initial indexing may take, e.g. `"4h"`, `"90m"`, `"1h30m"`.
    /// Default: `"4h"`.
    #[schemars(regex(pattern = crate::duration::PATTERN))]
    pub indexing_timeout: Option<String>,
    /// What happens when indexing exceeds `indexing-timeout`: `stop` (start nothing new, exit 6)
    /// or `continue` (report it and go on). Default: `"stop"`.
    pub on_timeout: Option<OnTimeout>,
    /// Delete live integrations that gij.toml does not declare. Default: `false`.
    pub prune: Option<bool>,
    /// Most integrations one apply may delete. Default: `5`.
    #[schemars(range(min = 0))]
    pub max_deletes: Option<i64>,
    /// Largest share of live integrations one apply may delete, in percent. Default: `30`.
    #[schemars(range(min = 0, max = 100))]
    pub max_delete_percent: Option<i64>,
    /// Largest share of live integrations one apply may update, in percent. Default: `100`.
    #[schemars(range(min = 0, max = 100))]
    pub max_update_percent: Option<i64>,
    /// Sites with fewer live integrations than this skip the percentage limits. Default: `10`.
    #[schemars(range(min = 0))]
    pub min_existing_for_percent: Option<i64>,
}

/// `projects = "all"` or `projects = ["OPS", "WEB"]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ProjectsValue {
    /// `"all"`: associate with every Jira project.
    All(AllMarker),
    /// A list of project keys (validated later, with spans).
    Keys(Vec<String>),
}

/// The literal string `"all"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllMarker;

impl Serialize for AllMarker {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("all")
    }
}

impl<'de> Deserialize<'de> for ProjectsValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = ProjectsValue;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(r#"a list of Jira project keys or "all""#)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ProjectsValue, E> {
                if v.eq_ignore_ascii_case("all") {
                    Ok(ProjectsValue::All(AllMarker))
                } else {
                    Err(E::custom(format!(
                        r#"`{v}` is not a project list: write "all" or a list such as ["{v}"]"#
                    )))
                }
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<ProjectsValue, A::Error> {
                let mut keys = Vec::new();
                while let Some(k) = seq.next_element::<String>()? {
                    keys.push(k);
                }
                Ok(ProjectsValue::Keys(keys))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for ProjectsValue {
    fn schema_name() -> Cow<'static, str> {
        "Projects".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Jira project keys, or \"all\" for every project.",
            "oneOf": [
                { "type": "string", "enum": ["all"], "description": "Associate with all projects." },
                {
                    "type": "array",
                    "items": { "type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_]*$" },
                    "uniqueItems": true,
                    "description": "Only these Jira project keys."
                }
            ]
        })
    }
}
