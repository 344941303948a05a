//! `PUT /api/admin/users/{id}/role {role}`: makes a user an admin or takes
//! the role away. Roles the sign-in decides (ADMIN_EMAILS, ADMIN_OBJECT_IDS,
//! the Entra app role) are not editable here. A demotion ends the user's
//! sessions, so no access token keeps the admin role.

use actix_web::{HttpResponse, web};
use askgate_domain::UserId;
use askgate_domain::user::Role;

use crate::auth::AdminUser;
use crate::dto::{AdminUserView, RoleBody, RoleChangeBody};
use crate::error::ApiError;
use crate::state::AppState;

#[utoipa::path(
    put,
    path = "/api/admin/users/{id}/role",
    tag = "admin",
    params(("id" = uuid::Uuid, Path, description = "The user")),
    request_body = RoleChangeBody,
    responses(
        (status = 200, description = "The user as they are now", body = AdminUserView),
        (status = 403, description = "Admins only", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The sign-in decides this role, or it is the caller's own", body = crate::dto::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub async fn handle(
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<UserId>,
    body: web::Json<RoleChangeBody>,
) -> Result<HttpResponse, ApiError> {
    let role = match body.into_inner().role {
        RoleBody::User => Role::User,
        RoleBody::Admin => Role::Admin,
    };
    let change = state
        .services
        .admin
        .set_role(&admin.actor(), admin.stamp(), id.into_inner(), role)
        .await?;
    super::changed(&state, change)
}
