//! `POST /api/domains` (admins): 201 with the domain and its `Location`.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::auth::AdminUser;
use crate::dto::{DomainBody, DomainView};
use crate::error::ApiError;
use crate::state::AppState;

#[utoipa::path(
    post,
    path = "/api/domains",
    tag = "domains",
    request_body = crate::dto::DomainBody,
    responses(
        (status = 201, description = "Created; `Location` names it", body = crate::dto::DomainView),
        (status = 403, description = "Admins only", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 409, description = "A domain with this name exists", body = crate::dto::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub async fn handle(
    state: web::Data<AppState>,
    admin: AdminUser,
    body: web::Json<DomainBody>,
) -> Result<HttpResponse, ApiError> {
    let domain = state
        .services
        .domains
        .create(&admin.actor(), &admin.stamp(), body.into_inner().into())
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/domains/{}", domain.id)))
        .json(DomainView::new(&domain, true)))
}
