//! A chat's answer, and how it is kept for an idempotent replay.

use askgate_domain::ports::{ReplyFormat, StoredReply};
use askgate_domain::services::ChatReply;
use askgate_domain::{BoxError, ConversationId, Tokens};
use serde::{Deserialize, Serialize};

/// A chat answer. One token was charged for it (none for an idempotent replay).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = ChatReply)]
pub struct ChatReplyView {
    pub response: String,
    #[schema(minimum = 0)]
    pub tokens_remaining: i32,
    #[schema(value_type = Option<uuid::Uuid>)]
    pub conversation_id: Option<ConversationId>,
    /// AskDocs: the domain's name (slug).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain_name: Option<String>,
    /// AskDocs: the documents the answer came from, as the upstream sent them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<serde_json::Value>,
    /// Present (`true`) only when replaying a streamed answer the client
    /// stopped reading: `response` is the part written until then.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
}

impl From<&ChatReply> for ChatReplyView {
    fn from(reply: &ChatReply) -> Self {
        Self {
            response: reply.response.clone(),
            tokens_remaining: reply.tokens_remaining.get(),
            conversation_id: reply.conversation_id,
            domain_name: reply.domain_name.clone(),
            sources: reply.sources.clone(),
            interrupted: reply.interrupted,
        }
    }
}

impl TryFrom<ChatReplyView> for ChatReply {
    type Error = BoxError;

    fn try_from(view: ChatReplyView) -> Result<Self, Self::Error> {
        Ok(Self {
            response: view.response,
            tokens_remaining: Tokens::new(view.tokens_remaining.into())?,
            conversation_id: view.conversation_id,
            domain_name: view.domain_name,
            sources: view.sources,
            interrupted: view.interrupted,
        })
    }
}

/// Chat replies as kept under their `Idempotency-Key`.
///
/// Version 1 is the [`ChatReplyView`] body. When that body changes, the new
/// shape gets the next version and the old ones stay readable: a key lives
/// for a day, across upgrades.
#[derive(Debug, Clone, Copy, Default)]
pub struct ChatReplyFormat;

impl ChatReplyFormat {
    /// The version [`ReplyFormat::seal`] writes.
    pub const VERSION: u16 = 1;
}

/// A stored reply in a version this release does not know.
#[derive(Debug, thiserror::Error)]
#[error("a stored chat reply is in format {0}, which this release cannot read")]
struct UnknownVersion(u16);

impl ReplyFormat for ChatReplyFormat {
    fn seal(&self, reply: &ChatReply) -> Result<StoredReply, BoxError> {
        let body = serde_json::to_value(ChatReplyView::from(reply))?;
        Ok(StoredReply::new(Self::VERSION, body))
    }

    fn open(&self, stored: &StoredReply) -> Result<ChatReply, BoxError> {
        match stored.version() {
            1 => ChatReplyView::deserialize(stored.body())?.try_into(),
            other => Err(UnknownVersion(other).into()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;

    fn reply() -> ChatReply {
        ChatReply {
            response: "42".into(),
            tokens_remaining: Tokens::new(7).unwrap(),
            conversation_id: Some(ConversationId::generate()),
            domain_name: Some("hr".into()),
            sources: vec![json!({"title": "handbook"})],
            interrupted: false,
        }
    }

    #[test]
    fn a_sealed_reply_opens_as_it_was() {
        let format = ChatReplyFormat;
        let reply = reply();
        let stored = format.seal(&reply).unwrap();
        assert_eq!(stored.version(), ChatReplyFormat::VERSION);
        assert_eq!(format.open(&stored).unwrap(), reply);
    }

    /// What releases before versioned replies stored (the body as sent) reads
    /// back as version 1.
    #[test]
    fn a_reply_stored_as_version_1_still_opens() {
        let conversation = ConversationId::generate();
        let stored = StoredReply::new(
            1,
            json!({
                "response": "first",
                "tokens_remaining": 3,
                "conversation_id": conversation,
            }),
        );
        let opened = ChatReplyFormat.open(&stored).unwrap();
        assert_eq!(opened.response, "first");
        assert_eq!(opened.tokens_remaining.get(), 3);
        assert_eq!(opened.conversation_id, Some(conversation));
        assert_eq!(opened.domain_name, None);
        assert!(opened.sources.is_empty());
        assert!(!opened.interrupted);
    }

    #[test]
    fn an_unknown_version_is_an_error_not_a_guess() {
        let stored = ChatReplyFormat.seal(&reply()).unwrap();
        let later = StoredReply::new(ChatReplyFormat::VERSION + 1, stored.body().clone());
        assert!(ChatReplyFormat.open(&later).is_err());
    }

    #[test]
    fn the_wire_shape_leaves_out_what_askatt_does_not_have() {
        let mut askatt = reply();
        askatt.domain_name = None;
        askatt.sources.clear();
        askatt.conversation_id = None;
        assert_eq!(
            serde_json::to_value(ChatReplyView::from(&askatt)).unwrap(),
            json!({"response": "42", "tokens_remaining": 7, "conversation_id": null})
        );
    }
}
