//! The caller's account.

use askgate_domain::user::{Role, User};
use askgate_domain::{Tokens, UserId};
use chrono::{DateTime, Utc};
use serde::Serialize;

// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = Role)]
#[serde(rename_all = "lowercase")]
pub enum RoleView {
    User,
    Admin,
}

impl From<Role> for RoleView {
    fn from(role: Role) -> Self {
        match role {
            Role::User => Self::User,
            Role::Admin => Self::Admin,
        }
    }
}

/// A user as the API shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = User)]
pub struct UserView {
    #[schema(value_type = uuid::Uuid)]
    pub id: UserId,
    pub email: String,
    pub display_name: Option<String>,
    pub tokens: i32,
    pub role: RoleView,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        Self {
            id: u.id,
            email: u.email.as_str().to_owned(),
            display_name: u.display_name.clone(),
            tokens: u.tokens.get(),
            role: u.role.into(),
        }
    }
}

/// `GET /api/user/me`: the user plus account dates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = Profile)]
pub struct ProfileView {
    #[serde(flatten)]
    pub user: UserView,
    pub created_at: DateTime<Utc>,
    pub last_login: Option<DateTime<Utc>>,
}

impl From<&User> for ProfileView {
    fn from(u: &User) -> Self {
        Self {
            user: UserView::from(u),
            created_at: u.created_at,
            last_login: u.last_login,
        }
    }
}

/// The caller's balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = TokenBalance)]
pub struct BalanceView {
    #[schema(minimum = 0)]
    pub tokens: i32,
}

impl From<Tokens> for BalanceView {
    fn from(tokens: Tokens) -> Self {
        Self {
            tokens: tokens.get(),
        }
    }
}
