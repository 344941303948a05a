//! `GET /api/token-packages`: what can be bought (public).

use actix_web::HttpResponse;
use askgate_domain::services::BillingService;
use serde_json::json;

#[utoipa::path(
    get,
    path = "/api/token-packages",
    tag = "payments",
    responses(
        (status = 200, description = "The packages for sale", body = crate::openapi::schemas::TokenPackages),
    ),
)]
pub async fn handle() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "packages": BillingService::packages() }))
}
