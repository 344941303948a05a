//! `DELETE /api/admin/apps/{id}`: revokes the app; its secrets stop working
//! at once (audited `app_revoke`). Its ledger rows stay.

use actix_web::{HttpResponse, web};
use askgate_domain::AppId;

use crate::auth::AdminUser;
use crate::dto::AppView;
use crate::error::ApiError;
use crate::state::AppState;

#[utoipa::path(
    delete,
    path = "/api/admin/apps/{id}",
    tag = "admin",
    params(("id" = uuid::Uuid, Path, description = "The app (its client id)")),
    responses(
        (status = 200, description = "Revoked (a revoked app is answered as it is)", body = AppView),
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
        .revoke(&admin.actor(), &admin.stamp(), id.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(AppView::from(&app)))
}
