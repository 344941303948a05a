//! `DELETE /api/conversations/{id}`: 204, with its messages.

use actix_web::{HttpResponse, web};
use askgate_domain::ConversationId;

use crate::auth::AuthenticatedUser;
use crate::error::ApiError;
use crate::state::AppState;

#[utoipa::path(
    delete,
    path = "/api/conversations/{id}",
    tag = "conversations",
    params(("id" = uuid::Uuid, Path, description = "The conversation")),
    responses(
        (status = 204, description = "Deleted with its messages"),
        (status = 404, description = "No such conversation of the caller's", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`id` is not a UUID", body = crate::dto::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub async fn handle(
    state: web::Data<AppState>,
    caller: AuthenticatedUser,
    id: web::Path<ConversationId>,
) -> Result<HttpResponse, ApiError> {
    state
        .services
        .conversations
        .delete(caller.user, id.into_inner())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
