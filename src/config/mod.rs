//! gij.toml: the configuration language (model, parsing with spans, validation, schema, fmt).
//!
//! STUB: the config helper replaces this file; the public signature of [`load`] is the contract
//! that `plan`, `apply` and the CLI use.

use std::path::{Path, PathBuf};

use crate::model::DesiredState;

/// A parsed and validated gij.toml.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The file it was read from.
    pub path: PathBuf,
    /// The resolved desired state.
    pub desired: DesiredState,
}

/// Every problem found in a config file. `Display` renders them all, each with
/// file:line:column, a source snippet and a hint, ready to print to stderr.
#[derive(Debug, thiserror::Error)]
#[error("{rendered}")]
pub struct ConfigErrors {
    /// The rendered diagnostics.
    pub rendered: String,
    /// How many errors there are.
    pub count: usize,
}

/// Reads, parses and validates a gij.toml. Never touches the network.
pub fn load(path: &Path) -> Result<LoadedConfig, ConfigErrors> {
    Err(ConfigErrors {
        rendered: format!("{}: config loading is not implemented yet", path.display()),
        count: 1,
    })
}
