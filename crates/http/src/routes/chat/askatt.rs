//! `POST /api/askatt/chat {message, conversation_id?}` → `{response,
//! tokens_remaining, conversation_id}`. Costs one token; an optional
//! `Idempotency-Key` makes a retry free.

use actix_web::{HttpResponse, web};
use askgate_domain::ConversationId;
use askgate_domain::conversation::{ChatMessage, ChatMessageError};
use askgate_domain::ledger::ServiceType;
use askgate_domain::services::ChatRequest;
use serde::Deserialize;

use crate::auth::{Scoped, scope};
use crate::error::ApiError;
use crate::idempotency::IdempotencyKeyHeader;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = AskAttChatRequest)]
pub struct Body {
    /// 1 to 8000 characters, not blank, no NUL character.
    #[schema(
        min_length = 1,
        max_length = 8000,
        pattern = "^[^\\x00]*[^\\s\\x00][^\\x00]*$"
    )]
    message: String,
    /// Continue this conversation; without it a new one starts.
    #[serde(default)]
    #[schema(value_type = Option<uuid::Uuid>)]
    conversation_id: Option<ConversationId>,
}

#[utoipa::path(
    post,
    path = "/api/askatt/chat",
    tag = "chat",
    request_body = Body,
    params(("Idempotency-Key" = Option<String>, Header, description = "1 to 255 visible ASCII characters; a retry with the same key and body is answered without a second charge", min_length = 1, max_length = 255, pattern = "^[\\x21-\\x7E]+$")),
    responses(
        (status = 200, description = "The answer; one token was charged. With `Accept: text/event-stream`, the answer as it is written: Server-Sent Events `start` (StartEvent), `delta` (DeltaEvent)…, `sources` (SourcesEvent), then `done` (DoneEvent) or `error` (ErrorEvent), each one JSON object on one `data:` line, with `: keep-alive` comments while idle", content(
            (crate::dto::ChatReplyView = "application/json"),
            (String = "text/event-stream", example = json!("event: start\ndata: {\"conversation_id\":\"0192f0c4-6f1e-7c3a-9d2b-5a1e8c4b7d20\",\"tokens_remaining\":9,\"domain_name\":null}\n\nevent: delta\ndata: {\"text\":\"Hello\"}\n\nevent: done\ndata: {\"length\":5,\"tokens_remaining\":9,\"finish_reason\":\"stop\"}\n\n")),
        )),
        (status = 402, description = "No tokens left (`balance`, `purchase_url`)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such conversation", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 409, description = "A request with this Idempotency-Key is still running", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests (`Retry-After`, `RateLimit-*`)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 502, description = "The AI service failed; no token was charged", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 504, description = "The AI service timed out; no token was charged", body = crate::dto::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub async fn handle(
    state: web::Data<AppState>,
    caller: Scoped<scope::Chat>,
    key: IdempotencyKeyHeader,
    answer_as: super::AnswerAs,
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
        message: ChatMessage::try_from(message).map_err(invalid_message)?,
        conversation: conversation_id,
        idempotency_key: key.into_key(),
        api_key: caller.api_key_ref(),
    };
    super::respond(&state, "/api/askatt/chat", answer_as, request).await
}

/// 422 naming `message` when it is blank or longer than 8000 characters.
pub(crate) fn invalid_message(e: ChatMessageError) -> ApiError {
    ApiError::invalid_field("message", e.to_string())
}
