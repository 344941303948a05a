#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Conversations on a real PostgreSQL (idempotency keys: tests/charges.rs).

use askgate_domain::conversation::{Author, ChatMessage};
use askgate_domain::ledger::ServiceType;
use askgate_domain::page::PageRequest;
use askgate_domain::ports::{ConversationRepository, ConversationTarget, UserRepository};
use askgate_domain::user::{ExternalId, Role, SignIn};
use askgate_domain::{ConversationId, Email, UserId};
use askgate_postgres::testing::TestDatabase;
use askgate_postgres::{PgConversations, PgUsers};
use chrono::Utc;

async fn user(db: &TestDatabase, name: &str) -> UserId {
    PgUsers::new(db.database())
        .upsert_sign_in(&SignIn {
            external_id: ExternalId::parse(&format!("oid-{name}")).unwrap(),
            email: Email::parse(&format!("{name}@example.com")).unwrap(),
            display_name: None,
            role: Role::User,
            at: Utc::now(),
        })
        .await
        .unwrap()
        .id
}

fn msg(text: &str) -> ChatMessage {
    ChatMessage::parse(text).unwrap()
}

fn new_askatt() -> ConversationTarget {
    ConversationTarget::New {
        service: ServiceType::AskAtt,
        domain: None,
    }
}

// --- conversations -------------------------------------------------------------

#[tokio::test]
async fn append_creates_a_conversation_then_continues_it_in_order() {
    let db = TestDatabase::new().await;
    let repo = PgConversations::new(db.database());
    let ann = user(&db, "ann").await;

    let id = repo
        .append_exchange(ann, &new_askatt(), &msg("What is\n askgate?"), "A gateway.")
        .await
        .unwrap()
        .expect("a new conversation");
    let same = repo
        .append_exchange(
            ann,
            &ConversationTarget::Existing(id),
            &msg("And tokens?"),
            "One per question.",
        )
        .await
        .unwrap();
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
async fn history_skips_the_wal_flush_only_for_itself() {
    // One pooled connection: whatever the append leaves on it, the next
    // statement (a ledger write, say) would inherit.
    let db = TestDatabase::with_max_connections(1).await;
    let repo = PgConversations::new(db.database());
    let ann = user(&db, "ann").await;
    assert_eq!(db.pooled_setting("synchronous_commit").await, "on");

    let id = repo
        .append_exchange(ann, &new_askatt(), &msg("hi"), "hello")
        .await
        .unwrap()
        .expect("a new conversation");
    assert!(repo.get(ann, id).await.unwrap().is_some());
    assert_eq!(db.pooled_setting("synchronous_commit").await, "on");
}

#[tokio::test]
async fn another_users_conversation_does_not_exist_for_them() {
    let db = TestDatabase::new().await;
    let repo = PgConversations::new(db.database());
    let ann = user(&db, "ann").await;
    let bob = user(&db, "bob").await;
    let id = repo
        .append_exchange(ann, &new_askatt(), &msg("secret"), "answer")
        .await
        .unwrap()
        .unwrap();

    assert_eq!(repo.get(bob, id).await.unwrap(), None);
    assert_eq!(repo.recent_turns(bob, id, 10).await.unwrap(), None);
    assert_eq!(
        repo.append_exchange(bob, &ConversationTarget::Existing(id), &msg("hi"), "x")
            .await
            .unwrap(),
        None
    );
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
    let ann = user(&db, "ann").await;
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(
            repo.append_exchange(ann, &new_askatt(), &msg(&format!("q{n}")), "a")
                .await
                .unwrap()
                .unwrap(),
        );
    }
    // Continuing the oldest makes it the most recent.
    repo.append_exchange(
        ann,
        &ConversationTarget::Existing(ids[0]),
        &msg("more"),
        "a",
    )
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
    let ann = user(&db, "ann").await;
    let id = repo
        .append_exchange(ann, &new_askatt(), &msg("q"), "a")
        .await
        .unwrap()
        .unwrap();
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
