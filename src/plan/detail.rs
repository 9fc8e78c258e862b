//! Which live integrations a planning command reads once more, one by one, before it plans.
//!
//! GIJ's documented integration list leaves out `tagsFilter`, `apiPath` and `apiFilter`, which
//! its single-integration GET carries ([`DETAIL_FIELDS`]). The whole-site read marks them
//! unknown ([`crate::model::LiveIntegration::unknown`]), and plan does not compare an unknown
//! setting, so a hand edit of one on the site would never show. Reading every integration
//! again would make a plan of a large site cost one request per integration; the settings only
//! matter where a declaration sets them, so only the integrations such a declaration matches are
//! read ([`detail_reads`]), and their answers are merged with [`super::live::merge_detail`].
//! A site whose list carries the fields (gijctl's extension) or a config that declares none of
//! them costs no request and no extra planning pass.

use std::collections::BTreeSet;

use super::live::{LiveState, normalized_settings};
use super::{PlanOptions, plan_matched};
use crate::model::{DesiredIntegration, DesiredState, Field};

/// The settings GIJ's documented integration list lacks and its single-integration GET has
/// (`DC/retrieve-an-integration-gij-self-managed`). `refSpecCustom` is in no documented answer
/// and is not among them.
pub const DETAIL_FIELDS: [Field; 3] = [Field::TagsFilter, Field::ApiPath, Field::ApiFilter];

/// The live integrations to read with the single-integration GET before planning `desired`
/// (every desired state a command plans against this live state, e.g. review's base and head):
/// those matched by a declaration that sets one of [`DETAIL_FIELDS`] which the whole-site read
/// did not carry for that integration. Sorted, each id once.
///
/// A declaration "sets" a field when it is not ignored and its value differs from the
/// placeholder an unknown setting has (GIJ's default, empty): exactly the settings plan would
/// otherwise report as unverifiable. Matching is plan's own ([`plan_matched`]), so the ids are
/// the integrations plan compares; a desired state that cannot be planned (an ambiguous key, an
/// unknown project) asks for nothing, as its plan fails anyway.
pub fn detail_reads<'a>(
    desired: impl IntoIterator<Item = &'a DesiredState>,
    live: &LiveState,
) -> BTreeSet<u64> {
    let mut ids = BTreeSet::new();
    let site_lacks_some = live
        .integrations
        .iter()
        .any(|l| DETAIL_FIELDS.iter().any(|f| l.unknown.contains(f)));
    if !site_lacks_some {
        return ids;
    }
    for d in desired {
        if !d.integrations.iter().any(|i| sets_detail_field(i, None)) {
            continue;
        }
        let Ok((_, matched)) = plan_matched(d, live, &PlanOptions::default()) else {
            continue;
        };
        for (decl, id) in d.integrations.iter().zip(matched) {
            let Some(l) = id.and_then(|id| live.get(id)) else {
                continue;
            };
            if sets_detail_field(decl, Some(&l.unknown)) {
                ids.insert(l.id);
            }
        }
    }
    ids
}

/// Whether `d` sets one of [`DETAIL_FIELDS`] (not ignored, not empty), and when `unknown` is
/// given, one that is in it.
fn sets_detail_field(d: &DesiredIntegration, unknown: Option<&BTreeSet<Field>>) -> bool {
    let s = normalized_settings(&d.settings);
    DETAIL_FIELDS.into_iter().any(|f| {
        let value = match f {
            Field::TagsFilter => &s.tags_filter,
            Field::ApiPath => &s.api_path,
            _ => &s.api_filter,
        };
        !value.is_empty() && !d.ignore.contains(&f) && unknown.is_none_or(|u| u.contains(&f))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::wire;
    use crate::plan::live::merge_detail;
    use crate::plan::testkit;

    use crate::model::Service;

    /// Two GitHub integrations as the documented list shows them (no filters, no API path).
    fn live() -> LiveState {
        let mut live = LiveState {
            integrations: vec![
                testkit::live_from(&with("acme", |_| {}), 1, Vec::new()),
                testkit::live_from(&with("beta", |_| {}), 2, Vec::new()),
            ],
            ..LiveState::default()
        };
        for l in &mut live.integrations {
            l.unknown = [
                Field::TagsFilter,
                Field::FetchRefspecs,
                Field::ApiPath,
                Field::ApiFilter,
            ]
            .into();
        }
        live
    }

    fn desired(decls: Vec<DesiredIntegration>) -> DesiredState {
        DesiredState {
            integrations: decls,
            policy: Default::default(),
        }
    }

    fn with(owner: &str, edit: impl FnOnce(&mut DesiredIntegration)) -> DesiredIntegration {
        let mut d = testkit::desired(owner, Service::Github, owner, 0);
        edit(&mut d);
        d
    }

    #[test]
    fn reads_only_integrations_whose_declaration_sets_an_unreported_field() {
        let live = live();
        let plain = desired(vec![with("acme", |_| {}), with("beta", |_| {})]);
        assert!(detail_reads([&plain], &live).is_empty(), "nothing declared");

        let tags = desired(vec![
            with("acme", |d| d.settings.tags_filter = "^v".into()),
            with("beta", |_| {}),
        ]);
        assert_eq!(detail_reads([&tags], &live), [1].into());

        let path = desired(vec![
            with("acme", |_| {}),
            with("beta", |d| d.settings.api_path = "/orgs/beta/repos".into()),
        ]);
        assert_eq!(detail_reads([&path], &live), [2].into());
        // Review plans two configs against one read: the union, each id once.
        assert_eq!(detail_reads([&tags, &path, &tags], &live), [1, 2].into());
    }

    #[test]
    fn nothing_to_read_when_the_list_carries_the_fields_or_they_are_not_managed() {
        let tags = desired(vec![with("acme", |d| d.settings.tags_filter = "^v".into())]);
        // The extended list reports the fields: known, compared, never read again.
        let mut extended = live();
        for l in &mut extended.integrations {
            l.unknown = [Field::FetchRefspecs].into();
        }
        assert!(detail_reads([&tags], &extended).is_empty());
        // Refspecs alone are in no answer: reading the integration would not help.
        let refspecs = desired(vec![with("acme", |d| {
            d.settings.fetch_refspecs = vec!["+refs/pull/*:refs/remotes/pull/*".into()];
        })]);
        assert!(detail_reads([&refspecs], &live()).is_empty());
        // Whitespace only is the empty filter; an ignored field is not compared.
        let blank = desired(vec![with("acme", |d| d.settings.tags_filter = "  ".into())]);
        assert!(detail_reads([&blank], &live()).is_empty());
        let ignored = desired(vec![with("acme", |d| {
            d.settings.tags_filter = "^v".into();
            d.ignore.insert(Field::TagsFilter);
        })]);
        assert!(detail_reads([&ignored], &live()).is_empty());
        // A declaration that matches nothing is a create: nothing to read.
        let missing = desired(vec![with("gamma", |d| {
            d.settings.api_filter = "[?x]".into()
        })]);
        assert!(detail_reads([&missing], &live()).is_empty());
    }

    #[test]
    fn a_declaration_matched_by_pin_is_read_under_the_pinned_id() {
        let d = desired(vec![with("other-owner", |d| {
            d.pinned_id = Some(2);
            d.owner = "beta".into();
            d.settings.api_filter = "[?contains(name, 'x')]".into();
        })]);
        assert_eq!(detail_reads([&d], &live()), [2].into());
    }

    /// The read and the merge together take the field out of `unknown`, so the plan compares
    /// it: a hand edit on the site shows as a change, and only refspecs stay unverified.
    #[test]
    fn merged_detail_makes_the_plan_see_a_hand_edit() {
        let mut live = live();
        let d = desired(vec![with("acme", |d| d.settings.tags_filter = "^v".into())]);
        let before = crate::plan::plan(&d, &live, &PlanOptions::default()).unwrap();
        assert!(before.actions.is_empty(), "{before:?}");
        assert!(
            before.warnings.iter().any(|w| w.contains("tags-filter")),
            "{:?}",
            before.warnings
        );
        let detail = wire::Integration {
            id: Some(1),
            integration_type: Some("GITHUB".into()),
            origin: Some("https://api.github.com/".into()),
            tags_filter: Some(" .* ".into()),
            api_path: Some(String::new()),
            api_filter: Some(String::new()),
            ..wire::Integration::default()
        };
        for id in detail_reads([&d], &live) {
            merge_detail(&mut live, id, Some(&detail)).unwrap();
        }
        assert_eq!(live.get(1).unwrap().settings.tags_filter, ".*");
        assert_eq!(live.get(1).unwrap().unknown, [Field::FetchRefspecs].into());
        assert_eq!(live.get(2).unwrap().unknown.len(), 4, "not read");
        let after = crate::plan::plan(&d, &live, &PlanOptions::default()).unwrap();
        assert_eq!(after.actions.len(), 1, "{after:?}");
        assert!(
            after.warnings.iter().all(|w| !w.contains("tags-filter")),
            "{:?}",
            after.warnings
        );
    }
}
