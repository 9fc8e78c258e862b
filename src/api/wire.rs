//! GIJ's REST wire format: the JSON bodies of `/rest/gitplugin/1.0/...` and `/rest/api/2/project`.
//!
//! These types are shared by the client and the dev-server so the two cannot disagree. Parsing
//! is tolerant the way GIJ's own answers require (see docs/api.md): `success` is a bool or a
//! string, `integration` is an object or a one-element array, any key may be missing, and
//! unknown keys are kept in `extra` rather than rejected. Field names are GIJ's; fields marked
//! *extension* are gijctl's documented additions for what GIJ does not expose.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::secret::Secret;

/// `success` as GIJ sends it: `true`, `"true"`, `false` or `"false"`.
pub fn de_bool_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum B {
        Bool(bool),
        Str(String),
    }
    Ok(match B::deserialize(d)? {
        B::Bool(b) => b,
        B::Str(s) => s.eq_ignore_ascii_case("true"),
    })
}

fn de_opt_u64_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum N {
        Num(u64),
        Str(String),
    }
    match Option::<N>::deserialize(d)? {
        None => Ok(None),
        Some(N::Num(n)) => Ok(Some(n)),
        Some(N::Str(s)) => s.trim().parse().map(Some).map_err(serde::de::Error::custom),
    }
}

fn de_one_or_first<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Integration>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(Box<Integration>),
        Many(Vec<Integration>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => None,
        Some(OneOrMany::One(i)) => Some(*i),
        Some(OneOrMany::Many(v)) => v.into_iter().next(),
    })
}

/// An integration as GIJ returns it (list, retrieve, create and update answers).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Integration {
    /// Integration id (shares one id space with repositories).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Git service URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// Integration type, e.g. `GITHUB` (answers call it `integrationType`; requests `type`).
    #[serde(default, alias = "type", skip_serializing_if = "Option::is_none")]
    pub integration_type: Option<String>,
    /// Organisation/group the integration connects (GIJ's `group`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Extension: `PAT` or `OAUTH`. Absent means PAT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_commit_emails: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_mins_to_commit_email: Option<i64>,
    /// "Associate with all projects".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global: Option<bool>,
    /// Numeric Jira project ids (only meaningful when `global` is false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_mapping_ids: Option<Vec<u64>>,
    /// Epoch milliseconds of creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_date: Option<i64>,
    /// Epoch milliseconds of the last completed indexing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_indexed_date: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_indexing: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_viewer_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_ssl_verification: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smart_commits_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags_filter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub show_all_tags: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_user_pat: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sources_diff_view_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ref_spec_notes: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ref_spec_changes: Option<bool>,
    /// Comma-separated extra refspecs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ref_spec_custom: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_filter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_folder_stat: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pr_hide_filter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tfs_collection: Option<String>,
    /// Extension: aggregate indexing state (`SCANNING`, `INDEXING`, `INDEXED`, `ERROR`, `DISABLED`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indexing_state: Option<String>,
    /// Extension: aggregate indexing progress over enabled repositories, 0–100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indexing_percent: Option<f64>,
    /// Keys this client does not know, kept so that nothing GIJ sends is lost.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// A repository entry (`GET /rest/gitplugin/1.0/repository`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Repository {
    pub id: u64,
    /// Repository name.
    #[serde(default)]
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main_branch: Option<String>,
    #[serde(default)]
    pub disabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_mapping_ids: Option<Vec<u64>>,
    /// The parent integration's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracked_folder_id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration_type: Option<String>,
    /// Indexing state: `QUEUED`, `SCANNING`, `UPDATED`, `ERROR` (GIJ documents it read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_date: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_indexed_date: Option<i64>,
    /// Extension: indexing progress of this repository, 0–100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indexing_percent: Option<f64>,
    /// Extension: the repository's size in commits (the dev-server sends it; plans estimate
    /// indexing time from it). A named field rather than an `extra` key because a one-key map
    /// costs a B-tree node (~640 bytes) per repository: 130 MB on a site of 200,000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commits: Option<u64>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// A repository as a whole-site read keeps it: the entry's own fields, without the copies of
/// its parent integration's settings (`origin`, `integrationType`, `global`,
/// `projectMappingIds`) and the strings nothing downstream reads (`mainBranch`, `initDate`,
/// unknown keys). Deserialized straight from each list page, so those fields are never even
/// allocated.
///
/// Why a second type beside [`Repository`]: a site of 200,000 repositories held as
/// [`Repository`] (288 bytes plus five heap strings each) was most of `plan`'s peak memory
/// (issue 7); this record is a third of the size and owns two strings. Apply, which reads one
/// integration's repositories at a time, keeps the full [`Repository`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SiteRepository {
    pub id: u64,
    /// Repository name.
    #[serde(default)]
    pub display_name: Box<str>,
    /// The organisation/group it belongs to (the owner fallback of an integration whose own
    /// answer leaves `group` out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<Box<str>>,
    #[serde(default)]
    pub disabled: bool,
    /// The parent integration's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracked_folder_id: Option<u64>,
    /// Indexing state (GIJ documents it read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<RepositoryState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_indexed_date: Option<i64>,
    /// Extension: indexing progress of this repository, 0–100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indexing_percent: Option<f64>,
    /// Extension: the repository's size in commits (plans estimate indexing time from it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commits: Option<u64>,
}

impl From<Repository> for SiteRepository {
    fn from(r: Repository) -> SiteRepository {
        SiteRepository {
            id: r.id,
            display_name: r.display_name.into_boxed_str(),
            group: r.group.map(String::into_boxed_str),
            disabled: r.disabled,
            tracked_folder_id: r.tracked_folder_id,
            state: r.state.as_deref().map(RepositoryState::parse),
            last_indexed_date: r.last_indexed_date,
            indexing_percent: r.indexing_percent,
            commits: r
                .commits
                .or_else(|| r.extra.get("commits").and_then(serde_json::Value::as_u64)),
        }
    }
}

/// A repository's `state`, parsed once instead of kept as one heap string per repository.
/// Case-insensitive; `INDEXING` and `INDEXED` are read as `SCANNING` and `UPDATED`, which some
/// sites send; anything else is `Unknown` (then `lastIndexedDate` decides, see `plan::live`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepositoryState {
    Queued,
    Scanning,
    Updated,
    Error,
    Unknown,
}

impl RepositoryState {
    /// Reads GIJ's state string.
    pub fn parse(s: &str) -> RepositoryState {
        let s = s.trim();
        let is = |w: &str| s.eq_ignore_ascii_case(w);
        if is("QUEUED") {
            RepositoryState::Queued
        } else if is("SCANNING") || is("INDEXING") {
            RepositoryState::Scanning
        } else if is("UPDATED") || is("INDEXED") {
            RepositoryState::Updated
        } else if is("ERROR") {
            RepositoryState::Error
        } else {
            RepositoryState::Unknown
        }
    }

    /// GIJ's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RepositoryState::Queued => "QUEUED",
            RepositoryState::Scanning => "SCANNING",
            RepositoryState::Updated => "UPDATED",
            RepositoryState::Error => "ERROR",
            RepositoryState::Unknown => "UNKNOWN",
        }
    }
}

impl Serialize for RepositoryState {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        ser.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RepositoryState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RepositoryState, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = RepositoryState;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a repository state string")
            }
            // Borrowed or transient: no allocation per repository.
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<RepositoryState, E> {
                Ok(RepositoryState::parse(s))
            }
        }
        d.deserialize_str(V)
    }
}

/// Answer of create, update and retrieve-one.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IntegrationResponse {
    #[serde(deserialize_with = "de_bool_or_string", default)]
    pub success: bool,
    #[serde(
        default,
        deserialize_with = "de_one_or_first",
        skip_serializing_if = "Option::is_none"
    )]
    pub integration: Option<Integration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advice: Option<String>,
}

/// A paginated list answer. GIJ's own list takes no parameters and returns everything; the
/// pagination keys (`start`, `limit`, `size`, `total`, `isLastPage`, `nextPageStart`) are the
/// gijctl extension, modelled on Atlassian's paged APIs. A server that ignores `start`/`limit`
/// and omits them is read as a single last page.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<R = Repository> {
    #[serde(deserialize_with = "de_bool_or_string", default)]
    pub success: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrations: Option<Vec<Integration>>,
    /// The entries, as [`Repository`] (one integration's list) or [`SiteRepository`] (the
    /// whole-site read, which keeps only what it uses).
    #[serde(default = "Option::default", skip_serializing_if = "Option::is_none")]
    pub repositories: Option<Vec<R>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_last_page: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_start: Option<u64>,
}

/// The generic `{"success": ..., "error": ..., "advice": ...}` answer (remove, enable/disable,
/// and every error).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StatusResponse {
    #[serde(deserialize_with = "de_bool_or_string", default)]
    pub success: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advice: Option<String>,
}

/// `GET /rest/gitplugin/1.0/index.json?repoId=N` (N may be an integration id).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexStatus {
    #[serde(deserialize_with = "de_bool_or_string", default)]
    pub success: bool,
    #[serde(deserialize_with = "de_bool_or_string", default)]
    pub finished: bool,
    #[serde(default)]
    pub messages: BTreeMap<String, f64>,
    #[serde(default)]
    pub errors: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub last_operation_percent: f64,
}

/// A Jira project from `GET /rest/api/2/project` (Jira sends `id` as a string).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Project {
    #[serde(deserialize_with = "de_opt_u64_or_string")]
    pub id: Option<u64>,
    pub key: String,
    #[serde(default)]
    pub name: String,
}

/// What Jira says about itself, from `GET /rest/api/2/serverInfo` (Jira DC's REST API). A
/// saved plan records it so that it applies only to the site it was made against: `baseUrl`
/// is the base URL configured in Jira's administration, `serverTitle` the site's name. Every
/// field is optional because a proxy or an older Jira may leave some out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerInfo {
    /// Jira's configured base URL.
    #[serde(default)]
    pub base_url: Option<String>,
    /// The site's title (Jira's "Application title").
    #[serde(default)]
    pub server_title: Option<String>,
    /// Jira's version, e.g. `9.12.2`.
    #[serde(default)]
    pub version: Option<String>,
    /// `Server` on Data Center and Server sites.
    #[serde(default)]
    pub deployment_type: Option<String>,
}

fn ser_secret<S: Serializer>(s: &Option<Secret>, ser: S) -> Result<S::Ok, S::Error> {
    match s {
        Some(v) => ser.serialize_str(v.expose()),
        None => ser.serialize_none(),
    }
}

/// The body of create (`POST /rest/gitplugin/1.0/integration`) and update
/// (`PUT /rest/gitplugin/1.0/integration/{id}`). Credentials are sent only when set; they are
/// [`Secret`]s, so `Debug` on a request never shows them. Never log the serialized body.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationRequest {
    /// `type`, only on create (GIJ cannot change it on update).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub integration_type: Option<String>,
    /// The non-secret settings, flattened in.
    #[serde(flatten)]
    pub fields: Integration,
    #[serde(serialize_with = "ser_secret", skip_serializing_if = "Option::is_none")]
    pub pat: Option<Secret>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(serialize_with = "ser_secret", skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The "Retrieve an Integration" example from GIJ's docs (integration as an array,
    /// success as a string).
    #[test]
    fn parses_documented_retrieve_example() {
        let body = r#"{ "success": "true",
  "integration": [ { "id": 2, "displayName": "Test GitHub", "origin": "https://api.github.com",
    "disabled": false, "sendCommitEmails": true, "maxMinsToCommitEmail": 1440, "global": true,
    "initDate": 1549911276768, "lastIndexedDate": 1584930774250, "revisionIndexing": true,
    "gitViewerEnabled": true, "disableSslVerification": false, "smartCommitsEnabled": true,
    "tagsFilter": "", "requireUserPat": false, "projectMappingIds": [], "integrationType": "GITHUB",
    "sourcesDiffViewEnabled": true, "refSpecNotes": true, "refSpecChanges": false,
    "apiPath": "", "apiFilter": "", "trustFolderStat": false } ] }"#;
        let r: IntegrationResponse = serde_json::from_str(body).unwrap();
        assert!(r.success);
        let i = r.integration.unwrap();
        assert_eq!(i.id, Some(2));
        assert_eq!(i.integration_type.as_deref(), Some("GITHUB"));
        assert_eq!(i.require_user_pat, Some(false));
    }

    /// The "Add New Integration" response example (integration as an object).
    #[test]
    fn parses_documented_create_example() {
        let body = r#"{ "success": "true",
  "integration": { "id": 1, "displayName": "MyGitHub", "origin": "https://api.github.com",
    "disabled": false, "sendCommitEmails": true, "maxMinsToCommitEmail": 1440, "global": true,
    "initDate": 1626070678087, "revisionIndexing": true, "gitViewerEnabled": true,
    "disableSslVerification": false, "smartCommitsEnabled": true, "requireUserPat": false,
    "projectMappingIds": [], "integrationType": "GITHUB", "sourcesDiffViewEnabled": true,
    "refSpecNotes": true, "refSpecChanges": false, "trustFolderStat": false } }"#;
        let r: IntegrationResponse = serde_json::from_str(body).unwrap();
        assert_eq!(
            r.integration.unwrap().display_name.as_deref(),
            Some("MyGitHub")
        );
    }

    #[test]
    fn parses_documented_error_and_list() {
        let e: StatusResponse = serde_json::from_str(
            r#"{"success": false, "error": "Repository with id=5 does not exist", "advice": "Please try again with an existing repository id."}"#,
        )
        .unwrap();
        assert!(!e.success);
        let p: Page = serde_json::from_str(
            r#"{"success": true, "integrations": [{"id": 3, "showAllTags": true, "root": "x"}]}"#,
        )
        .unwrap();
        let list = p.integrations.unwrap();
        assert_eq!(list[0].extra.get("root"), Some(&serde_json::json!("x")));
        let idx: IndexStatus = serde_json::from_str(
            r#"{"success":true,"finished":true,"threadId":172,"messages":{"Indexing test-repo":100.0},"errors":{},"lastOperationPercent":100.0}"#,
        )
        .unwrap();
        assert!(idx.finished);
        let projects: Vec<Project> =
            serde_json::from_str(r#"[{"id":"10000","key":"ABC","name":"Alpha"}]"#).unwrap();
        assert_eq!(projects[0].id, Some(10000));
    }

    /// A whole-site read keeps the entry's own fields, parses `state` once, takes `commits`
    /// (an extension) and drops the parent's copies; a snapshot written from it reads back.
    #[test]
    fn site_repository_keeps_what_plan_reads() {
        let body = r#"{"id": 7, "displayName": "web", "group": "acme", "origin": "https://github.com/acme/web.git",
            "mainBranch": "main", "disabled": false, "global": true, "projectMappingIds": [1, 2],
            "trackedFolderId": 3, "integrationType": "GITHUB", "state": "updated", "initDate": 1,
            "lastIndexedDate": 2, "indexingPercent": 100.0, "commits": 2500, "root": "/x"}"#;
        let r: SiteRepository = serde_json::from_str(body).unwrap();
        assert_eq!(
            r,
            SiteRepository {
                id: 7,
                display_name: "web".into(),
                group: Some("acme".into()),
                disabled: false,
                tracked_folder_id: Some(3),
                state: Some(RepositoryState::Updated),
                last_indexed_date: Some(2),
                indexing_percent: Some(100.0),
                commits: Some(2500),
            }
        );
        let full: Repository = serde_json::from_str(body).unwrap();
        assert_eq!(SiteRepository::from(full), r);
        let back: SiteRepository =
            serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
        for (text, want) in [
            ("QUEUED", RepositoryState::Queued),
            ("Indexing", RepositoryState::Scanning),
            ("scanning", RepositoryState::Scanning),
            ("INDEXED", RepositoryState::Updated),
            (" ERROR ", RepositoryState::Error),
            ("PAUSED", RepositoryState::Unknown),
        ] {
            assert_eq!(RepositoryState::parse(text), want, "{text}");
        }
        // An escaped string reaches the visitor as a transient buffer, not a borrowed slice.
        let escaped: SiteRepository =
            serde_json::from_str(r#"{"id": 1, "state": "ERR\u004fR"}"#).unwrap();
        assert_eq!(escaped.state, Some(RepositoryState::Error));
    }

    #[test]
    fn request_debug_hides_credentials() {
        let req = IntegrationRequest {
            integration_type: Some("GITHUB".into()),
            pat: Some(Secret::new("ghp_topsecret".into())),
            ..Default::default()
        };
        assert!(!format!("{req:?}").contains("topsecret"));
        assert!(serde_json::to_string(&req).unwrap().contains("topsecret"));
    }
}
