//! The plan document: what apply will do, in order, with estimates and staleness fingerprints.
//!
//! A [`Plan`] is data, not behaviour: it is rendered for humans (text, Markdown), written to
//! disk for a later `gijctl apply PLANFILE`, and published as JSON for automation. Every type
//! here is therefore serde-serialisable, described by a JSON Schema (`schema/plan.schema.json`),
//! and deterministic: collections are sorted vectors or `BTreeMap`s, and the only volatile values
//! (creation time, endpoint) live in [`PlanMeta`], which snapshots redact. A plan never holds a
//! secret value: credentials appear only as salted fingerprints of their *reference*.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{AuthMethod, Field, Service};

/// The plan document format version. Readers refuse any other value, because a plan is an
/// approval to change a site and a misread plan would change it wrongly.
pub const FORMAT_VERSION: u32 = 2;

/// Everything `gijctl plan` computed, in the order apply will execute it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Plan {
    /// Always [`FORMAT_VERSION`]; readers refuse other versions.
    pub format_version: u32,
    /// Volatile context (tool version, time, config path, endpoint); not covered by `checksum`
    /// (the identity a saved plan is bound to is `target`, which is).
    pub meta: PlanMeta,
    /// Counts per kind of change, per integration.
    pub summary: Summary,
    /// The actions, in execution order (`step` 1, 2, ...).
    pub actions: Vec<Action>,
    /// Live integrations the config does not declare and that are not being deleted.
    pub unmanaged: Vec<UnmanagedIntegration>,
    /// Config keys whose integration already matches the config.
    #[schemars(with = "Vec<String>")]
    pub unchanged: KeyList,
    /// Things the reader should know that are not actions (for example skipped live objects).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The indexing schedule apply will follow, with time and API-call estimates.
    pub schedule: Schedule,
    /// A hash over `actions`, `unmanaged`, `unchanged`, `schedule`, `scope` and `target`: ties an
    /// apply to the exact plan that was reviewed.
    pub checksum: String,
    /// Set when the run was narrowed with `--only`/`--exclude`: what was left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<ScopeSummary>,
    /// Policy exceptions approved for this plan (`plan --out FILE --allow RULE`). Each holds
    /// the checksum of the plan it approves, so it cannot approve another plan.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowances: Vec<Allowance>,
    /// Safety limits raised for this plan (`plan --out FILE --max-deletes N`, ...), tied to
    /// its checksum like `allowances`, so the reviewed plan applies without new flags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub limit_approvals: Vec<LimitApproval>,
    /// Every refusal apply would make of this plan (safety limits, policy rules), each with
    /// the flag that approves it. A plan with refusals is shown but never saved.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refusals: Vec<Refusal>,
    /// The site and config the plan was made for: `gijctl apply PLANFILE` refuses to run it
    /// anywhere else. Covered by `checksum`, so it cannot be edited to retarget a plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
    /// Live integrations whose indexing is not done (scanning, indexing, or an indexing
    /// error), site-wide whatever the scope: an empty plan must not read as "done" while they
    /// run (`gijctl status` follows them). Progress changes by the minute and apply re-reads
    /// the site, so it is not covered by `checksum`: a saved plan stays valid while indexing
    /// moves on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indexing: Vec<StillIndexing>,
}

/// Where a plan was made: the site and the config it binds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Target {
    /// The site.
    pub site: SiteIdentity,
    /// The config.
    pub config: ConfigIdentity,
}

/// Which site a plan was made against.
///
/// Both halves matter. The URL alone is not enough: a DNS switch or a reused hostname can put
/// another Jira behind it. What Jira says about itself alone is not enough either: a staging
/// Jira restored from a production backup reports production's base URL and title. A saved
/// plan therefore applies only where both are the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SiteIdentity {
    /// The URL gijctl talked to, normalised (lower-case scheme and host, no trailing slash);
    /// `dev-server:SEED` for an embedded dev-server, whose port changes every run.
    pub endpoint: String,
    /// Jira's configured base URL (`serverInfo.baseUrl`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Jira's application title (`serverInfo.serverTitle`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_title: Option<String>,
}

impl SiteIdentity {
    /// How the site is named in messages: the endpoint, and Jira's title and base URL.
    pub fn describe(&self) -> String {
        let mut s = self.endpoint.clone();
        match (&self.server_title, &self.base_url) {
            (Some(t), Some(b)) => s.push_str(&format!(" (Jira \"{t}\", base URL {b})")),
            (Some(t), None) => s.push_str(&format!(" (Jira \"{t}\")")),
            (None, Some(b)) => s.push_str(&format!(" (Jira base URL {b})")),
            (None, None) => {}
        }
        s
    }
}

/// Which config a plan was made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConfigIdentity {
    /// The path as given to `plan` (`-c`).
    pub path: String,
    /// SHA-256 of the file's bytes, hex.
    pub sha256: String,
}

/// A check apply would refuse the plan on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Refusal {
    /// Which kind of check.
    pub check: RefusalCheck,
    /// The limit or rule (`max-deletes`, `protect-require-user-pat`, ...).
    pub rule: String,
    /// What the plan does that the check refuses, with the numbers.
    pub message: String,
    /// The flag that approves it for this plan; `None` when no flag can (change the config).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approve_with: Option<String>,
    /// Where the refused value is written (`gij.toml:12:20`), when it is in the config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
}

/// The kinds of check behind a [`Refusal`]; apply exits 3 for a safety limit and 10 for a
/// policy rule.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum RefusalCheck {
    /// `[apply] max-deletes`, `max-delete-percent`, `max-update-percent`.
    SafetyLimit,
    /// A `[policy]` rule.
    Policy,
}

/// A safety limit raised for one plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LimitApproval {
    /// Which limit.
    pub limit: LimitFlag,
    /// The value given.
    pub value: u32,
    /// The checksum of the plan it was given for; any other plan ignores it.
    pub plan_checksum: String,
    /// The refusals it approved when the plan was made (for reviewers).
    pub approves: Vec<String>,
}

/// The flags that raise a safety limit for one plan or run.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum LimitFlag {
    /// `--max-deletes N`.
    MaxDeletes,
    /// `--max-delete-percent P`.
    MaxDeletePercent,
    /// `--max-update-percent P`.
    MaxUpdatePercent,
}

impl LimitFlag {
    /// The flag as typed, without its value.
    pub fn flag(self) -> &'static str {
        match self {
            LimitFlag::MaxDeletes => "--max-deletes",
            LimitFlag::MaxDeletePercent => "--max-delete-percent",
            LimitFlag::MaxUpdatePercent => "--max-update-percent",
        }
    }

    /// The `[apply]` key it overrides.
    pub fn key(self) -> &'static str {
        &self.flag()[2..]
    }
}

/// A list of config keys packed into one string, serialised exactly as a `Vec<String>` (a
/// JSON array of strings), so plan files and checksums are the same as with a vector.
///
/// Why not `Vec<String>`: nearly every declaration of a large site is unchanged, so the list
/// held one allocation per integration. At 100,000 integrations those allocations, their
/// frees and the cold reads of the scattered copies were the part of planning that grew
/// faster than the site (`examples/diff_scaling.rs`); here the keys are one sequential buffer.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct KeyList {
    /// The keys, concatenated.
    text: String,
    /// Where each key ends in `text` (key i is `text[ends[i-1]..ends[i]]`).
    ends: Vec<usize>,
}

impl KeyList {
    /// Appends a key.
    pub fn push(&mut self, key: &str) {
        self.text.push_str(key);
        self.ends.push(self.text.len());
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether the list holds no key.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The keys, in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator + '_ {
        (0..self.ends.len()).map(|i| {
            let start = if i == 0 { 0 } else { self.ends[i - 1] };
            &self.text[start..self.ends[i]]
        })
    }
}

impl<'a> FromIterator<&'a str> for KeyList {
    fn from_iter<I: IntoIterator<Item = &'a str>>(keys: I) -> Self {
        let mut list = KeyList::default();
        for k in keys {
            list.push(k);
        }
        list
    }
}

impl std::fmt::Debug for KeyList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Serialize for KeyList {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for KeyList {
    /// Through a `Vec<String>`: one allocation per key, on reading a plan file only, which is
    /// not a hot path.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let keys = Vec::<String>::deserialize(d)?;
        Ok(keys.iter().map(String::as_str).collect())
    }
}

/// What a scoped run (`--only`, `--exclude`) covered and left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScopeSummary {
    /// The `--only` patterns (empty: everything not excluded).
    pub only: Vec<String>,
    /// The `--exclude` patterns.
    pub exclude: Vec<String>,
    /// Integrations (declared or live) in scope.
    pub in_scope: u32,
    /// Integrations left out of this run.
    pub left_out: u32,
    /// Integrations left out that have changes this run does not make.
    pub left_out_with_changes: u32,
}

/// A policy exception approved with `--allow` for one plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Allowance {
    /// The flag given.
    pub allow: crate::policy::Allow,
    /// The checksum of the plan it was given for; any other plan ignores it.
    pub plan_checksum: String,
    /// The violations it approved when the plan was made (for reviewers).
    pub approves: Vec<String>,
}

impl Plan {
    /// Whether the plan has anything to do (manual steps count: the site differs from the
    /// config). Unmanaged integrations alone are not changes.
    pub fn has_changes(&self) -> bool {
        !self.actions.is_empty()
    }

    /// Every action that carries at least one risk, in step order.
    pub fn risky_actions(&self) -> impl Iterator<Item = &Action> {
        self.actions.iter().filter(|a| !a.risks.is_empty())
    }
}

/// Volatile information about how and where a plan was made.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PlanMeta {
    /// The gijctl version that made the plan.
    pub gijctl_version: String,
    /// When the plan was made (RFC 3339, UTC); `None` for plans built in tests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// The config file the plan was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_path: Option<String>,
    /// The GIJ site the plan was computed against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

/// How many integrations each kind of change touches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Summary {
    /// Integrations to create.
    pub create: u32,
    /// Integrations changed in place (settings, projects, repositories, credentials).
    pub update: u32,
    /// Integrations deleted and recreated (their service or identity changed).
    pub replace: u32,
    /// Integrations to delete.
    pub delete: u32,
    /// Integrations that need a step in GIJ's UI.
    pub manual: u32,
    /// Declared integrations that already match.
    pub unchanged: u32,
    /// Live integrations that are not declared and not deleted.
    pub unmanaged: u32,
}

/// When an action runs relative to the others.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Cheap changes that start no indexing (disabled creations included); run first.
    Settings,
    /// Creations that start indexing and every enable (of an integration or of repositories),
    /// in `order`; those that start indexing are gated by `max-parallel-indexing`. A disabled
    /// creation starts nothing and is a settings-phase action.
    Indexing,
    /// Deletions; run last, only when pruning allows them.
    Delete,
}

/// One thing apply will do to one integration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Action {
    /// Position in execution order, from 1.
    pub step: u32,
    /// The config key, or `#<id>` for a live integration the config does not declare.
    pub key: String,
    /// The live integration acted on; `None` for creations.
    pub target_id: Option<u64>,
    /// What to do.
    pub kind: ActionKind,
    /// When it runs.
    pub phase: Phase,
    /// Whether the action starts indexing (and so takes an indexing slot).
    pub starts_indexing: bool,
    /// Estimated initial-indexing time when the action starts indexing.
    pub estimated_indexing_secs: Option<u64>,
    /// Estimated number of API requests, not counting progress polling.
    pub api_calls: u32,
    /// Why a reviewer should look twice.
    pub risks: Vec<Risk>,
    /// Hash of the live fields this action was computed from; apply refuses the action when
    /// the live object no longer has this hash.
    pub live_fingerprint: Option<String>,
    /// Hash of the desired integration (credential reference fingerprint included, never a
    /// value); apply refuses the action when the config changed since.
    pub desired_fingerprint: Option<String>,
}

impl Action {
    /// A one-word verb for listings.
    pub fn verb(&self) -> &'static str {
        self.kind.verb()
    }

    /// The symbol renderers put in front of the action: `+` create, `~` change, `-` delete,
    /// `-/+` replace, `!` manual.
    pub fn symbol(&self) -> &'static str {
        match &self.kind {
            ActionKind::Create(_) => "+",
            ActionKind::Update { .. }
            | ActionKind::Repositories { .. }
            | ActionKind::RotateCredential { .. } => "~",
            ActionKind::Delete { .. } => "-",
            ActionKind::Replace { .. } => "-/+",
            ActionKind::Manual { .. } => "!",
        }
    }
}

/// What an action does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ActionKind {
    /// Create an integration. Which repositories it gets is known only after GIJ discovers
    /// them, so the selector is carried and apply applies it after discovery.
    Create(CreateSpec),
    /// Change settings of an existing integration, field by field.
    Update {
        /// The changes, in [`Field`] order.
        changes: Vec<FieldChange>,
    },
    /// Enable and disable repositories of an existing integration (enabling starts indexing).
    Repositories {
        /// Repositories to enable, sorted by name.
        enable: Vec<RepoRef>,
        /// Repositories to disable, sorted by name.
        disable: Vec<RepoRef>,
    },
    /// Delete an integration (its clones are kept: `deleteFiles=false`).
    Delete {
        /// The integration's display name, so a reviewer sees what goes.
        display_name: String,
        /// The service, as gij.toml names it, or GIJ's wire type when unsupported.
        service: String,
        /// The owner it connects.
        owner: String,
        /// How many repositories it has.
        repositories: usize,
    },
    /// Delete the pinned integration and create it again: its service or identity changed and
    /// GIJ cannot change those in place. Only with `allow-replace`.
    Replace {
        /// What is deleted.
        old: Identity,
        /// How many repositories the deleted integration had.
        old_repositories: usize,
        /// What is created.
        create: CreateSpec,
    },
    /// A change gijctl cannot make through the API; the user must act in GIJ's UI.
    Manual {
        /// Why it is manual.
        reason: String,
        /// What to do, step by step.
        instructions: Vec<String>,
    },
    /// Send the credential again (GIJ never returns credentials, so rotation is only done
    /// when asked with `--rotate`, or when switching an integration from OAuth to a PAT).
    RotateCredential {
        /// The credential to send.
        credential: CredentialNote,
        /// Whether this switches the integration from OAuth to a PAT.
        switches_to_pat: bool,
    },
}

impl ActionKind {
    /// A one-word verb for listings.
    pub fn verb(&self) -> &'static str {
        match self {
            ActionKind::Create(_) => "create",
            ActionKind::Update { .. } => "update",
            ActionKind::Repositories { .. } => "repositories",
            ActionKind::Delete { .. } => "delete",
            ActionKind::Replace { .. } => "replace",
            ActionKind::Manual { .. } => "manual",
            ActionKind::RotateCredential { .. } => "rotate",
        }
    }
}

/// The service, origin and owner that identify an integration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Identity {
    /// The git service.
    pub service: Service,
    /// Normalised origin.
    pub origin: String,
    /// The owner (GIJ `group`).
    pub owner: String,
    /// The display name.
    pub display_name: String,
}

/// Everything apply needs to create an integration, except the credential value, which apply
/// reads from the config's reference at execution time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CreateSpec {
    /// The git service.
    pub service: Service,
    /// Normalised origin.
    pub origin: String,
    /// The owner (GIJ `group`).
    pub owner: String,
    /// The display name.
    pub display_name: String,
    /// PAT or OAuth.
    pub auth: AuthMethod,
    /// Username for password-style services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// AWS region for CodeCommit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_region: Option<String>,
    /// Project associations.
    pub projects: ProjectsView,
    /// Which discovered repositories to keep enabled.
    pub repositories: SelectorView,
    /// Every feature setting, in [`Field`] order.
    pub settings: Vec<SettingValue>,
    /// The credential reference's fingerprint.
    pub credential: CredentialNote,
}

/// One setting and its value, as gij.toml spells it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SettingValue {
    /// The setting.
    pub field: Field,
    /// Its value (bool, integer, string or list of strings).
    pub value: Value,
}

/// One field that changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FieldChange {
    /// The field.
    pub field: Field,
    /// The live value.
    pub old: Value,
    /// The desired value.
    pub new: Value,
    /// For `projects`: keys newly associated (empty otherwise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub added: Vec<String>,
    /// For `projects`: keys no longer associated (empty otherwise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
}

/// Project associations in a plan: `"all"` or a sorted list of keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProjectsView {
    /// Associated with all projects.
    All,
    /// Associated with these keys (sorted; unknown live ids appear as `#<id>`).
    Keys(Vec<String>),
}

impl ProjectsView {
    /// The JSON value used in [`FieldChange`]: `"all"` or `["KEY", ...]`.
    pub fn to_value(&self) -> Value {
        match self {
            ProjectsView::All => Value::String("all".to_owned()),
            ProjectsView::Keys(k) => Value::from(k.clone()),
        }
    }

    /// Parses the value written by [`ProjectsView::to_value`].
    pub fn from_value(v: &Value) -> Option<ProjectsView> {
        match v {
            Value::String(s) if s == "all" => Some(ProjectsView::All),
            Value::Array(items) => items
                .iter()
                .map(|i| i.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .map(ProjectsView::Keys),
            _ => None,
        }
    }
}

/// A repository selector in a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SelectorView {
    /// Names or globs to include.
    pub include: Vec<String>,
    /// Names or globs to exclude.
    pub exclude: Vec<String>,
}

/// A repository named by id and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub struct RepoRef {
    /// GIJ's repository id.
    pub id: u64,
    /// The repository name.
    pub name: String,
}

/// What the plan knows about a credential: never its value, only how it authenticates and a
/// salted fingerprint of its reference (`env:NAME` / `file:PATH`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CredentialNote {
    /// PAT or OAuth.
    pub auth: AuthMethod,
    /// Fingerprint of the credential reference; `None` for OAuth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_fingerprint: Option<String>,
    /// The username sent with it, for password-style services (not secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

/// Why a reviewer should look twice at an action.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Risk {
    /// An integration is deleted.
    Delete,
    /// The authentication method changes (PAT to OAuth or back).
    AuthMethodChange,
    /// Require User PAT is turned off: branches and pull requests would use the shared token.
    RequireUserPatOff,
    /// Project associations are removed: those projects stop seeing the repositories.
    ProjectsRemoved,
    /// The integration is deleted and recreated: history is re-indexed.
    Replace,
    /// The integration becomes visible to all projects.
    AllProjects,
    /// `api-path` or `api-filter` changes: GIJ lists repositories differently on its next scan,
    /// adds the new ones and removes those no longer listed, with their per-repository
    /// settings (GIJ's indexing-queue explainer and Custom API Path pages).
    RepositoryListChange,
}

impl Risk {
    /// The fields a risk is about, so that the runbook puts its warning on the step that
    /// changes them; empty for risks about the integration as a whole.
    pub fn fields(self) -> &'static [Field] {
        match self {
            Risk::RequireUserPatOff => &[Field::RequireUserPat],
            Risk::ProjectsRemoved | Risk::AllProjects => &[Field::Projects],
            Risk::RepositoryListChange => &[Field::ApiPath, Field::ApiFilter],
            Risk::Delete | Risk::AuthMethodChange | Risk::Replace => &[],
        }
    }

    /// A one-line explanation for reviewers: the plan's renderings and the runbook print it.
    pub fn describe(self) -> &'static str {
        match self {
            Risk::Delete => "deletes an integration",
            Risk::AuthMethodChange => "changes the authentication method",
            Risk::RequireUserPatOff => "turns Require User PAT off",
            Risk::ProjectsRemoved => "removes project associations",
            Risk::Replace => "deletes and recreates an integration",
            Risk::AllProjects => "associates the integration with all projects",
            Risk::RepositoryListChange => {
                "changes api-path/api-filter: GIJ's next scan adds and removes repositories"
            }
        }
    }
}

/// A live integration the config does not declare.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UnmanagedIntegration {
    /// GIJ's id.
    pub id: u64,
    /// The service, as gij.toml names it, or GIJ's wire type when gijctl does not support it.
    pub service: String,
    /// Normalised origin.
    pub origin: String,
    /// The owner.
    pub owner: String,
    /// The display name.
    pub display_name: String,
    /// PAT or OAuth; absent when the site does not report it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthMethod>,
    /// How many repositories it has.
    pub repositories: usize,
    /// The config key `gijctl import` would give it.
    pub suggested_key: String,
}

/// The order apply follows for indexing work and what it is expected to cost.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Schedule {
    /// Indexing slots (`max-parallel-indexing`).
    pub max_parallel_indexing: u32,
    /// The per-repository indexing time the estimate assumes when sizes are unknown.
    pub secs_per_repository: u64,
    /// Live integrations already indexing, which hold slots when apply starts.
    pub busy: Vec<BusySlot>,
    /// Each indexing step with its simulated start and end.
    pub timeline: Vec<ScheduledStep>,
    /// Simulated wall time until the last indexing step finishes.
    pub estimated_indexing_secs: u64,
    /// Total estimated API requests, not counting progress polling.
    pub api_calls: u32,
}

/// A live integration indexing before apply starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BusySlot {
    /// GIJ's id.
    pub id: u64,
    /// The config key, or `#<id>`.
    pub key: String,
    /// Estimated remaining time.
    pub remaining_secs: u64,
}

/// A live integration whose indexing is not done when the plan is made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StillIndexing {
    /// GIJ's id.
    pub id: u64,
    /// The config key, or `#<id>` for an integration the config does not declare.
    pub key: String,
    /// The display name.
    pub display_name: String,
    /// Where its indexing is.
    pub progress: IndexingProgress,
}

/// How far one live integration's indexing is, from what the site reports: GIJ's
/// `indexingState`/`indexingPercent` extensions when present, otherwise derived from the
/// documented repository `state` and `lastIndexedDate` (`crate::plan::indexing`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IndexingProgress {
    /// The aggregate state.
    pub state: crate::model::IntegrationIndexing,
    /// Progress over the enabled repositories, 0 to 100, weighted by their estimated indexing
    /// time (by count when sizes are unknown); a repository in progress counts its own percent
    /// only when the site reports one.
    pub percent: f64,
    /// Enabled repositories whose indexing finished (UPDATED).
    pub repositories_done: u32,
    /// Enabled repositories whose indexing failed (ERROR).
    pub repositories_failed: u32,
    /// Enabled repositories (0 while GIJ is still listing them).
    pub repositories_total: u32,
    /// Estimated seconds left, from the plan's model (repository sizes, or the assumed time per
    /// repository); `None` when nothing is indexing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_remaining_secs: Option<u64>,
}

impl IndexingProgress {
    /// Whether GIJ is still working on it (scanning or indexing); an error is not "working".
    pub fn is_running(&self) -> bool {
        matches!(
            self.state,
            crate::model::IntegrationIndexing::Scanning
                | crate::model::IntegrationIndexing::Indexing
        )
    }
}

/// One indexing step in the simulated schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScheduledStep {
    /// The action's step.
    pub step: u32,
    /// The action's key.
    pub key: String,
    /// Simulated start, seconds after the indexing phase begins.
    pub start_secs: u64,
    /// Simulated end.
    pub end_secs: u64,
    /// The slot it occupies (1-based), so renderers can show waves.
    pub slot: u32,
}

#[cfg(test)]
mod tests {
    use super::KeyList;

    #[test]
    fn key_lists_serialise_as_string_arrays() {
        let keys = ["acme", "", "platform-gitlab", "Ünïcode \"quoted\""];
        let list: KeyList = keys.into_iter().collect();
        assert_eq!(list.len(), 4);
        assert_eq!(list.iter().collect::<Vec<_>>(), keys);
        assert_eq!(list.iter().next_back(), Some(keys[3]));
        let json = serde_json::to_string(&list).unwrap();
        assert_eq!(json, serde_json::to_string(&keys).unwrap());
        let back: KeyList = serde_json::from_str(&json).unwrap();
        assert_eq!(back, list);
        assert_eq!(format!("{list:?}"), format!("{keys:?}"));
        let empty: KeyList = serde_json::from_str("[]").unwrap();
        assert!(empty.is_empty());
        assert!(serde_json::from_str::<KeyList>("[1]").is_err());
    }
}
