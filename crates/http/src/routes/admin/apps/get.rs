//! `GET /api/admin/apps/{id}`: one registered app.

use actix_web::{HttpResponse, web};
use askgate_domain::AppId;

use crate::auth::AdminUser;
use crate::dto::AppView;
use crate::error::ApiError;
use crate::state::AppState;

#[utoipa::path(
    get,
    path = "/api/admin/apps/{id}",
    tag = "admin",
    params(("id" = uuid::Uuid, Path, description = "The app (its client id)")),
    responses(
        (status = 200, description = "The app", body = AppView),
        (status = 403, description = "Admins only", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such app", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`id` is not a UUID", body = crate::dto::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub async fn handle(
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<AppId>,
) -> Result<HttpResponse, ApiError> {
    let app = state
        .services
        .apps
        .get(&admin.actor(), id.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(AppView::from(&app)))
}
