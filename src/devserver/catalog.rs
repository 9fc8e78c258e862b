//! The git-service catalog: which organisations and repositories each git service hosts, and
//! which credentials can see which organisations.
//!
//! GIJ discovers an integration's repositories by asking the git service with the integration's
//! credential; the dev-server answers that question from this catalog instead. Credentials are
//! kept only as SHA-256 hashes once loaded, so a saved state file never holds a token.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::normalize_origin;

/// Hex SHA-256 of a credential: how the catalog and the site store credentials.
pub fn hash_secret(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// Every git service the dev-server pretends to reach.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Catalog {
    /// Git services, keyed by (`type`, `origin`).
    #[serde(default)]
    pub services: Vec<CatalogService>,
    /// Lookup tables for [`Catalog::discover`], built on first use (a generated site has
    /// 100,000 groups; scanning them per integration made loading it quadratic).
    #[serde(skip)]
    index: Index,
}

/// Lazily built lookup tables of a [`Catalog`]: never serialised, never compared, and cleared by
/// [`Catalog::normalise`], which every loader calls after filling the catalog.
#[derive(Default, Clone)]
struct Index(OnceLock<Vec<ServiceIndex>>);

/// The lookup tables of one service, parallel to `Catalog::services`.
#[derive(Clone)]
struct ServiceIndex {
    /// How many groups and tokens the tables were built from: a catalog edited after the
    /// first lookup falls back to scanning instead of answering from stale tables.
    groups_len: usize,
    /// Positions in `groups`, by lower-cased group name, in catalog order.
    groups: HashMap<String, Vec<usize>>,
    /// Per token (parallel to `tokens`): the lower-cased groups it sees, and how many names
    /// its list had.
    tokens: Vec<(usize, HashSet<String>)>,
}

impl PartialEq for Index {
    /// A cache: two catalogs are equal by their services alone.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl fmt::Debug for Index {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Index")
    }
}

impl ServiceIndex {
    fn build(s: &CatalogService) -> Self {
        let mut groups: HashMap<String, Vec<usize>> = HashMap::with_capacity(s.groups.len());
        for (i, g) in s.groups.iter().enumerate() {
            groups
                .entry(g.name.to_ascii_lowercase())
                .or_default()
                .push(i);
        }
        let tokens = s
            .tokens
            .iter()
            .map(|t| {
                let seen = t.groups.iter().map(|g| g.to_ascii_lowercase()).collect();
                (t.groups.len(), seen)
            })
            .collect();
        ServiceIndex {
            groups_len: s.groups.len(),
            groups,
            tokens,
        }
    }
}

/// One git service (e.g. GitHub.com, or a self-managed GitLab host).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CatalogService {
    /// GIJ integration type, e.g. `GITHUB`.
    #[serde(rename = "type")]
    pub integration_type: String,
    /// Origin as GIJ stores it (normalised on load).
    pub origin: String,
    /// Organisations/groups with their repositories.
    #[serde(default)]
    pub groups: Vec<CatalogGroup>,
    /// Credentials this service accepts.
    #[serde(default)]
    pub tokens: Vec<CatalogToken>,
}

/// An organisation, group or project on a git service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CatalogGroup {
    /// The owner name (GIJ `group`).
    pub name: String,
    /// Its repositories.
    #[serde(default)]
    pub repositories: Vec<CatalogRepo>,
}

/// A repository with its size, which drives indexing time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CatalogRepo {
    /// Repository name.
    pub name: String,
    /// Number of commits; indexing takes `commits / commitsPerSecond` virtual seconds.
    #[serde(default)]
    pub commits: u64,
    /// Default branch.
    #[serde(default = "default_branch")]
    pub main_branch: String,
    /// Test hook: indexing this repository always ends in `ERROR`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub fail_indexing: bool,
}

fn default_branch() -> String {
    "main".to_owned()
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A credential the service accepts. Seeds give `value` (dev tokens); state files keep only
/// `sha256`. `Debug` never shows the value.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CatalogToken {
    /// The clear value, accepted in seeds only and hashed away on load.
    #[serde(default, skip_serializing)]
    pub value: Option<String>,
    /// Hex SHA-256 of the value.
    #[serde(default)]
    pub sha256: Option<String>,
    /// Username that must accompany the credential (Gerrit user, AWS access key id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Groups this credential can see.
    #[serde(default)]
    pub groups: Vec<String>,
    /// The git service's API budget for this credential, in requests per virtual hour (GitHub
    /// gives 5,000). Indexing spends it: every integration indexing with this credential draws
    /// from the same budget, and a repository's indexing waits when the budget is short.
    /// `None`: unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_hour: Option<u32>,
}

impl fmt::Debug for CatalogToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CatalogToken")
            .field("username", &self.username)
            .field("groups", &self.groups)
            .finish_non_exhaustive()
    }
}

/// A repository the git service reports for an integration.
#[derive(Debug, Clone, PartialEq)]
pub struct Discovered {
    /// Owner of the repository.
    pub group: String,
    /// The repository.
    pub repo: CatalogRepo,
}

impl Catalog {
    /// Hashes clear token values and normalises origins, so the catalog can be saved.
    pub fn normalise(&mut self) {
        self.index = Index::default();
        for s in &mut self.services {
            s.integration_type = s.integration_type.to_ascii_uppercase();
            s.origin = normalize_origin(&s.origin);
            for t in &mut s.tokens {
                if let Some(v) = t.value.take() {
                    t.sha256 = Some(hash_secret(&v));
                }
            }
        }
    }

    /// The service with this type and origin.
    pub fn service(&self, integration_type: &str, origin: &str) -> Option<&CatalogService> {
        self.service_at(integration_type, origin).map(|(_, s)| s)
    }

    /// Finds the token matching a credential hash (and username, when the token needs one).
    pub fn token(
        &self,
        integration_type: &str,
        origin: &str,
        credential_sha256: &str,
        username: Option<&str>,
    ) -> Option<&CatalogToken> {
        self.service(integration_type, origin)?
            .tokens
            .iter()
            .find(|t| {
                t.sha256.as_deref() == Some(credential_sha256)
                    && match &t.username {
                        Some(u) => username == Some(u.as_str()),
                        None => true,
                    }
            })
    }

    /// The repositories an integration sees: every repository of `group` (or of every group
    /// the token sees when `group` is `None`). A `None` token means OAuth: the grant sees the
    /// group if the service has it.
    pub fn discover(
        &self,
        integration_type: &str,
        origin: &str,
        group: Option<&str>,
        token: Option<&CatalogToken>,
    ) -> Vec<Discovered> {
        let Some((pos, service)) = self.service_at(integration_type, origin) else {
            return Vec::new();
        };
        let index = self
            .index
            .0
            .get_or_init(|| self.services.iter().map(ServiceIndex::build).collect());
        let index = index
            .get(pos)
            .filter(|ix| ix.groups_len == service.groups.len());
        // The token's visible set, when it is one of this service's tokens (found by address:
        // `token` normally comes from `Catalog::token`) and unchanged since indexing.
        let seen = match (index, token) {
            (Some(ix), Some(t)) => service
                .tokens
                .iter()
                .position(|x| std::ptr::eq(x, t))
                .and_then(|k| ix.tokens.get(k))
                .filter(|(len, _)| *len == t.groups.len())
                .map(|(_, set)| set),
            _ => None,
        };
        let visible = |g: &str| match token {
            Some(t) => match seen {
                Some(set) => set.contains(g.to_ascii_lowercase().as_str()),
                None => t.groups.iter().any(|x| x.eq_ignore_ascii_case(g)),
            },
            None => true,
        };
        let mut out = Vec::new();
        let mut take = |g: &CatalogGroup| {
            if visible(&g.name) {
                out.extend(g.repositories.iter().map(|r| Discovered {
                    group: g.name.clone(),
                    repo: r.clone(),
                }));
            }
        };
        match (group, index) {
            (Some(want), Some(ix)) => {
                let positions = ix.groups.get(want.to_ascii_lowercase().as_str());
                for &i in positions.into_iter().flatten() {
                    // Checked again: a group renamed after indexing is not its old name.
                    if let Some(g) = service.groups.get(i)
                        && g.name.eq_ignore_ascii_case(want)
                    {
                        take(g);
                    }
                }
            }
            (Some(want), None) => service
                .groups
                .iter()
                .filter(|g| g.name.eq_ignore_ascii_case(want))
                .for_each(&mut take),
            (None, _) if token.is_some() => service.groups.iter().for_each(&mut take),
            (None, _) => {}
        }
        out
    }

    /// The position and value of the service with this type and origin.
    fn service_at(&self, integration_type: &str, origin: &str) -> Option<(usize, &CatalogService)> {
        let origin = normalize_origin(origin);
        self.services.iter().enumerate().find(|(_, s)| {
            s.integration_type.eq_ignore_ascii_case(integration_type) && s.origin == origin
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        let mut c: Catalog = serde_json::from_value(serde_json::json!({
            "services": [{"type": "github", "origin": "https://API.github.com/",
              "groups": [{"name": "acme", "repositories": [{"name": "a", "commits": 10}]},
                         {"name": "other", "repositories": [{"name": "b"}]}],
              "tokens": [{"value": "tok", "groups": ["acme"]}]}]
        }))
        .unwrap();
        c.normalise();
        c
    }

    #[test]
    fn tokens_are_hashed_and_hidden() {
        let c = catalog();
        let t = &c.services[0].tokens[0];
        assert!(t.value.is_none());
        assert_eq!(t.sha256.as_deref(), Some(hash_secret("tok").as_str()));
        let saved = serde_json::to_string(&c).unwrap();
        assert!(!saved.contains("\"tok\""));
    }

    #[test]
    fn discovery_respects_token_groups() {
        let c = catalog();
        let t = c
            .token(
                "GITHUB",
                "https://api.github.com",
                &hash_secret("tok"),
                None,
            )
            .unwrap();
        assert_eq!(
            c.discover("GITHUB", "https://api.github.com", Some("acme"), Some(t))
                .len(),
            1
        );
        assert!(
            c.discover("GITHUB", "https://api.github.com", Some("other"), Some(t))
                .is_empty()
        );
        assert_eq!(
            c.discover("GITHUB", "https://api.github.com", None, Some(t))
                .len(),
            1
        );
        assert!(
            c.token("GITHUB", "https://api.github.com", &hash_secret("x"), None)
                .is_none()
        );
    }

    #[test]
    fn discovery_ignores_case_and_keeps_catalog_order() {
        let mut c: Catalog = serde_json::from_value(serde_json::json!({
            "services": [{"type": "github", "origin": "https://api.github.com",
              "groups": [{"name": "Acme", "repositories": [{"name": "a"}]},
                         {"name": "other", "repositories": [{"name": "b"}]},
                         {"name": "ACME", "repositories": [{"name": "c"}]}],
              "tokens": [{"value": "tok", "groups": ["aCmE"]}]}]
        }))
        .unwrap();
        c.normalise();
        let t = c
            .token(
                "GITHUB",
                "https://api.github.com",
                &hash_secret("tok"),
                None,
            )
            .unwrap();
        let names = |found: Vec<Discovered>| {
            found
                .into_iter()
                .map(|d| format!("{}/{}", d.group, d.repo.name))
                .collect::<Vec<_>>()
        };
        let found = c.discover("github", "https://api.github.com/", Some("acme"), Some(t));
        assert_eq!(names(found), ["Acme/a", "ACME/c"]);
        let found = c.discover("GITHUB", "https://api.github.com", None, Some(t));
        assert_eq!(names(found), ["Acme/a", "ACME/c"]);
        // OAuth (no token) sees the group when the service has it, and nothing without a group.
        let found = c.discover("GITHUB", "https://api.github.com", Some("OTHER"), None);
        assert_eq!(names(found), ["other/b"]);
        assert!(
            c.discover("GITHUB", "https://api.github.com", None, None)
                .is_empty()
        );
        // A token that is not the catalog's own (an equal copy) is checked by scanning.
        let copy = t.clone();
        let found = c.discover(
            "GITHUB",
            "https://api.github.com",
            Some("acme"),
            Some(&copy),
        );
        assert_eq!(names(found), ["Acme/a", "ACME/c"]);
    }

    #[test]
    fn discovery_sees_edits_made_after_the_first_lookup() {
        let mut c = catalog();
        let found = c.discover("GITHUB", "https://api.github.com", Some("acme"), None);
        assert_eq!(found.len(), 1);
        c.services[0].groups.push(CatalogGroup {
            name: "late".to_owned(),
            repositories: vec![CatalogRepo {
                name: "z".to_owned(),
                commits: 1,
                main_branch: default_branch(),
                fail_indexing: false,
            }],
        });
        c.services[0].tokens[0].groups.push("LATE".to_owned());
        let t = &c.services[0].tokens[0];
        let found = c.discover("GITHUB", "https://api.github.com", Some("late"), Some(t));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].repo.name, "z");
        // normalise() rebuilds the tables.
        c.normalise();
        let t = &c.services[0].tokens[0];
        let found = c.discover("GITHUB", "https://api.github.com", Some("late"), Some(t));
        assert_eq!(found.len(), 1);
    }
}
