//! Generated sites for benchmarks: a dev-server seed of N integrations × M repositories and the
//! gij.toml that manages it, both deterministic.
//!
//! Issue 7 measures gijctl on sites far larger than any hand-written example (10,000
//! integrations × 20 repositories). The seed and the config are generated together so that the
//! plan between them is realistic and known in advance: most integrations already match, a
//! small share needs an update, a few are missing (creates) and a few live ones are not
//! declared (unmanaged). The same inputs always give byte-identical outputs, so a benchmark
//! figure can be reproduced from its command line alone.

use std::fmt::Write as _;
use std::str::FromStr;

use serde_json::{Value, json};

use super::DevServerError;
use super::seed::Seed;

/// Jira projects of the generated site (the team's example keys).
const PROJECTS: [(u64, &str, &str); 4] = [
    (10000, "OPS", "Operations"),
    (10001, "WEB", "Web"),
    (10002, "API", "API Platform"),
    (10003, "DATA", "Data"),
];

/// The services generated integrations rotate through: (config name, GIJ type, origin, token).
const SERVICES: [(&str, &str, &str, &str); 3] = [
    (
        "github",
        "GITHUB",
        "https://api.github.com",
        "bench-github-token",
    ),
    (
        "gitlab",
        "GITLAB",
        "https://gitlab.com",
        "bench-gitlab-token",
    ),
    (
        "azure-devops",
        "AZURE",
        "https://dev.azure.com",
        "bench-azure-token",
    ),
];

/// The size of a generated site, written `INTEGRATIONSxREPOSITORIES` (e.g. `10000x20`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SiteSpec {
    /// Live integrations in the seed (the config declares as many, see [`generate`]).
    pub integrations: usize,
    /// Repositories per integration.
    pub repositories: usize,
}

impl FromStr for SiteSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<SiteSpec, String> {
        let bad =
            || format!("`{s}` is not a site size: write INTEGRATIONSxREPOSITORIES, e.g. 10000x20");
        let (i, r) = s.split_once(['x', 'X']).ok_or_else(bad)?;
        let integrations: usize = i.trim().parse().map_err(|_| bad())?;
        let repositories: usize = r.trim().parse().map_err(|_| bad())?;
        if integrations == 0 || repositories == 0 {
            return Err(format!(
                "`{s}`: a generated site needs at least one integration and one repository each"
            ));
        }
        Ok(SiteSpec {
            integrations,
            repositories,
        })
    }
}

impl std::fmt::Display for SiteSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}", self.integrations, self.repositories)
    }
}

/// A generated seed and its matching gij.toml.
#[derive(Debug, Clone)]
pub struct GeneratedSite {
    /// The size it was generated for.
    pub spec: SiteSpec,
    /// The seed document (docs/dev-server.md format).
    pub seed: Value,
    /// The gij.toml text managing the site.
    pub config: String,
}

impl GeneratedSite {
    /// The seed, parsed for [`super::DevServer::start`] or [`Seed::into_state`].
    pub fn parsed_seed(&self) -> Result<Seed, DevServerError> {
        serde_json::from_value(self.seed.clone()).map_err(|source| DevServerError::Json {
            what: format!("generated seed {}", self.spec),
            source,
        })
    }

    /// Environment variables the config's credential references name, with the values the
    /// seed's catalog accepts (what a benchmark exports before `gijctl plan`).
    pub fn credential_env() -> Vec<(String, String)> {
        SERVICES
            .iter()
            .map(|(name, _, _, token)| (env_name(name), (*token).to_owned()))
            .collect()
    }
}

fn env_name(service: &str) -> String {
    format!(
        "BENCH_{}_TOKEN",
        service.to_ascii_uppercase().replace('-', "_")
    )
}

/// The project keys integration `n` is associated with (1 to 3 of the four projects).
fn project_keys(n: usize) -> Vec<&'static str> {
    let k = 1 + n % 3;
    (0..k).map(|j| PROJECTS[(n + j) % 4].1).collect()
}

fn project_ids(n: usize) -> Vec<u64> {
    let mut ids: Vec<u64> = (0..1 + n % 3).map(|j| PROJECTS[(n + j) % 4].0).collect();
    ids.sort_unstable();
    ids
}

/// Whether integration `n` has a `legacy-*` repository the config excludes.
fn has_legacy(n: usize) -> bool {
    n.is_multiple_of(5)
}

/// Repository names of group `n`.
fn repo_names(n: usize, m: usize) -> Vec<String> {
    (0..m)
        .map(|j| {
            if j == m - 1 && has_legacy(n) {
                format!("legacy-{n}")
            } else {
                format!("svc-{j:03}")
            }
        })
        .collect()
}

fn commits(n: usize, j: usize) -> u64 {
    100 + ((n * 7919 + j * 104_729) % 5000) as u64
}

/// Generates a site of `spec.integrations` live integrations with `spec.repositories`
/// repositories each, and a config that plans, against it:
/// - no change for most integrations;
/// - an update for every 100th (display name) and every 50th `legacy-*` holder (its legacy
///   repository is still enabled live, the config excludes it);
/// - `ceil(I / 100)` creates (groups the catalog has but no integration connects yet);
/// - `ceil(I / 200)` unmanaged live integrations the config does not declare.
pub fn generate(spec: SiteSpec) -> GeneratedSite {
    let n_live = spec.integrations;
    let n_new = n_live.div_ceil(100);
    let n_stray = n_live.div_ceil(200);
    let m = spec.repositories;

    // Catalog: every group exists on its service; one token per service sees all of them.
    let mut groups: Vec<Vec<Value>> = vec![Vec::new(); SERVICES.len()];
    let mut group_names: Vec<Vec<String>> = vec![Vec::new(); SERVICES.len()];
    let mut add_group = |svc: usize, name: String, n: usize| {
        let repos: Vec<Value> = repo_names(n, m)
            .into_iter()
            .enumerate()
            .map(|(j, r)| json!({"name": r, "commits": commits(n, j)}))
            .collect();
        groups[svc].push(json!({"name": name, "repositories": repos}));
        group_names[svc].push(name);
    };
    for n in 0..n_live {
        add_group(n % SERVICES.len(), format!("org-{n:06}"), n);
    }
    for k in 0..n_new {
        add_group(k % SERVICES.len(), format!("new-{k:06}"), k);
    }
    for k in 0..n_stray {
        add_group(k % SERVICES.len(), format!("stray-{k:06}"), k);
    }
    let services: Vec<Value> = SERVICES
        .iter()
        .enumerate()
        .map(|(i, (_, ty, origin, token))| {
            json!({
                "type": ty,
                "origin": origin,
                "groups": groups[i],
                "tokens": [{"value": token, "groups": group_names[i]}],
            })
        })
        .collect();

    // Live integrations: the declared ones first (ids in declaration order), then the strays.
    let mut integrations = Vec::with_capacity(n_live + n_stray);
    for n in 0..n_live {
        let (_, ty, _, token) = SERVICES[n % SERVICES.len()];
        let disabled: Vec<String> = if has_legacy(n) && !n.is_multiple_of(50) {
            vec![format!("legacy-{n}")]
        } else {
            Vec::new()
        };
        integrations.push(json!({
            "type": ty,
            "group": format!("org-{n:06}"),
            "credential": token,
            "disabledRepositories": disabled,
            "settings": {
                "displayName": format!("Org {n:06}"),
                "requireUserPat": true,
                "global": false,
                "projectMappingIds": project_ids(n),
            },
        }));
    }
    for k in 0..n_stray {
        let (_, ty, _, token) = SERVICES[k % SERVICES.len()];
        integrations.push(json!({
            "type": ty,
            "group": format!("stray-{k:06}"),
            "credential": token,
            "settings": {"displayName": format!("Stray {k:06}")},
        }));
    }
    let projects: Vec<Value> = PROJECTS
        .iter()
        .map(|(id, key, name)| json!({"id": id, "key": key, "name": name}))
        .collect();
    let seed = json!({
        "projects": projects,
        "catalog": {"services": services},
        "integrations": integrations,
    });

    GeneratedSite {
        spec,
        seed,
        config: config_text(n_live, n_new),
    }
}

fn config_text(n_live: usize, n_new: usize) -> String {
    let mut out = String::with_capacity((n_live + n_new) * 260);
    out.push_str(
        "# Generated by `gijctl dev-server --generate` for benchmarks (see BENCHMARKS.md).\n\
         version = 1\n\n[defaults]\nrequire-user-pat = true\n",
    );
    let mut entry = |key: String, n: usize, owner: String, display: String| {
        let (service, ..) = SERVICES[n % SERVICES.len()];
        let projects: Vec<String> = project_keys(n).iter().map(|k| format!("\"{k}\"")).collect();
        // `write!` to a String cannot fail.
        let _ = write!(
            out,
            "\n[integrations.{key}]\nservice = \"{service}\"\nowner = \"{owner}\"\n\
             credential = \"env:{}\"\ndisplay-name = \"{display}\"\nprojects = [{}]\n",
            env_name(service),
            projects.join(", ")
        );
        if has_legacy(n) {
            out.push_str("repositories = { exclude = [\"legacy-*\"] }\n");
        }
    };
    for n in 0..n_live {
        let display = if n % 100 == 1 {
            format!("Org {n:06} (renamed)")
        } else {
            format!("Org {n:06}")
        };
        entry(format!("org-{n:06}"), n, format!("org-{n:06}"), display);
    }
    for k in 0..n_new {
        entry(
            format!("new-{k:06}"),
            k,
            format!("new-{k:06}"),
            format!("New {k:06}"),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sizes() {
        assert_eq!(
            "10000x20".parse::<SiteSpec>(),
            Ok(SiteSpec {
                integrations: 10_000,
                repositories: 20
            })
        );
        assert!("10000".parse::<SiteSpec>().is_err());
        assert!("0x20".parse::<SiteSpec>().is_err());
        assert!("ax2".parse::<SiteSpec>().is_err());
    }

    #[test]
    fn is_deterministic() {
        let spec: SiteSpec = "30x4".parse().unwrap();
        let (a, b) = (generate(spec), generate(spec));
        assert_eq!(a.seed, b.seed);
        assert_eq!(a.config, b.config);
    }

    #[test]
    fn seed_loads_and_config_validates() {
        let g = generate("250x3".parse().unwrap());
        let site = g.parsed_seed().unwrap().into_state(0, 2000, 100.0).unwrap();
        assert_eq!(site.integrations.len(), 250 + 2);
        assert_eq!(site.repositories.len(), (250 + 2) * 3);
        let desired = crate::config::load_str(&g.config, "gij.toml").unwrap();
        assert_eq!(desired.integrations.len(), 250 + 3);
    }

    #[test]
    fn plans_the_documented_changes() {
        let g = generate("300x4".parse().unwrap());
        let site = g.parsed_seed().unwrap().into_state(0, 2000, 100.0).unwrap();
        let live = crate::plan::from_site(&super::super::live_site(&site));
        let desired = crate::config::load_str(&g.config, "gij.toml").unwrap();
        let plan =
            crate::plan::plan(&desired, &live, &crate::plan::PlanOptions::default()).unwrap();
        let s = plan.summary;
        // Renames: n % 100 == 1 (3); legacy re-enabled live: n % 50 == 0 (6).
        assert_eq!(s.update, 3 + 6, "{s:?}");
        assert_eq!(s.create, 3, "{s:?}");
        assert_eq!(s.unmanaged, 2, "{s:?}");
        assert_eq!(s.unchanged, 300 - 9, "{s:?}");
    }
}
