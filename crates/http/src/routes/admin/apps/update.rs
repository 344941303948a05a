//! `PATCH /api/admin/apps/{id}`: changes the fields given (audited `app_update`).

use actix_web::{HttpResponse, web};
use askgate_domain::AppId;
use askgate_domain::app::AppPatch;

use crate::auth::AdminUser;
use crate::dto::{AppPatchBody, AppView};
use crate::error::ApiError;
use crate::state::AppState;

#[utoipa::path(
    patch,
    path = "/api/admin/apps/{id}",
    tag = "admin",
    params(("id" = uuid::Uuid, Path, description = "The app (its client id)")),
    request_body = AppPatchBody,
    responses(
        (status = 200, description = "Changed (audited `app_update`)", body = AppView),
        (status = 403, description = "Admins only", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such app", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The app is revoked", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field (`field` names it)", body = crate::dto::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub async fn handle(
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<AppId>,
    body: web::Json<AppPatchBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let patch = AppPatch {
        name: body.name.as_deref().map(super::name).transpose()?,
        allowed_origins: body
            .allowed_origins
            .as_deref()
            .map(super::origins)
            .transpose()?,
        allowed_return_urls: body
            .allowed_return_urls
            .as_deref()
            .map(super::return_urls)
            .transpose()?,
        scopes: body.scopes.map(super::scopes),
        daily_limit_per_user: body.daily_limit_per_user,
    };
    let app = state
        .services
        .apps
        .update(&admin.actor(), &admin.stamp(), id.into_inner(), patch)
        .await?;
    Ok(HttpResponse::Ok().json(AppView::from(&app)))
}
