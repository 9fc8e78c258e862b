//! State snapshots: a GIJ site's state in a file, for sites gijctl cannot read (GIJ Cloud has
//! no management API) and for `gijctl runbook --check` after someone did the manual work.
//!
//! The format is the wire dump of [`LiveSite`] (GIJ's own JSON field names, see docs/api.md;
//! repository entries keep only their own fields, [`wire::SiteRepository`], and a `state` gijctl
//! does not know is written as `UNKNOWN`), wrapped with a format marker and an optional `discovered` list: the repositories a git
//! service lists under an owner, which lets a runbook name the exact repositories to pick for
//! an integration that does not exist yet. `gijctl import --format json` writes it; people on
//! Cloud can write or edit it by hand (every field but the marker is optional).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::api::{LiveSite, wire};
use crate::model::normalize_origin;

/// The value of `format` in every snapshot.
pub const FORMAT: &str = "gijctl-state";
/// The snapshot format version; readers refuse others.
pub const FORMAT_VERSION: u32 = 1;

/// A state snapshot file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    /// Always [`FORMAT`], so that a plan or a seed given by mistake is refused clearly.
    pub format: String,
    /// Always [`FORMAT_VERSION`].
    pub format_version: u32,
    /// Jira projects (`GET /rest/api/2/project`); may be empty, then project keys are taken
    /// as gij.toml writes them.
    #[serde(default)]
    pub projects: Vec<wire::Project>,
    /// Integrations (`GET /rest/gitplugin/1.0/integration`).
    #[serde(default)]
    pub integrations: Vec<wire::Integration>,
    /// Repositories with `trackedFolderId` (`GET /rest/gitplugin/1.0/repository`).
    #[serde(default)]
    pub repositories: Vec<wire::SiteRepository>,
    /// What the git services list per owner, for integrations not created yet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub discovered: Vec<Discovered>,
}

/// The repositories a git service lists under one owner (what GIJ would discover).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Discovered {
    /// GIJ integration type, e.g. `GITHUB`.
    #[serde(rename = "type")]
    pub integration_type: String,
    /// The service's origin, e.g. `https://api.github.com`.
    pub origin: String,
    /// The owner (GIJ `group`).
    pub group: String,
    /// Repository names.
    pub repositories: Vec<String>,
}

/// Why a snapshot cannot be read or written. Never holds file contents.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The file cannot be read or written.
    #[error("cannot {what} `{path}`")]
    Io {
        /// Read or write.
        what: &'static str,
        /// The path.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not JSON of the snapshot's shape.
    #[error("`{path}` is not a gijctl state snapshot")]
    Json {
        /// The path.
        path: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// The marker or version is wrong.
    #[error(
        "`{path}` is not a gijctl state snapshot version {FORMAT_VERSION} (found format {found:?}); \
         write one with `gijctl import --format json -o FILE`"
    )]
    Format {
        /// The path.
        path: String,
        /// What the file says it is.
        found: String,
    },
}

/// Largest snapshot read (a site with tens of thousands of repositories stays far below).
const MAX_BYTES: u64 = 256 * 1024 * 1024;

impl Snapshot {
    /// Wraps a site read from the API.
    pub fn from_site(site: &LiveSite) -> Snapshot {
        Snapshot {
            format: FORMAT.to_owned(),
            format_version: FORMAT_VERSION,
            projects: site.projects.clone(),
            integrations: site.integrations.clone(),
            repositories: site.repositories.clone(),
            discovered: Vec::new(),
        }
    }

    /// The site it describes.
    pub fn site(&self) -> LiveSite {
        LiveSite {
            // A snapshot describes the integrations, not which Jira they came from.
            server: Default::default(),
            projects: self.projects.clone(),
            integrations: self.integrations.clone(),
            repositories: self.repositories.clone(),
        }
    }

    /// Parses a snapshot; `name` is used in errors.
    pub fn from_str(text: &str, name: &str) -> Result<Snapshot, SnapshotError> {
        #[derive(Deserialize)]
        struct Marker {
            #[serde(default)]
            format: Option<String>,
            #[serde(default, rename = "formatVersion")]
            format_version: Option<u32>,
        }
        let m: Marker = serde_json::from_str(text).map_err(|source| SnapshotError::Json {
            path: name.to_owned(),
            source,
        })?;
        if m.format.as_deref() != Some(FORMAT) || m.format_version != Some(FORMAT_VERSION) {
            return Err(SnapshotError::Format {
                path: name.to_owned(),
                found: format!(
                    "{} v{}",
                    m.format.as_deref().unwrap_or("none"),
                    m.format_version
                        .map_or_else(|| "?".to_owned(), |v| v.to_string())
                ),
            });
        }
        serde_json::from_str(text).map_err(|source| SnapshotError::Json {
            path: name.to_owned(),
            source,
        })
    }

    /// Reads a snapshot file.
    pub fn load(path: &Path) -> Result<Snapshot, SnapshotError> {
        use std::io::Read as _;
        let shown = path.display().to_string();
        let io = |source| SnapshotError::Io {
            what: "read",
            path: shown.clone(),
            source,
        };
        let f = fs_err::File::open(path).map_err(io)?;
        let mut text = String::new();
        f.take(MAX_BYTES).read_to_string(&mut text).map_err(io)?;
        Snapshot::from_str(&text, &shown)
    }

    /// The snapshot as pretty JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }
}

/// Finds the discovered repository names of one owner on one service.
pub fn discovered_for<'a>(
    discovered: &'a [Discovered],
    wire_type: &str,
    origin: &str,
    owner: &str,
) -> Option<&'a [String]> {
    let origin = normalize_origin(origin);
    discovered
        .iter()
        .find(|d| {
            d.integration_type.eq_ignore_ascii_case(wire_type)
                && normalize_origin(&d.origin) == origin
                && d.group.eq_ignore_ascii_case(owner)
        })
        .map(|d| d.repositories.as_slice())
}

/// The discovered lists a dev-server seed's catalog implies (for `--dev-server SEED` runs).
pub fn discovered_from_seed(seed: &crate::devserver::seed::Seed) -> Vec<Discovered> {
    let mut out = Vec::new();
    for s in &seed.catalog.services {
        for g in &s.groups {
            out.push(Discovered {
                integration_type: s.integration_type.to_ascii_uppercase(),
                origin: normalize_origin(&s.origin),
                group: g.name.clone(),
                repositories: g.repositories.iter().map(|r| r.name.clone()).collect(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_other_documents() {
        let site = LiveSite {
            server: Default::default(),
            projects: serde_json::from_str(r#"[{"id":"10000","key":"OPS","name":"Ops"}]"#).unwrap(),
            integrations: serde_json::from_str(
                r#"[{"id":1,"integrationType":"GITHUB","group":"acme","displayName":"GH"}]"#,
            )
            .unwrap(),
            repositories: serde_json::from_str(
                r#"[{"id":2,"displayName":"web","trackedFolderId":1}]"#,
            )
            .unwrap(),
        };
        let snap = Snapshot::from_site(&site);
        let back = Snapshot::from_str(&snap.to_json(), "s.json").unwrap();
        assert_eq!(back.integrations, site.integrations);
        assert_eq!(back.repositories, site.repositories);
        assert_eq!(back.projects[0].id, Some(10000));

        let err = Snapshot::from_str(r#"{"format_version":1,"actions":[]}"#, "plan.json")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a gijctl state snapshot"), "{err}");
        assert!(Snapshot::from_str("[]", "x").is_err());
    }

    #[test]
    fn finds_discovered_lists_by_service_origin_and_owner() {
        let d = vec![Discovered {
            integration_type: "GITHUB".into(),
            origin: "https://api.github.com".into(),
            group: "Acme".into(),
            repositories: vec!["web".into()],
        }];
        assert_eq!(
            discovered_for(&d, "github", "https://API.github.com/", "acme"),
            Some(&["web".to_owned()][..])
        );
        assert_eq!(
            discovered_for(&d, "GITLAB", "https://api.github.com", "acme"),
            None
        );
    }
}
