//! Turns GIJ's wire JSON ([`LiveSite`]) into the normalised [`LiveState`] that `plan` compares.
//!
//! Everything GIJ fills in by itself (dates, indexing progress, unknown keys) is either dropped
//! here or kept out of the comparison, and every missing field is replaced by GIJ's documented
//! default (except the settings GIJ's documented list does not carry, which are marked unknown:
//! see [`unknown_settings`], and the `authMethod` extension, which is `None` when absent), so
//! that the same site always produces the same [`LiveState`] and a plan right after an apply is
//! empty.

use std::collections::{BTreeMap, BTreeSet};

use crate::api::LiveSite;
use crate::api::wire;
use crate::model::{
    AuthMethod, Field, IndexState, IntegrationIndexing, LiveIntegration, LiveProjects,
    LiveRepository, Service, Settings, normalize_origin,
};

/// The live site, normalised.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveState {
    /// Integrations of supported services, sorted by id.
    pub integrations: Vec<LiveIntegration>,
    /// Jira project keys and ids.
    pub projects: ProjectIndex,
    /// Integrations whose type gijctl does not know; listed as unmanaged, never touched.
    pub unsupported: Vec<UnsupportedIntegration>,
    /// Repository sizes in commits, when the site reports them (the `commits` extension key);
    /// used only for indexing-time estimates.
    pub repo_commits: BTreeMap<u64, u64>,
    /// Live objects that were skipped and why.
    pub warnings: Vec<String>,
}

impl LiveState {
    /// Finds a live integration by id: a binary search, as `integrations` is sorted by id
    /// (pinned declarations and saved-plan checks look up every id, which a linear scan made
    /// quadratic). A state built unsorted by hand still answers correctly, by a scan.
    pub fn get(&self, id: u64) -> Option<&LiveIntegration> {
        match self.integrations.binary_search_by_key(&id, |i| i.id) {
            Ok(i) => self.integrations.get(i),
            Err(_) => self.integrations.iter().find(|i| i.id == id),
        }
    }
}

/// A live integration of a type gijctl cannot manage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsupportedIntegration {
    /// GIJ's id.
    pub id: u64,
    /// GIJ's wire type.
    pub wire_type: String,
    /// Normalised origin.
    pub origin: String,
    /// Owner.
    pub owner: String,
    /// Display name.
    pub display_name: String,
    /// Number of repositories.
    pub repositories: usize,
}

/// Jira project keys and numeric ids in both directions: GIJ stores ids, users write keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectIndex {
    by_key: BTreeMap<String, u64>,
    by_id: BTreeMap<u64, String>,
}

impl ProjectIndex {
    /// Builds the index from `(id, key)` pairs; keys are upper-cased.
    pub fn new(pairs: impl IntoIterator<Item = (u64, String)>) -> ProjectIndex {
        let mut idx = ProjectIndex::default();
        for (id, key) in pairs {
            let key = key.trim().to_ascii_uppercase();
            idx.by_key.insert(key.clone(), id);
            idx.by_id.insert(id, key);
        }
        idx
    }

    /// The id of a project key (case-insensitive).
    pub fn id_of(&self, key: &str) -> Option<u64> {
        self.by_key.get(&key.to_ascii_uppercase()).copied()
    }

    /// The key of a project id, or `#<id>` when Jira does not know the id (a deleted project),
    /// so that the plan can still show and remove the stale association.
    pub fn key_of(&self, id: u64) -> String {
        self.by_id
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("#{id}"))
    }

    /// Every known key, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.by_key.keys().map(String::as_str)
    }

    /// Resolves keys to ids; `#<id>` pseudo-keys resolve to their id. `Err` names the first
    /// unknown key.
    pub fn ids_of<'a>(&self, keys: impl IntoIterator<Item = &'a str>) -> Result<Vec<u64>, String> {
        let mut out = BTreeSet::new();
        for k in keys {
            let id = match k.strip_prefix('#') {
                Some(n) => n.parse().ok(),
                None => self.id_of(k),
            };
            out.insert(id.ok_or_else(|| k.to_owned())?);
        }
        Ok(out.into_iter().collect())
    }
}

/// Converts the wire site into a [`LiveState`]. Pure; never fails: objects that cannot be
/// interpreted are skipped with a warning.
pub fn from_site(site: &LiveSite) -> LiveState {
    let mut warnings = Vec::new();
    let projects = ProjectIndex::new(site.projects.iter().filter_map(|p| {
        if p.id.is_none() {
            warnings.push(format!("Jira project `{}` has no id; ignored", p.key));
        }
        p.id.map(|id| (id, p.key.clone()))
    }));

    let mut repos_by_parent: BTreeMap<u64, Vec<&wire::SiteRepository>> = BTreeMap::new();
    let mut repo_commits = BTreeMap::new();
    for r in &site.repositories {
        if let Some(c) = r.commits {
            repo_commits.insert(r.id, c);
        }
        if let Some(parent) = r.tracked_folder_id {
            repos_by_parent.entry(parent).or_default().push(r);
        }
    }

    let mut integrations = Vec::new();
    let mut unsupported = Vec::new();
    for w in &site.integrations {
        let Some(id) = w.id else {
            warnings.push(format!(
                "a live integration without an id (display name {:?}) was ignored",
                w.display_name.as_deref().unwrap_or("")
            ));
            continue;
        };
        let repos = repos_by_parent.get(&id).map(Vec::as_slice).unwrap_or(&[]);
        let wire_type = w.integration_type.clone().unwrap_or_default();
        match Service::from_wire_type(&wire_type) {
            Some(service) => integrations.push(integration(id, service, w, repos, &projects)),
            None => unsupported.push(UnsupportedIntegration {
                id,
                wire_type: if wire_type.is_empty() {
                    "UNKNOWN".to_owned()
                } else {
                    wire_type
                },
                origin: w
                    .origin
                    .as_deref()
                    .map(normalize_origin)
                    .unwrap_or_default(),
                owner: w.group.clone().unwrap_or_default(),
                display_name: w.display_name.clone().unwrap_or_default(),
                repositories: repos.len(),
            }),
        }
    }
    integrations.sort_by_key(|i| i.id);
    unsupported.sort_by_key(|i| i.id);
    LiveState {
        integrations,
        projects,
        unsupported,
        repo_commits,
        warnings,
    }
}

/// The owner an integration connects: GIJ's `group` on the integration when the site sends it,
/// otherwise the `group` its repositories share (GIJ documents `group` on repository entries; an
/// integration answer may leave it out). Empty when neither tells, so matching falls back to an
/// explicit `id` pin rather than guessing.
fn owner_of(w: &wire::Integration, repos: &[&wire::SiteRepository]) -> String {
    if let Some(g) = w.group.as_deref().filter(|g| !g.trim().is_empty()) {
        return g.to_owned();
    }
    let mut groups = repos.iter().filter_map(|r| r.group.as_deref());
    match groups.next() {
        Some(first) if groups.all(|g| g.eq_ignore_ascii_case(first)) => first.into(),
        _ => String::new(),
    }
}

fn integration(
    id: u64,
    service: Service,
    w: &wire::Integration,
    repos: &[&wire::SiteRepository],
    projects: &ProjectIndex,
) -> LiveIntegration {
    let settings = settings_from_wire(w);
    let mut repositories: Vec<LiveRepository> = repos.iter().map(|r| repository(r)).collect();
    repositories.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    let origin = match w.origin.as_deref() {
        Some(o) if !o.trim().is_empty() => normalize_origin(o),
        _ => service.default_origin().unwrap_or_default().to_owned(),
    };
    let live_projects = if w.global.unwrap_or(true) {
        LiveProjects::All
    } else {
        LiveProjects::Keys(
            w.project_mapping_ids
                .iter()
                .flatten()
                .map(|id| projects.key_of(*id))
                .collect(),
        )
    };
    let indexing = aggregate_indexing(w, &settings, &repositories);
    LiveIntegration {
        id,
        service,
        origin,
        owner: owner_of(w, repos),
        auth: AuthMethod::from_wire(w.auth_method.as_deref()),
        display_name: w.display_name.clone().unwrap_or_default(),
        projects: live_projects,
        settings,
        repositories,
        indexing,
        aws_region: w
            .aws_region
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
        unknown: unknown_settings(w),
    }
}

/// The settings `w` does not carry and that plan therefore cannot see: GIJ's documented
/// integration list has no `tagsFilter`, `apiPath`, `apiFilter`, and no documented answer has
/// `refSpecCustom`. The first three are in the single-integration GET, which a planning
/// command reads for the integrations that declare them ([`super::detail`], merged by
/// [`merge_detail`]); `refSpecCustom` stays unknown. A missing boolean or
/// number is still read as GIJ's default: every documented answer carries those (and a missing
/// `prHideFilter` means no filter: GIJ's list example shows it only when set).
pub fn unknown_settings(w: &wire::Integration) -> BTreeSet<Field> {
    [
        (w.tags_filter.is_none(), Field::TagsFilter),
        (w.ref_spec_custom.is_none(), Field::FetchRefspecs),
        (w.api_path.is_none(), Field::ApiPath),
        (w.api_filter.is_none(), Field::ApiFilter),
    ]
    .into_iter()
    .filter_map(|(missing, f)| missing.then_some(f))
    .collect()
}

/// Why a single-integration answer cannot be merged into the state the whole-site read made: it
/// describes another integration than the list did, or none. Either means the site changed
/// between the two reads (or answers wrongly), so the caller reads the site again rather than
/// plan on a mix of two states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetailMismatch {
    /// The integration asked for.
    pub id: u64,
    /// What disagrees, in words (server text escaped).
    pub problem: String,
}

/// Fills the settings the whole-site read could not see ([`LiveIntegration::unknown`]) of
/// integration `id` from its single-integration GET (`detail`; `None`: the site says it does
/// not exist). Only unknown settings are taken, so a value the list did carry is never replaced
/// by one read later; a setting the detail does not carry either stays unknown.
///
/// The detail must describe the integration the list showed: the same id, service and origin
/// when it sends them (a key it leaves out contradicts nothing). Anything else is a
/// [`DetailMismatch`] and `live` is left as it was.
pub fn merge_detail(
    live: &mut LiveState,
    id: u64,
    detail: Option<&wire::Integration>,
) -> Result<(), DetailMismatch> {
    let mismatch = |problem: String| DetailMismatch { id, problem };
    let pos = match live.integrations.binary_search_by_key(&id, |i| i.id) {
        Ok(p) => Some(p),
        Err(_) => live.integrations.iter().position(|i| i.id == id),
    };
    let Some(l) = pos.and_then(|p| live.integrations.get_mut(p)) else {
        return Err(mismatch(format!(
            "integration {id} is not in the integration list that was read"
        )));
    };
    let Some(w) = detail else {
        return Err(mismatch(format!(
            "integration {id} is in the integration list, but its own GET says it does not exist"
        )));
    };
    if let Some(other) = w.id.filter(|other| *other != id) {
        return Err(mismatch(format!(
            "the GET of integration {id} answered integration {other}"
        )));
    }
    if let Some(t) = w
        .integration_type
        .as_deref()
        .filter(|t| !t.trim().is_empty() && Service::from_wire_type(t) != Some(l.service))
    {
        return Err(mismatch(format!(
            "integration {id} is {} in the integration list but {} in its own GET",
            l.service.wire_type(),
            crate::escape::shown(t)
        )));
    }
    if let Some(o) = w
        .origin
        .as_deref()
        .filter(|o| !o.trim().is_empty() && normalize_origin(o) != l.origin)
    {
        return Err(mismatch(format!(
            "integration {id} has origin {} in the integration list but {} in its own GET",
            crate::escape::shown(&l.origin),
            crate::escape::shown(o)
        )));
    }
    for (field, value, slot) in [
        (
            Field::TagsFilter,
            &w.tags_filter,
            &mut l.settings.tags_filter,
        ),
        (Field::ApiPath, &w.api_path, &mut l.settings.api_path),
        (Field::ApiFilter, &w.api_filter, &mut l.settings.api_filter),
    ] {
        if let Some(v) = value.as_deref().filter(|_| l.unknown.contains(&field)) {
            // Trimmed as `settings_from_wire` does: live settings stay in canonical form.
            v.trim().clone_into(slot);
            l.unknown.remove(&field);
        }
    }
    Ok(())
}

/// Reads GIJ's settings fields, filling missing ones with GIJ's own defaults. GIJ's default for
/// `requireUserPat` is `false` (gijctl's config default is `true`, but that is a config choice,
/// not what an integration that omits the field has).
pub fn settings_from_wire(w: &wire::Integration) -> Settings {
    let d = Settings::default();
    normalize_settings(&Settings {
        enabled: !w.disabled.unwrap_or(false),
        require_user_pat: w.require_user_pat.unwrap_or(false),
        smart_commits: w.smart_commits_enabled.unwrap_or(d.smart_commits),
        repository_browser: w.git_viewer_enabled.unwrap_or(d.repository_browser),
        diff_viewing: w.sources_diff_view_enabled.unwrap_or(d.diff_viewing),
        revision_indexing: w.revision_indexing.unwrap_or(d.revision_indexing),
        commit_emails: w.send_commit_emails.unwrap_or(d.commit_emails),
        commit_email_max_age_minutes: w
            .max_mins_to_commit_email
            .and_then(|m| u32::try_from(m).ok())
            .unwrap_or(d.commit_email_max_age_minutes),
        tags_filter: w.tags_filter.clone().unwrap_or_default(),
        pr_hide_filter: w.pr_hide_filter.clone().unwrap_or_default(),
        ssl_verify: !w.disable_ssl_verification.unwrap_or(!d.ssl_verify),
        trust_folder_stat: w.trust_folder_stat.unwrap_or(d.trust_folder_stat),
        fetch_notes: w.ref_spec_notes.unwrap_or(d.fetch_notes),
        fetch_changes: w.ref_spec_changes.unwrap_or(d.fetch_changes),
        fetch_refspecs: split_refspecs(w.ref_spec_custom.as_deref().unwrap_or("")),
        api_path: w.api_path.clone().unwrap_or_default(),
        api_filter: w.api_filter.clone().unwrap_or_default(),
    })
}

/// Splits GIJ's comma-separated `refSpecCustom`.
pub fn split_refspecs(s: &str) -> Vec<String> {
    s.split(',').map(str::to_owned).collect()
}

/// Joins refspecs the way GIJ stores them (for apply's requests).
pub fn join_refspecs(specs: &[String]) -> String {
    specs.join(",")
}

/// [`normalize_settings`], borrowed when the settings already are in canonical form (always
/// for live settings, which [`settings_from_wire`] normalises, and for most declarations): the
/// diff compares every matched integration, and copying both sides' strings to compare them
/// was a dozen allocations per integration.
pub fn normalized_settings(s: &Settings) -> std::borrow::Cow<'_, Settings> {
    let trimmed = |t: &String| t.trim().len() == t.len();
    let canonical = trimmed(&s.tags_filter)
        && trimmed(&s.pr_hide_filter)
        && trimmed(&s.api_path)
        && trimmed(&s.api_filter)
        && s.fetch_refspecs.iter().all(|r| !r.is_empty() && trimmed(r))
        && s.fetch_refspecs.windows(2).all(|w| w[0] < w[1]);
    if canonical {
        std::borrow::Cow::Borrowed(s)
    } else {
        std::borrow::Cow::Owned(normalize_settings(s))
    }
}

/// Puts settings in canonical form for comparison: trimmed strings, refspecs trimmed, sorted,
/// without empties or duplicates. Applied to both sides of every comparison.
pub fn normalize_settings(s: &Settings) -> Settings {
    let mut specs: Vec<String> = s
        .fetch_refspecs
        .iter()
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty())
        .collect();
    specs.sort();
    specs.dedup();
    Settings {
        tags_filter: s.tags_filter.trim().to_owned(),
        pr_hide_filter: s.pr_hide_filter.trim().to_owned(),
        api_path: s.api_path.trim().to_owned(),
        api_filter: s.api_filter.trim().to_owned(),
        fetch_refspecs: specs,
        ..s.clone()
    }
}

fn repository(r: &wire::SiteRepository) -> LiveRepository {
    use wire::RepositoryState as W;
    let state = if r.disabled {
        IndexState::Disabled
    } else {
        match r.state {
            Some(W::Queued) => IndexState::Queued,
            Some(W::Scanning) => IndexState::Scanning,
            Some(W::Updated) => IndexState::Updated,
            Some(W::Error) => IndexState::Error,
            _ if r.last_indexed_date.is_some() => IndexState::Updated,
            _ => IndexState::Queued,
        }
    };
    let percent = r.indexing_percent.unwrap_or(match state {
        IndexState::Updated => 100.0,
        _ => 0.0,
    });
    LiveRepository {
        id: r.id,
        name: r.display_name.to_string(),
        enabled: !r.disabled,
        state,
        percent,
    }
}

/// The integration's aggregate indexing status: the `indexingState` extension when the site
/// sends it, else derived from the repositories' states and `lastIndexedDate`.
fn aggregate_indexing(
    w: &wire::Integration,
    settings: &Settings,
    repos: &[LiveRepository],
) -> IntegrationIndexing {
    if let Some(s) = w.indexing_state.as_deref() {
        match s.to_ascii_uppercase().as_str() {
            "SCANNING" => return IntegrationIndexing::Scanning,
            "INDEXING" => return IntegrationIndexing::Indexing,
            "INDEXED" => return IntegrationIndexing::Indexed,
            "ERROR" => return IntegrationIndexing::Error,
            "DISABLED" => return IntegrationIndexing::Disabled,
            _ => {}
        }
    }
    if !settings.enabled {
        return IntegrationIndexing::Disabled;
    }
    let enabled: Vec<&LiveRepository> = repos.iter().filter(|r| r.enabled).collect();
    if enabled.is_empty() {
        return if w.last_indexed_date.is_some() || !repos.is_empty() {
            IntegrationIndexing::Indexed
        } else {
            IntegrationIndexing::Scanning
        };
    }
    if enabled.iter().any(|r| r.state == IndexState::Error) {
        IntegrationIndexing::Error
    } else if enabled
        .iter()
        .any(|r| matches!(r.state, IndexState::Queued | IndexState::Scanning))
    {
        IntegrationIndexing::Indexing
    } else {
        IntegrationIndexing::Indexed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> LiveSite {
        let integrations: Vec<wire::Integration> = serde_json::from_str(
            r#"[
            {"id": 1, "displayName": "GitHub", "origin": "HTTPS://API.GitHub.com/", "integrationType": "GITHUB",
             "group": "acme", "global": true, "initDate": 1, "lastIndexedDate": 2, "root": "x"},
            {"id": 9, "displayName": "Lab", "origin": "https://gitlab.acme.internal", "integrationType": "GITLAB_SERVER",
             "group": "platform", "global": false, "projectMappingIds": [10001, 10000, 99999], "requireUserPat": true,
             "refSpecCustom": " refs/b/*,refs/a/*,,refs/a/* ", "disabled": false, "authMethod": "OAUTH",
             "indexingState": "indexing"},
            {"id": 12, "displayName": "Odd", "integrationType": "SVN_THING", "group": "x"},
            {"displayName": "no id", "integrationType": "GITHUB"}
        ]"#,
        )
        .unwrap();
        let repositories: Vec<wire::SiteRepository> = serde_json::from_str(
            r#"[
            {"id": 3, "displayName": "web-app", "trackedFolderId": 1, "state": "UPDATED", "commits": 2500},
            {"id": 2, "displayName": "api-gateway", "trackedFolderId": 1, "state": "QUEUED"},
            {"id": 4, "displayName": "legacy", "trackedFolderId": 1, "disabled": true},
            {"id": 10, "displayName": "deploy", "trackedFolderId": 9, "lastIndexedDate": 5},
            {"id": 13, "displayName": "trunk", "trackedFolderId": 12}
        ]"#,
        )
        .unwrap();
        let projects: Vec<wire::Project> = serde_json::from_str(
            r#"[{"id":"10000","key":"OPS","name":"Operations"},{"id":"10001","key":"web","name":"Web"}]"#,
        )
        .unwrap();
        LiveSite {
            server: Default::default(),
            projects,
            integrations,
            repositories,
        }
    }

    #[test]
    fn converts_and_normalises() {
        let live = from_site(&site());
        assert_eq!(
            live.integrations.iter().map(|i| i.id).collect::<Vec<_>>(),
            [1, 9]
        );
        let gh = live.get(1).unwrap();
        assert_eq!(gh.origin, "https://api.github.com");
        assert_eq!(gh.projects, LiveProjects::All);
        assert!(!gh.settings.require_user_pat, "GIJ's default is false");
        assert_eq!(gh.settings.smart_commits, Settings::default().smart_commits);
        assert_eq!(
            gh.repositories
                .iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>(),
            ["api-gateway", "legacy", "web-app"]
        );
        assert_eq!(gh.repositories[1].state, IndexState::Disabled);
        assert_eq!(
            gh.indexing,
            IntegrationIndexing::Indexing,
            "api-gateway queued"
        );
        assert_eq!(live.repo_commits.get(&3), Some(&2500));

        assert_eq!(gh.auth, None, "no authMethod: unknown, not PAT");
        let lab = live.get(9).unwrap();
        assert_eq!(lab.auth, Some(AuthMethod::Oauth));
        assert!(lab.settings.require_user_pat);
        assert_eq!(lab.settings.fetch_refspecs, ["refs/a/*", "refs/b/*"]);
        assert_eq!(
            lab.projects,
            LiveProjects::Keys(["#99999", "OPS", "WEB"].map(String::from).into())
        );
        assert_eq!(
            lab.indexing,
            IntegrationIndexing::Indexing,
            "explicit state wins"
        );
        assert_eq!(lab.repositories[0].state, IndexState::Updated);

        assert_eq!(live.unsupported.len(), 1);
        assert_eq!(live.unsupported[0].repositories, 1);
        assert_eq!(live.warnings.len(), 1);
    }

    #[test]
    fn derives_aggregate_states() {
        let mut s = site();
        s.integrations[0].indexing_state = None;
        s.repositories[1].state = Some(wire::RepositoryState::Error);
        assert_eq!(
            from_site(&s).get(1).unwrap().indexing,
            IntegrationIndexing::Error
        );
        s.repositories[1].state = Some(wire::RepositoryState::Updated);
        assert_eq!(
            from_site(&s).get(1).unwrap().indexing,
            IntegrationIndexing::Indexed
        );
        s.integrations[0].disabled = Some(true);
        assert_eq!(
            from_site(&s).get(1).unwrap().indexing,
            IntegrationIndexing::Disabled
        );
    }

    /// The borrowed fast path agrees with the full normalisation, and borrows exactly when
    /// there is nothing to change.
    #[test]
    fn normalized_settings_borrows_only_canonical_settings() {
        use std::borrow::Cow;
        let canonical = Settings {
            fetch_refspecs: vec!["+refs/a".into(), "+refs/b".into()],
            tags_filter: "v*".into(),
            ..Settings::default()
        };
        assert!(matches!(normalized_settings(&canonical), Cow::Borrowed(_)));
        assert_eq!(normalize_settings(&canonical), canonical);
        for messy in [
            Settings {
                tags_filter: " v* ".into(),
                ..canonical.clone()
            },
            Settings {
                fetch_refspecs: vec!["+refs/b".into(), "+refs/a".into()],
                ..canonical.clone()
            },
            Settings {
                fetch_refspecs: vec!["+refs/a".into(), "+refs/a".into()],
                ..canonical.clone()
            },
            Settings {
                fetch_refspecs: vec![String::new(), "+refs/a".into()],
                ..canonical.clone()
            },
            Settings {
                api_path: "/orgs/x ".into(),
                ..canonical.clone()
            },
        ] {
            let got = normalized_settings(&messy);
            assert!(matches!(got, Cow::Owned(_)), "{messy:?}");
            assert_eq!(*got, normalize_settings(&messy));
        }
    }

    /// Settings an answer leaves out are unknown (the documented list), those it carries,
    /// even empty, are known (the extended list).
    #[test]
    fn missing_filters_and_refspecs_are_unknown() {
        let w = wire::Integration {
            id: Some(1),
            api_path: Some(String::new()),
            ..Default::default()
        };
        assert_eq!(
            unknown_settings(&w),
            [Field::TagsFilter, Field::FetchRefspecs, Field::ApiFilter].into()
        );
        let full = crate::devserver::state::default_settings();
        assert!(unknown_settings(&full).is_empty());
    }

    /// A documented-list integration and the documented single GET of it.
    fn listed_and_detail() -> (LiveState, wire::Integration) {
        let listed = wire::Integration {
            id: Some(7),
            integration_type: Some("GITLAB_SERVER".into()),
            origin: Some("https://gitlab.acme.internal".into()),
            group: Some("platform".into()),
            ..Default::default()
        };
        let live = from_site(&LiveSite {
            integrations: vec![listed.clone()],
            ..Default::default()
        });
        let detail = wire::Integration {
            origin: Some("HTTPS://GitLab.acme.internal/".into()),
            tags_filter: Some(" ^v[0-9]+$ ".into()),
            api_path: Some("/api/v4/groups/platform/projects".into()),
            api_filter: Some(String::new()),
            ..listed
        };
        (live, detail)
    }

    /// The detail fills exactly the settings the list lacked, in canonical form, and takes them
    /// out of `unknown`; refspecs, in no answer, stay unknown.
    #[test]
    fn merge_detail_fills_what_the_list_lacked() {
        let (mut live, detail) = listed_and_detail();
        let before = live.get(7).unwrap().clone();
        assert_eq!(before.unknown.len(), 4);
        merge_detail(&mut live, 7, Some(&detail)).unwrap();
        let after = live.get(7).unwrap();
        assert_eq!(after.settings.tags_filter, "^v[0-9]+$");
        assert_eq!(after.settings.api_path, "/api/v4/groups/platform/projects");
        assert_eq!(after.settings.api_filter, "");
        assert_eq!(after.unknown, [Field::FetchRefspecs].into());
        assert!(matches!(
            normalized_settings(&after.settings),
            std::borrow::Cow::Borrowed(_)
        ));
        // Everything else is the list's.
        assert_eq!(
            LiveIntegration {
                settings: before.settings.clone(),
                unknown: before.unknown.clone(),
                ..after.clone()
            },
            before
        );
        // Every field the merge fills is one plan reads the detail for, and back.
        assert!(
            before
                .unknown
                .difference(&after.unknown)
                .eq(super::super::detail::DETAIL_FIELDS
                    .iter()
                    .collect::<BTreeSet<_>>())
        );
    }

    /// A field the list did carry is kept, and one the detail leaves out stays unknown.
    #[test]
    fn merge_detail_never_replaces_a_listed_value() {
        let (mut live, mut detail) = listed_and_detail();
        let l = &mut live.integrations[0];
        l.unknown.remove(&Field::TagsFilter);
        l.settings.tags_filter = "listed".into();
        detail.api_filter = None;
        merge_detail(&mut live, 7, Some(&detail)).unwrap();
        let l = live.get(7).unwrap();
        assert_eq!(l.settings.tags_filter, "listed");
        assert_eq!(l.unknown, [Field::FetchRefspecs, Field::ApiFilter].into());
    }

    /// An answer about another integration, or none, is refused and changes nothing; keys the
    /// answer leaves out contradict nothing.
    #[test]
    fn merge_detail_refuses_an_answer_that_disagrees_with_the_list() {
        let (live, detail) = listed_and_detail();
        let cases = [
            (
                wire::Integration {
                    id: Some(8),
                    ..detail.clone()
                },
                "answered integration 8",
            ),
            (
                wire::Integration {
                    integration_type: Some("GITHUB".into()),
                    ..detail.clone()
                },
                "GITLAB_SERVER in the integration list but GITHUB",
            ),
            (
                wire::Integration {
                    integration_type: Some("SVN_THING".into()),
                    ..detail.clone()
                },
                "but SVN_THING",
            ),
            (
                wire::Integration {
                    origin: Some("https://gitlab.other.internal\u{202e}".into()),
                    ..detail.clone()
                },
                "but https://gitlab.other.internal",
            ),
        ];
        for (answer, want) in cases {
            let mut l = live.clone();
            let e = merge_detail(&mut l, 7, Some(&answer)).unwrap_err();
            assert_eq!(e.id, 7);
            assert!(e.problem.contains(want), "{e:?} lacks {want:?}");
            assert!(
                !e.problem.contains('\u{202e}'),
                "server text escaped: {e:?}"
            );
            assert_eq!(l, live, "nothing merged");
        }
        let mut l = live.clone();
        let gone = merge_detail(&mut l, 7, None).unwrap_err();
        assert!(gone.problem.contains("does not exist"), "{gone:?}");
        assert!(merge_detail(&mut l, 99, Some(&detail)).is_err());
        assert_eq!(l, live);

        let mut l = live.clone();
        let lean = wire::Integration {
            tags_filter: Some("x".into()),
            ..Default::default()
        };
        merge_detail(&mut l, 7, Some(&lean)).unwrap();
        assert_eq!(l.get(7).unwrap().settings.tags_filter, "x");
    }

    /// An explicit `authMethod` is read, in any case; an absent one is unknown (GIJ's
    /// documented answers), never a PAT by default.
    #[test]
    fn auth_method_is_read_when_present_and_unknown_when_absent() {
        let auth = |v: Option<&str>| {
            let w = wire::Integration {
                id: Some(1),
                integration_type: Some("GITHUB".into()),
                auth_method: v.map(str::to_owned),
                ..Default::default()
            };
            integration(1, Service::Github, &w, &[], &ProjectIndex::default()).auth
        };
        assert_eq!(auth(None), None);
        assert_eq!(auth(Some("PAT")), Some(AuthMethod::Pat));
        assert_eq!(auth(Some("OAUTH")), Some(AuthMethod::Oauth));
        assert_eq!(auth(Some("oauth")), Some(AuthMethod::Oauth));
    }

    #[test]
    fn project_index_resolves_both_ways() {
        let idx = ProjectIndex::new([(10000, "ops".to_owned())]);
        assert_eq!(idx.id_of("Ops"), Some(10000));
        assert_eq!(idx.key_of(10000), "OPS");
        assert_eq!(idx.key_of(5), "#5");
        assert_eq!(idx.ids_of(["OPS", "#5"]), Ok(vec![5, 10000]));
        assert_eq!(idx.ids_of(["NOPE"]), Err("NOPE".to_owned()));
    }
}

#[cfg(test)]
mod owner_tests {
    use super::*;

    #[test]
    fn owner_falls_back_to_the_repositories_shared_group() {
        let w = wire::Integration {
            id: Some(1),
            ..Default::default()
        };
        let r = |g: &str| wire::SiteRepository {
            id: 2,
            group: Some(g.into()),
            ..Default::default()
        };
        let (a, b, c) = (r("acme"), r("ACME"), r("other"));
        assert_eq!(owner_of(&w, &[&a, &b]), "acme");
        assert_eq!(owner_of(&w, &[&a, &c]), "");
        assert_eq!(owner_of(&w, &[]), "");
        let named = wire::Integration {
            group: Some("beta".into()),
            ..w
        };
        assert_eq!(owner_of(&named, &[&a]), "beta");
    }
}
