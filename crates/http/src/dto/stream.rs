//! The events of a streamed chat (`Accept: text/event-stream`).
//!
//! Each is one Server-Sent Event: `event: <name>` and one `data:` line holding
//! a JSON object. JSON escapes every line break inside a string, so an object
//! always fits on one line.

use askgate_domain::ConversationId;
use askgate_domain::services::{ChatEvent, StreamFailure};
use serde::Serialize;

use super::Problem;
use crate::error::ApiError;

/// `start`: the token is held.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StartEvent {
    #[schema(value_type = Option<uuid::Uuid>)]
    pub conversation_id: Option<ConversationId>,
    /// The balance with this chat's token held.
    #[schema(minimum = 0)]
    pub tokens_remaining: i32,
    /// AskDocs: the domain's name (slug).
    pub domain_name: Option<String>,
}

/// `delta`: the next piece of the answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DeltaEvent {
    pub text: String,
}

/// `sources`: AskDocs, the documents the answer came from, as the upstream sent them.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SourcesEvent {
    pub sources: Vec<serde_json::Value>,
}

/// Why an answer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FinishReason {
    /// The AI service finished it.
    Stop,
    /// A replayed answer that had been cut short when its client left.
    Interrupted,
}

/// `done`: the answer is complete and its token spent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DoneEvent {
    /// The whole answer's length, in characters.
    #[schema(minimum = 0)]
    pub length: usize,
    #[schema(minimum = 0)]
    pub tokens_remaining: i32,
    pub finish_reason: FinishReason,
}

/// `error`: the answer cannot be completed. The problem's `code` is one a
/// whole answer fails with (`upstream_failed`, `upstream_timeout`,
/// `unavailable`, `internal`).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ErrorEvent {
    #[serde(flatten)]
    pub problem: Problem,
    /// The held token was given back.
    pub refunded: bool,
    /// The part written before the failure is kept in the conversation,
    /// marked interrupted.
    pub partial_kept: bool,
    /// The balance after the refund, when known.
    #[schema(minimum = 0)]
    pub tokens_remaining: Option<i32>,
}

/// One event of a streamed chat, named as it is sent.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    Start(StartEvent),
    Delta(DeltaEvent),
    Sources(SourcesEvent),
    Done(DoneEvent),
    Error(ErrorEvent),
}

impl StreamEvent {
    /// The `event:` name.
    #[must_use]
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Start(_) => "start",
            Self::Delta(_) => "delta",
            Self::Sources(_) => "sources",
            Self::Done(_) => "done",
            Self::Error(_) => "error",
        }
    }

    /// The event as it goes on the wire, blank line included.
    #[must_use]
    pub fn to_sse(&self) -> String {
        let data = match self {
            Self::Start(e) => serde_json::to_string(e),
            Self::Delta(e) => serde_json::to_string(e),
            Self::Sources(e) => serde_json::to_string(e),
            Self::Done(e) => serde_json::to_string(e),
            Self::Error(e) => serde_json::to_string(e),
        };
        // Serialising these strings, numbers and JSON values cannot fail; an
        // empty object stands in should it ever.
        let data = data.unwrap_or_else(|_| "{}".to_owned());
        format!("event: {}\ndata: {data}\n\n", self.name())
    }
}

impl From<ChatEvent> for StreamEvent {
    fn from(event: ChatEvent) -> Self {
        match event {
            ChatEvent::Start {
                conversation_id,
                tokens_remaining,
                domain_name,
            } => Self::Start(StartEvent {
                conversation_id,
                tokens_remaining: tokens_remaining.get(),
                domain_name,
            }),
            ChatEvent::Delta(text) => Self::Delta(DeltaEvent { text }),
            ChatEvent::Sources(sources) => Self::Sources(SourcesEvent { sources }),
            ChatEvent::Done {
                length,
                tokens_remaining,
                interrupted,
            } => Self::Done(DoneEvent {
                length,
                tokens_remaining: tokens_remaining.get(),
                finish_reason: if interrupted {
                    FinishReason::Interrupted
                } else {
                    FinishReason::Stop
                },
            }),
            ChatEvent::Failed(failure) => Self::Error(ErrorEvent::from(failure)),
        }
    }
}

impl From<StreamFailure> for ErrorEvent {
    fn from(failure: StreamFailure) -> Self {
        Self {
            problem: ApiError::from(failure.error).problem(),
            refunded: failure.refunded,
            partial_kept: failure.partial_kept,
            tokens_remaining: failure.tokens_remaining.map(|t| t.get()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use askgate_domain::Tokens;
    use askgate_domain::services::ChatError;

    use super::*;

    #[test]
    fn a_piece_with_line_breaks_stays_one_data_line() {
        let sse = StreamEvent::from(ChatEvent::Delta("one\ntwo\r\n\nthree".into())).to_sse();
        assert_eq!(
            sse,
            "event: delta\ndata: {\"text\":\"one\\ntwo\\r\\n\\nthree\"}\n\n"
        );
    }

    #[test]
    fn a_failure_is_the_problem_of_the_same_error_as_a_whole_answer() {
        let event = StreamEvent::from(ChatEvent::Failed(StreamFailure {
            error: ChatError::UpstreamTimeout,
            refunded: true,
            partial_kept: true,
            tokens_remaining: Some(Tokens::new(3).unwrap()),
        }));
        let sse = event.to_sse();
        let data: serde_json::Value =
            serde_json::from_str(sse.strip_prefix("event: error\ndata: ").unwrap().trim_end())
                .unwrap();
        assert_eq!(data["code"], "upstream_timeout");
        assert_eq!(data["status"], 504);
        assert_eq!(data["refunded"], true);
        assert_eq!(data["partial_kept"], true);
        assert_eq!(data["tokens_remaining"], 3);
    }
}
