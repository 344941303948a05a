//! Sessions with rotating refresh tokens, and the linking of legacy users, on a
//! real PostgreSQL.

use std::sync::Arc;

use askgate_domain::ports::{NewRefreshToken, Rotation, SessionStore, UserRepository};
use askgate_domain::testing as fixtures;
use askgate_domain::user::{ExternalId, SignIn, User};
use askgate_domain::{Email, SessionId, StoreError, Tokens};
use askgate_postgres::testing::TestDatabase;
use askgate_postgres::{PgSessions, PgUsers};
use chrono::{DateTime, Duration, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use futures::future::join_all;

/// A distinct SHA-256-shaped hash per label.
fn hash(label: &str) -> String {
    let mut out = String::new();
    for byte in label.bytes().cycle().take(32) {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

fn in_days(days: i64) -> DateTime<Utc> {
    Utc::now() + Duration::days(days)
}

async fn user(db: &TestDatabase, email: &str) -> User {
    PgUsers::new(db.database())
        .upsert_sign_in(&fixtures::sign_in(&format!("oid-{email}"), email))
        .await
        .unwrap()
}

async fn started(db: &TestDatabase, first_hash: &str) -> (PgSessions, SessionId, User) {
    let owner = user(db, "ann@example.com").await;
    let sessions = PgSessions::new(db.database());
    let session = SessionId::generate();
    sessions
        .start(&NewRefreshToken {
            session,
            user: owner.id,
            token_hash: first_hash.to_owned(),
            expires_at: in_days(14),
        })
        .await
        .unwrap();
    (sessions, session, owner)
}

#[tokio::test]
async fn a_started_session_is_active_and_an_unknown_one_is_not() {
    let db = TestDatabase::new().await;
    let (sessions, session, _) = started(&db, &hash("first")).await;
    assert!(sessions.is_active(session).await.unwrap());
    assert!(!sessions.is_active(SessionId::generate()).await.unwrap());
}

#[tokio::test]
async fn rotation_spends_the_token_and_its_successor_works_once() {
    let db = TestDatabase::new().await;
    let (sessions, session, owner) = started(&db, &hash("first")).await;

    let rotated = sessions
        .rotate(
            &hash("first"),
            &hash("second"),
            in_days(14),
            Utc::now(),
            in_days(-30),
        )
        .await
        .unwrap();
    assert_eq!(
        rotated,
        Rotation::Rotated {
            session,
            user: owner.id
        }
    );
    let again = sessions
        .rotate(
            &hash("second"),
            &hash("third"),
            in_days(14),
            Utc::now(),
            in_days(-30),
        )
        .await
        .unwrap();
    assert!(matches!(again, Rotation::Rotated { .. }), "{again:?}");
    assert!(sessions.is_active(session).await.unwrap());
}

#[tokio::test]
async fn presenting_a_spent_token_revokes_the_whole_session() {
    let db = TestDatabase::new().await;
    let (sessions, session, _) = started(&db, &hash("first")).await;
    sessions
        .rotate(
            &hash("first"),
            &hash("second"),
            in_days(14),
            Utc::now(),
            in_days(-30),
        )
        .await
        .unwrap();

    let reuse = sessions
        .rotate(
            &hash("first"),
            &hash("attacker"),
            in_days(14),
            Utc::now(),
            in_days(-30),
        )
        .await
        .unwrap();

    assert_eq!(reuse, Rotation::ReuseDetected { session });
    assert!(!sessions.is_active(session).await.unwrap());
    // The newest token of the family is dead too.
    let newest = sessions
        .rotate(
            &hash("second"),
            &hash("third"),
            in_days(14),
            Utc::now(),
            in_days(-30),
        )
        .await
        .unwrap();
    assert_eq!(newest, Rotation::Invalid);
}

#[tokio::test]
async fn of_concurrent_rotations_of_one_token_exactly_one_wins() {
    let db = TestDatabase::with_max_connections(8).await;
    let (sessions, session, _) = started(&db, &hash("first")).await;
    let sessions = Arc::new(sessions);

    let outcomes = join_all((0..6).map(|i| {
        let sessions = Arc::clone(&sessions);
        async move {
            sessions
                .rotate(
                    &hash("first"),
                    &hash(&format!("next-{i}")),
                    in_days(14),
                    Utc::now(),
                    in_days(-30),
                )
                .await
                .unwrap()
        }
    }))
    .await;

    let winners = outcomes
        .iter()
        .filter(|o| matches!(o, Rotation::Rotated { .. }))
        .count();
    assert_eq!(winners, 1, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, Rotation::Rotated { .. } | Rotation::ReuseDetected { .. })),
        "{outcomes:?}"
    );
    assert!(!sessions.is_active(session).await.unwrap());
}

#[tokio::test]
async fn expired_unknown_and_revoked_tokens_are_invalid_without_revoking() {
    let db = TestDatabase::new().await;
    let (sessions, session, _) = started(&db, &hash("first")).await;

    let unknown = sessions
        .rotate(
            &hash("never-issued"),
            &hash("x"),
            in_days(14),
            Utc::now(),
            in_days(-30),
        )
        .await
        .unwrap();
    assert_eq!(unknown, Rotation::Invalid);

    let after_expiry = sessions
        .rotate(
            &hash("first"),
            &hash("y"),
            in_days(30),
            in_days(15),
            in_days(-30),
        )
        .await
        .unwrap();
    assert_eq!(after_expiry, Rotation::Invalid);
    assert!(sessions.is_active(session).await.unwrap());

    sessions.revoke(session).await.unwrap();
    sessions.revoke(session).await.unwrap();
    assert!(!sessions.is_active(session).await.unwrap());
    let after_logout = sessions
        .rotate(
            &hash("first"),
            &hash("z"),
            in_days(14),
            Utc::now(),
            in_days(-30),
        )
        .await
        .unwrap();
    assert_eq!(after_logout, Rotation::Invalid);
}

#[tokio::test]
async fn only_hashes_are_stored_and_must_look_like_sha256() {
    let db = TestDatabase::new().await;
    let owner = user(&db, "bob@example.com").await;
    let err = PgSessions::new(db.database())
        .start(&NewRefreshToken {
            session: SessionId::generate(),
            user: owner.id,
            token_hash: "the-raw-refresh-token".to_owned(),
            expires_at: in_days(14),
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unexpected(_)), "{err:?}");
}

// ---- legacy users -------------------------------------------------------------------

async fn insert_legacy_user(db: &TestDatabase, email: &str) -> uuid::Uuid {
    let id = uuid::Uuid::now_v7();
    let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
    conn.batch_execute(&format!(
        "INSERT INTO users (id, azure_ad_id, email, tokens) VALUES ('{id}', 'legacy:{id}', '{email}', 0);
         INSERT INTO transactions (id, user_id, transaction_type, amount, balance_after)
              VALUES ('{}', '{id}', 'grant', 7, 7);
         UPDATE users SET tokens = 7 WHERE id = '{id}';",
        uuid::Uuid::now_v7()
    ))
    .await
    .unwrap();
    id
}

fn azure_sign_in(oid: &str, email: &str) -> SignIn {
    SignIn {
        display_name: Some("Lee Legacy".to_owned()),
        ..fixtures::sign_in(oid, email)
    }
}

#[tokio::test]
async fn first_sign_in_with_a_legacy_users_email_claims_that_row() {
    let db = TestDatabase::new().await;
    let legacy = insert_legacy_user(&db, "lee@example.com").await;
    let users = PgUsers::new(db.database());

    let user = users
        .upsert_sign_in(&azure_sign_in(
            "7f0c3a52-1111-4b2a-9c3d-000000000001",
            "Lee@Example.com",
        ))
        .await
        .unwrap();

    assert_eq!(user.id.as_uuid(), legacy);
    assert_eq!(
        user.external_id.as_str(),
        "7f0c3a52-1111-4b2a-9c3d-000000000001"
    );
    assert_eq!(user.tokens, Tokens::new(7).unwrap());
    assert_eq!(user.display_name.as_deref(), Some("Lee Legacy"));
    // The next sign-in finds it by identity like any other user.
    let again = users
        .upsert_sign_in(&azure_sign_in(
            "7f0c3a52-1111-4b2a-9c3d-000000000001",
            "lee@example.com",
        ))
        .await
        .unwrap();
    assert_eq!(again.id, user.id);
    db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn a_legacy_row_stored_in_another_case_is_claimed_not_duplicated() {
    let db = TestDatabase::new().await;
    let legacy = insert_legacy_user(&db, "Lee.Mixed@Example.COM").await;
    let users = PgUsers::new(db.database());

    let user = users
        .upsert_sign_in(&azure_sign_in(
            "7f0c3a52-1111-4b2a-9c3d-000000000009",
            "lee.mixed@example.com",
        ))
        .await
        .unwrap();

    assert_eq!(user.id.as_uuid(), legacy);
    assert_eq!(user.tokens, Tokens::new(7).unwrap());
    assert_eq!(user.email.as_str(), "lee.mixed@example.com");
    db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn a_claimed_row_or_a_dev_sign_in_never_takes_an_email_over() {
    let db = TestDatabase::new().await;
    insert_legacy_user(&db, "lee@example.com").await;
    let users = PgUsers::new(db.database());

    let dev = users
        .upsert_sign_in(&SignIn {
            external_id: ExternalId::for_dev_login(&Email::parse("lee@example.com").unwrap()),
            ..azure_sign_in("unused", "lee@example.com")
        })
        .await
        .unwrap_err();
    assert!(matches!(dev, StoreError::Conflict(_)), "{dev:?}");

    users
        .upsert_sign_in(&azure_sign_in("oid-first", "lee@example.com"))
        .await
        .unwrap();
    let second = users
        .upsert_sign_in(&azure_sign_in("oid-second", "lee@example.com"))
        .await
        .unwrap_err();
    assert!(matches!(second, StoreError::Conflict(_)), "{second:?}");
}

#[tokio::test]
async fn a_session_past_its_lifetime_is_revoked_at_its_next_refresh() {
    let db = TestDatabase::new().await;
    let (sessions, session, _) = started(&db, &hash("first")).await;

    // The token itself is fresh; the session began after the oldest allowed start.
    let expired = sessions
        .rotate(
            &hash("first"),
            &hash("second"),
            in_days(14),
            Utc::now(),
            in_days(1),
        )
        .await
        .unwrap();
    assert_eq!(expired, Rotation::SessionExpired { session });
    assert!(!sessions.is_active(session).await.unwrap());
    // Nothing was spent or stored: neither token works any more.
    let again = sessions
        .rotate(
            &hash("first"),
            &hash("third"),
            in_days(14),
            Utc::now(),
            in_days(-30),
        )
        .await
        .unwrap();
    assert_eq!(again, Rotation::Invalid);
    let successor = sessions
        .rotate(
            &hash("second"),
            &hash("fourth"),
            in_days(14),
            Utc::now(),
            in_days(-30),
        )
        .await
        .unwrap();
    assert_eq!(successor, Rotation::Invalid);
}
