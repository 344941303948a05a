//! `PUT /api/domains/{id}` (admins): replaces every editable field.

use actix_web::{HttpResponse, web};
use askgate_domain::DomainId;

use crate::auth::AdminUser;
use crate::dto::{DomainBody, DomainView};
use crate::error::ApiError;
use crate::state::AppState;

#[utoipa::path(
    put,
    path = "/api/domains/{id}",
    tag = "domains",
    request_body = crate::dto::DomainBody,
    params(("id" = uuid::Uuid, Path, description = "The domain")),
    responses(
        (status = 200, description = "Updated", body = crate::dto::DomainView),
        (status = 403, description = "Admins only", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such domain", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 409, description = "A domain with this name exists", body = crate::dto::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub async fn handle(
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<DomainId>,
    body: web::Json<DomainBody>,
) -> Result<HttpResponse, ApiError> {
    let domain = state
        .services
        .domains
        .update(
            &admin.actor(),
            &admin.stamp(),
            id.into_inner(),
            body.into_inner().into(),
        )
        .await?;
    Ok(HttpResponse::Ok().json(DomainView::new(&domain, true)))
}
