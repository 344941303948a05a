//! `GET /api/user/tokens`: the caller's balance.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::auth::AuthenticatedUser;
use crate::error::ApiError;
use crate::state::AppState;

pub async fn handle(
    state: web::Data<AppState>,
    caller: AuthenticatedUser,
) -> Result<HttpResponse, ApiError> {
    let balance = state.accounts.balance(caller.user).await?;
    Ok(HttpResponse::Ok().json(json!({ "tokens": balance.get() })))
}
