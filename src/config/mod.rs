//! gij.toml: the configuration language (model, parsing with spans, validation, schema, fmt).
//!
//! [`load`] is the one entry point that `plan`, `apply` and the CLI use: it reads the file,
//! collects *every* problem (syntax, types, unknown keys, semantic checks) and either returns
//! the resolved [`DesiredState`] or a [`ConfigErrors`] that renders them all with
//! file:line:column, a source snippet and a hint. Nothing here touches the network or resolves
//! a secret: credentials stay [`crate::secret::SecretRef`]s until a command needs them.

pub mod diagnostic;
pub mod fmt;
pub mod load;
pub mod model;
pub mod schema;
pub mod validate;

use std::path::{Path, PathBuf};

use sha2::Digest as _;

use crate::model::{AuthMethod, DesiredState};
use diagnostic::Problem;

/// A parsed and validated gij.toml.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The file it was read from.
    pub path: PathBuf,
    /// The directory that relative `file:` credential references resolve against.
    pub base_dir: PathBuf,
    /// The resolved desired state.
    pub desired: DesiredState,
    /// The rules of the file's `[policy]` table (empty when it has none).
    pub rules: crate::policy::Rules,
    /// The file's text and spans, so later checks (policy rules) can point at its values.
    pub source: ConfigSource,
    /// SHA-256 of the file's bytes (hex): the config identity a saved plan records.
    pub sha256: String,
}

/// A config file's text (secret-looking values masked) and where each key and value is, kept
/// after loading so that checks made later, against the live site or a plan, can report
/// file:line:column with a snippet like the config's own diagnostics.
#[derive(Debug, Clone, Default)]
pub struct ConfigSource {
    /// The file name shown in diagnostics.
    pub name: String,
    /// The source with secret-looking values masked (same byte offsets as the file).
    pub masked_source: String,
    /// Secret-looking values, scrubbed from any message.
    pub secrets: Vec<String>,
    /// Where every key and value is.
    pub spans: load::Spans,
}

impl ConfigSource {
    /// Where byte `offset` of the file is, for messages: `gij.toml:41:1`.
    pub fn location(&self, offset: usize) -> String {
        diagnostic::location(&self.name, &self.masked_source, offset)
    }
}

impl LoadedConfig {
    /// A one-line summary for `validate`: `gij.toml: valid, 3 integrations (2 pat, 1 oauth)`.
    pub fn summary(&self) -> String {
        let ints = &self.desired.integrations;
        let pat = ints.iter().filter(|i| i.auth == AuthMethod::Pat).count();
        let oauth = ints.len() - pat;
        let noun = if ints.len() == 1 {
            "integration"
        } else {
            "integrations"
        };
        format!(
            "{}: valid, {} {noun} ({pat} pat, {oauth} oauth)",
            self.path.display(),
            ints.len()
        )
    }
}

/// Every problem found in a config file. `Display` renders them all, each with
/// file:line:column, a source snippet and a hint, ready to print to stderr.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{rendered}")]
pub struct ConfigErrors {
    /// The rendered diagnostics, without colour.
    pub rendered: String,
    /// How many errors there are.
    pub count: usize,
    detail: Box<Detail>,
}

/// What [`ConfigErrors::render`] needs besides the problems' count, boxed to keep `Result`s small.
#[derive(Debug, Clone)]
struct Detail {
    problems: Vec<Problem>,
    name: String,
    masked_source: String,
    secrets: Vec<String>,
}

impl ConfigErrors {
    fn new(
        name: String,
        masked_source: String,
        secrets: Vec<String>,
        problems: Vec<Problem>,
    ) -> Self {
        let rendered = diagnostic::render(&problems, &name, &masked_source, &secrets, false);
        ConfigErrors {
            rendered,
            count: problems.len(),
            detail: Box::new(Detail {
                problems,
                name,
                masked_source,
                secrets,
            }),
        }
    }

    /// The problems, sorted by position, for callers that present them differently.
    pub fn problems(&self) -> &[Problem] {
        &self.detail.problems
    }

    /// Renders every problem, with colour when `color` is true; secrets are masked either way.
    pub fn render(&self, color: bool) -> String {
        let d = &self.detail;
        diagnostic::render(&d.problems, &d.name, &d.masked_source, &d.secrets, color)
    }
}

/// Reads, parses and validates a gij.toml. Never touches the network.
pub fn load(path: &Path) -> Result<LoadedConfig, ConfigErrors> {
    let name = path.display().to_string();
    let source = load::read_source(path)
        .map_err(|p| ConfigErrors::new(name.clone(), String::new(), Vec::new(), vec![p]))?;
    let base_dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let (desired, parsed) = load_in(&source, &name, Some(&base_dir))?;
    let rules = crate::policy::table::resolve(parsed.file.policy.as_ref(), &name, &parsed, true);
    Ok(LoadedConfig {
        path: path.to_path_buf(),
        base_dir,
        desired,
        rules,
        source: ConfigSource {
            name,
            masked_source: parsed.masked_source,
            secrets: parsed.secrets,
            spans: parsed.spans,
        },
        sha256: hex::encode(sha2::Sha256::digest(source.as_bytes())),
    })
}

/// Parses and validates gij.toml text into a [`LoadedConfig`] whose base directory is `.`;
/// `name` is the file name shown in diagnostics (tests and callers holding text, not a file).
pub fn load_text(source: &str, name: &str) -> Result<LoadedConfig, ConfigErrors> {
    let (desired, parsed) = load_in(source, name, None)?;
    let rules = crate::policy::table::resolve(parsed.file.policy.as_ref(), name, &parsed, true);
    Ok(LoadedConfig {
        path: PathBuf::from(name),
        base_dir: PathBuf::from("."),
        desired,
        rules,
        source: ConfigSource {
            name: name.to_owned(),
            masked_source: parsed.masked_source,
            secrets: parsed.secrets,
            spans: parsed.spans,
        },
        sha256: hex::encode(sha2::Sha256::digest(source.as_bytes())),
    })
}

/// Parses and validates gij.toml text; `name` is the file name shown in diagnostics.
pub fn load_str(source: &str, name: &str) -> Result<DesiredState, ConfigErrors> {
    load_in(source, name, None).map(|(d, _)| d)
}

/// [`load_str`], plus the checks of `file:` credential targets when the config's directory is
/// known.
fn load_in(
    source: &str,
    name: &str,
    base: Option<&Path>,
) -> Result<(DesiredState, load::Parsed), ConfigErrors> {
    let mut parsed = load::parse(source);
    let mut problems = std::mem::take(&mut parsed.problems);
    if parsed.syntax_broken {
        return Err(ConfigErrors::new(
            name.to_owned(),
            parsed.masked_source,
            parsed.secrets,
            problems,
        ));
    }
    let (desired, more) = validate::validate(&parsed);
    problems.extend(more);
    problems.extend(crate::policy::table::check(
        parsed.file.policy.as_ref(),
        &parsed.spans,
    ));
    if let Some(base) = base {
        problems.extend(validate::check_secret_files(&parsed, base));
    }
    if problems.is_empty() {
        return Ok((desired, parsed));
    }
    problems.sort_by_key(|p| p.span.as_ref().map_or(0, |s| s.start));
    Err(ConfigErrors::new(
        name.to_owned(),
        parsed.masked_source,
        parsed.secrets,
        problems,
    ))
}
