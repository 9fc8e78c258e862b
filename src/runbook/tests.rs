//! Unit tests of the runbook: waves, per-service instructions, Cloud validation, `--check`.

use std::collections::BTreeSet;

use proptest::prelude::*;

use super::check::check;
use super::{Edition, Expect, Inputs, Runbook, RunbookError, SectionKind, StepKind, StepStatus};
use crate::api::LiveSite;
use crate::model::{AuthMethod, DesiredIntegration, DesiredState, Service};
use crate::plan::simulate::simulate_apply;
use crate::plan::testkit::{desired, keys};
use crate::secret::SecretRef;

fn integration(key: &str, service: Service, auth: AuthMethod, i: usize) -> DesiredIntegration {
    let mut d = desired(key, service, &format!("owner-{i}"), i);
    d.auth = auth;
    d.credential = match auth {
        AuthMethod::Pat => Some(SecretRef::Env(format!("TOKEN_{i}"))),
        AuthMethod::Oauth => None,
    };
    if service.requires_username() {
        d.username = Some("svc-user".into());
    }
    if service == Service::AwsCodecommit {
        d.aws_region = Some("eu-west-1".into());
    }
    if !crate::config::validate::supports_user_pat(service) {
        d.settings.require_user_pat = false;
    }
    d.projects = keys(&["OPS"]);
    d
}

fn state(integrations: Vec<DesiredIntegration>, slots: u32) -> DesiredState {
    let mut s = DesiredState {
        integrations,
        policy: Default::default(),
    };
    s.policy.max_parallel_indexing = slots;
    s
}

fn build(d: &DesiredState, edition: Edition) -> Result<Runbook, RunbookError> {
    super::build(&Inputs {
        desired: d,
        site: &LiveSite::default(),
        discovered: &[],
        edition,
        config_label: "gij.toml".into(),
        state_label: "empty site".into(),
        prune: false,
        max_parallel_indexing: None,
        scope: Default::default(),
    })
}

fn waves(r: &Runbook) -> Vec<&super::Section> {
    r.sections
        .iter()
        .filter(|s| matches!(s.kind, SectionKind::Wave { .. }))
        .collect()
}

/// Integrations whose creation starts indexing in a wave (named by its gate).
fn gated(s: &super::Section) -> Vec<String> {
    s.steps
        .iter()
        .filter(|st| st.kind == StepKind::Wait)
        .flat_map(|st| st.expect.iter())
        .flat_map(|e| match e {
            Expect::Indexed { targets } => targets.iter().map(|t| t.owner.clone()).collect(),
            _ => Vec::new(),
        })
        .collect()
}

const SERVICES: [Service; 11] = Service::ALL;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever the mix of services, auth methods, orders and disabled integrations, no wave
    /// starts more than N initial indexings, each wave ends with its gate, every creation
    /// appears exactly once, and the gate names exactly the wave's indexing creations.
    #[test]
    fn waves_never_exceed_n(
        specs in proptest::collection::vec((0usize..11, any::<bool>(), any::<bool>(), proptest::option::of(0i64..3)), 0..14),
        slots in 1u32..5,
    ) {
        let mut ds = Vec::new();
        for (i, (s, oauth, enabled, order)) in specs.iter().enumerate() {
            let service = SERVICES[*s];
            let auth = if (*oauth && service.supports_oauth()) || !service.supports_pat() {
                AuthMethod::Oauth
            } else {
                AuthMethod::Pat
            };
            let mut d = integration(&format!("k{i}"), service, auth, i);
            d.settings.enabled = *enabled;
            d.order = *order;
            ds.push(d);
        }
        let d = state(ds, slots);
        let r = build(&d, Edition::DataCenter).unwrap();
        for w in waves(&r) {
            let g = gated(w);
            prop_assert!(g.len() <= slots as usize, "{} > {slots}", g.len());
            let indexing_creates: Vec<String> = w.steps.iter()
                .filter(|s| s.kind == StepKind::Create)
                .filter(|s| d.integrations.iter().any(|i| i.key == s.key && i.settings.enabled))
                .map(|s| d.integrations.iter().find(|i| i.key == s.key).map(|i| i.owner.clone()).unwrap_or_default())
                .collect();
            prop_assert_eq!(&g, &indexing_creates);
            if !g.is_empty() {
                prop_assert_eq!(w.steps.last().map(|s| s.kind), Some(StepKind::Wait));
            }
        }
        // Disabled creations start no indexing: they are settings-phase steps, as in apply.
        let mut got: Vec<String> =
            r.steps().filter(|s| s.kind == StepKind::Create).map(|s| s.key.clone()).collect();
        let mut want: Vec<String> = d.integrations.iter().map(|i| i.key.clone()).collect();
        want.sort();
        got.sort();
        prop_assert_eq!(got, want);
        // Steps are numbered 1..n without gaps.
        let numbers: Vec<u32> = r.steps().map(|s| s.number).collect();
        prop_assert_eq!(numbers, (1..=u32::try_from(r.steps().count()).unwrap()).collect::<Vec<_>>());
    }
}

#[test]
fn creations_follow_apply_order_in_waves_of_n() {
    let mut a = integration("a", Service::Github, AuthMethod::Pat, 0);
    let b = integration("b", Service::Gitlab, AuthMethod::Pat, 1);
    let mut c = integration("c", Service::Github, AuthMethod::Oauth, 2);
    let d = integration("d", Service::AzureDevops, AuthMethod::Pat, 3);
    a.order = Some(5);
    c.order = Some(1);
    let r = build(&state(vec![a, b, c, d], 2), Edition::DataCenter).unwrap();
    let order: Vec<Vec<&str>> = waves(&r)
        .iter()
        .map(|w| {
            w.steps
                .iter()
                .filter(|s| s.kind == StepKind::Create)
                .map(|s| s.key.as_str())
                .collect()
        })
        .collect();
    // Apply's order: `order` (unset counts as 0), lower first, ties in file order; the OAuth
    // creation (made by hand) takes its place in it like any other creation.
    assert_eq!(order, [vec!["b", "d"], vec!["c", "a"]]);
    let gate = &waves(&r)[1].steps.last().unwrap().title;
    assert!(
        gate.contains("INDEXED") && gate.contains("`c` and `a`"),
        "{gate}"
    );
}

#[test]
fn every_service_and_auth_combination_has_its_own_instructions() {
    let mut seen: Vec<(Service, AuthMethod, Vec<String>)> = Vec::new();
    for (i, service) in Service::ALL.into_iter().enumerate() {
        for auth in [AuthMethod::Pat, AuthMethod::Oauth] {
            let offered = match auth {
                AuthMethod::Pat => service.supports_pat(),
                AuthMethod::Oauth => service.supports_oauth(),
            };
            if !offered {
                continue;
            }
            let d = state(vec![integration("x", service, auth, i)], 2);
            let r = build(&d, Edition::DataCenter).unwrap();
            let create = r.steps().find(|s| s.kind == StepKind::Create).unwrap();
            let text = create.details.join("\n");
            assert!(
                text.contains(super::guide::wizard_label(service)),
                "{service}: {text}"
            );
            match auth {
                AuthMethod::Oauth => assert!(text.contains("OAuth"), "{service}: {text}"),
                AuthMethod::Pat => {
                    assert!(
                        text.contains("env:TOKEN_"),
                        "{service} names the reference: {text}"
                    );
                    assert!(
                        text.contains("source:"),
                        "{service} cites its scopes: {text}"
                    );
                }
            }
            if service.requires_host() {
                assert!(text.contains("server URL"), "{service}: {text}");
            }
            seen.push((service, auth, create.details.clone()));
        }
    }
    for (i, a) in seen.iter().enumerate() {
        for b in &seen[i + 1..] {
            assert_ne!(
                a.2, b.2,
                "{}/{} and {}/{} read the same",
                a.0, a.1, b.0, b.1
            );
        }
    }
    assert!(seen.len() >= 17, "{}", seen.len());
}

#[test]
fn oauth_with_several_accounts_advises_a_private_window() {
    let one = state(
        vec![integration("a", Service::Github, AuthMethod::Oauth, 0)],
        2,
    );
    let r = build(&one, Edition::DataCenter).unwrap();
    assert!(
        !r.steps()
            .any(|s| s.details.iter().any(|d| d.contains("private browser")))
    );
    let two = state(
        vec![
            integration("a", Service::Github, AuthMethod::Oauth, 0),
            integration("b", Service::Github, AuthMethod::Oauth, 1),
        ],
        2,
    );
    let r = build(&two, Edition::DataCenter).unwrap();
    let creates: Vec<_> = r.steps().filter(|s| s.kind == StepKind::Create).collect();
    assert_eq!(creates.len(), 2);
    for c in creates {
        assert!(
            c.details.iter().any(|d| d.contains("private browser")),
            "{c:?}"
        );
    }
}

#[test]
fn require_user_pat_off_is_explained() {
    let mut d = integration("a", Service::Github, AuthMethod::Pat, 0);
    d.settings.require_user_pat = false;
    let aws = integration("b", Service::AwsCodecommit, AuthMethod::Pat, 1);
    let on = integration("c", Service::Gitlab, AuthMethod::Pat, 2);
    let r = build(&state(vec![d, aws, on], 3), Edition::DataCenter).unwrap();
    let rup = |key: &str| {
        r.steps()
            .find(|s| s.key == key && s.title.contains("Require User PAT"))
            .cloned()
            .unwrap()
    };
    assert!(rup("a").title.contains("leave"));
    assert!(
        rup("a")
            .details
            .join(" ")
            .contains("require-user-pat = false")
    );
    assert!(rup("b").details.join(" ").contains("does not support"));
    assert!(rup("c").title.contains("on"));
}

#[test]
fn cloud_refuses_combinations_it_does_not_offer_with_alternatives() {
    let d = state(
        vec![
            integration("gh", Service::Github, AuthMethod::Pat, 0),
            integration("gl", Service::Gitlab, AuthMethod::Oauth, 1),
            integration("tfs", Service::AzureDevopsServer, AuthMethod::Pat, 2),
            integration("aws", Service::AwsCodecommit, AuthMethod::Pat, 3),
        ],
        2,
    );
    let err = build(&d, Edition::Cloud).unwrap_err();
    let RunbookError::Cloud(problems) = &err else {
        panic!("{err}");
    };
    let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["gl", "tfs"]);
    let msg = err.to_string();
    assert!(msg.contains("`auth = \"pat\"`"), "{msg}");
    assert!(msg.contains("`auth = \"oauth\"`"), "{msg}");
    assert!(msg.contains("webhook-indexing"), "{msg}");
    // Data Center has no such table.
    assert!(build(&d, Edition::DataCenter).is_ok());
}

#[test]
fn never_a_secret_only_references() {
    let d = state(
        vec![integration("a", Service::Github, AuthMethod::Pat, 0)],
        2,
    );
    let r = build(&d, Edition::DataCenter).unwrap();
    let md = super::render::markdown(&r);
    assert!(md.contains("`env:TOKEN_0`"), "{md}");
}

/// `--check` against the state a perfect apply leaves marks everything done; removing one
/// integration and renaming another reopens exactly their steps.
#[test]
fn check_marks_progress() {
    let d = state(
        vec![
            integration("a", Service::Github, AuthMethod::Pat, 0),
            integration("b", Service::Gitlab, AuthMethod::Pat, 1),
            integration("c", Service::Github, AuthMethod::Pat, 2),
        ],
        2,
    );
    let mut r = build(&d, Edition::DataCenter).unwrap();
    assert!(r.steps().all(|s| s.status.is_none()));

    let before = super::live_state(&d, &LiveSite::default());
    let plan = crate::plan::plan(&d, &before, &Default::default()).unwrap();
    let discover = |_: &crate::plan::CreateSpec| vec!["repo-1".to_owned(), "repo-2".to_owned()];
    let done = simulate_apply(&before, &plan, &discover);
    check(&mut r, &done, "after.json");
    assert_eq!(r.progress(), (r.steps().count(), 0, 0));
    assert!(super::render::markdown(&r).contains("- [x] **1.**"));

    let mut partial = done.clone();
    partial.integrations.retain(|l| l.owner != "owner-2");
    if let Some(l) = partial
        .integrations
        .iter_mut()
        .find(|l| l.owner == "owner-0")
    {
        l.display_name = "something else".into();
    }
    check(&mut r, &partial, "partial.json");
    let open: BTreeSet<(String, StepKind)> = r
        .steps()
        .filter(|s| s.status == Some(StepStatus::Open))
        .map(|s| (s.key.clone(), s.kind))
        .collect();
    assert!(
        open.contains(&("a".to_owned(), StepKind::PostCreate)),
        "{open:?}"
    );
    assert!(!open.contains(&("a".to_owned(), StepKind::Create)));
    assert!(open.iter().all(|(k, _)| k == "a" || k == "c"), "{open:?}");
    let c_steps = r.steps().filter(|s| s.key == "c").count();
    let c_open = r
        .steps()
        .filter(|s| s.key == "c" && s.status == Some(StepStatus::Open))
        .count();
    assert_eq!(
        c_open, c_steps,
        "every step of the missing integration is open"
    );
    // The second wave's gate names `c` and is open.
    let gate = r
        .steps()
        .filter(|s| s.kind == StepKind::Wait)
        .last()
        .unwrap();
    assert_eq!(gate.status, Some(StepStatus::Open));
    let txt = super::render::text(&r);
    assert!(txt.contains("Checked against partial.json"), "{txt}");
}

#[test]
fn empty_runbook_says_so_in_every_format() {
    let r = build(&state(Vec::new(), 2), Edition::DataCenter).unwrap();
    assert!(r.is_empty());
    assert!(super::render::markdown(&r).contains("Nothing to do"));
    assert!(super::render::text(&r).contains("Nothing to do"));
    let v: serde_json::Value = serde_json::from_str(&super::render::json(&r)).unwrap();
    assert_eq!(v["sections"], serde_json::json!([]));
}
