//! `PUT /api/domains/{id}` (admins): replaces every editable field.

use actix_web::{HttpResponse, web};
use askgate_domain::DomainId;
use askgate_domain::services::DomainInput;

use super::DomainView;
use crate::auth::AdminUser;
use crate::error::ApiError;
use crate::state::AppState;

pub async fn handle(
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<DomainId>,
    body: web::Json<DomainInput>,
) -> Result<HttpResponse, ApiError> {
    let domain = state
        .domains
        .update(&admin.actor(), id.into_inner(), body.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(DomainView::new(domain, true)))
}
