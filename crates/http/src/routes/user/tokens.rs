//! `GET /api/user/tokens`: the caller's balance.

use actix_web::{HttpResponse, web};

use crate::auth::{Scoped, scope};
use crate::dto::BalanceView;
use crate::error::ApiError;
use crate::state::AppState;

#[utoipa::path(
    get,
    path = "/api/user/tokens",
    tag = "user",
    responses(
        (status = 200, description = "The caller's balance", body = crate::dto::BalanceView),
        (status = 404, description = "The account no longer exists", body = crate::dto::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub async fn handle(
    state: web::Data<AppState>,
    caller: Scoped<scope::BalanceRead>,
) -> Result<HttpResponse, ApiError> {
    let balance = state.services.accounts.balance(caller.user).await?;
    Ok(HttpResponse::Ok().json(BalanceView::from(balance)))
}
