//! `GET /health/ready`: the dependencies answer (the database).

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;

pub async fn handle(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state
        .health
        .check()
        .await
        .map_err(|e| ApiError::unavailable(e.as_ref()))?;
    Ok(HttpResponse::Ok().json(json!({ "status": "ok" })))
}
