//! `GET /api/token-packages`: what can be bought (public).

use actix_web::HttpResponse;
use askgate_domain::services::BillingService;

use crate::dto::PackagesView;

#[utoipa::path(
    get,
    path = "/api/token-packages",
    tag = "payments",
    responses(
        (status = 200, description = "The packages for sale", body = crate::dto::PackagesView),
    ),
)]
pub async fn handle() -> HttpResponse {
    HttpResponse::Ok().json(PackagesView::from(BillingService::packages().as_slice()))
}
