//! `gijctl import`: writes a gij.toml that describes the live site as it is, so that a plan
//! against it is empty. Pure text generation; the CLI reads the site and writes the file.
//!
//! Canonical form: integrations sorted by id, keys derived from owners ([`super::keys`]),
//! credentials as `env:GIJ_<KEY>_TOKEN` references (the value must be provided before the
//! next create or rotation; GIJ never returns credentials), every boolean and numeric setting
//! written explicitly so the file does not depend on `[defaults]`. An integration whose auth
//! method the site does not report is written as GIJ's default, a PAT, marked as assumed.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::fields::{SETTINGS_FIELDS, field_name, get, toml_string, toml_value};
use super::keys::{KeySource, suggest_keys};
use super::live::{LiveState, normalize_settings};
use crate::model::{AuthMethod, LiveProjects};

/// The mark on a credential import wrote as a PAT because the site does not report the method.
const PAT_ASSUMED: &str = "  # PAT assumed";

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
    // The owner each integration is written with: the site's, or when the site does not show
    // it (no `group` and no repository that tells), a guess that is pinned by id.
    // A guess never repeats another integration's service, host and owner (validate would
    // reject the pair): a taken guess gets the id appended.
    let mut used: std::collections::BTreeSet<(&str, &str, String)> = live
        .integrations
        .iter()
        .filter(|l| !l.owner.trim().is_empty())
        .map(|l| {
            (
                l.service.config_name(),
                l.origin.as_str(),
                l.owner.to_lowercase(),
            )
        })
        .collect();
    let mut owners: BTreeMap<u64, (String, bool)> = BTreeMap::new();
    for l in &live.integrations {
        if !l.owner.trim().is_empty() {
            owners.insert(l.id, (l.owner.clone(), true));
            continue;
        }
        let mut owner = guess_owner(l.service, &l.display_name, l.id);
        let ident = |o: &str| (l.service.config_name(), l.origin.as_str(), o.to_lowercase());
        if used.contains(&ident(&owner)) {
            owner = format!("{owner}-{}", l.id);
        }
        used.insert(ident(&owner));
        owners.insert(l.id, (owner, false));
    }
    let sources: Vec<KeySource<'_>> = live
        .integrations
        .iter()
        .map(|l| KeySource {
            id: l.id,
            service: l.service.config_name(),
            owner: &owners[&l.id].0,
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
    if live.integrations.iter().any(|l| l.auth.is_none()) {
        let _ = writeln!(
            out,
            "# The site does not report how its integrations authenticate (GIJ's documented \
             answers do not):\n# a credential marked `PAT assumed` is GIJ's default; for an \
             OAuth integration replace that line with `auth = \"oauth\"`."
        );
    }
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
        let (owner, known) = &owners[&l.id];
        if !known {
            // Validate rejects `owner = ""`, and natural matching cannot find an owner the
            // site does not show: pin the id, so the plan matches it whatever the owner says.
            let _ = writeln!(
                out,
                "owner = {}  # the site does not show the owner: check it",
                toml_string(owner)
            );
            let _ = writeln!(
                out,
                "id = {}  # pinned: the site does not show the owner",
                l.id
            );
            notes.push(format!(
                "`{key}` (#{}): the site does not show whose integration it is (GIJ's documented \
                 answers have no owner, and it has no repository that tells), so it was pinned \
                 by `id = {}` and given `owner = {owner:?}` from its display name; correct the \
                 owner if that is not it (a wrong owner is reported once its repositories show \
                 the real one)",
                l.id, l.id
            ));
        } else {
            let _ = writeln!(out, "owner = {}", toml_string(owner));
        }
        let n = if *known {
            natural
                .get(&(
                    l.service.config_name().to_owned(),
                    l.origin.clone(),
                    l.owner.to_lowercase(),
                ))
                .copied()
                .unwrap_or(0)
        } else {
            0
        };
        if n > 1 {
            let _ = writeln!(
                out,
                "id = {}  # several live integrations connect this owner",
                l.id
            );
        }
        match l.auth {
            Some(AuthMethod::Oauth) => {
                let _ = writeln!(out, "auth = \"oauth\"");
            }
            known => {
                // Import must write one method, and plan cannot tell it wrong (an unknown
                // live method is not a change): GIJ's default, marked as a guess on the line
                // the person editing the file changes (the header says how).
                let _ = writeln!(
                    out,
                    "credential = {}{}",
                    toml_string(&format!("env:{}", token_env_name(&key))),
                    if known.is_none() { PAT_ASSUMED } else { "" }
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

/// The owner to write for an integration whose owner the site does not show: the owner in a
/// display name of gijctl's default form (`<service> · <owner>`, what gijctl names an
/// integration without `display-name`), else the display name itself, else `id-<id>`.
fn guess_owner(service: crate::model::Service, display_name: &str, id: u64) -> String {
    let name = display_name.trim();
    let title = crate::config::validate::service_title(service);
    if let Some(rest) = name.strip_prefix(title)
        && let Some(owner) = rest.trim_start().strip_prefix('·')
        && !owner.trim().is_empty()
    {
        return owner.trim().to_owned();
    }
    if name.is_empty() {
        format!("id-{id}")
    } else {
        name.to_owned()
    }
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

    /// An integration whose owner the site does not show (GIJ's documented answers, no
    /// repository yet) is written pinned by id with an owner from its display name, never
    /// `owner = ""`, and two such guesses never collide.
    #[test]
    fn an_unknown_owner_is_pinned_by_id_with_a_guessed_owner() {
        let (_, mut live) = quickstart();
        let mut twin = live.integrations[0].clone();
        for (i, l) in [&mut live.integrations[0], &mut twin]
            .into_iter()
            .enumerate()
        {
            l.owner = String::new();
            l.display_name = "GitHub · acme".into();
            if i == 1 {
                l.id = 99;
                l.display_name = "acme".into();
            }
        }
        live.integrations.push(twin);
        let (text, notes) = to_toml(&live);
        assert!(!text.contains("owner = \"\""), "{text}");
        let v: toml::Table = toml::from_str(&text).unwrap();
        let by_id = |id: i64| {
            v["integrations"]
                .as_table()
                .unwrap()
                .values()
                .find(|t| t.get("id").and_then(|i| i.as_integer()) == Some(id))
                .unwrap_or_else(|| panic!("#{id} is not pinned: {text}"))
                .clone()
        };
        let first = live.integrations[0].id as i64;
        assert_eq!(by_id(first)["owner"].as_str(), Some("acme"));
        assert_eq!(by_id(99)["owner"].as_str(), Some("acme-99"));
        assert_eq!(notes.len(), 2, "{notes:?}");
    }

    /// An integration whose auth method the site does not report is written as GIJ's default,
    /// a PAT reference, with a comment saying how to declare OAuth; a reported method is
    /// written as it is, without the comment.
    #[test]
    fn an_unknown_auth_method_is_written_as_a_pat_with_a_comment() {
        let (_, mut live) = quickstart();
        live.integrations.truncate(1);
        let mut oauth = live.integrations[0].clone();
        oauth.id = 50;
        oauth.owner = "beta".into();
        oauth.auth = Some(AuthMethod::Oauth);
        live.integrations.push(oauth);
        let header = "# The site does not report how its integrations authenticate";

        live.integrations[0].auth = Some(AuthMethod::Pat);
        let (text, _) = to_toml(&live);
        assert!(!text.contains(header), "{text}");
        assert!(!text.contains(PAT_ASSUMED), "{text}");

        live.integrations[0].auth = None;
        let (text, _) = to_toml(&live);
        assert_eq!(text.matches(header).count(), 1, "{text}");
        assert!(
            text.contains("replace that line with `auth = \"oauth\"`"),
            "{text}"
        );
        // The mark is on acme's credential line, the one to replace, and only there.
        assert_eq!(text.matches(PAT_ASSUMED).count(), 1, "{text}");
        assert!(
            text.contains(&format!(
                "credential = \"env:GIJ_ACME_TOKEN\"{PAT_ASSUMED}\n"
            )),
            "{text}"
        );
        let v: toml::Table = toml::from_str(&text).unwrap();
        let ints = v["integrations"].as_table().unwrap();
        assert_eq!(
            ints["acme"]["credential"].as_str(),
            Some("env:GIJ_ACME_TOKEN")
        );
        assert!(ints["acme"].get("auth").is_none());
        assert_eq!(ints["beta"]["auth"].as_str(), Some("oauth"));
        assert!(ints["beta"].get("credential").is_none());
    }

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
        assert_eq!(
            guess_owner(crate::model::Service::Github, "GitHub · acme", 3),
            "acme"
        );
        assert_eq!(
            guess_owner(crate::model::Service::Github, "Platform", 3),
            "Platform"
        );
        assert_eq!(guess_owner(crate::model::Service::Github, " ", 3), "id-3");
        assert_eq!(glob_escape("a*b"), "a[*]b");
    }
}
