//! The JSON rendering: the [`Plan`] document itself, and its JSON Schema.
//!
//! The document is the stable, versioned interface for automation (`format_version`); the schema
//! committed at `schema/plan.schema.json` documents it and a test keeps it current.
//!
//! Also the JSON helpers the drift and review documents share with it, so every document and
//! schema gijctl publishes is written the same way.

use schemars::JsonSchema;
use serde::Serialize;

use crate::plan::Plan;

/// A document as pretty JSON with a trailing newline (so files and pipes end cleanly).
pub fn pretty<T: Serialize>(doc: &T) -> String {
    let mut s = serde_json::to_string_pretty(doc).unwrap_or_default();
    s.push('\n');
    s
}

/// The JSON Schema (draft-07, for editor and validator compatibility) of a document type.
pub fn schema_of<T: JsonSchema>() -> String {
    let generator = schemars::generate::SchemaSettings::draft07().into_generator();
    pretty(&generator.into_root_schema_for::<T>())
}

/// Fails when the committed `schema/{file}` differs from `want`; with `GIJCTL_UPDATE_SCHEMA`
/// set it rewrites the file first. `module` names the test filter in the hint.
#[cfg(test)]
pub(crate) fn assert_schema_current(file: &str, want: &str, module: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schema")
        .join(file);
    if std::env::var_os("GIJCTL_UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "schema/{file} is stale: run `GIJCTL_UPDATE_SCHEMA=1 cargo test --lib {module}`"
    );
}

/// The plan as pretty JSON with a trailing newline (identical to a saved plan file).
pub fn render(plan: &Plan) -> String {
    crate::plan::file::to_string(plan)
}

/// The JSON Schema (draft-07, for editor and validator compatibility) of the plan document.
pub fn schema() -> String {
    schema_of::<Plan>()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fails when `schema/plan.schema.json` is out of date; run with `GIJCTL_UPDATE_SCHEMA=1`
    /// to rewrite it.
    #[test]
    fn committed_schema_is_current() {
        assert_schema_current("plan.schema.json", &schema(), "render::json");
    }
}
