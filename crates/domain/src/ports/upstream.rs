use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_trait::async_trait;
use futures_core::Stream;

use crate::BoxError;
use crate::conversation::{ChatMessage, Turn};
use crate::domain::Domain;
use crate::ledger::ServiceType;

/// One question for an AI upstream.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamRequest {
    pub service: ServiceType,
    /// The AskDocs domain asked (with its endpoint and configuration).
    pub domain: Option<Arc<Domain>>,
    pub message: ChatMessage,
    /// Earlier turns of the conversation, oldest first.
    pub history: Vec<Turn>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamAnswer {
    pub text: String,
    /// Source references when the upstream gives them (AskDocs).
    pub sources: Vec<serde_json::Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// No answer within the configured timeout.
    #[error("upstream timed out")]
    Timeout,
    /// The upstream answered with an error or an unreadable body, or could not be reached.
    #[error("upstream failed: {0}")]
    Failed(String),
    /// The service token for the upstream could not be obtained.
    #[error("upstream credentials unavailable")]
    Credentials(#[source] BoxError),
}

/// One piece of an answer streamed as it is written.
#[derive(Debug, Clone, PartialEq)]
pub enum UpstreamEvent {
    /// The next piece of the answer's text.
    Delta(String),
    /// Source references (AskDocs), when the upstream gives them.
    Sources(Vec<serde_json::Value>),
}

/// An answer as it is written: events in order, ending when the upstream is
/// done. An `Err` item means the upstream broke off; nothing follows it.
/// Dropping the stream cancels the upstream request.
pub struct UpstreamStream(Pin<Box<dyn Stream<Item = Result<UpstreamEvent, UpstreamError>> + Send>>);

impl UpstreamStream {
    #[must_use]
    pub fn new(
        events: impl Stream<Item = Result<UpstreamEvent, UpstreamError>> + Send + 'static,
    ) -> Self {
        Self(Box::pin(events))
    }

    /// A whole answer as a stream: its text as one delta, then its sources.
    #[must_use]
    pub fn whole(answer: UpstreamAnswer) -> Self {
        let mut events = VecDeque::with_capacity(2);
        events.push_back(Ok(UpstreamEvent::Delta(answer.text)));
        if !answer.sources.is_empty() {
            events.push_back(Ok(UpstreamEvent::Sources(answer.sources)));
        }
        Self::new(Ready(events))
    }
}

impl Stream for UpstreamStream {
    type Item = Result<UpstreamEvent, UpstreamError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.as_mut().poll_next(cx)
    }
}

impl fmt::Debug for UpstreamStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UpstreamStream")
    }
}

/// Events that are all there already.
struct Ready(VecDeque<Result<UpstreamEvent, UpstreamError>>);

impl Stream for Ready {
    type Item = Result<UpstreamEvent, UpstreamError>;

    fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(self.0.pop_front())
    }
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AiUpstream: Send + Sync {
    /// Asks the upstream for `request.service` (and domain). MUST return
    /// `Timeout` when no answer came in time, so the caller can refund.
    async fn ask(&self, request: &UpstreamRequest) -> Result<UpstreamAnswer, UpstreamError>;

    /// Asks and streams the answer as it is written. Resolves once the
    /// upstream has accepted the question (or failed: then nothing was
    /// answered); the whole stream is bounded by the same timeout as
    /// [`Self::ask`]. An upstream that cannot stream answers as one delta,
    /// which is what this default does.
    async fn stream(&self, request: &UpstreamRequest) -> Result<UpstreamStream, UpstreamError> {
        self.ask(request).await.map(UpstreamStream::whole)
    }
}

/// A bearer token for calling an upstream. `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct ServiceToken(String);

impl ServiceToken {
    #[must_use]
    pub fn new(token: String) -> Self {
        Self(token)
    }

    /// The raw token, for the `Authorization` header only.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ServiceToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServiceToken(<redacted>)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceTokenError {
    #[error("the identity provider refused the client credentials")]
    Rejected(String),
    #[error("the identity provider could not be reached")]
    Unreachable(#[source] BoxError),
}

/// Client-credentials tokens for the upstreams, one per scope, cached.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ServiceTokenProvider: Send + Sync {
    /// A token for `scope` valid for at least five more minutes.
    async fn token(&self, scope: &str) -> Result<ServiceToken, ServiceTokenError>;
}
