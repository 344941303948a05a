//! `POST /api/admin/users/{id}/enable {reason?}`: Enables a disabled account again: its owner may sign in.

use actix_web::{HttpResponse, web};
use askgate_domain::UserId;

use crate::auth::AdminUser;
use crate::dto::{AccountBody, AdminUserView};
use crate::error::ApiError;
use crate::state::AppState;

#[utoipa::path(
    post,
    path = "/api/admin/users/{id}/enable",
    tag = "admin",
    params(("id" = uuid::Uuid, Path, description = "The user")),
    request_body = AccountBody,
    responses(
        (status = 200, description = "The user as they are now (unchanged, and not audited, when they were so already)", body = AdminUserView),
        (status = 403, description = "Admins only", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Admins cannot disable themselves", body = crate::dto::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub async fn handle(
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<UserId>,
    body: web::Json<AccountBody>,
) -> Result<HttpResponse, ApiError> {
    let reason = body.into_inner().reason;
    let change = state
        .services
        .admin
        .enable(
            &admin.actor(),
            admin.stamp(),
            id.into_inner(),
            reason.as_deref(),
        )
        .await?;
    super::changed(&state, change)
}
