//! `POST /api/v1/credits/{id}/refund`, app scope `credits:consume`: gives
//! back one of the app's own consumptions, once, within 24 hours.

use actix_web::{HttpResponse, web};
use askgate_domain::TransactionId;
use serde::Serialize;

use crate::auth::{AppCaller, app_scope};
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = AppRefund)]
pub struct RefundView {
    /// The consumption given back.
    #[schema(value_type = uuid::Uuid)]
    pub id: TransactionId,
    pub amount: i32,
    /// The user's balance after the refund.
    #[schema(minimum = 0)]
    pub balance_after: i32,
}

#[utoipa::path(
    post,
    path = "/api/v1/credits/{id}/refund",
    tag = "apps",
    params(("id" = uuid::Uuid, Path, description = "The consumption (`id` of the consume answer)")),
    responses(
        (status = 200, description = "Given back with a refund row", body = RefundView),
        (status = 401, description = "App credentials missing or refused (`WWW-Authenticate: Basic`)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The app lacks `credits:consume` (`insufficient_scope`)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such consumption of this app", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Refunded already", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`id` is not a UUID, or the consumption is older than 24 hours", body = crate::dto::Problem, content_type = "application/problem+json"),
    ),
    security(("app" = [])),
)]
pub async fn handle(
    state: web::Data<AppState>,
    app: AppCaller<app_scope::CreditsConsume>,
    id: web::Path<TransactionId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let (amount, balance) = state.services.app_credits.refund(&app, id).await?;
    Ok(HttpResponse::Ok().json(RefundView {
        id,
        amount,
        balance_after: balance.get(),
    }))
}
