use async_trait::async_trait;

use crate::{BoxError, Email};

/// What the identity provider vouches for about a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalIdentity {
    /// Azure AD `oid` (stable per tenant), else `sub`.
    pub subject: String,
    pub tenant: Option<String>,
    pub email: Option<Email>,
    pub display_name: Option<String>,
    /// App roles (`roles` claim).
    pub roles: Vec<String>,
    /// Group object ids (`groups` claim), when the app registration emits them.
    pub groups: Vec<String>,
}

/// The start of an authorization-code + PKCE sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationStart {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// The end of one: the code and what must match it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeExchange {
    pub code: String,
    /// The PKCE verifier of the authorization request (RFC 7636): always
    /// sent, so a code intercepted on its way back is useless without it.
    pub pkce_verifier: String,
    pub redirect_uri: String,
    /// The nonce the ID token must carry: the one the authorization request
    /// sent, whoever started the flow.
    pub nonce: String,
}

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The token, code or ID token was refused. The reason is for logs only.
    #[error("invalid credentials: {0}")]
    Invalid(String),
    /// The provider could not be reached or answered nonsense.
    #[error("identity provider unavailable")]
    Unavailable(#[source] BoxError),
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait IdentityProvider: Send + Sync {
    /// Builds the provider's authorization URL with fresh state, nonce and PKCE.
    async fn start_sign_in(&self, redirect_uri: &str) -> Result<AuthorizationStart, IdentityError>;

    /// Exchanges an authorization code and verifies the ID token (signature,
    /// `iss`, `aud`, `exp`, `nonce`). MUST return `Invalid` for any failed check.
    async fn complete_sign_in(
        &self,
        exchange: &CodeExchange,
    ) -> Result<ExternalIdentity, IdentityError>;

    /// Verifies an access token issued for askgate's API (JWKS signature, `iss`,
    /// `aud`, `exp`/`nbf`, `tid`). MUST return `Invalid` for any failed check.
    async fn verify_access_token(&self, token: &str) -> Result<ExternalIdentity, IdentityError>;
}
