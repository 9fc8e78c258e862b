//! apply: runs a plan against a site through [`crate::api::GijApi`], settings first, then
//! indexing steps gated by a sliding window of indexing slots, deletions last.
pub mod eta;
pub mod events;
pub mod executor;
pub mod request;
pub mod safety;
pub mod steps;
#[cfg(test)]
mod tests;
