//! What admins read and send about accounts and the audit log.

use askgate_domain::UserId;
use askgate_domain::audit::{AuditAction, AuditRecord};
use askgate_domain::ledger::CreditKind;
use askgate_domain::page::Page;
use askgate_domain::ports::UserOverview;
use askgate_domain::user::User;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{RoleView, TransactionView};

/// A user as an admin sees them in the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = AdminUser)]
pub struct AdminUserView {
    #[schema(value_type = uuid::Uuid)]
    pub id: UserId,
    pub email: String,
    pub display_name: Option<String>,
    #[schema(minimum = 0)]
    pub tokens: i32,
    pub role: RoleView,
    /// The sign-in decides this role (ADMIN_EMAILS, ADMIN_OBJECT_IDS, the
    /// Entra app role): it cannot be changed here.
    pub role_from_sign_in: bool,
    /// Set while the account is disabled.
    pub disabled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub last_login: Option<DateTime<Utc>>,
}

impl AdminUserView {
    /// `role_from_sign_in` as the admin use case decides it.
    #[must_use]
    pub fn new(user: &User, role_from_sign_in: bool) -> Self {
        Self {
            id: user.id,
            email: user.email.as_str().to_owned(),
            display_name: user.display_name.clone(),
            tokens: user.tokens.get(),
            role: user.role.into(),
            role_from_sign_in,
            disabled_at: user.disabled_at,
            created_at: user.created_at,
            last_login: user.last_login,
        }
    }
}

/// One page of users, most recent sign-in first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = AdminUserPage)]
pub struct AdminUserPageView {
    pub items: Vec<AdminUserView>,
    pub next_cursor: Option<String>,
}

/// A user's profile and how many conversations they keep (never their messages).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = AdminUserDetail)]
pub struct AdminUserDetailView {
    #[serde(flatten)]
    pub user: AdminUserView,
    #[schema(minimum = 0)]
    pub conversations: i64,
}

impl AdminUserDetailView {
    #[must_use]
    pub fn new(overview: &UserOverview, role_from_sign_in: bool) -> Self {
        Self {
            user: AdminUserView::new(&overview.user, role_from_sign_in),
            conversations: overview.conversations,
        }
    }
}

/// Which kind of ledger row an admin writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[schema(as = AdminCreditType)]
#[serde(rename_all = "lowercase")]
pub enum AdminCreditTypeBody {
    /// Gives tokens (positive).
    Grant,
    /// Corrects the balance (either sign, never below zero).
    Adjustment,
}

impl From<AdminCreditTypeBody> for CreditKind {
    fn from(kind: AdminCreditTypeBody) -> Self {
        match kind {
            AdminCreditTypeBody::Grant => Self::Grant,
            AdminCreditTypeBody::Adjustment => Self::Adjustment,
        }
    }
}

/// `POST /api/admin/users/{id}/credits`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[schema(as = AdminCreditRequest)]
#[serde(deny_unknown_fields)]
pub struct AdminCreditBody {
    #[serde(rename = "type")]
    pub kind: AdminCreditTypeBody,
    /// Tokens to add (negative takes them, adjustments only).
    #[schema(minimum = -2_147_483_648_i64, maximum = 2_147_483_647_i64, example = 50)]
    pub amount: i64,
    /// Why, for the ledger and the audit log.
    #[schema(
        min_length = 1,
        max_length = 500,
        example = "Goodwill after the outage"
    )]
    pub reason: String,
}

/// `POST /api/admin/users/{id}/disable` and `/enable`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[schema(as = AdminAccountRequest)]
#[serde(deny_unknown_fields)]
pub struct AccountBody {
    /// Why, for the audit log.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 500)]
    pub reason: Option<String>,
}

/// The roles an admin may give.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[schema(as = AdminRole)]
#[serde(rename_all = "lowercase")]
pub enum RoleBody {
    User,
    Admin,
}

/// `PUT /api/admin/users/{id}/role`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[schema(as = AdminRoleRequest)]
#[serde(deny_unknown_fields)]
pub struct RoleChangeBody {
    pub role: RoleBody,
}

/// A grant or adjustment as written (`replayed`: an earlier request with the
/// same Idempotency-Key wrote it).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = AdminCredit)]
pub struct AdminCreditView {
    pub transaction: TransactionView,
    pub replayed: bool,
}

/// What an admin did (`action` of an audit record).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = AuditAction)]
#[serde(rename_all = "snake_case")]
pub enum AuditActionView {
    Grant,
    Adjustment,
    Disable,
    Enable,
    RoleChange,
    DomainCreate,
    DomainUpdate,
    DomainDelete,
    AppCreate,
    AppUpdate,
    AppRevoke,
    AppRotateSecret,
}

impl From<AuditAction> for AuditActionView {
    fn from(action: AuditAction) -> Self {
        match action {
            AuditAction::Grant => Self::Grant,
            AuditAction::Adjustment => Self::Adjustment,
            AuditAction::Disable => Self::Disable,
            AuditAction::Enable => Self::Enable,
            AuditAction::RoleChange => Self::RoleChange,
            AuditAction::DomainCreate => Self::DomainCreate,
            AuditAction::DomainUpdate => Self::DomainUpdate,
            AuditAction::DomainDelete => Self::DomainDelete,
            AuditAction::AppCreate => Self::AppCreate,
            AuditAction::AppUpdate => Self::AppUpdate,
            AuditAction::AppRevoke => Self::AppRevoke,
            AuditAction::AppRotateSecret => Self::AppRotateSecret,
        }
    }
}

impl From<AuditActionView> for AuditAction {
    fn from(action: AuditActionView) -> Self {
        match action {
            AuditActionView::Grant => Self::Grant,
            AuditActionView::Adjustment => Self::Adjustment,
            AuditActionView::Disable => Self::Disable,
            AuditActionView::Enable => Self::Enable,
            AuditActionView::RoleChange => Self::RoleChange,
            AuditActionView::DomainCreate => Self::DomainCreate,
            AuditActionView::DomainUpdate => Self::DomainUpdate,
            AuditActionView::DomainDelete => Self::DomainDelete,
            AuditActionView::AppCreate => Self::AppCreate,
            AuditActionView::AppUpdate => Self::AppUpdate,
            AuditActionView::AppRevoke => Self::AppRevoke,
            AuditActionView::AppRotateSecret => Self::AppRotateSecret,
        }
    }
}

/// One audit record: who did what to which target, before and after.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = AuditRecord)]
pub struct AuditRecordView {
    pub id: uuid::Uuid,
    #[schema(value_type = uuid::Uuid)]
    pub actor_id: UserId,
    pub actor_email: String,
    pub action: AuditActionView,
    /// `user`, `domain` or `app`.
    pub target_type: String,
    pub target_id: uuid::Uuid,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub reason: Option<String>,
    /// The `X-Request-Id` the action was logged under.
    pub request_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<&AuditRecord> for AuditRecordView {
    fn from(r: &AuditRecord) -> Self {
        Self {
            id: r.id,
            actor_id: r.actor,
            actor_email: r.actor_email.clone(),
            action: r.action.into(),
            target_type: r.action.target_kind().as_str().to_owned(),
            target_id: r.target,
            before: r.before.clone(),
            after: r.after.clone(),
            reason: r.reason.clone(),
            request_id: r.request_id.clone(),
            created_at: r.created_at,
        }
    }
}

/// One page of the audit log, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = AuditPage)]
pub struct AuditPageView {
    pub items: Vec<AuditRecordView>,
    pub next_cursor: Option<String>,
}

impl From<&Page<AuditRecord>> for AuditPageView {
    fn from(page: &Page<AuditRecord>) -> Self {
        Self {
            items: page.items.iter().map(AuditRecordView::from).collect(),
            next_cursor: page.next_cursor.clone(),
        }
    }
}
