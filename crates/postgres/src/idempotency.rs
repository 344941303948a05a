//! `IdempotencyStore` on PostgreSQL: one row per `(user, Idempotency-Key)`.
//!
//! Who processes a request is decided by one `INSERT … ON CONFLICT DO NOTHING`:
//! of concurrent callers, exactly one inserts. The others read the row and
//! replay it when it is completed, or poll it until their wait runs out. Rows
//! older than [`KEY_LIFETIME_HOURS`] are treated as absent (deleted, then the
//! insert is tried again) and swept now and then. The request's fingerprint is
//! stored as a SHA-256, never as text.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use askgate_domain::ledger::IdempotencyKey;
use askgate_domain::ports::{IdempotencyBegin, IdempotencyStore, StoredResponse};
use askgate_domain::{StoreError, UserId};
use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use diesel::dsl::now;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Timestamptz};
use diesel_async::RunQueryDsl;
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use crate::Database;
use crate::errors::DbError;
use crate::schema::idempotency_keys;

/// How long a key is remembered.
pub const KEY_LIFETIME_HOURS: i64 = 24;

/// First pause between two looks at a key another request holds; it doubles
/// up to [`MAX_POLL`].
const FIRST_POLL: Duration = Duration::from_millis(25);
const MAX_POLL: Duration = Duration::from_millis(250);

/// Every this many claims, expired keys are swept (at most [`SWEEP_BATCH`]).
const SWEEP_EVERY: u64 = 64;
const SWEEP_BATCH: i64 = 1000;

/// Bound on the times one `begin` finds the key gone (abandoned or expired)
/// after failing to insert it; each such cycle means someone else made progress.
const MAX_ATTEMPTS: usize = 100;

const STATE_IN_PROGRESS: &str = "in_progress";
const STATE_COMPLETED: &str = "completed";

/// Durable idempotency keys of the chat endpoints.
#[derive(Debug)]
pub struct PgIdempotency {
    db: Database,
    claims: AtomicU64,
}

impl PgIdempotency {
    #[must_use]
    pub fn new(db: Database) -> Self {
        Self {
            db,
            claims: AtomicU64::new(0),
        }
    }

    /// Deletes up to [`SWEEP_BATCH`] expired keys; returns how many.
    pub async fn sweep_expired(&self) -> Result<usize, StoreError> {
        let mut conn = self.db.conn().await.map_err(store)?;
        diesel::sql_query(
            "DELETE FROM idempotency_keys WHERE ctid IN \
             (SELECT ctid FROM idempotency_keys WHERE created_at <= $1 LIMIT $2)",
        )
        .bind::<Timestamptz, _>(expiry_cutoff())
        .bind::<BigInt, _>(SWEEP_BATCH)
        .execute(&mut conn)
        .await
        .map_err(store)
    }

    async fn sweep_now_and_then(&self) {
        if self
            .claims
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(SWEEP_EVERY)
        {
            match self.sweep_expired().await {
                Ok(0) => {}
                Ok(swept) => tracing::debug!(swept, "swept expired idempotency keys"),
                Err(error) => tracing::warn!(%error, "could not sweep expired idempotency keys"),
            }
        }
    }
}

fn store(e: impl Into<DbError>) -> StoreError {
    e.into().into()
}

/// Hex SHA-256 of the request's canonical text.
fn fingerprint_hash(fingerprint: &str) -> String {
    hex::encode(Sha256::digest(fingerprint.as_bytes()))
}

/// Keys created at or before this instant have expired.
fn expiry_cutoff() -> DateTime<Utc> {
    Utc::now() - TimeDelta::hours(KEY_LIFETIME_HOURS)
}

/// What another request left under the key.
#[derive(Debug, Queryable)]
struct Held {
    fingerprint_sha256: String,
    state: String,
    response_status: Option<i16>,
    response_body: Option<serde_json::Value>,
    expired: bool,
}

#[async_trait]
impl IdempotencyStore for PgIdempotency {
    #[tracing::instrument(skip_all, fields(user_id = %user))]
    async fn begin(
        &self,
        user: UserId,
        key: &IdempotencyKey,
        fingerprint: &str,
        wait: Duration,
    ) -> Result<IdempotencyBegin, StoreError> {
        let deadline = Instant::now() + wait;
        let hash = fingerprint_hash(fingerprint);
        let user_id = user.as_uuid();
        let mut pause = FIRST_POLL;
        let mut vanished = 0;
        loop {
            // Not held across the pauses below: a waiting duplicate costs no connection.
            let mut conn = self.db.conn().await.map_err(store)?;
            let inserted = diesel::insert_into(idempotency_keys::table)
                .values((
                    idempotency_keys::user_id.eq(user_id),
                    idempotency_keys::key.eq(key.as_str()),
                    idempotency_keys::fingerprint_sha256.eq(&hash),
                    idempotency_keys::state.eq(STATE_IN_PROGRESS),
                ))
                .on_conflict_do_nothing()
                .execute(&mut conn)
                .await
                .map_err(store)?;
            if inserted == 1 {
                drop(conn);
                self.sweep_now_and_then().await;
                return Ok(IdempotencyBegin::Claimed);
            }
            let cutoff = expiry_cutoff();
            let held = idempotency_keys::table
                .find((user_id, key.as_str()))
                .select((
                    idempotency_keys::fingerprint_sha256,
                    idempotency_keys::state,
                    idempotency_keys::response_status,
                    idempotency_keys::response_body,
                    idempotency_keys::created_at.le(cutoff),
                ))
                .first::<Held>(&mut conn)
                .await
                .optional()
                .map_err(store)?;
            let held = match held {
                Some(held) if held.expired => {
                    // Expired keys count as absent: remove it and claim afresh.
                    diesel::delete(
                        idempotency_keys::table
                            .find((user_id, key.as_str()))
                            .filter(idempotency_keys::created_at.le(cutoff)),
                    )
                    .execute(&mut conn)
                    .await
                    .map_err(store)?;
                    None
                }
                other => other,
            };
            let Some(held) = held else {
                // Abandoned or expired in between: try to claim it again.
                vanished += 1;
                if vanished >= MAX_ATTEMPTS {
                    return Err(StoreError::unexpected(
                        "an idempotency key kept changing hands; giving up",
                    ));
                }
                continue;
            };
            if held.fingerprint_sha256 != hash {
                return Ok(IdempotencyBegin::Mismatch);
            }
            if held.state == STATE_COMPLETED {
                let (Some(status), Some(body)) = (held.response_status, held.response_body) else {
                    return Err(StoreError::unexpected(
                        "a completed idempotency key has no response",
                    ));
                };
                let status = u16::try_from(status).map_err(StoreError::unexpected)?;
                return Ok(IdempotencyBegin::Replay(StoredResponse { status, body }));
            }
            drop(conn);
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(IdempotencyBegin::InProgress);
            }
            tokio::time::sleep(pause.min(left)).await;
            pause = (pause * 2).min(MAX_POLL);
        }
    }

    #[tracing::instrument(skip_all, fields(user_id = %user))]
    async fn complete(
        &self,
        user: UserId,
        key: &IdempotencyKey,
        response: &StoredResponse,
    ) -> Result<(), StoreError> {
        let status = i16::try_from(response.status).map_err(StoreError::unexpected)?;
        let mut conn = self.db.conn().await.map_err(store)?;
        let updated = diesel::update(
            idempotency_keys::table
                .find((user.as_uuid(), key.as_str()))
                .filter(idempotency_keys::state.eq(STATE_IN_PROGRESS)),
        )
        .set((
            idempotency_keys::state.eq(STATE_COMPLETED),
            idempotency_keys::response_status.eq(status),
            idempotency_keys::response_body.eq(&response.body),
            idempotency_keys::completed_at.eq(now),
        ))
        .execute(&mut conn)
        .await
        .map_err(store)?;
        if updated == 0 {
            return Err(StoreError::unexpected(
                "completing an idempotency key that is not in progress",
            ));
        }
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(user_id = %user))]
    async fn abandon(&self, user: UserId, key: &IdempotencyKey) -> Result<(), StoreError> {
        let mut conn = self.db.conn().await.map_err(store)?;
        diesel::delete(
            idempotency_keys::table
                .find((user.as_uuid(), key.as_str()))
                .filter(idempotency_keys::state.eq(STATE_IN_PROGRESS)),
        )
        .execute(&mut conn)
        .await
        .map_err(store)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_stored_as_hex_sha256() {
        assert_eq!(
            fingerprint_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
