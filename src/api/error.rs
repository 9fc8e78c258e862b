//! Errors of the API layer. Messages say what failed, where, and what to do; never the token.

/// A failed API call.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401: the token was refused.
    #[error("{method} {url}: 401 Unauthorized: the API token was refused; check GIJ_TOKEN")]
    Unauthorized {
        /// HTTP method.
        method: String,
        /// URL (never carries the token).
        url: String,
    },
    /// 403: the token's user lacks permission.
    #[error("{method} {url}: 403 Forbidden: the token's user is not a Jira administrator")]
    Forbidden {
        /// HTTP method.
        method: String,
        /// URL.
        url: String,
    },
    /// Any other non-success answer, with the server's message.
    #[error("{method} {url}: {status}: {message}")]
    Status {
        /// HTTP method.
        method: String,
        /// URL.
        url: String,
        /// HTTP status code.
        status: u16,
        /// The server's `error` (and `advice`), or a summary of a non-JSON body.
        message: String,
    },
    /// The request could not be sent or its answer was not received.
    #[error("{method} {url}: {message}")]
    Transport {
        /// HTTP method.
        method: String,
        /// URL.
        url: String,
        /// What went wrong (connection refused, reset, timeout).
        message: String,
    },
    /// The answer was not the JSON GIJ sends.
    #[error("{method} {url}: unexpected answer: {message}")]
    Decode {
        /// HTTP method.
        method: String,
        /// URL.
        url: String,
        /// What could not be parsed.
        message: String,
    },
    /// Retries were exhausted.
    #[error("{method} {url}: gave up after {attempts} attempts in {elapsed_secs:.1}s")]
    GaveUp {
        /// HTTP method.
        method: String,
        /// URL.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// Time spent.
        elapsed_secs: f64,
        /// The last error.
        #[source]
        last: Box<ApiError>,
    },
    /// The endpoint is not usable (bad URL, plain HTTP to a non-loopback host).
    #[error("{0}")]
    Endpoint(String),
}
