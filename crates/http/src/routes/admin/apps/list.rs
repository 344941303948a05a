//! `GET /api/admin/apps`: every registered app, newest first.

use actix_web::{HttpResponse, web};

use crate::auth::AdminUser;
use crate::dto::{AppListView, AppView};
use crate::error::ApiError;
use crate::state::AppState;

#[utoipa::path(
    get,
    path = "/api/admin/apps",
    tag = "admin",
    responses(
        (status = 200, description = "Every app, revoked ones included", body = AppListView),
        (status = 403, description = "Admins only", body = crate::dto::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub async fn handle(
    state: web::Data<AppState>,
    admin: AdminUser,
) -> Result<HttpResponse, ApiError> {
    let apps = state.services.apps.list(&admin.actor()).await?;
    Ok(HttpResponse::Ok().json(AppListView {
        items: apps.iter().map(AppView::from).collect(),
    }))
}
