use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{SessionId, StoreError, UserId};

/// A refresh token to store: only its SHA-256 hash (hex) is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRefreshToken {
    pub session: SessionId,
    pub user: UserId,
    pub token_hash: String,
    pub expires_at: DateTime<Utc>,
}

/// What presenting a refresh token did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The token was current: it is now spent and `next` replaces it.
    Rotated { session: SessionId, user: UserId },
    /// The token had already been rotated: the whole session was revoked.
    ReuseDetected { session: SessionId },
    /// The session began before the oldest allowed start: it is now revoked
    /// and the person must sign in again.
    SessionExpired { session: SessionId },
    /// Unknown, expired, or its session is revoked.
    Invalid,
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Starts a session with its first refresh token.
    async fn start(&self, first: &NewRefreshToken) -> Result<(), StoreError>;

    /// Spends the token whose hash is `presented_hash` and stores `next` in the
    /// same session, atomically. An already-spent token MUST revoke the whole
    /// session and return `ReuseDetected`. A session that began at or before
    /// `started_after` (the absolute session lifetime) MUST be revoked and
    /// return `SessionExpired`, however fresh its refresh token.
    async fn rotate(
        &self,
        presented_hash: &str,
        next_hash: &str,
        next_expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
        started_after: DateTime<Utc>,
    ) -> Result<Rotation, StoreError>;

    /// Revokes the session and all its refresh tokens. Idempotent.
    async fn revoke(&self, session: SessionId) -> Result<(), StoreError>;

    /// False when the session is revoked or unknown.
    async fn is_active(&self, session: SessionId) -> Result<bool, StoreError>;
}
