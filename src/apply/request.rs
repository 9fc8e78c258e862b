//! Builds GIJ request bodies from desired integrations.
//!
//! Kept separate from the executor so the mapping from gij.toml settings to GIJ's wire fields is
//! one pure, tested function, shared by create and update.

use std::collections::BTreeMap;

use crate::api::wire;
use crate::model::{DesiredIntegration, Field, ProjectScope, Settings};
use crate::secret::Secret;

/// Why a request could not be built.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// A project key has no id on the site.
    #[error("integration `{key}`: Jira project `{project}` does not exist on the site")]
    UnknownProject {
        /// Integration key.
        key: String,
        /// The project key.
        project: String,
    },
}

/// Writes every settings field of `s` into `out`, except those in `ignore`.
pub fn settings_to_wire(
    s: &Settings,
    ignore: &std::collections::BTreeSet<Field>,
    out: &mut wire::Integration,
) {
    let keep = |f: Field| !ignore.contains(&f);
    if keep(Field::RequireUserPat) {
        out.require_user_pat = Some(s.require_user_pat);
    }
    if keep(Field::SmartCommits) {
        out.smart_commits_enabled = Some(s.smart_commits);
    }
    if keep(Field::RepositoryBrowser) {
        out.git_viewer_enabled = Some(s.repository_browser);
    }
    if keep(Field::DiffViewing) {
        out.sources_diff_view_enabled = Some(s.diff_viewing);
    }
    if keep(Field::RevisionIndexing) {
        out.revision_indexing = Some(s.revision_indexing);
    }
    if keep(Field::CommitEmails) {
        out.send_commit_emails = Some(s.commit_emails);
    }
    if keep(Field::CommitEmailMaxAgeMinutes) {
        out.max_mins_to_commit_email = Some(i64::from(s.commit_email_max_age_minutes));
    }
    if keep(Field::TagsFilter) {
        out.tags_filter = Some(s.tags_filter.clone());
    }
    if keep(Field::PrHideFilter) {
        out.pr_hide_filter = Some(s.pr_hide_filter.clone());
    }
    if keep(Field::SslVerify) {
        out.disable_ssl_verification = Some(!s.ssl_verify);
    }
    if keep(Field::TrustFolderStat) {
        out.trust_folder_stat = Some(s.trust_folder_stat);
    }
    if keep(Field::FetchNotes) {
        out.ref_spec_notes = Some(s.fetch_notes);
    }
    if keep(Field::FetchChanges) {
        out.ref_spec_changes = Some(s.fetch_changes);
    }
    if keep(Field::FetchRefspecs) {
        out.ref_spec_custom = Some(s.fetch_refspecs.join(","));
    }
    if keep(Field::ApiPath) {
        out.api_path = Some(s.api_path.clone());
    }
    if keep(Field::ApiFilter) {
        out.api_filter = Some(s.api_filter.clone());
    }
}

/// Writes the project associations: `global: true` alone, or `global: false` with the ids
/// (GIJ rejects a `projectMappingIds` list sent together with `global: true`).
pub fn projects_to_wire(
    d: &DesiredIntegration,
    project_ids: &BTreeMap<String, u64>,
    out: &mut wire::Integration,
) -> Result<(), RequestError> {
    match &d.projects {
        ProjectScope::All => {
            out.global = Some(true);
            out.project_mapping_ids = None;
        }
        ProjectScope::Keys(keys) => {
            let mut ids = Vec::with_capacity(keys.len());
            for k in keys {
                let id =
                    project_ids
                        .get(k.as_str())
                        .ok_or_else(|| RequestError::UnknownProject {
                            key: d.key.clone(),
                            project: k.to_string(),
                        })?;
                ids.push(*id);
            }
            ids.sort_unstable();
            out.global = Some(false);
            out.project_mapping_ids = Some(ids);
        }
    }
    Ok(())
}

/// The create body for `d`. `start_disabled` creates it disabled so that unwanted repositories
/// can be disabled before initial indexing starts.
pub fn create_request(
    d: &DesiredIntegration,
    project_ids: &BTreeMap<String, u64>,
    credential: Option<Secret>,
    start_disabled: bool,
) -> Result<wire::IntegrationRequest, RequestError> {
    let mut fields = wire::Integration {
        display_name: Some(d.display_name.clone()),
        origin: Some(d.origin.clone()),
        group: Some(d.owner.clone()),
        auth_method: Some(d.auth.wire_name().to_owned()),
        aws_region: d.aws_region.clone(),
        disabled: Some(start_disabled || !d.settings.enabled),
        ..Default::default()
    };
    settings_to_wire(&d.settings, &Default::default(), &mut fields);
    projects_to_wire(d, project_ids, &mut fields)?;
    let (pat, password) = if d.service.requires_username() {
        (None, credential)
    } else {
        (credential, None)
    };
    Ok(wire::IntegrationRequest {
        integration_type: Some(d.service.wire_type().to_owned()),
        fields,
        pat,
        username: d.username.clone(),
        password,
    })
}

/// The update body for the managed fields of `d`: display name, settings and projects, minus
/// the fields the user ignores. `credential` is set only for an explicit rotation.
pub fn update_request(
    d: &DesiredIntegration,
    project_ids: &BTreeMap<String, u64>,
    credential: Option<Secret>,
) -> Result<wire::IntegrationRequest, RequestError> {
    let mut fields = wire::Integration::default();
    if !d.ignore.contains(&Field::DisplayName) {
        fields.display_name = Some(d.display_name.clone());
    }
    settings_to_wire(&d.settings, &d.ignore, &mut fields);
    if !d.ignore.contains(&Field::Projects) {
        projects_to_wire(d, project_ids, &mut fields)?;
    }
    let (pat, password) = if d.service.requires_username() {
        (None, credential)
    } else {
        (credential, None)
    };
    let username = if password.is_some() {
        d.username.clone()
    } else {
        None
    };
    Ok(wire::IntegrationRequest {
        integration_type: None,
        fields,
        pat,
        username,
        password,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;

    fn desired() -> DesiredIntegration {
        DesiredIntegration {
            key: "acme-github".into(),
            service: Service::Github,
            origin: "https://api.github.com".into(),
            owner: "acme".into(),
            auth: AuthMethod::Pat,
            credential: None,
            username: None,
            aws_region: None,
            display_name: "GitHub · acme".into(),
            repositories: RepoSelector::default(),
            projects: ProjectScope::Keys(
                ["OPS", "WEB"]
                    .iter()
                    .map(|k| ProjectKey::parse(k).unwrap())
                    .collect(),
            ),
            settings: Settings::default(),
            order: None,
            file_index: 0,
            pinned_id: None,
            ignore: Default::default(),
            allow_replace: false,
        }
    }

    fn ids() -> BTreeMap<String, u64> {
        [("OPS".to_owned(), 10000), ("WEB".to_owned(), 10001)]
            .into_iter()
            .collect()
    }

    #[test]
    fn create_body_carries_type_settings_and_project_ids() {
        let r = create_request(&desired(), &ids(), Some(Secret::new("tok".into())), true).unwrap();
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["type"], "GITHUB");
        assert_eq!(json["disabled"], true);
        assert_eq!(json["requireUserPat"], true);
        assert_eq!(json["global"], false);
        assert_eq!(json["projectMappingIds"], serde_json::json!([10000, 10001]));
        assert_eq!(json["pat"], "tok");
        assert!(json.get("password").is_none());
    }

    #[test]
    fn update_body_skips_ignored_fields_and_type() {
        let mut d = desired();
        d.ignore.insert(Field::SmartCommits);
        d.ignore.insert(Field::Projects);
        let json = serde_json::to_value(update_request(&d, &ids(), None).unwrap()).unwrap();
        assert!(json.get("type").is_none());
        assert!(json.get("smartCommitsEnabled").is_none());
        assert!(json.get("global").is_none());
        assert!(json.get("pat").is_none());
        assert_eq!(json["displayName"], "GitHub · acme");
    }

    #[test]
    fn unknown_project_is_an_error() {
        let mut d = desired();
        d.projects = ProjectScope::Keys([ProjectKey::parse("NOPE").unwrap()].into_iter().collect());
        assert!(matches!(
            create_request(&d, &ids(), None, false),
            Err(RequestError::UnknownProject { .. })
        ));
    }

    #[test]
    fn password_services_send_username_and_password() {
        let mut d = desired();
        d.service = Service::Gerrit;
        d.username = Some("svc".into());
        let json = serde_json::to_value(
            create_request(&d, &ids(), Some(Secret::new("pw".into())), false).unwrap(),
        )
        .unwrap();
        assert_eq!(json["password"], "pw");
        assert_eq!(json["username"], "svc");
        assert!(json.get("pat").is_none());
    }
}
