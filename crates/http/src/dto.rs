//! Response shapes shared by several handlers.

use askgate_domain::UserId;
use askgate_domain::user::{Role, User};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// A user as the API shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = User)]
pub struct UserView {
    #[schema(value_type = uuid::Uuid)]
    pub id: UserId,
    pub email: String,
    pub display_name: Option<String>,
    pub tokens: i32,
    #[schema(value_type = crate::openapi::schemas::Role)]
    pub role: Role,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        Self {
            id: u.id,
            email: u.email.as_str().to_owned(),
            display_name: u.display_name.clone(),
            tokens: u.tokens.get(),
            role: u.role,
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
