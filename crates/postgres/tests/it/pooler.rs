#![allow(clippy::unwrap_used, clippy::expect_used)]
//! askgate behind PgBouncer (Debian's `pgbouncer`), as behind a managed
//! pooler such as Supabase's: the sign-in upsert and the chat path (reserve a
//! charge, settle it, refund another), concurrently, on connections that
//! PgBouncer hands out, over TLS checked against the pooler's CA.
//!
//! In session mode. Transaction mode (Supabase's port 6543) cannot serve
//! askgate: the driver prepares every statement by name and runs it in a
//! second round trip, which a transaction pooler may send to another server
//! connection ("prepared statement \"s62\" does not exist", even with the
//! statement cache off); connections also keep a `statement_timeout` and
//! migrations hold a session advisory lock. See docs/operations.md.

mod support;

use std::sync::Arc;
use std::time::Duration;

use askgate_domain::conversation::ChatMessage;
use askgate_domain::ledger::{CreditKind, CreditRequest, IdempotencyKey, ServiceType};
use askgate_domain::ports::{
    Charges, ExchangeTarget, Ledger, Reservation, Reserved, SettleOutcome, Settlement,
    UserRepository,
};
use askgate_domain::user::{ExternalId, Role, SignIn};
use askgate_domain::{ChargeId, ConversationId, Email, Tokens, UserId};
use askgate_postgres::testing::{TestDatabase, test_server_url};
use askgate_postgres::{Database, PgCharges, PgConfig, PgLedger, PgUsers};
use chrono::Utc;
use futures::future::join_all;
use serde_json::json;
use support::Pgbouncer;
use uuid::Uuid;

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", Uuid::now_v7().simple())
}

/// A pool on `test_db`'s database, through `pgbouncer`.
async fn through(pgbouncer: &Pgbouncer, test_db: &TestDatabase) -> Database {
    let name = url::Url::parse(test_db.url()).unwrap().path()[1..].to_owned();
    Database::connect(&PgConfig {
        url: pgbouncer.url(&name),
        max_connections: 8,
        application_name: "askgate-pooler-test".to_owned(),
        statement_timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(10),
        tls: askgate_postgres::PgTls {
            default_mode: askgate_postgres::SslMode::Require,
            ca_cert: Some(pgbouncer.ca.clone()),
        },
    })
    .await
    .unwrap()
}

async fn signed_in_user_with(db: &Database, tokens: i64) -> UserId {
    let user = PgUsers::new(db.clone())
        .upsert_sign_in(&SignIn {
            external_id: ExternalId::parse(&unique("oid")).unwrap(),
            email: Email::parse(&format!("{}@example.com", unique("ann"))).unwrap(),
            display_name: None,
            role: Role::User,
            at: Utc::now(),
        })
        .await
        .unwrap()
        .id;
    PgLedger::new(db.clone())
        .credit(&CreditRequest {
            user,
            kind: CreditKind::Grant,
            amount: Tokens::new(tokens).unwrap(),
            idempotency_key: IdempotencyKey::parse(&unique("grant")).unwrap(),
            metadata: json!({}),
        })
        .await
        .unwrap();
    user
}

/// Chats as askgate's chat path does: reserve a token, then settle (or, for
/// every third one, refund as after an upstream failure); some concurrently.
async fn chat_through(db: &Database, chats: usize) -> (UserId, Vec<SettleOutcome>) {
    let charges = Arc::new(PgCharges::new(db.clone()));
    let user = signed_in_user_with(db, 100).await;
    let outcomes = join_all((0..chats).map(|i| {
        let charges = Arc::clone(&charges);
        async move {
            let reservation = Reservation {
                charge: ChargeId::generate(),
                user,
                service: ServiceType::AskAtt,
                domain: None,
                conversation: ConversationId::generate(),
                idempotency: None,
            };
            let held = charges.reserve(&reservation, Duration::ZERO).await.unwrap();
            assert!(matches!(held, Reserved::Held { .. }), "{held:?}");
            if i % 3 == 2 {
                charges
                    .refund(reservation.charge, "upstream failed")
                    .await
                    .unwrap();
                return None;
            }
            let question = ChatMessage::parse("what is the answer?").unwrap();
            let settled = charges
                .settle(&Settlement {
                    charge: reservation.charge,
                    user,
                    service: reservation.service,
                    domain: None,
                    target: ExchangeTarget::New(reservation.conversation),
                    question: &question,
                    answer: "42",
                    idempotency: None,
                })
                .await
                .unwrap();
            Some(settled.outcome)
        }
    }))
    .await;
    (user, outcomes.into_iter().flatten().collect())
}

#[tokio::test]
async fn the_chat_path_works_through_pgbouncer_in_session_mode() {
    let pgbouncer = Pgbouncer::start(&test_server_url(), "session");
    let test_db = TestDatabase::new().await;
    let db = through(&pgbouncer, &test_db).await;
    assert!(askgate_postgres::testing::connection_is_encrypted(&db).await);
    let (user, outcomes) = chat_through(&db, 12).await;
    assert_eq!(outcomes, vec![SettleOutcome::Charged; 8]);
    // 100 granted, 8 chats charged, 4 refunded.
    let balance = PgLedger::new(db.clone()).balance(user).await.unwrap();
    assert_eq!(balance.get(), 92);
    test_db.assert_ledger_invariant().await;
}
