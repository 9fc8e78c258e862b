//! Property test: the runbook is apply's sequence. Over generated configs and live sites (the
//! generators of `plan::props`), the runbook's steps, read as (phase, integration, kind), are
//! the steps apply's executor would run, in the order it runs them: the executor's own steps,
//! made by `apply::steps::prepare` from the same plan and split into its three phases the way
//! `executor::execute` splits them (deletes last, whatever starts indexing through the gate,
//! the rest first). And the waves cut the indexing phase into batches of at most
//! `max-parallel-indexing` indexing starts, in the order apply's schedule starts them.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::{Edition, Expect, Inputs, Runbook, SectionKind, StepKind};
use crate::api::LiveSite;
use crate::apply::executor::StepKind as ExecKind;
use crate::apply::steps::prepare;
use crate::plan::model::{Action, ActionKind, Phase};
use crate::plan::props::{config_text, decl, live, settings};
use crate::plan::{PlanOptions, plan};

/// The three phases apply runs, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Settings,
    Indexing,
    Deletions,
}

/// One step as the comparison sees it.
type Entry = (Stage, String, StepKind);

/// Drops consecutive repeats: one plan action may be several runbook steps (one per UI page)
/// or several executor requests (update, then enable), and the claim is about their order.
fn runs(v: Vec<Entry>) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::new();
    for e in v {
        if out.last() != Some(&e) {
            out.push(e);
        }
    }
    out
}

/// The runbook's steps, without the parts of a creation done on its edit page and the gates.
fn runbook_sequence(r: &Runbook) -> Vec<Entry> {
    let mut out = Vec::new();
    for s in &r.sections {
        let stage = match s.kind {
            SectionKind::Settings => Stage::Settings,
            SectionKind::Wave { .. } => Stage::Indexing,
            SectionKind::Deletions => Stage::Deletions,
        };
        for st in &s.steps {
            if !matches!(st.kind, StepKind::PostCreate | StepKind::Wait) {
                out.push((stage, st.key.clone(), st.kind));
            }
        }
    }
    runs(out)
}

/// The kind of runbook step that does what an executor step does.
fn kind_of(a: &Action, k: &ExecKind) -> StepKind {
    match (k, &a.kind) {
        (ExecKind::Create { .. }, _) => StepKind::Create,
        (ExecKind::Delete { .. }, _) => StepKind::Delete,
        (ExecKind::Update { .. }, ActionKind::RotateCredential { .. }) => StepKind::Credential,
        (ExecKind::Update { .. }, _) => StepKind::Change,
        (
            ExecKind::Enable {
                integration: true, ..
            }
            | ExecKind::Disable {
                integration: true, ..
            },
            _,
        ) => StepKind::Change,
        (ExecKind::Enable { .. } | ExecKind::Disable { .. }, _) => StepKind::Repositories,
    }
}

/// Apply's sequence: the executor's steps in its phases (each phase in its own order: plan
/// step, then request sequence), with the manual steps, which apply only reports, where the
/// plan puts them.
fn apply_sequence(actions: &[Action], steps: &[crate::apply::executor::Step]) -> Vec<Entry> {
    let by_step: BTreeMap<u32, &Action> = actions.iter().map(|a| (a.step, a)).collect();
    let mut all: Vec<(Stage, u32, u32, Entry)> = Vec::new();
    for s in steps {
        let stage = match &s.kind {
            ExecKind::Delete { .. } => Stage::Deletions,
            k if k.starts_indexing() => Stage::Indexing,
            _ => Stage::Settings,
        };
        let a = by_step[&s.step];
        all.push((
            stage,
            s.step,
            s.seq,
            (stage, s.key.clone(), kind_of(a, &s.kind)),
        ));
    }
    for a in actions {
        if let ActionKind::Manual { .. } = a.kind {
            let stage = match a.phase {
                Phase::Settings => Stage::Settings,
                Phase::Indexing => Stage::Indexing,
                Phase::Delete => Stage::Deletions,
            };
            let kind = if a.target_id.is_none() {
                StepKind::Create
            } else {
                StepKind::Credential
            };
            all.push((stage, a.step, 0, (stage, a.key.clone(), kind)));
        }
    }
    all.sort_by_key(|(stage, step, seq, _)| (*stage, *step, *seq));
    runs(all.into_iter().map(|(_, _, _, e)| e).collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    #[test]
    fn runbook_is_applys_sequence_in_waves_of_n(
        decls in prop::collection::vec(decl(), 0..7),
        defaults in settings(),
        live in live(),
        prune in any::<bool>(),
        slots in 1u32..4,
    ) {
        // File references, so that the executor's steps can be prepared (credentials read).
        let text = config_text(&decls, &defaults, prune).replace("env:TOKEN_", "file:TOKEN_");
        let dir = tempfile::tempdir().unwrap();
        for n in 0..decls.len() {
            std::fs::write(dir.path().join(format!("TOKEN_{n}")), "token").unwrap();
        }
        let d = crate::config::load_str(&text, "gij.toml")
            .map_err(|e| TestCaseError::fail(format!("{text}\n{}", e.rendered)))?;
        let inp = Inputs {
            desired: &d,
            site: &LiveSite::default(),
            discovered: &[],
            edition: Edition::DataCenter,
            config_label: "gij.toml".into(),
            state_label: "generated".into(),
            prune,
            max_parallel_indexing: Some(slots),
            scope: Default::default(),
        };
        let r = super::build_on(&inp, &live).unwrap();
        // The plan apply would run: the same states and options.
        let p = plan(&d, &live, &PlanOptions {
            prune: prune.then_some(true),
            max_parallel_indexing: Some(slots),
            ..PlanOptions::default()
        }).unwrap();
        let project_ids: BTreeMap<String, u64> = live
            .projects
            .keys()
            .filter_map(|k| live.projects.id_of(k).map(|id| (k.to_owned(), id)))
            .collect();
        let actions: Vec<&Action> = p.actions.iter().collect();
        let (steps, _manual) = prepare(&actions, &d, &project_ids, dir.path()).unwrap();

        prop_assert_eq!(
            runbook_sequence(&r),
            apply_sequence(&p.actions, &steps),
            "config:\n{}\nplan: {:#?}", text, p.actions
        );

        // Waves: each gate names the wave's indexing starts, at most N; every wave but the
        // last is full (a wave closes only when it has no slot left).
        let gates: Vec<Vec<String>> = r.sections.iter()
            .filter(|s| matches!(s.kind, SectionKind::Wave { .. }))
            .map(|s| s.steps.iter()
                .filter(|st| st.kind == StepKind::Wait)
                .flat_map(|st| st.key.split(',').map(str::to_owned))
                .collect())
            .collect();
        for (i, g) in gates.iter().enumerate() {
            prop_assert!(g.len() <= slots as usize, "{:?}", gates);
            if i + 1 < gates.len() {
                prop_assert_eq!(g.len(), slots as usize, "{:?}", gates);
            }
        }
        for s in r.steps().filter(|s| s.kind == StepKind::Wait) {
            let targets = s.expect.iter().map(|e| match e {
                Expect::Indexed { targets } => targets.len(),
                _ => 0,
            }).sum::<usize>();
            prop_assert_eq!(targets, s.key.split(',').count());
        }
        // In the order apply starts them: its schedule (which leaves out the OAuth creations a
        // person makes: the runbook gates those too, where the plan puts them).
        let manual: Vec<&str> = p.actions.iter()
            .filter(|a| matches!(a.kind, ActionKind::Manual { .. }) && a.target_id.is_none())
            .map(|a| a.key.as_str())
            .collect();
        let gated: Vec<String> = gates.concat().into_iter()
            .filter(|k| !manual.contains(&k.as_str()))
            .collect();
        let mut started: Vec<String> = Vec::new();
        for s in &p.schedule.timeline {
            if started.last() != Some(&s.key) {
                started.push(s.key.clone());
            }
        }
        prop_assert_eq!(gated, started);
    }
}
