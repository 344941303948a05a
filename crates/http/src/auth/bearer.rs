//! The one place that decides what a bearer token is and whom it speaks for.
//!
//! - HS256: a session token askgate minted (`JWT_SECRET`, our audience), whose
//!   session must still be active.
//! - RS256: an Azure AD access token for askgate's API, verified by the identity
//!   provider (JWKS signature, issuer, audience, lifetime, tenant); its user is
//!   found or created by the account use case.
//!
//! - `agk_…`: a personal API key, looked up in the database on every use
//!   (revoked, expired and disabled-account keys are refused at once).
//!
//! Anything else is refused. The reason is logged; the client only learns that
//! the token is invalid.

use std::fmt;
use std::sync::Arc;

use askgate_domain::api_key::API_KEY_PREFIX;
use askgate_domain::ports::{IdentityError, IdentityProvider};
use askgate_domain::services::{
    AccountError, AccountService, ApiKeyService, KeyAuthError, SessionService,
};
use async_trait::async_trait;
use jsonwebtoken::Algorithm;

use super::{
    ActiveSession, ApiKeyGrant, AuthenticatedUser, SessionKeys, TokenError, TokenVerifier,
};

struct AzureBearer {
    provider: Arc<dyn IdentityProvider>,
    accounts: Arc<AccountService>,
}

/// The [`TokenVerifier`] the server installs: session tokens with revocation,
/// and (when Microsoft sign-in is configured) Azure AD access tokens.
pub struct BearerTokens {
    keys: SessionKeys,
    sessions: Arc<SessionService>,
    azure: Option<AzureBearer>,
    api_keys: Option<Arc<ApiKeyService>>,
}

impl fmt::Debug for BearerTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerTokens")
            .field("azure_ad", &self.azure.is_some())
            .field("api_keys", &self.api_keys.is_some())
            .finish_non_exhaustive()
    }
}

impl BearerTokens {
    /// Session tokens signed by `keys`, refused once `sessions` says their
    /// session was revoked.
    #[must_use]
    pub fn new(keys: SessionKeys, sessions: Arc<SessionService>) -> Self {
        Self {
            keys,
            sessions,
            azure: None,
            api_keys: None,
        }
    }

    /// Also accepts personal API keys (`agk_…`).
    #[must_use]
    pub fn with_api_keys(mut self, api_keys: Arc<ApiKeyService>) -> Self {
        self.api_keys = Some(api_keys);
        self
    }

    async fn api_key(&self, secret: &str) -> Result<AuthenticatedUser, TokenError> {
        let keys = self
            .api_keys
            .as_ref()
            .ok_or(TokenError::KeyRefused("API keys are not enabled"))?;
        let caller = keys.authenticate(secret).await.map_err(|e| match e {
            KeyAuthError::Unknown => TokenError::KeyRefused("unknown key"),
            KeyAuthError::Revoked => TokenError::KeyRefused("revoked"),
            KeyAuthError::Expired => TokenError::KeyRefused("expired"),
            KeyAuthError::AccountDisabled => TokenError::AccountDisabled,
            KeyAuthError::Unavailable(source) => TokenError::Unavailable(source),
        })?;
        Ok(AuthenticatedUser {
            user: caller.user,
            role: caller.role,
            session: None,
            email: caller.email,
            api_key: Some(ApiKeyGrant {
                key: caller.key,
                scopes: caller.scopes,
            }),
        })
    }

    /// Also accepts Azure AD access tokens, signing their users in through `accounts`.
    #[must_use]
    pub fn with_azure_ad(
        mut self,
        provider: Arc<dyn IdentityProvider>,
        accounts: Arc<AccountService>,
    ) -> Self {
        self.azure = Some(AzureBearer { provider, accounts });
        self
    }

    async fn session_token(&self, token: &str) -> Result<AuthenticatedUser, TokenError> {
        let user = self.keys.verify_session(token)?;
        if let Some(session) = user.session {
            let active = self
                .sessions
                .is_active(session)
                .await
                .map_err(|e| TokenError::Unavailable(Box::new(e)))?;
            if !active {
                // Disabling an account revokes its sessions: say why.
                let disabled = self
                    .sessions
                    .account_disabled(user.user)
                    .await
                    .map_err(|e| TokenError::Unavailable(Box::new(e)))?;
                return Err(if disabled {
                    TokenError::AccountDisabled
                } else {
                    TokenError::Revoked
                });
            }
        }
        Ok(user)
    }

    async fn azure_token(&self, token: &str) -> Result<AuthenticatedUser, TokenError> {
        let azure = self.azure.as_ref().ok_or_else(|| {
            TokenError::Refused("RS256 token but Azure AD is not configured".into())
        })?;
        let identity = azure
            .provider
            .verify_access_token(token)
            .await
            .map_err(|e| match e {
                IdentityError::Invalid(reason) => TokenError::Refused(reason),
                IdentityError::Unavailable(source) => TokenError::Unavailable(source),
            })?;
        let user = azure
            .accounts
            .sign_in_bearer(&identity)
            .await
            .map_err(|e| match e {
                AccountError::Unavailable(source) => TokenError::Unavailable(source),
                AccountError::Disabled => TokenError::AccountDisabled,
                AccountError::Unexpected(_) => TokenError::Unavailable(Box::new(e)),
                refused @ (AccountError::UserNotFound
                | AccountError::MissingEmail
                | AccountError::InvalidIdentity
                | AccountError::Conflict(_)
                | AccountError::EmptyGrant
                | AccountError::Forbidden) => TokenError::Refused(format!(
                    "the access token's identity cannot be signed in: {refused}"
                )),
            })?;
        Ok(AuthenticatedUser {
            user: user.id,
            role: user.role,
            session: None,
            email: user.email,
            api_key: None,
        })
    }
}

#[async_trait]
impl TokenVerifier for BearerTokens {
    async fn verify(&self, bearer: &str) -> Result<AuthenticatedUser, TokenError> {
        if bearer.starts_with(API_KEY_PREFIX) {
            return self.api_key(bearer).await;
        }
        let header = jsonwebtoken::decode_header(bearer)?;
        match header.alg {
            Algorithm::HS256 => self.session_token(bearer).await,
            Algorithm::RS256 => self.azure_token(bearer).await,
            other => Err(TokenError::Refused(format!(
                "{other:?} tokens are not accepted"
            ))),
        }
    }

    async fn active_session(&self, token: &str) -> Result<Option<ActiveSession>, TokenError> {
        if token.starts_with(API_KEY_PREFIX) {
            return Ok(None);
        }
        let Ok(claims) = self.keys.session_claims(token) else {
            return Ok(None);
        };
        let active = self
            .sessions
            .is_active(claims.sid)
            .await
            .map_err(|e| TokenError::Unavailable(Box::new(e)))?;
        Ok(active.then_some(ActiveSession {
            user: claims.sub,
            issued_at: claims.iat,
            expires_at: claims.exp,
        }))
    }
}
