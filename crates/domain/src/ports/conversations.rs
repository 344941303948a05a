use async_trait::async_trait;

use crate::conversation::{ChatMessage, Conversation, Message, Turn};
use crate::ledger::ServiceType;
use crate::page::{Page, PageRequest};
use crate::{ConversationId, DomainId, StoreError, UserId};

/// Where a chat's messages go.
#[derive(Debug, Clone, PartialEq)]
pub enum ConversationTarget {
    /// Start a new conversation titled after the first message.
    New {
        service: ServiceType,
        domain: Option<DomainId>,
    },
    /// Continue one the user owns.
    Existing(ConversationId),
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ConversationRepository: Send + Sync {
    /// The last `limit` turns of a conversation the user owns, oldest first.
    /// `Ok(None)` when it does not exist or belongs to someone else.
    async fn recent_turns(
        &self,
        user: UserId,
        id: ConversationId,
        limit: u16,
    ) -> Result<Option<Vec<Turn>>, StoreError>;

    /// Appends the question and its answer (creating the conversation when
    /// `target` is `New`) and returns the conversation id. `Ok(None)` when an
    /// `Existing` conversation is not the user's.
    async fn append_exchange(
        &self,
        user: UserId,
        target: &ConversationTarget,
        question: &ChatMessage,
        answer: &str,
    ) -> Result<Option<ConversationId>, StoreError>;

    /// The user's conversations, most recently updated first.
    async fn list(&self, user: UserId, page: PageRequest)
    -> Result<Page<Conversation>, StoreError>;

    /// A conversation with its messages, oldest first; `Ok(None)` when it does
    /// not exist or is someone else's (existence is not leaked).
    async fn get(
        &self,
        user: UserId,
        id: ConversationId,
    ) -> Result<Option<(Conversation, Vec<Message>)>, StoreError>;

    /// `Ok(false)` when it does not exist or is someone else's.
    async fn delete(&self, user: UserId, id: ConversationId) -> Result<bool, StoreError>;
}
