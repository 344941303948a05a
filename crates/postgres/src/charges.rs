//! `Charges` on PostgreSQL: each step of a chat's charge is one call of a
//! function defined by the migrations (`askgate_reserve_charge`,
//! `askgate_settle_charge`, `askgate_refund_charge`, `askgate_recover_charges`),
//! so each is one round trip and one transaction.
//!
//! `Idempotency-Key` claims live in `idempotency_keys` (one row per user and
//! key, the request's fingerprint as a SHA-256, never the text). Keys older than
//! [`KEY_LIFETIME_HOURS`] count as absent and are swept now and then. The reply
//! kept under a settled key is stored with the version of its format and
//! handed back as it was, never read here.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use askgate_domain::conversation::title_from;
use askgate_domain::ports::{
    AnswerEnd, Charges, ExchangeTarget, RecoveredCharge, Reservation, ReserveError, Reserved,
    SettleOutcome, Settled, Settlement, StoredReply,
};
use askgate_domain::{ChargeId, ConversationId, StoreError, Tokens, UserId};
use async_trait::async_trait;
use chrono::{TimeDelta, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{
    BigInt, Bool, Double, Integer, Interval, Jsonb, Nullable, SmallInt, Text, Timestamptz,
};
use diesel_async::RunQueryDsl;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::Database;
use crate::errors::store;

type SqlUuid = diesel::sql_types::Uuid;

/// How long an `Idempotency-Key` is remembered.
pub const KEY_LIFETIME_HOURS: i64 = 24;

/// First pause between two looks at a key another request holds; it doubles
/// up to [`MAX_POLL`].
const FIRST_POLL: Duration = Duration::from_millis(25);
const MAX_POLL: Duration = Duration::from_millis(250);

/// Every this many reservations, expired keys are swept (at most [`SWEEP_BATCH`]).
const SWEEP_EVERY: u64 = 256;
const SWEEP_BATCH: i64 = 1000;

/// Bound on the times one `reserve` finds a key released between its claim and
/// its look; each such cycle means another request made progress.
const MAX_ATTEMPTS: usize = 100;

const RESERVE: &str = "SELECT outcome, balance, response_version, response_body \
     FROM askgate_reserve_charge($1, $2, $3, $4, $5, $6, $7, $8)";
const SETTLE: &str = "SELECT settled, conversation_id, balance FROM askgate_settle_charge(\
     $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)";
const REFUND: &str = "SELECT refunded, balance FROM askgate_refund_charge($1, $2, $3)";
const RECOVER: &str =
    "SELECT charge_id, user_id, pending_seconds FROM askgate_recover_charges($1, $2)";

/// Chat charges and their idempotency keys.
#[derive(Debug)]
pub struct PgCharges {
    db: Database,
    reservations: AtomicU64,
}

impl PgCharges {
    #[must_use]
    pub fn new(db: Database) -> Self {
        Self {
            db,
            reservations: AtomicU64::new(0),
        }
    }

    /// Deletes up to [`SWEEP_BATCH`] expired idempotency keys; returns how many.
    pub async fn sweep_expired_keys(&self) -> Result<usize, StoreError> {
        let mut conn = self.db.conn().await.map_err(store)?;
        diesel::sql_query(
            "DELETE FROM idempotency_keys WHERE ctid IN \
             (SELECT ctid FROM idempotency_keys WHERE created_at <= $1 LIMIT $2)",
        )
        .bind::<Timestamptz, _>(Utc::now() - TimeDelta::hours(KEY_LIFETIME_HOURS))
        .bind::<BigInt, _>(SWEEP_BATCH)
        .execute(&mut conn)
        .await
        .map_err(store)
    }

    async fn sweep_now_and_then(&self) {
        if self
            .reservations
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(SWEEP_EVERY)
        {
            match self.sweep_expired_keys().await {
                Ok(0) => {}
                Ok(swept) => tracing::debug!(swept, "swept expired idempotency keys"),
                Err(error) => tracing::warn!(%error, "could not sweep expired idempotency keys"),
            }
        }
    }

    /// One try; `ids` (question, answer, refund) stay the same across tries,
    /// so a repeat after a lost answer records nothing twice.
    async fn settle_once(
        &self,
        settlement: &Settlement<'_>,
        ids: &SettlementIds,
    ) -> Result<Settled, StoreError> {
        let (conversation, new) = match settlement.target {
            ExchangeTarget::New(id) => (id, true),
            ExchangeTarget::Existing(id) => (id, false),
        };
        let reply_version = settlement
            .idempotency
            .map(|(_, reply)| i16::try_from(reply.version()))
            .transpose()
            .map_err(StoreError::unexpected)?;
        let refund = match settlement.end {
            AnswerEnd::BrokenOff { reason } => Some(reason),
            AnswerEnd::Complete | AnswerEnd::ClientLeft => None,
        };
        let mut conn = self.db.conn().await.map_err(store)?;
        let row = diesel::sql_query(SETTLE)
            .bind::<SqlUuid, _>(settlement.charge.as_uuid())
            .bind::<SqlUuid, _>(settlement.user.as_uuid())
            .bind::<SqlUuid, _>(conversation.as_uuid())
            .bind::<Bool, _>(new)
            .bind::<Text, _>(settlement.service.as_str())
            .bind::<Nullable<SqlUuid>, _>(settlement.domain.map(|d| d.as_uuid()))
            .bind::<Text, _>(title_from(settlement.question))
            .bind::<SqlUuid, _>(ids.question)
            .bind::<Text, _>(settlement.question.as_str())
            .bind::<SqlUuid, _>(ids.answer)
            .bind::<Text, _>(settlement.answer)
            .bind::<Nullable<Text>, _>(settlement.idempotency.map(|(key, _)| key.as_str()))
            .bind::<Nullable<SmallInt>, _>(reply_version)
            .bind::<Nullable<Jsonb>, _>(settlement.idempotency.map(|(_, reply)| reply.body()))
            .bind::<Bool, _>(settlement.end.is_interrupted())
            .bind::<Nullable<SqlUuid>, _>(refund.map(|_| ids.refund))
            .bind::<Nullable<Jsonb>, _>(
                refund.map(|reason| serde_json::json!({ "reason": reason })),
            )
            .get_result::<SettleRow>(&mut conn)
            .await
            .map_err(store)?;
        Ok(Settled {
            outcome: match (row.settled, refund) {
                (Some(true), None) => SettleOutcome::Charged,
                (Some(true), Some(_)) => {
                    SettleOutcome::Refunded {
                        balance_after: tokens(row.balance.ok_or_else(|| {
                            StoreError::unexpected("a refund without its balance")
                        })?)?,
                    }
                }
                (Some(false), _) => SettleOutcome::AlreadyRefunded,
                (None, _) => SettleOutcome::NeverReserved,
            },
            conversation: row.conversation_id.map(ConversationId::from_uuid),
        })
    }

    async fn refund_once(
        &self,
        charge: ChargeId,
        reason: &str,
    ) -> Result<Option<Tokens>, StoreError> {
        let mut conn = self.db.conn().await.map_err(store)?;
        let row = diesel::sql_query(REFUND)
            .bind::<SqlUuid, _>(charge.as_uuid())
            .bind::<SqlUuid, _>(Uuid::now_v7())
            .bind::<Jsonb, _>(serde_json::json!({ "reason": reason }))
            .get_result::<RefundRow>(&mut conn)
            .await
            .map_err(store)?;
        match (row.refunded, row.balance) {
            (true, Some(balance)) => Ok(Some(tokens(balance)?)),
            (true, None) => Err(StoreError::unexpected("a refund without its balance")),
            (false, _) => Ok(None),
        }
    }

    async fn reserve_once(
        &self,
        reservation: &Reservation<'_>,
        fingerprint: Option<&str>,
    ) -> Result<ReserveRow, ReserveError> {
        let mut metadata = serde_json::json!({ "conversation_id": reservation.conversation });
        if let Some(key) = reservation.api_key {
            metadata["api_key_id"] = serde_json::json!(key.id);
            metadata["api_key_prefix"] = serde_json::json!(key.prefix);
        }
        let mut conn = self.db.conn().await.map_err(store)?;
        diesel::sql_query(RESERVE)
            .bind::<SqlUuid, _>(reservation.charge.as_uuid())
            .bind::<SqlUuid, _>(Uuid::now_v7())
            .bind::<SqlUuid, _>(reservation.user.as_uuid())
            .bind::<Text, _>(reservation.service.as_str())
            .bind::<Nullable<SqlUuid>, _>(reservation.domain.map(|d| d.as_uuid()))
            .bind::<Jsonb, _>(&metadata)
            .bind::<Nullable<Text>, _>(reservation.idempotency.map(|(key, _)| key.as_str()))
            .bind::<Nullable<Text>, _>(fingerprint)
            .get_result::<ReserveRow>(&mut conn)
            .await
            .map_err(|e| ReserveError::from(store(e)))
    }
}

/// How long a settlement or refund keeps being tried while the database is
/// unreachable (connections that broke, a failover), and the first pause
/// between tries (it doubles, up to [`MAX_RETRY_PAUSE`]). Both are safe to
/// repeat; each try that gets through spares the user a charge left to
/// recovery. Well inside the recovery window's margin over the upstream timeout.
const RETRY_FOR: Duration = Duration::from_secs(4);
const FIRST_RETRY_PAUSE: Duration = Duration::from_millis(20);
const MAX_RETRY_PAUSE: Duration = Duration::from_millis(500);

async fn with_retries<T, F, Fut>(what: &'static str, mut step: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let deadline = tokio::time::Instant::now() + RETRY_FOR;
    let mut pause = FIRST_RETRY_PAUSE;
    loop {
        match step().await {
            Err(StoreError::Unavailable(error))
                if tokio::time::Instant::now() + pause < deadline =>
            {
                tracing::warn!(%error, "{what}: the database was unreachable; trying again");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_RETRY_PAUSE);
            }
            other => return other,
        }
    }
}

/// Hex SHA-256 of the request's canonical text.
fn fingerprint_hash(fingerprint: &str) -> String {
    hex::encode(Sha256::digest(fingerprint.as_bytes()))
}

fn tokens(balance: i32) -> Result<Tokens, StoreError> {
    Tokens::new(balance.into()).map_err(StoreError::unexpected)
}

#[derive(Debug, QueryableByName)]
struct ReserveRow {
    #[diesel(sql_type = Text)]
    outcome: String,
    #[diesel(sql_type = Nullable<Integer>)]
    balance: Option<i32>,
    #[diesel(sql_type = Nullable<SmallInt>)]
    response_version: Option<i16>,
    #[diesel(sql_type = Nullable<Jsonb>)]
    response_body: Option<serde_json::Value>,
}

/// The rows a settlement may write, named before its first try.
struct SettlementIds {
    question: Uuid,
    answer: Uuid,
    refund: Uuid,
}

#[derive(Debug, QueryableByName)]
struct SettleRow {
    /// NULL when there is no such charge.
    #[diesel(sql_type = Nullable<Bool>)]
    settled: Option<bool>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    conversation_id: Option<Uuid>,
    /// The balance after a refund.
    #[diesel(sql_type = Nullable<Integer>)]
    balance: Option<i32>,
}

#[derive(Debug, QueryableByName)]
struct RefundRow {
    #[diesel(sql_type = Bool)]
    refunded: bool,
    #[diesel(sql_type = Nullable<Integer>)]
    balance: Option<i32>,
}

#[derive(Debug, QueryableByName)]
struct RecoverRow {
    #[diesel(sql_type = SqlUuid)]
    charge_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    user_id: Uuid,
    #[diesel(sql_type = Double)]
    pending_seconds: f64,
}

#[async_trait]
impl Charges for PgCharges {
    #[tracing::instrument(skip_all, fields(user_id = %reservation.user))]
    async fn reserve<'a>(
        &self,
        reservation: &Reservation<'a>,
        wait: Duration,
    ) -> Result<Reserved, ReserveError> {
        let fingerprint = reservation
            .idempotency
            .map(|(_, fingerprint)| fingerprint_hash(fingerprint));
        if fingerprint.is_some() {
            self.sweep_now_and_then().await;
        }
        let deadline = tokio::time::Instant::now() + wait;
        let mut pause = FIRST_POLL;
        let mut released = 0;
        loop {
            let row = self
                .reserve_once(reservation, fingerprint.as_deref())
                .await?;
            match row.outcome.as_str() {
                "reserved" => {
                    let balance = row.balance.ok_or_else(|| {
                        ReserveError::Unexpected("a reservation without its balance".into())
                    })?;
                    return Ok(Reserved::Held {
                        balance_after: tokens(balance)?,
                    });
                }
                "insufficient" => {
                    return Err(ReserveError::InsufficientTokens {
                        balance: tokens(row.balance.unwrap_or(0))?,
                    });
                }
                "no_user" => return Err(ReserveError::UserNotFound),
                "replay" => {
                    let (Some(version), Some(body)) = (row.response_version, row.response_body)
                    else {
                        return Err(ReserveError::Unexpected(
                            "a completed idempotency key has no reply".into(),
                        ));
                    };
                    let version = u16::try_from(version)
                        .map_err(|e| ReserveError::Unexpected(Box::new(e)))?;
                    return Ok(Reserved::Replay(StoredReply::new(version, body)));
                }
                "mismatch" => return Ok(Reserved::Mismatch),
                "expired" => {
                    released += 1;
                    if released >= MAX_ATTEMPTS {
                        return Err(ReserveError::Unexpected(
                            "an idempotency key kept changing hands; giving up".into(),
                        ));
                    }
                }
                "in_progress" => {
                    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                    if left.is_zero() {
                        return Ok(Reserved::InProgress);
                    }
                    tokio::time::sleep(pause.min(left)).await;
                    pause = (pause * 2).min(MAX_POLL);
                }
                other => {
                    return Err(ReserveError::Unexpected(
                        format!("unknown reservation outcome {other:?}").into(),
                    ));
                }
            }
        }
    }

    #[tracing::instrument(skip_all, fields(user_id = %settlement.user))]
    async fn settle<'a>(&self, settlement: &Settlement<'a>) -> Result<Settled, StoreError> {
        let ids = SettlementIds {
            question: Uuid::now_v7(),
            answer: Uuid::now_v7(),
            refund: Uuid::now_v7(),
        };
        with_retries("settling a charge", || self.settle_once(settlement, &ids)).await
    }

    #[tracing::instrument(skip_all, fields(charge = %charge))]
    async fn refund(&self, charge: ChargeId, reason: &str) -> Result<Option<Tokens>, StoreError> {
        with_retries("refunding a charge", || self.refund_once(charge, reason)).await
    }

    #[tracing::instrument(skip_all)]
    async fn recover(
        &self,
        older_than: Duration,
        limit: u32,
    ) -> Result<Vec<RecoveredCharge>, StoreError> {
        let older_than = diesel::data_types::PgInterval::from_microseconds(
            i64::try_from(older_than.as_micros()).map_err(StoreError::unexpected)?,
        );
        let mut conn = self.db.conn().await.map_err(store)?;
        let rows = diesel::sql_query(RECOVER)
            .bind::<Interval, _>(older_than)
            .bind::<Integer, _>(i32::try_from(limit).map_err(StoreError::unexpected)?)
            .load::<RecoverRow>(&mut conn)
            .await
            .map_err(store)?;
        Ok(rows
            .into_iter()
            .map(|row| RecoveredCharge {
                charge: ChargeId::from_uuid(row.charge_id),
                user: UserId::from_uuid(row.user_id),
                pending_for: Duration::from_secs_f64(row.pending_seconds.max(0.0)),
            })
            .collect())
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
