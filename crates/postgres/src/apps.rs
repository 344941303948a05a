//! `AppStore` on PostgreSQL: registered apps and their hashed secrets. Each
//! change is written with its `admin_audit` record in one transaction.

use std::str::FromStr;
use std::time::Duration;

use askgate_domain::app::{App, AppName, AppOrigin, AppScope, AppSettings, ReturnUrl, audit_json};
use askgate_domain::audit::{AuditAction, AuditStamp, NewAuditRecord};
use askgate_domain::ports::{AppStore, SecretRotation};
use askgate_domain::{AppId, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{Array, Integer, Interval, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::Database;
use crate::admin::insert_record;
use crate::errors::DbError;
use crate::models::{CorruptRow, corrupt};

const COLUMNS: &str = "id, name, allowed_origins, allowed_return_urls, scopes, \
    daily_limit_per_user, created_at, updated_at, revoked_at";

#[derive(QueryableByName)]
struct AppRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Array<Text>)]
    allowed_origins: Vec<String>,
    #[diesel(sql_type = Array<Text>)]
    allowed_return_urls: Vec<String>,
    #[diesel(sql_type = Array<Text>)]
    scopes: Vec<String>,
    #[diesel(sql_type = Nullable<Integer>)]
    daily_limit_per_user: Option<i32>,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    updated_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    revoked_at: Option<DateTime<Utc>>,
}

impl TryFrom<AppRow> for App {
    type Error = CorruptRow;

    fn try_from(row: AppRow) -> Result<Self, Self::Error> {
        Ok(Self {
            id: AppId::from_uuid(row.id),
            name: AppName::parse(&row.name).map_err(corrupt("apps", "name"))?,
            allowed_origins: row
                .allowed_origins
                .iter()
                .map(|o| AppOrigin::parse(o).map_err(corrupt("apps", "allowed_origins")))
                .collect::<Result<_, _>>()?,
            allowed_return_urls: row
                .allowed_return_urls
                .iter()
                .map(|u| ReturnUrl::parse(u).map_err(corrupt("apps", "allowed_return_urls")))
                .collect::<Result<_, _>>()?,
            scopes: row
                .scopes
                .iter()
                .map(|s| AppScope::from_str(s).map_err(corrupt("apps", "scopes")))
                .collect::<Result<_, _>>()?,
            daily_limit_per_user: row.daily_limit_per_user,
            created_at: row.created_at,
            updated_at: row.updated_at,
            revoked_at: row.revoked_at,
        })
    }
}

fn origins(s: &AppSettings) -> Vec<&str> {
    s.allowed_origins.iter().map(AppOrigin::as_str).collect()
}

fn return_urls(s: &AppSettings) -> Vec<&str> {
    s.allowed_return_urls
        .iter()
        .map(ReturnUrl::as_str)
        .collect()
}

fn scopes(s: &AppSettings) -> Vec<&str> {
    s.scopes.iter().map(|x| x.as_str()).collect()
}

/// Registered apps.
#[derive(Debug, Clone)]
pub struct PgApps {
    db: Database,
}

impl PgApps {
    #[must_use]
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

fn store(e: impl Into<DbError>) -> StoreError {
    e.into().into()
}

async fn lock_app(conn: &mut AsyncPgConnection, id: AppId) -> Result<Option<App>, DbError> {
    let row = diesel::sql_query(format!(
        "SELECT {COLUMNS} FROM apps WHERE id = $1 FOR UPDATE"
    ))
    .bind::<SqlUuid, _>(id.as_uuid())
    .get_result::<AppRow>(conn)
    .await;
    match row {
        Ok(row) => Ok(Some(App::try_from(row)?)),
        Err(diesel::result::Error::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

async fn insert_secret(
    conn: &mut AsyncPgConnection,
    app: AppId,
    hash: &str,
) -> Result<(), DbError> {
    diesel::sql_query("INSERT INTO app_secrets (id, app_id, secret_sha256) VALUES ($1, $2, $3)")
        .bind::<SqlUuid, _>(Uuid::now_v7())
        .bind::<SqlUuid, _>(app.as_uuid())
        .bind::<Text, _>(hash)
        .execute(conn)
        .await?;
    Ok(())
}

fn record(
    action: AuditAction,
    app: AppId,
    before: Option<&App>,
    after: Option<serde_json::Value>,
) -> NewAuditRecord {
    NewAuditRecord {
        action,
        target: app.as_uuid(),
        before: before.map(audit_json),
        after,
        reason: None,
    }
}

#[async_trait]
impl AppStore for PgApps {
    #[tracing::instrument(skip_all, fields(app_id = %id))]
    async fn create(
        &self,
        id: AppId,
        settings: &AppSettings,
        secret_hash: &str,
        stamp: &AuditStamp,
    ) -> Result<App, StoreError> {
        let mut conn = self.db.conn().await.map_err(store)?;
        conn.transaction::<_, DbError, _>(async |tx| {
            let row = diesel::sql_query(format!(
                "INSERT INTO apps (id, name, allowed_origins, allowed_return_urls, scopes,
                                   daily_limit_per_user, created_by)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"
            ))
            .bind::<SqlUuid, _>(id.as_uuid())
            .bind::<Text, _>(settings.name.as_str())
            .bind::<Array<Text>, _>(origins(settings))
            .bind::<Array<Text>, _>(return_urls(settings))
            .bind::<Array<Text>, _>(scopes(settings))
            .bind::<Nullable<Integer>, _>(settings.daily_limit_per_user)
            .bind::<SqlUuid, _>(stamp.actor.as_uuid())
            .get_result::<AppRow>(tx)
            .await?;
            let app = App::try_from(row)?;
            insert_secret(tx, id, secret_hash).await?;
            insert_record(
                tx,
                &record(AuditAction::AppCreate, id, None, Some(audit_json(&app))),
                stamp,
            )
            .await?;
            Ok(app)
        })
        .await
        .map_err(StoreError::from)
    }

    async fn list(&self) -> Result<Vec<App>, StoreError> {
        let mut conn = self.db.conn().await.map_err(store)?;
        diesel::sql_query(format!(
            "SELECT {COLUMNS} FROM apps ORDER BY created_at DESC, id DESC"
        ))
        .load::<AppRow>(&mut conn)
        .await
        .map_err(store)?
        .into_iter()
        .map(|r| App::try_from(r).map_err(store))
        .collect()
    }

    async fn get(&self, id: AppId) -> Result<Option<App>, StoreError> {
        let mut conn = self.db.conn().await.map_err(store)?;
        let row = diesel::sql_query(format!("SELECT {COLUMNS} FROM apps WHERE id = $1"))
            .bind::<SqlUuid, _>(id.as_uuid())
            .get_result::<AppRow>(&mut conn)
            .await;
        match row {
            Ok(row) => App::try_from(row).map(Some).map_err(store),
            Err(diesel::result::Error::NotFound) => Ok(None),
            Err(e) => Err(store(e)),
        }
    }

    #[tracing::instrument(skip_all, fields(app_id = %id))]
    async fn update(
        &self,
        id: AppId,
        settings: &AppSettings,
        stamp: &AuditStamp,
    ) -> Result<Option<App>, StoreError> {
        let mut conn = self.db.conn().await.map_err(store)?;
        conn.transaction::<_, DbError, _>(async |tx| {
            let Some(before) = lock_app(tx, id).await? else {
                return Ok(None);
            };
            let row = diesel::sql_query(format!(
                "UPDATE apps SET name = $2, allowed_origins = $3, allowed_return_urls = $4,
                                 scopes = $5, daily_limit_per_user = $6, updated_at = now()
                  WHERE id = $1 RETURNING {COLUMNS}"
            ))
            .bind::<SqlUuid, _>(id.as_uuid())
            .bind::<Text, _>(settings.name.as_str())
            .bind::<Array<Text>, _>(origins(settings))
            .bind::<Array<Text>, _>(return_urls(settings))
            .bind::<Array<Text>, _>(scopes(settings))
            .bind::<Nullable<Integer>, _>(settings.daily_limit_per_user)
            .get_result::<AppRow>(tx)
            .await?;
            let app = App::try_from(row)?;
            insert_record(
                tx,
                &record(
                    AuditAction::AppUpdate,
                    id,
                    Some(&before),
                    Some(audit_json(&app)),
                ),
                stamp,
            )
            .await?;
            Ok(Some(app))
        })
        .await
        .map_err(StoreError::from)
    }

    #[tracing::instrument(skip_all, fields(app_id = %id))]
    async fn revoke(&self, id: AppId, stamp: &AuditStamp) -> Result<Option<App>, StoreError> {
        let mut conn = self.db.conn().await.map_err(store)?;
        conn.transaction::<_, DbError, _>(async |tx| {
            let Some(before) = lock_app(tx, id).await? else {
                return Ok(None);
            };
            if before.revoked_at.is_some() {
                return Ok(Some(before));
            }
            let row = diesel::sql_query(format!(
                "UPDATE apps SET revoked_at = now(), updated_at = now() WHERE id = $1 RETURNING {COLUMNS}"
            ))
            .bind::<SqlUuid, _>(id.as_uuid())
            .get_result::<AppRow>(tx)
            .await?;
            let app = App::try_from(row)?;
            insert_record(
                tx,
                &record(AuditAction::AppRevoke, id, Some(&before), Some(audit_json(&app))),
                stamp,
            )
            .await?;
            Ok(Some(app))
        })
        .await
        .map_err(StoreError::from)
    }

    #[tracing::instrument(skip_all, fields(app_id = %id))]
    async fn rotate(
        &self,
        id: AppId,
        secret_hash: &str,
        overlap: Duration,
        stamp: &AuditStamp,
    ) -> Result<SecretRotation, StoreError> {
        let overlap_interval = diesel::data_types::PgInterval::from_microseconds(
            i64::try_from(overlap.as_micros()).unwrap_or(i64::MAX),
        );
        let mut conn = self.db.conn().await.map_err(store)?;
        conn.transaction::<_, DbError, _>(async |tx| {
            let Some(app) = lock_app(tx, id).await? else {
                return Ok(SecretRotation::NotFound);
            };
            if app.revoked_at.is_some() {
                return Ok(SecretRotation::Revoked);
            }
            // Every secret valid now stays valid for the overlap at most.
            let retired = diesel::sql_query(
                "UPDATE app_secrets SET expires_at = now() + $2
                  WHERE app_id = $1 AND (expires_at IS NULL OR expires_at > now() + $2)",
            )
            .bind::<SqlUuid, _>(id.as_uuid())
            .bind::<Interval, _>(overlap_interval)
            .execute(tx)
            .await?;
            insert_secret(tx, id, secret_hash).await?;
            insert_record(
                tx,
                &record(
                    AuditAction::AppRotateSecret,
                    id,
                    None,
                    Some(serde_json::json!({
                        "overlap_seconds": overlap.as_secs(),
                        "secrets_retiring": retired,
                    })),
                ),
                stamp,
            )
            .await?;
            Ok(SecretRotation::Rotated(app))
        })
        .await
        .map_err(StoreError::from)
    }

    async fn authenticate(&self, id: AppId, secret_hash: &str) -> Result<Option<App>, StoreError> {
        let mut conn = self.db.conn().await.map_err(store)?;
        let row = diesel::sql_query(format!(
            "SELECT {COLUMNS} FROM apps a
              WHERE a.id = $1 AND a.revoked_at IS NULL
                AND EXISTS (SELECT 1 FROM app_secrets s
                             WHERE s.app_id = a.id AND s.secret_sha256 = $2
                               AND (s.expires_at IS NULL OR s.expires_at > now()))"
        ))
        .bind::<SqlUuid, _>(id.as_uuid())
        .bind::<Text, _>(secret_hash)
        .get_result::<AppRow>(&mut conn)
        .await;
        match row {
            Ok(row) => App::try_from(row).map(Some).map_err(store),
            Err(diesel::result::Error::NotFound) => Ok(None),
            Err(e) => Err(store(e)),
        }
    }
}
