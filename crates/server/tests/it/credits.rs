//! The credits API over real HTTP against a fresh real database: apps read
//! balances, spend tokens (never more than there are, once per key, within
//! their daily limit) and refund them; the ledger stays whole after each.

use std::time::Duration;

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::apps::{admin, register, spawn};
use crate::support::{Reply, TestApp, assert_problem};

async fn consume(app: &TestApp, creds: &(String, String), user: &str, body: &Value) -> Reply {
    app.send(
        app.client
            .post(app.url("/api/v1/credits/consume"))
            .basic_auth(&creds.0, Some(&creds.1))
            .header("X-Askgate-User-Token", user)
            .json(body),
    )
    .await
}

async fn refund(app: &TestApp, creds: &(String, String), id: &str) -> Reply {
    app.send(
        app.client
            .post(app.url(&format!("/api/v1/credits/{id}/refund")))
            .basic_auth(&creds.0, Some(&creds.1)),
    )
    .await
}

async fn app_balance(app: &TestApp, creds: &(String, String), user: &str) -> Reply {
    app.send(
        app.client
            .get(app.url("/api/v1/balance"))
            .basic_auth(&creds.0, Some(&creds.1))
            .header("X-Askgate-User-Token", user),
    )
    .await
}

/// The whole ledger audit is clean (balance = Σ ledger, refunds and app
/// consumptions consistent).
async fn assert_ledger_whole(app: &TestApp) {
    let report = askgate_postgres::audit::audit(&app.db.database(), Duration::from_secs(3600))
        .await
        .unwrap();
    assert!(report.is_clean(), "{report}");
}

fn spend(amount: i32, key: &str) -> Value {
    json!({ "amount": amount, "reason": "image render", "idempotency_key": key })
}

#[tokio::test]
async fn fifty_concurrent_consumes_of_one_spend_exactly_a_balance_of_ten() {
    let app = spawn().await;
    let boss = admin(&app).await;
    let creds = register(&app, &boss, &["credits:consume", "balance:read"], json!({})).await;
    let (user, _) = app.user_with("ann@example.com", 10).await;

    let replies = join_all((0..50).map(|i| {
        let (app, creds, user) = (&app, &creds, &user);
        async move { consume(app, creds, user, &spend(1, &format!("k-{i}"))).await }
    }))
    .await;
    let spent = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .count();
    let refused: Vec<_> = replies
        .iter()
        .filter(|r| r.status != StatusCode::CREATED)
        .collect();
    assert_eq!(spent, 10);
    for r in &refused {
        assert_problem(r, StatusCode::PAYMENT_REQUIRED, "insufficient_tokens");
        assert_eq!(r.body["balance"], 0);
    }
    let balance = app_balance(&app, &creds, &user).await;
    assert_eq!(balance.body, json!({ "tokens": 0 }), "{}", balance.body);
    assert_eq!(app.balance(&user).await, 0);
    assert_ledger_whole(&app).await;
}

#[tokio::test]
async fn a_retry_with_the_same_key_is_answered_the_same_and_spends_nothing_more() {
    let app = spawn().await;
    let boss = admin(&app).await;
    let creds = register(&app, &boss, &["credits:consume"], json!({})).await;
    let (user, user_id) = app.user_with("bob@example.com", 10).await;

    let first = consume(&app, &creds, &user, &spend(3, "order-1")).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!(first.body["balance_after"], 7);
    assert_eq!(first.body["replayed"], false);
    let body = spend(3, "order-1");
    let retries = join_all((0..5).map(|_| consume(&app, &creds, &user, &body))).await;
    for retry in retries {
        assert_eq!(retry.status, StatusCode::OK, "{}", retry.body);
        assert_eq!(retry.body["id"], first.body["id"]);
        assert_eq!(retry.body["balance_after"], 7);
        assert_eq!(retry.body["created_at"], first.body["created_at"]);
        assert_eq!(retry.body["replayed"], true);
    }
    let other = consume(&app, &creds, &user, &spend(4, "order-1")).await;
    assert_problem(
        &other,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(other.body["field"], "idempotency_key");
    assert_eq!(app.balance(&user).await, 7);
    let rows = app.ledger(&user_id).await;
    assert_eq!(rows.iter().filter(|r| r.kind == "consumption").count(), 1);

    // Another app's key space is its own.
    let shop2 = register(
        &app,
        &boss,
        &["credits:consume"],
        json!({ "name": "Shop 2" }),
    )
    .await;
    let theirs = consume(&app, &shop2, &user, &spend(3, "order-1")).await;
    assert_eq!(theirs.status, StatusCode::CREATED, "{}", theirs.body);

    // The user's history says which app spent the tokens, and why.
    let history = app.history(&user).await;
    assert_eq!(history[0]["service_type"], "app");
    assert_eq!(history[0]["metadata"]["app_name"], "Shop 2");
    assert_eq!(history[1]["metadata"]["app_name"], "Shop");
    assert_eq!(history[1]["metadata"]["reason"], "image render");
    assert_eq!(history[1]["metadata"]["app_id"], creds.0.as_str());
    assert_ledger_whole(&app).await;
}

#[tokio::test]
async fn the_daily_limit_per_user_is_enforced() {
    let app = spawn().await;
    let boss = admin(&app).await;
    let creds = register(
        &app,
        &boss,
        &["credits:consume"],
        json!({ "daily_limit_per_user": 5 }),
    )
    .await;
    let (user, _) = app.user_with("cy@example.com", 20).await;
    let (other, _) = app.user_with("dee@example.com", 20).await;

    assert_eq!(
        consume(&app, &creds, &user, &spend(3, "a")).await.status,
        StatusCode::CREATED
    );
    let over = consume(&app, &creds, &user, &spend(3, "b")).await;
    assert_problem(&over, StatusCode::TOO_MANY_REQUESTS, "daily_limit_exceeded");
    assert!(over.headers.contains_key("retry-after"));
    assert_eq!(
        consume(&app, &creds, &user, &spend(2, "c")).await.status,
        StatusCode::CREATED
    );
    let over = consume(&app, &creds, &user, &spend(1, "d")).await;
    assert_problem(&over, StatusCode::TOO_MANY_REQUESTS, "daily_limit_exceeded");
    // Per user: another user has their own allowance.
    assert_eq!(
        consume(&app, &creds, &other, &spend(5, "e")).await.status,
        StatusCode::CREATED
    );
    assert_eq!(app.balance(&user).await, 15);
    assert_ledger_whole(&app).await;
}

#[tokio::test]
async fn an_app_refunds_its_own_consumption_once_within_a_day() {
    let app = spawn().await;
    let boss = admin(&app).await;
    let creds = register(&app, &boss, &["credits:consume"], json!({})).await;
    let (user, _) = app.user_with("eve@example.com", 10).await;
    let spent = consume(&app, &creds, &user, &spend(4, "r-1")).await;
    let id = spent.body["id"].as_str().unwrap().to_owned();

    let other = register(
        &app,
        &boss,
        &["credits:consume"],
        json!({ "name": "Other" }),
    )
    .await;
    assert_problem(
        &refund(&app, &other, &id).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );

    let refunded = refund(&app, &creds, &id).await;
    assert_eq!(refunded.status, StatusCode::OK, "{}", refunded.body);
    assert_eq!(refunded.body["amount"], 4);
    assert_eq!(refunded.body["balance_after"], 10);
    assert_problem(
        &refund(&app, &creds, &id).await,
        StatusCode::CONFLICT,
        "conflict",
    );
    assert_eq!(app.balance(&user).await, 10);
    assert_ledger_whole(&app).await;

    let late = consume(&app, &creds, &user, &spend(2, "r-2")).await;
    let late_id = late.body["id"].as_str().unwrap().to_owned();
    app.sql()
        .await
        .execute(
            "UPDATE app_consumptions SET created_at = now() - interval '25 hours' WHERE id = $1::text::uuid",
            &[&late_id],
        )
        .await
        .unwrap();
    let too_late = refund(&app, &creds, &late_id).await;
    assert_problem(
        &too_late,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(app.balance(&user).await, 8);
    assert_ledger_whole(&app).await;
}

#[tokio::test]
async fn the_app_and_the_users_key_need_their_scopes() {
    let app = spawn().await;
    let boss = admin(&app).await;
    let reader = register(&app, &boss, &["balance:read"], json!({})).await;
    let (user, _) = app.user_with("fay@example.com", 5).await;

    let refused = consume(&app, &reader, &user, &spend(1, "s-1")).await;
    assert_problem(&refused, StatusCode::FORBIDDEN, "insufficient_scope");
    assert_eq!(
        app_balance(&app, &reader, &user).await.body,
        json!({ "tokens": 5 })
    );

    // A user's API key stands in for the session within its own scopes.
    let created = app
        .post(
            "/api/user/api-keys",
            Some(&user),
            &json!({ "name": "k", "scopes": ["balance:read"] }),
        )
        .await;
    let key = created.body["secret"].as_str().unwrap().to_owned();
    assert_eq!(
        app_balance(&app, &reader, &key).await.body,
        json!({ "tokens": 5 })
    );
    let spender = register(
        &app,
        &boss,
        &["credits:consume"],
        json!({ "name": "Spender" }),
    )
    .await;
    let refused = consume(&app, &spender, &key, &spend(1, "s-2")).await;
    assert_problem(&refused, StatusCode::FORBIDDEN, "insufficient_scope");

    // Without the user's token, or with a bad one: 401.
    let none = app
        .send(
            app.client
                .get(app.url("/api/v1/balance"))
                .basic_auth(&reader.0, Some(&reader.1)),
        )
        .await;
    assert_problem(&none, StatusCode::UNAUTHORIZED, "unauthenticated");
    let bad = app_balance(&app, &reader, "nonsense").await;
    assert_problem(&bad, StatusCode::UNAUTHORIZED, "unauthenticated");
    for body in [
        spend(0, "x"),
        spend(101, "x"),
        json!({ "amount": 1, "reason": "", "idempotency_key": "x" }),
    ] {
        let reply = consume(&app, &spender, &user, &body).await;
        assert_problem(
            &reply,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        );
    }
    assert_eq!(app.balance(&user).await, 5);
    assert_ledger_whole(&app).await;
}
