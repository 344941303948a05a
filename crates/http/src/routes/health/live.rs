//! `GET /health/live`: the process answers.

use actix_web::HttpResponse;
use serde_json::json;

#[utoipa::path(
    get,
    path = "/health/live",
    tag = "health",
    responses(
        (status = 200, description = "The process answers", body = crate::openapi::schemas::HealthStatus),
    ),
)]
pub async fn handle() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}
