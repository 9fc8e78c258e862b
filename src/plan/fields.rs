//! Field-by-field access to [`Settings`], so that diffing, rendering, simulation and apply all
//! walk the same list of fields in the same order and agree on each field's JSON value.

use serde_json::Value;

use crate::model::{Field, Settings};

/// The settings fields, in the order plans list them (gij.toml order).
pub const SETTINGS_FIELDS: [Field; 17] = [
    Field::Enabled,
    Field::RequireUserPat,
    Field::SmartCommits,
    Field::RepositoryBrowser,
    Field::DiffViewing,
    Field::RevisionIndexing,
    Field::CommitEmails,
    Field::CommitEmailMaxAgeMinutes,
    Field::TagsFilter,
    Field::PrHideFilter,
    Field::SslVerify,
    Field::TrustFolderStat,
    Field::FetchNotes,
    Field::FetchChanges,
    Field::FetchRefspecs,
    Field::ApiPath,
    Field::ApiFilter,
];

/// The name gij.toml uses for a field (kebab-case).
pub fn field_name(f: Field) -> String {
    serde_json::to_value(f)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// A setting's value as JSON; `None` for fields that are not settings (display name,
/// repositories, projects).
pub fn get(s: &Settings, f: Field) -> Option<Value> {
    Some(match f {
        Field::Enabled => s.enabled.into(),
        Field::RequireUserPat => s.require_user_pat.into(),
        Field::SmartCommits => s.smart_commits.into(),
        Field::RepositoryBrowser => s.repository_browser.into(),
        Field::DiffViewing => s.diff_viewing.into(),
        Field::RevisionIndexing => s.revision_indexing.into(),
        Field::CommitEmails => s.commit_emails.into(),
        Field::CommitEmailMaxAgeMinutes => s.commit_email_max_age_minutes.into(),
        Field::TagsFilter => s.tags_filter.clone().into(),
        Field::PrHideFilter => s.pr_hide_filter.clone().into(),
        Field::SslVerify => s.ssl_verify.into(),
        Field::TrustFolderStat => s.trust_folder_stat.into(),
        Field::FetchNotes => s.fetch_notes.into(),
        Field::FetchChanges => s.fetch_changes.into(),
        Field::FetchRefspecs => s.fetch_refspecs.clone().into(),
        Field::ApiPath => s.api_path.clone().into(),
        Field::ApiFilter => s.api_filter.clone().into(),
        Field::DisplayName | Field::Repositories | Field::Projects => return None,
    })
}

/// Sets a setting from its JSON value. Returns `false` (and changes nothing) when the field is
/// not a setting or the value has the wrong type.
pub fn set(s: &mut Settings, f: Field, v: &Value) -> bool {
    fn b(v: &Value, slot: &mut bool) -> bool {
        v.as_bool().map(|x| *slot = x).is_some()
    }
    fn st(v: &Value, slot: &mut String) -> bool {
        v.as_str().map(|x| *slot = x.to_owned()).is_some()
    }
    match f {
        Field::Enabled => b(v, &mut s.enabled),
        Field::RequireUserPat => b(v, &mut s.require_user_pat),
        Field::SmartCommits => b(v, &mut s.smart_commits),
        Field::RepositoryBrowser => b(v, &mut s.repository_browser),
        Field::DiffViewing => b(v, &mut s.diff_viewing),
        Field::RevisionIndexing => b(v, &mut s.revision_indexing),
        Field::CommitEmails => b(v, &mut s.commit_emails),
        Field::CommitEmailMaxAgeMinutes => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(|n| s.commit_email_max_age_minutes = n)
            .is_some(),
        Field::TagsFilter => st(v, &mut s.tags_filter),
        Field::PrHideFilter => st(v, &mut s.pr_hide_filter),
        Field::SslVerify => b(v, &mut s.ssl_verify),
        Field::TrustFolderStat => b(v, &mut s.trust_folder_stat),
        Field::FetchNotes => b(v, &mut s.fetch_notes),
        Field::FetchChanges => b(v, &mut s.fetch_changes),
        Field::FetchRefspecs => v
            .as_array()
            .and_then(|a| {
                a.iter()
                    .map(|x| x.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
            })
            .map(|l| s.fetch_refspecs = l)
            .is_some(),
        Field::ApiPath => st(v, &mut s.api_path),
        Field::ApiFilter => st(v, &mut s.api_filter),
        Field::DisplayName | Field::Repositories | Field::Projects => false,
    }
}

/// Renders a JSON value the way gij.toml would write it (`true`, `1440`, `"x"`, `["a", "b"]`).
pub fn toml_value(v: &Value) -> String {
    match v {
        Value::String(s) => toml_string(s),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(toml_value).collect();
            format!("[{}]", inner.join(", "))
        }
        other => other.to_string(),
    }
}

/// Quotes a string as a TOML basic string. Control characters and the bidi and separator
/// characters of [`crate::escape::is_unsafe`] are written as `\uXXXX` escapes, so a server
/// string copied into gij.toml (import) or shown in a plan is inert on a terminal and still
/// reads back as exactly the same string.
pub fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if crate::escape::is_unsafe(c) => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_and_set_round_trip_every_field() {
        let src = Settings {
            enabled: false,
            require_user_pat: false,
            smart_commits: false,
            repository_browser: false,
            diff_viewing: false,
            revision_indexing: false,
            commit_emails: true,
            commit_email_max_age_minutes: 7,
            tags_filter: "v.*".into(),
            pr_hide_filter: "wip".into(),
            ssl_verify: false,
            trust_folder_stat: true,
            fetch_notes: false,
            fetch_changes: true,
            fetch_refspecs: vec!["refs/x/*".into()],
            api_path: "/p".into(),
            api_filter: "[?a]".into(),
        };
        let mut dst = Settings::default();
        for f in SETTINGS_FIELDS {
            let v = get(&src, f).unwrap();
            assert!(set(&mut dst, f, &v), "{f:?}");
        }
        assert_eq!(dst, src);
        assert!(!set(&mut dst, Field::Enabled, &Value::from("yes")));
        assert!(get(&src, Field::DisplayName).is_none());
    }

    #[test]
    fn names_and_toml_values() {
        assert_eq!(field_name(Field::RequireUserPat), "require-user-pat");
        assert_eq!(
            toml_value(&serde_json::json!(["a", "b\"c"])),
            r#"["a", "b\"c"]"#
        );
        assert_eq!(toml_value(&serde_json::json!(1440)), "1440");
    }
}
