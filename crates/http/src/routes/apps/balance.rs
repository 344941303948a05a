//! `GET /api/v1/balance`, app scope `balance:read`: the user's balance.

use actix_web::{HttpRequest, HttpResponse, web};
use askgate_domain::api_key::ApiKeyScope;

use crate::auth::{AppCaller, app_scope};
use crate::dto::BalanceView;
use crate::error::ApiError;
use crate::state::AppState;

#[utoipa::path(
    get,
    path = "/api/v1/balance",
    tag = "apps",
    params(("X-Askgate-User-Token" = String, Header, description = "The user's session token, or their API key with `balance:read`")),
    responses(
        (status = 200, description = "The user's balance", body = BalanceView),
        (status = 401, description = "App credentials (`WWW-Authenticate: Basic`) or the user's token missing or refused", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The app lacks `balance:read`, or the user's API key does (`insufficient_scope`); the user's account is disabled (`account_disabled`)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 404, description = "The user no longer exists", body = crate::dto::Problem, content_type = "application/problem+json"),
    ),
    security(("app" = [])),
)]
pub async fn handle(
    state: web::Data<AppState>,
    _app: AppCaller<app_scope::BalanceRead>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let user = super::user_of(&state, &req, ApiKeyScope::BalanceRead).await?;
    let balance = state.services.accounts.balance(user.user).await?;
    Ok(HttpResponse::Ok().json(BalanceView::from(balance)))
}
