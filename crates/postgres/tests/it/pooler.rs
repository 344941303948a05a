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

use std::sync::Arc;
use std::time::Duration;

use askgate_domain::ports::{Charges, ExchangeTarget, Ledger, Reserved, SettleOutcome};
use askgate_domain::testing as fixtures;
use askgate_domain::{ConversationId, UserId};
use askgate_postgres::testing::{TestDatabase, exchange, test_server_url, user_with};
use askgate_postgres::{Database, PgCharges, PgConfig, PgLedger};
use futures::future::join_all;

use crate::support::Pgbouncer;

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

/// Chats as askgate's chat path does: reserve a token, then settle (or, for
/// every third one, refund as after an upstream failure); some concurrently.
async fn chat_through(db: &Database, chats: usize) -> (UserId, Vec<SettleOutcome>) {
    let charges = Arc::new(PgCharges::new(db.clone()));
    let user = user_with(db, 100).await;
    let outcomes = join_all((0..chats).map(|i| {
        let charges = Arc::clone(&charges);
        async move {
            if i % 3 == 2 {
                let reservation = fixtures::reservation(user, ConversationId::generate());
                let held = charges.reserve(&reservation, Duration::ZERO).await.unwrap();
                assert!(matches!(held, Reserved::Held { .. }), "{held:?}");
                charges
                    .refund(reservation.charge, "upstream failed")
                    .await
                    .unwrap();
                return None;
            }
            let target = ExchangeTarget::New(ConversationId::generate());
            let settled = exchange(&charges, user, target, "what is the answer?", "42").await;
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
