//! The documented-only profile (`--profile documented`): the key set of every answer, each
//! taken from the example of the GIJ page that documents it, and the views that cut the
//! dev-server's objects down to them.
//!
//! `DC/<slug>` = `https://help.gitkraken.com/git-integration-for-jira-data-center/<slug>/`
//! (sources: `gitkraken/git-integration-for-jira-self-managed-docs` at 028d96a). A key of a
//! set is sent exactly when the example shows it, except where a comment says otherwise:
//! `lastIndexedDate` only once something was indexed (the create example, made before any
//! indexing, has none), `prHideFilter` on list entries only when set (the list example shows it
//! on the one entry that has a filter).

use serde_json::{Map, Value};

/// `GET /rest/gitplugin/1.0/integration` entries (`DC/retrieve-integration-list-gij-self-managed`).
pub const LIST_INTEGRATION_KEYS: &[&str] = &[
    "id",
    "displayName",
    "origin",
    "disabled",
    "sendCommitEmails",
    "maxMinsToCommitEmail",
    "global",
    "initDate",
    "lastIndexedDate",
    "revisionIndexing",
    "gitViewerEnabled",
    "disableSslVerification",
    "smartCommitsEnabled",
    "prHideFilter",
    "requireUserPat",
    "projectMappingIds",
    "integrationType",
    "showAllTags",
    "sourcesDiffViewEnabled",
    "refSpecNotes",
    "refSpecChanges",
    "trustFolderStat",
];

/// `GET /rest/gitplugin/1.0/integration/{id}` (`DC/retrieve-an-integration-gij-self-managed`).
pub const GET_INTEGRATION_KEYS: &[&str] = &[
    "id",
    "displayName",
    "origin",
    "disabled",
    "sendCommitEmails",
    "maxMinsToCommitEmail",
    "global",
    "initDate",
    "lastIndexedDate",
    "revisionIndexing",
    "gitViewerEnabled",
    "disableSslVerification",
    "smartCommitsEnabled",
    "tagsFilter",
    "requireUserPat",
    "projectMappingIds",
    "integrationType",
    "sourcesDiffViewEnabled",
    "refSpecNotes",
    "refSpecChanges",
    "apiPath",
    "apiFilter",
    "trustFolderStat",
];

/// `POST /rest/gitplugin/1.0/integration` (`DC/add-new-integration-gij-self-managed`).
pub const CREATE_INTEGRATION_KEYS: &[&str] = &[
    "id",
    "displayName",
    "origin",
    "disabled",
    "sendCommitEmails",
    "maxMinsToCommitEmail",
    "global",
    "initDate",
    "lastIndexedDate",
    "revisionIndexing",
    "gitViewerEnabled",
    "disableSslVerification",
    "smartCommitsEnabled",
    "requireUserPat",
    "projectMappingIds",
    "integrationType",
    "sourcesDiffViewEnabled",
    "refSpecNotes",
    "refSpecChanges",
    "trustFolderStat",
];

/// `PUT /rest/gitplugin/1.0/integration/{id}` (`DC/update-existing-integration-gij-self-managed`;
/// both examples answer this set, without `requireUserPat`).
pub const UPDATE_INTEGRATION_KEYS: &[&str] = &[
    "id",
    "displayName",
    "origin",
    "disabled",
    "sendCommitEmails",
    "maxMinsToCommitEmail",
    "global",
    "initDate",
    "lastIndexedDate",
    "revisionIndexing",
    "gitViewerEnabled",
    "disableSslVerification",
    "smartCommitsEnabled",
    "projectMappingIds",
    "integrationType",
    "sourcesDiffViewEnabled",
    "refSpecNotes",
    "refSpecChanges",
    "trustFolderStat",
];

/// The tracked-folder keys a FILESPACE integration adds to each of the sets above (the
/// FILESPACE entry of the integration-list example before docs commit 9cb8f87, "Update API
/// examples for repo api": `"origin": "/jira/repos/*", "root": "/jira/repos/", "realRoot":
/// "/jira/repos/", "absoluteRoot": true`).
pub const FILESPACE_KEYS: &[&str] = &["root", "realRoot", "absoluteRoot"];

/// `GET /rest/gitplugin/1.0/repository` entries of a repository inside an integration
/// (`DC/retrieve-repository-list-gij-self-managed`).
pub const LIST_REPOSITORY_KEYS: &[&str] = &[
    "id",
    "group",
    "displayName",
    "origin",
    "mainBranch",
    "root",
    "realRoot",
    "absoluteRoot",
    "disabled",
    "enableFetches",
    "sendCommitEmails",
    "maxMinsToCommitEmail",
    "global",
    "hosted",
    "initDate",
    "lastIndexedDate",
    "revisionIndexing",
    "gitViewerEnabled",
    "disableSslVerification",
    "smartCommitsEnabled",
    "webLinkType",
    "viewFormat",
    "changesetFormat",
    "fileAddedFormat",
    "fileModifiedFormat",
    "fileDeletedFormat",
    "mergeRequestFormat",
    "branchLinkFormat",
    "commitsValidationRequired",
    "requireUserPat",
    "projectMappingIds",
    "trackedFolderId",
    "integrationType",
    "showAllTags",
    "supportsBranchCreationApi",
    "supportsPullRequestApi",
    "sourcesDiffViewEnabled",
    "refSpecNotes",
    "refSpecChanges",
    "trustFolderStat",
];

/// `POST /rest/gitplugin/1.0/repository` (`DC/add-new-repository-gij-self-managed`): the bare
/// repository, no `success`. A standalone repository is listed with this set too (the list
/// example shows only repositories inside integrations).
pub const ADD_REPOSITORY_KEYS: &[&str] = &[
    "id",
    "displayName",
    "origin",
    "mainBranch",
    "root",
    "realRoot",
    "absoluteRoot",
    "disabled",
    "enableFetches",
    "sendCommitEmails",
    "maxMinsToCommitEmail",
    "global",
    "hosted",
    "initDate",
    "lastIndexedDate",
    "revisionIndexing",
    "gitViewerEnabled",
    "disableSslVerification",
    "smartCommitsEnabled",
    "commitsValidationRequired",
    "requireUserPat",
    "projectMappingIds",
    "showAllTags",
    "supportsBranchCreationApi",
    "sourcesDiffViewEnabled",
    "refSpecNotes",
    "refSpecChanges",
    "trustFolderStat",
];

/// `PUT /rest/gitplugin/1.0/repository` (`DC/update-existing-repository-gij-self-managed` and
/// `DC/update-nested-repository-api-gij-self-managed` show the same answer): the bare
/// repository. `trackedFolderId` only for a repository inside an integration.
pub const UPDATE_REPOSITORY_KEYS: &[&str] = &[
    "id",
    "displayName",
    "origin",
    "mainBranch",
    "root",
    "realRoot",
    "absoluteRoot",
    "disabled",
    "enableFetches",
    "sendCommitEmails",
    "maxMinsToCommitEmail",
    "global",
    "hosted",
    "initDate",
    "lastIndexedDate",
    "revisionIndexing",
    "gitViewerEnabled",
    "disableSslVerification",
    "smartCommitsEnabled",
    "webLinkType",
    "viewFormat",
    "changesetFormat",
    "fileAddedFormat",
    "fileModifiedFormat",
    "fileDeletedFormat",
    "mergeRequestFormat",
    "branchLinkFormat",
    "commitsValidationRequired",
    "projectMappingIds",
    "trackedFolderId",
    "showAllTags",
    "sourcesDiffViewEnabled",
    "refSpecNotes",
    "refSpecChanges",
    "trustFolderStat",
];

/// Which documented answer an integration object is part of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntegrationAnswer {
    /// Retrieve Integration List.
    List,
    /// Retrieve an Integration.
    Get,
    /// Add New Integration.
    Create,
    /// Update Existing Integration.
    Update,
}

impl IntegrationAnswer {
    /// The key set of this answer.
    pub fn keys(self) -> &'static [&'static str] {
        match self {
            IntegrationAnswer::List => LIST_INTEGRATION_KEYS,
            IntegrationAnswer::Get => GET_INTEGRATION_KEYS,
            IntegrationAnswer::Create => CREATE_INTEGRATION_KEYS,
            IntegrationAnswer::Update => UPDATE_INTEGRATION_KEYS,
        }
    }
}

/// Keeps only `keys` (plus `extra`) of `full`, in the documented order. Keys missing from
/// `full` stay missing; `lastIndexedDate` is dropped when null.
pub fn cut(full: &Map<String, Value>, keys: &[&str], extra: &[&str]) -> Map<String, Value> {
    let mut out = Map::new();
    for k in keys.iter().chain(extra) {
        match full.get(*k) {
            None | Some(Value::Null) => {}
            Some(v) => {
                out.insert((*k).to_owned(), v.clone());
            }
        }
    }
    out
}

/// Cuts an integration object (the dev-server's full view as JSON) to a documented answer.
pub fn integration(full: &Map<String, Value>, answer: IntegrationAnswer) -> Value {
    let filespace = full.get("integrationType").and_then(Value::as_str) == Some("FILESPACE");
    let extra: &[&str] = if filespace { FILESPACE_KEYS } else { &[] };
    let mut out = cut(full, answer.keys(), extra);
    if answer == IntegrationAnswer::List
        && out
            .get("prHideFilter")
            .is_some_and(|v| v.as_str().is_some_and(str::is_empty))
    {
        out.remove("prHideFilter");
    }
    Value::Object(out)
}

/// Web-linking values of a repository of a git service, as GIJ's examples show them
/// (`webLinkType`, then the formats by key), for a repository at `web` (its web URL).
pub fn web_links(integration_type: &str, web: &str) -> (&'static str, Vec<(&'static str, String)>) {
    let (kind, diff, mr) = match integration_type {
        "GITHUB" | "GITHUB_SERVER" => ("github", "#diff-${sha256path}", "pull/${mergereqId}"),
        "GITLAB" | "GITLAB_SERVER" | "GITLAB_SERVER_LEGACY" => {
            ("gitlab", "#diff-${num}", "merge_requests/${mergereqId}")
        }
        "AZURE" | "VSTS" | "AZURE_DEVOPS" | "TFS_SERVER" => {
            ("vsts", "?path=${path}", "pullrequest/${mergereqId}")
        }
        "BITBUCKET" | "BITBUCKET_SERVER" => {
            ("bitbucket", "#chg-${path}", "pull-requests/${mergereqId}")
        }
        "GERRIT" => ("gerrit", "", "+/${mergereqId}"),
        "AWS" => ("aws", "", "pull-requests/${mergereqId}"),
        _ => ("", "", ""),
    };
    if kind.is_empty() {
        let empty = [
            "changesetFormat",
            "fileAddedFormat",
            "fileModifiedFormat",
            "fileDeletedFormat",
            "mergeRequestFormat",
            "branchLinkFormat",
        ];
        return ("", empty.iter().map(|k| (*k, String::new())).collect());
    }
    let commit = format!("{web}/commit/${{rev}}");
    let file = format!("{commit}{diff}");
    (
        kind,
        vec![
            ("changesetFormat", commit.clone()),
            ("fileAddedFormat", file.clone()),
            ("fileModifiedFormat", file.clone()),
            ("fileDeletedFormat", file),
            ("mergeRequestFormat", format!("{web}/{mr}")),
            ("branchLinkFormat", format!("{web}/tree/${{branch}}")),
        ],
    )
}

/// A random version-4 UUID, the shape of GIJ's reindex `threadId`.
pub fn uuid_v4() -> String {
    use rand::Rng;
    let mut b: [u8; 16] = rand::rng().random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Decodes standard base64 (with or without padding); `None` when it is not base64.
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.trim().trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_and_uuid() {
        assert_eq!(
            base64_decode("YWRtaW46c2VjcmV0").as_deref(),
            Some(&b"admin:secret"[..])
        );
        assert_eq!(base64_decode("YQ==").as_deref(), Some(&b"a"[..]));
        assert_eq!(base64_decode("not base64!"), None);
        let u = uuid_v4();
        assert_eq!(u.len(), 36);
        assert_eq!(
            u.split('-').map(str::len).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert_eq!(&u[14..15], "4");
    }

    #[test]
    fn cut_keeps_only_documented_keys_in_order() {
        let full: Map<String, Value> = serde_json::from_str(
            r#"{"group": "acme", "id": 1, "indexingState": "INDEXED", "lastIndexedDate": null,
                "prHideFilter": "", "integrationType": "GITHUB", "authMethod": "PAT"}"#,
        )
        .unwrap();
        let v = integration(&full, IntegrationAnswer::List);
        assert_eq!(v, serde_json::json!({"id": 1, "integrationType": "GITHUB"}));
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["id", "integrationType"]);
    }

    #[test]
    fn web_links_follow_the_examples() {
        let (kind, f) = web_links("GITHUB", "https://github.com/TestOrg/test-repo");
        assert_eq!(kind, "github");
        assert_eq!(f[0].1, "https://github.com/TestOrg/test-repo/commit/${rev}");
        assert_eq!(
            f[1].1,
            "https://github.com/TestOrg/test-repo/commit/${rev}#diff-${sha256path}"
        );
        let (kind, f) = web_links("GITLAB", "https://gitlab.com/wileycoyote/acmecorp");
        assert_eq!(kind, "gitlab");
        assert_eq!(
            f[4].1,
            "https://gitlab.com/wileycoyote/acmecorp/merge_requests/${mergereqId}"
        );
    }
}
