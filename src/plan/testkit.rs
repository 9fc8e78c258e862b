//! Hand-built desired and live states for tests of plan, render and apply.

use std::collections::BTreeSet;

use super::live::{LiveState, ProjectIndex};
use crate::model::{
    ApplyPolicy, AuthMethod, DesiredIntegration, DesiredState, IndexState, IntegrationIndexing,
    LiveIntegration, LiveProjects, LiveRepository, ProjectKey, ProjectScope, RepoSelector, Service,
    Settings,
};
use crate::secret::SecretRef;

/// A PAT declaration with defaults.
pub fn desired(key: &str, service: Service, owner: &str, file_index: usize) -> DesiredIntegration {
    DesiredIntegration {
        key: key.to_owned(),
        service,
        origin: service
            .default_origin()
            .unwrap_or("https://git.example.internal")
            .to_owned(),
        owner: owner.to_owned(),
        auth: AuthMethod::Pat,
        credential: Some(SecretRef::Env(format!(
            "{}_TOKEN",
            key.to_ascii_uppercase().replace('-', "_")
        ))),
        username: None,
        aws_region: None,
        display_name: format!("{service} · {owner}"),
        repositories: RepoSelector::default(),
        projects: ProjectScope::All,
        settings: Settings::default(),
        order: None,
        file_index,
        pinned_id: None,
        ignore: BTreeSet::new(),
        allow_replace: false,
    }
}

/// Project keys.
pub fn keys(k: &[&str]) -> ProjectScope {
    ProjectScope::Keys(k.iter().map(|k| ProjectKey::parse(k).unwrap()).collect())
}

/// The example site's Jira projects.
pub fn projects() -> ProjectIndex {
    ProjectIndex::new(
        [
            (10000, "OPS"),
            (10001, "WEB"),
            (10002, "API"),
            (10003, "DATA"),
        ]
        .map(|(i, k)| (i, k.to_owned())),
    )
}

/// Indexed repositories with ids from `first_id`.
pub fn repos(first_id: u64, names: &[(&str, bool)]) -> Vec<LiveRepository> {
    let mut v: Vec<LiveRepository> = names
        .iter()
        .enumerate()
        .map(|(i, (n, enabled))| LiveRepository {
            id: first_id + i as u64,
            name: (*n).to_owned(),
            enabled: *enabled,
            state: if *enabled {
                IndexState::Updated
            } else {
                IndexState::Disabled
            },
            percent: if *enabled { 100.0 } else { 0.0 },
        })
        .collect();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}

/// A live integration that matches `d` exactly, with these repositories.
pub fn live_from(
    d: &DesiredIntegration,
    id: u64,
    repositories: Vec<LiveRepository>,
) -> LiveIntegration {
    let m = d.repositories.matcher().unwrap();
    LiveIntegration {
        id,
        service: d.service,
        origin: crate::model::normalize_origin(&d.origin),
        owner: d.owner.clone(),
        auth: Some(d.auth),
        display_name: d.display_name.clone(),
        projects: match &d.projects {
            ProjectScope::All => LiveProjects::All,
            ProjectScope::Keys(k) => LiveProjects::Keys(k.iter().map(|k| k.to_string()).collect()),
        },
        settings: d.settings.clone(),
        repositories: repositories
            .into_iter()
            .map(|mut r| {
                r.enabled = m.is_match(&r.name);
                r.state = if r.enabled {
                    IndexState::Updated
                } else {
                    IndexState::Disabled
                };
                r
            })
            .collect(),
        indexing: IntegrationIndexing::Indexed,
        unknown: Default::default(),
        aws_region: d.aws_region.clone(),
    }
}

/// The quickstart example (see the team brief) plus an OAuth declaration that is missing and an
/// unmanaged live integration: a realistic first plan.
pub fn quickstart() -> (DesiredState, LiveState) {
    let mut gh = desired("acme-github", Service::Github, "acme", 0);
    gh.display_name = "GitHub · acme".into();
    gh.credential = Some(SecretRef::File("tokens/github.token".into()));
    gh.projects = keys(&["OPS", "WEB", "API"]);
    gh.repositories = RepoSelector {
        include: vec!["*".into()],
        exclude: vec!["legacy-*".into()],
    };
    let mut gl = desired("platform-gitlab", Service::GitlabSelfManaged, "platform", 1);
    gl.origin = "https://gitlab.acme.internal".into();
    gl.display_name = "GitLab · platform".into();
    gl.credential = Some(SecretRef::File("tokens/gitlab.token".into()));
    gl.projects = keys(&["OPS"]);
    let mut az = desired("acme-azure", Service::AzureDevops, "acme-corp", 2);
    az.display_name = "Azure DevOps · acme-corp".into();
    az.credential = Some(SecretRef::File("tokens/azure.token".into()));
    az.projects = keys(&["DATA"]);
    let mut mobile = desired("acme-mobile", Service::Github, "acme-mobile", 3);
    mobile.auth = AuthMethod::Oauth;
    mobile.credential = None;
    mobile.display_name = "GitHub · acme-mobile".into();

    let live_gh = LiveIntegration {
        id: 1,
        service: Service::Github,
        origin: "https://api.github.com".into(),
        owner: "acme".into(),
        auth: Some(AuthMethod::Pat),
        display_name: "GitHub".into(),
        projects: LiveProjects::All,
        settings: Settings {
            require_user_pat: false,
            ..Settings::default()
        },
        repositories: repos(
            2,
            &[
                ("api-gateway", true),
                ("web-app", true),
                ("docs", true),
                ("infra", true),
                ("legacy-monolith", true),
            ],
        ),
        indexing: IntegrationIndexing::Indexed,
        unknown: Default::default(),
        aws_region: None,
    };
    let old = LiveIntegration {
        id: 20,
        service: Service::Gitlab,
        origin: "https://gitlab.com".into(),
        owner: "old-team".into(),
        auth: Some(AuthMethod::Pat),
        display_name: "Old team".into(),
        projects: LiveProjects::Keys(["OPS".to_owned()].into()),
        settings: Settings::default(),
        repositories: repos(21, &[("one", true), ("two", false)]),
        indexing: IntegrationIndexing::Indexed,
        unknown: Default::default(),
        aws_region: None,
    };
    let mut live = LiveState {
        integrations: vec![live_gh, old],
        projects: projects(),
        ..LiveState::default()
    };
    for (id, c) in [(2, 4000), (3, 2500), (4, 300), (5, 1200), (6, 9000)] {
        live.repo_commits.insert(id, c);
    }
    (
        DesiredState {
            integrations: vec![gh, gl, az, mobile],
            policy: ApplyPolicy::default(),
        },
        live,
    )
}
