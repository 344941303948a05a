//! `ConversationRepository` on PostgreSQL.
//!
//! Every query is scoped by `user_id`, so someone else's conversation looks
//! exactly like one that does not exist. A chat's question and answer are
//! written when its charge settles (`askgate_settle_charge`, see `charges.rs`),
//! in one transaction with the conversation's `updated_at`.

use std::str::FromStr;

use askgate_domain::conversation::{Author, Conversation, Message, Turn};
use askgate_domain::ledger::ServiceType;
use askgate_domain::page::{Cursor, Page, PageRequest};
use askgate_domain::ports::ConversationRepository;
use askgate_domain::{ConversationId, DomainId, MessageId, StoreError, UserId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::Database;
use crate::errors::store;
use crate::schema::{conversations, messages};

/// Conversations and their messages.
#[derive(Debug, Clone)]
pub struct PgConversations {
    db: Database,
}

impl PgConversations {
    #[must_use]
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = conversations, check_for_backend(diesel::pg::Pg))]
struct ConversationRow {
    id: Uuid,
    user_id: Uuid,
    service_type: String,
    domain_id: Option<Uuid>,
    title: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = messages, check_for_backend(diesel::pg::Pg))]
struct MessageRow {
    id: Uuid,
    conversation_id: Uuid,
    author: String,
    content: String,
    created_at: DateTime<Utc>,
    interrupted: bool,
}

/// A stored value the domain does not accept: the schema should have prevented it.
fn corrupt(column: &'static str) -> StoreError {
    StoreError::unexpected(format!("invalid value in {column}"))
}

fn author(raw: &str) -> Result<Author, StoreError> {
    match raw {
        "user" => Ok(Author::User),
        "assistant" => Ok(Author::Assistant),
        _ => Err(corrupt("messages.author")),
    }
}

/// The conversation of `row`; `interrupted`: its latest answer was cut short.
fn conversation(row: ConversationRow, interrupted: bool) -> Result<Conversation, StoreError> {
    Ok(Conversation {
        id: ConversationId::from_uuid(row.id),
        user_id: UserId::from_uuid(row.user_id),
        service_type: ServiceType::from_str(&row.service_type)
            .map_err(|_| corrupt("conversations.service_type"))?,
        domain_id: row.domain_id.map(DomainId::from_uuid),
        title: row.title,
        created_at: row.created_at,
        updated_at: row.updated_at,
        interrupted,
    })
}

impl TryFrom<MessageRow> for Message {
    type Error = StoreError;

    fn try_from(row: MessageRow) -> Result<Self, Self::Error> {
        Ok(Self {
            id: MessageId::from_uuid(row.id),
            conversation_id: ConversationId::from_uuid(row.conversation_id),
            author: author(&row.author)?,
            content: row.content,
            created_at: row.created_at,
            interrupted: row.interrupted,
        })
    }
}

/// Whether the conversation's latest answer was cut short: one step back along
/// `messages_conversation_order` per conversation listed.
fn latest_answer_interrupted() -> diesel::expression::SqlLiteral<diesel::sql_types::Bool> {
    diesel::dsl::sql(
        "COALESCE((SELECT m.interrupted FROM messages m \
          WHERE m.conversation_id = conversations.id AND m.author = 'assistant' \
          ORDER BY m.created_at DESC, m.id DESC LIMIT 1), false)",
    )
}

/// The conversation when it is the user's.
fn owned(user: UserId, id: ConversationId) -> conversations::BoxedQuery<'static, diesel::pg::Pg> {
    conversations::table
        .filter(conversations::id.eq(id.as_uuid()))
        .filter(conversations::user_id.eq(user.as_uuid()))
        .into_boxed()
}

#[async_trait]
impl ConversationRepository for PgConversations {
    async fn recent_turns(
        &self,
        user: UserId,
        id: ConversationId,
        limit: u16,
    ) -> Result<Option<Vec<Turn>>, StoreError> {
        let mut conn = self.db.conn().await.map_err(store)?;
        let exists = diesel::select(diesel::dsl::exists(owned(user, id)))
            .get_result::<bool>(&mut conn)
            .await
            .map_err(store)?;
        if !exists {
            return Ok(None);
        }
        let mut rows: Vec<(String, String)> = messages::table
            .filter(messages::conversation_id.eq(id.as_uuid()))
            .order((messages::created_at.desc(), messages::id.desc()))
            .limit(i64::from(limit))
            .select((messages::author, messages::content))
            .load(&mut conn)
            .await
            .map_err(store)?;
        rows.reverse();
        rows.into_iter()
            .map(|(who, content)| {
                Ok(Turn {
                    author: author(&who)?,
                    content,
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    async fn list(
        &self,
        user: UserId,
        page: PageRequest,
    ) -> Result<Page<Conversation>, StoreError> {
        let mut conn = self.db.conn().await.map_err(store)?;
        let limit = usize::from(page.limit.get());
        let mut query = conversations::table
            .filter(conversations::user_id.eq(user.as_uuid()))
            .select((ConversationRow::as_select(), latest_answer_interrupted()))
            .order((conversations::updated_at.desc(), conversations::id.desc()))
            // One more than asked for tells whether another page follows.
            .limit(i64::from(page.limit.get()) + 1)
            .into_boxed();
        // The cursor's time is the last item's `updated_at`: the order of the list.
        if let Some(after) = page.after {
            query = query.filter(
                conversations::updated_at
                    .lt(after.created_at)
                    .or(conversations::updated_at
                        .eq(after.created_at)
                        .and(conversations::id.lt(after.id))),
            );
        }
        let mut rows = query.load(&mut conn).await.map_err(store)?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let items = rows
            .into_iter()
            .map(|(row, interrupted)| conversation(row, interrupted))
            .collect::<Result<Vec<_>, _>>()?;
        let next_cursor = match items.last() {
            Some(last) if more => Some(
                Cursor {
                    created_at: last.updated_at,
                    id: last.id.as_uuid(),
                }
                .encode(),
            ),
            _ => None,
        };
        Ok(Page { items, next_cursor })
    }

    async fn get(
        &self,
        user: UserId,
        id: ConversationId,
    ) -> Result<Option<(Conversation, Vec<Message>)>, StoreError> {
        let mut conn = self.db.conn().await.map_err(store)?;
        let Some(row) = owned(user, id)
            .select(ConversationRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map_err(store)?
        else {
            return Ok(None);
        };
        let messages: Vec<Message> = messages::table
            .filter(messages::conversation_id.eq(id.as_uuid()))
            .order((messages::created_at.asc(), messages::id.asc()))
            .select(MessageRow::as_select())
            .load(&mut conn)
            .await
            .map_err(store)?
            .into_iter()
            .map(Message::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        let interrupted = messages
            .iter()
            .rev()
            .find(|m| m.author == Author::Assistant)
            .is_some_and(|m| m.interrupted);
        Ok(Some((conversation(row, interrupted)?, messages)))
    }

    #[tracing::instrument(skip_all, fields(user_id = %user, conversation_id = %id))]
    async fn delete(&self, user: UserId, id: ConversationId) -> Result<bool, StoreError> {
        let mut conn = self.db.conn().await.map_err(store)?;
        let deleted = diesel::delete(
            conversations::table
                .filter(conversations::id.eq(id.as_uuid()))
                .filter(conversations::user_id.eq(user.as_uuid())),
        )
        .execute(&mut conn)
        .await
        .map_err(store)?;
        Ok(deleted > 0)
    }
}
