//! What a person does in GIJ's web UI, per git service and authentication method.
//!
//! Everything a runbook says about the UI comes from here, so that `gijctl runbook`, the manual
//! steps in `gijctl plan`/`apply` output and the docs agree. Facts come from GitKraken's help
//! site (slugs as in `docs/runbook.md`, `CL/` for Cloud pages, `DC/` for Data Center pages);
//! where the docs are silent or contradict each other the text says it is an inference.

use serde_json::Value;

use crate::model::{AuthMethod, Field, Service, Settings};

/// Which GIJ edition the runbook is written for: the UI is nearly the same, but Cloud offers
/// fewer authentication methods per service and has no management API at all.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Edition {
    /// GIJ Data Center / Server (self-managed Jira).
    #[default]
    DataCenter,
    /// GIJ for Jira Cloud.
    Cloud,
}

impl Edition {
    /// A label for headers.
    pub fn label(self) -> &'static str {
        match self {
            Edition::DataCenter => "Data Center",
            Edition::Cloud => "Cloud",
        }
    }
}

/// Where the admin starts every creation, on both editions.
pub const ADD_INTEGRATION: &str =
    "In Jira, open Apps → Git Integration: Manage integrations → Add integration";

/// Where the admin edits an existing integration.
pub fn edit_integration(display_name: &str, id: Option<u64>) -> String {
    match id {
        Some(id) => format!(
            "In Jira, open Apps → Git Integration: Manage integrations and edit {display_name:?} (#{id})"
        ),
        None => format!(
            "In Jira, open Apps → Git Integration: Manage integrations and edit {display_name:?}"
        ),
    }
}

/// The name of the service's tile in GIJ's "Add integration" wizard.
pub fn wizard_label(s: Service) -> &'static str {
    match s {
        Service::Github => "GitHub.com",
        Service::GithubEnterprise => "GitHub Enterprise",
        Service::Gitlab => "GitLab.com",
        Service::GitlabSelfManaged => "GitLab Server (self-managed)",
        Service::AzureDevops => "Azure DevOps (Azure Repos / VSTS)",
        Service::AzureDevopsServer => "Azure DevOps Server / TFS",
        Service::Bitbucket => "Bitbucket Cloud",
        Service::BitbucketDataCenter => "Bitbucket Data Center",
        Service::AwsCodecommit => "AWS CodeCommit",
        Service::Gerrit => "Gerrit",
        Service::PlainGit => "Git repository (SSH/HTTPS)",
    }
}

/// What the service calls the thing an integration connects (GIJ's `group`).
pub fn owner_word(s: Service) -> &'static str {
    match s {
        Service::Github | Service::GithubEnterprise => "organization",
        Service::Gitlab | Service::GitlabSelfManaged => "group",
        Service::AzureDevops => "organization",
        Service::AzureDevopsServer => "collection project",
        Service::Bitbucket => "workspace",
        Service::BitbucketDataCenter => "project",
        Service::AwsCodecommit => "account",
        Service::Gerrit => "project",
        Service::PlainGit => "repository",
    }
}

/// What the Cloud "Setting up integrations" table offers for one service
/// (`CL/setting-up-integrations-gij-cloud`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloudOffer {
    /// The "OAuth" (full-feature auto-connect) column.
    pub oauth: bool,
    /// The "PAT" column.
    pub pat: bool,
    /// The "Webhook" (webhook-indexing integration) column.
    pub webhook: bool,
}

/// The Cloud table row for a service. GitHub Enterprise and GitLab self-managed share their
/// SaaS rows; Bitbucket Data Center is read as the table's only Bitbucket row; plain git is not
/// in the table (`None`).
///
/// AWS CodeCommit and Gerrit authenticate with access keys and a user/password, which gijctl
/// models as `auth = "pat"`; the table has no PAT for them but their Cloud guides connect with
/// exactly those credentials in the full-feature flow, so for them gijctl's `pat` is checked
/// against the "OAuth" column (an inference, documented in docs/runbook.md).
pub fn cloud_offer(s: Service) -> Option<CloudOffer> {
    let o = |oauth, pat, webhook| {
        Some(CloudOffer {
            oauth,
            pat,
            webhook,
        })
    };
    match s {
        Service::Github | Service::GithubEnterprise => o(true, true, true),
        Service::Gitlab | Service::GitlabSelfManaged => o(false, true, true),
        Service::AzureDevops => o(true, true, true),
        Service::AzureDevopsServer => o(true, false, true),
        Service::AwsCodecommit => o(true, false, false),
        Service::Gerrit => o(true, false, true),
        Service::Bitbucket | Service::BitbucketDataCenter => o(true, false, false),
        Service::PlainGit => None,
    }
}

/// Whether the service's "PAT" in gij.toml is really a key pair or user/password.
fn password_style(s: Service) -> bool {
    s.requires_username()
}

/// Whether GIJ Cloud offers `auth` for `s`; `Err` carries the alternatives to suggest.
pub fn cloud_allows(s: Service, auth: AuthMethod) -> Result<(), Vec<String>> {
    let Some(offer) = cloud_offer(s) else {
        return Err(vec![
            "GIJ Cloud's integration table does not list plain git hosts; connect the \
             repository through one of the listed git services"
                .to_owned(),
        ]);
    };
    let ok = match auth {
        AuthMethod::Oauth => offer.oauth,
        AuthMethod::Pat if password_style(s) => offer.oauth,
        AuthMethod::Pat => offer.pat,
    };
    if ok {
        return Ok(());
    }
    let mut alt = Vec::new();
    match auth {
        AuthMethod::Oauth if offer.pat => alt.push(
            "set `auth = \"pat\"` and a `credential` reference (a personal access token)"
                .to_owned(),
        ),
        AuthMethod::Pat if offer.oauth => alt.push(
            "set `auth = \"oauth\"` and remove `credential` (connect in the browser)".to_owned(),
        ),
        _ => {}
    }
    if offer.webhook {
        alt.push(
            "create a webhook-indexing integration by hand (no history backfill, no cloning; \
             gijctl does not manage it)"
                .to_owned(),
        );
    }
    Err(alt)
}

/// The scopes a service's token needs, with the documentation they come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scopes {
    /// What to grant, in the service's own words.
    pub grant: &'static str,
    /// Where that comes from.
    pub source: &'static str,
}

/// The token scopes GIJ needs per service. GitHub and GitLab are documented by GitKraken; the
/// others name what GIJ reads (repositories, commits) and are marked as inferences.
pub fn scopes(s: Service) -> Scopes {
    match s {
        Service::Github | Service::GithubEnterprise => Scopes {
            grant: "`repo` (all of it), `read:org` and `user:email`",
            source: "CL/creating-personal-access-tokens-gij-cloud (repo); \
                     CL/pull-request-timeline-for-signals-gij-cloud (read:org, user:email)",
        },
        Service::Gitlab | Service::GitlabSelfManaged => Scopes {
            grant: "`api` (at least `read_api` with the Reporter role when branches and merge \
                    requests are never created from Jira)",
            source: "CL/creating-personal-access-tokens-gij-cloud (api); \
                     CL/pull-request-timeline-for-signals-gij-cloud (read_api, Reporter)",
        },
        Service::AzureDevops | Service::AzureDevopsServer => Scopes {
            grant: "Code: Read (Read & write to create branches and pull requests from Jira)",
            source: "CL/creating-personal-access-tokens-gij-cloud lists the Azure steps; the \
                     scope names are an inference from what GIJ reads",
        },
        Service::Bitbucket | Service::BitbucketDataCenter => Scopes {
            grant: "repository read (write to create branches and pull requests from Jira)",
            source: "an inference: GitKraken documents no Bitbucket token scopes",
        },
        Service::AwsCodecommit => Scopes {
            grant: "an IAM user whose policy allows reading CodeCommit (for example \
                    AWSCodeCommitReadOnly)",
            source: "CL/creating-personal-access-tokens-gij-cloud (AWS CodeCommit credentials); \
                     the policy name is an inference",
        },
        Service::Gerrit => Scopes {
            grant: "a Gerrit HTTP password of a user that can read the project's refs",
            source: "an inference: GitKraken's Gerrit guide connects with user and password",
        },
        Service::PlainGit => Scopes {
            grant: "read access to the repository",
            source: "an inference",
        },
    }
}

/// What a creation step needs to know about the integration.
#[derive(Debug, Clone)]
pub struct CreateFacts<'a> {
    /// The git service.
    pub service: Service,
    /// PAT or OAuth.
    pub auth: AuthMethod,
    /// Normalised origin.
    pub origin: &'a str,
    /// The owner (GIJ `group`).
    pub owner: &'a str,
    /// The credential reference (`env:NAME` / `file:PATH`), never a value.
    pub credential: Option<String>,
    /// Username for password-style services.
    pub username: Option<&'a str>,
    /// AWS region.
    pub aws_region: Option<&'a str>,
    /// Several OAuth integrations are declared: cached browser logins would be reused.
    pub several_oauth_accounts: bool,
    /// The edition.
    pub edition: Edition,
}

/// The lines that connect the integration: wizard tile, host, authentication, owner.
pub fn connect_lines(f: &CreateFacts<'_>) -> Vec<String> {
    let mut out = vec![format!("Choose **{}**", wizard_label(f.service))];
    if f.service.requires_host() {
        out.push(format!("Enter the server URL `{}`", f.origin));
    }
    let cred = f
        .credential
        .clone()
        .unwrap_or_else(|| "the credential reference in gij.toml".to_owned());
    match f.auth {
        AuthMethod::Oauth => {
            if f.several_oauth_accounts {
                out.push(
                    "Open a private browser window first: gij.toml declares several OAuth \
                     integrations, and a cached login would connect the wrong service account"
                        .to_owned(),
                );
            }
            out.push(format!(
                "Pick **OAuth** (auto-connect) and sign in to {} as the service account that \
                 can see {} `{}`; grant GIJ access when asked",
                wizard_label(f.service),
                owner_word(f.service),
                f.owner
            ));
            if f.edition == Edition::Cloud {
                out.push(
                    "With OAuth, GIJ Cloud creates the indexing triggers (webhooks) itself"
                        .to_owned(),
                );
            }
        }
        AuthMethod::Pat => match f.service {
            Service::AwsCodecommit => {
                out.push(format!(
                    "Access key ID: `{}`; secret access key: the value of `{cred}` (never \
                     paste it anywhere else)",
                    f.username.unwrap_or("(see gij.toml)")
                ));
                if let Some(r) = f.aws_region {
                    out.push(format!("Region: `{r}`"));
                }
                let s = scopes(f.service);
                out.push(format!("Use {} (source: {})", s.grant, s.source));
            }
            Service::Gerrit => {
                out.push(format!(
                    "Username: `{}`; password: the value of `{cred}`",
                    f.username.unwrap_or("(see gij.toml)")
                ));
                let s = scopes(f.service);
                out.push(format!("Use {} (source: {})", s.grant, s.source));
            }
            _ => {
                out.push(format!(
                    "Pick **Personal access token** and paste the value of `{cred}`"
                ));
                let s = scopes(f.service);
                out.push(format!(
                    "The token needs {} (source: {})",
                    s.grant, s.source
                ));
            }
        },
    }
    if f.service != Service::PlainGit {
        out.push(format!(
            "Select the {} `{}`",
            owner_word(f.service),
            f.owner
        ));
    }
    out
}

/// The UI location and label of a setting: (page, label).
pub fn setting_ui(f: Field) -> (&'static str, &'static str) {
    const CONN: &str = "Connection settings";
    const ADV: &str = "Connection settings → Advanced";
    const FEAT: &str = "Feature settings";
    match f {
        Field::DisplayName => (CONN, "Display Name"),
        Field::Enabled => (CONN, "Enable this integration"),
        Field::RequireUserPat => (FEAT, "Require User PAT"),
        Field::SmartCommits => (FEAT, "Smart Commits"),
        Field::RepositoryBrowser => (FEAT, "Repository Browser"),
        Field::DiffViewing => (FEAT, "Source Code Diff Viewing"),
        Field::RevisionIndexing => (FEAT, "Revision indexing"),
        Field::CommitEmails => (FEAT, "Commit Notification Emails"),
        Field::CommitEmailMaxAgeMinutes => {
            (FEAT, "Commit Notification Emails: max commit age (minutes)")
        }
        Field::TagsFilter => (FEAT, "Tags: show only tags matching"),
        Field::PrHideFilter => (FEAT, "Hide pull requests matching"),
        Field::SslVerify => (CONN, "SSL Verify"),
        Field::TrustFolderStat => (CONN, "TrustFolderStat"),
        Field::FetchNotes => (ADV, "Fetch refspec: refs/notes/*"),
        Field::FetchChanges => (ADV, "Fetch refspec: refs/changes/*"),
        Field::FetchRefspecs => (ADV, "Fetch refspec: custom"),
        Field::ApiPath => (ADV, "Custom API Path"),
        Field::ApiFilter => (ADV, "JMESPath Filters"),
        Field::Projects => (FEAT, "Project permissions"),
        Field::Repositories => ("Choose Repositories", "repositories"),
    }
}

/// A setting value as a person types or toggles it.
pub fn value_text(v: &Value) -> String {
    match v {
        Value::Bool(true) => "on".to_owned(),
        Value::Bool(false) => "off".to_owned(),
        Value::String(s) if s.is_empty() => "empty".to_owned(),
        Value::String(s) => format!("`{s}`"),
        Value::Array(a) if a.is_empty() => "empty".to_owned(),
        Value::Array(a) => a
            .iter()
            .map(|x| match x {
                Value::String(s) => format!("`{s}`"),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

/// The instruction to set one field to `v`.
pub fn set_field(f: Field, v: &Value) -> String {
    let (page, label) = setting_ui(f);
    match v {
        Value::Bool(b) => format!("{page}: turn **{label}** {}", if *b { "on" } else { "off" }),
        _ => format!("{page}: set **{label}** to {}", value_text(v)),
    }
}

/// [`set_field`] without the page, for step titles.
pub fn set_field_title(f: Field, v: &Value) -> String {
    let full = set_field(f, v);
    let page = setting_ui(f).0;
    full.strip_prefix(&format!("{page}: "))
        .map_or(full.clone(), str::to_owned)
}

/// GIJ's own defaults for a new integration: gijctl's [`Settings::default`] except Require
/// User PAT, which GIJ leaves off.
pub fn gij_defaults() -> Settings {
    Settings {
        require_user_pat: false,
        ..Settings::default()
    }
}

/// Why an integration keeps Require User PAT off, for the post-creation step.
pub fn require_user_pat_off_reason(service: Service, repository_browser: bool) -> String {
    if !crate::config::validate::supports_user_pat(service) {
        format!(
            "{} does not support Require User PAT, so it stays off",
            wizard_label(service)
        )
    } else if !repository_browser {
        "gij.toml turns the repository browser off, and Require User PAT needs it: branches \
         and pull requests created from Jira use the integration's account"
            .to_owned()
    } else {
        "gij.toml sets `require-user-pat = false`: branches and pull requests created from \
         Jira use the integration's account instead of each user's token (GIJ recommends on)"
            .to_owned()
    }
}

/// The manual steps of an OAuth creation, as plan and apply list them (Data Center has no API
/// for OAuth consent). Shared with the runbook so both say the same thing.
pub fn oauth_create_instructions(
    service: Service,
    origin: &str,
    owner: &str,
    display_name: &str,
) -> Vec<String> {
    let facts = CreateFacts {
        service,
        auth: AuthMethod::Oauth,
        origin,
        owner,
        credential: None,
        username: None,
        aws_region: None,
        several_oauth_accounts: false,
        edition: Edition::DataCenter,
    };
    let mut out = vec![ADD_INTEGRATION.to_owned()];
    out.extend(
        connect_lines(&facts)
            .into_iter()
            .map(|l| l.replace("**", "")),
    );
    out.push(format!("Name it {display_name:?}"));
    out.push("Run `gijctl plan` again: gijctl then manages its settings".to_owned());
    out
}
