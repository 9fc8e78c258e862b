//! Config keys for live integrations that have none: the key `gijctl import` writes and the
//! one the plan suggests for unmanaged integrations. Derived from the owner, so that keys read
//! naturally (`acme`, `platform`), and made unique deterministically.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::FastMap;

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
/// `taken` lists the keys already used (the config's keys). It is read once, keeping only the
/// few keys these sources could be given: at 100,000 declarations a set of every taken key
/// was a random write per declaration into a table larger than the CPU's L2 cache.
pub fn suggest_keys<'k>(
    sources: &[KeySource<'_>],
    taken: impl IntoIterator<Item = &'k str>,
) -> BTreeMap<u64, String> {
    let mut sorted: Vec<&KeySource<'_>> = sources.iter().collect();
    sorted.sort_by_key(|s| s.id);
    let mut base_count: HashMap<String, usize> = HashMap::new();
    // Every key the loop below asks `used` about (`<owner>` and `<owner>-<service>`; the
    // id-suffixed key is unique by its id), and whether `taken` holds it.
    let mut candidates: FastMap<String, bool> = FastMap::default();
    for s in &sorted {
        let base = slug(s.owner);
        candidates.insert(format!("{base}-{}", slug(s.service)), false);
        candidates.insert(base.clone(), false);
        *base_count.entry(base).or_default() += 1;
    }
    if !candidates.is_empty() {
        for k in taken {
            if let Some(t) = candidates.get_mut(k) {
                *t = true;
            }
        }
    }
    let mut assigned: HashSet<String> = HashSet::new();
    let used = |k: &str, assigned: &HashSet<String>| {
        candidates.get(k).copied().unwrap_or(false) || assigned.contains(k)
    };
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
        let k = suggest_keys(&src, ["other", "platform"]);
        assert_eq!(k[&1], "acme-corp-gitlab");
        assert_eq!(k[&3], "acme-corp-github");
        assert_eq!(k[&4], "acme-corp-github-4");
        assert_eq!(k[&2], "platform-github");
        assert_eq!(slug("--"), "integration");
    }
}
