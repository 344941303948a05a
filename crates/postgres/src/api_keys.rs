//! `ApiKeyStore` on PostgreSQL: personal API keys, kept as the SHA-256 of
//! their secret. Every lookup reads the table itself, so a revocation is seen
//! by the next request on any instance.

use std::str::FromStr;

use askgate_domain::api_key::{ApiKey, ApiKeyName, ApiKeyScope, NewApiKey, StoredApiKey};
use askgate_domain::ports::ApiKeyStore;
use askgate_domain::{ApiKeyId, Email, StoreError, UserId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{Array, Bool, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::Database;
use crate::errors::DbError;
use crate::models::{CorruptRow, corrupt};

const COLUMNS: &str = "id, name, prefix, scopes, created_at, expires_at, last_used_at, revoked_at";

#[derive(QueryableByName)]
struct KeyRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    prefix: String,
    #[diesel(sql_type = Array<Text>)]
    scopes: Vec<String>,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    expires_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    last_used_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    revoked_at: Option<DateTime<Utc>>,
}

fn scopes(raw: Vec<String>) -> Result<Vec<ApiKeyScope>, CorruptRow> {
    raw.iter()
        .map(|s| ApiKeyScope::from_str(s).map_err(corrupt("api_keys", "scopes")))
        .collect()
}

impl TryFrom<KeyRow> for ApiKey {
    type Error = CorruptRow;

    fn try_from(row: KeyRow) -> Result<Self, Self::Error> {
        Ok(Self {
            id: ApiKeyId::from_uuid(row.id),
            name: ApiKeyName::parse(&row.name).map_err(corrupt("api_keys", "name"))?,
            prefix: row.prefix,
            scopes: scopes(row.scopes)?,
            created_at: row.created_at,
            expires_at: row.expires_at,
            last_used_at: row.last_used_at,
            revoked_at: row.revoked_at,
        })
    }
}

#[derive(QueryableByName)]
struct FoundRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    prefix: String,
    #[diesel(sql_type = Array<Text>)]
    scopes: Vec<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    expires_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    last_used_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    revoked_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = SqlUuid)]
    user_id: Uuid,
    #[diesel(sql_type = Text)]
    email: String,
    #[diesel(sql_type = Bool)]
    disabled: bool,
}

impl TryFrom<FoundRow> for StoredApiKey {
    type Error = CorruptRow;

    fn try_from(row: FoundRow) -> Result<Self, Self::Error> {
        Ok(Self {
            id: ApiKeyId::from_uuid(row.id),
            prefix: row.prefix,
            scopes: scopes(row.scopes)?,
            expires_at: row.expires_at,
            last_used_at: row.last_used_at,
            revoked_at: row.revoked_at,
            user: UserId::from_uuid(row.user_id),
            email: Email::parse(&row.email).map_err(corrupt("users", "email"))?,
            user_disabled: row.disabled,
        })
    }
}

/// Personal API keys.
#[derive(Debug, Clone)]
pub struct PgApiKeys {
    db: Database,
}

impl PgApiKeys {
    #[must_use]
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

fn store(e: impl Into<DbError>) -> StoreError {
    e.into().into()
}

fn key(row: KeyRow) -> Result<ApiKey, StoreError> {
    ApiKey::try_from(row).map_err(store)
}

#[async_trait]
impl ApiKeyStore for PgApiKeys {
    #[tracing::instrument(skip_all, fields(user_id = %new.user))]
    async fn create(&self, new: &NewApiKey) -> Result<ApiKey, StoreError> {
        let mut conn = self.db.conn().await.map_err(store)?;
        let scopes: Vec<&str> = new.scopes.iter().map(|s| s.as_str()).collect();
        let row = diesel::sql_query(format!(
            "INSERT INTO api_keys (id, user_id, name, prefix, secret_sha256, scopes, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"
        ))
        .bind::<SqlUuid, _>(new.id.as_uuid())
        .bind::<SqlUuid, _>(new.user.as_uuid())
        .bind::<Text, _>(new.name.as_str())
        .bind::<Text, _>(&new.prefix)
        .bind::<Text, _>(&new.secret_hash)
        .bind::<Array<Text>, _>(scopes)
        .bind::<Nullable<Timestamptz>, _>(new.expires_at)
        .get_result::<KeyRow>(&mut conn)
        .await
        .map_err(store)?;
        key(row)
    }

    async fn list(&self, user: UserId) -> Result<Vec<ApiKey>, StoreError> {
        let mut conn = self.db.conn().await.map_err(store)?;
        diesel::sql_query(format!(
            "SELECT {COLUMNS} FROM api_keys WHERE user_id = $1 ORDER BY created_at DESC, id DESC"
        ))
        .bind::<SqlUuid, _>(user.as_uuid())
        .load::<KeyRow>(&mut conn)
        .await
        .map_err(store)?
        .into_iter()
        .map(key)
        .collect()
    }

    #[tracing::instrument(skip_all, fields(user_id = %user, api_key_id = %id))]
    async fn revoke(&self, user: UserId, id: ApiKeyId) -> Result<Option<ApiKey>, StoreError> {
        let mut conn = self.db.conn().await.map_err(store)?;
        // One statement: revokes the key if it is not revoked yet, and answers
        // it either way (a second revocation keeps the first time).
        let row = diesel::sql_query(format!(
            "WITH revoked AS (
                 UPDATE api_keys SET revoked_at = now()
                  WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL
                 RETURNING {COLUMNS})
             SELECT {COLUMNS} FROM revoked
             UNION ALL
             SELECT {COLUMNS} FROM api_keys
              WHERE id = $1 AND user_id = $2 AND NOT EXISTS (SELECT 1 FROM revoked)"
        ))
        .bind::<SqlUuid, _>(id.as_uuid())
        .bind::<SqlUuid, _>(user.as_uuid())
        .get_result::<KeyRow>(&mut conn)
        .await;
        match row {
            Ok(row) => key(row).map(Some),
            Err(diesel::result::Error::NotFound) => Ok(None),
            Err(e) => Err(store(e)),
        }
    }

    async fn find(&self, hash: &str) -> Result<Option<StoredApiKey>, StoreError> {
        let mut conn = self.db.conn().await.map_err(store)?;
        let row = diesel::sql_query(
            "SELECT k.id, k.prefix, k.scopes, k.expires_at, k.last_used_at, k.revoked_at,
                    u.id AS user_id, u.email, u.disabled_at IS NOT NULL AS disabled
               FROM api_keys k JOIN users u ON u.id = k.user_id
              WHERE k.secret_sha256 = $1",
        )
        .bind::<Text, _>(hash)
        .get_result::<FoundRow>(&mut conn)
        .await;
        match row {
            Ok(row) => StoredApiKey::try_from(row).map(Some).map_err(store),
            Err(diesel::result::Error::NotFound) => Ok(None),
            Err(e) => Err(store(e)),
        }
    }

    async fn touch(
        &self,
        id: ApiKeyId,
        at: DateTime<Utc>,
        unless_since: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut conn = self.db.conn().await.map_err(store)?;
        diesel::sql_query(
            "UPDATE api_keys SET last_used_at = $2
              WHERE id = $1 AND (last_used_at IS NULL OR last_used_at <= $3)",
        )
        .bind::<SqlUuid, _>(id.as_uuid())
        .bind::<Timestamptz, _>(at)
        .bind::<Timestamptz, _>(unless_since)
        .execute(&mut conn)
        .await
        .map_err(store)?;
        Ok(())
    }
}
