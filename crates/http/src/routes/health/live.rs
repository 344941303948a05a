//! `GET /health/live`: the process answers.

use actix_web::HttpResponse;

use crate::dto::HealthView;

#[utoipa::path(
    get,
    path = "/health/live",
    tag = "health",
    responses(
        (status = 200, description = "The process answers", body = crate::dto::HealthView),
    ),
)]
pub async fn handle() -> HttpResponse {
    HttpResponse::Ok().json(HealthView::OK)
}
