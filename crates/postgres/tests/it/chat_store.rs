//! Conversations on a real PostgreSQL, their exchanges recorded as chats
//! record them: when a charge settles (idempotency keys: tests/it/charges.rs).

use askgate_domain::conversation::Author;
use askgate_domain::ledger::ServiceType;
use askgate_domain::page::PageRequest;
use askgate_domain::ports::{ConversationRepository, ExchangeTarget, SettleOutcome};
use askgate_domain::{ConversationId, UserId};
use askgate_postgres::testing::{TestDatabase, exchange, user_with};
use askgate_postgres::{PgCharges, PgConversations};

async fn user(db: &TestDatabase) -> UserId {
    user_with(&db.database(), 10).await
}

/// A chat as the chat use case records it: a charge reserved, then settled
/// with its exchange in `target`. Returns where the exchange went (`None`: an
/// existing conversation that is not the user's).
async fn chat(
    charges: &PgCharges,
    user: UserId,
    target: Option<ConversationId>,
    question: &str,
    answer: &str,
) -> Option<ConversationId> {
    let target = match target {
        Some(id) => ExchangeTarget::Existing(id),
        None => ExchangeTarget::New(ConversationId::generate()),
    };
    let settled = exchange(charges, user, target, question, answer).await;
    assert_eq!(settled.outcome, SettleOutcome::Charged);
    settled.conversation
}

// --- conversations -------------------------------------------------------------

#[tokio::test]
async fn a_settled_chat_creates_a_conversation_and_the_next_continues_it_in_order() {
    let db = TestDatabase::new().await;
    let repo = PgConversations::new(db.database());
    let charges = PgCharges::new(db.database());
    let ann = user(&db).await;

    let id = chat(&charges, ann, None, "What is\n askgate?", "A gateway.")
        .await
        .expect("a new conversation");
    let same = chat(&charges, ann, Some(id), "And tokens?", "One per question.").await;
    assert_eq!(same, Some(id));

    let (conversation, messages) = repo.get(ann, id).await.unwrap().unwrap();
    assert_eq!(conversation.title, "What is askgate?");
    assert_eq!(conversation.service_type, ServiceType::AskAtt);
    assert_eq!(conversation.user_id, ann);
    let texts: Vec<_> = messages
        .iter()
        .map(|m| (m.author, m.content.as_str()))
        .collect();
    assert_eq!(
        texts,
        [
            (Author::User, "What is\n askgate?"),
            (Author::Assistant, "A gateway."),
            (Author::User, "And tokens?"),
            (Author::Assistant, "One per question."),
        ]
    );

    let last_two = repo.recent_turns(ann, id, 2).await.unwrap().unwrap();
    assert_eq!(last_two.len(), 2);
    assert_eq!(last_two[0].content, "And tokens?");
    assert_eq!(last_two[1].author, Author::Assistant);
}

#[tokio::test]
async fn settling_skips_the_wal_flush_only_for_itself() {
    // One pooled connection: whatever the settlement leaves on it, the next
    // statement (a ledger write, say) would inherit.
    let db = TestDatabase::with_max_connections(1).await;
    let repo = PgConversations::new(db.database());
    let charges = PgCharges::new(db.database());
    let ann = user(&db).await;
    assert_eq!(db.pooled_setting("synchronous_commit").await, "on");

    let id = chat(&charges, ann, None, "hi", "hello")
        .await
        .expect("a new conversation");
    assert!(repo.get(ann, id).await.unwrap().is_some());
    assert_eq!(db.pooled_setting("synchronous_commit").await, "on");
}

#[tokio::test]
async fn another_users_conversation_does_not_exist_for_them() {
    let db = TestDatabase::new().await;
    let repo = PgConversations::new(db.database());
    let charges = PgCharges::new(db.database());
    let ann = user(&db).await;
    let bob = user(&db).await;
    let id = chat(&charges, ann, None, "secret", "answer").await.unwrap();

    assert_eq!(repo.get(bob, id).await.unwrap(), None);
    assert_eq!(repo.recent_turns(bob, id, 10).await.unwrap(), None);
    assert_eq!(chat(&charges, bob, Some(id), "hi", "x").await, None);
    assert!(!repo.delete(bob, id).await.unwrap());
    assert!(
        repo.list(bob, PageRequest::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    // Ann's conversation is untouched by all of that.
    let (_, messages) = repo.get(ann, id).await.unwrap().unwrap();
    assert_eq!(messages.len(), 2);
}

#[tokio::test]
async fn list_is_most_recently_updated_first_with_a_cursor() {
    let db = TestDatabase::new().await;
    let repo = PgConversations::new(db.database());
    let charges = PgCharges::new(db.database());
    let ann = user(&db).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(
            chat(&charges, ann, None, &format!("q{n}"), "a")
                .await
                .unwrap(),
        );
    }
    // Continuing the oldest makes it the most recent.
    chat(&charges, ann, Some(ids[0]), "more", "a")
        .await
        .unwrap();

    let first = repo
        .list(ann, PageRequest::parse(Some(2), None).unwrap())
        .await
        .unwrap();
    let firsts: Vec<_> = first.items.iter().map(|c| c.id).collect();
    assert_eq!(firsts, [ids[0], ids[2]]);
    let cursor = first.next_cursor.expect("a second page");
    let second = repo
        .list(ann, PageRequest::parse(Some(2), Some(&cursor)).unwrap())
        .await
        .unwrap();
    let seconds: Vec<_> = second.items.iter().map(|c| c.id).collect();
    assert_eq!(seconds, [ids[1]]);
    assert_eq!(second.next_cursor, None);
}

#[tokio::test]
async fn delete_removes_the_conversation_and_its_messages() {
    let db = TestDatabase::new().await;
    let repo = PgConversations::new(db.database());
    let charges = PgCharges::new(db.database());
    let ann = user(&db).await;
    let id = chat(&charges, ann, None, "q", "a").await.unwrap();
    assert!(repo.delete(ann, id).await.unwrap());
    assert_eq!(repo.get(ann, id).await.unwrap(), None);
    assert!(!repo.delete(ann, id).await.unwrap());
    assert_eq!(
        repo.recent_turns(ann, ConversationId::generate(), 5)
            .await
            .unwrap(),
        None
    );
}
