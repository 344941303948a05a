//! Reading and deleting one's own conversations. Someone else's conversation
//! is answered like one that does not exist, so existence is not leaked.

use std::sync::Arc;

use tracing::instrument;

use crate::conversation::{Conversation, Message};
use crate::page::{Page, PageRequest};
use crate::ports::ConversationRepository;
use crate::{BoxError, ConversationId, StoreError, UserId};

#[derive(Debug, thiserror::Error)]
pub enum ConversationError {
    /// It does not exist, or it is someone else's.
    #[error("conversation not found")]
    NotFound,
    #[error("service unavailable")]
    Unavailable(#[source] BoxError),
    #[error("unexpected error")]
    Unexpected(#[source] BoxError),
}

impl From<StoreError> for ConversationError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => Self::Unavailable(Box::new(e)),
            StoreError::Conflict(_) | StoreError::Unexpected(_) => Self::Unexpected(Box::new(e)),
        }
    }
}

pub struct ConversationService {
    conversations: Arc<dyn ConversationRepository>,
}

impl ConversationService {
    #[must_use]
    pub fn new(conversations: Arc<dyn ConversationRepository>) -> Self {
        Self { conversations }
    }

    /// The owner's conversations, most recently updated first.
    #[instrument(skip_all, fields(user_id = %owner))]
    pub async fn list(
        &self,
        owner: UserId,
        page: PageRequest,
    ) -> Result<Page<Conversation>, ConversationError> {
        Ok(self.conversations.list(owner, page).await?)
    }

    /// A conversation of the owner's with its messages, oldest first.
    #[instrument(skip_all, fields(user_id = %owner, conversation_id = %id))]
    pub async fn get(
        &self,
        owner: UserId,
        id: ConversationId,
    ) -> Result<(Conversation, Vec<Message>), ConversationError> {
        self.conversations
            .get(owner, id)
            .await?
            .ok_or(ConversationError::NotFound)
    }

    /// Deletes a conversation of the owner's with its messages.
    #[instrument(skip_all, fields(user_id = %owner, conversation_id = %id))]
    pub async fn delete(&self, owner: UserId, id: ConversationId) -> Result<(), ConversationError> {
        if self.conversations.delete(owner, id).await? {
            Ok(())
        } else {
            Err(ConversationError::NotFound)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::MockConversationRepository;

    #[tokio::test]
    async fn someone_elses_or_a_missing_conversation_is_not_found() {
        let owner = UserId::generate();
        let id = ConversationId::generate();
        let mut repo = MockConversationRepository::new();
        repo.expect_get()
            .withf(move |u, c| *u == owner && *c == id)
            .returning(|_, _| Ok(None));
        repo.expect_delete()
            .withf(move |u, c| *u == owner && *c == id)
            .returning(|_, _| Ok(false));
        let service = ConversationService::new(Arc::new(repo));
        assert!(matches!(
            service.get(owner, id).await,
            Err(ConversationError::NotFound)
        ));
        assert!(matches!(
            service.delete(owner, id).await,
            Err(ConversationError::NotFound)
        ));
    }

    #[tokio::test]
    async fn an_unreachable_store_is_unavailable_not_missing() {
        let mut repo = MockConversationRepository::new();
        repo.expect_delete()
            .returning(|_, _| Err(StoreError::Unavailable("pool exhausted".into())));
        let service = ConversationService::new(Arc::new(repo));
        assert!(matches!(
            service
                .delete(UserId::generate(), ConversationId::generate())
                .await,
            Err(ConversationError::Unavailable(_))
        ));
    }
}
