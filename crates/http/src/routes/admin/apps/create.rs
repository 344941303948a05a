//! `POST /api/admin/apps`: registers an app → 201 with its client id and
//! secret, shown this once.

use actix_web::{HttpResponse, web};
use askgate_domain::app::AppSettings;

use crate::auth::AdminUser;
use crate::dto::{AppBody, AppSecretView, AppView};
use crate::error::ApiError;
use crate::state::AppState;

#[utoipa::path(
    post,
    path = "/api/admin/apps",
    tag = "admin",
    request_body = AppBody,
    responses(
        (status = 201, description = "Registered (audited `app_create`); the secret is shown this once", body = AppSecretView),
        (status = 403, description = "Admins only", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid name, URL, scopes or limit (`field` names it)", body = crate::dto::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub async fn handle(
    state: web::Data<AppState>,
    admin: AdminUser,
    body: web::Json<AppBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let settings = AppSettings {
        name: super::name(&body.name)?,
        allowed_origins: super::origins(&body.allowed_origins)?,
        allowed_return_urls: super::return_urls(&body.allowed_return_urls)?,
        scopes: super::scopes(body.scopes),
        daily_limit_per_user: body.daily_limit_per_user,
    };
    let created = state
        .services
        .apps
        .create(&admin.actor(), &admin.stamp(), settings)
        .await?;
    Ok(HttpResponse::Created().json(AppSecretView {
        app: AppView::from(&created.app),
        client_secret: created.secret.expose().to_owned(),
    }))
}
