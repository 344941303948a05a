//! `POST /api/admin/users/{id}/disable {reason?}`: Disables the account: its sessions end at once; chats, purchases and sign-ins are refused with 403 `account_disabled`. Tokens and history stay.

use actix_web::{HttpResponse, web};
use askgate_domain::UserId;

use crate::auth::AdminUser;
use crate::dto::{AccountBody, AdminUserView};
use crate::error::ApiError;
use crate::state::AppState;

#[utoipa::path(
    post,
    path = "/api/admin/users/{id}/disable",
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
        .disable(
            &admin.actor(),
            admin.stamp(),
            id.into_inner(),
            reason.as_deref(),
        )
        .await?;
    super::changed(&state, change)
}
