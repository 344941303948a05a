//! `Reports` on PostgreSQL: the admin overview's figures, read in one
//! `REPEATABLE READ READ ONLY` transaction, so every figure comes from the
//! same snapshot of the ledger and they add up with each other even while
//! chats and payments write rows.
//!
//! Period queries read `transactions` by `created_at` (index
//! `transactions_created_at`); the liability reads every payment before the
//! end (index `transactions_purchases`) and the rows written since the end,
//! taken off the current balances.

use askgate_domain::ledger::ServiceType;
use askgate_domain::ports::Reports;
use askgate_domain::report::{
    DayFigures, DomainLabel, LedgerFigures, Liability, Money, PackageSales, ReportPeriod,
    Reversals, SpendGroup, Tally,
};
use askgate_domain::{DomainId, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::QueryableByName;
use diesel::result::Error as DieselError;
use diesel::sql_types::{BigInt, Date, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::Database;
use crate::errors::DbError;
use crate::models::corrupt;

/// The admin reports.
#[derive(Debug, Clone)]
pub struct PgReports {
    db: Database,
}

impl PgReports {
    #[must_use]
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

/// The price a purchase row recorded, in cents (0 if it recorded none).
const PRICE_CENTS: &str = "CASE WHEN jsonb_typeof(metadata -> 'amount_cents') = 'number' \
     THEN (metadata ->> 'amount_cents')::numeric ELSE 0 END";

/// Purchases in the period by package and currency.
fn sales_sql() -> String {
    format!(
        "SELECT COALESCE(metadata ->> 'package', 'unknown') AS package, \
                COALESCE(lower(metadata ->> 'currency'), 'unknown') AS currency, \
                COUNT(*)::bigint AS count, SUM(amount)::bigint AS tokens, \
                SUM({PRICE_CENTS})::bigint AS amount_cents \
           FROM transactions \
          WHERE transaction_type = 'purchase' AND created_at >= $1 AND created_at < $2 \
          GROUP BY 1, 2"
    )
}

/// Chats charged less charges given back, by service and domain.
const SPENDING_SQL: &str = "\
    SELECT t.service_type, t.domain_id, d.name AS domain_name, d.display_name AS domain_display_name, \
           (-SUM(t.amount))::bigint AS tokens \
      FROM transactions t \
      LEFT JOIN domains d ON d.id = t.domain_id \
     WHERE t.transaction_type IN ('consumption', 'refund') AND t.service_type IS NOT NULL \
       AND t.created_at >= $1 AND t.created_at < $2 \
     GROUP BY 1, 2, 3, 4 \
    HAVING SUM(t.amount) <> 0";

/// Refunds of chats, reversals, grants, adjustments and active users.
const TALLIES_SQL: &str = "\
    SELECT COUNT(*) FILTER (WHERE transaction_type = 'refund')::bigint AS chat_refunds, \
           COALESCE(SUM(amount) FILTER (WHERE transaction_type = 'refund'), 0)::bigint AS chat_refund_tokens, \
           COUNT(*) FILTER (WHERE transaction_type = 'reversal' AND metadata ->> 'reason' IS DISTINCT FROM 'dispute')::bigint AS refunds, \
           COALESCE(-SUM(amount) FILTER (WHERE transaction_type = 'reversal' AND metadata ->> 'reason' IS DISTINCT FROM 'dispute'), 0)::bigint AS refund_tokens, \
           COUNT(*) FILTER (WHERE transaction_type = 'reversal' AND metadata ->> 'reason' = 'dispute')::bigint AS disputes, \
           COALESCE(-SUM(amount) FILTER (WHERE transaction_type = 'reversal' AND metadata ->> 'reason' = 'dispute'), 0)::bigint AS dispute_tokens, \
           COALESCE(SUM(CASE WHEN jsonb_typeof(metadata -> 'shortfall') = 'number' THEN (metadata ->> 'shortfall')::bigint END) \
                    FILTER (WHERE transaction_type = 'reversal'), 0)::bigint AS shortfall, \
           COUNT(*) FILTER (WHERE transaction_type = 'adjustment' AND stripe_payment_intent_id IS NOT NULL)::bigint AS disputes_won, \
           COALESCE(SUM(amount) FILTER (WHERE transaction_type = 'adjustment' AND stripe_payment_intent_id IS NOT NULL), 0)::bigint AS disputes_won_tokens, \
           COUNT(*) FILTER (WHERE transaction_type = 'grant')::bigint AS grants, \
           COALESCE(SUM(amount) FILTER (WHERE transaction_type = 'grant'), 0)::bigint AS grant_tokens, \
           COUNT(*) FILTER (WHERE transaction_type = 'adjustment' AND stripe_payment_intent_id IS NULL)::bigint AS adjustments, \
           COALESCE(SUM(amount) FILTER (WHERE transaction_type = 'adjustment' AND stripe_payment_intent_id IS NULL), 0)::bigint AS adjustment_tokens, \
           COUNT(DISTINCT user_id) FILTER (WHERE transaction_type = 'consumption')::bigint AS active_users \
      FROM transactions \
     WHERE created_at >= $1 AND created_at < $2";

/// Tokens sold and spent per UTC day, days with neither left out.
const DAILY_SQL: &str = "\
    SELECT (created_at AT TIME ZONE 'UTC')::date AS day, \
           COALESCE(SUM(amount) FILTER (WHERE transaction_type = 'purchase'), 0)::bigint AS sold, \
           COALESCE(-SUM(amount) FILTER (WHERE transaction_type <> 'purchase'), 0)::bigint AS spent \
      FROM transactions \
     WHERE created_at >= $1 AND created_at < $2 \
       AND (transaction_type = 'purchase' \
            OR (transaction_type IN ('consumption', 'refund') AND service_type IS NOT NULL)) \
     GROUP BY 1 \
     ORDER BY 1";

/// Every balance at `$1`: today's, less what rows written since changed.
const UNSPENT_SQL: &str = "\
    SELECT ((SELECT COALESCE(SUM(tokens), 0) FROM users) \
          - (SELECT COALESCE(SUM(amount), 0) FROM transactions WHERE created_at >= $1))::bigint AS tokens";

/// Per user at `$1`: the balance, the bought tokens kept (each payment's
/// tokens less what its refunds and disputes had made due by then, as the
/// payment's latest reversal or won dispute recorded it), and what those are
/// worth per currency at each payment's price per token.
fn holdings_cte() -> String {
    format!(
        "WITH later AS MATERIALIZED ( \
             SELECT user_id, SUM(amount) AS amount FROM transactions WHERE created_at >= $1 GROUP BY user_id \
         ), payments AS MATERIALIZED ( \
             SELECT p.user_id, COALESCE(lower(p.metadata ->> 'currency'), 'unknown') AS currency, \
                    p.amount AS purchased, {PRICE_CENTS} AS cents, \
                    GREATEST(p.amount - COALESCE(d.due, 0), 0) AS kept \
               FROM transactions p \
               LEFT JOIN LATERAL ( \
                   SELECT CASE WHEN r.transaction_type = 'adjustment' \
                               THEN (r.metadata ->> 'still_due')::int \
                               ELSE COALESCE((r.metadata ->> 'due')::int, p.amount) END AS due \
                     FROM transactions r \
                    WHERE r.stripe_payment_intent_id = p.stripe_payment_intent_id \
                      AND r.created_at < $1 \
                      AND (r.transaction_type = 'reversal' \
                           OR (r.transaction_type = 'adjustment' AND r.metadata ->> 'reason' = 'dispute_won')) \
                    ORDER BY r.created_at DESC, r.id DESC \
                    LIMIT 1 \
               ) d ON true \
              WHERE p.transaction_type = 'purchase' AND p.created_at < $1 AND p.amount > 0 \
         ), bought AS MATERIALIZED ( \
             SELECT user_id, SUM(kept) AS kept FROM payments GROUP BY user_id HAVING SUM(kept) > 0 \
         ), held AS MATERIALIZED ( \
             SELECT b.user_id, b.kept, \
                    LEAST(GREATEST(u.tokens - COALESCE(l.amount, 0), 0), b.kept) AS paid \
               FROM bought b \
               JOIN users u ON u.id = b.user_id \
               LEFT JOIN later l ON l.user_id = b.user_id \
         ) "
    )
}

/// What the bought tokens held at `$1` are worth, per currency (each user's
/// held tokens at their average price of the bought tokens they kept), and
/// how many they are in all (on every row).
fn liability_value_sql() -> String {
    format!(
        "{} SELECT p.currency, ROUND(SUM(h.paid * p.kept * p.cents / p.purchased / h.kept))::bigint AS amount_cents, \
                   (SELECT COALESCE(SUM(paid), 0) FROM held)::bigint AS paid_tokens \
              FROM held h JOIN payments p ON p.user_id = h.user_id \
             WHERE p.kept > 0 \
             GROUP BY 1 \
             ORDER BY 1",
        holdings_cte()
    )
}

#[derive(QueryableByName)]
struct SalesRow {
    #[diesel(sql_type = Text)]
    package: String,
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = BigInt)]
    count: i64,
    #[diesel(sql_type = BigInt)]
    tokens: i64,
    #[diesel(sql_type = BigInt)]
    amount_cents: i64,
}

#[derive(QueryableByName)]
struct SpendingRow {
    #[diesel(sql_type = Text)]
    service_type: String,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    domain_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    domain_name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    domain_display_name: Option<String>,
    #[diesel(sql_type = BigInt)]
    tokens: i64,
}

#[derive(QueryableByName)]
struct TalliesRow {
    #[diesel(sql_type = BigInt)]
    chat_refunds: i64,
    #[diesel(sql_type = BigInt)]
    chat_refund_tokens: i64,
    #[diesel(sql_type = BigInt)]
    refunds: i64,
    #[diesel(sql_type = BigInt)]
    refund_tokens: i64,
    #[diesel(sql_type = BigInt)]
    disputes: i64,
    #[diesel(sql_type = BigInt)]
    dispute_tokens: i64,
    #[diesel(sql_type = BigInt)]
    shortfall: i64,
    #[diesel(sql_type = BigInt)]
    disputes_won: i64,
    #[diesel(sql_type = BigInt)]
    disputes_won_tokens: i64,
    #[diesel(sql_type = BigInt)]
    grants: i64,
    #[diesel(sql_type = BigInt)]
    grant_tokens: i64,
    #[diesel(sql_type = BigInt)]
    adjustments: i64,
    #[diesel(sql_type = BigInt)]
    adjustment_tokens: i64,
    #[diesel(sql_type = BigInt)]
    active_users: i64,
}

#[derive(QueryableByName)]
struct DayRow {
    #[diesel(sql_type = Date)]
    day: NaiveDate,
    #[diesel(sql_type = BigInt)]
    sold: i64,
    #[diesel(sql_type = BigInt)]
    spent: i64,
}

#[derive(QueryableByName)]
struct TokensRow {
    #[diesel(sql_type = BigInt)]
    tokens: i64,
}

#[derive(QueryableByName)]
struct MoneyRow {
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = BigInt)]
    amount_cents: i64,
    #[diesel(sql_type = BigInt)]
    paid_tokens: i64,
}

/// Everything read inside the transaction, as the rows came.
struct Rows {
    sales: Vec<SalesRow>,
    spending: Vec<SpendingRow>,
    tallies: TalliesRow,
    days: Vec<DayRow>,
    unspent: TokensRow,
    value: Vec<MoneyRow>,
}

async fn read(
    tx: &mut AsyncPgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Rows, DieselError> {
    let sales = diesel::sql_query(sales_sql())
        .bind::<Timestamptz, _>(from)
        .bind::<Timestamptz, _>(to)
        .load::<SalesRow>(tx)
        .await?;
    let spending = diesel::sql_query(SPENDING_SQL)
        .bind::<Timestamptz, _>(from)
        .bind::<Timestamptz, _>(to)
        .load::<SpendingRow>(tx)
        .await?;
    let tallies = diesel::sql_query(TALLIES_SQL)
        .bind::<Timestamptz, _>(from)
        .bind::<Timestamptz, _>(to)
        .get_result::<TalliesRow>(tx)
        .await?;
    let days = diesel::sql_query(DAILY_SQL)
        .bind::<Timestamptz, _>(from)
        .bind::<Timestamptz, _>(to)
        .load::<DayRow>(tx)
        .await?;
    let unspent = diesel::sql_query(UNSPENT_SQL)
        .bind::<Timestamptz, _>(to)
        .get_result::<TokensRow>(tx)
        .await?;
    let value = diesel::sql_query(liability_value_sql())
        .bind::<Timestamptz, _>(to)
        .load::<MoneyRow>(tx)
        .await?;
    Ok(Rows {
        sales,
        spending,
        tallies,
        days,
        unspent,
        value,
    })
}

fn figures(rows: Rows) -> Result<LedgerFigures, DbError> {
    let Rows {
        sales,
        spending,
        tallies,
        days,
        unspent,
        value,
    } = rows;
    let spending = spending
        .into_iter()
        .map(spend_group)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(LedgerFigures {
        sales: sales
            .into_iter()
            .map(|r| PackageSales {
                package: r.package,
                currency: r.currency,
                count: r.count,
                tokens: r.tokens,
                amount_cents: r.amount_cents,
            })
            .collect(),
        spending,
        chat_refunds: Tally {
            count: tallies.chat_refunds,
            tokens: tallies.chat_refund_tokens,
        },
        reversals: Reversals {
            refunds: Tally {
                count: tallies.refunds,
                tokens: tallies.refund_tokens,
            },
            disputes: Tally {
                count: tallies.disputes,
                tokens: tallies.dispute_tokens,
            },
            shortfall: tallies.shortfall,
            disputes_won: Tally {
                count: tallies.disputes_won,
                tokens: tallies.disputes_won_tokens,
            },
        },
        grants: Tally {
            count: tallies.grants,
            tokens: tallies.grant_tokens,
        },
        adjustments: Tally {
            count: tallies.adjustments,
            tokens: tallies.adjustment_tokens,
        },
        active_users: tallies.active_users,
        liability: Liability {
            tokens: unspent.tokens,
            paid_tokens: value.as_slice().first().map_or(0, |r| r.paid_tokens),
            value: value
                .into_iter()
                .map(|r| Money {
                    currency: r.currency,
                    amount_cents: r.amount_cents,
                })
                .collect(),
        },
        days: days
            .into_iter()
            .map(|r| DayFigures {
                day: r.day,
                sold: r.sold,
                spent: r.spent,
            })
            .collect(),
    })
}

fn spend_group(row: SpendingRow) -> Result<SpendGroup, DbError> {
    let service: ServiceType = row
        .service_type
        .parse()
        .map_err(corrupt("transactions", "service_type"))?;
    let domain = match (row.domain_id, row.domain_name) {
        (Some(id), Some(name)) => Some(DomainLabel {
            id: DomainId::from_uuid(id),
            display_name: row.domain_display_name.unwrap_or_else(|| name.clone()),
            name,
        }),
        _ => None,
    };
    Ok(SpendGroup {
        service,
        domain,
        tokens: row.tokens,
    })
}

#[async_trait]
impl Reports for PgReports {
    #[tracing::instrument(skip_all, fields(from = %period.from(), to = %period.to()))]
    async fn figures(&self, period: &ReportPeriod) -> Result<LedgerFigures, StoreError> {
        let mut conn = self.db.conn().await.map_err(DbError::from)?;
        let (from, to) = (period.from(), period.to());
        let rows = conn
            .build_transaction()
            .repeatable_read()
            .read_only()
            .run::<_, DieselError, _>(async |tx| read(tx, from, to).await)
            .await
            .map_err(DbError::from)?;
        Ok(figures(rows)?)
    }
}
