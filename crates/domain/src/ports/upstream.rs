use async_trait::async_trait;

use crate::BoxError;
use crate::conversation::{ChatMessage, Turn};
use crate::domain::Domain;
use crate::ledger::ServiceType;

/// One question for an AI upstream.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamRequest {
    pub service: ServiceType,
    /// The AskDocs domain asked (with its endpoint and configuration).
    pub domain: Option<Domain>,
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

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AiUpstream: Send + Sync {
    /// Asks the upstream for `request.service` (and domain). MUST return
    /// `Timeout` when no answer came in time, so the caller can refund.
    async fn ask(&self, request: &UpstreamRequest) -> Result<UpstreamAnswer, UpstreamError>;
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
