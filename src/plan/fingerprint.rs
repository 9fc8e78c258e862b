//! Stable short hashes that tie a saved plan to what it was computed from.
//!
//! A saved plan is executed later, possibly after the site or the config changed. Each action
//! records a hash of the live fields it was computed from and of the desired integration; apply
//! recomputes both from a fresh read (see [`stale_actions`]) and refuses only the actions whose
//! inputs moved. The hashes are SHA-256 over a canonical JSON form, truncated to 16 hex digits:
//! enough to detect change, short enough to show. Nothing secret is hashed: credentials enter
//! only through the salted fingerprint of their *reference*.

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::live::{LiveState, normalize_settings};
use super::model::{ActionKind, Plan};
use crate::model::{
    AuthMethod, DesiredIntegration, DesiredState, Field, LiveIntegration, LiveProjects,
    ProjectScope, Service, Settings, normalize_origin,
};

/// Hashes a serialisable value with a domain prefix (so equal JSON of different kinds of objects
/// never collide).
///
/// The JSON is written straight into the hasher: the plan checksum covers the whole plan, and
/// building its JSON in a growing buffer first cost a copy of the plan per doubling.
fn hash<T: Serialize>(domain: &str, v: &T) -> String {
    let mut h = Sha256::new();
    h.update(domain.as_bytes());
    h.update([0]);
    // Writing into a hasher cannot fail, and these views serialise without error (string
    // keys only); an error would only shorten the hashed text, as the old empty fallback did.
    let _ = serde_json::to_writer(&mut h, v);
    hex::encode(&h.finalize()[..8])
}

/// Which live fields an action depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveScope {
    /// Identity, auth, display name, settings and projects (settings updates).
    Settings,
    /// The set of repositories and which are enabled (repository actions).
    Repositories,
    /// Identity and auth (credential rotation).
    Credential,
    /// Everything managed (deletes, replaces, manual steps).
    Whole,
}

impl LiveScope {
    /// The scope an action kind depends on; `None` for creations (no live object).
    pub fn of(kind: &ActionKind) -> Option<LiveScope> {
        match kind {
            ActionKind::Create(_) => None,
            ActionKind::Update { .. } => Some(LiveScope::Settings),
            ActionKind::Repositories { .. } => Some(LiveScope::Repositories),
            ActionKind::RotateCredential { .. } => Some(LiveScope::Credential),
            ActionKind::Delete { .. } | ActionKind::Replace { .. } | ActionKind::Manual { .. } => {
                Some(LiveScope::Whole)
            }
        }
    }
}

#[derive(Serialize)]
struct LiveView<'a> {
    id: u64,
    service: Service,
    origin: &'a str,
    owner: String,
    /// `null` when the site does not report it: a stable value, so a plan made on such a site
    /// is not stale on the next read, and distinct from both methods, so a site that starts
    /// reporting one makes the plan stale.
    auth: Option<AuthMethod>,
    #[serde(skip_serializing_if = "Option::is_none")]
    display_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    projects: Option<&'a LiveProjects>,
    #[serde(skip_serializing_if = "Option::is_none")]
    settings: Option<Settings>,
    #[serde(skip_serializing_if = "Option::is_none")]
    repositories: Option<Vec<(u64, &'a str, bool)>>,
}

/// The fingerprint of the live fields in `scope`. Fields GIJ changes by itself (dates, indexing
/// state and progress) are never included, so indexing does not make a plan stale.
pub fn live_fingerprint(live: &LiveIntegration, scope: LiveScope) -> String {
    let settings = matches!(scope, LiveScope::Settings | LiveScope::Whole);
    let repos = matches!(scope, LiveScope::Repositories | LiveScope::Whole);
    let view = LiveView {
        id: live.id,
        service: live.service,
        origin: &live.origin,
        owner: live.owner.to_lowercase(),
        auth: live.auth,
        display_name: settings.then_some(live.display_name.as_str()),
        projects: settings.then_some(&live.projects),
        settings: settings.then(|| normalize_settings(&live.settings)),
        repositories: repos.then(|| {
            live.repositories
                .iter()
                .map(|r| (r.id, r.name.as_str(), r.enabled))
                .collect()
        }),
    };
    hash("gijctl-live-v1", &view)
}

/// The salt of credential reference fingerprints: per integration key, so that two
/// integrations sharing a reference do not reveal it by sharing a fingerprint.
pub fn credential_salt(key: &str) -> String {
    format!("gijctl-credential:{key}")
}

/// The fingerprint of an integration's credential reference (`None` for OAuth).
pub fn credential_fingerprint(d: &DesiredIntegration) -> Option<String> {
    d.credential
        .as_ref()
        .map(|c| c.fingerprint(&credential_salt(&d.key)))
}

#[derive(Serialize)]
struct DesiredView<'a> {
    key: &'a str,
    service: Service,
    origin: String,
    owner: String,
    auth: AuthMethod,
    credential: Option<String>,
    username: Option<&'a str>,
    aws_region: Option<&'a str>,
    display_name: &'a str,
    include: &'a [String],
    exclude: &'a [String],
    projects: Option<Vec<&'a str>>,
    settings: Settings,
    pinned_id: Option<u64>,
    ignore: Vec<Field>,
    allow_replace: bool,
}

/// The fingerprint of a desired integration: everything that decides what apply does to it,
/// including the credential reference's fingerprint, excluding its order in the file.
pub fn desired_fingerprint(d: &DesiredIntegration) -> String {
    let view = DesiredView {
        key: &d.key,
        service: d.service,
        origin: normalize_origin(&d.origin),
        owner: d.owner.to_lowercase(),
        auth: d.auth,
        credential: credential_fingerprint(d),
        username: d.username.as_deref(),
        aws_region: d.aws_region.as_deref(),
        display_name: &d.display_name,
        include: &d.repositories.include,
        exclude: &d.repositories.exclude,
        projects: match &d.projects {
            ProjectScope::All => None,
            ProjectScope::Keys(k) => Some(k.iter().map(|k| k.as_str()).collect()),
        },
        settings: normalize_settings(&d.settings),
        pinned_id: d.pinned_id,
        ignore: d.ignore.iter().copied().collect(),
        allow_replace: d.allow_replace,
    };
    hash("gijctl-desired-v1", &view)
}

/// The checksum of a plan: every field except `meta`, `allowances` (which refer to the
/// checksum) and `checksum` itself.
pub fn plan_checksum(plan: &Plan) -> String {
    #[derive(Serialize)]
    struct Body<'a> {
        format_version: u32,
        actions: &'a [super::model::Action],
        unmanaged: &'a [super::model::UnmanagedIntegration],
        unchanged: &'a super::model::KeyList,
        schedule: &'a super::model::Schedule,
        #[serde(skip_serializing_if = "Option::is_none")]
        scope: Option<&'a super::model::ScopeSummary>,
        #[serde(skip_serializing_if = "Option::is_none")]
        target: Option<&'a super::model::Target>,
    }
    hash(
        "gijctl-plan-v1",
        &Body {
            format_version: plan.format_version,
            actions: &plan.actions,
            unmanaged: &plan.unmanaged,
            unchanged: &plan.unchanged,
            schedule: &plan.schedule,
            scope: plan.scope.as_ref(),
            target: plan.target.as_ref(),
        },
    )
}

/// Binds a plan to the site and config it was made for, and seals it: the checksum covers the
/// target, so an edited target is a checksum mismatch, and every approval recorded afterwards
/// (which holds the checksum) approves this binding only.
pub fn bind(plan: &mut Plan, target: super::model::Target) {
    plan.target = Some(target);
    plan.checksum = plan_checksum(plan);
}

/// Why a saved plan may not run here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetMismatch {
    /// The plan records no target (made by hand or by a test).
    #[error(
        "the saved plan does not say which site and config it was made for; make it again with `gijctl plan --out FILE`"
    )]
    Unbound,
    /// Another site.
    #[error(
        "the saved plan was made against {then}, and this apply runs against {now}; a plan applies only to the site it was made against: make a plan against this site"
    )]
    Site {
        /// The site of the plan.
        then: String,
        /// The site of this run.
        now: String,
    },
    /// Another config file, with other content.
    #[error(
        "the saved plan was made from `{then_path}` (sha256 {then_sha}), and this apply was given `{now_path}` (sha256 {now_sha}); pass `-c {then_path}` or make a plan from `{now_path}`"
    )]
    Config {
        /// The plan's config path.
        then_path: String,
        /// Its hash, shortened.
        then_sha: String,
        /// This run's config path.
        now_path: String,
        /// Its hash, shortened.
        now_sha: String,
    },
}

/// What a saved plan's target says about this run when it may go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetNote {
    /// Same site, same config content.
    Same,
    /// The same content under another path (another checkout, another directory).
    MovedConfig {
        /// The plan's path.
        then: String,
    },
    /// The same config file, edited since the plan was made: actions whose declaration
    /// changed are refused as stale, the others run.
    EditedConfig,
}

/// Checks that a saved plan was made for the site and config of this run (`now`, the target
/// of the fresh plan apply computed). The site must be the same in both halves of its
/// identity; the config must have the same content, or be the same path edited since (whose
/// changed declarations the staleness check then refuses action by action).
pub fn check_target(
    saved: &Plan,
    now: &super::model::Target,
) -> Result<TargetNote, TargetMismatch> {
    let Some(then) = &saved.target else {
        return Err(TargetMismatch::Unbound);
    };
    if then.site != now.site {
        return Err(TargetMismatch::Site {
            then: then.site.describe(),
            now: now.site.describe(),
        });
    }
    let short = |s: &str| s.chars().take(12).collect::<String>();
    match (
        then.config.sha256 == now.config.sha256,
        then.config.path == now.config.path,
    ) {
        (true, true) => Ok(TargetNote::Same),
        (true, false) => Ok(TargetNote::MovedConfig {
            then: then.config.path.clone(),
        }),
        (false, true) => Ok(TargetNote::EditedConfig),
        (false, false) => Err(TargetMismatch::Config {
            then_path: then.config.path.clone(),
            then_sha: short(&then.config.sha256),
            now_path: now.config.path.clone(),
            now_sha: short(&now.config.sha256),
        }),
    }
}

/// An action of a saved plan whose inputs changed since the plan was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleAction {
    /// The action's step.
    pub step: u32,
    /// The action's key.
    pub key: String,
    /// Why it is stale, for the user.
    pub reason: String,
}

/// Checks every action of a saved plan against the current config and a live state read when
/// apply starts (before it changes anything: its own changes would otherwise look like drift).
pub fn stale_actions(plan: &Plan, desired: &DesiredState, live: &LiveState) -> Vec<StaleAction> {
    let mut out = Vec::new();
    for a in &plan.actions {
        let stale = |reason: String| StaleAction {
            step: a.step,
            key: a.key.clone(),
            reason,
        };
        if let Some(want) = &a.desired_fingerprint {
            match desired.integrations.iter().find(|d| d.key == a.key) {
                None => out.push(stale(format!("`{}` is no longer in the config", a.key))),
                Some(d) if &desired_fingerprint(d) != want => out.push(stale(format!(
                    "the config of `{}` changed since the plan was made",
                    a.key
                ))),
                Some(_) => {}
            }
            if out.last().is_some_and(|s| s.step == a.step) {
                continue;
            }
        }
        if let (Some(want), Some(id)) = (&a.live_fingerprint, a.target_id) {
            let scope = LiveScope::of(&a.kind).unwrap_or(LiveScope::Whole);
            match live.get(id) {
                None => out.push(stale(format!("live integration #{id} no longer exists"))),
                Some(l) if &live_fingerprint(l, scope) != want => out.push(stale(format!(
                    "live integration #{id} changed on the site since the plan was made"
                ))),
                Some(_) => {}
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::testkit::{desired, live_from, projects};
    use crate::plan::{PlanOptions, plan};

    /// An auth method the site does not report hashes the same on every read, so a plan made
    /// on such a site is not stale at apply; a site that starts reporting one moves it.
    #[test]
    fn unknown_auth_has_a_stable_fingerprint_of_its_own() {
        let mut d = desired("a", Service::Github, "acme", 0);
        let mut l = live_from(&d, 7, vec![]);
        l.auth = None;
        d.display_name = "Renamed".into();
        let live = LiveState {
            integrations: vec![l.clone()],
            projects: projects(),
            ..LiveState::default()
        };
        let state = DesiredState {
            integrations: vec![d],
            policy: Default::default(),
        };
        let p = plan(&state, &live, &PlanOptions::default()).unwrap();
        assert_eq!(p.actions.len(), 1, "the rename");
        assert!(stale_actions(&p, &state, &live.clone()).is_empty());

        for scope in [
            LiveScope::Settings,
            LiveScope::Repositories,
            LiveScope::Credential,
            LiveScope::Whole,
        ] {
            let unknown = live_fingerprint(&l, scope);
            assert_eq!(unknown, live_fingerprint(&l.clone(), scope));
            for known in [AuthMethod::Pat, AuthMethod::Oauth] {
                let mut k = l.clone();
                k.auth = Some(known);
                assert_ne!(unknown, live_fingerprint(&k, scope), "{scope:?} {known}");
            }
        }
        let mut reported = live.clone();
        reported.integrations[0].auth = Some(AuthMethod::Pat);
        assert_eq!(stale_actions(&p, &state, &reported).len(), 1);
    }
}
