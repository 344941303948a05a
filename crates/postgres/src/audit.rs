//! A check of the whole ledger, for `askgate-server audit` and the tests.
//!
//! Each rule is one query that lists what breaks it, so a report names every
//! violation, not just the first.

use std::fmt;
use std::time::Duration;

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Interval, Text};
use diesel_async::RunQueryDsl;

use askgate_domain::StoreError;

use crate::Database;
use crate::errors::store;

/// How many violations of one rule a report lists in full.
const SHOWN_PER_RULE: i64 = 20;

/// The first rule, which is also the invariant the tests check after each
/// scenario ([`balance_violations`]).
const BALANCES: (&str, &str) = (
    "every balance equals the sum of its ledger and is not negative",
    "SELECT format('user %s: balance %s, ledger sums to %s', u.id, u.tokens, COALESCE(s.total, 0)) AS line
       FROM users u
       LEFT JOIN (SELECT user_id, SUM(amount) AS total FROM transactions GROUP BY user_id) s ON s.user_id = u.id
      WHERE u.tokens <> COALESCE(s.total, 0) OR u.tokens < 0
      LIMIT $2",
);

/// Each rule: its name and a query returning one text line per violation.
/// `$1` is the recovery window, `$2` the number of lines to return.
const RULES: &[(&str, &str)] = &[
    BALANCES,
    (
        "every balance_after continues the user's chain",
        "SELECT format('row %s of user %s: balance_after %s, running sum %s', id, user_id, balance_after, running) AS line
           FROM (SELECT id, user_id, balance_after,
                        SUM(amount) OVER (PARTITION BY user_id ORDER BY created_at, id
                                          ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running
                   FROM transactions) t
          WHERE balance_after <> running
          LIMIT $2",
    ),
    (
        "every refund gives back one consumption of the same user, in full",
        "SELECT format('refund %s: %s', r.id,
                       CASE WHEN r.refunds_transaction_id IS NULL THEN 'names no consumption'
                            WHEN c.id IS NULL OR c.transaction_type <> 'consumption' THEN 'does not name a consumption'
                            WHEN c.user_id <> r.user_id THEN 'gives back another user''s consumption'
                            ELSE 'amount is not what the consumption took' END) AS line
           FROM transactions r
           LEFT JOIN transactions c ON c.id = r.refunds_transaction_id
          WHERE r.transaction_type = 'refund'
            AND (r.refunds_transaction_id IS NULL OR c.id IS NULL OR c.transaction_type <> 'consumption'
                 OR c.user_id <> r.user_id OR r.amount <> -c.amount)
          LIMIT $2",
    ),
    (
        "every purchase matches one payment",
        "SELECT format('payment %s: %s purchase rows', COALESCE(stripe_payment_intent_id, '(none)'), COUNT(*)) AS line
           FROM transactions
          WHERE transaction_type = 'purchase'
          GROUP BY stripe_payment_intent_id
         HAVING stripe_payment_intent_id IS NULL OR COUNT(*) > 1
          LIMIT $2",
    ),
    (
        "every chat consumption belongs to a charge or predates charges, and every finished charge is consistent",
        "SELECT format('charge %s: %s', c.id,
                       CASE WHEN t.id IS NULL OR t.transaction_type <> 'consumption' THEN 'its consumption row is missing'
                            WHEN c.state = 'refunded' AND (r.id IS NULL OR r.refunds_transaction_id <> c.consumption_id) THEN 'refunded without its refund row'
                            ELSE 'settled but its consumption was refunded' END) AS line
           FROM charges c
           LEFT JOIN transactions t ON t.id = c.consumption_id
           LEFT JOIN transactions r ON r.id = c.refund_id
           LEFT JOIN transactions x ON x.refunds_transaction_id = c.consumption_id
          WHERE t.id IS NULL OR t.transaction_type <> 'consumption'
             OR (c.state = 'refunded' AND (r.id IS NULL OR r.refunds_transaction_id <> c.consumption_id))
             OR (c.state = 'settled' AND x.id IS NOT NULL)
            
          LIMIT $2",
    ),
    (
        "every app consumption matches its ledger rows, and every app-service consumption belongs to an app",
        "SELECT format('app consumption %s: %s', COALESCE(a.id, t.id),
                       CASE WHEN a.id IS NULL THEN 'an app-service consumption row without its app consumption'
                            WHEN t.id IS NULL OR t.transaction_type <> 'consumption' OR t.service_type <> 'app' THEN 'its consumption row is missing'
                            WHEN t.amount <> -a.amount OR t.user_id <> a.user_id THEN 'its consumption row is for another amount or user'
                            ELSE 'refunded without its refund row' END) AS line
           FROM app_consumptions a
           FULL JOIN (SELECT * FROM transactions WHERE transaction_type = 'consumption' AND service_type = 'app') t
             ON t.id = a.consumption_id
           LEFT JOIN transactions r ON r.id = a.refund_id
          WHERE a.id IS NULL OR t.id IS NULL
             OR t.amount <> -a.amount OR t.user_id <> a.user_id
             OR (a.refund_id IS NOT NULL AND (r.id IS NULL OR r.refunds_transaction_id <> a.consumption_id))
          LIMIT $2",
    ),
    (
        "no charge is pending past the recovery window",
        "SELECT format('charge %s of user %s: pending since %s', id, user_id, created_at) AS line
           FROM charges
          WHERE state = 'pending' AND created_at < clock_timestamp() - $1
          LIMIT $2",
    ),
];

const TOTALS: &str = "
SELECT
  COALESCE((SELECT SUM(amount) FROM transactions WHERE transaction_type = 'purchase'), 0)::bigint AS sold,
  COALESCE((SELECT SUM(amount) FROM transactions WHERE transaction_type = 'grant'), 0)::bigint AS granted,
  COALESCE((SELECT SUM(amount) FROM transactions WHERE transaction_type = 'adjustment'), 0)::bigint AS adjusted,
  COALESCE((SELECT -SUM(amount) FROM transactions WHERE transaction_type = 'consumption'), 0)::bigint AS consumed,
  COALESCE((SELECT SUM(amount) FROM transactions WHERE transaction_type = 'refund'), 0)::bigint AS refunded,
  COALESCE((SELECT -SUM(amount) FROM transactions WHERE transaction_type = 'reversal'), 0)::bigint AS reversed,
  COALESCE((SELECT SUM(tokens) FROM users), 0)::bigint AS outstanding,
  (SELECT COUNT(*) FROM users)::bigint AS users,
  (SELECT COUNT(*) FROM transactions)::bigint AS rows,
  (SELECT COUNT(*) FROM charges WHERE state = 'pending')::bigint AS pending";

#[derive(Debug, QueryableByName)]
struct Line {
    #[diesel(sql_type = Text)]
    line: String,
}

/// Token totals over the whole ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, QueryableByName)]
pub struct LedgerTotals {
    #[diesel(sql_type = BigInt)]
    pub sold: i64,
    #[diesel(sql_type = BigInt)]
    pub granted: i64,
    #[diesel(sql_type = BigInt)]
    pub adjusted: i64,
    /// Tokens held by chats, before refunds.
    #[diesel(sql_type = BigInt)]
    pub consumed: i64,
    #[diesel(sql_type = BigInt)]
    pub refunded: i64,
    /// Purchased tokens taken back after Stripe refunds and disputes.
    #[diesel(sql_type = BigInt)]
    pub reversed: i64,
    /// Unspent tokens: the service's liability.
    #[diesel(sql_type = BigInt)]
    pub outstanding: i64,
    #[diesel(sql_type = BigInt)]
    pub users: i64,
    #[diesel(sql_type = BigInt)]
    pub rows: i64,
    /// Charges still pending (within the recovery window).
    #[diesel(sql_type = BigInt)]
    pub pending: i64,
}

/// One rule and what breaks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRule {
    pub rule: &'static str,
    /// Up to 20 lines, one per violation.
    pub violations: Vec<String>,
}

/// What `audit` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditReport {
    pub rules: Vec<AuditRule>,
    pub totals: LedgerTotals,
}

impl AuditReport {
    /// Whether every rule holds.
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.rules.iter().all(|r| r.violations.is_empty())
    }
}

impl fmt::Display for AuditReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "ledger audit")?;
        for rule in &self.rules {
            let mark = if rule.violations.is_empty() {
                "ok  "
            } else {
                "FAIL"
            };
            writeln!(f, "  {mark} {}", rule.rule)?;
            for line in &rule.violations {
                writeln!(f, "         {line}")?;
            }
        }
        let t = &self.totals;
        writeln!(f, "totals ({} users, {} ledger rows)", t.users, t.rows)?;
        writeln!(f, "  tokens sold          {}", t.sold)?;
        writeln!(f, "  tokens granted       {}", t.granted)?;
        writeln!(f, "  adjustments          {}", t.adjusted)?;
        writeln!(f, "  tokens spent         {}", t.consumed - t.refunded)?;
        writeln!(f, "  chats refunded       {}", t.refunded)?;
        writeln!(f, "  purchases reversed   {}", t.reversed)?;
        writeln!(f, "  outstanding          {}", t.outstanding)?;
        writeln!(f, "  charges pending      {}", t.pending)?;
        write!(
            f,
            "{}",
            if self.is_clean() {
                "result: clean"
            } else {
                "result: VIOLATIONS FOUND"
            }
        )
    }
}

/// Checks every rule over the whole ledger; `recovery_window` is how long a
/// charge may be pending.
pub async fn audit(db: &Database, recovery_window: Duration) -> Result<AuditReport, StoreError> {
    let window = diesel::data_types::PgInterval::from_microseconds(
        i64::try_from(recovery_window.as_micros()).unwrap_or(i64::MAX),
    );
    let mut conn = db.conn().await.map_err(store)?;
    let mut rules = Vec::with_capacity(RULES.len());
    for (rule, query) in RULES {
        rules.push(AuditRule {
            rule,
            violations: violations(&mut conn, query, window, SHOWN_PER_RULE).await?,
        });
    }
    let totals = diesel::sql_query(TOTALS)
        .get_result::<LedgerTotals>(&mut conn)
        .await
        .map_err(store)?;
    Ok(AuditReport { rules, totals })
}

/// Every user whose balance is not the sum of their ledger rows, or is
/// negative: the audit's first rule, listed in full.
pub async fn balance_violations(db: &Database) -> Result<Vec<String>, StoreError> {
    let mut conn = db.conn().await.map_err(store)?;
    let no_window = diesel::data_types::PgInterval::from_microseconds(0);
    violations(&mut conn, BALANCES.1, no_window, i64::MAX).await
}

/// One line per violation of the rule `query`, at most `limit`.
async fn violations(
    conn: &mut diesel_async::AsyncPgConnection,
    query: &str,
    window: diesel::data_types::PgInterval,
    limit: i64,
) -> Result<Vec<String>, StoreError> {
    let lines = diesel::sql_query(query)
        .bind::<Interval, _>(window)
        .bind::<BigInt, _>(limit)
        .load::<Line>(conn)
        .await
        .map_err(store)?;
    Ok(lines.into_iter().map(|l| l.line).collect())
}
