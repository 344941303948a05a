//! `GET /api/token-packages`: what can be bought (public).

use actix_web::HttpResponse;
use askgate_domain::services::BillingService;
use serde_json::json;

pub async fn handle() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "packages": BillingService::packages() }))
}
