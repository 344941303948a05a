//! Signing users in, and what they may read about their own account.

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use tracing::instrument;

use crate::cache::ExpiringCache;
use crate::ledger::{CreditKind, CreditRequest, IdempotencyKey, LedgerEntry, Recorded};
use crate::page::{Page, PageRequest};
use crate::ports::{
    BalanceError, Clock, CreditError, ExternalIdentity, HistoryError, Ledger, UserRepository,
};
use crate::usage::{DailySpend, LedgerFilter, UsageDays};
use crate::user::{Actor, ExternalId, Memberships, Role, SignIn, User, normalise_display_name};
use crate::{BoxError, Email, StoreError, Tokens, UserId};

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("user not found")]
    UserNotFound,
    /// The identity provider gave no usable e-mail address.
    #[error("the identity provider did not supply a usable e-mail address")]
    MissingEmail,
    #[error("the identity is not valid")]
    InvalidIdentity,
    /// The e-mail address belongs to another identity.
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("a grant must be at least one token")]
    EmptyGrant,
    /// Only admins read other people's rows.
    #[error("only admins may do this")]
    Forbidden,
    /// An admin disabled the account: no sign-in until it is enabled again.
    #[error("this account is disabled")]
    Disabled,
    #[error("service unavailable")]
    Unavailable(#[source] BoxError),
    #[error("unexpected error")]
    Unexpected(#[source] BoxError),
}

impl From<StoreError> for AccountError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => Self::Conflict(what),
            StoreError::Unavailable(src) => Self::Unavailable(src),
            StoreError::Unexpected(src) => Self::Unexpected(src),
        }
    }
}

impl From<CreditError> for AccountError {
    fn from(e: CreditError) -> Self {
        match e {
            CreditError::UserNotFound => Self::UserNotFound,
            CreditError::EmptyCredit => Self::EmptyGrant,
            CreditError::Unavailable(src) => Self::Unavailable(src),
            other @ (CreditError::Overflow | CreditError::Unexpected(_)) => {
                Self::Unexpected(Box::new(other))
            }
        }
    }
}

impl From<BalanceError> for AccountError {
    fn from(e: BalanceError) -> Self {
        match e {
            BalanceError::UserNotFound => Self::UserNotFound,
            BalanceError::Unavailable(src) => Self::Unavailable(src),
            other @ BalanceError::Unexpected(_) => Self::Unexpected(Box::new(other)),
        }
    }
}

impl From<HistoryError> for AccountError {
    fn from(e: HistoryError) -> Self {
        match e {
            HistoryError::Unavailable(src) => Self::Unavailable(src),
            other @ HistoryError::Unexpected(_) => Self::Unexpected(Box::new(other)),
        }
    }
}

/// Who becomes an admin at sign-in.
#[derive(Debug, Clone, Default)]
pub struct AdminPolicy {
    /// The app role (`roles` claim) that makes an admin, e.g. "Admin".
    pub role_name: String,
    /// Addresses that are always admins (`ADMIN_EMAILS`).
    pub emails: Vec<Email>,
    /// Entra ID object ids (`oid`) that are always admins (`ADMIN_OBJECT_IDS`),
    /// lowercase. Safer than an address: the object id cannot be edited by the
    /// user or reused by another account.
    pub object_ids: Vec<String>,
}

impl AdminPolicy {
    #[must_use]
    pub fn role_for(&self, email: &Email, roles: &[String]) -> Role {
        let by_role = !self.role_name.is_empty() && roles.iter().any(|r| r == &self.role_name);
        if by_role || self.emails.contains(email) {
            Role::Admin
        } else {
            Role::User
        }
    }

    /// Whether the identity provider's subject (the Entra `oid`) is in `ADMIN_OBJECT_IDS`.
    #[must_use]
    pub fn is_admin_object(&self, subject: &str) -> bool {
        self.object_ids
            .iter()
            .any(|id| id.eq_ignore_ascii_case(subject))
    }

    /// The role of a Microsoft sign-in or bearer token.
    fn role_of(&self, email: &Email, identity: &ExternalIdentity) -> Role {
        if self.is_admin_object(&identity.subject) {
            Role::Admin
        } else {
            self.role_for(email, &identity.roles)
        }
    }
}

/// How long a verified access token's identity maps to its user without
/// another upsert (profile and role changes carried by new tokens apply at
/// once: they are part of the key).
const BEARER_USER_TTL: Duration = Duration::from_secs(60);

/// How many access-token identities an instance remembers.
const BEARER_USER_CAPACITY: usize = 10_000;

/// What the user row depends on: a token with other claims upserts again.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct IdentityKey {
    subject: String,
    tenant: Option<String>,
    email: Option<String>,
    display_name: Option<String>,
    roles: Vec<String>,
    groups: Vec<String>,
}

impl From<&ExternalIdentity> for IdentityKey {
    fn from(identity: &ExternalIdentity) -> Self {
        let mut roles = identity.roles.clone();
        roles.sort_unstable();
        let mut groups = identity.groups.clone();
        groups.sort_unstable();
        Self {
            subject: identity.subject.clone(),
            tenant: identity.tenant.clone(),
            email: identity.email.as_ref().map(|e| e.as_str().to_owned()),
            display_name: identity.display_name.clone(),
            roles,
            groups,
        }
    }
}

pub struct AccountService {
    users: Arc<dyn UserRepository>,
    ledger: Arc<dyn Ledger>,
    clock: Arc<dyn Clock>,
    admins: AdminPolicy,
    trial: Tokens,
    bearer_users: ExpiringCache<IdentityKey, User>,
}

impl AccountService {
    pub fn new(
        users: Arc<dyn UserRepository>,
        ledger: Arc<dyn Ledger>,
        clock: Arc<dyn Clock>,
        admins: AdminPolicy,
    ) -> Self {
        Self {
            users,
            ledger,
            clock,
            admins,
            trial: Tokens::ZERO,
            bearer_users: ExpiringCache::new(BEARER_USER_CAPACITY, BEARER_USER_TTL),
        }
    }

    /// Gives every person `tokens` at their first sign-in (`TRIAL_TOKENS`),
    /// once per identity and per e-mail address.
    #[must_use]
    pub const fn with_trial(mut self, tokens: Tokens) -> Self {
        self.trial = tokens;
        self
    }

    /// Signs in a person the identity provider vouched for: creates the user
    /// with the trial tokens the first time, refreshes profile, role and
    /// `last_login` after.
    #[instrument(skip_all, fields(subject = %identity.subject))]
    pub async fn sign_in(&self, identity: &ExternalIdentity) -> Result<User, AccountError> {
        let email = identity.email.clone().ok_or(AccountError::MissingEmail)?;
        let external_id =
            ExternalId::parse(&identity.subject).map_err(|_| AccountError::InvalidIdentity)?;
        let role = self.admins.role_of(&email, identity);
        let memberships = Memberships::new(identity.roles.clone(), identity.groups.clone());
        self.upsert(
            external_id,
            email,
            identity.display_name.as_deref(),
            role,
            memberships,
        )
        .await
    }

    /// The user an access token's verified identity speaks for, signed in as
    /// [`sign_in`](Self::sign_in) does. Every request carries the token, so
    /// the same claims reuse the user for a minute instead of writing the row
    /// each time.
    pub async fn sign_in_bearer(&self, identity: &ExternalIdentity) -> Result<User, AccountError> {
        let key = IdentityKey::from(identity);
        if let Some(user) = self.bearer_users.get(&key, self.clock.now()) {
            return Ok(user);
        }
        let user = self.sign_in(identity).await?;
        self.bearer_users
            .insert(key, user.clone(), self.clock.now());
        Ok(user)
    }

    /// The development sign-in (`AUTH_DEV_LOGIN`): trusts the given address
    /// and app roles (`roles`, as a `roles` claim would carry them). `admin`
    /// asks for the admin role; `ADMIN_EMAILS` and the admin app role also
    /// grant it.
    #[instrument(skip_all)]
    pub async fn dev_sign_in(
        &self,
        email: Email,
        display_name: Option<&str>,
        admin: bool,
        roles: Vec<String>,
    ) -> Result<User, AccountError> {
        let role = if admin {
            Role::Admin
        } else {
            self.admins.role_for(&email, &roles)
        };
        let memberships = Memberships::new(roles, Vec::new());
        self.upsert(
            ExternalId::for_dev_login(&email),
            email,
            display_name,
            role,
            memberships,
        )
        .await
    }

    async fn upsert(
        &self,
        external_id: ExternalId,
        email: Email,
        display_name: Option<&str>,
        role: Role,
        memberships: Memberships,
    ) -> Result<User, AccountError> {
        let sign_in = SignIn {
            external_id,
            email,
            display_name: normalise_display_name(display_name),
            role,
            memberships,
            at: self.clock.now(),
            trial: self.trial,
        };
        let user = self.users.upsert_sign_in(&sign_in).await?;
        if user.is_disabled() {
            tracing::info!(user_id = %user.id, "refused the sign-in of a disabled account");
            return Err(AccountError::Disabled);
        }
        Ok(user)
    }

    /// The user behind a session being refreshed, with the role it has now:
    /// the role stored at the last sign-in (so a demotion recorded since takes
    /// effect) or admin when the address is in `ADMIN_EMAILS` or the object id
    /// in `ADMIN_OBJECT_IDS` today.
    pub async fn for_refresh(&self, user: UserId) -> Result<User, AccountError> {
        let mut user = self.profile(user).await?;
        if user.is_disabled() {
            return Err(AccountError::Disabled);
        }
        if self.admins.emails.contains(&user.email)
            || self.admins.is_admin_object(user.external_id.as_str())
        {
            user.role = Role::Admin;
        }
        Ok(user)
    }

    pub async fn profile(&self, user: UserId) -> Result<User, AccountError> {
        self.users
            .find(user)
            .await?
            .ok_or(AccountError::UserNotFound)
    }

    /// Whether an admin disabled the account (false for an unknown user).
    pub async fn is_disabled(&self, user: UserId) -> Result<bool, StoreError> {
        Ok(self
            .users
            .find(user)
            .await?
            .is_some_and(|u| u.is_disabled()))
    }

    pub async fn balance(&self, user: UserId) -> Result<Tokens, AccountError> {
        Ok(self.ledger.balance(user).await?)
    }

    pub async fn history(
        &self,
        user: UserId,
        page: PageRequest,
    ) -> Result<Page<LedgerEntry>, AccountError> {
        Ok(self.ledger.history(user, page).await?)
    }

    /// The user's own rows that `filter` lets through, newest first (its
    /// `user` is replaced by `user`).
    pub async fn transactions(
        &self,
        user: UserId,
        filter: LedgerFilter,
        page: PageRequest,
    ) -> Result<Page<LedgerEntry>, AccountError> {
        let own = LedgerFilter {
            user: Some(user),
            ..filter
        };
        Ok(self.ledger.entries(&own, page).await?)
    }

    /// Everyone's rows that `filter` lets through, newest first: admins only.
    pub async fn all_transactions(
        &self,
        actor: &Actor,
        filter: LedgerFilter,
        page: PageRequest,
    ) -> Result<Page<LedgerEntry>, AccountError> {
        if !actor.is_admin() {
            return Err(AccountError::Forbidden);
        }
        Ok(self.ledger.entries(&filter, page).await?)
    }

    /// What the user spent per day over the last `days` (today, UTC,
    /// included): the first day covered, and the days with spending.
    pub async fn daily_spend(
        &self,
        user: UserId,
        days: UsageDays,
    ) -> Result<(NaiveDate, Vec<DailySpend>), AccountError> {
        let since = days.first_day(self.clock.now().date_naive());
        Ok((since, self.ledger.daily_spend(user, since).await?))
    }

    /// An operator's grant of tokens (`grant` ledger row), once per key.
    #[instrument(skip_all, fields(amount = %amount))]
    pub async fn grant(
        &self,
        email: &Email,
        amount: Tokens,
        key: IdempotencyKey,
        reason: &str,
    ) -> Result<Recorded, AccountError> {
        let user = self
            .users
            .find_by_email(email)
            .await?
            .ok_or(AccountError::UserNotFound)?;
        let request = CreditRequest {
            user: user.id,
            kind: CreditKind::Grant,
            amount,
            idempotency_key: key,
            metadata: serde_json::json!({ "reason": reason }),
        };
        Ok(self.ledger.credit(&request).await?)
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::ports::{MockClock, MockLedger, MockUserRepository};
    use crate::testing::user_signed_in;

    fn service(users: MockUserRepository, admins: AdminPolicy) -> AccountService {
        let mut clock = MockClock::new();
        clock.expect_now().returning(Utc::now);
        AccountService::new(
            Arc::new(users),
            Arc::new(MockLedger::new()),
            Arc::new(clock),
            admins,
        )
    }

    fn identity(email: Option<&str>, roles: &[&str]) -> ExternalIdentity {
        ExternalIdentity {
            subject: "00000000-0000-0000-0000-00000000abcd".into(),
            tenant: Some("tenant".into()),
            email: email.map(|e| Email::parse(e).unwrap()),
            display_name: Some("  Ann Example ".into()),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            groups: Vec::new(),
        }
    }

    #[tokio::test]
    async fn a_sign_in_keeps_the_roles_and_groups_its_token_carried() {
        let mut users = MockUserRepository::new();
        users
            .expect_upsert_sign_in()
            .withf(|s| s.memberships.roles() == ["Finance"] && s.memberships.groups() == ["g-1"])
            .times(1)
            .returning(|s| Ok(user_signed_in(s)));
        let mut with_groups = identity(Some("ann@example.com"), &["Finance"]);
        with_groups.groups = vec!["g-1".into()];
        service(users, AdminPolicy::default())
            .sign_in(&with_groups)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn sign_in_upserts_by_subject_with_trimmed_name() {
        let mut users = MockUserRepository::new();
        users
            .expect_upsert_sign_in()
            .withf(|s| {
                s.external_id.as_str() == "00000000-0000-0000-0000-00000000abcd"
                    && s.display_name.as_deref() == Some("Ann Example")
                    && s.role == Role::User
            })
            .times(1)
            .returning(|s| Ok(user_signed_in(s)));
        let user = service(users, AdminPolicy::default())
            .sign_in(&identity(Some("ann@example.com"), &[]))
            .await
            .unwrap();
        assert_eq!(user.tokens, Tokens::ZERO);
    }

    #[tokio::test]
    async fn admin_by_app_role_or_by_configured_email() {
        let policy = AdminPolicy {
            role_name: "Admin".into(),
            emails: vec![Email::parse("boss@example.com").unwrap()],
            object_ids: Vec::new(),
        };
        let mut users = MockUserRepository::new();
        users
            .expect_upsert_sign_in()
            .returning(|s| Ok(user_signed_in(s)));
        let svc = service(users, policy);
        assert_eq!(
            svc.sign_in(&identity(Some("ann@example.com"), &["Admin"]))
                .await
                .unwrap()
                .role,
            Role::Admin
        );
        assert_eq!(
            svc.sign_in(&identity(Some("boss@example.com"), &[]))
                .await
                .unwrap()
                .role,
            Role::Admin
        );
        assert_eq!(
            svc.sign_in(&identity(Some("ann@example.com"), &["Reader"]))
                .await
                .unwrap()
                .role,
            Role::User
        );
    }

    #[tokio::test]
    async fn admin_by_object_id_whatever_the_case_of_the_guid() {
        let policy = AdminPolicy {
            role_name: "Admin".into(),
            emails: Vec::new(),
            object_ids: vec!["00000000-0000-0000-0000-00000000ABCD".into()],
        };
        let mut users = MockUserRepository::new();
        users
            .expect_upsert_sign_in()
            .returning(|s| Ok(user_signed_in(s)));
        let svc = service(users, policy);
        let listed = svc
            .sign_in(&identity(Some("ann@example.com"), &[]))
            .await
            .unwrap();
        assert_eq!(listed.role, Role::Admin);
        let mut other = identity(Some("ann@example.com"), &[]);
        other.subject = "00000000-0000-0000-0000-00000000abce".into();
        assert_eq!(svc.sign_in(&other).await.unwrap().role, Role::User);
    }

    #[tokio::test]
    async fn an_access_token_identity_upserts_once_until_its_claims_change() {
        let mut users = MockUserRepository::new();
        users
            .expect_upsert_sign_in()
            .times(2)
            .returning(|s| Ok(user_signed_in(s)));
        let svc = service(users, AdminPolicy::default());
        let first = svc
            .sign_in_bearer(&identity(Some("ann@example.com"), &["Reader", "Writer"]))
            .await
            .unwrap();
        let again = svc
            .sign_in_bearer(&identity(Some("ann@example.com"), &["Writer", "Reader"]))
            .await
            .unwrap();
        assert_eq!(again.id, first.id);
        let renamed = svc
            .sign_in_bearer(&identity(Some("ann@example.org"), &["Reader", "Writer"]))
            .await
            .unwrap();
        assert_ne!(renamed.id, first.id);
    }

    #[tokio::test]
    async fn sign_in_without_email_creates_nobody() {
        let mut users = MockUserRepository::new();
        users.expect_upsert_sign_in().never();
        let err = service(users, AdminPolicy::default())
            .sign_in(&identity(None, &[]))
            .await
            .unwrap_err();
        assert!(matches!(err, AccountError::MissingEmail));
    }
}
