//! Personal API keys: made, listed and revoked by their owner, and checked on
//! every request that presents one.
//!
//! A key is looked up in the store on every use (no cache), so revoking it,
//! its expiry or its owner's account being disabled takes effect at once on
//! every instance. Its last use is recorded at most once a minute.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use tracing::instrument;

use crate::api_key::{
    API_KEY_PREFIX, ApiKey, ApiKeyName, ApiKeyScope, KeyCaller, KeyRef, NewApiKey,
    SHOWN_PREFIX_LEN, normalise_scopes,
};
use crate::ports::{ApiKeyStore, Clock, MintedSecret, SecretMinter};
use crate::user::Role;
use crate::{ApiKeyId, BoxError, StoreError, UserId};

/// How many keys a user may hold that are neither revoked nor expired.
pub const MAX_ACTIVE_KEYS: usize = 25;

/// How often a key's `last_used_at` is written at most.
const TOUCH_EVERY: Duration = Duration::minutes(1);

#[derive(Debug, thiserror::Error)]
pub enum ApiKeyError {
    #[error("at least one scope is needed")]
    NoScopes,
    #[error("the expiry must be in the future")]
    ExpiryInPast,
    #[error("at most {MAX_ACTIVE_KEYS} keys may be active at once; revoke one first")]
    TooManyKeys,
    #[error("no such key")]
    NotFound,
    #[error("API keys unavailable")]
    Unavailable(#[source] BoxError),
    #[error("unexpected API key error")]
    Unexpected(#[source] BoxError),
}

impl From<StoreError> for ApiKeyError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => Self::Unavailable(Box::new(e)),
            StoreError::Conflict(_) | StoreError::Unexpected(_) => Self::Unexpected(Box::new(e)),
        }
    }
}

/// Why a presented key does not authenticate.
#[derive(Debug, thiserror::Error)]
pub enum KeyAuthError {
    #[error("unknown API key")]
    Unknown,
    #[error("API key revoked")]
    Revoked,
    #[error("API key expired")]
    Expired,
    #[error("the key's account is disabled")]
    AccountDisabled,
    #[error("API keys unavailable")]
    Unavailable(#[source] BoxError),
}

/// What the owner asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyInput {
    pub name: ApiKeyName,
    pub scopes: Vec<ApiKeyScope>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A key just made: as listed, and its secret, shown this once.
#[derive(Debug, Clone)]
pub struct CreatedApiKey {
    pub key: ApiKey,
    pub secret: MintedSecret,
}

pub struct ApiKeyService {
    store: Arc<dyn ApiKeyStore>,
    minter: Arc<dyn SecretMinter>,
    clock: Arc<dyn Clock>,
}

impl ApiKeyService {
    #[must_use]
    pub fn new(
        store: Arc<dyn ApiKeyStore>,
        minter: Arc<dyn SecretMinter>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            minter,
            clock,
        }
    }

    /// Makes a key for `owner`; its secret is in the answer and nowhere else.
    #[instrument(skip_all, fields(user_id = %owner))]
    pub async fn create(
        &self,
        owner: UserId,
        input: ApiKeyInput,
    ) -> Result<CreatedApiKey, ApiKeyError> {
        let scopes = normalise_scopes(input.scopes).map_err(|_| ApiKeyError::NoScopes)?;
        let now = self.clock.now();
        if input.expires_at.is_some_and(|at| at <= now) {
            return Err(ApiKeyError::ExpiryInPast);
        }
        let active = self
            .store
            .list(owner)
            .await?
            .iter()
            .filter(|k| k.revoked_at.is_none() && k.expires_at.is_none_or(|at| at > now))
            .count();
        if active >= MAX_ACTIVE_KEYS {
            return Err(ApiKeyError::TooManyKeys);
        }
        let secret = self.minter.mint(API_KEY_PREFIX);
        let prefix: String = secret.expose().chars().take(SHOWN_PREFIX_LEN).collect();
        let key = self
            .store
            .create(&NewApiKey {
                id: ApiKeyId::generate(),
                user: owner,
                name: input.name,
                prefix,
                secret_hash: secret.hash().to_owned(),
                scopes,
                expires_at: input.expires_at,
            })
            .await?;
        tracing::info!(api_key_id = %key.id, prefix = %key.prefix, "API key created");
        Ok(CreatedApiKey { key, secret })
    }

    /// The owner's keys, newest first (never their secrets).
    #[instrument(skip_all, fields(user_id = %owner))]
    pub async fn list(&self, owner: UserId) -> Result<Vec<ApiKey>, ApiKeyError> {
        Ok(self.store.list(owner).await?)
    }

    /// Revokes one of the owner's keys; refused from the next request on.
    /// Someone else's key is answered like one that does not exist.
    #[instrument(skip_all, fields(user_id = %owner, api_key_id = %key))]
    pub async fn revoke(&self, owner: UserId, key: ApiKeyId) -> Result<ApiKey, ApiKeyError> {
        let revoked = self
            .store
            .revoke(owner, key)
            .await?
            .ok_or(ApiKeyError::NotFound)?;
        tracing::info!(prefix = %revoked.prefix, "API key revoked");
        Ok(revoked)
    }

    /// The caller a presented secret speaks for, checked against the store.
    pub async fn authenticate(&self, presented: &str) -> Result<KeyCaller, KeyAuthError> {
        let unavailable = |e: StoreError| KeyAuthError::Unavailable(Box::new(e));
        let hash = self.minter.hash(presented);
        let stored = self
            .store
            .find(&hash)
            .await
            .map_err(unavailable)?
            .ok_or(KeyAuthError::Unknown)?;
        let now = self.clock.now();
        if stored.revoked_at.is_some() {
            return Err(KeyAuthError::Revoked);
        }
        if stored.expires_at.is_some_and(|at| at <= now) {
            return Err(KeyAuthError::Expired);
        }
        if stored.user_disabled {
            return Err(KeyAuthError::AccountDisabled);
        }
        if stored.last_used_at.is_none_or(|at| at <= now - TOUCH_EVERY) {
            // A lost "last used" time is no reason to refuse the request.
            if let Err(error) = self.store.touch(stored.id, now, now - TOUCH_EVERY).await {
                tracing::warn!(%error, api_key_id = %stored.id, "could not record the key's use");
            }
        }
        Ok(KeyCaller {
            key: KeyRef {
                id: stored.id,
                prefix: stored.prefix,
            },
            scopes: stored.scopes,
            user: stored.user,
            // A key acts as a plain user whatever its owner's role: it never
            // exercises an admin's powers (inactive or restricted domains,
            // the admin rate tier), as it never reaches an admin endpoint.
            role: Role::User,
            email: stored.email,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Email;
    use crate::api_key::StoredApiKey;
    use crate::ports::{MockApiKeyStore, MockClock, MockSecretMinter};

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn stored(last_used: Option<&str>) -> StoredApiKey {
        StoredApiKey {
            id: ApiKeyId::generate(),
            prefix: "agk_abcdefgh".into(),
            scopes: vec![ApiKeyScope::Chat],
            expires_at: Some(at("2030-01-01T00:00:00Z")),
            last_used_at: last_used.map(at),
            revoked_at: None,
            user: UserId::generate(),
            email: Email::parse("k@example.com").unwrap(),
            user_disabled: false,
        }
    }

    fn service(store: MockApiKeyStore, now: &str) -> ApiKeyService {
        let mut minter = MockSecretMinter::new();
        minter.expect_hash().returning(|s| format!("h:{s}"));
        let mut clock = MockClock::new();
        let now = at(now);
        clock.expect_now().returning(move || now);
        ApiKeyService::new(Arc::new(store), Arc::new(minter), Arc::new(clock))
    }

    #[tokio::test]
    async fn a_key_used_within_the_minute_is_not_touched_again() {
        let mut store = MockApiKeyStore::new();
        store
            .expect_find()
            .returning(|_| Ok(Some(stored(Some("2026-01-01T00:00:30Z")))));
        store.expect_touch().never();
        let caller = service(store, "2026-01-01T00:01:00Z")
            .authenticate("agk_x")
            .await
            .unwrap();
        assert!(caller.allows(ApiKeyScope::Chat));
        assert!(!caller.allows(ApiKeyScope::BalanceRead));
    }

    #[tokio::test]
    async fn a_key_idle_for_a_minute_is_touched() {
        let mut store = MockApiKeyStore::new();
        store
            .expect_find()
            .returning(|_| Ok(Some(stored(Some("2026-01-01T00:00:00Z")))));
        store.expect_touch().times(1).returning(|_, _, _| Ok(()));
        service(store, "2026-01-01T00:01:00Z")
            .authenticate("agk_x")
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn an_expired_key_is_refused() {
        let mut store = MockApiKeyStore::new();
        store.expect_find().returning(|_| Ok(Some(stored(None))));
        let refused = service(store, "2030-01-01T00:00:00Z")
            .authenticate("agk_x")
            .await;
        assert!(matches!(refused, Err(KeyAuthError::Expired)));
    }

    #[tokio::test]
    async fn an_expiry_in_the_past_is_refused_before_anything_is_stored() {
        let mut store = MockApiKeyStore::new();
        store.expect_create().never();
        store.expect_list().never();
        let refused = service(store, "2026-01-01T00:00:00Z")
            .create(
                UserId::generate(),
                ApiKeyInput {
                    name: ApiKeyName::parse("ci").unwrap(),
                    scopes: vec![ApiKeyScope::Chat],
                    expires_at: Some(at("2025-12-31T00:00:00Z")),
                },
            )
            .await;
        assert!(matches!(refused, Err(ApiKeyError::ExpiryInPast)));
    }
}
