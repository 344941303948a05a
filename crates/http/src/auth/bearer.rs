//! The one place that decides what a bearer token is and whom it speaks for.
//!
//! - HS256: a session token askgate minted (`JWT_SECRET`, our audience), whose
//!   session must still be active.
//! - RS256: an Azure AD access token for askgate's API, verified by the identity
//!   provider (JWKS signature, issuer, audience, lifetime, tenant); the user is
//!   found or created by `oid`.
//!
//! Anything else is refused. The reason is logged; the client only learns that
//! the token is invalid.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use askgate_domain::ports::{ExternalIdentity, IdentityError, IdentityProvider};
use askgate_domain::services::{AccountError, AccountService};
use async_trait::async_trait;
use jsonwebtoken::Algorithm;
use moka::future::Cache;

use super::{AuthenticatedUser, SessionKeys, Sessions, TokenError, TokenVerifier};

/// How long a verified Azure AD identity maps to its user without another
/// upsert (profile and role changes carried by new tokens apply at once: they
/// are part of the key).
const AZURE_USER_CACHE_TTL: Duration = Duration::from_secs(60);

/// What the user row depends on: a token with other claims upserts again.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct IdentityKey {
    subject: String,
    tenant: Option<String>,
    email: Option<String>,
    display_name: Option<String>,
    roles: Vec<String>,
}

impl From<&ExternalIdentity> for IdentityKey {
    fn from(identity: &ExternalIdentity) -> Self {
        let mut roles = identity.roles.clone();
        roles.sort_unstable();
        Self {
            subject: identity.subject.clone(),
            tenant: identity.tenant.clone(),
            email: identity.email.as_ref().map(|e| e.as_str().to_owned()),
            display_name: identity.display_name.clone(),
            roles,
        }
    }
}

struct AzureBearer {
    provider: Arc<dyn IdentityProvider>,
    accounts: Arc<AccountService>,
    users: Cache<IdentityKey, AuthenticatedUser>,
}

/// The [`TokenVerifier`] the server installs: session tokens with revocation,
/// and (when Microsoft sign-in is configured) Azure AD access tokens.
pub struct BearerTokens {
    keys: SessionKeys,
    sessions: Option<Arc<Sessions>>,
    azure: Option<AzureBearer>,
}

impl fmt::Debug for BearerTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerTokens")
            .field("revocation", &self.sessions.is_some())
            .field("azure_ad", &self.azure.is_some())
            .finish_non_exhaustive()
    }
}

impl BearerTokens {
    /// Session tokens signed by `keys` only.
    #[must_use]
    pub fn new(keys: SessionKeys) -> Self {
        Self {
            keys,
            sessions: None,
            azure: None,
        }
    }

    /// Refuses session tokens whose session was revoked.
    #[must_use]
    pub fn with_revocation(mut self, sessions: Arc<Sessions>) -> Self {
        self.sessions = Some(sessions);
        self
    }

    /// Also accepts Azure AD access tokens, signing their users in through `accounts`.
    #[must_use]
    pub fn with_azure_ad(
        mut self,
        provider: Arc<dyn IdentityProvider>,
        accounts: Arc<AccountService>,
    ) -> Self {
        self.azure = Some(AzureBearer {
            provider,
            accounts,
            users: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(AZURE_USER_CACHE_TTL)
                .build(),
        });
        self
    }

    async fn session_token(&self, token: &str) -> Result<AuthenticatedUser, TokenError> {
        let user = self.keys.verify_session(token)?;
        if let (Some(sessions), Some(session)) = (&self.sessions, user.session) {
            let active = sessions
                .is_active(session)
                .await
                .map_err(|e| TokenError::Unavailable(Box::new(e)))?;
            if !active {
                return Err(TokenError::Revoked);
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
        let key = IdentityKey::from(&identity);
        if let Some(user) = azure.users.get(&key).await {
            return Ok(user);
        }
        let user = azure
            .accounts
            .sign_in(&identity)
            .await
            .map_err(|e| match e {
                AccountError::Unavailable(source) => TokenError::Unavailable(source),
                AccountError::Unexpected(_) => TokenError::Unavailable(Box::new(e)),
                refused @ (AccountError::UserNotFound
                | AccountError::MissingEmail
                | AccountError::InvalidIdentity
                | AccountError::Conflict(_)
                | AccountError::EmptyGrant) => TokenError::Refused(format!(
                    "the access token's identity cannot be signed in: {refused}"
                )),
            })?;
        let user = AuthenticatedUser {
            user: user.id,
            role: user.role,
            session: None,
            email: user.email,
        };
        azure.users.insert(key, user.clone()).await;
        Ok(user)
    }
}

#[async_trait]
impl TokenVerifier for BearerTokens {
    async fn verify(&self, bearer: &str) -> Result<AuthenticatedUser, TokenError> {
        let header = jsonwebtoken::decode_header(bearer)?;
        match header.alg {
            Algorithm::HS256 => self.session_token(bearer).await,
            Algorithm::RS256 => self.azure_token(bearer).await,
            other => Err(TokenError::Refused(format!(
                "{other:?} tokens are not accepted"
            ))),
        }
    }
}
