use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::api_key::{ApiKey, NewApiKey, StoredApiKey};
use crate::{ApiKeyId, StoreError, UserId};

/// A secret as handed to its owner once, with the hash kept instead of it.
/// `Debug` never shows the secret.
#[derive(Clone)]
pub struct MintedSecret {
    secret: String,
    hash: String,
}

impl MintedSecret {
    /// `hash` is what [`SecretMinter::hash`] gives for `secret`.
    #[must_use]
    pub const fn new(secret: String, hash: String) -> Self {
        Self { secret, hash }
    }

    /// The secret itself, for the one answer that shows it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.secret
    }

    /// What the store keeps.
    #[must_use]
    pub fn hash(&self) -> &str {
        &self.hash
    }
}

impl fmt::Debug for MintedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MintedSecret([REDACTED])")
    }
}

/// Makes unguessable secrets and hashes presented ones.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait SecretMinter: Send + Sync {
    /// A new secret: `prefix` followed by at least 256 random bits (URL-safe
    /// base64), with its hash.
    fn mint(&self, prefix: &str) -> MintedSecret;

    /// The hash of a presented secret: for a secret `mint` gave, exactly its `hash()`.
    fn hash(&self, presented: &str) -> String;
}

/// Personal API keys.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    /// Keeps a new key; answers it as listed.
    async fn create(&self, key: &NewApiKey) -> Result<ApiKey, StoreError>;

    /// The user's keys, revoked ones included, newest first.
    async fn list(&self, user: UserId) -> Result<Vec<ApiKey>, StoreError>;

    /// Revokes the user's key. `Ok(None)` when the user has no such key; a key
    /// revoked before stays as it was (and is answered).
    async fn revoke(&self, user: UserId, key: ApiKeyId) -> Result<Option<ApiKey>, StoreError>;

    /// The key whose secret hashes to `hash`, revoked or expired ones
    /// included, read from the store itself (never a cache), with its owner.
    async fn find(&self, hash: &str) -> Result<Option<StoredApiKey>, StoreError>;

    /// Records a use at `at`, unless one was recorded since `unless_since`.
    async fn touch(
        &self,
        key: ApiKeyId,
        at: DateTime<Utc>,
        unless_since: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}
