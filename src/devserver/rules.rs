//! GIJ's rules for changing a site: what a create needs per integration type, the credential
//! and project checks, what an update may change, disabling and enabling, reindexing, and the
//! field rules of repository add, update and delete.
//!
//! Each rule is a function over a settled [`SiteState`], a parsed request body and the virtual
//! time, returning what it did or a [`RuleError`]; the HTTP handlers (`routes`) only parse,
//! lock, call a rule and answer (`views` turns a [`RuleError`] into GIJ's JSON error). Kept
//! apart from the handlers so every rule is unit-tested without a server. A rule checks
//! everything before it changes anything, so a refused request leaves the site as it was.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::Profile;
use super::catalog::hash_secret;
use super::indexing;
use super::state::{
    IntegrationRec, RepoRec, SiteState, default_origin, default_settings, merge_settings,
    strip_to_settings,
};
use crate::api::wire;
use crate::model::normalize_origin;

mod error;

pub(super) use error::{CredentialProblem, RuleError};

/// Create and update bodies: the settings plus type and credentials.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct WriteBody {
    #[serde(rename = "type", default)]
    pub ty: Option<String>,
    #[serde(flatten)]
    pub fields: wire::Integration,
    #[serde(default)]
    pub pat: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
}

fn missing(field: &'static str, ty: &str) -> RuleError {
    RuleError::Missing {
        field,
        ty: ty.to_owned(),
    }
}

fn bad_credentials(origin: &str, problem: CredentialProblem) -> RuleError {
    RuleError::Credentials {
        origin: origin.to_owned(),
        problem,
    }
}

/// Which credential an integration type takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cred {
    Pat,
    UserPass,
    PatOrUserPass,
    OauthOnly,
    Unsupported,
}

/// (origin required, credential rule) per GIJ type, from the IntegrationType javadoc.
fn type_rules(ty: &str) -> Option<(bool, Cred)> {
    Some(match ty {
        "GITHUB" => (false, Cred::PatOrUserPass),
        "GITHUB_SERVER" => (true, Cred::Pat),
        "GITLAB" => (false, Cred::Pat),
        "GITLAB_SERVER" => (true, Cred::Pat),
        "GITLAB_SERVER_LEGACY" => (true, Cred::UserPass),
        "AZURE" | "VSTS" => (false, Cred::Pat),
        "AZURE_DEVOPS" | "TFS_SERVER" => (true, Cred::PatOrUserPass),
        "AWS" => (false, Cred::UserPass),
        "GERRIT" => (true, Cred::UserPass),
        "BITBUCKET" => (false, Cred::OauthOnly),
        "BITBUCKET_SERVER" => (true, Cred::PatOrUserPass),
        "FILESPACE" | "PLAIN_GIT" => (true, Cred::Unsupported),
        _ => return None,
    })
}

/// Checks `global`/`projectMappingIds` of a request and normalises them.
fn check_projects(site: &SiteState, f: &mut wire::Integration) -> Result<(), RuleError> {
    let ids = f.project_mapping_ids.clone().unwrap_or_default();
    if f.global == Some(true) && !ids.is_empty() {
        return Err(RuleError::GlobalWithProjects);
    }
    if let Some(bad) = ids.iter().find(|id| !site.project_exists(**id)) {
        return Err(RuleError::UnknownProject(*bad));
    }
    if !ids.is_empty() && f.global.is_none() {
        f.global = Some(false);
    }
    if f.global == Some(true) {
        f.project_mapping_ids = Some(Vec::new());
    }
    Ok(())
}

/// Validates a credential against the catalog; returns its hash.
fn check_credential(
    site: &SiteState,
    ty: &str,
    origin: &str,
    group: Option<&str>,
    secret: &str,
    username: Option<&str>,
) -> Result<String, RuleError> {
    let Some(service) = site.catalog.service(ty, origin) else {
        return Err(bad_credentials(
            origin,
            CredentialProblem::NoService { ty: ty.to_owned() },
        ));
    };
    let h = hash_secret(secret);
    let Some(token) = site.catalog.token(ty, origin, &h, username) else {
        return Err(bad_credentials(origin, CredentialProblem::Refused));
    };
    match group {
        Some(g) => {
            if !token.groups.iter().any(|x| x.eq_ignore_ascii_case(g)) {
                return Err(bad_credentials(
                    origin,
                    CredentialProblem::GroupNotVisible(g.to_owned()),
                ));
            }
            if !service
                .groups
                .iter()
                .any(|x| x.name.eq_ignore_ascii_case(g))
            {
                return Err(bad_credentials(
                    origin,
                    CredentialProblem::NoSuchGroup(g.to_owned()),
                ));
            }
        }
        None if token.groups.is_empty() => {
            return Err(bad_credentials(origin, CredentialProblem::NoGroups));
        }
        None => {}
    }
    Ok(h)
}

/// GIJ's Add New Integration: checks the body against the type's rules, the projects and the
/// credential, then stores the integration, disabled or not, with its discovery scan pending.
/// The documented profile also creates FILESPACE (tracked folder) integrations. Returns the id.
pub(super) fn create_integration(
    site: &mut SiteState,
    mut b: WriteBody,
    profile: Profile,
    now: i64,
) -> Result<u64, RuleError> {
    let ty =
        b.ty.take()
            .or_else(|| b.fields.integration_type.take())
            .map(|t| t.to_ascii_uppercase())
            .ok_or_else(|| missing("type", "(none)"))?;
    let (origin_required, cred) =
        type_rules(&ty).ok_or_else(|| RuleError::UnknownType(ty.clone()))?;
    if b.fields
        .auth_method
        .as_deref()
        .is_some_and(|a| a.eq_ignore_ascii_case("OAUTH"))
        || cred == Cred::OauthOnly
    {
        return Err(RuleError::OauthCreate);
    }
    if profile == Profile::Documented && ty == "FILESPACE" {
        return create_filespace(site, b, now);
    }
    if cred == Cred::Unsupported {
        return Err(RuleError::UnsupportedType(ty));
    }
    let origin = match b.fields.origin.as_deref().filter(|o| !o.trim().is_empty()) {
        Some(o) => normalize_origin(o),
        None if origin_required => return Err(missing("origin", &ty)),
        None => default_origin(&ty, b.fields.aws_region.as_deref())
            .ok_or_else(|| missing("awsRegion", &ty))?,
    };
    if ty == "AWS" && b.fields.aws_region.is_none() {
        return Err(missing("awsRegion", &ty));
    }
    let pat = b.pat.take().filter(|s| !s.is_empty());
    let password = b.password.take().filter(|s| !s.is_empty());
    let username = b.username.take().filter(|s| !s.is_empty());
    let secret = match cred {
        Cred::Pat => pat.ok_or_else(|| missing("pat", &ty))?,
        Cred::UserPass => {
            if username.is_none() {
                return Err(missing("username", &ty));
            }
            password.ok_or_else(|| missing("password", &ty))?
        }
        _ => match (pat, password) {
            (Some(p), _) => p,
            (None, Some(p)) if username.is_some() => p,
            (None, Some(_)) => return Err(missing("username", &ty)),
            (None, None) => return Err(missing("pat", &ty)),
        },
    };
    let group = b.fields.group.take().filter(|g| !g.is_empty());
    let disabled = b.fields.disabled.unwrap_or(false);
    let region = b.fields.aws_region.clone();
    check_projects(site, &mut b.fields)?;
    let h = check_credential(
        site,
        &ty,
        &origin,
        group.as_deref(),
        &secret,
        username.as_deref(),
    )?;
    let mut settings = default_settings();
    let mut given = b.fields;
    strip_to_settings(&mut given);
    merge_settings(&mut settings, &given);
    settings.aws_region = region;
    if settings.display_name.as_deref().is_none_or(str::is_empty) {
        settings.display_name = Some(match &group {
            Some(g) => format!("{g} ({ty})"),
            None => ty.clone(),
        });
    }
    let id = site.alloc_id();
    let end = now + site.scan_ms;
    site.integrations.insert(
        id,
        IntegrationRec {
            id,
            integration_type: ty,
            origin,
            group,
            auth_method: "PAT".to_owned(),
            credential_sha256: Some(h),
            username,
            settings,
            disabled,
            init_date: now,
            scan_done_ms: Some(end),
        },
    );
    site.track_scan(id, end);
    Ok(id)
}

/// A FILESPACE (tracked folder) integration, as the documented profile creates it: `origin`
/// is a folder path (GIJ's example `D:\\tmp\\*`), `folderDepth` 1–5 (default 1), no
/// credential; its repositories are the catalog's FILESPACE service at that origin, if any.
fn create_filespace(site: &mut SiteState, mut b: WriteBody, now: i64) -> Result<u64, RuleError> {
    let origin = b
        .fields
        .origin
        .as_deref()
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .ok_or_else(|| missing("origin", "FILESPACE"))?
        .to_owned();
    if let Some(d) = b.fields.extra.get("folderDepth")
        && !d.as_u64().is_some_and(|d| (1..=5).contains(&d))
    {
        return Err(RuleError::FolderDepth);
    }
    let disabled = b.fields.disabled.unwrap_or(false);
    check_projects(site, &mut b.fields)?;
    let mut settings = default_settings();
    let mut given = b.fields;
    strip_to_settings(&mut given);
    merge_settings(&mut settings, &given);
    if settings.display_name.as_deref().is_none_or(str::is_empty) {
        settings.display_name = Some(origin.clone());
    }
    let id = site.alloc_id();
    let end = now + site.scan_ms;
    site.integrations.insert(
        id,
        IntegrationRec {
            id,
            integration_type: "FILESPACE".to_owned(),
            origin,
            group: None,
            auth_method: "NONE".to_owned(),
            credential_sha256: None,
            username: None,
            settings,
            disabled,
            init_date: now,
            scan_done_ms: Some(end),
        },
    );
    site.track_scan(id, end);
    Ok(id)
}

/// GIJ's Update an Integration: a partial update. Type and authentication method are fixed; a
/// new credential is checked against the (new) origin and group; a move to another origin or
/// group keeps the stored credential only if it sees the new place, and rescans.
pub(super) fn update_integration(
    site: &mut SiteState,
    id: u64,
    mut b: WriteBody,
    now: i64,
) -> Result<(), RuleError> {
    let cur = site
        .integrations
        .get(&id)
        .cloned()
        .ok_or(RuleError::NoIntegration(id))?;
    if let Some(t) = b.ty.take().or_else(|| b.fields.integration_type.take())
        && !t.eq_ignore_ascii_case(&cur.integration_type)
    {
        return Err(RuleError::TypeChange {
            is: cur.integration_type,
            got: t,
        });
    }
    if b.fields
        .auth_method
        .as_deref()
        .is_some_and(|a| !a.eq_ignore_ascii_case(&cur.auth_method))
    {
        return Err(RuleError::AuthMethodChange);
    }
    check_projects(site, &mut b.fields)?;
    let new_origin = b
        .fields
        .origin
        .as_deref()
        .filter(|o| !o.trim().is_empty())
        .map(normalize_origin)
        .unwrap_or_else(|| cur.origin.clone());
    let new_group = match b.fields.group.take() {
        Some(g) if g.is_empty() => None,
        Some(g) => Some(g),
        None => cur.group.clone(),
    };
    let pat = b.pat.take().filter(|s| !s.is_empty());
    let password = b.password.take().filter(|s| !s.is_empty());
    let username = b
        .username
        .take()
        .filter(|s| !s.is_empty())
        .or_else(|| cur.username.clone());
    let new_secret = pat.or(password);
    let moved = new_origin != cur.origin
        || new_group.as_deref().map(str::to_ascii_lowercase)
            != cur.group.as_deref().map(str::to_ascii_lowercase);
    let mut cred_hash = cur.credential_sha256.clone();
    if cur.auth_method == "OAUTH" {
        if new_secret.is_some() {
            return Err(RuleError::OauthCredential);
        }
    } else if let Some(s) = &new_secret {
        cred_hash = Some(check_credential(
            site,
            &cur.integration_type,
            &new_origin,
            new_group.as_deref(),
            s,
            username.as_deref(),
        )?);
    } else if moved {
        // The stored credential must see the new origin/group.
        let visible = cur.credential_sha256.as_deref().and_then(|h| {
            site.catalog
                .token(&cur.integration_type, &new_origin, h, username.as_deref())
        });
        let ok = visible.is_some_and(|t| {
            new_group
                .as_deref()
                .is_none_or(|g| t.groups.iter().any(|x| x.eq_ignore_ascii_case(g)))
        });
        if !ok {
            return Err(bad_credentials(
                &new_origin,
                CredentialProblem::MovedOutOfSight,
            ));
        }
    }
    let disabled = b.fields.disabled;
    let mut given = b.fields;
    let region = given.aws_region.clone();
    strip_to_settings(&mut given);
    let scan_ms = site.scan_ms;
    if let Some(i) = site.integrations.get_mut(&id) {
        merge_settings(&mut i.settings, &given);
        if i.settings.global == Some(true) {
            i.settings.project_mapping_ids = Some(Vec::new());
        }
        if region.is_some() {
            i.settings.aws_region = region;
        }
        i.origin = new_origin;
        i.group = new_group;
        i.credential_sha256 = cred_hash;
        i.username = username;
        if moved {
            i.scan_done_ms = Some(now + scan_ms);
        }
    }
    if moved {
        site.track_scan(id, now + scan_ms);
        indexing::cancel_integration(site, id, now);
    }
    if let Some(d) = disabled {
        apply_disabled(site, id, d, now);
    }
    Ok(())
}

/// GIJ's Remove Integration: the integration and its repositories, their indexing cancelled.
/// GIJ's documented answer for an unknown id speaks of a repository.
pub(super) fn delete_integration(site: &mut SiteState, id: u64, now: i64) -> Result<(), RuleError> {
    if !site.integrations.contains_key(&id) {
        return Err(RuleError::NoRepository(id));
    }
    indexing::cancel_integration(site, id, now);
    site.integrations.remove(&id);
    site.remove_repos_of(id);
    Ok(())
}

/// Disables or enables an integration or a repository (`…/repository/{id}/disable`). Disabling
/// cancels indexing; enabling indexes only what was never indexed or failed, so what was
/// indexed keeps its `lastIndexedDate`.
pub(super) fn set_disabled(
    site: &mut SiteState,
    id: u64,
    disabled: bool,
    now: i64,
) -> Result<(), RuleError> {
    if apply_disabled(site, id, disabled, now) {
        Ok(())
    } else {
        Err(RuleError::NoRepository(id))
    }
}

/// [`set_disabled`] for an id known to exist (an update's `disabled`); false if none does.
fn apply_disabled(site: &mut SiteState, id: u64, disabled: bool, now: i64) -> bool {
    if let Some(i) = site.integrations.get_mut(&id) {
        let changed = i.disabled != disabled;
        i.disabled = disabled;
        if changed {
            if disabled {
                indexing::cancel_integration(site, id, now);
            } else {
                indexing::schedule_pending(site, id, now);
            }
        }
        return true;
    }
    if let Some(r) = site.repositories.get_mut(&id) {
        let parent = r.integration_id;
        let changed = r.disabled != disabled;
        r.disabled = disabled;
        if changed {
            if disabled {
                indexing::cancel(site, id, now);
            } else {
                indexing::schedule_pending(site, parent, now);
            }
        }
        return true;
    }
    false
}

/// Schedules a reindex of `target` (a repository, an integration's repositories, or
/// everything); returns the repositories it covers, in id order per parent.
pub(super) fn start_reindex(
    site: &mut SiteState,
    target: Option<u64>,
    now: i64,
) -> Result<Vec<u64>, RuleError> {
    let mut covered: Vec<u64> = Vec::new();
    let mut by_parent: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new();
    let mut standalone = Vec::new();
    let mut add = |r: &RepoRec| {
        covered.push(r.id);
        if r.integration_id == 0 {
            standalone.push(r.id);
        } else {
            by_parent.entry(r.integration_id).or_default().insert(r.id);
        }
    };
    match target {
        Some(id) if site.integrations.contains_key(&id) => site.repos_of(id).for_each(&mut add),
        Some(id) => match site.repositories.get(&id) {
            Some(r) => add(r),
            None => return Err(RuleError::NoRepository(id)),
        },
        None => site.repositories.values().for_each(&mut add),
    }
    for (parent, ids) in by_parent {
        indexing::schedule_reindex(site, parent, &ids, now);
    }
    for id in standalone {
        indexing::schedule_standalone(site, id, now);
    }
    Ok(covered)
}

/// The JSON type a repository field must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    Str,
    Int,
    Ids,
}

/// Repository settings a repository update (or add) may set, with their JSON types
/// (`DC/update-nested-repository-api-gij-self-managed`: the fields not marked read-only).
const REPO_WRITABLE: &[(&str, Kind)] = &[
    ("displayName", Kind::Str),
    ("disabled", Kind::Bool),
    ("sendCommitEmails", Kind::Bool),
    ("maxMinsToCommitEmail", Kind::Int),
    ("global", Kind::Bool),
    ("projectMappingIds", Kind::Ids),
    ("revisionIndexing", Kind::Bool),
    ("gitViewerEnabled", Kind::Bool),
    ("smartCommitsEnabled", Kind::Bool),
    ("webLinkType", Kind::Str),
    ("viewFormat", Kind::Str),
    ("changesetFormat", Kind::Str),
    ("fileAddedFormat", Kind::Str),
    ("fileModifiedFormat", Kind::Str),
    ("fileDeletedFormat", Kind::Str),
    ("mergeRequestFormat", Kind::Str),
    ("branchLinkFormat", Kind::Str),
    ("tagsFilter", Kind::Str),
    ("sourcesDiffViewEnabled", Kind::Bool),
    ("trustFolderStat", Kind::Bool),
    ("refSpecNotes", Kind::Bool),
    ("refSpecChanges", Kind::Bool),
    ("refSpecCustom", Kind::Str),
    ("prHideFilter", Kind::Str),
];

/// What a standalone repository may also set (`DC/update-existing-repository-gij-self-managed`).
const STANDALONE_WRITABLE: &[(&str, Kind)] = &[
    ("origin", Kind::Str),
    ("mainBranch", Kind::Str),
    ("realRoot", Kind::Str),
    ("absoluteRoot", Kind::Bool),
    ("enableFetches", Kind::Bool),
    ("requireUserPat", Kind::Bool),
    ("disableSslVerification", Kind::Bool),
    ("commitsValidationRequired", Kind::Bool),
];

/// The writable fields of a repository body, type-checked; read-only and unknown fields are
/// ignored, as GIJ documents for nested repositories.
fn repo_fields(
    site: &SiteState,
    body: &Map<String, Value>,
    standalone: bool,
) -> Result<Map<String, Value>, RuleError> {
    let mut out = Map::new();
    let extra: &[(&str, Kind)] = if standalone { STANDALONE_WRITABLE } else { &[] };
    for (k, kind) in REPO_WRITABLE.iter().chain(extra) {
        let Some(v) = body.get(*k) else { continue };
        let ok = match kind {
            Kind::Bool => v.is_boolean(),
            Kind::Str => v.is_string(),
            Kind::Int => v.is_i64(),
            Kind::Ids => v
                .as_array()
                .is_some_and(|a| a.iter().all(serde_json::Value::is_u64)),
        };
        if !ok {
            return Err(RuleError::RepoField((*k).to_owned()));
        }
        out.insert((*k).to_owned(), v.clone());
    }
    let ids: Vec<u64> = out
        .get("projectMappingIds")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    if let Some(bad) = ids.iter().find(|id| !site.project_exists(**id)) {
        return Err(RuleError::UnknownProject(*bad));
    }
    if out.get("global") == Some(&json!(true)) {
        // "If set to true, the projectMappingIds parameter is ignored."
        out.insert("projectMappingIds".into(), json!([]));
    } else if !ids.is_empty() && !out.contains_key("global") {
        out.insert("global".into(), json!(false));
    }
    Ok(out)
}

/// GIJ's Add New Repository (`DC/add-new-repository-gij-self-managed`): a standalone
/// repository named after its origin's last path segment, indexing at once unless disabled.
/// Returns its id.
pub(super) fn add_repository(
    site: &mut SiteState,
    body: &Map<String, Value>,
    now: i64,
) -> Result<u64, RuleError> {
    let origin = body
        .get("origin")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .ok_or_else(|| missing("origin", "repository"))?
        .to_owned();
    let mut fields = repo_fields(site, body, true)?;
    let name = origin
        .trim_end_matches('/')
        .rsplit(['/', '\\', ':'])
        .next()
        .unwrap_or("repository")
        .trim_end_matches(".git")
        .to_owned();
    let id = site.alloc_id();
    fields.insert("origin".into(), json!(origin));
    let disabled = fields
        .remove("disabled")
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    let main_branch = fields
        .remove("mainBranch")
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "master".to_owned());
    if !fields.contains_key("realRoot") {
        fields.insert("realRoot".into(), json!(format!("{id}_{name}")));
    }
    site.insert_repo(RepoRec {
        id,
        integration_id: 0,
        group: String::new(),
        name,
        commits: 0,
        main_branch,
        fail_indexing: false,
        disabled,
        init_date: now,
        last_indexed_date: None,
        failed: false,
        job: None,
        overrides: fields.into_iter().collect(),
    });
    indexing::schedule_standalone(site, id, now);
    Ok(id)
}

/// GIJ's repository update with `id` in the body
/// (`DC/update-existing-repository-gij-self-managed`, `DC/update-nested-repository-api-gij-self-managed`):
/// a partial update of the writable fields (a standalone repository's also its origin and
/// branch); enabling a standalone repository reindexes it. Returns its id.
pub(super) fn update_repository(
    site: &mut SiteState,
    body: &Map<String, Value>,
    now: i64,
) -> Result<u64, RuleError> {
    let id = body
        .get("id")
        .and_then(Value::as_u64)
        .ok_or(RuleError::MissingRepoId)?;
    let Some(r) = site.repositories.get(&id) else {
        return Err(RuleError::NoRepository(id));
    };
    let standalone = r.integration_id == 0;
    let mut fields = repo_fields(site, body, standalone)?;
    let disabled = fields.remove("disabled").and_then(|v| v.as_bool());
    let branch = fields
        .remove("mainBranch")
        .and_then(|v| v.as_str().map(str::to_owned));
    if let Some(r) = site.repositories.get_mut(&id) {
        if let Some(b) = branch {
            r.main_branch = b;
        }
        r.overrides.extend(fields);
    }
    if let Some(d) = disabled {
        apply_disabled(site, id, d, now);
        if standalone && !d {
            indexing::schedule_standalone(site, id, now);
        }
    }
    Ok(id)
}

/// GIJ's Delete Repository (`DC/delete-existing-repository-gij-self-managed`).
pub(super) fn delete_repository(site: &mut SiteState, id: u64, now: i64) -> Result<(), RuleError> {
    if !site.repositories.contains_key(&id) {
        return Err(RuleError::NoRepository(id));
    }
    indexing::cancel(site, id, now);
    site.remove_repo(id);
    Ok(())
}

#[cfg(test)]
mod tests;
