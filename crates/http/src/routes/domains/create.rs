//! `POST /api/domains` (admins): 201 with the domain and its `Location`.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use askgate_domain::services::DomainInput;

use super::DomainView;
use crate::auth::AdminUser;
use crate::error::ApiError;
use crate::state::AppState;

#[utoipa::path(
    post,
    path = "/api/domains",
    tag = "domains",
    request_body = crate::openapi::schemas::DomainInput,
    responses(
        (status = 201, description = "Created; `Location` names it", body = crate::openapi::schemas::Domain),
        (status = 403, description = "Admins only", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        (status = 409, description = "A domain with this name exists", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub async fn handle(
    state: web::Data<AppState>,
    admin: AdminUser,
    body: web::Json<DomainInput>,
) -> Result<HttpResponse, ApiError> {
    let domain = state
        .services
        .domains
        .create(&admin.actor(), body.into_inner())
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/domains/{}", domain.id)))
        .json(DomainView::new(domain, true)))
}
