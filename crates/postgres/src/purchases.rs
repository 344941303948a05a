//! `PurchaseRepository` on PostgreSQL: checkouts followed from pending to
//! credited (or failed), for the success page.
//!
//! The ledger decides whether a payment was credited; this table only mirrors
//! it for one checkout. Every write is a single statement, so concurrent
//! webhooks for one checkout cannot interleave inside it.

use askgate_domain::package::TokenPackage;
use askgate_domain::payment::{CheckoutSessionId, PaymentIntentId, Purchase, PurchaseStatus};
use askgate_domain::ports::PurchaseRepository;
use askgate_domain::{StoreError, UserId};
use async_trait::async_trait;
use diesel::prelude::*;
use diesel::sql_types::{Text, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::Database;
use crate::errors::DbError;
use crate::schema::purchases;

/// Records a checkout. Already credited when the payment's webhook won the race
/// against this insert (the ledger's purchase row names the checkout); a
/// checkout recorded before keeps its row as it is.
const RECORD: &str = "\
INSERT INTO purchases (checkout_session_id, user_id, package, status)
SELECT $1, $2, $3,
    CASE WHEN EXISTS (
        SELECT 1 FROM transactions
        WHERE user_id = $2
          AND transaction_type = 'purchase'
          AND metadata ->> 'checkout_session_id' = $1
    ) THEN 'credited' ELSE 'pending' END
ON CONFLICT (checkout_session_id) DO NOTHING";

/// Checkouts of askgate's hosted payment page.
#[derive(Debug, Clone)]
pub struct PgPurchases {
    db: Database,
}

impl PgPurchases {
    #[must_use]
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

/// A stored purchase the domain does not accept (the CHECK constraints should
/// have prevented it).
#[derive(Debug, thiserror::Error)]
#[error("invalid value in purchases.{0}")]
struct CorruptPurchase(&'static str);

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = purchases, check_for_backend(diesel::pg::Pg))]
struct PurchaseRow {
    checkout_session_id: String,
    user_id: Uuid,
    package: String,
    payment_intent_id: Option<String>,
    status: String,
}

fn status_from(text: &str) -> Option<PurchaseStatus> {
    [
        PurchaseStatus::Pending,
        PurchaseStatus::Credited,
        PurchaseStatus::Failed,
    ]
    .into_iter()
    .find(|s| s.as_str() == text)
}

impl TryFrom<PurchaseRow> for Purchase {
    type Error = CorruptPurchase;

    fn try_from(row: PurchaseRow) -> Result<Self, Self::Error> {
        Ok(Self {
            checkout_session_id: CheckoutSessionId::try_from(row.checkout_session_id)
                .map_err(|_| CorruptPurchase("checkout_session_id"))?,
            user: UserId::from_uuid(row.user_id),
            package: row
                .package
                .parse::<TokenPackage>()
                .map_err(|_| CorruptPurchase("package"))?,
            payment_intent_id: row
                .payment_intent_id
                .map(PaymentIntentId::try_from)
                .transpose()
                .map_err(|_| CorruptPurchase("payment_intent_id"))?,
            status: status_from(&row.status).ok_or(CorruptPurchase("status"))?,
        })
    }
}

#[async_trait]
impl PurchaseRepository for PgPurchases {
    #[tracing::instrument(skip_all, fields(user_id = %purchase.user, checkout = %purchase.checkout_session_id))]
    async fn record(&self, purchase: &Purchase) -> Result<(), StoreError> {
        let mut conn = self.db.conn().await.map_err(DbError::from)?;
        diesel::sql_query(RECORD)
            .bind::<Text, _>(purchase.checkout_session_id.as_str())
            .bind::<SqlUuid, _>(purchase.user.as_uuid())
            .bind::<Text, _>(purchase.package.id())
            .execute(&mut conn)
            .await
            .map_err(DbError::from)?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(checkout = %checkout_session_id))]
    async fn attach_payment(
        &self,
        checkout_session_id: &CheckoutSessionId,
        payment_intent_id: &PaymentIntentId,
    ) -> Result<(), StoreError> {
        let mut conn = self.db.conn().await.map_err(DbError::from)?;
        // No row: a payment made outside askgate's checkout. Nothing to follow.
        diesel::update(purchases::table.find(checkout_session_id.as_str()))
            .set((
                purchases::payment_intent_id.eq(payment_intent_id.as_str()),
                purchases::status.eq(PurchaseStatus::Credited.as_str()),
                purchases::updated_at.eq(diesel::dsl::now),
            ))
            .execute(&mut conn)
            .await
            .map_err(DbError::from)?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(checkout = %checkout_session_id))]
    async fn mark_failed(&self, checkout_session_id: &CheckoutSessionId) -> Result<(), StoreError> {
        let mut conn = self.db.conn().await.map_err(DbError::from)?;
        // Only a pending checkout fails: tokens once credited stay credited.
        diesel::update(
            purchases::table
                .find(checkout_session_id.as_str())
                .filter(purchases::status.eq(PurchaseStatus::Pending.as_str())),
        )
        .set((
            purchases::status.eq(PurchaseStatus::Failed.as_str()),
            purchases::updated_at.eq(diesel::dsl::now),
        ))
        .execute(&mut conn)
        .await
        .map_err(DbError::from)?;
        Ok(())
    }

    async fn get(
        &self,
        checkout_session_id: &CheckoutSessionId,
    ) -> Result<Option<Purchase>, StoreError> {
        let mut conn = self.db.conn().await.map_err(DbError::from)?;
        let row = purchases::table
            .find(checkout_session_id.as_str())
            .select(PurchaseRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map_err(DbError::from)?;
        row.map(|row| Purchase::try_from(row).map_err(|e| StoreError::Unexpected(Box::new(e))))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_reads_back_from_its_text() {
        for status in [
            PurchaseStatus::Pending,
            PurchaseStatus::Credited,
            PurchaseStatus::Failed,
        ] {
            assert_eq!(status_from(status.as_str()), Some(status));
        }
        assert_eq!(status_from("refunded"), None);
    }
}
