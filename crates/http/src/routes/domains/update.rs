//! `PUT /api/domains/{id}` (admins): replaces every editable field.

use actix_web::{HttpResponse, web};
use askgate_domain::DomainId;
use askgate_domain::services::DomainInput;

use super::DomainView;
use crate::auth::AdminUser;
use crate::error::ApiError;
use crate::state::AppState;

#[utoipa::path(
    put,
    path = "/api/domains/{id}",
    tag = "domains",
    request_body = crate::openapi::schemas::DomainInput,
    params(("id" = uuid::Uuid, Path, description = "The domain")),
    responses(
        (status = 200, description = "Updated", body = crate::openapi::schemas::Domain),
        (status = 403, description = "Admins only", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such domain", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        (status = 409, description = "A domain with this name exists", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub async fn handle(
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<DomainId>,
    body: web::Json<DomainInput>,
) -> Result<HttpResponse, ApiError> {
    let domain = state
        .services
        .domains
        .update(&admin.actor(), id.into_inner(), body.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(DomainView::new(domain, true)))
}
