use async_trait::async_trait;

use crate::ledger::IdempotencyKey;
use crate::{StoreError, UserId};

/// A response kept for replay under an `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: serde_json::Value,
}

/// What [`IdempotencyStore::begin`] decided.
#[derive(Debug, Clone, PartialEq)]
pub enum IdempotencyBegin {
    /// This request owns the key: process it, then `complete` or `abandon`.
    Claimed,
    /// A request with this key and the same fingerprint finished: replay it.
    Replay(StoredResponse),
    /// A request with this key is still being processed.
    InProgress,
    /// The key was used with a different request body.
    Mismatch,
}

/// Durable per-user idempotency keys (zero2prod's pattern, with fingerprints
/// and expiry). Keys older than 24 hours are forgotten.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims `(user, key)` for the request with `fingerprint` (a canonical
    /// text of the request; adapters store a hash of it). Decided by one
    /// insert-or-nothing statement, so of concurrent callers exactly one gets
    /// `Claimed`. When another request holds the key, waits up to `wait` for it
    /// to finish and then returns `Replay` (it completed), `Claimed` (it was
    /// abandoned and this caller now owns the key) or `InProgress` (still running).
    async fn begin(
        &self,
        user: UserId,
        key: &IdempotencyKey,
        fingerprint: &str,
        wait: std::time::Duration,
    ) -> Result<IdempotencyBegin, StoreError>;

    /// Stores the final response of a claimed key.
    async fn complete(
        &self,
        user: UserId,
        key: &IdempotencyKey,
        response: &StoredResponse,
    ) -> Result<(), StoreError>;

    /// Releases a claimed key without a response, so a retry can run again.
    async fn abandon(&self, user: UserId, key: &IdempotencyKey) -> Result<(), StoreError>;
}
