//! Errors of the API layer. Messages say what failed, where, and what to do; never the token.
//!
//! Every variant that comes from an HTTP exchange carries the method and the URL (which never
//! holds credentials: the client refuses endpoints with user info and sends the token only in a
//! header). Text taken from a server answer is sanitised and has the token masked before it is
//! stored here, because a misconfigured proxy could echo request headers into an error page.

use crate::secret::SecretError;

/// A failed API call.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401: the token was refused.
    #[error(
        "{method} {url}: 401 Unauthorized: the API token was refused; check the token reference \
         (`--token`, default `env:GIJ_TOKEN`) and that the Jira personal access token is valid"
    )]
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
    /// 404: the thing addressed does not exist (or the base URL is wrong).
    #[error(
        "{method} {url}: 404 Not Found: {what} does not exist{}",
        suffix(message)
    )]
    NotFound {
        /// HTTP method.
        method: String,
        /// URL.
        url: String,
        /// What was looked for, e.g. "integration 7", so the message reads without the URL.
        what: String,
        /// The server's `error`/`advice`, if it sent any.
        message: String,
    },
    /// 409: the change conflicts with the site's current state.
    #[error("{method} {url}: 409 Conflict: {message}")]
    Conflict {
        /// HTTP method.
        method: String,
        /// URL.
        url: String,
        /// The server's `error` (and `advice`).
        message: String,
    },
    /// A create found its integration already on the site: something (most likely another
    /// apply running at the same time) created it after the plan was made.
    #[error(
        "{what} already exists on the site (id {ids}) although the plan was to create it: another \
         apply or a person created it meanwhile; nothing was created. Run `gijctl plan` again"
    )]
    AlreadyExists {
        /// The identity (type, origin, group).
        what: String,
        /// The ids found, comma-separated.
        ids: String,
    },
    /// 422: the site refused the request's content (bad credentials, OAuth create, ...).
    #[error("{method} {url}: 422 Unprocessable: {error}{}", advice_suffix(advice.as_deref()))]
    Unprocessable {
        /// HTTP method.
        method: String,
        /// URL.
        url: String,
        /// The server's `error`.
        error: String,
        /// The server's `advice`, which tells the user what to do.
        advice: Option<String>,
    },
    /// A 5xx answer (after the retries the policy allows, see [`ApiError::GaveUp`]).
    #[error("{method} {url}: {status} server error: {message}")]
    Server {
        /// HTTP method.
        method: String,
        /// URL.
        url: String,
        /// HTTP status code (500–599).
        status: u16,
        /// The server's message or a summary of its body.
        message: String,
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
    /// A 2xx answer whose body says `"success": false`: GIJ reports some failures this way.
    #[error("{method} {url}: the site answered success=false: {message}")]
    Unsuccessful {
        /// HTTP method.
        method: String,
        /// URL.
        url: String,
        /// The server's `error` (and `advice`).
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
    /// The answer body exceeded the size the client is willing to buffer.
    #[error("{method} {url}: the answer is larger than {limit_bytes} bytes; refusing to read it")]
    TooLarge {
        /// HTTP method.
        method: String,
        /// URL.
        url: String,
        /// The cap that was exceeded.
        limit_bytes: usize,
    },
    /// The server redirected somewhere the client will not follow with the token.
    #[error(
        "{method} {url}: redirected to another origin ({location}); the token is only sent to \
         the configured endpoint: use the final URL as the endpoint if it is trusted"
    )]
    Redirect {
        /// HTTP method.
        method: String,
        /// URL.
        url: String,
        /// Where the server wanted to send the request (scheme, host and port only).
        location: String,
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
    /// A read whose answers do not fit together (an id twice, pages that do not join up,
    /// repositories of an integration the list lacks, more pages than gijctl reads): nothing is
    /// planned or changed from it. See [`super::consistency`].
    #[error(
        "{method} {url}: the site's {list} read is inconsistent: {problem}; gijctl does not act \
         on an inconsistent read (nothing was changed because of it). Run again; if it persists, \
         the site (or a proxy in front of it) answers lists wrongly"
    )]
    Inconsistent {
        /// HTTP method.
        method: String,
        /// URL of the list (its first page).
        url: String,
        /// The list (`integrations`, `repositories`), or `site` for a rule across lists.
        list: String,
        /// What did not fit, naming the id or page.
        problem: String,
    },
    /// A list needs more pages than gijctl reads of one list (or says it does, with a huge
    /// `total`, or never says its last page): refused, never read forever.
    #[error(
        "{method} {url}: the site's {list} list is too long to read: {problem}; gijctl does not \
         plan on part of a list (nothing was changed because of it)"
    )]
    TooManyPages {
        /// HTTP method.
        method: String,
        /// URL of the list (its first page).
        url: String,
        /// The list (`integrations`, `repositories`).
        list: String,
        /// How many pages, and why.
        problem: String,
    },
    /// The site asked to wait (`Retry-After`) longer than the request's time budget has left:
    /// gijctl gives up at once instead of sleeping for nothing.
    #[error(
        "{method} {url}: the site asked to wait {asked_secs:.0} s before retrying, more than the \
         {left_secs:.1} s left of this request's {budget_secs:.0} s budget (--max-attempts × \
         --request-timeout); gijctl gives up now: retry later, or raise --request-timeout or \
         --max-attempts"
    )]
    WaitTooLong {
        /// HTTP method.
        method: String,
        /// URL.
        url: String,
        /// The wait the site asked for, in seconds.
        asked_secs: f64,
        /// What was left of the budget, in seconds.
        left_secs: f64,
        /// The request's whole time budget, in seconds.
        budget_secs: f64,
        /// The answer that asked to wait.
        #[source]
        last: Box<ApiError>,
    },
    /// The endpoint is not usable (bad URL, plain HTTP to a non-loopback host).
    #[error("{0}")]
    Endpoint(String),
    /// A client setting is out of range.
    #[error("invalid API client setting: {0}")]
    InvalidConfig(String),
    /// The API token reference could not be read.
    #[error("cannot read the API token from `{reference}`")]
    Token {
        /// The reference as given (`env:NAME` or `file:PATH`), never the value.
        reference: String,
        /// Why it could not be read.
        #[source]
        source: SecretError,
    },
}

fn suffix(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    }
}

fn advice_suffix(advice: Option<&str>) -> String {
    match advice {
        Some(a) if !a.trim().is_empty() => format!(" (advice: {a})"),
        _ => String::new(),
    }
}

impl ApiError {
    /// Returns the HTTP status of the answer behind this error, looking through
    /// [`ApiError::GaveUp`], so callers can branch on it without matching every variant.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Unauthorized { .. } => Some(401),
            ApiError::Forbidden { .. } => Some(403),
            ApiError::NotFound { .. } => Some(404),
            ApiError::Conflict { .. } => Some(409),
            ApiError::Unprocessable { .. } => Some(422),
            ApiError::Server { status, .. } | ApiError::Status { status, .. } => Some(*status),
            ApiError::GaveUp { last, .. } | ApiError::WaitTooLong { last, .. } => last.status(),
            _ => None,
        }
    }

    /// Whether the error is a 404, so that "already gone" can be treated as success by callers
    /// that delete.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}
