//! `POST /api/admin/apps/{id}/rotate-secret {overlap_seconds?}`: a new
//! secret, shown once; the previous one stays valid for the overlap
//! (default a day, at most 30 days). Audited `app_rotate_secret`.

use actix_web::{HttpResponse, web};
use askgate_domain::AppId;

use crate::auth::AdminUser;
use crate::dto::{AppSecretView, AppView, RotateBody};
use crate::error::ApiError;
use crate::state::AppState;

#[utoipa::path(
    post,
    path = "/api/admin/apps/{id}/rotate-secret",
    tag = "admin",
    params(("id" = uuid::Uuid, Path, description = "The app (its client id)")),
    request_body = RotateBody,
    responses(
        (status = 200, description = "The new secret, shown this once", body = AppSecretView),
        (status = 403, description = "Admins only", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such app", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The app is revoked", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`overlap_seconds` out of range", body = crate::dto::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub async fn handle(
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<AppId>,
    body: web::Json<RotateBody>,
) -> Result<HttpResponse, ApiError> {
    let rotated = state
        .services
        .apps
        .rotate_secret(
            &admin.actor(),
            &admin.stamp(),
            id.into_inner(),
            body.into_inner().overlap_seconds,
        )
        .await?;
    Ok(HttpResponse::Ok().json(AppSecretView {
        app: AppView::from(&rotated.app),
        client_secret: rotated.secret.expose().to_owned(),
    }))
}
