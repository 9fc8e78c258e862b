//! Planning: compares the desired state (gij.toml) with the live site and lists what apply
//! must do, in order, with estimates. Pure: no I/O, no clock, no network.
//!
//! - [`live`]: wire JSON to a normalised [`LiveState`].
//! - [`diff`]: matching and the diff itself ([`plan()`]).
//! - [`detail`]: which integrations to read one by one for settings the site's list lacks.
//! - [`order`]: phases, indexing order and the time/API-call estimate.
//! - [`model`]: the [`Plan`] document (serde, JSON Schema).
//! - [`fingerprint`]: hashes that make saved plans refuse stale actions.
//! - [`file`]: saving and loading plan files.
//! - [`simulate`]: a pure model of apply, for tests here and in `apply`.
//! - [`import`]: gij.toml text describing a live site (`gijctl import`).
//! - [`scope`]: `--only`/`--exclude`: narrowing a plan to some integrations.
//! - [`keys`]: config keys for live integrations (unmanaged listing and `gijctl import`).
//! - [`indexing`]: where each live integration's indexing is (plan, drift and `gijctl status`).

pub mod detail;
pub mod diff;
pub mod drift;
pub mod fields;
pub mod file;
pub mod fingerprint;
pub mod import;
pub mod indexing;
pub mod keys;
pub mod live;
pub mod model;
pub mod order;
#[cfg(test)]
pub(crate) mod props;
pub mod review;
pub mod scope;
pub mod simulate;
#[cfg(test)]
pub(crate) mod testkit;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

pub use diff::{plan, plan_matched};

/// Hash map of one planning run. foldhash rather than std's SipHash: the keys are short
/// strings read from the config and the site, hashed hundreds of thousands of times per run
/// (SipHash was an eighth of planning 10,000 integrations), and flooding a tool's own run
/// with colliding repository names gains an attacker nothing. Still randomly seeded.
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// Hash set of one planning run (see [`FastMap`]).
pub(crate) type FastSet<T> = std::collections::HashSet<T, foldhash::fast::RandomState>;
pub use detail::detail_reads;
pub use live::{DetailMismatch, LiveState, ProjectIndex, from_site, merge_detail};
pub use model::*;

/// Knobs of one planning run that are not in the config.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlanOptions {
    /// Config keys whose credential must be sent again (`--rotate KEY`): GIJ never returns
    /// credentials, so gijctl cannot tell that one changed unless told.
    pub rotate: BTreeSet<String>,
    /// Overrides `[apply] prune` from the config.
    pub prune: Option<bool>,
    /// Overrides `[apply] max-parallel-indexing` from the config.
    pub max_parallel_indexing: Option<u32>,
    /// The plan's `meta` block (volatile; the caller fills time, config path and endpoint).
    pub meta: PlanMeta,
}

/// A live integration that could match a declaration, shown in ambiguity errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// GIJ's id.
    pub id: u64,
    /// Its display name.
    pub display_name: String,
}

fn list_candidates(c: &[Candidate]) -> String {
    c.iter()
        .map(|c| format!("#{} {:?}", c.id, c.display_name))
        .collect::<Vec<_>>()
        .join(", ")
}

fn list_errors(errs: &[PlanError]) -> String {
    errs.iter()
        .map(|e| format!("- {e}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Why a plan cannot be computed. Every variant says what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// Several live integrations have the declaration's natural key.
    #[error(
        "`{key}` matches {} live integrations: {}; pin one with `id = <ID>` in `[integrations.{key}]`",
        .candidates.len(), list_candidates(.candidates)
    )]
    Ambiguous {
        /// The config key.
        key: String,
        /// The live integrations it matches.
        candidates: Vec<Candidate>,
    },
    /// One live integration is claimed by two declarations.
    #[error(
        "live integration #{id} {display_name:?} is matched by both `{first}` and `{second}`; \
         remove one declaration or pin them to different ids"
    )]
    ClaimedTwice {
        /// The live id.
        id: u64,
        /// Its display name.
        display_name: String,
        /// The first declaration.
        first: String,
        /// The second declaration.
        second: String,
    },
    /// A pinned id does not exist on the site.
    #[error(
        "`{key}` is pinned to live integration #{id}, which does not exist; \
         remove `id` to match by service, host and owner, or fix the id"
    )]
    PinnedMissing {
        /// The config key.
        key: String,
        /// The pinned id.
        id: u64,
    },
    /// A pinned integration has another service, host or owner, and replacing is not allowed.
    #[error(
        "`{key}` is pinned to live integration #{id}, which is {live}, but the config declares \
         {desired}; GIJ cannot change this in place: set `allow-replace = true` to delete and \
         recreate it, or fix the declaration"
    )]
    IdentityChanged {
        /// The config key.
        key: String,
        /// The pinned id.
        id: u64,
        /// What the site has (`service owner at origin`).
        live: String,
        /// What the config declares.
        desired: String,
    },
    /// A declared project key is not a Jira project.
    #[error("`{key}` associates project `{project}`, which Jira does not know{}",
        .suggestion.as_deref().map(|s| format!("; did you mean `{s}`?")).unwrap_or_default())]
    UnknownProject {
        /// The config key.
        key: String,
        /// The unknown project key.
        project: String,
        /// The closest known key.
        suggestion: Option<String>,
    },
    /// A repository pattern does not compile.
    #[error("`{key}` has an invalid repository pattern: {message}")]
    InvalidSelector {
        /// The config key.
        key: String,
        /// The glob error's message.
        message: String,
    },
    /// `--rotate` names a key the config does not declare.
    #[error("`--rotate {key}`: the config declares no integration `{key}`")]
    UnknownRotateKey {
        /// The key given.
        key: String,
    },
    /// Several problems at once.
    #[error("{} problems prevent planning:\n{}", .0.len(), list_errors(.0))]
    Multiple(Vec<PlanError>),
}
