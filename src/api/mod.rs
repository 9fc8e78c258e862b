//! The GIJ REST API: wire types, the [`GijApi`] trait that plan and apply use, and the HTTP
//! client that implements it against a real GIJ site (or `gijctl dev-server`).
//!
//! plan and apply are written against the trait, never against reqwest, so tests can drive them
//! with an in-memory fake and a future backend (GIJ Cloud, should it get an API) slots in here.

pub mod client;
pub mod consistency;
pub mod endpoint;
pub mod error;
pub mod pace;
pub mod retry;
pub mod wire;

use std::future::Future;

pub use error::ApiError;

/// Everything `plan` needs from a site, read in as few requests as the API allows.
#[derive(Debug, Clone, Default)]
pub struct LiveSite {
    /// What Jira says about itself (`GET /rest/api/2/serverInfo`): the identity a saved plan
    /// is bound to.
    pub server: wire::ServerInfo,
    /// Jira projects (to map project keys to the numeric ids GIJ stores).
    pub projects: Vec<wire::Project>,
    /// Every integration.
    pub integrations: Vec<wire::Integration>,
    /// Every repository that belongs to an integration (`trackedFolderId` set), as the lean
    /// record a whole-site read keeps (see [`wire::SiteRepository`] for why).
    pub repositories: Vec<wire::SiteRepository>,
}

/// The operations gijctl performs on a GIJ site.
///
/// Implementations own retries, rate limiting and the "no duplicate create" guarantee:
/// [`GijApi::create_integration`] must never create two integrations for one call, even when an
/// answer is lost and the request has to be retried.
pub trait GijApi: Send + Sync {
    /// Reads the whole site: Jira's server info, projects, integrations and repositories.
    fn read_site(&self) -> impl Future<Output = Result<LiveSite, ApiError>> + Send;

    /// Reads what apply's indexing gate needs to count the integrations indexing on the whole
    /// site, before each step that starts indexing: every integration, and the repositories
    /// only when the integrations' own answer cannot tell (plain GIJ sends no `indexingState`,
    /// so the status is derived from the repositories). Projects may be left out.
    ///
    /// The default reads the whole site; [`client::Client`] makes it one integration-list read
    /// against a site with the `indexingState` extension and two (integrations, repositories)
    /// against plain GIJ, which answers each whole list to one request.
    fn read_indexing(&self) -> impl Future<Output = Result<LiveSite, ApiError>> + Send {
        self.read_site()
    }

    /// GIJ's indexing status of one repository (`GET index.json?repoId=N`): the one documented
    /// answer that shows a repository's indexing error (GIJ's repository list shows no
    /// `state`). `Ok(None)` when the site does not answer it; the default never asks.
    fn repository_index_status(
        &self,
        repo_id: u64,
    ) -> impl Future<Output = Result<Option<wire::IndexStatus>, ApiError>> + Send {
        let _ = repo_id;
        async { Ok(None) }
    }

    /// Reads one integration; `Ok(None)` when it does not exist.
    fn get_integration(
        &self,
        id: u64,
    ) -> impl Future<Output = Result<Option<wire::Integration>, ApiError>> + Send;

    /// Lists the repositories of one integration.
    fn list_repositories(
        &self,
        integration_id: u64,
    ) -> impl Future<Output = Result<Vec<wire::Repository>, ApiError>> + Send;

    /// Creates an integration and returns it as the site stored it.
    fn create_integration(
        &self,
        req: &wire::IntegrationRequest,
    ) -> impl Future<Output = Result<wire::Integration, ApiError>> + Send;

    /// Updates an integration's settings (partial: only the fields set in `req`).
    fn update_integration(
        &self,
        id: u64,
        req: &wire::IntegrationRequest,
    ) -> impl Future<Output = Result<wire::Integration, ApiError>> + Send;

    /// Deletes an integration (its cloned repositories are kept: `deleteFiles=false`).
    fn delete_integration(&self, id: u64) -> impl Future<Output = Result<(), ApiError>> + Send;

    /// Enables or disables an integration or a repository (they share one id space).
    fn set_disabled(
        &self,
        id: u64,
        disabled: bool,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
}
