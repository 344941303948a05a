use std::fmt;

use crate::user::User;
use crate::{BoxError, SessionId};

/// A freshly minted access token.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    /// Lifetime in seconds.
    pub expires_in: u64,
}

/// A refresh token as handed to the client, with the hash the session store
/// keeps instead of it. `Debug` never shows the token.
#[derive(Clone)]
pub struct RefreshToken {
    secret: String,
    hash: String,
}

impl RefreshToken {
    /// `hash` is what [`TokenIssuer::refresh_token_hash`] gives for `secret`.
    #[must_use]
    pub const fn new(secret: String, hash: String) -> Self {
        Self { secret, hash }
    }

    /// The token itself, for the cookie or the response body only.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.secret
    }

    /// What the session store keeps.
    #[must_use]
    pub fn hash(&self) -> &str {
        &self.hash
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshToken([REDACTED])")
    }
}

/// An access token could not be signed.
#[derive(Debug, thiserror::Error)]
#[error("could not sign the access token")]
pub struct TokenIssueError(#[source] pub BoxError);

/// Mints the credentials of a session: the signed access token and the
/// unguessable refresh token. How they are signed and hashed is the
/// implementation's business; the session rules are [`SessionService`]'s.
///
/// [`SessionService`]: crate::services::SessionService
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait TokenIssuer: Send + Sync {
    /// An access token for `user` in `session`, valid from now. MUST fail only
    /// when signing itself fails.
    fn access_token(&self, user: &User, session: SessionId)
    -> Result<IssuedToken, TokenIssueError>;

    /// A new refresh token that nobody can guess, with its hash.
    fn refresh_token(&self) -> RefreshToken;

    /// The hash of a presented refresh token: for the token `refresh_token`
    /// handed out, exactly its `hash()`.
    fn refresh_token_hash(&self, presented: &str) -> String;
}
