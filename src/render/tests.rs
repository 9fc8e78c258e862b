//! Snapshot tests of the three renderings on the quickstart plan (meta redacted).

use crate::plan::testkit::quickstart;
use crate::plan::{PlanMeta, PlanOptions, plan};

fn quickstart_plan(prune: bool) -> crate::plan::Plan {
    let (d, l) = quickstart();
    plan(
        &d,
        &l,
        &PlanOptions {
            prune: Some(prune),
            meta: PlanMeta {
                gijctl_version: "0.0.0-test".into(),
                created_at: Some("2026-01-01T00:00:00Z".into()),
                config_path: Some("gij.toml".into()),
                endpoint: Some("http://127.0.0.1:1".into()),
            },
            ..PlanOptions::default()
        },
    )
    .unwrap()
}

#[test]
fn text_snapshot() {
    insta::assert_snapshot!(super::text::render(&quickstart_plan(false), false));
}

#[test]
fn text_with_colour_differs_only_by_escapes() {
    let p = quickstart_plan(true);
    let plain = super::text::render(&p, false);
    let coloured = super::text::render(&p, true);
    assert!(coloured.contains('\u{1b}'));
    assert!(!plain.contains('\u{1b}'));
    let stripped =
        String::from_utf8(anstream::adapter::strip_bytes(coloured.as_bytes()).into_vec()).unwrap();
    assert_eq!(stripped, plain);
}

#[test]
fn json_snapshot() {
    let p = quickstart_plan(true);
    let v: serde_json::Value = serde_json::from_str(&super::json::render(&p)).unwrap();
    insta::assert_json_snapshot!(v, { ".meta" => "[meta]" });
}

#[test]
fn markdown_snapshot() {
    let md = super::markdown::render(&quickstart_plan(true));
    assert!(md.starts_with(super::markdown::MARKER));
    insta::assert_snapshot!(md);
}

#[test]
fn markdown_is_capped() {
    let (mut d, l) = quickstart();
    let template = d.integrations[1].clone();
    for i in 0..600 {
        let mut x = template.clone();
        x.key = format!("gen-{i}");
        x.owner = format!("owner-{i}");
        x.file_index = 10 + i;
        d.integrations.push(x);
    }
    let p = plan(&d, &l, &PlanOptions::default()).unwrap();
    let md = super::markdown::render(&p);
    assert!(md.chars().count() <= super::markdown::MAX_CHARS);
    assert!(md.contains("This comment was truncated"));
    // Balanced details blocks even when truncated.
    assert_eq!(
        md.matches("<details>").count(),
        md.matches("</details>").count()
    );
}

#[test]
fn no_changes_renders_plainly() {
    let (mut d, mut l) = quickstart();
    d.integrations.clear();
    l.integrations.clear();
    let p = plan(&d, &l, &PlanOptions::default()).unwrap();
    let t = super::text::render(&p, false);
    assert!(t.starts_with("Plan: 0 to create, 0 to update, 0 to delete, 0 manual, 0 unchanged\n"));
    assert!(t.contains("No changes."));
}

#[test]
fn creations_list_only_settings_that_differ_from_the_defaults() {
    let (mut d, l) = quickstart();
    let gitlab = d
        .integrations
        .iter_mut()
        .find(|i| i.key == "platform-gitlab")
        .unwrap();
    gitlab.settings.smart_commits = false;
    gitlab.settings.require_user_pat = false;
    gitlab.settings.tags_filter = "^v".into();
    let p = plan(&d, &l, &PlanOptions::default()).unwrap();
    for rendered in [super::text::render(&p, false), super::markdown::render(&p)] {
        let start = rendered
            .find("create gitlab-self-managed")
            .unwrap_or_else(|| {
                rendered
                    .find("<code>+ platform-gitlab</code>")
                    .expect("the creation is rendered")
            });
        let block = &rendered[start..];
        let block = &block[..block.find("other settings: defaults").expect("note")];
        assert!(block.contains("+ smart-commits = false"), "{block}");
        assert!(block.contains("+ require-user-pat = false"), "{block}");
        assert!(block.contains(r#"+ tags-filter = "^v""#), "{block}");
        assert!(!block.contains("diff-viewing"), "{block}");
        assert!(!block.contains("enabled"), "{block}");
    }
    // The plan document itself keeps every setting, for apply and automation.
    let create = p
        .actions
        .iter()
        .find_map(|a| match &a.kind {
            crate::plan::ActionKind::Create(s) if a.key == "platform-gitlab" => Some(s),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        create.settings.len(),
        crate::plan::fields::SETTINGS_FIELDS.len()
    );
}

#[test]
fn project_breakdown_reads_the_same_in_text_and_markdown() {
    let (d, mut l) = quickstart();
    l.integrations[0].projects =
        crate::model::LiveProjects::Keys(["DATA".to_owned(), "OPS".to_owned()].into());
    let p = plan(&d, &l, &PlanOptions::default()).unwrap();
    let text = super::text::render(&p, false);
    let md = super::markdown::render(&p);
    assert!(text.contains("    (projects: +API +WEB -DATA)\n"), "{text}");
    assert!(md.contains("\n  (projects: +API +WEB -DATA)\n"), "{md}");
    // Inside the diff block of acme-github, after its `-`/`+` lines.
    let block = &md[md.find("<code>~ acme-github</code>").unwrap()..];
    let block = &block[..block.find("</details>").unwrap()];
    let plus = block.find("+ projects = ").unwrap();
    assert!(block.find("(projects: +API +WEB -DATA)").unwrap() > plus);
}

/// The quickstart plan with three recorded `--allow`s: one approving a violation, one
/// approving nothing, one given for another plan.
fn with_allowances(mut p: crate::plan::Plan) -> crate::plan::Plan {
    use crate::plan::model::Allowance;
    use crate::policy::Allow;
    p.allowances = vec![
        Allowance {
            allow: Allow::RemoveProjects,
            plan_checksum: p.checksum.clone(),
            approves: vec![
                "protect-projects: step 1 changes the project associations of `acme-github`: <all>"
                    .into(),
            ],
        },
        Allowance {
            allow: Allow::WeakenRequireUserPat,
            plan_checksum: p.checksum.clone(),
            approves: vec![],
        },
        Allowance {
            allow: Allow::DeleteLongIndexing,
            plan_checksum: "0123abcd".into(),
            approves: vec!["protect-indexing-longer-than: #20".into()],
        },
    ];
    p
}

#[test]
fn text_lists_the_allowances_recorded_in_the_plan() {
    let p = quickstart_plan(false);
    assert!(!super::text::render(&p, false).contains("Approved for this plan"));
    let text = super::text::render(&with_allowances(p), false);
    // Near the top, before the per-integration blocks.
    let at = text.find("Approved for this plan").unwrap();
    assert!(at < text.find("~ acme-github").unwrap());
    insta::assert_snapshot!(text);
}

#[test]
fn markdown_lists_the_allowances_recorded_in_the_plan() {
    let p = quickstart_plan(true);
    assert!(!super::markdown::render(&p).contains("Approved for this plan"));
    let p = with_allowances(p);
    let md = super::markdown::render(&p);
    let want = "> [!IMPORTANT]\n\
        > Approved for this plan with `--allow` and raised safety limits (they approve this plan only):\n\
        \n\
        - `--allow remove-projects` approves:\n  \
          - protect-projects: step 1 changes the project associations of 'acme-github': &lt;all&gt;\n\
        - `--allow weaken-require-user-pat` approves nothing in this plan\n\
        - `--allow delete-long-indexing` was given for another plan (checksum `0123abcd`): apply ignores it\n\
        \n";
    assert!(md.contains(want), "{md}");
    // Right after the risky changes they waive, before the per-integration details.
    let at = md.find("> [!IMPORTANT]").unwrap();
    assert!(md.find("> [!WARNING]").unwrap() < at);
    assert!(at < md.find("#### Changes").unwrap());
}
