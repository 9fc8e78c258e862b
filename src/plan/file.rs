//! Saved plans (`gijctl plan --out FILE`, executed later by `gijctl apply FILE`).
//!
//! A plan file is the JSON document of [`Plan`], pretty-printed. Reading refuses another
//! `format_version` (a plan is an approval to change a site: a misread one would change it
//! wrongly) and a checksum that does not match the content (a hand-edited plan was not the one
//! reviewed). Plans hold no secret values by construction, so the file is safe to archive.

use std::path::{Path, PathBuf};

use super::fingerprint::plan_checksum;
use super::model::{FORMAT_VERSION, Plan};

/// Why a plan file could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    /// The file could not be read.
    #[error("cannot read plan file `{}`", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file could not be written.
    #[error("cannot write plan file `{}`", .path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The path is not a regular file (`/dev/zero`, a FIFO, a directory): it could never end.
    #[error(
        "`{}` is not a regular file (a device, FIFO or directory); pass a plan file made by \
         `gijctl plan --out FILE`", .path.display()
    )]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// The file is larger than any plan gijctl makes.
    #[error(
        "`{}` is larger than {} MiB, more than any plan gijctl makes (about 1.5 KiB per action); \
         refusing to read it", .path.display(), MAX_PLAN_BYTES >> 20
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The file is not a plan document.
    #[error("`{}` is not a gijctl plan file", .path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// The plan was written by an incompatible gijctl.
    #[error(
        "`{}` has plan format version {found}, this gijctl reads version {FORMAT_VERSION}; \
         make the plan again with this gijctl", .path.display()
    )]
    Version {
        /// The file.
        path: PathBuf,
        /// The version found (`none` when missing).
        found: String,
    },
    /// The content does not match its checksum.
    /// The plan holds text equal to a credential this run resolved (a server string that
    /// echoes one). A saved plan must be exact (its checksum covers every string), so it is
    /// not saved masked; it is not saved at all.
    #[error(
        "not saving the plan to `{}`: it would contain a credential this run read (a string the \
         site returned, such as a display name, holds it); rename it on the site and plan again",
        .path.display()
    )]
    HoldsSecret {
        /// The file not written.
        path: PathBuf,
    },
    #[error(
        "`{}` was modified after it was made (checksum mismatch); make the plan again", .path.display()
    )]
    Checksum {
        /// The file.
        path: PathBuf,
    },
}

/// Largest plan file `gijctl apply PLANFILE` reads: a plan takes about 1.5 KiB per action, so
/// this holds some 150,000 actions. Read through the cap, so a file that grows while it is read
/// is refused too.
pub const MAX_PLAN_BYTES: u64 = 256 * 1024 * 1024;

/// Serialises a plan as the file format (pretty JSON, trailing newline).
pub fn to_string(plan: &Plan) -> String {
    let mut s = serde_json::to_string_pretty(plan).unwrap_or_default();
    s.push('\n');
    s
}

/// Parses a plan file's content; `path` is only used in errors.
pub fn from_str(path: &Path, s: &str) -> Result<Plan, PlanFileError> {
    let value: serde_json::Value =
        serde_json::from_str(s).map_err(|source| PlanFileError::Parse {
            path: path.to_owned(),
            source,
        })?;
    let version = value.get("format_version");
    if version.and_then(serde_json::Value::as_u64) != Some(u64::from(FORMAT_VERSION)) {
        return Err(PlanFileError::Version {
            path: path.to_owned(),
            found: version.map_or_else(|| "none".to_owned(), ToString::to_string),
        });
    }
    let plan: Plan = serde_json::from_value(value).map_err(|source| PlanFileError::Parse {
        path: path.to_owned(),
        source,
    })?;
    if plan_checksum(&plan) != plan.checksum {
        return Err(PlanFileError::Checksum {
            path: path.to_owned(),
        });
    }
    Ok(plan)
}

/// Writes a plan file atomically (a temporary file in the same directory, then a rename), so
/// that an interrupted write never leaves half a plan.
pub fn write(path: &Path, plan: &Plan) -> Result<(), PlanFileError> {
    let err = |source| PlanFileError::Write {
        path: path.to_owned(),
        source,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let text = to_string(plan);
    if crate::secret::redact(&text) != text {
        return Err(PlanFileError::HoldsSecret {
            path: path.to_owned(),
        });
    }
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
    std::io::Write::write_all(&mut tmp, text.as_bytes()).map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

/// Reads and checks a plan file: a regular file of at most [`MAX_PLAN_BYTES`], like the
/// config (`gijctl apply /dev/zero` once read until allocation failed).
pub fn read(path: &Path) -> Result<Plan, PlanFileError> {
    use std::io::Read as _;
    let err = |source| PlanFileError::Read {
        path: path.to_owned(),
        source,
    };
    let meta = fs_err::metadata(path).map_err(err)?;
    if !meta.is_file() {
        return Err(PlanFileError::NotAFile {
            path: path.to_owned(),
        });
    }
    let too_large = || PlanFileError::TooLarge {
        path: path.to_owned(),
    };
    if meta.len() > MAX_PLAN_BYTES {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    fs_err::File::open(path)
        .and_then(|f| f.take(MAX_PLAN_BYTES + 1).read_to_end(&mut bytes))
        .map_err(err)?;
    if bytes.len() as u64 > MAX_PLAN_BYTES {
        return Err(too_large());
    }
    let s = String::from_utf8(bytes).map_err(|e| {
        err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
        ))
    })?;
    from_str(path, &s)
}
