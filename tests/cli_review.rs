//! End-to-end tests of `gijctl review`: the real binary against a real dev-server over
//! loopback. A pull request that changes gij.toml to the value the site already drifted to
//! adopts the drift: not a change to the site, not a conflict.

mod common;

use common::site::{Site, code, stderr, stdout};
use serde_json::{Value, json};

const GH_TOKEN: &str = "dev-gh-review-token";

/// One GitHub organisation with two repositories, already integrated as the base config says.
fn site() -> Site {
    let seed = json!({
        "projects": [{"id": 10000, "key": "OPS", "name": "Operations"}],
        "catalog": {"services": [{
            "type": "GITHUB", "origin": "https://api.github.com",
            "groups": [{"name": "acme", "repositories": [{"name": "api"}, {"name": "docs"}]}],
            "tokens": [{"value": GH_TOKEN, "groups": ["acme"]}]
        }]},
    });
    Site::start(&seed, |_| {}).with_env("GH_TOKEN", GH_TOKEN)
}

const BASE: &str = r#"version = 1

[integrations.acme]
service = "github"
owner = "acme"
credential = "env:GH_TOKEN"
projects = ["OPS"]
"#;

fn review(site: &Site, head: &str, format: &str) -> std::process::Output {
    site.write("base.toml", BASE);
    site.write("head.toml", head);
    site.run(&[
        "review",
        "--base",
        "base.toml",
        "-c",
        "head.toml",
        "--format",
        format,
        "--detailed-exitcode",
    ])
}

#[test]
fn adopting_drift_is_its_own_class_and_exits_0() {
    let site = site();
    site.write("base.toml", BASE);
    let o = site.run(&[
        "apply",
        "-c",
        "base.toml",
        "--auto-approve",
        "--poll-interval",
        "10ms",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Someone turns smart commits off in GIJ's UI; the pull request writes that into gij.toml.
    let id = *site
        .server()
        .state_snapshot()
        .integrations
        .keys()
        .next()
        .unwrap();
    site.edit_integration(id, &json!({"smartCommitsEnabled": false}));
    let head = format!("{BASE}smart-commits = false\n");

    let o = review(&site, &head, "json");
    assert_eq!(
        code(&o),
        0,
        "adopting drift is not a conflict (9) nor a change (2): {}",
        stdout(&o)
    );
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["conflicts"], json!([]), "{v:#}");
    assert_eq!(v["changes"], json!([]), "{v:#}");
    assert_eq!(v["summary"]["adoptions"], 1);
    let a = &v["adoptions"][0];
    assert_eq!(
        a["subject"],
        json!({"kind": "field", "field": "smart-commits"})
    );
    assert_eq!(a["live"], json!(false));
    assert_eq!(a["base"], json!(true));
    assert_eq!(a["adopted_by"], "value");

    let o = review(&site, &head, "text");
    assert_eq!(code(&o), 0);
    let text = stdout(&o);
    assert!(text.contains("Adopts drift"), "{text}");
    assert!(text.contains("smart-commits: live false stays"), "{text}");
    assert!(!text.contains("Conflicts"), "{text}");

    let o = review(&site, &head, "markdown");
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).contains("#### Adopts drift"), "{}", stdout(&o));

    // Adopting the drift and changing something else: the change decides the code (2).
    let o = review(&site, &format!("{head}tags-filter = \"^v.*\"\n"), "json");
    assert_eq!(code(&o), 2, "{}", stdout(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["summary"]["adoptions"], 1);
    assert_eq!(v["summary"]["changes"], 1);

    // A third value where the site drifted is still a conflict (9): someone must decide.
    site.edit_integration(id, &json!({"tagsFilter": "^hand-.*"}));
    let o = review(&site, &format!("{head}tags-filter = \"^v.*\"\n"), "json");
    assert_eq!(code(&o), 9, "{}", stdout(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["conflicts"][0]["subject"]["field"], "tags-filter");
    assert_eq!(v["summary"]["adoptions"], 1);

    assert!(!stdout(&o).contains(GH_TOKEN) && !stderr(&o).contains(GH_TOKEN));
}
