//! The token ledger on PostgreSQL.
//!
//! Credits, purchases and their reversals; a chat's debit and refund are its
//! charge's (`charges.rs`). Every balance change and its `transactions` row are
//! written in one database transaction, so `users.tokens = Σ transactions.amount`
//! holds at every commit. Uniqueness in the schema makes the at-most-once rules
//! hold under any concurrency: `transactions.idempotency_key` (credits, one
//! purchase per payment intent), `stripe_events.event_id` (one handling per Stripe event) and
//! `purchase_reversals.payment_intent_id` (one running total of what a payment's
//! refunds and disputes gave back, so the payment never gives back more than it
//! bought).

use askgate_domain::ledger::{
    CreditRequest, DisputeWon, EntryKind, IdempotencyKey, LedgerEntry, PaymentOutcome,
    PurchaseCredit, PurchaseReversal, Recorded, RefundShare, ReversalCause, tokens_due,
};
use askgate_domain::page::{Cursor, Page, PageRequest};
use askgate_domain::payment::{PaymentIntentId, StripeEventId};
use askgate_domain::ports::{
    BalanceError, CreditError, HistoryError, Ledger, PurchaseCreditError, RestoreError,
    ReversalError,
};
use askgate_domain::usage::{DailySpend, LedgerFilter};
use askgate_domain::{DomainId, Tokens, UserId};
use async_trait::async_trait;
use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::json;
use uuid::Uuid;

use crate::Database;
use crate::errors::DbError;
use crate::models::{NewTransactionRow, TransactionRow, corrupt};
use crate::schema::{
    orphaned_payments, payment_disputes, pending_reversals, purchase_reversals, stripe_events,
    transactions, users,
};

/// `stripe_events.event_type` for events handled here. The port does not carry
/// Stripe's own event type, so the row records what the ledger did with it.
const EVENT_CREDITED: &str = "ledger.credit_purchase";
const EVENT_REVERSED: &str = "ledger.reverse_purchase";
const EVENT_RESTORED: &str = "ledger.restore_disputed";

/// `payment_disputes.status`: taking the payment back (opened, or closed lost).
const DISPUTE_OPEN: &str = "open";
/// `payment_disputes.status`: decided for the merchant.
const DISPUTE_WON: &str = "won";

/// The ledger of every user.
#[derive(Debug, Clone)]
pub struct PgLedger {
    db: Database,
}

impl PgLedger {
    #[must_use]
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

/// Why a database transaction stopped; all but `Db` are decisions, not failures.
#[derive(Debug)]
enum Stop {
    Db(DbError),
    UserNotFound,
    /// The balance would pass `i32::MAX`.
    Overflow,
    /// The row this call would write exists already: roll back what was done.
    Duplicate,
}

impl From<DieselError> for Stop {
    fn from(e: DieselError) -> Self {
        Self::Db(e.into())
    }
}

impl From<DbError> for Stop {
    fn from(e: DbError) -> Self {
        Self::Db(e)
    }
}

/// A decision the operation cannot make, as its `Unexpected` cause.
#[derive(Debug, thiserror::Error)]
enum Impossible {
    #[error("unexpected duplicate ledger row")]
    Duplicate,
    #[error("the user of the payment was not found")]
    UserNotFound,
    #[error("taking tokens back would pass the maximum balance")]
    Overflow,
}

impl From<Stop> for CreditError {
    fn from(stop: Stop) -> Self {
        match stop {
            Stop::Db(e) => e.into(),
            Stop::UserNotFound => Self::UserNotFound,
            Stop::Overflow => Self::Overflow,
            Stop::Duplicate => Self::Unexpected(Box::new(Impossible::Duplicate)),
        }
    }
}

impl From<Stop> for PurchaseCreditError {
    fn from(stop: Stop) -> Self {
        match stop {
            Stop::Db(e) => e.into(),
            Stop::Overflow => Self::Overflow,
            // An unknown buyer is recorded as an orphaned payment before this.
            Stop::UserNotFound => Self::Unexpected(Box::new(Impossible::UserNotFound)),
            Stop::Duplicate => Self::Unexpected(Box::new(Impossible::Duplicate)),
        }
    }
}

impl From<Stop> for ReversalError {
    fn from(stop: Stop) -> Self {
        match stop {
            Stop::Db(e) => e.into(),
            Stop::UserNotFound => Self::Unexpected(Box::new(Impossible::UserNotFound)),
            Stop::Overflow => Self::Unexpected(Box::new(Impossible::Overflow)),
            Stop::Duplicate => Self::Unexpected(Box::new(Impossible::Duplicate)),
        }
    }
}

impl From<Stop> for RestoreError {
    fn from(stop: Stop) -> Self {
        match stop {
            Stop::Db(e) => e.into(),
            Stop::Overflow => Self::Overflow,
            Stop::UserNotFound => Self::Unexpected(Box::new(Impossible::UserNotFound)),
            Stop::Duplicate => Self::Unexpected(Box::new(Impossible::Duplicate)),
        }
    }
}

fn entry(row: TransactionRow) -> Result<LedgerEntry, DbError> {
    LedgerEntry::try_from(row).map_err(DbError::from)
}

/// Adds `amount` to the balance, refusing to pass `i32::MAX`; returns the new balance.
async fn add_tokens(conn: &mut AsyncPgConnection, user: Uuid, amount: i32) -> Result<i32, Stop> {
    let after = diesel::update(
        users::table
            .find(user)
            .filter(users::tokens.le(i32::MAX - amount)),
    )
    .set(users::tokens.eq(users::tokens + amount))
    .returning(users::tokens)
    .get_result::<i32>(conn)
    .await
    .optional()?;
    match after {
        Some(after) => Ok(after),
        None => {
            let exists = diesel::select(diesel::dsl::exists(users::table.find(user)))
                .get_result::<bool>(conn)
                .await?;
            Err(if exists {
                Stop::Overflow
            } else {
                Stop::UserNotFound
            })
        }
    }
}

/// Inserts the row unless a unique column (idempotency key, refunded consumption)
/// already holds its value: then `Stop::Duplicate`.
async fn insert_once(
    conn: &mut AsyncPgConnection,
    row: &NewTransactionRow<'_>,
) -> Result<TransactionRow, Stop> {
    diesel::insert_into(transactions::table)
        .values(row)
        .on_conflict_do_nothing()
        .returning(TransactionRow::as_returning())
        .get_result(conn)
        .await
        .optional()?
        .ok_or(Stop::Duplicate)
}

/// Records a Stripe event id; `false` when it was recorded before.
async fn record_event(
    conn: &mut AsyncPgConnection,
    event_id: &StripeEventId,
    event_type: &str,
) -> Result<bool, DieselError> {
    let inserted = diesel::insert_into(stripe_events::table)
        .values((
            stripe_events::event_id.eq(event_id.as_str()),
            stripe_events::event_type.eq(event_type),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(inserted == 1)
}

async fn find_by_key(
    conn: &mut AsyncPgConnection,
    key: &str,
) -> Result<Option<TransactionRow>, DieselError> {
    transactions::table
        .filter(transactions::idempotency_key.eq(key))
        .select(TransactionRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// Serialises the credit and the reversals of one payment: without it, a
/// reversal that finds no credit yet and a credit that finds no remembered
/// reversal yet could both commit, and the reversal would be lost.
async fn lock_payment(
    conn: &mut AsyncPgConnection,
    payment_intent_id: &PaymentIntentId,
) -> Result<(), DieselError> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind::<Text, _>(payment_intent_id.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

/// What taking back a credited purchase did.
enum Taken {
    /// Earlier reversals of the payment made as much due: nothing changed.
    Before,
    /// Remembered, but every token due was spent: no ledger row.
    Nothing,
    /// The `reversal` row written.
    Row(TransactionRow),
}

/// What one reversal made due on top of earlier ones: `taken` from the
/// balance, `shortfall` already spent.
#[derive(Debug, Clone, Copy, Default)]
struct Took {
    taken: i32,
    shortfall: i32,
}

/// Takes back what makes `due` tokens due of `purchase` on top of what earlier
/// reversals of this payment made due, at most the user's balance, with a
/// `reversal` row, and remembers the running total in `purchase_reversals`
/// (one row per payment). `refunded_due` is how many of those the payment's
/// refunds alone make due (kept as the largest seen: a won dispute leaves
/// that much taken). Runs inside the caller's transaction, under the
/// payment's lock.
async fn take_back(
    tx: &mut AsyncPgConnection,
    purchase: &TransactionRow,
    pi: &PaymentIntentId,
    reason: &str,
    due: i32,
    refunded_due: i32,
    share: Option<RefundShare>,
) -> Result<(Taken, Took), Stop> {
    let purchased = purchase.amount;
    let due = due.clamp(0, purchased);
    let before = purchase_reversals::table
        .find(pi.as_str())
        .select((
            purchase_reversals::due,
            purchase_reversals::reversed,
            purchase_reversals::shortfall,
            purchase_reversals::refunded_due,
        ))
        .for_update()
        .first::<(i32, i32, i32, i32)>(tx)
        .await
        .optional()?;
    let (due_before, reversed_before, shortfall_before, refunded_before) =
        before.unwrap_or((0, 0, 0, 0));
    let refunded_due = refunded_due.clamp(refunded_before, purchased);
    if before.is_some() && due <= due_before {
        // An earlier reversal made as much due or more: nothing more to take.
        if refunded_due > refunded_before {
            diesel::update(purchase_reversals::table.find(pi.as_str()))
                .set(purchase_reversals::refunded_due.eq(refunded_due.min(due_before)))
                .execute(tx)
                .await?;
        }
        return Ok((Taken::Before, Took::default()));
    }
    let owed = due - due_before;
    // Locks the user's row: debits and other reversals wait for us.
    let balance = users::table
        .find(purchase.user_id)
        .select(users::tokens)
        .for_update()
        .first::<i32>(tx)
        .await?;
    let taken = balance.clamp(0, owed);
    let shortfall = owed - taken;
    let refunded_due = refunded_due.min(due);
    diesel::insert_into(purchase_reversals::table)
        .values((
            purchase_reversals::payment_intent_id.eq(pi.as_str()),
            purchase_reversals::user_id.eq(purchase.user_id),
            purchase_reversals::purchased.eq(purchased),
            purchase_reversals::due.eq(due),
            purchase_reversals::reversed.eq(reversed_before + taken),
            purchase_reversals::shortfall.eq(shortfall_before + shortfall),
            purchase_reversals::refunded_due.eq(refunded_due),
            purchase_reversals::reason.eq(reason),
        ))
        .on_conflict(purchase_reversals::payment_intent_id)
        .do_update()
        .set((
            purchase_reversals::due.eq(due),
            purchase_reversals::reversed.eq(reversed_before + taken),
            purchase_reversals::shortfall.eq(shortfall_before + shortfall),
            purchase_reversals::refunded_due.eq(refunded_due),
        ))
        .execute(tx)
        .await?;
    let took = Took { taken, shortfall };
    if taken == 0 {
        return Ok((Taken::Nothing, took));
    }
    let reversal_key = if dispute_given_back(tx, pi).await? {
        IdempotencyKey::for_reversal_after_dispute_won(pi, due)
    } else if due_before == 0 {
        IdempotencyKey::for_reversal(pi)
    } else {
        IdempotencyKey::for_reversal_up_to(pi, due)
    };
    let after = diesel::update(users::table.find(purchase.user_id))
        .set(users::tokens.eq(users::tokens - taken))
        .returning(users::tokens)
        .get_result::<i32>(tx)
        .await?;
    let mut metadata = json!({
        "reason": reason,
        "purchased": purchased,
        "reversed": taken,
        "shortfall": shortfall,
    });
    if let Some(share) = share {
        metadata["refunded_cents"] = json!(share.refunded_cents);
        metadata["paid_cents"] = json!(share.paid_cents);
        metadata["due"] = json!(due);
    }
    let row = insert_once(
        tx,
        &NewTransactionRow {
            id: Uuid::now_v7(),
            user_id: purchase.user_id,
            transaction_type: EntryKind::Reversal.as_str(),
            amount: -taken,
            balance_after: after,
            stripe_payment_intent_id: Some(pi.as_str()),
            idempotency_key: Some(reversal_key.as_str()),
            service_type: None,
            domain_id: None,
            refunds_transaction_id: None,
            metadata: &metadata,
        },
    )
    .await?;
    diesel::update(purchase_reversals::table.find(pi.as_str()))
        .set(purchase_reversals::transaction_id.eq(row.id))
        .execute(tx)
        .await?;
    Ok((Taken::Row(row), took))
}

/// The payment's dispute: its status, reason and what it took (`None` while
/// it has not been applied).
async fn dispute_of(
    tx: &mut AsyncPgConnection,
    pi: &PaymentIntentId,
) -> Result<Option<(String, String, Option<Took>)>, DieselError> {
    let row = payment_disputes::table
        .find(pi.as_str())
        .select((
            payment_disputes::status,
            payment_disputes::reason,
            payment_disputes::taken,
            payment_disputes::shortfall,
        ))
        .for_update()
        .first::<(String, String, Option<i32>, Option<i32>)>(tx)
        .await
        .optional()?;
    Ok(row.map(|(status, reason, taken, shortfall)| {
        let took = taken
            .zip(shortfall)
            .map(|(taken, shortfall)| Took { taken, shortfall });
        (status, reason, took)
    }))
}

/// Whether the payment's dispute was won after it had been applied (so the
/// reversal keys it used are taken).
async fn dispute_given_back(
    tx: &mut AsyncPgConnection,
    pi: &PaymentIntentId,
) -> Result<bool, DieselError> {
    diesel::select(diesel::dsl::exists(
        payment_disputes::table
            .find(pi.as_str())
            .filter(payment_disputes::status.eq(DISPUTE_WON))
            .filter(payment_disputes::restored.is_not_null()),
    ))
    .get_result(tx)
    .await
}

/// Applies the payment's open dispute to `purchase`: everything due, of which
/// the refunds' share (`refunded_due`) is theirs; records what the dispute's
/// own part took, for a won outcome to give back.
async fn apply_dispute(
    tx: &mut AsyncPgConnection,
    purchase: &TransactionRow,
    pi: &PaymentIntentId,
    reason: &str,
    refunded_due: i32,
) -> Result<Taken, Stop> {
    let purchased = purchase.amount;
    let due_before = purchase_reversals::table
        .find(pi.as_str())
        .select(purchase_reversals::due)
        .first::<i32>(tx)
        .await
        .optional()?
        .unwrap_or(0);
    let (taken, took) = take_back(tx, purchase, pi, reason, purchased, refunded_due, None).await?;
    // Of what this reversal made due, the refunds' share (not yet due before
    // it) comes first; the rest is the dispute's.
    let refunds_part = (refunded_due - due_before).max(0);
    let owed = took.taken + took.shortfall;
    let dispute_owed = (owed - refunds_part).max(0);
    let shortfall = took.shortfall.min(dispute_owed);
    let own = Took {
        taken: dispute_owed - shortfall,
        shortfall,
    };
    diesel::insert_into(payment_disputes::table)
        .values((
            payment_disputes::payment_intent_id.eq(pi.as_str()),
            payment_disputes::status.eq(DISPUTE_OPEN),
            payment_disputes::reason.eq(reason),
            payment_disputes::taken.eq(own.taken),
            payment_disputes::shortfall.eq(own.shortfall),
        ))
        .on_conflict(payment_disputes::payment_intent_id)
        .do_update()
        .set((
            payment_disputes::taken.eq(own.taken),
            payment_disputes::shortfall.eq(own.shortfall),
            payment_disputes::updated_at.eq(diesel::dsl::now),
        ))
        .execute(tx)
        .await?;
    Ok(taken)
}

/// Gives back what the applied dispute of `pi` took, leaving taken what the
/// payment's refunds make due: the due total drops to `refunded_due`, first
/// out of the dispute's shortfall (tokens spent, nothing to give back), then
/// out of what it took, which comes back with an `adjustment` row.
async fn give_back(
    tx: &mut AsyncPgConnection,
    pi: &PaymentIntentId,
    dispute: Took,
) -> Result<Option<TransactionRow>, Stop> {
    let state = purchase_reversals::table
        .find(pi.as_str())
        .select((
            purchase_reversals::user_id,
            purchase_reversals::due,
            purchase_reversals::reversed,
            purchase_reversals::shortfall,
            purchase_reversals::refunded_due,
        ))
        .for_update()
        .first::<(Uuid, i32, i32, i32, i32)>(tx)
        .await
        .optional()?;
    let Some((user, due, reversed, shortfall, refunded_due)) = state else {
        return Ok(None);
    };
    let drop = (due - refunded_due).clamp(0, dispute.taken + dispute.shortfall);
    let from_shortfall = drop.min(dispute.shortfall).min(shortfall);
    let restored = (drop - from_shortfall).min(reversed);
    let drop = from_shortfall + restored;
    diesel::update(purchase_reversals::table.find(pi.as_str()))
        .set((
            purchase_reversals::due.eq(due - drop),
            purchase_reversals::reversed.eq(reversed - restored),
            purchase_reversals::shortfall.eq(shortfall - from_shortfall),
        ))
        .execute(tx)
        .await?;
    if restored == 0 {
        return Ok(None);
    }
    let after = add_tokens(tx, user, restored).await?;
    let key = IdempotencyKey::for_dispute_won(pi);
    let metadata = json!({
        "reason": "dispute_won",
        "restored": restored,
        "dispute_taken": dispute.taken,
        "dispute_shortfall": dispute.shortfall,
        "still_due": due - drop,
    });
    let row = insert_once(
        tx,
        &NewTransactionRow {
            id: Uuid::now_v7(),
            user_id: user,
            transaction_type: EntryKind::Adjustment.as_str(),
            amount: restored,
            balance_after: after,
            stripe_payment_intent_id: Some(pi.as_str()),
            idempotency_key: Some(key.as_str()),
            service_type: None,
            domain_id: None,
            refunds_transaction_id: None,
            metadata: &metadata,
        },
    )
    .await?;
    Ok(Some(row))
}

/// A refund or dispute that arrived before this payment's credit: its reason
/// and share (`None`: the whole payment).
async fn pending_reversal(
    tx: &mut AsyncPgConnection,
    pi: &PaymentIntentId,
) -> Result<Option<(String, Option<RefundShare>)>, DieselError> {
    let row = pending_reversals::table
        .find(pi.as_str())
        .select((
            pending_reversals::reason,
            pending_reversals::refunded_cents,
            pending_reversals::paid_cents,
        ))
        .first::<(String, Option<i64>, Option<i64>)>(tx)
        .await
        .optional()?;
    Ok(row.map(|(reason, refunded, paid)| {
        let share = refunded
            .zip(paid)
            .map(|(refunded_cents, paid_cents)| RefundShare {
                refunded_cents,
                paid_cents,
            });
        (reason, share)
    }))
}

/// Remembers a reversal for the credit still to come, keeping the largest share
/// seen: Stripe's refunded amount only grows, and a dispute or full refund
/// (`None`) covers everything.
async fn remember_reversal(
    tx: &mut AsyncPgConnection,
    reversal: &PurchaseReversal,
) -> Result<(), DieselError> {
    let pi = &reversal.payment_intent_id;
    let (refunded, paid) = reversal
        .share
        .map(|s| (s.refunded_cents, s.paid_cents))
        .unzip();
    let Some((_, before)) = pending_reversal(tx, pi).await? else {
        diesel::insert_into(pending_reversals::table)
            .values((
                pending_reversals::payment_intent_id.eq(pi.as_str()),
                pending_reversals::reason.eq(&reversal.reason),
                pending_reversals::event_id
                    .eq(reversal.event_id.as_ref().map(StripeEventId::as_str)),
                pending_reversals::refunded_cents.eq(refunded),
                pending_reversals::paid_cents.eq(paid),
            ))
            .execute(tx)
            .await?;
        return Ok(());
    };
    let larger = match (before, reversal.share) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(b), Some(n)) => {
            i128::from(n.refunded_cents) * i128::from(b.paid_cents)
                > i128::from(b.refunded_cents) * i128::from(n.paid_cents)
        }
    };
    if larger {
        diesel::update(pending_reversals::table.find(pi.as_str()))
            .set((
                pending_reversals::reason.eq(&reversal.reason),
                pending_reversals::event_id
                    .eq(reversal.event_id.as_ref().map(StripeEventId::as_str)),
                pending_reversals::refunded_cents.eq(refunded),
                pending_reversals::paid_cents.eq(paid),
            ))
            .execute(tx)
            .await?;
    }
    Ok(())
}

/// Records a paid purchase whose user does not exist; `false` when this
/// payment was recorded as orphaned before.
async fn record_orphan(
    tx: &mut AsyncPgConnection,
    credit: &PurchaseCredit,
) -> Result<bool, DieselError> {
    let inserted = diesel::insert_into(orphaned_payments::table)
        .values((
            orphaned_payments::payment_intent_id.eq(credit.payment_intent_id.as_str()),
            orphaned_payments::user_id.eq(credit.user.as_uuid()),
            orphaned_payments::tokens.eq(credit.tokens.get()),
            orphaned_payments::event_id.eq(credit.event_id.as_ref().map(StripeEventId::as_str)),
            orphaned_payments::metadata.eq(&credit.metadata),
        ))
        .on_conflict_do_nothing()
        .execute(tx)
        .await?;
    Ok(inserted == 1)
}

/// What a reversal did, as the port says it.
fn outcome_of(taken: Taken) -> Result<PaymentOutcome, Stop> {
    Ok(match taken {
        Taken::Before => PaymentOutcome::AlreadyApplied,
        Taken::Nothing => PaymentOutcome::NothingToDo,
        Taken::Row(row) => PaymentOutcome::Applied(entry(row).map_err(Stop::from)?),
    })
}

/// A dispute of `pi` (opened, or closed lost): applied once to the credited
/// `purchase`, remembered when there is none yet, nothing when the dispute
/// was won already.
async fn dispute(
    tx: &mut AsyncPgConnection,
    purchase: Option<&TransactionRow>,
    pi: &PaymentIntentId,
    reason: &str,
) -> Result<PaymentOutcome, Stop> {
    match dispute_of(tx, pi).await? {
        Some((status, _, _)) if status == DISPUTE_WON => return Ok(PaymentOutcome::NothingToDo),
        Some((_, _, Some(_))) => return Ok(PaymentOutcome::AlreadyApplied),
        Some((_, _, None)) | None => {}
    }
    let Some(purchase) = purchase else {
        // Stripe may deliver the dispute first: remembered for the credit.
        diesel::insert_into(payment_disputes::table)
            .values((
                payment_disputes::payment_intent_id.eq(pi.as_str()),
                payment_disputes::status.eq(DISPUTE_OPEN),
                payment_disputes::reason.eq(reason),
            ))
            .on_conflict_do_nothing()
            .execute(tx)
            .await?;
        return Ok(PaymentOutcome::NothingToDo);
    };
    outcome_of(apply_dispute(tx, purchase, pi, reason, 0).await?)
}

/// The row another call wrote first, as `Recorded::Duplicate`.
fn duplicate(row: Option<TransactionRow>) -> Result<Recorded, CreditError> {
    let row = row
        .ok_or_else(|| CreditError::Unexpected("the duplicate ledger row was not found".into()))?;
    Ok(Recorded::Duplicate(entry(row)?))
}

#[async_trait]
impl Ledger for PgLedger {
    #[tracing::instrument(skip_all, fields(user_id = %request.user))]
    async fn credit(&self, request: &CreditRequest) -> Result<Recorded, CreditError> {
        if request.amount.is_zero() {
            return Err(CreditError::EmptyCredit);
        }
        let mut conn = self.db.conn().await.map_err(DbError::from)?;
        let key = request.idempotency_key.as_str();
        if let Some(row) = find_by_key(&mut conn, key).await.map_err(DbError::from)? {
            return Ok(Recorded::Duplicate(entry(row)?));
        }
        let kind = EntryKind::from(request.kind);
        let written = conn
            .transaction::<_, Stop, _>(async |tx| {
                let user = request.user.as_uuid();
                let after = add_tokens(tx, user, request.amount.get()).await?;
                // A concurrent call with the same key waits here for the first
                // one to commit, then inserts nothing and rolls back its UPDATE.
                insert_once(
                    tx,
                    &NewTransactionRow {
                        id: Uuid::now_v7(),
                        user_id: user,
                        transaction_type: kind.as_str(),
                        amount: request.amount.get(),
                        balance_after: after,
                        stripe_payment_intent_id: None,
                        idempotency_key: Some(key),
                        service_type: None,
                        domain_id: None,
                        refunds_transaction_id: None,
                        metadata: &request.metadata,
                    },
                )
                .await
            })
            .await;
        match written {
            Ok(row) => Ok(Recorded::Applied(entry(row)?)),
            Err(Stop::Duplicate) => {
                duplicate(find_by_key(&mut conn, key).await.map_err(DbError::from)?)
            }
            Err(stop) => Err(stop.into()),
        }
    }

    #[tracing::instrument(skip_all, fields(user_id = %credit.user, payment_intent = %credit.payment_intent_id))]
    async fn credit_purchase(
        &self,
        credit: &PurchaseCredit,
    ) -> Result<PaymentOutcome, PurchaseCreditError> {
        if credit.tokens.is_zero() {
            return Err(PurchaseCreditError::EmptyCredit);
        }
        let mut conn = self.db.conn().await.map_err(DbError::from)?;
        let key = IdempotencyKey::for_payment(&credit.payment_intent_id);
        let outcome = conn
            .transaction::<_, Stop, _>(async |tx| {
                lock_payment(tx, &credit.payment_intent_id).await?;
                if let Some(event_id) = &credit.event_id
                    && !record_event(tx, event_id, EVENT_CREDITED).await?
                {
                    return Ok(PaymentOutcome::DuplicateEvent);
                }
                // In a savepoint: when the payment was credited already (under
                // another event), the balance change is undone but the event
                // stays recorded.
                let credited = tx
                    .transaction::<_, Stop, _>(async |sp| {
                        let user = credit.user.as_uuid();
                        let after = add_tokens(sp, user, credit.tokens.get()).await?;
                        insert_once(
                            sp,
                            &NewTransactionRow {
                                id: Uuid::now_v7(),
                                user_id: user,
                                transaction_type: EntryKind::Purchase.as_str(),
                                amount: credit.tokens.get(),
                                balance_after: after,
                                stripe_payment_intent_id: Some(credit.payment_intent_id.as_str()),
                                idempotency_key: Some(key.as_str()),
                                service_type: None,
                                domain_id: None,
                                refunds_transaction_id: None,
                                metadata: &credit.metadata,
                            },
                        )
                        .await
                    })
                    .await;
                let row = match credited {
                    Ok(row) => row,
                    Err(Stop::Duplicate) => return Ok(PaymentOutcome::AlreadyApplied),
                    Err(Stop::UserNotFound) => {
                        // The buyer is gone: recorded once with the event, so
                        // a redelivery finds it handled instead of failing again.
                        let first = record_orphan(tx, credit).await?;
                        return Ok(PaymentOutcome::Orphaned { first });
                    }
                    Err(stop) => return Err(stop),
                };
                // A refund or dispute came first: the credit is taken back in
                // this same transaction, so the tokens are never spendable.
                let pi = &credit.payment_intent_id;
                let refund = pending_reversal(tx, pi).await?;
                let refunded_due = refund
                    .as_ref()
                    .map_or(0, |(_, share)| tokens_due(*share, row.amount));
                let dispute = dispute_of(tx, pi).await?;
                let taken = match (&dispute, &refund) {
                    // Open and not applied yet (no credit until now).
                    (Some((status, reason, None)), _) if status == DISPUTE_OPEN => {
                        apply_dispute(tx, &row, pi, reason, refunded_due).await?
                    }
                    (_, Some((reason, share))) => {
                        take_back(tx, &row, pi, reason, refunded_due, refunded_due, *share)
                            .await?
                            .0
                    }
                    // No refund, and no dispute or one won already.
                    (_, None) => {
                        return Ok(PaymentOutcome::Applied(entry(row).map_err(Stop::from)?));
                    }
                };
                let reversal = match taken {
                    Taken::Row(reversal) => Some(entry(reversal).map_err(Stop::from)?),
                    Taken::Before | Taken::Nothing => None,
                };
                Ok(PaymentOutcome::AppliedThenReversed {
                    credit: entry(row).map_err(Stop::from)?,
                    reversal,
                })
            })
            .await?;
        Ok(outcome)
    }

    /// Takes back what the reversal makes due (all of the purchase, or a
    /// partial refund's pro-rata share) beyond what earlier reversals of the
    /// payment made due, at most the balance, with a `reversal` row; the running
    /// total is kept in `purchase_reversals` (one row per payment).
    ///
    /// - Payment not credited yet: the reversal is remembered in
    ///   `pending_reversals` and the event recorded (`NothingToDo`); the credit,
    ///   when it arrives, is applied and taken back in one transaction.
    /// - Balance 0 (every token due already spent): no ledger row can be
    ///   written (a reversal's amount must be negative), so the outcome is
    ///   `NothingToDo`; what is due is still remembered (the shortfall grows)
    ///   and the event recorded, so a later refund or dispute of the same
    ///   payment takes only what is due on top instead of taking tokens the
    ///   user bought afterwards.
    /// - A dispute is applied once (`payment_disputes`), remembered for the
    ///   credit like a refund, and takes nothing once the dispute was won.
    #[tracing::instrument(skip_all, fields(payment_intent = %reversal.payment_intent_id))]
    async fn reverse_purchase(
        &self,
        reversal: &PurchaseReversal,
    ) -> Result<PaymentOutcome, ReversalError> {
        let mut conn = self.db.conn().await.map_err(DbError::from)?;
        let pi = &reversal.payment_intent_id;
        let purchase_key = IdempotencyKey::for_payment(pi);
        let outcome = conn
            .transaction::<_, Stop, _>(async |tx| {
                lock_payment(tx, pi).await?;
                if let Some(event_id) = &reversal.event_id
                    && !record_event(tx, event_id, EVENT_REVERSED).await?
                {
                    return Ok(PaymentOutcome::DuplicateEvent);
                }
                let purchase = find_by_key(tx, purchase_key.as_str()).await?;
                if reversal.cause == ReversalCause::Dispute {
                    return dispute(tx, purchase.as_ref(), pi, &reversal.reason).await;
                }
                let Some(purchase) = purchase else {
                    // Stripe may deliver the refund first: remember it for the
                    // credit (the largest share wins).
                    remember_reversal(tx, reversal).await?;
                    return Ok(PaymentOutcome::NothingToDo);
                };
                let due = tokens_due(reversal.share, purchase.amount);
                let (taken, _) = take_back(
                    tx,
                    &purchase,
                    pi,
                    &reversal.reason,
                    due,
                    due,
                    reversal.share,
                )
                .await?;
                outcome_of(taken)
            })
            .await;
        outcome.map_err(ReversalError::from)
    }

    /// Gives back what the payment's dispute took (see [`give_back`]), once.
    /// A won outcome that arrives before the dispute or before the credit is
    /// remembered: the dispute then takes nothing.
    #[tracing::instrument(skip_all, fields(payment_intent = %won.payment_intent_id))]
    async fn restore_disputed(&self, won: &DisputeWon) -> Result<PaymentOutcome, RestoreError> {
        let mut conn = self.db.conn().await.map_err(DbError::from)?;
        let pi = &won.payment_intent_id;
        let outcome = conn
            .transaction::<_, Stop, _>(async |tx| {
                lock_payment(tx, pi).await?;
                if let Some(event_id) = &won.event_id
                    && !record_event(tx, event_id, EVENT_RESTORED).await?
                {
                    return Ok(PaymentOutcome::DuplicateEvent);
                }
                let applied = match dispute_of(tx, pi).await? {
                    Some((status, _, _)) if status == DISPUTE_WON => {
                        return Ok(PaymentOutcome::AlreadyApplied);
                    }
                    Some((_, _, applied)) => applied,
                    None => None,
                };
                let row = match applied {
                    Some(took) => give_back(tx, pi, took).await?,
                    None => None,
                };
                diesel::insert_into(payment_disputes::table)
                    .values((
                        payment_disputes::payment_intent_id.eq(pi.as_str()),
                        payment_disputes::status.eq(DISPUTE_WON),
                    ))
                    .on_conflict(payment_disputes::payment_intent_id)
                    .do_update()
                    .set((
                        payment_disputes::status.eq(DISPUTE_WON),
                        payment_disputes::restored
                            .eq(applied.map(|_| row.as_ref().map_or(0, |r| r.amount))),
                        payment_disputes::transaction_id.eq(row.as_ref().map(|r| r.id)),
                        payment_disputes::updated_at.eq(diesel::dsl::now),
                    ))
                    .execute(tx)
                    .await?;
                Ok(match row {
                    Some(row) => PaymentOutcome::Applied(entry(row).map_err(Stop::from)?),
                    None => PaymentOutcome::NothingToDo,
                })
            })
            .await;
        outcome.map_err(RestoreError::from)
    }

    async fn balance(&self, user: UserId) -> Result<Tokens, BalanceError> {
        let mut conn = self.db.conn().await.map_err(DbError::from)?;
        let tokens = users::table
            .find(user.as_uuid())
            .select(users::tokens)
            .first::<i32>(&mut conn)
            .await
            .optional()
            .map_err(DbError::from)?
            .ok_or(BalanceError::UserNotFound)?;
        Tokens::new(tokens.into()).map_err(|e| BalanceError::Unexpected(e.into()))
    }

    async fn history(
        &self,
        user: UserId,
        page: PageRequest,
    ) -> Result<Page<LedgerEntry>, HistoryError> {
        let filter = LedgerFilter {
            user: Some(user),
            ..LedgerFilter::default()
        };
        self.entries(&filter, page).await
    }

    async fn entries(
        &self,
        filter: &LedgerFilter,
        page: PageRequest,
    ) -> Result<Page<LedgerEntry>, HistoryError> {
        let mut conn = self.db.conn().await.map_err(DbError::from)?;
        let limit = usize::from(page.limit.get());
        let mut query = transactions::table
            .select(TransactionRow::as_select())
            .order((transactions::created_at.desc(), transactions::id.desc()))
            // One more than asked for tells whether another page follows.
            .limit(i64::from(page.limit.get()) + 1)
            .into_boxed();
        if let Some(user) = filter.user {
            query = query.filter(transactions::user_id.eq(user.as_uuid()));
        }
        if let Some(kind) = filter.kind {
            query = query.filter(transactions::transaction_type.eq(kind.as_str()));
        }
        if let Some(service) = filter.service {
            query = query.filter(transactions::service_type.eq(service.as_str()));
        }
        if let Some(start) = filter.period.starts_at() {
            query = query.filter(transactions::created_at.ge(start));
        }
        if let Some(end) = filter.period.ends_before() {
            query = query.filter(transactions::created_at.lt(end));
        }
        if let Some(after) = page.after {
            query = query.filter(
                transactions::created_at
                    .lt(after.created_at)
                    .or(transactions::created_at
                        .eq(after.created_at)
                        .and(transactions::id.lt(after.id))),
            );
        }
        let mut rows = query.load(&mut conn).await.map_err(DbError::from)?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let items = rows.into_iter().map(entry).collect::<Result<Vec<_>, _>>()?;
        let next_cursor = match items.last() {
            Some(last) if more => Some(
                Cursor {
                    created_at: last.created_at,
                    id: last.id.as_uuid(),
                }
                .encode(),
            ),
            _ => None,
        };
        Ok(Page { items, next_cursor })
    }

    async fn daily_spend(
        &self,
        user: UserId,
        since: NaiveDate,
    ) -> Result<Vec<DailySpend>, HistoryError> {
        let mut conn = self.db.conn().await.map_err(DbError::from)?;
        let rows = diesel::sql_query(
            "SELECT (created_at AT TIME ZONE 'UTC')::date AS day, service_type, domain_id, \
                    -SUM(amount)::bigint AS tokens \
               FROM transactions \
              WHERE user_id = $1 AND transaction_type IN ('consumption', 'refund') \
                AND service_type IS NOT NULL AND created_at >= $2::date::timestamp AT TIME ZONE 'UTC' \
              GROUP BY 1, 2, 3 \
             HAVING SUM(amount) <> 0 \
              ORDER BY 1, 2, 3",
        )
        .bind::<diesel::sql_types::Uuid, _>(user.as_uuid())
        .bind::<diesel::sql_types::Date, _>(since)
        .load::<SpendRow>(&mut conn)
        .await
        .map_err(DbError::from)?;
        rows.into_iter()
            .map(|row| {
                let service = row
                    .service_type
                    .parse()
                    .map_err(corrupt("transactions", "service_type"))?;
                Ok(DailySpend {
                    day: row.day,
                    service,
                    domain: row.domain_id.map(DomainId::from_uuid),
                    tokens: row.tokens,
                })
            })
            .collect::<Result<Vec<_>, DbError>>()
            .map_err(HistoryError::from)
    }
}

/// One day's spending on one service and domain, as `daily_spend` reads it.
#[derive(QueryableByName)]
struct SpendRow {
    #[diesel(sql_type = diesel::sql_types::Date)]
    day: NaiveDate,
    #[diesel(sql_type = Text)]
    service_type: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Uuid>)]
    domain_id: Option<Uuid>,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    tokens: i64,
}
