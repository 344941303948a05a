//! Personal API keys over real HTTP against a fresh real database: made,
//! used within their scopes, refused outside them, revoked, expired, and
//! refused with their owner's account.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Reply, TestApp, assert_problem};

async fn spawn() -> TestApp {
    TestApp::spawn(&[("DATABASE_MAX_CONNECTIONS", "4")]).await
}

async fn create_key(app: &TestApp, session: &str, body: &Value) -> Reply {
    app.post("/api/user/api-keys", Some(session), body).await
}

/// Makes a key with `scopes`: its secret and id.
async fn key_with(app: &TestApp, session: &str, scopes: &[&str]) -> (String, String) {
    let reply = create_key(app, session, &json!({ "name": "script", "scopes": scopes })).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    (
        reply.body["secret"].as_str().unwrap().to_owned(),
        reply.body["id"].as_str().unwrap().to_owned(),
    )
}

async fn assert_ledger_balanced(app: &TestApp) {
    let violations = askgate_postgres::audit::balance_violations(&app.db.database())
        .await
        .unwrap();
    assert!(violations.is_empty(), "{violations:?}");
}

#[tokio::test]
async fn a_key_chats_and_reads_the_balance_until_it_is_revoked() {
    let app = spawn().await;
    let (session, user_id) = app.user_with("ann@example.com", 3).await;

    let created = create_key(
        &app,
        &session,
        &json!({ "name": "  my script ", "scopes": ["chat", "balance:read"] }),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let secret = created.body["secret"].as_str().unwrap().to_owned();
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert!(
        secret.starts_with("agk_") && secret.len() >= 4 + 43,
        "{secret}"
    );
    assert_eq!(created.body["name"], "my script");
    assert_eq!(created.body["prefix"], secret[..12]);
    assert_eq!(created.body["scopes"], json!(["chat", "balance:read"]));

    // The key chats like a session: one token, the same ledger row, which names the key.
    let chat = app
        .chat("askatt", &secret, &json!({ "message": "hello" }), None)
        .await;
    assert_eq!(chat.status, StatusCode::OK, "{}", chat.body);
    assert_eq!(chat.body["tokens_remaining"], 2);
    assert_eq!(app.balance(&secret).await, 2);
    let metadata: String = app
        .sql()
        .await
        .query_one(
            "SELECT metadata::text FROM transactions WHERE user_id = $1::text::uuid \
             AND transaction_type = 'consumption'",
            &[&user_id],
        )
        .await
        .unwrap()
        .get(0);
    let metadata: Value = serde_json::from_str(&metadata).unwrap();
    assert_eq!(metadata["api_key_id"], id.as_str());
    assert_eq!(metadata["api_key_prefix"], &secret[..12]);

    // The list shows the key by prefix, with its last use, never the secret.
    let listed = app.get("/api/user/api-keys", Some(&session)).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let items = listed.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], id.as_str());
    assert!(items[0]["last_used_at"].is_string(), "{}", listed.body);
    assert!(items[0]["revoked_at"].is_null());
    assert!(!listed.body.to_string().contains(&secret[12..]));

    let revoked = app
        .delete(&format!("/api/user/api-keys/{id}"), Some(&session))
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    assert!(revoked.body["revoked_at"].is_string());

    // Refused at once, everywhere, with a Bearer challenge.
    let refused = app.get("/api/user/tokens", Some(&secret)).await;
    assert_problem(&refused, StatusCode::UNAUTHORIZED, "unauthenticated");
    assert!(refused.headers.contains_key("www-authenticate"));
    let refused = app
        .chat("askatt", &secret, &json!({ "message": "again" }), None)
        .await;
    assert_problem(&refused, StatusCode::UNAUTHORIZED, "unauthenticated");
    assert_eq!(app.balance(&session).await, 2);
    assert_ledger_balanced(&app).await;
}

#[tokio::test]
async fn a_key_is_refused_outside_its_scopes_and_on_account_endpoints() {
    let app = spawn().await;
    let (session, _) = app.user_with("bob@example.com", 2).await;
    let (secret, _) = key_with(&app, &session, &["balance:read"]).await;

    assert_eq!(app.balance(&secret).await, 2);
    let chat = app
        .chat("askatt", &secret, &json!({ "message": "hello" }), None)
        .await;
    assert_problem(&chat, StatusCode::FORBIDDEN, "insufficient_scope");
    let history = app.get("/api/user/transactions", Some(&secret)).await;
    assert_problem(&history, StatusCode::FORBIDDEN, "insufficient_scope");

    // Account, key management and admin endpoints take a session only.
    for path in ["/api/user/me", "/api/user/api-keys", "/api/admin/users"] {
        let reply = app.get(path, Some(&secret)).await;
        assert_problem(&reply, StatusCode::FORBIDDEN, "insufficient_scope");
    }
    let more = create_key(&app, &secret, &json!({ "name": "x", "scopes": ["chat"] })).await;
    assert_problem(&more, StatusCode::FORBIDDEN, "insufficient_scope");

    // Nothing was spent.
    assert_eq!(app.balance(&session).await, 2);
    assert_ledger_balanced(&app).await;
}

#[tokio::test]
async fn an_expired_key_is_refused() {
    let app = spawn().await;
    let (session, _) = app.user_with("cy@example.com", 1).await;
    let (secret, id) = key_with(&app, &session, &["balance:read"]).await;
    assert_eq!(app.balance(&secret).await, 1);

    app.sql()
        .await
        .execute(
            "UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1::text::uuid",
            &[&id],
        )
        .await
        .unwrap();
    let refused = app.get("/api/user/tokens", Some(&secret)).await;
    assert_problem(&refused, StatusCode::UNAUTHORIZED, "unauthenticated");
}

#[tokio::test]
async fn keys_are_checked_when_made() {
    let app = spawn().await;
    let (session, _) = app.user_with("dee@example.com", 0).await;
    for (body, field) in [
        (json!({ "name": "", "scopes": ["chat"] }), "name"),
        (json!({ "name": "x", "scopes": [] }), "scopes"),
        (
            json!({ "name": "x", "scopes": ["chat"], "expires_at": "2001-01-01T00:00:00Z" }),
            "expires_at",
        ),
    ] {
        let reply = create_key(&app, &session, &body).await;
        assert_problem(
            &reply,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        );
        assert_eq!(reply.body["field"], field, "{}", reply.body);
    }
    let unknown = create_key(&app, &session, &json!({ "name": "x", "scopes": ["admin"] })).await;
    assert_eq!(
        unknown.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        unknown.body
    );
    let listed = app.get("/api/user/api-keys", Some(&session)).await;
    assert_eq!(listed.body["items"], json!([]));

    // Someone else's key is not found, and stays usable.
    let (other, _) = app.user_with("eve@example.com", 1).await;
    let (secret, id) = key_with(&app, &other, &["balance:read"]).await;
    let reply = app
        .delete(&format!("/api/user/api-keys/{id}"), Some(&session))
        .await;
    assert_problem(&reply, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(app.balance(&secret).await, 1);
}

#[tokio::test]
async fn the_keys_of_a_disabled_account_are_refused() {
    let app = TestApp::spawn(&[("DATABASE_MAX_CONNECTIONS", "4")]).await;
    let (session, user_id) = app.user_with("fay@example.com", 1).await;
    let (secret, _) = key_with(&app, &session, &["balance:read"]).await;
    let (boss, _) = app.sign_in_admin("boss@example.com").await;

    let disabled = app
        .post(
            &format!("/api/admin/users/{user_id}/disable"),
            Some(&boss),
            &json!({}),
        )
        .await;
    assert_eq!(disabled.status, StatusCode::OK, "{}", disabled.body);
    let refused = app.get("/api/user/tokens", Some(&secret)).await;
    assert_problem(&refused, StatusCode::FORBIDDEN, "account_disabled");

    let enabled = app
        .post(
            &format!("/api/admin/users/{user_id}/enable"),
            Some(&boss),
            &json!({}),
        )
        .await;
    assert_eq!(enabled.status, StatusCode::OK, "{}", enabled.body);
    assert_eq!(app.balance(&secret).await, 1);
}

#[tokio::test]
async fn an_admins_key_acts_as_a_plain_user() {
    let app = spawn().await;
    let (boss, _) = app.sign_in_admin("boss@example.com").await;
    let restricted = app
        .post(
            "/api/domains",
            Some(&boss),
            &json!({ "name": "board", "display_name": "Board", "allowed_roles": ["Board"] }),
        )
        .await;
    assert_eq!(
        restricted.status,
        StatusCode::CREATED,
        "{}",
        restricted.body
    );
    let domain = restricted.body["id"].as_str().unwrap().to_owned();
    app.grant("boss@example.com", 2, "boss-key-grant").await;
    let (secret, _) = key_with(&app, &boss, &["chat", "balance:read"]).await;

    // The admin's session sees the restricted domain; their key does not,
    // nor inactive domains, nor may it ask the restricted one.
    let by_session = app.get("/api/domains", Some(&boss)).await;
    assert_eq!(by_session.body.as_array().unwrap().len(), 1);
    let by_key = app.get("/api/domains", Some(&secret)).await;
    assert_eq!(by_key.status, StatusCode::OK, "{}", by_key.body);
    assert!(
        by_key.body.as_array().unwrap().is_empty(),
        "{}",
        by_key.body
    );
    let inactive = app
        .get("/api/domains?include_inactive=true", Some(&secret))
        .await;
    assert_problem(&inactive, StatusCode::FORBIDDEN, "forbidden");
    let asked = app
        .chat(
            "askdocs",
            &secret,
            &json!({ "message": "Minutes?", "domain_id": domain }),
            None,
        )
        .await;
    assert_problem(&asked, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(app.balance(&boss).await, 2, "nothing charged");
}
