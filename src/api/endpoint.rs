//! The site's base URL: validation (HTTPS unless loopback, no credentials in the URL) and
//! building request URLs under a possible context path (`https://jira.example.com/jira`).
//!
//! Kept apart from the client so that the security rules are small, pure and unit-tested.

use std::net::IpAddr;

use url::{Host, Url};

use super::ApiError;

/// A validated GIJ site base URL, always ending with `/` so relative joins keep the context path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    base: Url,
}

impl Endpoint {
    /// The URL as a site identity: what `url` normalises (lower-case scheme and host, default
    /// port dropped), without the trailing slash, so `https://Jira.example.com/` and
    /// `https://jira.example.com` are the same site.
    pub fn identity(&self) -> String {
        self.base.as_str().trim_end_matches('/').to_owned()
    }

    /// Parses and checks a base URL.
    ///
    /// HTTPS is required except for loopback hosts (`127.0.0.0/8`, `::1`, `localhost`), where a
    /// local dev-server has no certificate. User info, queries and fragments are refused: the
    /// token travels only in the `Authorization` header, and a query would be lost on joins.
    pub fn parse(raw: &str) -> Result<Endpoint, ApiError> {
        let raw = raw.trim();
        let url = Url::parse(raw).map_err(|e| {
            ApiError::Endpoint(format!(
                "`{}` is not a valid endpoint URL ({e}); write the Jira base URL, e.g. \
                 `https://jira.example.com` or `https://jira.example.com/jira`",
                shown(raw)
            ))
        })?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(ApiError::Endpoint(
                "the endpoint URL must not contain credentials; pass the token with `--token` \
                 (default `env:GIJ_TOKEN`)"
                    .into(),
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(ApiError::Endpoint(format!(
                "the endpoint `{}` must not have a query or fragment; write the Jira base URL",
                shown(raw)
            )));
        }
        let Some(host) = url.host() else {
            return Err(ApiError::Endpoint(format!(
                "the endpoint `{}` has no host",
                shown(raw)
            )));
        };
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(&host) => {}
            "http" => {
                return Err(ApiError::Endpoint(format!(
                    "the endpoint `{url}` uses plain http to a non-loopback host; the token would \
                     travel unencrypted: use https (plain http is allowed only for 127.0.0.1, ::1 \
                     and localhost)"
                )));
            }
            other => {
                return Err(ApiError::Endpoint(format!(
                    "the endpoint scheme `{other}` is not supported; use https"
                )));
            }
        }
        let mut base = url;
        if !base.path().ends_with('/') {
            let p = format!("{}/", base.path());
            base.set_path(&p);
        }
        Ok(Endpoint { base })
    }

    /// Returns the base URL (with its trailing slash).
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// Builds the URL of an API path (relative to the base, e.g. `rest/gitplugin/1.0/integration`)
    /// with query pairs.
    pub fn url(&self, path: &str, query: &[(&str, String)]) -> Url {
        let mut url = self.base.clone();
        let joined = format!("{}{}", self.base.path(), path.trim_start_matches('/'));
        url.set_path(&joined);
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in query {
                pairs.append_pair(k, v);
            }
        }
        url
    }

    /// Whether `other` has the same scheme, host and port as the base: the only place the
    /// token may be sent, and the only place a redirect may lead.
    pub fn same_origin(&self, other: &Url) -> bool {
        self.base.origin() == other.origin()
    }
}

/// Whether a host is a loopback address, where plain HTTP cannot be intercepted off-machine.
pub fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(a) => IpAddr::V4(*a).is_loopback(),
        Host::Ipv6(a) => IpAddr::V6(*a).is_loopback(),
    }
}

/// Scheme, host and port of a URL: enough to say where a redirect pointed without echoing a
/// path or query that might carry something sensitive.
pub fn origin_of(url: &Url) -> String {
    url.origin().ascii_serialization()
}

fn shown(raw: &str) -> String {
    // A pasted URL could carry `user:token@`; never echo that part.
    match raw.find('@') {
        Some(i) => match raw.find("://") {
            Some(s) if s < i => format!("{}://[redacted]@{}", &raw[..s], &raw[i + 1..]),
            _ => "[redacted]".into(),
        },
        None => raw.chars().take(200).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_and_loopback_http_accepted() {
        for ok in [
            "https://jira.example.com",
            "http://127.0.0.1:8080",
            "http://127.1.2.3",
            "http://[::1]:9000/",
            "http://localhost:1234/jira",
            "http://LOCALHOST",
        ] {
            assert!(Endpoint::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn plain_http_to_remote_refused() {
        for bad in [
            "http://jira.example.com",
            "http://10.0.0.1",
            "http://localhost.evil.com",
        ] {
            let e = Endpoint::parse(bad).unwrap_err().to_string();
            assert!(e.contains("plain http"), "{bad}: {e}");
        }
        let e = Endpoint::parse("ftp://x").unwrap_err().to_string();
        assert!(e.contains("scheme `ftp`"), "{e}");
    }

    #[test]
    fn credentials_in_url_refused_and_not_echoed() {
        let e = Endpoint::parse("https://admin:s3cr3tpass@jira.example.com")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("s3cr3tpass"), "{e}");
        let e = Endpoint::parse("not a url s3cr3tpass@x")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("s3cr3tpass"), "{e}");
    }

    #[test]
    fn context_path_is_kept() {
        let ep = Endpoint::parse("https://jira.example.com/jira").unwrap();
        assert_eq!(
            ep.url("rest/api/2/project", &[]).as_str(),
            "https://jira.example.com/jira/rest/api/2/project"
        );
        let ep = Endpoint::parse("https://jira.example.com/").unwrap();
        assert_eq!(
            ep.url(
                "/rest/gitplugin/1.0/integration",
                &[("origin", "https://a b".into())]
            )
            .as_str(),
            "https://jira.example.com/rest/gitplugin/1.0/integration?origin=https%3A%2F%2Fa+b"
        );
    }

    #[test]
    fn same_origin_compares_scheme_host_port() {
        let ep = Endpoint::parse("https://jira.example.com/jira").unwrap();
        assert!(ep.same_origin(&Url::parse("https://jira.example.com/login").unwrap()));
        assert!(ep.same_origin(&Url::parse("https://JIRA.example.com:443/x").unwrap()));
        assert!(!ep.same_origin(&Url::parse("http://jira.example.com/x").unwrap()));
        assert!(!ep.same_origin(&Url::parse("https://jira.example.com:8443/x").unwrap()));
        assert!(!ep.same_origin(&Url::parse("https://evil.example.com/x").unwrap()));
    }
}
