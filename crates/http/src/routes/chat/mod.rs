//! `POST /api/askatt/chat` and `POST /api/askdocs/chat`: one token per answer,
//! whole (JSON) or as it is written (`Accept: text/event-stream`, see
//! `stream.rs`).
//!
//! The use case runs in a task of its own: when a client disconnects, actix
//! drops the handler's future, but the debit → upstream → refund sequence runs
//! to its end, so the ledger never keeps a charge for an answer nobody got
//! without its refund.

pub mod askatt;
pub mod askdocs;
mod stream;

pub use stream::AnswerAs;

use std::sync::Arc;

use actix_web::HttpResponse;
use askgate_domain::services::{ChatError, ChatReply, ChatRequest};

use crate::dto::ChatReplyView;
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, thiserror::Error)]
#[error("the chat task ended abnormally")]
struct ChatTaskFailed(#[source] tokio::task::JoinError);

/// Answers `request` as the client asked: whole, or as a stream.
pub(crate) async fn respond(
    state: &AppState,
    route: &'static str,
    answer_as: AnswerAs,
    request: ChatRequest,
) -> Result<HttpResponse, ApiError> {
    match answer_as {
        AnswerAs::Json => answer(state, request).await,
        AnswerAs::EventStream => stream::answer(state, route, request).await,
    }
}

/// The error answer of a refused chat, with a hint on getting tokens locally
/// when the server can grant them.
fn problem(state: &AppState, error: ChatError) -> ApiError {
    let error = ApiError::from(error);
    if state.grant_tokens_locally() {
        error.with_local_grant_hint()
    } else {
        error
    }
}

/// Runs the chat to completion whatever happens to this request, then answers.
async fn answer(state: &AppState, request: ChatRequest) -> Result<HttpResponse, ApiError> {
    let chat = Arc::clone(&state.services.chat);
    let upstream_wait = crate::metrics::current_upstream_wait();
    let task = tokio::spawn(crate::metrics::with_upstream_wait(
        upstream_wait,
        async move { chat.chat(request).await },
    ));
    let reply: ChatReply = task
        .await
        .map_err(|e| ApiError::internal(&ChatTaskFailed(e)))?
        .map_err(|e| problem(state, e))?;
    Ok(HttpResponse::Ok().json(ChatReplyView::from(&reply)))
}
