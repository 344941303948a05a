//! `AppLedger` on PostgreSQL: apps' consumptions and refunds, each one
//! statement (`askgate_consume_for_app`, `askgate_refund_for_app`).

use std::time::Duration;

use askgate_domain::ports::{AppConsumption, AppLedger, AppRefundOutcome, AppSpend, SpendOutcome};
use askgate_domain::{AppId, StoreError, Tokens, TransactionId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{Integer, Interval, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::Database;
use crate::errors::DbError;

#[derive(QueryableByName)]
struct ConsumeRow {
    #[diesel(sql_type = Text)]
    outcome: String,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    consumption_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Integer>)]
    amount: Option<i32>,
    #[diesel(sql_type = Nullable<Integer>)]
    balance: Option<i32>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    created_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Integer>)]
    spent_today: Option<i32>,
}

#[derive(QueryableByName)]
struct RefundRow {
    #[diesel(sql_type = Text)]
    outcome: String,
    #[diesel(sql_type = Nullable<Integer>)]
    amount: Option<i32>,
    #[diesel(sql_type = Nullable<Integer>)]
    balance: Option<i32>,
}

/// Apps' consumptions and refunds.
#[derive(Debug, Clone)]
pub struct PgAppLedger {
    db: Database,
}

impl PgAppLedger {
    #[must_use]
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

fn store(e: impl Into<DbError>) -> StoreError {
    e.into().into()
}

fn tokens(balance: Option<i32>) -> Result<Tokens, StoreError> {
    balance
        .and_then(|b| Tokens::new(i64::from(b)).ok())
        .ok_or_else(|| StoreError::unexpected("an app ledger answer without its balance"))
}

fn consumption(row: &ConsumeRow) -> Result<AppConsumption, StoreError> {
    match (row.consumption_id, row.amount, row.created_at) {
        (Some(id), Some(amount), Some(created_at)) => Ok(AppConsumption {
            id: TransactionId::from_uuid(id),
            amount,
            balance_after: tokens(row.balance)?,
            created_at,
        }),
        _ => Err(StoreError::unexpected("an app consumption without its row")),
    }
}

#[async_trait]
impl AppLedger for PgAppLedger {
    #[tracing::instrument(skip_all, fields(app_id = %spend.app.id, user_id = %spend.user))]
    async fn consume<'a>(&self, spend: &AppSpend<'a>) -> Result<SpendOutcome, StoreError> {
        let id = Uuid::now_v7();
        let mut metadata = serde_json::json!({ "app_name": spend.app.name.as_str() });
        if let Some(key) = spend.api_key {
            metadata["api_key_id"] = serde_json::json!(key.id);
            metadata["api_key_prefix"] = serde_json::json!(key.prefix);
        }
        let mut conn = self.db.conn().await.map_err(store)?;
        let row = diesel::sql_query(
            "SELECT outcome, consumption_id, amount, balance, created_at, spent_today
               FROM askgate_consume_for_app($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind::<SqlUuid, _>(id)
        .bind::<SqlUuid, _>(id)
        .bind::<SqlUuid, _>(spend.app.id.as_uuid())
        .bind::<SqlUuid, _>(spend.user.as_uuid())
        .bind::<Integer, _>(spend.amount)
        .bind::<Text, _>(spend.reason)
        .bind::<Text, _>(spend.key.as_str())
        .bind::<Text, _>(spend.fingerprint)
        .bind::<Nullable<Integer>, _>(spend.app.daily_limit_per_user)
        .bind::<Jsonb, _>(&metadata)
        .get_result::<ConsumeRow>(&mut conn)
        .await
        .map_err(store)?;
        Ok(match row.outcome.as_str() {
            "consumed" => SpendOutcome::Consumed(consumption(&row)?),
            "replay" => SpendOutcome::Replay(consumption(&row)?),
            "mismatch" => SpendOutcome::Mismatch,
            "insufficient" => SpendOutcome::InsufficientTokens {
                balance: tokens(row.balance)?,
            },
            "limit" => SpendOutcome::DailyLimit {
                limit: spend.app.daily_limit_per_user.unwrap_or(0),
                spent_today: row.spent_today.unwrap_or(0),
            },
            "no_user" => SpendOutcome::UserNotFound,
            other => {
                return Err(StoreError::unexpected(format!(
                    "unknown app consumption outcome '{other}'"
                )));
            }
        })
    }

    #[tracing::instrument(skip_all, fields(app_id = %app, consumption = %consumption))]
    async fn refund(
        &self,
        app: AppId,
        consumption: TransactionId,
        window: Duration,
    ) -> Result<AppRefundOutcome, StoreError> {
        let window = diesel::data_types::PgInterval::from_microseconds(
            i64::try_from(window.as_micros()).unwrap_or(i64::MAX),
        );
        let mut conn = self.db.conn().await.map_err(store)?;
        let row = diesel::sql_query(
            "SELECT outcome, amount, balance FROM askgate_refund_for_app($1, $2, $3, $4)",
        )
        .bind::<SqlUuid, _>(app.as_uuid())
        .bind::<SqlUuid, _>(consumption.as_uuid())
        .bind::<SqlUuid, _>(Uuid::now_v7())
        .bind::<Interval, _>(window)
        .get_result::<RefundRow>(&mut conn)
        .await
        .map_err(store)?;
        Ok(match row.outcome.as_str() {
            "refunded" => AppRefundOutcome::Refunded {
                amount: row.amount.unwrap_or(0),
                balance_after: tokens(row.balance)?,
            },
            "not_found" => AppRefundOutcome::NotFound,
            "already" => AppRefundOutcome::AlreadyRefunded,
            "too_late" => AppRefundOutcome::TooLate,
            other => {
                return Err(StoreError::unexpected(format!(
                    "unknown app refund outcome '{other}'"
                )));
            }
        })
    }
}
