//! The caller's conversations.

use askgate_domain::conversation::{Author, Conversation, Message};
use askgate_domain::page::Page;
use askgate_domain::{ConversationId, DomainId, MessageId, UserId};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::ServiceTypeView;

// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = Author)]
#[serde(rename_all = "lowercase")]
pub enum AuthorView {
    User,
    Assistant,
}

impl From<Author> for AuthorView {
    fn from(author: Author) -> Self {
        match author {
            Author::User => Self::User,
            Author::Assistant => Self::Assistant,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = Conversation)]
pub struct ConversationView {
    #[schema(value_type = uuid::Uuid)]
    pub id: ConversationId,
    #[schema(value_type = uuid::Uuid)]
    pub user_id: UserId,
    pub service_type: ServiceTypeView,
    #[schema(value_type = Option<uuid::Uuid>)]
    pub domain_id: Option<DomainId>,
    pub title: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Its latest answer was cut short (a streamed answer the client stopped,
    /// or one the AI service broke off).
    pub interrupted: bool,
}

impl From<&Conversation> for ConversationView {
    fn from(c: &Conversation) -> Self {
        Self {
            id: c.id,
            user_id: c.user_id,
            service_type: c.service_type.into(),
            domain_id: c.domain_id,
            title: c.title.clone(),
            created_at: c.created_at,
            updated_at: c.updated_at,
            interrupted: c.interrupted,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = Message)]
pub struct MessageView {
    #[schema(value_type = uuid::Uuid)]
    pub id: MessageId,
    #[schema(value_type = uuid::Uuid)]
    pub conversation_id: ConversationId,
    pub author: AuthorView,
    pub content: String,
    pub created_at: DateTime<Utc>,
    /// An answer that ended early: `content` is the part that was written.
    pub interrupted: bool,
}

impl From<&Message> for MessageView {
    fn from(m: &Message) -> Self {
        Self {
            id: m.id,
            conversation_id: m.conversation_id,
            author: m.author.into(),
            content: m.content.clone(),
            created_at: m.created_at,
            interrupted: m.interrupted,
        }
    }
}

/// One page of conversations, most recently updated first.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = ConversationPage)]
pub struct ConversationPageView {
    pub items: Vec<ConversationView>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

impl From<&Page<Conversation>> for ConversationPageView {
    fn from(page: &Page<Conversation>) -> Self {
        Self {
            items: page.items.iter().map(ConversationView::from).collect(),
            next_cursor: page.next_cursor.clone(),
        }
    }
}

/// A conversation and its messages, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = ConversationDetail)]
pub struct ConversationDetailView {
    pub conversation: ConversationView,
    pub messages: Vec<MessageView>,
}

impl ConversationDetailView {
    #[must_use]
    pub fn new(conversation: &Conversation, messages: &[Message]) -> Self {
        Self {
            conversation: conversation.into(),
            messages: messages.iter().map(MessageView::from).collect(),
        }
    }
}
