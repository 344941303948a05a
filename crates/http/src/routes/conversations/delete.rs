//! `DELETE /api/conversations/{id}`: 204, with its messages.

use actix_web::{HttpResponse, web};
use askgate_domain::ConversationId;

use crate::auth::AuthenticatedUser;
use crate::error::ApiError;
use crate::routes::chat::not_configured;
use crate::state::AppState;

pub async fn handle(
    state: web::Data<AppState>,
    caller: AuthenticatedUser,
    id: web::Path<ConversationId>,
) -> Result<HttpResponse, ApiError> {
    let deleted = state
        .conversations()
        .ok_or_else(|| not_configured("conversations"))?
        .delete(caller.user, id.into_inner())
        .await?;
    if deleted {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::not_found("No such conversation."))
    }
}
