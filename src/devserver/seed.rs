//! Seed files: the starting site of a dev-server (format in docs/dev-server.md).
//!
//! A seed describes what a real site would already hold, so demos and tests start from
//! something realistic: Jira projects, the git services' catalog, and integrations that already
//! exist and are indexed.

use std::path::Path;

use serde::{Deserialize, Deserializer};

use super::DevServerError;
use super::catalog::{Catalog, hash_secret};
use super::indexing;
use super::state::{
    IntegrationRec, ProjectRec, RepoRec, ServerRec, SiteState, default_origin, default_settings,
    merge_settings, strip_to_settings,
};
use crate::api::wire;
use crate::model::normalize_origin;
use crate::secret::Secret;

/// A parsed seed file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Seed {
    /// What Jira reports about itself (`baseUrl`, `serverTitle`); defaults to a local Jira
    /// titled "gijctl dev-server".
    #[serde(default)]
    pub server: ServerRec,
    /// Jira projects.
    #[serde(default)]
    pub projects: Vec<ProjectRec>,
    /// Git services, their groups, repositories and accepted tokens.
    #[serde(default)]
    pub catalog: Catalog,
    /// Integrations that already exist.
    #[serde(default)]
    pub integrations: Vec<SeedIntegration>,
}

fn de_opt_secret<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Secret>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.map(Secret::new))
}

fn yes() -> bool {
    true
}

/// An integration that exists when the server starts.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedIntegration {
    /// GIJ type, e.g. `GITHUB`.
    #[serde(rename = "type")]
    pub integration_type: String,
    /// Origin; defaults as on create for SaaS services.
    #[serde(default)]
    pub origin: Option<String>,
    /// Owner (GIJ `group`).
    #[serde(default)]
    pub group: Option<String>,
    /// `PAT` (default) or `OAUTH`.
    #[serde(default)]
    pub auth_method: Option<String>,
    /// The PAT or password (must be a catalog token of the service); not needed for OAuth.
    #[serde(default, deserialize_with = "de_opt_secret")]
    pub credential: Option<Secret>,
    /// Username for password-style services.
    #[serde(default)]
    pub username: Option<String>,
    /// Whether the integration is disabled.
    #[serde(default)]
    pub disabled: bool,
    /// Repository names that are disabled (never indexed).
    #[serde(default)]
    pub disabled_repositories: Vec<String>,
    /// Whether the enabled repositories are already indexed (default true); when false they
    /// start indexing as the server starts.
    #[serde(default = "yes")]
    pub indexed: bool,
    /// Settings in GIJ's wire names (`displayName`, `requireUserPat`, `global`, ...), over
    /// GIJ's defaults.
    #[serde(default)]
    pub settings: wire::Integration,
}

impl Seed {
    /// Reads a seed file.
    pub fn load(path: &Path) -> Result<Seed, DevServerError> {
        let text = fs_err::read_to_string(path).map_err(|source| DevServerError::Io {
            what: format!("reading seed file {}", path.display()),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| DevServerError::Json {
            what: format!("seed file {}", path.display()),
            source,
        })
    }

    /// Builds the site the seed describes, as of virtual time `now`.
    pub fn into_state(
        self,
        now: i64,
        scan_ms: i64,
        commits_per_sec: f64,
    ) -> Result<SiteState, DevServerError> {
        let mut site = SiteState::empty(scan_ms, commits_per_sec);
        site.virtual_now_ms = now;
        site.server = self.server;
        site.projects = self.projects;
        site.catalog = self.catalog;
        site.catalog.normalise();
        for (n, si) in self.integrations.into_iter().enumerate() {
            let ty = si.integration_type.to_ascii_uppercase();
            let origin = si
                .origin
                .as_deref()
                .map(normalize_origin)
                .or_else(|| default_origin(&ty, si.settings.aws_region.as_deref()))
                .ok_or_else(|| {
                    DevServerError::Invalid(format!(
                        "seed integration #{n} ({ty}) needs an `origin`"
                    ))
                })?;
            let auth = si
                .auth_method
                .as_deref()
                .unwrap_or("PAT")
                .to_ascii_uppercase();
            let credential_sha256 = match (&auth[..], &si.credential) {
                ("OAUTH", _) => None,
                (_, Some(c)) => {
                    let h = hash_secret(c.expose());
                    if site
                        .catalog
                        .token(&ty, &origin, &h, si.username.as_deref())
                        .is_none()
                    {
                        return Err(DevServerError::Invalid(format!(
                            "seed integration #{n} ({ty} {origin}): its credential is not a catalog token of that service"
                        )));
                    }
                    Some(h)
                }
                (_, None) => {
                    return Err(DevServerError::Invalid(format!(
                        "seed integration #{n} ({ty} {origin}): a PAT integration needs a `credential`"
                    )));
                }
            };
            let mut settings = default_settings();
            let mut given = si.settings.clone();
            let region = given.aws_region.clone();
            strip_to_settings(&mut given);
            merge_settings(&mut settings, &given);
            settings.aws_region = region;
            if settings.display_name.is_none() {
                settings.display_name = Some(format!(
                    "{} {}",
                    ty,
                    si.group.as_deref().unwrap_or("integration")
                ));
            }
            let id = site.alloc_id();
            site.integrations.insert(
                id,
                IntegrationRec {
                    id,
                    integration_type: ty,
                    origin,
                    group: si.group,
                    auth_method: auth,
                    credential_sha256,
                    username: si.username,
                    settings,
                    disabled: si.disabled,
                    init_date: now - 30 * 24 * 3600 * 1000,
                    scan_done_ms: None,
                },
            );
            // Discover now, with the integration disabled so nothing is scheduled yet.
            let disabled = si.disabled;
            if let Some(i) = site.integrations.get_mut(&id) {
                i.disabled = true;
            }
            indexing::rescan(&mut site, id, now);
            if let Some(i) = site.integrations.get_mut(&id) {
                i.disabled = disabled;
            }
            let ids: Vec<u64> = site.repos_of(id).map(|r| r.id).collect();
            for rid in ids {
                if let Some(r) = site.repositories.get_mut(&rid) {
                    r.init_date = now - 30 * 24 * 3600 * 1000;
                    r.disabled = si
                        .disabled_repositories
                        .iter()
                        .any(|d| d.eq_ignore_ascii_case(&r.name));
                    mark_indexed(r, si.indexed, now);
                }
            }
            for d in &si.disabled_repositories {
                if !site.repos_of(id).any(|r| r.name.eq_ignore_ascii_case(d)) {
                    return Err(DevServerError::Invalid(format!(
                        "seed integration #{n}: disabled repository `{d}` is not in the catalog"
                    )));
                }
            }
            if !disabled {
                indexing::schedule_pending(&mut site, id, now);
            }
        }
        Ok(site)
    }
}

fn mark_indexed(r: &mut RepoRec, indexed: bool, now: i64) {
    if indexed && !r.disabled {
        r.last_indexed_date = Some(now - 3600 * 1000);
        r.failed = r.fail_indexing;
        if r.failed {
            r.last_indexed_date = None;
        }
    }
}
