//! Sign-in sessions: a short-lived access token (the session JWT) plus a
//! rotating refresh token kept in an HttpOnly cookie.
//!
//! A refresh token is 256 random bits, base64url; only its SHA-256 is stored.
//! Every refresh spends it and hands out a successor; presenting a spent one
//! again revokes the whole session (the token was copied). Signing out revokes
//! the session, and the access tokens of a revoked session are refused: each
//! instance remembers "this session is active" for at most
//! [`SessionPolicy::revocation_check_ttl`] (5 s by default), so a revocation
//! made elsewhere takes effect on every instance within that bound, and at once
//! on the instance that made it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use askgate_domain::ports::{NewRefreshToken, Rotation, SessionStore};
use askgate_domain::user::User;
use askgate_domain::{SessionId, StoreError, UserId};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use moka::future::Cache;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use super::{IssuedToken, SessionKeys, SessionTokenError};

/// Name of the refresh-token cookie.
pub const REFRESH_COOKIE: &str = "askgate_refresh";
/// The refresh cookie is only ever sent to the auth endpoints.
pub const REFRESH_COOKIE_PATH: &str = "/api/auth";

/// How sessions behave; the server fills it from its settings.
#[derive(Debug, Clone)]
pub struct SessionPolicy {
    /// Lifetime of each refresh token (`REFRESH_TTL_DAYS`); every refresh starts a new one.
    pub refresh_ttl: Duration,
    /// Absolute lifetime of a session (`SESSION_MAX_AGE_DAYS`), however often
    /// it is refreshed: after it, only a new sign-in gives a new session.
    pub max_age: Duration,
    /// `Secure` on cookies: off only for plain-http local development.
    pub secure_cookies: bool,
    /// How long an instance may trust an earlier "session is active" answer:
    /// the longest a revoked session's access token keeps working elsewhere.
    pub revocation_check_ttl: Duration,
}

impl SessionPolicy {
    /// The default bound on how long a revocation takes to reach every instance.
    pub const DEFAULT_REVOCATION_CHECK_TTL: Duration = Duration::from_secs(5);
    /// The default absolute session lifetime: 30 days.
    pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(30 * 86_400);
}

/// A refresh token as handed to the client. `Debug` never shows it.
#[derive(Clone)]
pub struct RefreshToken(SecretString);

impl RefreshToken {
    fn generate() -> Self {
        let mut bytes = [0_u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self(SecretString::from(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// The token itself, for the cookie or the response body only.
    #[must_use]
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    fn hash(&self) -> String {
        hash_refresh_token(self.expose())
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshToken([REDACTED])")
    }
}

/// SHA-256 of a refresh token, lowercase hex: what the store keeps.
#[must_use]
pub fn hash_refresh_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// What starting or refreshing a session hands out.
#[derive(Debug, Clone)]
pub struct SessionGrant {
    pub session: SessionId,
    pub access: IssuedToken,
    pub refresh: RefreshToken,
}

/// A refresh token was spent; the caller loads the user and mints the access token.
#[derive(Debug, Clone)]
pub struct Rotated {
    pub session: SessionId,
    pub user: UserId,
    pub refresh: RefreshToken,
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// Unknown, expired, spent, or of a revoked session.
    #[error("refresh token refused")]
    Refused,
    /// A spent refresh token came back: its session is now revoked.
    #[error("refresh token reused: session revoked")]
    ReuseDetected,
    /// The session reached its absolute lifetime: a new sign-in is required.
    #[error("session lifetime reached: session revoked")]
    Expired,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Token(#[from] SessionTokenError),
}

/// Starts, refreshes and ends sessions, and answers "is this session still active?".
pub struct Sessions {
    store: Arc<dyn SessionStore>,
    keys: SessionKeys,
    policy: SessionPolicy,
    active: Cache<SessionId, bool>,
}

impl fmt::Debug for Sessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sessions")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Sessions {
    #[must_use]
    pub fn new(store: Arc<dyn SessionStore>, keys: SessionKeys, policy: SessionPolicy) -> Self {
        let active = Cache::builder()
            .max_capacity(100_000)
            .time_to_live(policy.revocation_check_ttl)
            .build();
        Self {
            store,
            keys,
            policy,
            active,
        }
    }

    fn refresh_expiry(&self) -> chrono::DateTime<Utc> {
        let ttl = chrono::Duration::from_std(self.policy.refresh_ttl)
            .unwrap_or_else(|_| chrono::Duration::days(14));
        Utc::now() + ttl
    }

    /// A new session for `user`: its first refresh token and an access token.
    #[tracing::instrument(skip_all, fields(user_id = %user.id))]
    pub async fn start(&self, user: &User) -> Result<SessionGrant, SessionError> {
        let session = SessionId::generate();
        let refresh = RefreshToken::generate();
        self.store
            .start(&NewRefreshToken {
                session,
                user: user.id,
                token_hash: refresh.hash(),
                expires_at: self.refresh_expiry(),
            })
            .await?;
        let access = self.keys.issue(user, session)?;
        tracing::info!(%session, "session started");
        Ok(SessionGrant {
            session,
            access,
            refresh,
        })
    }

    /// Sessions that began at or before this instant are past their lifetime.
    fn oldest_start(&self) -> chrono::DateTime<Utc> {
        let max_age = chrono::Duration::from_std(self.policy.max_age)
            .unwrap_or_else(|_| chrono::Duration::days(30));
        Utc::now() - max_age
    }

    /// Spends `presented` and returns its successor.
    #[tracing::instrument(skip_all)]
    pub async fn rotate(&self, presented: &str) -> Result<Rotated, SessionError> {
        let next = RefreshToken::generate();
        let rotation = self
            .store
            .rotate(
                &hash_refresh_token(presented),
                &next.hash(),
                self.refresh_expiry(),
                Utc::now(),
                self.oldest_start(),
            )
            .await?;
        match rotation {
            Rotation::Rotated { session, user } => Ok(Rotated {
                session,
                user,
                refresh: next,
            }),
            Rotation::ReuseDetected { session } => {
                self.active.insert(session, false).await;
                tracing::warn!(%session, "refresh token reuse: session revoked");
                Err(SessionError::ReuseDetected)
            }
            Rotation::SessionExpired { session } => {
                self.active.insert(session, false).await;
                tracing::info!(%session, "session lifetime reached: session revoked");
                Err(SessionError::Expired)
            }
            Rotation::Invalid => Err(SessionError::Refused),
        }
    }

    /// An access token for `user` in `session` (after a refresh).
    pub fn access_token(
        &self,
        user: &User,
        session: SessionId,
    ) -> Result<IssuedToken, SessionError> {
        Ok(self.keys.issue(user, session)?)
    }

    /// Revokes the session: its refresh token and access tokens stop working.
    #[tracing::instrument(skip_all, fields(%session))]
    pub async fn end(&self, session: SessionId) -> Result<(), SessionError> {
        self.store.revoke(session).await?;
        self.active.insert(session, false).await;
        tracing::info!("session ended");
        Ok(())
    }

    /// False once the session is revoked (see the module docs for the bound).
    pub async fn is_active(&self, session: SessionId) -> Result<bool, StoreError> {
        if let Some(active) = self.active.get(&session).await {
            return Ok(active);
        }
        let active = self.store.is_active(session).await?;
        self.active.insert(session, active).await;
        Ok(active)
    }

    /// The refresh cookie carrying `token`.
    #[must_use]
    pub fn refresh_cookie(&self, token: &RefreshToken) -> Cookie<'static> {
        let max_age = i64::try_from(self.policy.refresh_ttl.as_secs()).unwrap_or(i64::MAX);
        Cookie::build(REFRESH_COOKIE, token.expose().to_owned())
            .path(REFRESH_COOKIE_PATH)
            .http_only(true)
            .secure(self.policy.secure_cookies)
            .same_site(SameSite::Strict)
            .max_age(CookieDuration::seconds(max_age))
            .finish()
    }

    /// A cookie that deletes the refresh cookie.
    #[must_use]
    pub fn cleared_refresh_cookie(&self) -> Cookie<'static> {
        let mut cookie = Cookie::build(REFRESH_COOKIE, "")
            .path(REFRESH_COOKIE_PATH)
            .http_only(true)
            .secure(self.policy.secure_cookies)
            .same_site(SameSite::Strict)
            .finish();
        cookie.make_removal();
        cookie
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_tokens_are_256_random_bits_in_base64url() {
        let a = RefreshToken::generate();
        let b = RefreshToken::generate();
        assert_eq!(a.expose().len(), 43);
        assert_ne!(a.expose(), b.expose());
        assert!(
            a.expose()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_eq!(a.hash().len(), 64);
        assert_ne!(a.hash(), a.expose());
        assert!(!format!("{a:?}").contains(a.expose()));
    }

    #[test]
    fn the_hash_is_sha256_hex() {
        assert_eq!(
            hash_refresh_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
