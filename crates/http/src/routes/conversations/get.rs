//! `GET /api/conversations/{id}`: `{conversation, messages}`, oldest message first.

use actix_web::{HttpResponse, web};
use askgate_domain::ConversationId;
use serde_json::json;

use crate::auth::AuthenticatedUser;
use crate::error::ApiError;
use crate::routes::chat::not_configured;
use crate::state::AppState;

pub async fn handle(
    state: web::Data<AppState>,
    caller: AuthenticatedUser,
    id: web::Path<ConversationId>,
) -> Result<HttpResponse, ApiError> {
    let (conversation, messages) = state
        .conversations()
        .ok_or_else(|| not_configured("conversations"))?
        .get(caller.user, id.into_inner())
        .await?
        .ok_or_else(|| ApiError::not_found("No such conversation."))?;
    Ok(HttpResponse::Ok().json(json!({
        "conversation": conversation,
        "messages": messages,
    })))
}
