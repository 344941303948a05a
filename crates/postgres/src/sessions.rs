//! `SessionStore` on PostgreSQL: sign-in sessions and their rotating refresh
//! tokens (stored as SHA-256 hashes only).
//!
//! A refresh is decided by one conditional statement: the presented token is
//! spent only if it is unspent, unexpired and its session is not revoked. Of two
//! concurrent refreshes with one token, the second waits for the first's row lock,
//! then finds the token spent, which is exactly what a stolen copy looks like: the
//! session is revoked.

use askgate_domain::ports::{NewRefreshToken, Rotation, SessionStore};
use askgate_domain::{SessionId, StoreError, UserId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel::sql_types::{Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::Database;
use crate::errors::store;
use crate::schema::{refresh_tokens, sessions};

/// Why a session was revoked (`sessions.revoked_reason`).
const REASON_REVOKED: &str = "revoked";
const REASON_REUSE: &str = "refresh token reuse";
const REASON_EXPIRED: &str = "session lifetime reached";

/// Spends the presented token if it may be used; returns its session and user.
const SPEND: &str = "\
UPDATE refresh_tokens AS rt
   SET rotated_at = $2
  FROM sessions AS s
 WHERE rt.token_hash = $1
   AND rt.rotated_at IS NULL
   AND rt.expires_at > $2
   AND s.id = rt.session_id
   AND s.revoked_at IS NULL
   AND s.created_at > $3
RETURNING rt.session_id, s.user_id";

/// What is known of a token that could not be spent, and of its session.
const KNOWN: &str = "\
SELECT rt.session_id, rt.rotated_at, rt.expires_at, s.created_at, s.revoked_at
  FROM refresh_tokens AS rt
  JOIN sessions AS s ON s.id = rt.session_id
 WHERE rt.token_hash = $1";

#[derive(QueryableByName)]
struct Known {
    #[diesel(sql_type = SqlUuid)]
    session_id: Uuid,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    rotated_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Timestamptz)]
    expires_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    revoked_at: Option<DateTime<Utc>>,
}

#[derive(QueryableByName)]
struct Spent {
    #[diesel(sql_type = SqlUuid)]
    session_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    user_id: Uuid,
}

/// Sessions and refresh tokens.
#[derive(Debug, Clone)]
pub struct PgSessions {
    db: Database,
}

impl PgSessions {
    #[must_use]
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

async fn revoke_session(
    conn: &mut AsyncPgConnection,
    session: Uuid,
    reason: &str,
) -> Result<(), DieselError> {
    diesel::update(
        sessions::table
            .find(session)
            .filter(sessions::revoked_at.is_null()),
    )
    .set((
        sessions::revoked_at.eq(diesel::dsl::now),
        sessions::revoked_reason.eq(reason),
    ))
    .execute(conn)
    .await?;
    Ok(())
}

#[async_trait]
impl SessionStore for PgSessions {
    #[tracing::instrument(skip_all, fields(session = %first.session, user_id = %first.user))]
    async fn start(&self, first: &NewRefreshToken) -> Result<(), StoreError> {
        let mut conn = self.db.conn().await.map_err(store)?;
        conn.transaction::<_, DieselError, _>(async |tx| {
            diesel::insert_into(sessions::table)
                .values((
                    sessions::id.eq(first.session.as_uuid()),
                    sessions::user_id.eq(first.user.as_uuid()),
                ))
                .execute(tx)
                .await?;
            diesel::insert_into(refresh_tokens::table)
                .values((
                    refresh_tokens::token_hash.eq(&first.token_hash),
                    refresh_tokens::session_id.eq(first.session.as_uuid()),
                    refresh_tokens::expires_at.eq(first.expires_at),
                ))
                .execute(tx)
                .await?;
            Ok(())
        })
        .await
        .map_err(store)
    }

    #[tracing::instrument(skip_all)]
    async fn rotate(
        &self,
        presented_hash: &str,
        next_hash: &str,
        next_expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
        started_after: DateTime<Utc>,
    ) -> Result<Rotation, StoreError> {
        let mut conn = self.db.conn().await.map_err(store)?;
        let rotation = conn
            .transaction::<_, DieselError, _>(async |tx| {
                let spent = diesel::sql_query(SPEND)
                    .bind::<Text, _>(presented_hash)
                    .bind::<Timestamptz, _>(now)
                    .bind::<Timestamptz, _>(started_after)
                    .get_result::<Spent>(tx)
                    .await
                    .optional()?;
                if let Some(spent) = spent {
                    diesel::insert_into(refresh_tokens::table)
                        .values((
                            refresh_tokens::token_hash.eq(next_hash),
                            refresh_tokens::session_id.eq(spent.session_id),
                            refresh_tokens::expires_at.eq(next_expires_at),
                        ))
                        .execute(tx)
                        .await?;
                    return Ok(Rotation::Rotated {
                        session: SessionId::from_uuid(spent.session_id),
                        user: UserId::from_uuid(spent.user_id),
                    });
                }
                // Not spendable: unknown, expired, revoked, already spent, or
                // of a session past its absolute lifetime.
                let known = diesel::sql_query(KNOWN)
                    .bind::<Text, _>(presented_hash)
                    .get_result::<Known>(tx)
                    .await
                    .optional()
                    .map(|k| {
                        k.map(|k| {
                            (
                                k.session_id,
                                k.rotated_at,
                                k.expires_at,
                                k.created_at,
                                k.revoked_at,
                            )
                        })
                    })?;
                match known {
                    Some((session, None, expires_at, created_at, None))
                        if expires_at > now && created_at <= started_after =>
                    {
                        revoke_session(tx, session, REASON_EXPIRED).await?;
                        Ok(Rotation::SessionExpired {
                            session: SessionId::from_uuid(session),
                        })
                    }
                    Some((session, Some(_rotated), ..)) => {
                        revoke_session(tx, session, REASON_REUSE).await?;
                        Ok(Rotation::ReuseDetected {
                            session: SessionId::from_uuid(session),
                        })
                    }
                    Some((_, None, ..)) | None => Ok(Rotation::Invalid),
                }
            })
            .await
            .map_err(store)?;
        if let Rotation::ReuseDetected { session } = &rotation {
            tracing::warn!(%session, "a spent refresh token was presented again: session revoked");
        }
        Ok(rotation)
    }

    #[tracing::instrument(skip_all, fields(%session))]
    async fn revoke(&self, session: SessionId) -> Result<(), StoreError> {
        let mut conn = self.db.conn().await.map_err(store)?;
        revoke_session(&mut conn, session.as_uuid(), REASON_REVOKED)
            .await
            .map_err(store)
    }

    async fn is_active(&self, session: SessionId) -> Result<bool, StoreError> {
        let mut conn = self.db.conn().await.map_err(store)?;
        let revoked_at = sessions::table
            .find(session.as_uuid())
            .select(sessions::revoked_at)
            .first::<Option<DateTime<Utc>>>(&mut conn)
            .await
            .optional()
            .map_err(store)?;
        Ok(matches!(revoked_at, Some(None)))
    }
}
