//! App-only tokens for the upstreams (OAuth 2.0 client-credentials grant).

use std::sync::Arc;
use std::time::{Duration, Instant};

use askgate_domain::ports::{ServiceToken, ServiceTokenError, ServiceTokenProvider};
use async_trait::async_trait;
use moka::Expiry;
use moka::future::Cache;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

/// A cached token is replaced this long before it expires, so every token handed out
/// is valid for at least this much longer.
const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// Client-credentials tokens, cached per scope.
///
/// Concurrent callers asking for the same scope share one token request. Create one
/// per process and share it (`Arc<dyn ServiceTokenProvider>`): the cache lives here.
#[derive(Clone)]
pub struct ClientCredentials {
    inner: Arc<Inner>,
    tokens: Cache<String, CachedToken>,
}

struct Inner {
    http: reqwest::Client,
    token_endpoint: Url,
    client_id: String,
    client_secret: SecretString,
}

#[derive(Clone)]
struct CachedToken {
    token: ServiceToken,
    /// How long the cache may hand it out: its lifetime less the refresh margin.
    fresh_for: Duration,
}

struct UntilRefreshDue;

impl Expiry<String, CachedToken> for UntilRefreshDue {
    fn expire_after_create(
        &self,
        _scope: &String,
        token: &CachedToken,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(token.fresh_for)
    }
}

/// Why a token request failed; turned into the port's error at the boundary.
#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error("token endpoint refused the client credentials: {0}")]
    Rejected(String),
    #[error("token request failed")]
    Request(#[source] reqwest::Error),
    #[error("token endpoint answered HTTP {0}")]
    ServerError(reqwest::StatusCode),
    #[error("token endpoint answered an unreadable token response")]
    Unreadable(#[source] serde_json::Error),
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    /// Seconds; Azure AD v1 endpoints send it as a string.
    expires_in: Option<Seconds>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Seconds {
    Number(u64),
    Text(String),
}

impl Seconds {
    fn as_duration(&self) -> Option<Duration> {
        match self {
            Seconds::Number(secs) => Some(Duration::from_secs(*secs)),
            Seconds::Text(text) => text.trim().parse().ok().map(Duration::from_secs),
        }
    }
}

#[derive(Deserialize)]
struct OAuthErrorBody {
    error: String,
    error_description: Option<String>,
}

impl ClientCredentials {
    /// A provider posting to `token_endpoint` (e.g. the discovered one, see
    /// [`crate::AzureAd::client_credentials`]). Called at start-up; panics only if
    /// no TLS backend can be initialised.
    pub fn new(token_endpoint: Url, client_id: String, client_secret: SecretString) -> Self {
        #[expect(
            clippy::expect_used,
            reason = "reqwest fails to build a client only when its TLS backend cannot start: \
                      nothing could reach the provider then, and start-up is the place to stop"
        )]
        let http = crate::http::client().expect("TLS backend for the token endpoint client");
        Self::with_http_client(http, token_endpoint, client_id, client_secret)
    }

    pub(crate) fn with_http_client(
        http: reqwest::Client,
        token_endpoint: Url,
        client_id: String,
        client_secret: SecretString,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                http,
                token_endpoint,
                client_id,
                client_secret,
            }),
            tokens: Cache::builder()
                .max_capacity(64)
                .expire_after(UntilRefreshDue)
                .build(),
        }
    }
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("token_endpoint", &self.inner.token_endpoint.as_str())
            .field("client_id", &self.inner.client_id)
            .finish_non_exhaustive()
    }
}

impl Inner {
    async fn fetch(&self, scope: &str) -> Result<CachedToken, FetchError> {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.expose_secret()),
            ("scope", scope),
        ];
        let response = self
            .http
            .post(self.token_endpoint.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form)
            .send()
            .await
            .map_err(FetchError::Request)?;
        let status = response.status();
        let body = response.bytes().await.map_err(FetchError::Request)?;
        if status.is_client_error() {
            return Err(FetchError::Rejected(self.describe_refusal(status, &body)));
        }
        if !status.is_success() {
            return Err(FetchError::ServerError(status));
        }
        let token: TokenResponse = serde_json::from_slice(&body).map_err(FetchError::Unreadable)?;
        let lifetime = token.expires_in.as_ref().and_then(Seconds::as_duration);
        if lifetime.is_none() {
            tracing::warn!(
                scope,
                "service token without expires_in; it will not be cached"
            );
        }
        Ok(CachedToken {
            token: ServiceToken::new(token.access_token),
            fresh_for: lifetime.unwrap_or_default().saturating_sub(REFRESH_MARGIN),
        })
    }

    /// The OAuth `error` code and status for the error value; the provider's
    /// description goes to the log only, with the secret masked should it appear.
    fn describe_refusal(&self, status: reqwest::StatusCode, body: &[u8]) -> String {
        let parsed: Option<OAuthErrorBody> = serde_json::from_slice(body).ok();
        let code = parsed
            .as_ref()
            .map(|body| body.error.as_str())
            .filter(|code| is_error_code(code));
        let description = parsed
            .as_ref()
            .and_then(|body| body.error_description.as_deref())
            .unwrap_or("")
            .replace(self.client_secret.expose_secret(), "<redacted>");
        tracing::warn!(
            status = status.as_u16(),
            error = code.unwrap_or("<none>"),
            description = %description,
            "token endpoint refused the client credentials"
        );
        match code {
            Some(code) => format!("{code} (HTTP {})", status.as_u16()),
            None => format!("HTTP {}", status.as_u16()),
        }
    }
}

/// RFC 6749 §5.2 error codes are short printable ASCII; anything else is not repeated.
fn is_error_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 64
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

#[async_trait]
impl ServiceTokenProvider for ClientCredentials {
    #[tracing::instrument(skip_all, fields(scope = %scope))]
    async fn token(&self, scope: &str) -> Result<ServiceToken, ServiceTokenError> {
        let inner = Arc::clone(&self.inner);
        let owned_scope = scope.to_owned();
        let cached = self
            .tokens
            .try_get_with(
                scope.to_owned(),
                async move { inner.fetch(&owned_scope).await },
            )
            .await
            .map_err(|err: Arc<FetchError>| match err.as_ref() {
                FetchError::Rejected(reason) => ServiceTokenError::Rejected(reason.clone()),
                FetchError::Request(_) | FetchError::ServerError(_) | FetchError::Unreadable(_) => {
                    tracing::warn!(error = %err, "service token unavailable");
                    ServiceTokenError::Unreachable(Box::new(err))
                }
            })?;
        Ok(cached.token)
    }
}
