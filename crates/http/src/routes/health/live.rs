//! `GET /health/live`: the process answers.

use actix_web::HttpResponse;
use serde_json::json;

pub async fn handle() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}
