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
