use askgate_domain::BoxError;
use async_trait::async_trait;

use super::AuthenticatedUser;

/// Why a bearer token was refused. The client only ever learns "invalid token";
/// the reason is logged (at info level, by the extractor that refused it).
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Bad signature, wrong algorithm, expired, wrong audience, malformed…
    #[error("token rejected: {0}")]
    Jwt(#[from] jsonwebtoken::errors::Error),
    /// The `role` claim is not `authenticated`.
    #[error("token rejected: role claim is not 'authenticated'")]
    WrongRole,
    /// A claim is present but does not hold a valid value.
    #[error("token rejected: claim '{0}' is not valid")]
    InvalidClaim(&'static str),
    /// The session the token belongs to was revoked.
    #[error("token rejected: session revoked")]
    Revoked,
    /// A personal API key that is unknown, revoked or expired (which one is
    /// for logs only).
    #[error("API key rejected: {0}")]
    KeyRefused(&'static str),
    /// An admin disabled the caller's account: 403 `account_disabled`.
    #[error("token rejected: account disabled")]
    AccountDisabled,
    /// Neither a session token nor an access token askgate accepts (alg, issuer,
    /// audience, key, lifetime, …); the reason is for logs only.
    #[error("token rejected: {0}")]
    Refused(String),
    /// The check could not be made now (e.g. the session store is down): 503, not 401.
    #[error("token check unavailable")]
    Unavailable(#[source] BoxError),
}

/// Turns a bearer token into the user it speaks for.
///
/// `SessionKeys` checks session JWTs alone; [`BearerTokens`](super::BearerTokens)
/// adds session revocation and Azure AD access tokens, without touching
/// handlers or extractors.
#[async_trait]
pub trait TokenVerifier: Send + Sync {
    async fn verify(&self, bearer: &str) -> Result<AuthenticatedUser, TokenError>;

    /// For token introspection: the user and lifetime of `token` when it is
    /// a session token askgate minted whose session is still active;
    /// `Ok(None)` for anything else (expired, revoked, forged, an API key or
    /// an access token of another issuer).
    async fn active_session(&self, token: &str) -> Result<Option<ActiveSession>, TokenError> {
        let _ = token;
        Ok(None)
    }
}

/// A session token found active.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActiveSession {
    pub user: askgate_domain::UserId,
    /// Unix seconds.
    pub issued_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
}
