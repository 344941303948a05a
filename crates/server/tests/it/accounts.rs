//! Accounts over real HTTP on a real database: trial tokens, exports of the
//! ledger, who may see and ask which domain, rate-limit tiers.

use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::TestApp;

#[tokio::test]
async fn concurrent_first_sign_ins_get_the_trial_exactly_once() {
    let app = TestApp::spawn(&[("TRIAL_TOKENS", "5")]).await;
    let replies = join_all((0..8).map(|_| app.dev_login("new@example.com"))).await;
    for reply in &replies {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }
    let token = replies[0].body["session_token"].as_str().unwrap();
    let id = replies[0].body["user"]["id"].as_str().unwrap();

    assert_eq!(app.balance(token).await, 5);
    let ledger = app.ledger(id).await;
    assert_eq!(ledger.len(), 1, "{ledger:?}");
    assert_eq!((ledger[0].kind.as_str(), ledger[0].amount), ("grant", 5));
    assert_eq!(app.history(token).await[0]["metadata"]["reason"], "trial");

    // Signing in again later gives nothing more.
    app.sign_in("new@example.com").await;
    assert_eq!(app.balance(token).await, 5);
    app.db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn without_trial_tokens_a_first_sign_in_has_nothing() {
    let app = TestApp::spawn(&[]).await;
    let (token, user) = app.sign_in("plain@example.com").await;
    assert_eq!(user["tokens"], 0);
    assert!(app.history(&token).await.is_empty());
}

#[tokio::test]
async fn the_first_sign_in_answers_with_the_trial_balance() {
    let app = TestApp::spawn(&[("TRIAL_TOKENS", "3")]).await;
    let (_, user) = app.sign_in("first@example.com").await;
    assert_eq!(user["tokens"], 3);
}

/// The records of a CSV export, its header row checked.
fn csv_records(body: &str) -> Vec<csv::StringRecord> {
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    assert_eq!(
        reader.headers().unwrap(),
        vec![
            "id",
            "created_at",
            "user_id",
            "type",
            "amount",
            "balance_after",
            "service_type",
            "domain_id",
            "stripe_payment_intent_id",
            "metadata",
        ]
    );
    reader.records().map(Result::unwrap).collect()
}

async fn csv_get(app: &TestApp, path: &str, token: &str) -> (StatusCode, String) {
    let res = app
        .request(Method::GET, path, Some(token))
        .send()
        .await
        .unwrap();
    let status = res.status();
    if status == StatusCode::OK {
        assert_eq!(
            res.headers().get("content-type").unwrap(),
            "text/csv; charset=utf-8"
        );
    }
    (status, res.text().await.unwrap())
}

#[tokio::test]
async fn the_own_csv_export_parses_and_matches_the_ledger() {
    let app = TestApp::spawn(&[]).await;
    let (token, id) = app.user_with("csv@example.com", 7).await;
    app.grant("csv@example.com", 3, "second-grant").await;
    app.chat("askatt", &token, &json!({"message": "Hello"}), None)
        .await;
    app.user_with("someone-else@example.com", 4).await;

    let (status, body) = csv_get(&app, "/api/user/transactions.csv", &token).await;
    assert_eq!(status, StatusCode::OK);
    let records = csv_records(&body);
    let mut ledger = app.ledger(&id).await;
    ledger.reverse();
    assert_eq!(records.len(), ledger.len());
    for (record, row) in records.iter().zip(&ledger) {
        assert_eq!(&record[0], row.id);
        assert_eq!(&record[2], id);
        assert_eq!(&record[3], row.kind);
        assert_eq!(record[4].parse::<i32>().unwrap(), row.amount);
    }
    let history = app.history(&token).await;
    for (record, item) in records.iter().zip(&history) {
        assert_eq!(&record[0], item["id"].as_str().unwrap());
        assert_eq!(record[5].parse::<i64>().unwrap(), item["balance_after"]);
        let metadata: Value = serde_json::from_str(&record[9]).unwrap();
        assert_eq!(metadata, item["metadata"]);
    }

    let (_, grants) = csv_get(&app, "/api/user/transactions.csv?type=grant", &token).await;
    assert_eq!(csv_records(&grants).len(), 2);
    let (status, _) = csv_get(
        &app,
        "/api/user/transactions.csv?from=2026-12-02&to=2026-12-01",
        &token,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn admins_export_everyones_rows_of_a_period_and_no_one_else_may() {
    let app = TestApp::spawn(&[("ADMIN_EMAILS", "boss@example.com")]).await;
    let (boss, _) = app.sign_in("boss@example.com").await;
    let (user, _) = app.user_with("ann@example.com", 2).await;
    app.user_with("bob@example.com", 5).await;

    let today = chrono::Utc::now().date_naive();
    let (status, body) = csv_get(
        &app,
        &format!("/api/admin/transactions.csv?from={today}&to={today}"),
        &boss,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let amounts: Vec<String> = csv_records(&body).iter().map(|r| r[4].to_owned()).collect();
    assert_eq!(amounts, ["5", "2"]);

    let tomorrow = today.succ_opt().unwrap();
    let (_, later) = csv_get(
        &app,
        &format!("/api/admin/transactions.csv?from={tomorrow}"),
        &boss,
    )
    .await;
    assert!(csv_records(&later).is_empty());

    let (status, _) = csv_get(&app, "/api/admin/transactions.csv", &user).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_usage_chart_counts_charged_chats_per_day_and_service() {
    let app = TestApp::spawn(&[]).await;
    let (token, _) = app.user_with("chart@example.com", 5).await;
    for _ in 0..2 {
        let reply = app
            .chat("askatt", &token, &json!({"message": "Hello"}), None)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }
    let (status, usage) = app.get("/api/user/usage", Some(&token)).await.into_parts();
    assert_eq!(status, StatusCode::OK);
    let today = chrono::Utc::now().date_naive().to_string();
    assert_eq!(
        usage["days"],
        json!([{"day": today, "service_type": "askatt", "domain_id": null, "tokens": 2}])
    );
    let (status, _) = app
        .get("/api/user/usage?days=0", Some(&token))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}
