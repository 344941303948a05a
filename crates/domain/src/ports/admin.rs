use async_trait::async_trait;

use crate::audit::{AuditFilter, AuditReason, AuditRecord, AuditStamp, NewAuditRecord};
use crate::ledger::{CreditKind, IdempotencyKey, Recorded};
use crate::page::{Page, PageRequest};
use crate::user::{Role, User};
use crate::{BoxError, StoreError, UserId};

/// A user as an admin sees them: never their messages, only how many
/// conversations they keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserOverview {
    pub user: User,
    pub conversations: i64,
}

/// Tokens an admin gives (`Grant`, positive) or corrects (`Adjustment`, either sign).
#[derive(Debug, Clone, PartialEq)]
pub struct AdminCredit {
    pub user: UserId,
    pub kind: CreditKind,
    /// Never 0; negative only for an adjustment.
    pub amount: i32,
    pub idempotency_key: IdempotencyKey,
    pub reason: AuditReason,
    pub stamp: AuditStamp,
}

/// Why [`AdminStore::credit`] wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum AdminCreditError {
    #[error("user not found")]
    UserNotFound,
    /// Taking this many would leave less than zero.
    #[error("the balance ({balance}) cannot go below zero")]
    BelowZero { balance: i32 },
    #[error("the balance would exceed the maximum")]
    Overflow,
    #[error("ledger unavailable")]
    Unavailable(#[source] BoxError),
    #[error("unexpected ledger error")]
    Unexpected(#[source] BoxError),
}

/// What switching an account on or off, or changing a role, did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountChange {
    /// Changed (and audited): the user as they are now.
    Changed(User),
    /// Already so: nothing written.
    Unchanged(User),
    NotFound,
}

/// Reads and changes of accounts by admins. Every change is written together
/// with its audit record, in one database transaction.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AdminStore: Send + Sync {
    /// Users by most recent sign-in first (those who never signed in by when
    /// they were created), optionally only those whose e-mail or name
    /// contains `search` (any case).
    async fn users(
        &self,
        search: Option<String>,
        page: PageRequest,
    ) -> Result<Page<User>, StoreError>;

    /// `Ok(None)` when there is no such user.
    async fn user(&self, id: UserId) -> Result<Option<UserOverview>, StoreError>;

    /// Writes the ledger row (metadata: the admin's id and the reason) and its
    /// audit record, once per idempotency key: a repeat MUST return
    /// `Recorded::Duplicate` with the original row and change nothing. MUST
    /// return `BelowZero` with the balance when the balance would fall below
    /// zero, and `UserNotFound` for an unknown user.
    async fn credit(&self, credit: &AdminCredit) -> Result<Recorded, AdminCreditError>;

    /// Disables (`disabled`) or enables the account. Disabling MUST revoke
    /// every session of the user in the same transaction.
    async fn set_disabled(
        &self,
        user: UserId,
        disabled: bool,
        reason: Option<AuditReason>,
        stamp: &AuditStamp,
    ) -> Result<AccountChange, StoreError>;

    /// Sets the role an admin decides (the role then stays across sign-ins).
    /// A demotion MUST revoke the user's sessions in the same transaction, so
    /// no access token keeps the admin role.
    async fn set_role(
        &self,
        user: UserId,
        role: Role,
        stamp: &AuditStamp,
    ) -> Result<AccountChange, StoreError>;

    /// Records an admin action made elsewhere (domains).
    async fn record(&self, record: &NewAuditRecord, stamp: &AuditStamp) -> Result<(), StoreError>;

    /// Audit records, newest first.
    async fn audit(
        &self,
        filter: AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditRecord>, StoreError>;
}
