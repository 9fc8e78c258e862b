//! Secret references and resolved secrets.
//!
//! gij.toml never holds a credential, only a [`SecretRef`] (`env:NAME` or `file:PATH`). The value
//! is read only when a command needs it (create, rotation, API token) into a [`Secret`], whose
//! `Debug` and `Display` print `[redacted]` and which implements neither `Serialize` nor `Clone`
//! into a printable form: the only way out is [`Secret::expose`], grep-able at every call site.

use std::fmt;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// Where a secret comes from.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum SecretRef {
    /// An environment variable.
    Env(String),
    /// A file (relative paths resolve against the config file's directory); trailing newline trimmed.
    File(PathBuf),
}

/// Why a reference could not be parsed or resolved. Never contains the secret value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The string is not `env:NAME` or `file:PATH`.
    #[error("`{shown}` is not a secret reference: write `env:NAME` or `file:PATH`")]
    NotAReference {
        /// The offending text, already masked when it looks like a literal token.
        shown: String,
    },
    /// The value looks like a literal token pasted into the config.
    #[error(
        "a literal credential is not allowed in the config: store it in an environment variable \
         and write `env:NAME` (or in a file and write `file:PATH`)"
    )]
    Literal,
    /// The environment variable is not set.
    #[error("environment variable `{0}` is not set (referenced as `env:{0}`)")]
    EnvMissing(String),
    /// The environment variable is set but empty.
    #[error("environment variable `{0}` is empty")]
    EnvEmpty(String),
    /// The environment variable holds several lines or control characters: not one token.
    /// The message names the variable, never the value.
    #[error(
        "environment variable `{0}` does not hold a single token (several lines or control characters)"
    )]
    EnvNotAToken(String),
    /// The file could not be read.
    #[error("cannot read secret file `{path}`")]
    File {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a regular file (a device, a FIFO, a directory).
    #[error("secret file `{0}` is not a regular file")]
    NotRegularFile(PathBuf),
    /// The file is larger than any token could be.
    #[error("secret file `{0}` is larger than 64 KiB; it cannot be a token")]
    FileTooLarge(PathBuf),
    /// The file is empty.
    #[error("secret file `{0}` is empty")]
    FileEmpty(PathBuf),
    /// The file holds more than one token-like line, or control characters: it is not a token
    /// file (e.g. `/etc/passwd` or a private key), and sending it anywhere would leak it.
    #[error("secret file `{0}` does not hold a single token (several lines or control characters)")]
    NotAToken(PathBuf),
}

impl SecretRef {
    /// Parses `env:NAME` or `file:PATH`. Anything else is an error; a string that looks like a
    /// token (long, no spaces, no `:` scheme) is reported as a literal credential.
    pub fn parse(s: &str) -> Result<SecretRef, SecretError> {
        if let Some(name) = s.strip_prefix("env:") {
            let valid = !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit());
            if valid {
                return Ok(SecretRef::Env(name.to_owned()));
            }
            return Err(SecretError::NotAReference {
                shown: s.to_owned(),
            });
        }
        if let Some(path) = s.strip_prefix("file:") {
            if !path.is_empty() {
                return Ok(SecretRef::File(PathBuf::from(path)));
            }
            return Err(SecretError::NotAReference {
                shown: s.to_owned(),
            });
        }
        if looks_like_literal(s) {
            return Err(SecretError::Literal);
        }
        Err(SecretError::NotAReference {
            shown: s.to_owned(),
        })
    }

    /// Reads the secret. `base` is the directory relative `file:` paths resolve against.
    pub fn resolve(&self, base: &Path) -> Result<Secret, SecretError> {
        match self {
            SecretRef::Env(name) => env_secret(name, std::env::var(name)),
            SecretRef::File(p) => {
                let path = if p.is_absolute() {
                    p.clone()
                } else {
                    base.join(p)
                };
                let meta = std::fs::metadata(&path).map_err(|source| SecretError::File {
                    path: path.clone(),
                    source,
                })?;
                if !meta.is_file() {
                    return Err(SecretError::NotRegularFile(path));
                }
                if meta.len() > 64 * 1024 {
                    return Err(SecretError::FileTooLarge(path));
                }
                // Check the opened handle again and read through a cap: the path may have been
                // swapped for a device or a bigger file since `metadata`.
                let io = |source| SecretError::File {
                    path: path.clone(),
                    source,
                };
                let file = std::fs::File::open(&path).map_err(io)?;
                if !file.metadata().map_err(io)?.is_file() {
                    return Err(SecretError::NotRegularFile(path));
                }
                let mut bytes = Vec::new();
                {
                    use std::io::Read as _;
                    file.take(64 * 1024 + 1)
                        .read_to_end(&mut bytes)
                        .map_err(io)?;
                }
                if bytes.len() > 64 * 1024 {
                    return Err(SecretError::FileTooLarge(path));
                }
                let Ok(v) = String::from_utf8(bytes) else {
                    return Err(SecretError::NotAToken(path));
                };
                let v = v.trim();
                if v.is_empty() {
                    return Err(SecretError::FileEmpty(path));
                }
                if v.chars().any(char::is_control) {
                    return Err(SecretError::NotAToken(path));
                }
                Ok(Secret::new(v.to_owned()))
            }
        }
    }

    /// A short salted fingerprint of the *reference* (not the value), so that a plan can show
    /// that a credential reference changed without reading or revealing anything.
    pub fn fingerprint(&self, salt: &str) -> String {
        let mut h = Sha256::new();
        h.update(salt.as_bytes());
        h.update([0]);
        h.update(self.to_string().as_bytes());
        hex::encode(&h.finalize()[..4])
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env(n) => write!(f, "env:{n}"),
            SecretRef::File(p) => write!(f, "file:{}", p.display()),
        }
    }
}

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretRef({self})")
    }
}

/// The prefixes of well-known token formats (GitHub classic, OAuth, user-to-server,
/// server-to-server and refresh tokens, fine-grained PATs, GitLab PATs, Slack bot tokens,
/// Atlassian API tokens). A string starting with one is a token wherever it is written, so
/// config diagnostics mask it anywhere in a snippet or message. AWS access key ids (`AKIA`)
/// are not here: they are identifiers that gij.toml holds legitimately (`username`), and only
/// a credential value starting with one is refused ([`SecretRef::parse`]).
pub const TOKEN_PREFIXES: [&str; 9] = [
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "glpat-",
    "xoxb-",
    "ATATT",
];

/// The secret of `env:NAME` from the variable's value as read. The same rule as a token file:
/// a value of several lines (a pasted key file, `$(cat some.env)`) or with control characters
/// is not one token, and sending it as one would leak it to the git service.
fn env_secret(
    name: &str,
    value: Result<String, std::env::VarError>,
) -> Result<Secret, SecretError> {
    match value {
        Ok(v) if v.trim().is_empty() => Err(SecretError::EnvEmpty(name.to_owned())),
        Ok(v) if v.trim().chars().any(char::is_control) => {
            Err(SecretError::EnvNotAToken(name.to_owned()))
        }
        Ok(v) => Ok(Secret::new(v.trim().to_owned())),
        Err(_) => Err(SecretError::EnvMissing(name.to_owned())),
    }
}

/// Whether a string looks like a pasted token rather than a reference or a typo'd reference.
fn looks_like_literal(s: &str) -> bool {
    if TOKEN_PREFIXES.iter().any(|p| s.starts_with(p)) || s.starts_with("AKIA") {
        return true;
    }
    s.len() >= 16 && !s.contains(char::is_whitespace) && !s.contains(':')
}

/// A resolved secret value. It cannot be printed, serialized or logged by accident.
pub struct Secret(SecretString);

impl Secret {
    /// Wraps a value.
    pub fn new(v: String) -> Secret {
        Secret(SecretString::from(v))
    }

    /// Returns the value, for the one place that must send it (an HTTP header or request body).
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl Clone for Secret {
    fn clone(&self) -> Self {
        Secret::new(self.expose().to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_references() {
        assert_eq!(
            SecretRef::parse("env:GH_TOKEN").unwrap(),
            SecretRef::Env("GH_TOKEN".into())
        );
        assert_eq!(
            SecretRef::parse("file:tok.txt").unwrap(),
            SecretRef::File("tok.txt".into())
        );
        assert!(matches!(
            SecretRef::parse("ghp_abcdefghijklmnop"),
            Err(SecretError::Literal)
        ));
        assert!(matches!(
            SecretRef::parse("env:"),
            Err(SecretError::NotAReference { .. })
        ));
        assert!(matches!(
            SecretRef::parse("vault:x"),
            Err(SecretError::NotAReference { .. })
        ));
    }

    #[test]
    fn env_values_of_several_lines_or_with_control_characters_are_refused() {
        let name = "GH_TOKEN";
        for (value, ok) in [
            ("tok-SECRETVALUE\n", true),
            ("  tok-SECRETVALUE  ", true),
            ("tok-SECRETVALUE\nsecond-line", false),
            ("tok\u{1b}[2J", false),
            ("tok\0x", false),
            ("tok\r\nx", false),
        ] {
            let r = env_secret(name, Ok(value.to_owned()));
            assert_eq!(r.is_ok(), ok, "{value:?}");
            if let Err(e) = r {
                assert!(matches!(e, SecretError::EnvNotAToken(_)), "{e}");
                let msg = e.to_string();
                assert!(msg.contains(name) && !msg.contains("SECRETVALUE"), "{msg}");
            }
        }
    }

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("ghp_supersecret".into());
        assert_eq!(format!("{s:?} {s}"), "[redacted] [redacted]");
    }

    #[test]
    fn fingerprint_depends_on_reference_and_salt() {
        let a = SecretRef::Env("A".into());
        let b = SecretRef::Env("B".into());
        assert_ne!(a.fingerprint("x"), b.fingerprint("x"));
        assert_ne!(a.fingerprint("x"), a.fingerprint("y"));
        assert_eq!(a.fingerprint("x").len(), 8);
    }
}
