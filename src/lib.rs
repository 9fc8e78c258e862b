//! gijctl: configuration as code for GitKraken's Git Integration for Jira.
//!
//! Architecture map (see ARCHITECTURE.md for the invariants):
//! - [`model`]: resolved domain types shared by every layer (desired and live integrations).
//! - [`duration`]: the one duration grammar of gij.toml and the command line.
//! - [`secret`]: secret references (`env:`/`file:`), unprintable resolved secrets, and the
//!   masking of every resolved value in output ([`secret::redact`]).
//! - [`escape`]: the one escaping of control and bidi characters in server text.
//! - [`config`]: gij.toml parsing, validation with spans, JSON Schema, canonical formatting.
//! - [`api`]: GIJ's wire format, the [`api::GijApi`] trait and the HTTP client.
//! - [`devserver`]: `gijctl dev-server`, a local GIJ site with asynchronous indexing.
//! - [`plan`]: matching, normalisation, diff and ordering; pure.
//! - [`render`]: text, JSON and Markdown renderings of a plan.
//! - [`policy`]: `[policy]` rules checked on every plan, and `--allow` exceptions.
//! - [`apply`]: executes a plan in batches gated by indexing.
//! - [`runbook`]: the plan as a checklist for GIJ's web UI (Cloud, OAuth).
//! - [`status`]: the `gijctl status` document: indexing progress, since when, time left.
//! - [`cli`]: the command line; `main.rs` only calls [`cli::main`].
pub mod api;
pub mod apply;
pub mod cli;
pub mod config;
pub mod devserver;
pub mod duration;
pub mod escape;
pub mod model;
pub mod plan;
pub mod policy;
pub mod render;
pub mod runbook;
pub mod secret;
pub mod status;
