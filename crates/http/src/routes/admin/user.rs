//! `GET /api/admin/users/{id}`: a user's profile, balance and conversations count.

use actix_web::{HttpResponse, web};
use askgate_domain::UserId;

use crate::auth::AdminUser;
use crate::dto::AdminUserDetailView;
use crate::error::ApiError;
use crate::state::AppState;

#[utoipa::path(
    get,
    path = "/api/admin/users/{id}",
    tag = "admin",
    params(("id" = uuid::Uuid, Path, description = "The user")),
    responses(
        (status = 200, description = "The user; never their messages", body = AdminUserDetailView),
        (status = 403, description = "Admins only", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`id` is not a UUID", body = crate::dto::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub async fn handle(
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<UserId>,
) -> Result<HttpResponse, ApiError> {
    let admins = &state.services.admin;
    let overview = admins.user(&admin.actor(), id.into_inner()).await?;
    let from_sign_in = admins.role_from_sign_in(&overview.user);
    Ok(HttpResponse::Ok().json(AdminUserDetailView::new(&overview, from_sign_in)))
}
