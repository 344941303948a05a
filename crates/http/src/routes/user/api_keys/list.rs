//! `GET /api/user/api-keys`: the caller's keys, newest first, revoked ones
//! included; never a secret.

use actix_web::{HttpResponse, web};

use crate::auth::AuthenticatedUser;
use crate::dto::{ApiKeyListView, ApiKeyView};
use crate::error::ApiError;
use crate::state::AppState;

#[utoipa::path(
    get,
    path = "/api/user/api-keys",
    tag = "user",
    responses(
        (status = 200, description = "The caller's keys, newest first", body = ApiKeyListView),
        (status = 403, description = "Not with an API key: sign in (`insufficient_scope`)", body = crate::dto::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub async fn handle(
    state: web::Data<AppState>,
    caller: AuthenticatedUser,
) -> Result<HttpResponse, ApiError> {
    let keys = state.services.api_keys.list(caller.user).await?;
    Ok(HttpResponse::Ok().json(ApiKeyListView {
        items: keys.iter().map(ApiKeyView::from).collect(),
    }))
}
