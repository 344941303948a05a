//! `DELETE /api/domains/{id}` (admins): 204. A domain that ledger rows or
//! conversations refer to is deactivated instead, so history stays intact.

use actix_web::{HttpResponse, web};
use askgate_domain::DomainId;

use crate::auth::AdminUser;
use crate::error::ApiError;
use crate::state::AppState;

pub async fn handle(
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<DomainId>,
) -> Result<HttpResponse, ApiError> {
    let outcome = state
        .domains
        .delete(&admin.actor(), id.into_inner())
        .await?;
    tracing::info!(?outcome, "domain removed");
    Ok(HttpResponse::NoContent().finish())
}
