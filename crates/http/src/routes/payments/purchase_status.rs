//! `GET /api/purchases/{checkout_session_id}`: `{status, tokens, balance}` of
//! a checkout the caller started, for the success page to poll. Someone
//! else's checkout is answered like an unknown one (404).

use actix_web::{HttpResponse, web};

use crate::auth::AuthenticatedUser;
use crate::dto::PurchaseView;
use crate::error::ApiError;
use crate::state::AppState;

#[utoipa::path(
    get,
    path = "/api/purchases/{checkout_session_id}",
    tag = "payments",
    params(("checkout_session_id" = String, Path, description = "The `id` from `POST /api/checkout-session`")),
    responses(
        (status = 200, description = "Where the purchase stands", body = crate::dto::PurchaseView),
        (status = 404, description = "No such purchase of the caller's", body = crate::dto::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub async fn handle(
    state: web::Data<AppState>,
    caller: AuthenticatedUser,
    checkout_session_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let purchase = state
        .services
        .billing
        .purchase(&caller.actor(), &checkout_session_id)
        .await?;
    Ok(HttpResponse::Ok().json(PurchaseView::from(&purchase)))
}
