//! What admins do with accounts: find users, read their ledger, give or take
//! tokens, switch accounts off and on, change roles, and read the audit log.
//!
//! Every change is written with its audit record in one transaction (the
//! [`AdminStore`] port's rule); ledger history is never edited or deleted.

use std::sync::Arc;

use tracing::instrument;

use crate::audit::{AuditFilter, AuditReason, AuditReasonError, AuditRecord, AuditStamp};
use crate::ledger::{CreditKind, IdempotencyKey, LedgerEntry, Recorded};
use crate::page::{Page, PageRequest};
use crate::ports::{
    AccountChange, AdminCredit, AdminCreditError, AdminStore, HistoryError, Ledger, UserOverview,
};
use crate::services::account::AdminPolicy;
use crate::user::{Actor, Role, User};
use crate::{BoxError, StoreError, UserId};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("only admins may do this")]
    Forbidden,
    #[error("user not found")]
    UserNotFound,
    #[error(transparent)]
    InvalidReason(#[from] AuditReasonError),
    /// A grant must add tokens; an adjustment must change the balance.
    #[error("{0}")]
    InvalidAmount(&'static str),
    #[error("the search must be at most 254 characters")]
    InvalidSearch,
    /// An adjustment would take the balance below zero: nothing written.
    #[error("the balance ({balance}) cannot go below zero")]
    BelowZero { balance: i32 },
    #[error("the balance would exceed the maximum")]
    Overflow,
    /// The Idempotency-Key was used for a different grant or adjustment.
    #[error("this Idempotency-Key was used with a different request")]
    IdempotencyMismatch,
    #[error("the Idempotency-Key must be at most {max} characters", max = AdminService::MAX_KEY_LEN)]
    IdempotencyKeyTooLong,
    /// The role comes from the sign-in (ADMIN_EMAILS, ADMIN_OBJECT_IDS, the
    /// Entra app role): changing it here would be undone at the next one.
    #[error("this user's role comes from the sign-in configuration and cannot be changed here")]
    RoleFromSignIn,
    /// An admin cannot disable or demote themselves (nobody might be left).
    #[error("admins cannot disable or demote themselves")]
    OwnAccount,
    #[error("service unavailable")]
    Unavailable(#[source] BoxError),
    #[error("unexpected error")]
    Unexpected(#[source] BoxError),
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(src) => Self::Unavailable(src),
            StoreError::Conflict(_) | StoreError::Unexpected(_) => Self::Unexpected(Box::new(e)),
        }
    }
}

impl From<HistoryError> for AdminError {
    fn from(e: HistoryError) -> Self {
        match e {
            HistoryError::Unavailable(src) => Self::Unavailable(src),
            other @ HistoryError::Unexpected(_) => Self::Unexpected(Box::new(other)),
        }
    }
}

impl From<AdminCreditError> for AdminError {
    fn from(e: AdminCreditError) -> Self {
        match e {
            AdminCreditError::UserNotFound => Self::UserNotFound,
            AdminCreditError::BelowZero { balance } => Self::BelowZero { balance },
            AdminCreditError::Overflow => Self::Overflow,
            AdminCreditError::Unavailable(src) => Self::Unavailable(src),
            AdminCreditError::Unexpected(src) => Self::Unexpected(src),
        }
    }
}

/// A grant or adjustment as an admin submits it, before validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditInput {
    pub kind: CreditKind,
    pub amount: i64,
    pub reason: String,
}

/// The longest search accepted: the longest e-mail address.
const MAX_SEARCH_CHARS: usize = 254;

pub struct AdminService {
    store: Arc<dyn AdminStore>,
    ledger: Arc<dyn Ledger>,
    admins: AdminPolicy,
}

impl AdminService {
    /// The longest Idempotency-Key a grant or adjustment takes: the ledger
    /// key adds the admin's id to it.
    pub const MAX_KEY_LEN: usize = 200;

    /// `admins` says whose role the sign-in decides (not editable here).
    pub fn new(store: Arc<dyn AdminStore>, ledger: Arc<dyn Ledger>, admins: AdminPolicy) -> Self {
        Self {
            store,
            ledger,
            admins,
        }
    }

    fn require_admin(actor: &Actor) -> Result<(), AdminError> {
        if actor.is_admin() {
            Ok(())
        } else {
            Err(AdminError::Forbidden)
        }
    }

    /// Whether the sign-in decides `user`'s role, so admins cannot change it.
    #[must_use]
    pub fn role_from_sign_in(&self, user: &User) -> bool {
        (user.role_from_sign_in && user.role.is_admin())
            || self.admins.emails.contains(&user.email)
            || self.admins.is_admin_object(user.external_id.as_str())
    }

    /// Users, most recent sign-in first; `search` matches e-mail or name.
    pub async fn users(
        &self,
        actor: &Actor,
        search: Option<&str>,
        page: PageRequest,
    ) -> Result<Page<User>, AdminError> {
        Self::require_admin(actor)?;
        let search = search.map(str::trim).filter(|s| !s.is_empty());
        if search.is_some_and(|s| s.chars().count() > MAX_SEARCH_CHARS || s.contains('\0')) {
            return Err(AdminError::InvalidSearch);
        }
        Ok(self.store.users(search.map(str::to_owned), page).await?)
    }

    /// A user's profile, balance and number of conversations.
    pub async fn user(&self, actor: &Actor, id: UserId) -> Result<UserOverview, AdminError> {
        Self::require_admin(actor)?;
        self.store.user(id).await?.ok_or(AdminError::UserNotFound)
    }

    /// A user's ledger, newest first, as they see it themselves.
    pub async fn ledger(
        &self,
        actor: &Actor,
        id: UserId,
        page: PageRequest,
    ) -> Result<Page<LedgerEntry>, AdminError> {
        self.user(actor, id).await?;
        Ok(self.ledger.history(id, page).await?)
    }

    /// Gives (grant) or corrects (adjustment) tokens with a reason, once per
    /// `key`: a repeat answers the first row, a different request under the
    /// same key is refused.
    #[instrument(skip_all, fields(admin = %stamp.actor, user = %user))]
    pub async fn credit(
        &self,
        actor: &Actor,
        stamp: AuditStamp,
        user: UserId,
        input: CreditInput,
        key: &IdempotencyKey,
    ) -> Result<Recorded, AdminError> {
        Self::require_admin(actor)?;
        let reason = AuditReason::parse(&input.reason)?;
        let amount = i32::try_from(input.amount)
            .map_err(|_| AdminError::InvalidAmount("amount is out of range"))?;
        match input.kind {
            CreditKind::Grant if amount <= 0 => {
                return Err(AdminError::InvalidAmount(
                    "a grant must be at least 1 token",
                ));
            }
            CreditKind::Adjustment if amount == 0 => {
                return Err(AdminError::InvalidAmount("an adjustment cannot be 0"));
            }
            CreditKind::Grant | CreditKind::Adjustment => {}
        }
        if key.as_str().len() > Self::MAX_KEY_LEN {
            return Err(AdminError::IdempotencyKeyTooLong);
        }
        // Keys are the admin's own: two admins cannot collide.
        let ledger_key = IdempotencyKey::parse(&format!("admin:{}:{key}", stamp.actor))
            .map_err(|_| AdminError::IdempotencyKeyTooLong)?;
        let credit = AdminCredit {
            user,
            kind: input.kind,
            amount,
            idempotency_key: ledger_key,
            reason,
            stamp,
        };
        let recorded = self.store.credit(&credit).await?;
        if let Recorded::Duplicate(entry) = &recorded
            && !same_credit(entry, &credit)
        {
            return Err(AdminError::IdempotencyMismatch);
        }
        Ok(recorded)
    }

    /// Disables the account: its sessions end at once, chats, purchases and
    /// sign-ins are refused; tokens and history stay.
    #[instrument(skip_all, fields(admin = %stamp.actor, user = %user))]
    pub async fn disable(
        &self,
        actor: &Actor,
        stamp: AuditStamp,
        user: UserId,
        reason: Option<&str>,
    ) -> Result<AccountChange, AdminError> {
        Self::require_admin(actor)?;
        if user == actor.user {
            return Err(AdminError::OwnAccount);
        }
        let reason = reason.map(AuditReason::parse).transpose()?;
        Self::found(self.store.set_disabled(user, true, reason, &stamp).await?)
    }

    #[instrument(skip_all, fields(admin = %stamp.actor, user = %user))]
    pub async fn enable(
        &self,
        actor: &Actor,
        stamp: AuditStamp,
        user: UserId,
        reason: Option<&str>,
    ) -> Result<AccountChange, AdminError> {
        Self::require_admin(actor)?;
        let reason = reason.map(AuditReason::parse).transpose()?;
        Self::found(self.store.set_disabled(user, false, reason, &stamp).await?)
    }

    /// Makes the user an admin or takes the role away, unless the sign-in
    /// decides their role.
    #[instrument(skip_all, fields(admin = %stamp.actor, user = %user, role = %role))]
    pub async fn set_role(
        &self,
        actor: &Actor,
        stamp: AuditStamp,
        user: UserId,
        role: Role,
    ) -> Result<AccountChange, AdminError> {
        Self::require_admin(actor)?;
        if user == actor.user {
            return Err(AdminError::OwnAccount);
        }
        let target = self
            .store
            .user(user)
            .await?
            .ok_or(AdminError::UserNotFound)?;
        if self.role_from_sign_in(&target.user) {
            return Err(AdminError::RoleFromSignIn);
        }
        Self::found(self.store.set_role(user, role, &stamp).await?)
    }

    /// The audit log, newest first.
    pub async fn audit(
        &self,
        actor: &Actor,
        filter: AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditRecord>, AdminError> {
        Self::require_admin(actor)?;
        Ok(self.store.audit(filter, page).await?)
    }

    fn found(change: AccountChange) -> Result<AccountChange, AdminError> {
        match change {
            AccountChange::NotFound => Err(AdminError::UserNotFound),
            done @ (AccountChange::Changed(_) | AccountChange::Unchanged(_)) => Ok(done),
        }
    }
}

/// Whether the row an earlier call wrote under the key is this same credit.
fn same_credit(entry: &LedgerEntry, credit: &AdminCredit) -> bool {
    entry.user_id == credit.user
        && entry.amount == credit.amount
        && entry.kind == credit.kind.into()
        && entry.metadata.get("reason").and_then(|r| r.as_str()) == Some(credit.reason.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{MockAdminStore, MockLedger};

    fn service(store: MockAdminStore) -> AdminService {
        AdminService::new(
            Arc::new(store),
            Arc::new(MockLedger::new()),
            AdminPolicy::default(),
        )
    }

    fn admin() -> Actor {
        Actor {
            user: UserId::generate(),
            role: Role::Admin,
        }
    }

    fn stamp(actor: &Actor) -> AuditStamp {
        AuditStamp {
            actor: actor.user,
            request_id: None,
        }
    }

    fn key() -> IdempotencyKey {
        IdempotencyKey::parse("k1").unwrap()
    }

    #[tokio::test]
    async fn a_credit_without_a_reason_or_with_a_wrong_sign_writes_nothing() {
        let mut store = MockAdminStore::new();
        store.expect_credit().never();
        let svc = service(store);
        let admin = admin();
        let cases = [
            (CreditKind::Grant, 5, " "),
            (CreditKind::Grant, -5, "why"),
            (CreditKind::Grant, 0, "why"),
            (CreditKind::Adjustment, 0, "why"),
            (CreditKind::Adjustment, i64::from(i32::MAX) + 1, "why"),
        ];
        for (kind, amount, reason) in cases {
            let input = CreditInput {
                kind,
                amount,
                reason: reason.into(),
            };
            let result = svc
                .credit(&admin, stamp(&admin), UserId::generate(), input, &key())
                .await;
            assert!(
                matches!(
                    result,
                    Err(AdminError::InvalidReason(_) | AdminError::InvalidAmount(_))
                ),
                "{kind:?} {amount} {reason:?}: {result:?}"
            );
        }
    }

    #[tokio::test]
    async fn non_admins_reach_nothing() {
        let mut store = MockAdminStore::new();
        store.expect_users().never();
        store.expect_set_disabled().never();
        let svc = service(store);
        let user = Actor {
            user: UserId::generate(),
            role: Role::User,
        };
        assert!(matches!(
            svc.users(&user, None, PageRequest::default()).await,
            Err(AdminError::Forbidden)
        ));
        assert!(matches!(
            svc.disable(&user, stamp(&user), UserId::generate(), None)
                .await,
            Err(AdminError::Forbidden)
        ));
    }

    #[tokio::test]
    async fn an_admin_cannot_disable_or_demote_themselves() {
        let mut store = MockAdminStore::new();
        store.expect_set_disabled().never();
        store.expect_set_role().never();
        let svc = service(store);
        let admin = admin();
        assert!(matches!(
            svc.disable(&admin, stamp(&admin), admin.user, None).await,
            Err(AdminError::OwnAccount)
        ));
        assert!(matches!(
            svc.set_role(&admin, stamp(&admin), admin.user, Role::User)
                .await,
            Err(AdminError::OwnAccount)
        ));
    }
}
