//! Administration over real HTTP against a fresh real database: finding
//! users, grants and adjustments, disabling accounts, roles, the audit log.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Reply, TestApp, assert_problem};

async fn spawn() -> TestApp {
    TestApp::spawn(&[
        ("DATABASE_MAX_CONNECTIONS", "3"),
        ("ADMIN_EMAILS", "boss@example.com"),
    ])
    .await
}

/// Signs in as an admin through dev login: the session token and user id.
async fn admin(app: &TestApp, email: &str) -> (String, String) {
    let (token, user) = app.sign_in_admin(email).await;
    (token, user["id"].as_str().unwrap().to_owned())
}

async fn credit(app: &TestApp, token: &str, user: &str, body: &Value, key: &str) -> Reply {
    app.post_with_key(
        &format!("/api/admin/users/{user}/credits"),
        Some(token),
        body,
        Some(key),
    )
    .await
}

/// The audit records as the API lists them, newest first.
async fn audit(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let reply = app
        .get(&format!("/api/admin/audit{query}"), Some(token))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn an_admin_finds_a_user_grants_tokens_with_a_reason_and_the_user_sees_them() {
    let app = spawn().await;
    let (boss, boss_id) = admin(&app, "root@example.com").await;
    let (ann, ann_id) = app.user_with("ann.smith@example.com", 0).await;
    app.user_with("bob@example.com", 0).await;

    let found = app.get("/api/admin/users?search=SMITH", Some(&boss)).await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.body);
    let items = found.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], ann_id.as_str());

    let granted = credit(
        &app,
        &boss,
        &ann_id,
        &json!({"type": "grant", "amount": 40, "reason": "Welcome gift"}),
        "gift-1",
    )
    .await;
    assert_eq!(granted.status, StatusCode::CREATED, "{}", granted.body);
    assert_eq!(granted.body["replayed"], false);

    assert_eq!(app.balance(&ann).await, 40);
    let history = app.history(&ann).await;
    assert_eq!(history[0]["type"], "grant");
    assert_eq!(history[0]["metadata"]["reason"], "Welcome gift");
    assert_eq!(history[0]["metadata"]["admin_id"], boss_id.as_str());

    let seen = app
        .get(
            &format!("/api/admin/users/{ann_id}/transactions"),
            Some(&boss),
        )
        .await;
    assert_eq!(seen.body["items"], Value::Array(history));
    let profile = app
        .get(&format!("/api/admin/users/{ann_id}"), Some(&boss))
        .await;
    assert_eq!(profile.body["tokens"], 40);
    assert_eq!(profile.body["conversations"], 0);

    let records = audit(&app, &boss, &format!("?target={ann_id}")).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["action"], "grant");
    assert_eq!(records[0]["actor_id"], boss_id.as_str());
    assert_eq!(records[0]["reason"], "Welcome gift");
    assert_eq!(records[0]["before"], json!({"tokens": 0}));
    assert_eq!(records[0]["after"]["tokens"], 40);
    assert!(records[0]["request_id"].is_string());
    app.db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn an_adjustment_below_zero_is_422_with_the_balance_and_changes_nothing() {
    let app = spawn().await;
    let (boss, _) = admin(&app, "root@example.com").await;
    let (ann, ann_id) = app.user_with("ann@example.com", 5).await;

    let refused = credit(
        &app,
        &boss,
        &ann_id,
        &json!({"type": "adjustment", "amount": -6, "reason": "Correction"}),
        "fix-1",
    )
    .await;
    assert_problem(
        &refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(refused.body["field"], "amount");
    assert_eq!(refused.body["balance"], 5);
    assert_eq!(app.balance(&ann).await, 5);
    assert!(audit(&app, &boss, "?action=adjustment").await.is_empty());

    let taken = credit(
        &app,
        &boss,
        &ann_id,
        &json!({"type": "adjustment", "amount": -5, "reason": "Correction"}),
        "fix-2",
    )
    .await;
    assert_eq!(taken.status, StatusCode::CREATED, "{}", taken.body);
    assert_eq!(taken.body["transaction"]["balance_after"], 0);
    assert_eq!(app.balance(&ann).await, 0);
    app.db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn a_credit_needs_a_reason_and_a_key_and_a_repeated_key_writes_once() {
    let app = spawn().await;
    let (boss, _) = admin(&app, "root@example.com").await;
    let (ann, ann_id) = app.user_with("ann@example.com", 0).await;
    let body = json!({"type": "grant", "amount": 10, "reason": "Goodwill"});

    let no_reason = credit(
        &app,
        &boss,
        &ann_id,
        &json!({"type": "grant", "amount": 10, "reason": "  "}),
        "k",
    )
    .await;
    assert_problem(
        &no_reason,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(no_reason.body["field"], "reason");
    let long = json!({"type": "grant", "amount": 10, "reason": "x".repeat(501)});
    let too_long = credit(&app, &boss, &ann_id, &long, "k").await;
    assert_eq!(too_long.body["field"], "reason");
    let negative_grant = json!({"type": "grant", "amount": -1, "reason": "no"});
    let refused = credit(&app, &boss, &ann_id, &negative_grant, "k").await;
    assert_eq!(refused.body["field"], "amount");
    let no_key = app
        .post(
            &format!("/api/admin/users/{ann_id}/credits"),
            Some(&boss),
            &body,
        )
        .await;
    assert_problem(
        &no_key,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(no_key.body["field"], "Idempotency-Key");

    let first = credit(&app, &boss, &ann_id, &body, "same").await;
    assert_eq!(first.status, StatusCode::CREATED);
    let again = credit(&app, &boss, &ann_id, &body, "same").await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["replayed"], true);
    assert_eq!(again.body["transaction"], first.body["transaction"]);
    let other = json!({"type": "grant", "amount": 11, "reason": "Goodwill"});
    let mismatch = credit(&app, &boss, &ann_id, &other, "same").await;
    assert_eq!(mismatch.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(mismatch.body["field"], "Idempotency-Key");

    assert_eq!(app.balance(&ann).await, 10);
    assert_eq!(audit(&app, &boss, "?action=grant").await.len(), 1);
}

#[tokio::test]
async fn a_disabled_user_is_refused_everywhere_and_keeps_tokens_and_history() {
    let app = spawn().await;
    let (boss, _) = admin(&app, "root@example.com").await;
    let (ann, ann_id) = app.user_with("ann@example.com", 3).await;

    let disabled = app
        .post(
            &format!("/api/admin/users/{ann_id}/disable"),
            Some(&boss),
            &json!({"reason": "Abuse report"}),
        )
        .await;
    assert_eq!(disabled.status, StatusCode::OK, "{}", disabled.body);
    assert!(disabled.body["disabled_at"].is_string());

    // The session ended at once: every request of the old token says why.
    let chat = app
        .chat("askatt", &ann, &json!({"message": "hello"}), None)
        .await;
    assert_problem(&chat, StatusCode::FORBIDDEN, "account_disabled");
    let checkout = app
        .post(
            "/api/checkout-session",
            Some(&ann),
            &json!({"package": "100"}),
        )
        .await;
    assert_problem(&checkout, StatusCode::FORBIDDEN, "account_disabled");
    let me = app.get("/api/user/me", Some(&ann)).await;
    assert_problem(&me, StatusCode::FORBIDDEN, "account_disabled");
    let sign_in = app.dev_login("ann@example.com").await;
    assert_problem(&sign_in, StatusCode::FORBIDDEN, "account_disabled");

    let profile = app
        .get(&format!("/api/admin/users/{ann_id}"), Some(&boss))
        .await;
    assert_eq!(profile.body["tokens"], 3);
    let enabled = app
        .post(
            &format!("/api/admin/users/{ann_id}/enable"),
            Some(&boss),
            &json!({}),
        )
        .await;
    assert_eq!(enabled.body["disabled_at"], Value::Null);
    let (again, _) = app.sign_in("ann@example.com").await;
    assert_eq!(app.balance(&again).await, 3);
    assert_eq!(app.history(&again).await.len(), 1);

    let records = audit(&app, &boss, &format!("?target={ann_id}")).await;
    let actions: Vec<&str> = records
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["enable", "disable"]);
    assert_eq!(records[1]["reason"], "Abuse report");
    assert_eq!(records[1]["after"]["sessions_revoked"], 1);
}

#[tokio::test]
async fn roles_change_from_the_api_except_those_the_sign_in_decides() {
    let app = spawn().await;
    let (root, root_id) = admin(&app, "root@example.com").await;
    let (_, ann_id) = app.user_with("ann@example.com", 0).await;
    let (_, boss_id) = app.user_with("boss@example.com", 0).await;

    let role = |id: &str, role: &str| {
        let path = format!("/api/admin/users/{id}/role");
        let body = json!({ "role": role });
        let app = &app;
        let root = root.clone();
        async move { app.put(&path, Some(&root), &body).await }
    };
    let promoted = role(&ann_id, "admin").await;
    assert_eq!(promoted.body["role"], "admin", "{}", promoted.body);
    // A role an admin gave stays across sign-ins.
    let (_, ann) = app.sign_in("ann@example.com").await;
    assert_eq!(ann["role"], "admin");

    let listed = app
        .get(&format!("/api/admin/users/{boss_id}"), Some(&root))
        .await;
    assert_eq!(listed.body["role_from_sign_in"], true);
    assert_problem(
        &role(&boss_id, "user").await,
        StatusCode::CONFLICT,
        "conflict",
    );
    assert_problem(
        &role(&root_id, "user").await,
        StatusCode::CONFLICT,
        "conflict",
    );

    let demoted = role(&ann_id, "user").await;
    assert_eq!(demoted.body["role"], "user");
    let records = audit(&app, &root, "?action=role_change").await;
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["before"], json!({"role": "admin"}));
}

#[tokio::test]
async fn domain_changes_are_audited() {
    let app = spawn().await;
    let (root, _) = admin(&app, "root@example.com").await;
    let body = json!({"name": "hr", "display_name": "HR"});
    let created = app.post("/api/domains", Some(&root), &body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let renamed = json!({"name": "hr", "display_name": "People"});
    let updated = app
        .put(&format!("/api/domains/{id}"), Some(&root), &renamed)
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
    let deleted = app.delete(&format!("/api/domains/{id}"), Some(&root)).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);

    let records = audit(&app, &root, &format!("?target={id}")).await;
    let actions: Vec<&str> = records
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["domain_delete", "domain_update", "domain_create"]);
    assert_eq!(records[1]["before"]["display_name"], "HR");
    assert_eq!(records[1]["after"]["display_name"], "People");
    assert!(records.iter().all(|r| r["target_type"] == "domain"));
}

#[tokio::test]
async fn audit_records_cannot_be_changed_or_deleted() {
    let app = spawn().await;
    let (root, _) = admin(&app, "root@example.com").await;
    let (_, ann_id) = app.user_with("ann@example.com", 0).await;
    let body = json!({"type": "grant", "amount": 1, "reason": "x"});
    credit(&app, &root, &ann_id, &body, "k").await;

    let sql = app.sql().await;
    for statement in [
        "UPDATE admin_audit SET reason = 'edited'",
        "DELETE FROM admin_audit",
        "TRUNCATE admin_audit",
    ] {
        let refused = sql.execute(statement, &[]).await.unwrap_err();
        assert!(
            refused.to_string().contains("append-only")
                || format!("{refused:?}").contains("append-only"),
            "{statement}: {refused:?}"
        );
    }
    assert_eq!(audit(&app, &root, "").await[0]["reason"], "x");
}

#[tokio::test]
async fn a_non_admin_gets_403_from_every_admin_endpoint() {
    let app = spawn().await;
    let (ann, ann_id) = app.user_with("ann@example.com", 0).await;
    let user = format!("/api/admin/users/{ann_id}");
    let calls = [
        (Method::GET, "/api/admin/users".to_owned(), None),
        (Method::GET, user.clone(), None),
        (Method::GET, format!("{user}/transactions"), None),
        (
            Method::POST,
            format!("{user}/credits"),
            Some(json!({"type": "grant", "amount": 5, "reason": "me"})),
        ),
        (Method::POST, format!("{user}/disable"), Some(json!({}))),
        (Method::POST, format!("{user}/enable"), Some(json!({}))),
        (
            Method::PUT,
            format!("{user}/role"),
            Some(json!({"role": "admin"})),
        ),
        (Method::GET, "/api/admin/audit".to_owned(), None),
        (Method::GET, "/api/admin/overview".to_owned(), None),
        (
            Method::GET,
            "/api/admin/overview?from=2026-12-01&to=2026-12-31".to_owned(),
            None,
        ),
        (Method::GET, "/api/admin/transactions.csv".to_owned(), None),
    ];
    for (method, path, body) in calls {
        let mut request = app
            .request(method.clone(), &path, Some(&ann))
            .header("Idempotency-Key", "k");
        if let Some(body) = body {
            request = request.json(&body);
        }
        let reply = app.send(request).await;
        assert_problem(&reply, StatusCode::FORBIDDEN, "forbidden");
        let anonymous = app.send(app.request(method, &path, None)).await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{path}");
    }
    assert_eq!(app.balance(&ann).await, 0);
}
