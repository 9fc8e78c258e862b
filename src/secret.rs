//! Secret references and resolved secrets.
//!
//! gij.toml never holds a credential, only a [`SecretRef`] (`env:NAME` or `file:PATH`). The value
//! is read only when a command needs it (create, rotation, API token) into a [`Secret`], whose
//! `Debug` and `Display` print `[redacted]` and which implements neither `Serialize` nor `Clone`
//! into a printable form: the only way out is [`Secret::expose`], grep-able at every call site.
//!
//! `Secret`'s own formatting only protects the value while it is a `Secret`. Once it is in a
//! request body, a server can send it back (a 422 quoting the PAT, a proxy page echoing the
//! `Authorization` header, a display name someone set to a token, a decode error quoting a
//! field): that text is an ordinary `String`. So every value that becomes a `Secret` is also
//! registered in a process-wide list ([`redact`]), and the few choke points where text enters
//! an error or leaves the process (API errors built from server answers, error chains, the
//! error report, apply's events, the log writer, stdout renderings, plan files) mask every
//! registered value. See docs/security.md, "What is masked".

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use aho_corasick::{AhoCorasick, MatchKind};

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
    /// Wraps a value and registers it for [`redact`], so that the value is masked in any text
    /// gijctl prints or writes for the rest of the process, whoever echoes it.
    pub fn new(v: String) -> Secret {
        register(&v);
        Secret(SecretString::from(v))
    }

    /// Returns the value, for the one place that must send it (an HTTP header or request body).
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl Clone for Secret {
    fn clone(&self) -> Self {
        // Already registered by `new`.
        Secret(SecretString::from(self.expose().to_owned()))
    }
}

/// What a masked value is replaced with, everywhere.
pub const REDACTED: &str = "[redacted]";

/// Values shorter than this are not registered: masking every `main` or `1234` in the output
/// would make it unreadable and would itself reveal the value. Every token format GIJ's
/// services issue (GitHub, GitLab, Bitbucket, Azure DevOps, AWS, Jira) is far longer; a
/// password under 8 characters is not masked (docs/security.md says so).
pub const MIN_REDACTED_LEN: usize = 8;

/// The registered values and the matcher built from them. The matcher is rebuilt lazily, on
/// the first [`redact`] after a registration: apply resolves every credential before its first
/// write, so a run builds it about once, however many credentials it reads.
#[derive(Default)]
struct Registry {
    values: std::collections::BTreeSet<String>,
    matcher: Option<Arc<AhoCorasick>>,
}

static REGISTRY: RwLock<Registry> = RwLock::new(Registry {
    values: std::collections::BTreeSet::new(),
    matcher: None,
});

/// Registers a credential value (and the forms a server is likely to echo it in: JSON-escaped,
/// URL-encoded, base64) so that [`redact`] masks it. [`Secret::new`] calls this; call it
/// directly only for a value that is a credential but never becomes a `Secret`.
pub fn register(value: &str) {
    let value = value.trim();
    if value.chars().count() < MIN_REDACTED_LEN {
        return;
    }
    let mut forms = vec![value.to_owned()];
    // A server quoting a request body quotes it JSON-escaped; a proxy logging a URL or a form
    // body has it percent-encoded; a basic-auth or debug dump has it in base64 (the padding is
    // left out so a value inside a longer base64 text at the same offset still matches).
    if let Ok(json) = serde_json::to_string(value) {
        forms.push(json[1..json.len() - 1].to_owned());
    }
    forms.push(url::form_urlencoded::byte_serialize(value.as_bytes()).collect());
    forms.push(base64(value.as_bytes()).trim_end_matches('=').to_owned());
    let mut reg = REGISTRY.write().unwrap_or_else(|e| e.into_inner());
    let before = reg.values.len();
    reg.values
        .extend(forms.into_iter().filter(|f| f.len() >= MIN_REDACTED_LEN));
    if reg.values.len() != before {
        reg.matcher = None;
    }
}

/// Masks every registered credential value in `text` with [`REDACTED`]. Borrows when nothing
/// matches (the common case), so it is cheap enough for every message and output; it is not
/// meant for every field of a whole-site read.
pub fn redact(text: &str) -> Cow<'_, str> {
    let matcher = {
        let reg = REGISTRY.read().unwrap_or_else(|e| e.into_inner());
        if reg.values.is_empty() {
            return Cow::Borrowed(text);
        }
        reg.matcher.clone()
    };
    let matcher = match matcher {
        Some(m) => m,
        None => {
            let mut reg = REGISTRY.write().unwrap_or_else(|e| e.into_inner());
            if reg.matcher.is_none() {
                // Leftmost-longest: a value that contains another registered value is masked
                // whole rather than leaving its remainder visible.
                let built = AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(reg.values.iter());
                match built {
                    Ok(m) => reg.matcher = Some(Arc::new(m)),
                    // Only a matcher too large to build fails; masking by hand stays correct.
                    Err(_) => {
                        let mut out = text.to_owned();
                        for v in reg.values.iter().rev() {
                            out = out.replace(v.as_str(), REDACTED);
                        }
                        return Cow::Owned(out);
                    }
                }
            }
            reg.matcher
                .clone()
                .unwrap_or_else(|| unreachable!("just built"))
        }
    };
    if !matcher.is_match(text) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    matcher.replace_all_with(text, &mut out, |_, _, dst| {
        dst.push_str(REDACTED);
        true
    });
    Cow::Owned(out)
}

/// Standard base64 with padding (RFC 4648), for [`register`]'s variants; too small a need for
/// a dependency.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> shift) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
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
    fn registered_values_and_their_encodings_are_masked() {
        let v = "regtest-\"q\" w+/=-7c1e";
        let _s = Secret::new(v.into());
        let json = serde_json::to_string(v).unwrap();
        let url: String = url::form_urlencoded::byte_serialize(v.as_bytes()).collect();
        let b64 = base64(v.as_bytes());
        for echoed in [v.to_owned(), json, url, b64] {
            let text = format!("the server said <{echoed}> twice: {echoed}");
            let masked = redact(&text);
            assert!(!masked.contains(&echoed), "{masked}");
            assert_eq!(masked.matches(REDACTED).count(), 2, "{masked}");
        }
        // Nothing registered matches: the text is borrowed, not copied.
        assert!(matches!(redact("nothing to see"), Cow::Borrowed(_)));
    }

    #[test]
    fn short_values_are_not_registered() {
        let _s = Secret::new("main".into());
        assert_eq!(redact("branch main"), "branch main");
    }

    #[test]
    fn a_value_containing_another_is_masked_whole() {
        let _a = Secret::new("nested-secret-91ab".into());
        let _b = Secret::new("outer-nested-secret-91ab-tail".into());
        assert_eq!(
            redact("x outer-nested-secret-91ab-tail y"),
            "x [redacted] y"
        );
    }

    #[test]
    fn base64_matches_rfc_4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
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
