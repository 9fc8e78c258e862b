//! Config keys for live integrations that have none: the key `gijctl import` writes and the
//! one the plan suggests for unmanaged integrations. Derived from the owner, so that keys read
//! naturally (`acme`, `platform`), and made unique deterministically.

use std::collections::{BTreeMap, HashMap, HashSet};

/// A live integration as key derivation sees it.
#[derive(Debug, Clone, Copy)]
pub struct KeySource<'a> {
    /// GIJ's id.
    pub id: u64,
    /// The service name (`github`, or a wire type for unsupported services).
    pub service: &'a str,
    /// The owner.
    pub owner: &'a str,
}

/// Lower-cases and replaces every run of characters other than ASCII letters and digits by `-`.
pub fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-').to_owned();
    if out.is_empty() {
        "integration".to_owned()
    } else {
        out
    }
}

/// Assigns each source a unique key not in `taken`: the owner's slug; when that collides,
/// `<owner>-<service>`; when that still collides, `<owner>-<service>-<id>`.
///
/// `taken` answers whether a key is already used (the config's keys): a predicate rather than
/// a set, so that planning 100,000 declarations does not copy every key into a new set.
pub fn suggest_keys(
    sources: &[KeySource<'_>],
    taken: impl Fn(&str) -> bool,
) -> BTreeMap<u64, String> {
    let mut sorted: Vec<&KeySource<'_>> = sources.iter().collect();
    sorted.sort_by_key(|s| s.id);
    let mut base_count: HashMap<String, usize> = HashMap::new();
    for s in &sorted {
        *base_count.entry(slug(s.owner)).or_default() += 1;
    }
    let mut assigned: HashSet<String> = HashSet::new();
    let used = |k: &str, assigned: &HashSet<String>| taken(k) || assigned.contains(k);
    let mut out = BTreeMap::new();
    for s in sorted {
        let base = slug(s.owner);
        let mut key = base.clone();
        if base_count[&base] > 1 || used(&key, &assigned) {
            key = format!("{base}-{}", slug(s.service));
        }
        if used(&key, &assigned) {
            key = format!("{key}-{}", s.id);
        }
        assigned.insert(key.clone());
        out.insert(s.id, key);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn keys_are_slugs_made_unique() {
        let src = [
            KeySource {
                id: 3,
                service: "github",
                owner: "Acme Corp",
            },
            KeySource {
                id: 1,
                service: "gitlab",
                owner: "acme corp",
            },
            KeySource {
                id: 2,
                service: "github",
                owner: "platform",
            },
            KeySource {
                id: 4,
                service: "github",
                owner: "ACME--corp",
            },
        ];
        let taken = BTreeSet::from(["platform".to_owned()]);
        let k = suggest_keys(&src, |k| taken.contains(k));
        assert_eq!(k[&1], "acme-corp-gitlab");
        assert_eq!(k[&3], "acme-corp-github");
        assert_eq!(k[&4], "acme-corp-github-4");
        assert_eq!(k[&2], "platform-github");
        assert_eq!(slug("--"), "integration");
    }
}
