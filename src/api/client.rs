//! STUB: the HTTP client; the client helper replaces this file.

use super::{ApiError, GijApi, LiveSite, wire};

/// The reqwest client for a GIJ site.
#[derive(Debug, Clone)]
pub struct Client {}

impl Client {
    /// Builds a client from `--endpoint` (or `GIJ_URL`) and `GIJ_TOKEN`.
    pub fn from_env(_endpoint: Option<&str>) -> Result<Client, ApiError> {
        Err(ApiError::Endpoint(
            "the API client is not implemented yet".into(),
        ))
    }
}

impl GijApi for Client {
    async fn read_site(&self) -> Result<LiveSite, ApiError> {
        Err(ApiError::Endpoint("not implemented".into()))
    }
    async fn get_integration(&self, _id: u64) -> Result<Option<wire::Integration>, ApiError> {
        Err(ApiError::Endpoint("not implemented".into()))
    }
    async fn list_repositories(&self, _id: u64) -> Result<Vec<wire::Repository>, ApiError> {
        Err(ApiError::Endpoint("not implemented".into()))
    }
    async fn create_integration(
        &self,
        _r: &wire::IntegrationRequest,
    ) -> Result<wire::Integration, ApiError> {
        Err(ApiError::Endpoint("not implemented".into()))
    }
    async fn update_integration(
        &self,
        _id: u64,
        _r: &wire::IntegrationRequest,
    ) -> Result<wire::Integration, ApiError> {
        Err(ApiError::Endpoint("not implemented".into()))
    }
    async fn delete_integration(&self, _id: u64) -> Result<(), ApiError> {
        Err(ApiError::Endpoint("not implemented".into()))
    }
    async fn set_disabled(&self, _id: u64, _d: bool) -> Result<(), ApiError> {
        Err(ApiError::Endpoint("not implemented".into()))
    }
}
