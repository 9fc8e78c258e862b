//! The JSON rendering: the [`Plan`] document itself, and its JSON Schema.
//!
//! The document is the stable, versioned interface for automation (`format_version`); the schema
//! committed at `schema/plan.schema.json` documents it and a test keeps it current.

use crate::plan::Plan;

/// The plan as pretty JSON with a trailing newline (identical to a saved plan file).
pub fn render(plan: &Plan) -> String {
    crate::plan::file::to_string(plan)
}

/// The JSON Schema (draft-07, for editor and validator compatibility) of the plan document.
pub fn schema() -> String {
    let generator = schemars::generate::SchemaSettings::draft07().into_generator();
    let schema = generator.into_root_schema_for::<Plan>();
    let mut s = serde_json::to_string_pretty(&schema).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fails when `schema/plan.schema.json` is out of date; run with `GIJCTL_UPDATE_SCHEMA=1`
    /// to rewrite it.
    #[test]
    fn committed_schema_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/plan.schema.json");
        let want = schema();
        if std::env::var_os("GIJCTL_UPDATE_SCHEMA").is_some() {
            std::fs::write(&path, &want).unwrap();
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "schema/plan.schema.json is stale: run `GIJCTL_UPDATE_SCHEMA=1 cargo test --lib render::json`"
        );
    }
}
