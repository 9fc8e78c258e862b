//! The refusals of `rules`: one variant per rule a request can break, with GIJ's `error` text
//! (`Display`) and `advice`. The HTTP status is the handler's business (`views`), so rules and
//! their tests stay free of HTTP.

/// Why a rule refused a request; `Display` is GIJ's `error` text, [`RuleError::advice`] its
/// `advice`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(in crate::devserver) enum RuleError {
    /// A field the integration type (or a repository add) needs is absent.
    #[error("Missing required field `{field}` for integration type {ty}")]
    Missing { field: &'static str, ty: String },
    /// Not one of GIJ's integration types.
    #[error("Unknown integration type `{0}`")]
    UnknownType(String),
    /// OAuth needs a browser: GIJ's API cannot create such an integration.
    #[error("OAuth integrations cannot be created through the REST API")]
    OauthCreate,
    /// A GIJ type the dev-server does not model (FILESPACE outside the documented profile,
    /// PLAIN_GIT).
    #[error("{0} integrations are not supported by gijctl dev-server")]
    UnsupportedType(String),
    /// FILESPACE's `folderDepth` outside 1–5.
    #[error("`folderDepth` must be an integer from 1 to 5")]
    FolderDepth,
    /// `global: true` together with project ids.
    #[error("projectMappingIds cannot be set when global is true")]
    GlobalWithProjects,
    /// A project id that is not a Jira project of the site.
    #[error("Unknown Jira project id {0}")]
    UnknownProject(u64),
    /// The git service refused the credential, or it cannot see the group.
    #[error("Invalid credentials for {origin}")]
    Credentials {
        origin: String,
        problem: CredentialProblem,
    },
    /// An update that names another integration type.
    #[error("The integration type cannot be changed (is {is}, got {got})")]
    TypeChange { is: String, got: String },
    /// An update that names another authentication method.
    #[error("The authentication method cannot be changed")]
    AuthMethodChange,
    /// An update that sends a credential to an OAuth integration.
    #[error("OAuth integrations have no credential to update")]
    OauthCredential,
    /// No integration has this id.
    #[error("Integration with id={0} does not exist")]
    NoIntegration(u64),
    /// No repository (or, where GIJ says "repository" for both, integration) has this id.
    #[error("Repository with id={0} does not exist")]
    NoRepository(u64),
    /// A repository field of the wrong JSON type.
    #[error("Invalid value for `{0}`")]
    RepoField(String),
    /// A repository update without `id`.
    #[error("Missing required field `id`")]
    MissingRepoId,
}

/// What is wrong with a credential, for the advice of [`RuleError::Credentials`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::devserver) enum CredentialProblem {
    /// The catalog has no service of this type at this origin.
    NoService { ty: String },
    /// The service does not accept the secret (or username and secret).
    Refused,
    /// The credential cannot see the group.
    GroupNotVisible(String),
    /// The group does not exist on the service.
    NoSuchGroup(String),
    /// The credential sees no group at all.
    NoGroups,
    /// An update moved the integration where its stored credential cannot see.
    MovedOutOfSight,
}

impl RuleError {
    /// GIJ's `advice` for the error.
    pub(in crate::devserver) fn advice(&self) -> String {
        match self {
            RuleError::Missing { .. } => {
                "See the required connection properties per integration type in GIJ's docs".into()
            }
            RuleError::UnknownType(_) => "Use one of GITHUB, GITHUB_SERVER, GITLAB, GITLAB_SERVER, GITLAB_SERVER_LEGACY, AZURE, VSTS, AZURE_DEVOPS, TFS_SERVER, AWS, GERRIT, BITBUCKET, BITBUCKET_SERVER".into(),
            RuleError::OauthCreate => "Create this integration in Jira with a browser (Git Integration for Jira → Add integration → OAuth); once it exists gijctl can manage its settings".into(),
            RuleError::UnsupportedType(_) => "Use a git-service integration type".into(),
            RuleError::FolderDepth => "folderDepth is the depth GIJ scans the tracked folder to".into(),
            RuleError::GlobalWithProjects => {
                "Send global: false together with projectMappingIds, or global: true alone".into()
            }
            RuleError::UnknownProject(_) => "Use numeric ids from GET /rest/api/2/project".into(),
            RuleError::Credentials { origin, problem } => match problem {
                CredentialProblem::NoService { ty } => format!(
                    "The git service could not be reached with these credentials (gijctl dev-server has no {ty} service at {origin} in its catalog)"
                ),
                CredentialProblem::Refused => "The git service refused the personal access token (or username/password); check it and its expiry".into(),
                CredentialProblem::GroupNotVisible(g) => format!(
                    "The credential cannot see `{g}`; grant it access to that organisation or use another token"
                ),
                CredentialProblem::NoSuchGroup(g) => format!("`{g}` does not exist on {origin}"),
                CredentialProblem::NoGroups => "The credential cannot see any organisation".into(),
                CredentialProblem::MovedOutOfSight => "The integration's credential cannot see the new origin or group; send a new `pat`".into(),
            },
            RuleError::TypeChange { .. } => {
                "Delete the integration and create a new one of the other type".into()
            }
            RuleError::AuthMethodChange => {
                "Delete the integration and create it again with the other method".into()
            }
            RuleError::OauthCredential => "Reconnect the OAuth grant in Jira with a browser".into(),
            RuleError::NoIntegration(_) => {
                "Please try again with an existing integration id.".into()
            }
            RuleError::NoRepository(_) => "Please try again with an existing repository id.".into(),
            RuleError::RepoField(_) => "See the field types on GIJ's repository API pages".into(),
            RuleError::MissingRepoId => {
                "Send the repository id in the body: {\"id\": 3, ...}".into()
            }
        }
    }
}
