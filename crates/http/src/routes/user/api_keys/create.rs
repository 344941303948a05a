//! `POST /api/user/api-keys {name, scopes, expires_at?}` → 201 with the key
//! and its secret, shown this once.

use actix_web::{HttpResponse, web};
use askgate_domain::api_key::{ApiKeyName, ApiKeyScope};
use askgate_domain::services::ApiKeyInput;

use crate::auth::AuthenticatedUser;
use crate::dto::{ApiKeyBody, ApiKeyCreatedView, ApiKeyView};
use crate::error::ApiError;
use crate::state::AppState;

#[utoipa::path(
    post,
    path = "/api/user/api-keys",
    tag = "user",
    request_body = ApiKeyBody,
    responses(
        (status = 201, description = "The key and its secret, shown this once", body = ApiKeyCreatedView),
        (status = 403, description = "Not with an API key: sign in (`insufficient_scope`)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Too many active keys: revoke one first", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid name, scopes or expiry", body = crate::dto::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub async fn handle(
    state: web::Data<AppState>,
    caller: AuthenticatedUser,
    body: web::Json<ApiKeyBody>,
) -> Result<HttpResponse, ApiError> {
    let ApiKeyBody {
        name,
        scopes,
        expires_at,
    } = body.into_inner();
    let input = ApiKeyInput {
        name: ApiKeyName::parse(&name)
            .map_err(|e| ApiError::invalid_field("name", e.to_string()))?,
        scopes: scopes.into_iter().map(ApiKeyScope::from).collect(),
        expires_at,
    };
    let created = state.services.api_keys.create(caller.user, input).await?;
    Ok(HttpResponse::Created().json(ApiKeyCreatedView {
        key: ApiKeyView::from(&created.key),
        secret: created.secret.expose().to_owned(),
    }))
}
