//! `POST /api/askdocs/chat {message, domain_id, conversation_id?}` →
//! `{response, tokens_remaining, domain_name, conversation_id}`. Costs one
//! token; an unknown or inactive domain is 404 before any charge.

use actix_web::{HttpResponse, web};
use askgate_domain::conversation::ChatMessage;
use askgate_domain::ledger::ServiceType;
use askgate_domain::services::ChatRequest;
use askgate_domain::{ConversationId, DomainId};
use serde::Deserialize;

use super::askatt::invalid_message;
use crate::auth::AuthenticatedUser;
use crate::error::ApiError;
use crate::idempotency::IdempotencyKeyHeader;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct Body {
    message: String,
    /// Missing: 422 naming `domain_id` (from the use case).
    #[serde(default)]
    domain_id: Option<DomainId>,
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
        domain_id,
        conversation_id,
    } = body.into_inner();
    let request = ChatRequest {
        actor: caller.actor(),
        service: ServiceType::AskDocs,
        domain: domain_id,
        message: ChatMessage::parse(&message).map_err(invalid_message)?,
        conversation: conversation_id,
        idempotency_key: key.into_key(),
    };
    super::answer(&state, request).await
}
