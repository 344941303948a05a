//! The HTTP section of [`Settings`](super::Settings): where askgate listens,
//! where users reach it, and who may call it from a browser.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use super::env::{ConfigError, Env, HTTP, http_url, is_token, parse_url, variables};

variables! {
    BIND_ADDR,
    PUBLIC_BASE_URL,
    ALLOWED_ORIGINS,
    METRICS_ADDR,
    METRICS_TOKEN,
    BODY_READ_TIMEOUT_SECONDS,
}

const DEFAULT_BIND_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);

const DEFAULT_PUBLIC_BASE_URL: &str = "http://127.0.0.1:8080";

/// How `PUBLIC_BASE_URL` looks, for messages.
const PUBLIC_BASE_URL_EXAMPLE: &str = "https://askgate.example.com";

#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// `BIND_ADDR` (port 0 picks a free port).
    pub bind_addr: SocketAddr,
    /// `PUBLIC_BASE_URL`: where users reach askgate (links, redirects).
    pub public_base_url: Url,
    /// `ALLOWED_ORIGINS`: browser origins allowed to call the API cross-origin.
    pub allowed_origins: Vec<String>,
    /// How long in-flight requests may finish after SIGTERM/SIGINT.
    pub shutdown_timeout: Duration,
    /// `METRICS_ADDR`: serve `/metrics` on this address instead of `BIND_ADDR`.
    pub metrics_addr: Option<SocketAddr>,
    /// `METRICS_TOKEN`: serve `/metrics` on `BIND_ADDR` too, to
    /// `Authorization: Bearer <token>` only. Unset: not on `BIND_ADDR` at all.
    pub metrics_token: Option<SecretString>,
    /// `BODY_READ_TIMEOUT_SECONDS`: how long a request body may take to arrive
    /// (then 408), so a client trickling bytes cannot hold a connection open.
    pub body_read_timeout: Duration,
}

impl HttpSettings {
    pub(super) fn read(env: &Env<'_>) -> Result<Self, ConfigError> {
        let bind_addr = env
            .parsed(
                BIND_ADDR,
                "must be an IP address and port, e.g. 127.0.0.1:8080",
            )?
            .unwrap_or(DEFAULT_BIND_ADDR);
        let public_base_url = http_url(
            PUBLIC_BASE_URL,
            &env.get(PUBLIC_BASE_URL)
                .unwrap_or_else(|| DEFAULT_PUBLIC_BASE_URL.to_owned()),
            PUBLIC_BASE_URL_EXAMPLE,
        )?;
        let allowed_origins = env.list(ALLOWED_ORIGINS, origin)?.unwrap_or_default();
        let metrics_addr = env.parsed(
            METRICS_ADDR,
            "must be an IP address and port, e.g. 127.0.0.1:9090",
        )?;
        let metrics_token = env.checked_secret(
            METRICS_TOKEN,
            |token| token.len() >= 16 && is_token(token),
            "must be at least 16 printable characters without spaces (a random string)",
        )?;
        Ok(Self {
            bind_addr,
            public_base_url,
            allowed_origins,
            shutdown_timeout: Duration::from_secs(30),
            metrics_addr,
            metrics_token,
            body_read_timeout: Duration::from_secs(env.integer(
                BODY_READ_TIMEOUT_SECONDS,
                10,
                1..=300,
            )?),
        })
    }

    /// `path` (starting with `/`) under `PUBLIC_BASE_URL`, keeping the base's
    /// own path: `https://example.com/askgate` + `/api` is
    /// `https://example.com/askgate/api`.
    pub(super) fn public_url(&self, path: &str) -> Result<Url, ConfigError> {
        let base = self.public_base_url.as_str().trim_end_matches('/');
        http_url(
            PUBLIC_BASE_URL,
            &format!("{base}{path}"),
            PUBLIC_BASE_URL_EXAMPLE,
        )
    }
}

/// An `ALLOWED_ORIGINS` entry, serialised as browsers send it in `Origin`.
fn origin(entry: &str) -> Result<String, String> {
    parse_url(entry, HTTP)
        .filter(|u| u.path() == "/" && u.query().is_none())
        .map(|u| u.origin().ascii_serialization())
        .ok_or_else(|| {
            format!(
                "must be a comma-separated list of origins such as https://app.example.com; '{entry}' is not one"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::super::Settings;

    #[test]
    fn metrics_token_is_off_by_default_and_must_be_long_enough() {
        assert!(
            Settings::from_pairs(&[])
                .unwrap()
                .http
                .metrics_token
                .is_none()
        );
        let err = Settings::from_pairs(&[("METRICS_TOKEN", "hunter2")]).unwrap_err();
        assert_eq!(err.variable, "METRICS_TOKEN");
        assert!(!err.to_string().contains("hunter2"));
        let s = Settings::from_pairs(&[("METRICS_TOKEN", "0123456789abcdef")]).unwrap();
        assert!(!format!("{s:?}").contains("0123456789abcdef"));
    }

    #[test]
    fn each_bad_http_value_names_its_variable() {
        for (name, value) in [
            ("BIND_ADDR", "localhost"),
            ("BODY_READ_TIMEOUT_SECONDS", "0"),
            ("ALLOWED_ORIGINS", "https://app.example.com/path"),
            ("PUBLIC_BASE_URL", "not a url"),
        ] {
            let err = Settings::from_pairs(&[(name, value)]).unwrap_err();
            assert_eq!(err.variable, name, "{err}");
            assert!(!err.to_string().contains('\n'));
        }
    }

    #[test]
    fn allowed_origins_are_parsed_and_normalised() {
        let s = Settings::from_pairs(&[(
            "ALLOWED_ORIGINS",
            "https://app.example.com, http://localhost:3000",
        )])
        .unwrap();
        assert_eq!(
            s.http.allowed_origins,
            ["https://app.example.com", "http://localhost:3000"]
        );
    }

    #[test]
    fn public_urls_keep_the_base_s_path() {
        let s =
            Settings::from_pairs(&[("PUBLIC_BASE_URL", "https://example.com/askgate/")]).unwrap();
        assert_eq!(
            s.http.public_url("/api/auth/callback").unwrap().as_str(),
            "https://example.com/askgate/api/auth/callback"
        );
    }
}
