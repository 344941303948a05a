//! `GET /health/ready`: the dependencies answer (the database).

use actix_web::{HttpResponse, web};

use crate::dto::HealthView;
use crate::error::ApiError;
use crate::state::AppState;

#[utoipa::path(
    get,
    path = "/health/ready",
    tag = "health",
    responses(
        (status = 200, description = "The database answers", body = crate::dto::HealthView),
    ),
)]
pub async fn handle(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state
        .services
        .health
        .check()
        .await
        .map_err(|e| ApiError::unavailable(e.as_ref()))?;
    Ok(HttpResponse::Ok().json(HealthView::OK))
}
