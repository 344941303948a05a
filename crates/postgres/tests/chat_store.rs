#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Conversations and idempotency keys on a real PostgreSQL.

use std::sync::Arc;
use std::time::{Duration, Instant};

use askgate_domain::conversation::{Author, ChatMessage};
use askgate_domain::ledger::{IdempotencyKey, ServiceType};
use askgate_domain::page::PageRequest;
use askgate_domain::ports::{
    ConversationRepository, ConversationTarget, IdempotencyBegin, IdempotencyStore, StoredResponse,
    UserRepository,
};
use askgate_domain::user::{ExternalId, Role, SignIn};
use askgate_domain::{ConversationId, Email, UserId};
use askgate_postgres::testing::TestDatabase;
use askgate_postgres::{PgConversations, PgIdempotency, PgUsers};
use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use futures::future::join_all;
use serde_json::json;

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

async fn sql(db: &TestDatabase, statement: &str) {
    let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
    conn.batch_execute(statement).await.unwrap();
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

// --- idempotency keys ----------------------------------------------------------

fn key(raw: &str) -> IdempotencyKey {
    IdempotencyKey::parse(raw).unwrap()
}

fn stored(text: &str) -> StoredResponse {
    StoredResponse {
        status: 200,
        body: json!({ "response": text }),
    }
}

const NO_WAIT: Duration = Duration::ZERO;

#[tokio::test]
async fn of_concurrent_begins_exactly_one_claims_the_key() {
    let db = TestDatabase::with_max_connections(10).await;
    let store = Arc::new(PgIdempotency::new(db.database()));
    let ann = user(&db, "ann").await;
    let outcomes = join_all((0..10).map(|_| {
        let store = Arc::clone(&store);
        async move {
            store
                .begin(ann, &key("k-concurrent"), "same", NO_WAIT)
                .await
                .unwrap()
        }
    }))
    .await;
    let claimed = outcomes
        .iter()
        .filter(|o| **o == IdempotencyBegin::Claimed)
        .count();
    let in_progress = outcomes
        .iter()
        .filter(|o| **o == IdempotencyBegin::InProgress)
        .count();
    assert_eq!((claimed, in_progress), (1, 9), "{outcomes:?}");
}

#[tokio::test]
async fn a_completed_key_replays_and_refuses_another_fingerprint() {
    let db = TestDatabase::new().await;
    let store = PgIdempotency::new(db.database());
    let ann = user(&db, "ann").await;
    let bob = user(&db, "bob").await;
    let k = key("k1");
    assert_eq!(
        store.begin(ann, &k, "body-1", NO_WAIT).await.unwrap(),
        IdempotencyBegin::Claimed
    );
    store.complete(ann, &k, &stored("first")).await.unwrap();

    assert_eq!(
        store.begin(ann, &k, "body-1", NO_WAIT).await.unwrap(),
        IdempotencyBegin::Replay(stored("first"))
    );
    assert_eq!(
        store.begin(ann, &k, "body-2", NO_WAIT).await.unwrap(),
        IdempotencyBegin::Mismatch
    );
    // Keys are per user.
    assert_eq!(
        store.begin(bob, &k, "body-2", NO_WAIT).await.unwrap(),
        IdempotencyBegin::Claimed
    );
}

#[tokio::test]
async fn a_waiting_duplicate_replays_the_first_once_it_completes() {
    let db = TestDatabase::new().await;
    let store = Arc::new(PgIdempotency::new(db.database()));
    let ann = user(&db, "ann").await;
    let k = key("k-wait");
    assert_eq!(
        store.begin(ann, &k, "b", NO_WAIT).await.unwrap(),
        IdempotencyBegin::Claimed
    );
    let finisher = {
        let store = Arc::clone(&store);
        let k = k.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            store.complete(ann, &k, &stored("done")).await.unwrap();
        })
    };
    let started = Instant::now();
    let outcome = store
        .begin(ann, &k, "b", Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(outcome, IdempotencyBegin::Replay(stored("done")));
    assert!(started.elapsed() < Duration::from_secs(2));
    finisher.await.unwrap();
}

#[tokio::test]
async fn a_duplicate_gives_up_waiting_with_in_progress() {
    let db = TestDatabase::new().await;
    let store = PgIdempotency::new(db.database());
    let ann = user(&db, "ann").await;
    let k = key("k-slow");
    store.begin(ann, &k, "b", NO_WAIT).await.unwrap();
    let started = Instant::now();
    assert_eq!(
        store
            .begin(ann, &k, "b", Duration::from_millis(200))
            .await
            .unwrap(),
        IdempotencyBegin::InProgress
    );
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn an_abandoned_key_can_be_claimed_by_a_retry() {
    let db = TestDatabase::new().await;
    let store = Arc::new(PgIdempotency::new(db.database()));
    let ann = user(&db, "ann").await;
    let k = key("k-abandon");
    store.begin(ann, &k, "b", NO_WAIT).await.unwrap();
    store.abandon(ann, &k).await.unwrap();
    assert_eq!(
        store.begin(ann, &k, "b", NO_WAIT).await.unwrap(),
        IdempotencyBegin::Claimed
    );

    // A duplicate waiting while the holder abandons takes the key over.
    let abandoner = {
        let store = Arc::clone(&store);
        let k = k.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            store.abandon(ann, &k).await.unwrap();
        })
    };
    assert_eq!(
        store
            .begin(ann, &k, "b", Duration::from_secs(5))
            .await
            .unwrap(),
        IdempotencyBegin::Claimed
    );
    abandoner.await.unwrap();
}

#[tokio::test]
async fn keys_expire_after_a_day() {
    let db = TestDatabase::new().await;
    let store = PgIdempotency::new(db.database());
    let ann = user(&db, "ann").await;
    let k = key("k-old");
    store.begin(ann, &k, "first body", NO_WAIT).await.unwrap();
    store.complete(ann, &k, &stored("old")).await.unwrap();
    let other = key("k-other-old");
    store.begin(ann, &other, "x", NO_WAIT).await.unwrap();
    sql(
        &db,
        "UPDATE idempotency_keys SET created_at = now() - interval '25 hours'",
    )
    .await;

    // An expired key is absent: even another body may claim it.
    assert_eq!(
        store.begin(ann, &k, "second body", NO_WAIT).await.unwrap(),
        IdempotencyBegin::Claimed
    );
    // The sweep removes the other expired key and keeps the live one.
    assert_eq!(store.sweep_expired().await.unwrap(), 1);
    assert_eq!(
        store.begin(ann, &k, "second body", NO_WAIT).await.unwrap(),
        IdempotencyBegin::InProgress
    );
}
