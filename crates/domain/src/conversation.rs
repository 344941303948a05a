//! Conversations a user keeps with a service.

use crate::ledger::ServiceType;
use crate::newtype::string_newtype;
use crate::{ConversationId, DomainId, MessageId, UserId};
use chrono::{DateTime, Utc};

/// Largest chat message accepted, in characters.
pub const MAX_MESSAGE_CHARS: usize = 8000;

string_newtype! {
    /// A question a user asks: 1–8000 characters, not blank, no NUL character.
    pub struct ChatMessage(String), check = ChatMessageError;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("message must be 1 to 8000 characters, not blank, and without NUL characters")]
pub struct ChatMessageError;

impl ChatMessage {
    fn check(raw: &str) -> Result<(), ChatMessageError> {
        let ok = !raw.trim().is_empty()
            && raw.chars().count() <= MAX_MESSAGE_CHARS
            && crate::text::is_storable(raw);
        if ok { Ok(()) } else { Err(ChatMessageError) }
    }
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Author {
    User,
    Assistant,
}

impl Author {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Assistant => "assistant",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    pub id: ConversationId,
    pub user_id: UserId,
    pub service_type: ServiceType,
    pub domain_id: Option<DomainId>,
    pub title: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Its latest answer was cut short (see [`Message::interrupted`]).
    pub interrupted: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub author: Author,
    pub content: String,
    pub created_at: DateTime<Utc>,
    /// An answer that ended early: the client stopped reading it, or the
    /// upstream broke off. `content` is the part that was written.
    pub interrupted: bool,
}

/// A turn of earlier conversation sent to an upstream for context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    pub author: Author,
    pub content: String,
}

/// A conversation's title: the first 80 characters of its first message, on one line.
#[must_use]
pub fn title_from(message: &ChatMessage) -> String {
    let one_line: String = message
        .as_str()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    one_line.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_bounded_and_not_blank() {
        assert!(ChatMessage::parse("hi").is_ok());
        assert!(ChatMessage::parse(" \n\t").is_err());
        assert!(ChatMessage::parse(&"x".repeat(MAX_MESSAGE_CHARS)).is_ok());
        assert!(ChatMessage::parse(&"x".repeat(MAX_MESSAGE_CHARS + 1)).is_err());
    }

    #[test]
    fn a_message_with_a_nul_is_refused_because_it_could_not_be_kept() {
        assert_eq!(ChatMessage::parse("a\0b"), Err(ChatMessageError));
        assert!(ChatMessage::parse("tabs\tand\nnewlines are fine").is_ok());
    }

    #[test]
    fn titles_are_one_short_line() {
        let m = ChatMessage::parse(&format!("What is\n the  {}", "y".repeat(200))).unwrap();
        let t = title_from(&m);
        assert!(t.starts_with("What is the yy"));
        assert_eq!(t.chars().count(), 80);
    }
}
