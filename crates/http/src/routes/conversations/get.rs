//! `GET /api/conversations/{id}`: `{conversation, messages}`, oldest message first.

use actix_web::{HttpResponse, web};
use askgate_domain::ConversationId;

use crate::auth::{Scoped, scope};
use crate::dto::ConversationDetailView;
use crate::error::ApiError;
use crate::state::AppState;

#[utoipa::path(
    get,
    path = "/api/conversations/{id}",
    tag = "conversations",
    params(("id" = uuid::Uuid, Path, description = "The conversation")),
    responses(
        (status = 200, description = "The conversation and its messages, oldest first", body = crate::dto::ConversationDetailView),
        (status = 404, description = "No such conversation of the caller's", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`id` is not a UUID", body = crate::dto::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub async fn handle(
    state: web::Data<AppState>,
    caller: Scoped<scope::HistoryRead>,
    id: web::Path<ConversationId>,
) -> Result<HttpResponse, ApiError> {
    let (conversation, messages) = state
        .services
        .conversations
        .get(caller.user, id.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(ConversationDetailView::new(&conversation, &messages)))
}
