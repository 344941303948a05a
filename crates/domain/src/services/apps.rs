//! Registered apps: admins register, change, revoke them and rotate their
//! secrets (each action in the admin audit log); every app call is
//! authenticated against the store, so a revoked app or retired secret is
//! refused at once on every instance.

use std::sync::Arc;
use std::time::Duration;

use tracing::instrument;

use crate::app::{
    APP_SECRET_PREFIX, App, AppOrigin, AppPatch, AppSettings, DEFAULT_ROTATION_OVERLAP_SECONDS,
    MAX_ROTATION_OVERLAP_SECONDS, ReturnUrl,
};
use crate::audit::AuditStamp;
use crate::ports::{AppStore, MintedSecret, SecretMinter, SecretRotation};
use crate::user::Actor;
use crate::{AppId, BoxError, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("only admins may manage apps")]
    Forbidden,
    #[error("no such app")]
    NotFound,
    #[error("the app is revoked")]
    Revoked,
    #[error("at least one scope is needed")]
    NoScopes,
    #[error("the daily limit must be at least 1")]
    InvalidDailyLimit,
    #[error("the overlap must be 0 to {MAX_ROTATION_OVERLAP_SECONDS} seconds")]
    InvalidOverlap,
    /// The page asking to sign in is not at one of the app's registered origins.
    #[error("the app is not registered for this origin")]
    OriginNotAllowed,
    /// The page to send the person back to is not one of the app's return URLs.
    #[error("the app did not register this return URL")]
    ReturnUrlNotAllowed,
    #[error("apps unavailable")]
    Unavailable(#[source] BoxError),
    #[error("unexpected app error")]
    Unexpected(#[source] BoxError),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => Self::Unavailable(Box::new(e)),
            StoreError::Conflict(_) | StoreError::Unexpected(_) => Self::Unexpected(Box::new(e)),
        }
    }
}

/// Why app credentials do not authenticate.
#[derive(Debug, thiserror::Error)]
pub enum AppAuthError {
    /// Unknown app, wrong or retired secret, or a revoked app.
    #[error("app credentials refused")]
    Refused,
    #[error("apps unavailable")]
    Unavailable(#[source] BoxError),
}

/// An app and a secret shown this once.
#[derive(Debug, Clone)]
pub struct AppWithSecret {
    pub app: App,
    pub secret: MintedSecret,
}

pub struct AppService {
    store: Arc<dyn AppStore>,
    minter: Arc<dyn SecretMinter>,
}

fn check(settings: &AppSettings) -> Result<(), AppError> {
    if settings.scopes.is_empty() {
        return Err(AppError::NoScopes);
    }
    if settings.daily_limit_per_user.is_some_and(|l| l < 1) {
        return Err(AppError::InvalidDailyLimit);
    }
    Ok(())
}

fn admin(actor: &Actor) -> Result<(), AppError> {
    if actor.is_admin() {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

impl AppService {
    #[must_use]
    pub fn new(store: Arc<dyn AppStore>, minter: Arc<dyn SecretMinter>) -> Self {
        Self { store, minter }
    }

    /// Registers an app; its first secret is in the answer and nowhere else.
    #[instrument(skip_all, fields(actor = %stamp.actor))]
    pub async fn create(
        &self,
        actor: &Actor,
        stamp: &AuditStamp,
        mut settings: AppSettings,
    ) -> Result<AppWithSecret, AppError> {
        admin(actor)?;
        settings.scopes.sort_unstable();
        settings.scopes.dedup();
        check(&settings)?;
        let secret = self.minter.mint(APP_SECRET_PREFIX);
        let app = self
            .store
            .create(AppId::generate(), &settings, secret.hash(), stamp)
            .await?;
        tracing::info!(app_id = %app.id, "app registered");
        Ok(AppWithSecret { app, secret })
    }

    pub async fn list(&self, actor: &Actor) -> Result<Vec<App>, AppError> {
        admin(actor)?;
        Ok(self.store.list().await?)
    }

    pub async fn get(&self, actor: &Actor, id: AppId) -> Result<App, AppError> {
        admin(actor)?;
        self.store.get(id).await?.ok_or(AppError::NotFound)
    }

    /// Changes the fields `patch` gives. A revoked app stays as it is.
    #[instrument(skip_all, fields(actor = %stamp.actor, app_id = %id))]
    pub async fn update(
        &self,
        actor: &Actor,
        stamp: &AuditStamp,
        id: AppId,
        patch: AppPatch,
    ) -> Result<App, AppError> {
        admin(actor)?;
        let app = self.store.get(id).await?.ok_or(AppError::NotFound)?;
        if app.revoked_at.is_some() {
            return Err(AppError::Revoked);
        }
        let mut settings = patch.apply(&app);
        settings.scopes.sort_unstable();
        settings.scopes.dedup();
        check(&settings)?;
        self.store
            .update(id, &settings, stamp)
            .await?
            .ok_or(AppError::NotFound)
    }

    /// Revokes the app: every secret stops working at once.
    #[instrument(skip_all, fields(actor = %stamp.actor, app_id = %id))]
    pub async fn revoke(
        &self,
        actor: &Actor,
        stamp: &AuditStamp,
        id: AppId,
    ) -> Result<App, AppError> {
        admin(actor)?;
        let app = self
            .store
            .revoke(id, stamp)
            .await?
            .ok_or(AppError::NotFound)?;
        tracing::info!("app revoked");
        Ok(app)
    }

    /// A new secret; the previous ones stay valid for `overlap_seconds`
    /// (default a day, at most 30 days).
    #[instrument(skip_all, fields(actor = %stamp.actor, app_id = %id))]
    pub async fn rotate_secret(
        &self,
        actor: &Actor,
        stamp: &AuditStamp,
        id: AppId,
        overlap_seconds: Option<u32>,
    ) -> Result<AppWithSecret, AppError> {
        admin(actor)?;
        let overlap = overlap_seconds.unwrap_or(DEFAULT_ROTATION_OVERLAP_SECONDS);
        if overlap > MAX_ROTATION_OVERLAP_SECONDS {
            return Err(AppError::InvalidOverlap);
        }
        let secret = self.minter.mint(APP_SECRET_PREFIX);
        match self
            .store
            .rotate(
                id,
                secret.hash(),
                Duration::from_secs(u64::from(overlap)),
                stamp,
            )
            .await?
        {
            SecretRotation::Rotated(app) => {
                tracing::info!(overlap_seconds = overlap, "app secret rotated");
                Ok(AppWithSecret { app, secret })
            }
            SecretRotation::Revoked => Err(AppError::Revoked),
            SecretRotation::NotFound => Err(AppError::NotFound),
        }
    }

    /// The app a signed-in person lets use their account, from a page at
    /// `origin` (the one that opened askgate's connect page): an app that is
    /// not revoked and registered that very origin, which is where askgate
    /// then sends the result, and nowhere else.
    pub async fn connect(
        &self,
        client_id: &str,
        origin: &str,
    ) -> Result<(App, AppOrigin), AppError> {
        let app = self.active(client_id).await?;
        let origin = AppOrigin::parse(origin).map_err(|_| AppError::OriginNotAllowed)?;
        if !app.allowed_origins.contains(&origin) {
            return Err(AppError::OriginNotAllowed);
        }
        Ok((app, origin))
    }

    /// The app of `client_id`, unless it is revoked.
    async fn active(&self, client_id: &str) -> Result<App, AppError> {
        let id: AppId = client_id.parse().map_err(|_| AppError::NotFound)?;
        let app = self.store.get(id).await?.ok_or(AppError::NotFound)?;
        if app.revoked_at.is_some() {
            return Err(AppError::Revoked);
        }
        Ok(app)
    }

    /// Like [`connect`](Self::connect), for a sign-in that sends the whole
    /// window back instead of a popup's message: to `return_url`, which must
    /// be exactly one of the app's registered return URLs.
    pub async fn connect_back(
        &self,
        client_id: &str,
        return_url: &str,
    ) -> Result<(App, ReturnUrl), AppError> {
        let app = self.active(client_id).await?;
        let url = ReturnUrl::parse(return_url).map_err(|_| AppError::ReturnUrlNotAllowed)?;
        if !app.accepts_return_url(&url) {
            return Err(AppError::ReturnUrlNotAllowed);
        }
        Ok((app, url))
    }

    /// The app whose client id and secret these are.
    pub async fn authenticate(&self, client_id: &str, secret: &str) -> Result<App, AppAuthError> {
        let id: AppId = client_id.parse().map_err(|_| AppAuthError::Refused)?;
        let hash = self.minter.hash(secret);
        self.store
            .authenticate(id, &hash)
            .await
            .map_err(|e| AppAuthError::Unavailable(Box::new(e)))?
            .ok_or(AppAuthError::Refused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::UserId;
    use crate::app::{AppName, AppScope};
    use crate::ports::{MockAppStore, MockSecretMinter};
    use crate::user::Role;

    fn actor(role: Role) -> Actor {
        Actor {
            user: UserId::generate(),
            role,
        }
    }

    fn stamp() -> AuditStamp {
        AuditStamp {
            actor: UserId::generate(),
            request_id: None,
        }
    }

    fn settings(scopes: Vec<AppScope>) -> AppSettings {
        AppSettings {
            name: AppName::parse("shop").unwrap(),
            allowed_origins: vec![],
            allowed_return_urls: vec![],
            scopes,
            daily_limit_per_user: None,
        }
    }

    #[tokio::test]
    async fn only_admins_register_apps() {
        let mut store = MockAppStore::new();
        store.expect_create().never();
        let apps = AppService::new(Arc::new(store), Arc::new(MockSecretMinter::new()));
        let refused = apps
            .create(
                &actor(Role::User),
                &stamp(),
                settings(vec![AppScope::BalanceRead]),
            )
            .await;
        assert!(matches!(refused, Err(AppError::Forbidden)));
    }

    #[tokio::test]
    async fn an_app_needs_a_scope_and_an_overlap_is_at_most_30_days() {
        let mut store = MockAppStore::new();
        store.expect_create().never();
        store.expect_rotate().never();
        let apps = AppService::new(Arc::new(store), Arc::new(MockSecretMinter::new()));
        let admin = actor(Role::Admin);
        assert!(matches!(
            apps.create(&admin, &stamp(), settings(vec![])).await,
            Err(AppError::NoScopes)
        ));
        assert!(matches!(
            apps.rotate_secret(&admin, &stamp(), AppId::generate(), Some(30 * 86_400 + 1))
                .await,
            Err(AppError::InvalidOverlap)
        ));
    }
}
