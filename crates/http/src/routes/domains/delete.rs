//! `DELETE /api/domains/{id}` (admins): 204. A domain that ledger rows or
//! conversations refer to is deactivated instead, so history stays intact.

use actix_web::{HttpResponse, web};
use askgate_domain::DomainId;

use crate::auth::AdminUser;
use crate::error::ApiError;
use crate::state::AppState;

#[utoipa::path(
    delete,
    path = "/api/domains/{id}",
    tag = "domains",
    params(("id" = uuid::Uuid, Path, description = "The domain")),
    responses(
        (status = 204, description = "Removed (deactivated when conversations refer to it)"),
        (status = 403, description = "Admins only", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such domain", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`id` is not a UUID", body = crate::dto::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub async fn handle(
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<DomainId>,
) -> Result<HttpResponse, ApiError> {
    let outcome = state
        .services
        .domains
        .delete(&admin.actor(), &admin.stamp(), id.into_inner())
        .await?;
    tracing::info!(?outcome, "domain removed");
    Ok(HttpResponse::NoContent().finish())
}
