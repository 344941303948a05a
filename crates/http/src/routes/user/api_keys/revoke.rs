//! `DELETE /api/user/api-keys/{id}`: revokes one of the caller's keys; every
//! instance refuses it from the next request on.

use actix_web::{HttpResponse, web};
use askgate_domain::ApiKeyId;

use crate::auth::AuthenticatedUser;
use crate::dto::ApiKeyView;
use crate::error::ApiError;
use crate::state::AppState;

#[utoipa::path(
    delete,
    path = "/api/user/api-keys/{id}",
    tag = "user",
    params(("id" = uuid::Uuid, Path, description = "The key")),
    responses(
        (status = 200, description = "Revoked (a key revoked before keeps its first revocation time)", body = ApiKeyView),
        (status = 403, description = "Not with an API key: sign in (`insufficient_scope`)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such key of the caller's", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`id` is not a UUID", body = crate::dto::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub async fn handle(
    state: web::Data<AppState>,
    caller: AuthenticatedUser,
    id: web::Path<ApiKeyId>,
) -> Result<HttpResponse, ApiError> {
    let key = state
        .services
        .api_keys
        .revoke(caller.user, id.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(ApiKeyView::from(&key)))
}
