//! `POST /api/askatt/chat {message, conversation_id?}` → `{response,
//! tokens_remaining, conversation_id}`. Costs one token; an optional
//! `Idempotency-Key` makes a retry free.

use actix_web::{HttpResponse, web};
use askgate_domain::ConversationId;
use askgate_domain::conversation::{ChatMessage, ChatMessageError};
use askgate_domain::ledger::ServiceType;
use askgate_domain::services::ChatRequest;
use serde::Deserialize;

use crate::auth::AuthenticatedUser;
use crate::error::ApiError;
use crate::idempotency::IdempotencyKeyHeader;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct Body {
    message: String,
    #[serde(default)]
    conversation_id: Option<ConversationId>,
}

pub async fn handle(
    state: web::Data<AppState>,
    caller: AuthenticatedUser,
    key: IdempotencyKeyHeader,
    body: web::Json<Body>,
) -> Result<HttpResponse, ApiError> {
    let Body {
        message,
        conversation_id,
    } = body.into_inner();
    let request = ChatRequest {
        actor: caller.actor(),
        service: ServiceType::AskAtt,
        domain: None,
        message: ChatMessage::parse(&message).map_err(invalid_message)?,
        conversation: conversation_id,
        idempotency_key: key.into_key(),
    };
    super::answer(&state, request).await
}

/// 422 naming `message` when it is blank or longer than 8000 characters.
pub(crate) fn invalid_message(e: ChatMessageError) -> ApiError {
    ApiError::invalid_field("message", e.to_string())
}
