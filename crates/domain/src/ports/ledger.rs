use async_trait::async_trait;

use crate::ledger::{
    CreditRequest, DisputeWon, LedgerEntry, PaymentOutcome, PurchaseCredit, PurchaseReversal,
    Recorded,
};
use crate::page::{Page, PageRequest};
use crate::usage::{DailySpend, LedgerFilter};
use crate::{BoxError, Tokens, UserId};
use chrono::NaiveDate;

/// Why [`Ledger::credit`] did not add the tokens.
#[derive(Debug, thiserror::Error)]
pub enum CreditError {
    #[error("user not found")]
    UserNotFound,
    #[error("a credit must be at least one token")]
    EmptyCredit,
    #[error("the balance would exceed the maximum")]
    Overflow,
    #[error("ledger unavailable")]
    Unavailable(#[source] BoxError),
    #[error("unexpected ledger error")]
    Unexpected(#[source] BoxError),
}

/// Why [`Ledger::credit_purchase`] did not decide. A buyer who no longer
/// exists is an outcome ([`PaymentOutcome::Orphaned`]), not an error.
#[derive(Debug, thiserror::Error)]
pub enum PurchaseCreditError {
    #[error("a credit must be at least one token")]
    EmptyCredit,
    #[error("the balance would exceed the maximum")]
    Overflow,
    #[error("ledger unavailable")]
    Unavailable(#[source] BoxError),
    #[error("unexpected ledger error")]
    Unexpected(#[source] BoxError),
}

/// Why [`Ledger::reverse_purchase`] did not decide. Taking back never adds
/// tokens, so it cannot overflow.
#[derive(Debug, thiserror::Error)]
pub enum ReversalError {
    #[error("ledger unavailable")]
    Unavailable(#[source] BoxError),
    #[error("unexpected ledger error")]
    Unexpected(#[source] BoxError),
}

/// Why [`Ledger::restore_disputed`] did not decide.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("the balance would exceed the maximum")]
    Overflow,
    #[error("ledger unavailable")]
    Unavailable(#[source] BoxError),
    #[error("unexpected ledger error")]
    Unexpected(#[source] BoxError),
}

/// Why [`Ledger::balance`] did not answer.
#[derive(Debug, thiserror::Error)]
pub enum BalanceError {
    #[error("user not found")]
    UserNotFound,
    #[error("ledger unavailable")]
    Unavailable(#[source] BoxError),
    #[error("unexpected ledger error")]
    Unexpected(#[source] BoxError),
}

/// Why [`Ledger::history`] did not answer.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("ledger unavailable")]
    Unavailable(#[source] BoxError),
    #[error("unexpected ledger error")]
    Unexpected(#[source] BoxError),
}

/// The token ledger. Every balance change and its ledger row happen in one
/// database transaction, and `balance = Σ amount`, `balance ≥ 0` always hold.
/// Chats spend and give back tokens through [`Charges`](super::Charges).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Ledger: Send + Sync {
    /// Adds tokens exactly once per idempotency key. A repeat with the same key
    /// MUST return `Recorded::Duplicate` with the original row and change nothing.
    /// MUST return `EmptyCredit` for an amount of 0 and `UserNotFound` for an
    /// unknown user.
    async fn credit(&self, request: &CreditRequest) -> Result<Recorded, CreditError>;

    /// Credits a paid purchase once per payment intent. The event id (when given)
    /// is recorded in the same transaction: an event seen before MUST return
    /// `DuplicateEvent`; a payment already credited under another event MUST
    /// return `AlreadyApplied`; a buyer who no longer exists MUST return
    /// `Orphaned`. MUST return `EmptyCredit` for 0 tokens and `Overflow` when
    /// the balance would pass its maximum.
    async fn credit_purchase(
        &self,
        credit: &PurchaseCredit,
    ) -> Result<PaymentOutcome, PurchaseCreditError>;

    /// Takes back the unspent tokens of a credited purchase with a `reversal`
    /// row (never below zero; the shortfall goes in metadata). At most once per
    /// payment (`AlreadyApplied` afterwards); `NothingToDo` when the payment was
    /// never credited; `DuplicateEvent` for an event seen before.
    async fn reverse_purchase(
        &self,
        reversal: &PurchaseReversal,
    ) -> Result<PaymentOutcome, ReversalError>;

    /// Gives back what the payment's dispute took, with an `adjustment` row,
    /// once: the refunds' share of the payment stays taken. `Applied` with the
    /// row; `NothingToDo` when the dispute took nothing or was not applied yet
    /// (the outcome is remembered: a later dispute or credit then takes
    /// nothing for it); `AlreadyApplied` when the dispute was won before;
    /// `DuplicateEvent` for an event seen before. MUST return `Overflow` when
    /// the balance would pass its maximum.
    async fn restore_disputed(&self, won: &DisputeWon) -> Result<PaymentOutcome, RestoreError>;

    /// The current balance. MUST return `UserNotFound` for an unknown user.
    async fn balance(&self, user: UserId) -> Result<Tokens, BalanceError>;

    /// The user's rows, newest first.
    async fn history(
        &self,
        user: UserId,
        page: PageRequest,
    ) -> Result<Page<LedgerEntry>, HistoryError>;

    /// The rows `filter` lets through (of every user when it names none),
    /// newest first, one page at a time: exports read the whole ledger this
    /// way without holding it in memory.
    async fn entries(
        &self,
        filter: &LedgerFilter,
        page: PageRequest,
    ) -> Result<Page<LedgerEntry>, HistoryError>;

    /// What the user spent per UTC day from `since` on, per service and
    /// domain, oldest day first: consumptions less their refunds. Days
    /// without a chat are left out.
    async fn daily_spend(
        &self,
        user: UserId,
        since: NaiveDate,
    ) -> Result<Vec<DailySpend>, HistoryError>;
}
