//! The JSON Schema of gij.toml, generated with schemars from the types that parse it.
//!
//! Draft-07 because Taplo and VS Code's Even Better TOML handle it best. The same schema also
//! supplies the known keys of every table for "did you mean" hints, so a key added to
//! `model.rs` is known everywhere at once.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use schemars::generate::SchemaSettings;

use super::model::ConfigFile;

/// The `$id`-less schema as pretty JSON with a trailing newline (the committed file's bytes).
pub fn schema_json() -> String {
    let mut out =
        serde_json::to_string_pretty(&schema_value()).unwrap_or_else(|_| String::from("{}")); // serde_json::Value always serializes
    out.push('\n');
    out
}

/// The schema as a JSON value.
pub fn schema_value() -> serde_json::Value {
    let generator = SchemaSettings::draft07().for_deserialize().into_generator();
    let schema = generator.into_root_schema_for::<ConfigFile>();
    let mut v = schema.to_value();
    strip_null(&mut v);
    v
}

/// TOML has no null: drop the `null` alternatives that `Option` fields get, so editors do not
/// suggest it.
fn strip_null(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            if let Some(Value::Array(types)) = map.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types.remove(0);
                    map.insert("type".into(), only);
                }
            }
            for key in ["anyOf", "oneOf"] {
                if let Some(Value::Array(alts)) = map.get_mut(key) {
                    alts.retain(|a| a.get("type").is_none_or(|t| t != "null"));
                    if alts.len() == 1 {
                        let only = alts.remove(0);
                        map.remove(key);
                        if let Value::Object(o) = only {
                            for (k, val) in o {
                                map.entry(k).or_insert(val);
                            }
                        }
                    }
                }
            }
            for child in map.values_mut() {
                strip_null(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip_null),
        _ => {}
    }
}

/// Which table a key lives in, for unknown-key hints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TableKind {
    /// The top level of the file.
    Root,
    /// `[defaults]`.
    Defaults,
    /// `[apply]`.
    Apply,
    /// `[integrations.<key>]`.
    Integration,
    /// `repositories = { ... }`.
    Repositories,
    /// `[policy]`.
    Policy,
}

impl TableKind {
    /// How the table is written in the file, for messages.
    pub fn header(self) -> &'static str {
        match self {
            TableKind::Root => "the top level",
            TableKind::Defaults => "[defaults]",
            TableKind::Apply => "[apply]",
            TableKind::Integration => "[integrations.<key>]",
            TableKind::Repositories => "repositories",
            TableKind::Policy => "[policy]",
        }
    }
}

/// The keys a table accepts (sorted by name).
pub fn known_keys(kind: TableKind) -> &'static [String] {
    static KEYS: OnceLock<BTreeMap<TableKind, Vec<String>>> = OnceLock::new();
    let all = KEYS.get_or_init(|| {
        let v = schema_value();
        let props = |node: &serde_json::Value| -> Vec<String> {
            node.get("properties")
                .and_then(|p| p.as_object())
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default()
        };
        let def = |name: &str| props(&v["definitions"][name]);
        BTreeMap::from([
            (TableKind::Root, props(&v)),
            (TableKind::Defaults, def("DefaultsTable")),
            (TableKind::Apply, def("ApplyTable")),
            (TableKind::Integration, def("IntegrationTable")),
            (TableKind::Repositories, def("RepositoriesTable")),
            (TableKind::Policy, def("PolicyTable")),
        ])
    });
    all.get(&kind).map(Vec::as_slice).unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_is_draft07_and_strict() {
        let v = schema_value();
        assert_eq!(v["$schema"], "http://json-schema.org/draft-07/schema#");
        assert_eq!(v["additionalProperties"], false);
        assert_eq!(
            v["definitions"]["IntegrationTable"]["additionalProperties"],
            false
        );
        let req = v["definitions"]["IntegrationTable"]["required"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(req.contains(&"service".into()) && req.contains(&"owner".into()));
    }

    #[test]
    fn schema_has_no_null() {
        assert!(!schema_json().contains("\"null\""));
    }

    #[test]
    fn known_keys_come_from_the_types() {
        let keys = known_keys(TableKind::Integration);
        assert!(keys.iter().any(|k| k == "require-user-pat"));
        assert!(keys.iter().any(|k| k == "aws-region"));
        assert!(
            !known_keys(TableKind::Defaults)
                .iter()
                .any(|k| k == "service")
        );
        assert_eq!(
            known_keys(TableKind::Root),
            ["apply", "defaults", "integrations", "policy", "version"]
        );
    }
}
