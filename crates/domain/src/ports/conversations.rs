use async_trait::async_trait;

use crate::conversation::{Conversation, Message, Turn};
use crate::page::{Page, PageRequest};
use crate::{ConversationId, StoreError, UserId};

/// Conversations and their messages, as their owner reads and deletes them.
/// A chat's exchange is recorded when its charge settles
/// ([`Charges::settle`](super::Charges::settle)).
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
