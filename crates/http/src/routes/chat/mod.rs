//! `POST /api/askatt/chat` and `POST /api/askdocs/chat`: one token per answer.
//!
//! The use case runs in a task of its own: when a client disconnects, actix
//! drops the handler's future, but the debit → upstream → refund sequence runs
//! to its end, so the ledger never keeps a charge for an answer nobody got
//! without its refund.

pub mod askatt;
pub mod askdocs;

use std::sync::Arc;

use actix_web::HttpResponse;
use askgate_domain::ports::ConversationRepository;
use askgate_domain::services::{ChatReply, ChatRequest, ChatService};

use crate::dto::ChatReplyView;
use crate::error::ApiError;
use crate::state::AppState;

/// The chat use case and the conversations it keeps; absent until the server
/// configures them (the endpoints then answer 503).
#[derive(Clone, Default)]
pub(crate) struct ChatState {
    service: Option<Arc<ChatService>>,
    conversations: Option<Arc<dyn ConversationRepository>>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0} is not configured")]
struct NotConfigured(&'static str);

impl AppState {
    /// Mounts the chat endpoints on this use case.
    #[must_use]
    pub fn with_chat(mut self, chat: Arc<ChatService>) -> Self {
        self.chat.service = Some(chat);
        self
    }

    /// The conversations behind `/api/conversations`.
    #[must_use]
    pub fn with_conversations(mut self, conversations: Arc<dyn ConversationRepository>) -> Self {
        self.chat.conversations = Some(conversations);
        self
    }

    #[must_use]
    pub fn chat_service(&self) -> Option<&Arc<ChatService>> {
        self.chat.service.as_ref()
    }

    #[must_use]
    pub fn conversations(&self) -> Option<&dyn ConversationRepository> {
        self.chat.conversations.as_deref()
    }
}

/// 503 for a part of the API the server did not configure.
pub(crate) fn not_configured(what: &'static str) -> ApiError {
    ApiError::unavailable(&NotConfigured(what))
}

#[derive(Debug, thiserror::Error)]
#[error("the chat task ended abnormally")]
struct ChatTaskFailed(#[source] tokio::task::JoinError);

/// Runs the chat to completion whatever happens to this request, then answers.
pub(crate) async fn answer(
    state: &AppState,
    request: ChatRequest,
) -> Result<HttpResponse, ApiError> {
    let chat = Arc::clone(state.chat_service().ok_or_else(|| not_configured("chat"))?);
    let upstream_wait = crate::metrics::current_upstream_wait();
    let task = tokio::spawn(crate::metrics::with_upstream_wait(
        upstream_wait,
        async move { chat.chat(request).await },
    ));
    let reply: ChatReply = task
        .await
        .map_err(|e| ApiError::internal(&ChatTaskFailed(e)))?
        .map_err(|e| {
            let error = ApiError::from(e);
            if state.grant_tokens_locally() {
                error.with_local_grant_hint()
            } else {
                error
            }
        })?;
    Ok(HttpResponse::Ok().json(ChatReplyView::from(&reply)))
}
