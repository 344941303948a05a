use std::time::Duration;

use async_trait::async_trait;

use crate::app::{App, AppSettings};
use crate::audit::AuditStamp;
use crate::{AppId, StoreError};

/// What [`AppStore::rotate`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRotation {
    /// The new secret is current; the previous ones stay valid for the overlap.
    Rotated(App),
    /// A revoked app gets no new secret.
    Revoked,
    NotFound,
}

/// Registered apps and their hashed secrets. Every change is written with
/// its admin audit record (before and after) in one database transaction.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AppStore: Send + Sync {
    /// Registers an app with its first secret (hash), audited `app_create`.
    async fn create(
        &self,
        id: AppId,
        settings: &AppSettings,
        secret_hash: &str,
        stamp: &AuditStamp,
    ) -> Result<App, StoreError>;

    /// Every app, revoked ones included, newest first.
    async fn list(&self) -> Result<Vec<App>, StoreError>;

    /// `Ok(None)` when there is no such app.
    async fn get(&self, id: AppId) -> Result<Option<App>, StoreError>;

    /// Replaces the app's settings, audited `app_update`; `Ok(None)` when
    /// there is no such app.
    async fn update(
        &self,
        id: AppId,
        settings: &AppSettings,
        stamp: &AuditStamp,
    ) -> Result<Option<App>, StoreError>;

    /// Revokes the app (all its secrets stop working), audited `app_revoke`
    /// the first time; a revoked app is answered as it is.
    async fn revoke(&self, id: AppId, stamp: &AuditStamp) -> Result<Option<App>, StoreError>;

    /// Makes `secret_hash` the current secret; the secrets valid until now
    /// stay valid for `overlap` (never longer than they already were).
    /// Audited `app_rotate_secret`. MUST return `Revoked` for a revoked app.
    async fn rotate(
        &self,
        id: AppId,
        secret_hash: &str,
        overlap: Duration,
        stamp: &AuditStamp,
    ) -> Result<SecretRotation, StoreError>;

    /// The app, when `secret_hash` is one of its valid secrets and it is not
    /// revoked; read from the store itself on every call.
    async fn authenticate(&self, id: AppId, secret_hash: &str) -> Result<Option<App>, StoreError>;
}

/// A registered app's request to spend a user's tokens.
#[derive(Debug, Clone, PartialEq)]
pub struct AppSpend<'a> {
    pub app: &'a App,
    pub user: crate::UserId,
    /// 1 to 100.
    pub amount: i32,
    pub reason: &'a str,
    pub key: &'a crate::ledger::IdempotencyKey,
    /// The canonical text of the request the key is bound to.
    pub fingerprint: &'a str,
    /// The user's API key, when the app came with one instead of a session.
    pub api_key: Option<&'a crate::api_key::KeyRef>,
}

/// An app consumption as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppConsumption {
    pub id: crate::TransactionId,
    pub amount: i32,
    pub balance_after: crate::Tokens,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// What [`AppLedger::consume`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpendOutcome {
    Consumed(AppConsumption),
    /// The key's earlier consumption, for the same request: nothing written.
    Replay(AppConsumption),
    /// The key was used for another request: nothing written.
    Mismatch,
    InsufficientTokens {
        balance: crate::Tokens,
    },
    /// The app's daily limit for this user would be passed.
    DailyLimit {
        limit: i32,
        spent_today: i32,
    },
    UserNotFound,
}

/// What [`AppLedger::refund`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppRefundOutcome {
    Refunded {
        amount: i32,
        balance_after: crate::Tokens,
    },
    /// No consumption of this app with that id.
    NotFound,
    AlreadyRefunded,
    TooLate,
}

/// Apps' spending of their users' tokens, on the same ledger as chats.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AppLedger: Send + Sync {
    /// Debits `amount` with a `consumption` row (service type `app`, the app
    /// in its metadata) in one conditional statement: no number of concurrent
    /// calls can overspend. Once per (app, key): a repeat with the same
    /// request MUST return `Replay` with the first consumption, with another
    /// request `Mismatch`; both write nothing. MUST return `InsufficientTokens`
    /// when the balance is below the amount, and `DailyLimit` when the app's
    /// limit for the user (what it spent today, UTC, less refunds) would be passed.
    async fn consume<'a>(&self, spend: &AppSpend<'a>) -> Result<SpendOutcome, StoreError>;

    /// Gives back one of the app's consumptions with a `refund` row, once,
    /// within `window` of it. Another app's consumption is `NotFound`.
    async fn refund(
        &self,
        app: AppId,
        consumption: crate::TransactionId,
        window: Duration,
    ) -> Result<AppRefundOutcome, StoreError>;
}
