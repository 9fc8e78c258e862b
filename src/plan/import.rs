//! `gijctl import`: writes a gij.toml that describes the live site as it is, so that a plan
//! against it is empty. Pure text generation; the CLI reads the site and writes the file.
//!
//! Canonical form: integrations sorted by id, keys derived from owners ([`super::keys`]),
//! credentials as `env:GIJ_<KEY>_TOKEN` references (the value must be provided before the
//! next create or rotation; GIJ never returns credentials), every boolean and numeric setting
//! written explicitly so the file does not depend on `[defaults]`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::fields::{SETTINGS_FIELDS, field_name, get, toml_string, toml_value};
use super::keys::{KeySource, suggest_keys};
use super::live::{LiveState, normalize_settings};
use crate::model::{AuthMethod, LiveProjects};

/// The environment variable name import uses for an integration's credential.
pub fn token_env_name(key: &str) -> String {
    let mut s: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    format!("GIJ_{s}_TOKEN")
}

/// Renders the live state as gij.toml text. Returns the text and notes for the user (live
/// details gij.toml cannot express, which a plan will then show as changes).
pub fn to_toml(live: &LiveState) -> (String, Vec<String>) {
    let mut notes = Vec::new();
    let sources: Vec<KeySource<'_>> = live
        .integrations
        .iter()
        .map(|l| KeySource {
            id: l.id,
            service: l.service.config_name(),
            owner: &l.owner,
        })
        .collect();
    let keys = suggest_keys(&sources, []);
    let mut natural: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    for l in &live.integrations {
        *natural
            .entry((
                l.service.config_name().to_owned(),
                l.origin.clone(),
                l.owner.to_lowercase(),
            ))
            .or_default() += 1;
    }

    let mut out = String::new();
    let _ = writeln!(out, "# Written by `gijctl import` from the live site.");
    let _ = writeln!(
        out,
        "# Credentials are references only: set each `env:` variable before creating or rotating."
    );
    let _ = writeln!(out, "version = 1");
    for l in &live.integrations {
        let key = keys
            .get(&l.id)
            .cloned()
            .unwrap_or_else(|| format!("id-{}", l.id));
        let _ = writeln!(out);
        let _ = writeln!(out, "[integrations.{key}]");
        let _ = writeln!(out, "service = {}", toml_string(l.service.config_name()));
        if l.service.requires_host() {
            let _ = writeln!(out, "host = {}", toml_string(&l.origin));
        }
        let _ = writeln!(out, "owner = {}", toml_string(&l.owner));
        let n = natural
            .get(&(
                l.service.config_name().to_owned(),
                l.origin.clone(),
                l.owner.to_lowercase(),
            ))
            .copied()
            .unwrap_or(0);
        if n > 1 {
            let _ = writeln!(
                out,
                "id = {}  # several live integrations connect this owner",
                l.id
            );
        }
        match l.auth {
            AuthMethod::Oauth => {
                let _ = writeln!(out, "auth = \"oauth\"");
            }
            AuthMethod::Pat => {
                let _ = writeln!(
                    out,
                    "credential = {}",
                    toml_string(&format!("env:{}", token_env_name(&key)))
                );
            }
        }
        if let Some(r) = &l.aws_region {
            let _ = writeln!(out, "aws-region = {}", toml_string(r));
        }
        let _ = writeln!(out, "display-name = {}", toml_string(&l.display_name));
        match &l.projects {
            LiveProjects::All => {
                let _ = writeln!(out, "projects = \"all\"");
            }
            LiveProjects::Keys(k) => {
                let (unknown, known): (Vec<&String>, Vec<&String>) =
                    k.iter().partition(|k| k.starts_with('#'));
                if !unknown.is_empty() {
                    notes.push(format!(
                        "`{key}` is associated with project ids Jira no longer knows ({}); they \
                         were left out, so a plan will remove them",
                        unknown
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                let list: Vec<String> = known.iter().map(|k| toml_string(k)).collect();
                let _ = writeln!(out, "projects = [{}]", list.join(", "));
            }
        }
        if l.repositories.iter().any(|r| !r.enabled) {
            let enabled: Vec<String> = l
                .repositories
                .iter()
                .filter(|r| r.enabled)
                .map(|r| toml_string(&glob_escape(&r.name)))
                .collect();
            let _ = writeln!(
                out,
                "repositories = {{ include = [{}] }}",
                enabled.join(", ")
            );
        }
        let s = normalize_settings(&l.settings);
        for f in SETTINGS_FIELDS {
            let Some(v) = get(&s, f) else { continue };
            let empty = match &v {
                serde_json::Value::String(x) => x.is_empty(),
                serde_json::Value::Array(x) => x.is_empty(),
                _ => false,
            };
            if !empty {
                let _ = writeln!(out, "{} = {}", field_name(f), toml_value(&v));
            }
        }
    }
    for u in &live.unsupported {
        notes.push(format!(
            "live integration #{} {:?} has type `{}`, which gijctl does not manage; it was left out",
            u.id, u.display_name, u.wire_type
        ));
    }
    (out, notes)
}

/// Escapes glob metacharacters so a repository name matches only itself.
fn glob_escape(name: &str) -> String {
    let mut s = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '{' | '}' | '\\') {
            s.push('[');
            s.push(c);
            s.push(']');
        } else {
            s.push(c);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::testkit::quickstart;

    #[test]
    fn import_writes_valid_toml_describing_the_site() {
        let (_, live) = quickstart();
        let (text, notes) = to_toml(&live);
        assert!(notes.is_empty(), "{notes:?}");
        let v: toml::Table = toml::from_str(&text).unwrap();
        let acme = &v["integrations"]["acme"];
        assert_eq!(acme["service"].as_str(), Some("github"));
        assert_eq!(acme["credential"].as_str(), Some("env:GIJ_ACME_TOKEN"));
        assert_eq!(acme["display-name"].as_str(), Some("GitHub"));
        assert_eq!(acme["projects"].as_str(), Some("all"));
        assert_eq!(acme["require-user-pat"].as_bool(), Some(false));
        assert!(
            acme.get("repositories").is_none(),
            "all enabled: default selector"
        );
        let old = &v["integrations"]["old-team"];
        assert_eq!(
            old["repositories"]["include"].as_array().unwrap().len(),
            1,
            "only the enabled repository"
        );
        assert_eq!(old["projects"].as_array().unwrap()[0].as_str(), Some("OPS"));
        assert_eq!(token_env_name("9-x"), "GIJ__9_X_TOKEN");
        assert_eq!(glob_escape("a*b"), "a[*]b");
    }
}
