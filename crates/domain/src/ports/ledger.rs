use async_trait::async_trait;

use crate::ledger::{
    CreditRequest, DisputeWon, LedgerEntry, PaymentOutcome, PurchaseCredit, PurchaseReversal,
    Recorded,
};
use crate::page::{Page, PageRequest};
use crate::{BoxError, Tokens, UserId};

/// Why a ledger operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
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
    async fn credit(&self, request: &CreditRequest) -> Result<Recorded, LedgerError>;

    /// Credits a paid purchase once per payment intent. The event id (when given)
    /// is recorded in the same transaction: an event seen before MUST return
    /// `DuplicateEvent`; a payment already credited under another event MUST
    /// return `AlreadyApplied`.
    async fn credit_purchase(&self, credit: &PurchaseCredit)
    -> Result<PaymentOutcome, LedgerError>;

    /// Takes back the unspent tokens of a credited purchase with a `reversal`
    /// row (never below zero; the shortfall goes in metadata). At most once per
    /// payment (`AlreadyApplied` afterwards); `NothingToDo` when the payment was
    /// never credited; `DuplicateEvent` for an event seen before.
    async fn reverse_purchase(
        &self,
        reversal: &PurchaseReversal,
    ) -> Result<PaymentOutcome, LedgerError>;

    /// Gives back what the payment's dispute took, with an `adjustment` row,
    /// once: the refunds' share of the payment stays taken. `Applied` with the
    /// row; `NothingToDo` when the dispute took nothing or was not applied yet
    /// (the outcome is remembered: a later dispute or credit then takes
    /// nothing for it); `AlreadyApplied` when the dispute was won before;
    /// `DuplicateEvent` for an event seen before.
    async fn restore_disputed(&self, won: &DisputeWon) -> Result<PaymentOutcome, LedgerError>;

    /// The current balance. MUST return `UserNotFound` for an unknown user.
    async fn balance(&self, user: UserId) -> Result<Tokens, LedgerError>;

    /// The user's rows, newest first.
    async fn history(
        &self,
        user: UserId,
        page: PageRequest,
    ) -> Result<Page<LedgerEntry>, LedgerError>;
}
