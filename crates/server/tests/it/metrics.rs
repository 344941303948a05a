//! Prometheus `/metrics` over real HTTP. The recorder is global to the process,
//! so every instance of this test binary adds to the same counters: the tests
//! that count start theirs with [`TestApp::counting`], which no other test's
//! instance serves beside, and assert what their own requests added to a
//! reading taken before them.

use crate::support::TestApp;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

/// The value of the sample `name` (exact, with its labels) in `text`.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .map(|v| v.trim().parse().unwrap())
}

/// How much the sample `name` grew from `before` to `after`; a sample not yet
/// exported counts as 0.
fn grew(before: &str, after: &str, name: &str) -> f64 {
    sample(after, name).unwrap_or(0.0) - sample(before, name).unwrap_or(0.0)
}

/// `METRICS_TOKEN` of the instances that serve `/metrics` on their main listener.
const METRICS_TOKEN: &str = "metrics-test-token-0123456789";

/// The text of `/metrics` on `app`'s main listener.
async fn scrape(app: &TestApp) -> String {
    app.client
        .get(format!("{}/metrics", app.base))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn metrics_count_a_chat_by_route_pattern_the_token_debited_and_the_pool() {
    let app = TestApp::counting(&[("METRICS_TOKEN", METRICS_TOKEN)]).await;
    let client = &app.client;
    let email = "metrics@example.com";
    let (token, _) = app.sign_in(email).await;
    let before = scrape(&app).await;
    app.grant(email, 1, &format!("grant-{}", Uuid::new_v4()))
        .await;
    let chat = client
        .post(format!("{}/api/askatt/chat", app.base))
        .bearer_auth(&token)
        .json(&json!({ "message": "hello" }))
        .send()
        .await
        .unwrap();
    assert_eq!(chat.status(), StatusCode::OK);
    let missing = client
        .get(format!("{}/api/conversations/{}", app.base, Uuid::new_v4()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    let res = client
        .get(format!("{}/metrics", app.base))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = res.text().await.unwrap();
    for name in [
        r#"askgate_http_requests_total{method="POST",route="/api/askatt/chat",status="200"}"#,
        // A raw path with an id is counted under its pattern.
        r#"askgate_http_requests_total{method="GET",route="/api/conversations/{id}",status="404"}"#,
        "askgate_tokens_debited_total",
        r#"askgate_tokens_credited_total{kind="grant"}"#,
        r#"askgate_gateway_overhead_seconds_count{route="/api/askatt/chat"}"#,
        r#"askgate_upstream_duration_seconds_count{service="askatt",domain="",outcome="ok"}"#,
    ] {
        assert_eq!(grew(&before, &text, name), 1.0, "{name} in\n{text}");
    }
    let in_use = sample(&text, r#"askgate_db_pool_connections{state="in_use"}"#).unwrap();
    let idle = sample(&text, r#"askgate_db_pool_connections{state="idle"}"#).unwrap();
    assert!(in_use + idle >= 1.0, "{text}");
}

#[tokio::test]
async fn with_metrics_addr_metrics_move_to_their_own_listener() {
    let app = TestApp::spawn(&[("METRICS_ADDR", "127.0.0.1:0")]).await;
    let client = &app.client;
    let port = app.metrics_port.unwrap();
    let own = client
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), StatusCode::OK);
    assert!(
        own.text()
            .await
            .unwrap()
            .contains("askgate_db_pool_connections")
    );
    let main = client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(main.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_main_listener_serves_metrics_only_with_metrics_token() {
    let closed = TestApp::spawn(&[]).await;
    let res = closed
        .client
        .get(format!("{}/metrics", closed.base))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(!res.text().await.unwrap().contains("askgate_"));

    let app = TestApp::spawn(&[("METRICS_TOKEN", METRICS_TOKEN)]).await;
    let get = |token: Option<&str>| {
        let request = app.client.get(format!("{}/metrics", app.base));
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
        .send()
    };
    for token in [None, Some("metrics-test-token-012345678X"), Some("short")] {
        let res = get(token).await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{token:?}");
        assert!(res.headers().contains_key("www-authenticate"));
        assert!(!res.text().await.unwrap().contains("askgate_"));
    }
    let res = get(Some(METRICS_TOKEN)).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("askgate_db_pool_connections")
    );
}

/// Stripe's scheme: `t=<unix>,v1=hex(HMAC-SHA256(secret, "<t>.<body>"))`.
fn stripe_signature(body: &str, secret: &str) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.{body}").as_bytes());
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

#[tokio::test]
async fn metrics_count_webhook_events_their_duplicates_and_rate_limited_chats() {
    const WEBHOOK_SECRET: &str = "whsec_askgate_metrics";
    let app = TestApp::counting(&[
        ("STRIPE_SECRET_KEY", "sk_test_askgate_metrics"),
        ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
        // Stripe's API is never called here.
        ("STRIPE_API_BASE", "http://127.0.0.1:9"),
        ("RATE_LIMIT_PER_MINUTE", "1"),
        ("METRICS_TOKEN", METRICS_TOKEN),
    ])
    .await;
    let client = &app.client;
    let (token, user) = app.sign_in("buyer@example.com").await;
    let before = scrape(&app).await;

    // A $5 purchase of 100 tokens, its event delivered twice: credited once,
    // the repeat counted as a duplicate.
    let mut event: Value = serde_json::from_str(include_str!(
        "../../../stripe/fixtures/events/payment_intent_succeeded.json"
    ))
    .unwrap();
    event["id"] = json!(format!("evt_{}", Uuid::new_v4().simple()));
    let intent = &mut event["data"]["object"];
    intent["id"] = json!(format!("pi_{}", Uuid::new_v4().simple()));
    intent["metadata"] = json!({
        "user_id": user["id"],
        "package": "100",
        "tokens": "100",
    });
    intent["amount"] = json!(500);
    intent["amount_received"] = json!(500);
    let body = event.to_string();
    let mut outcomes = Vec::new();
    for _ in 0..2 {
        let res = client
            .post(format!("{}/api/webhook/stripe", app.base))
            .header("Content-Type", "application/json")
            .header("Stripe-Signature", stripe_signature(&body, WEBHOOK_SECRET))
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let reply: Value = res.json().await.unwrap();
        outcomes.push(reply["outcome"].as_str().unwrap().to_owned());
    }
    assert_eq!(outcomes, ["credited", "duplicate_event"]);

    // One chat a minute: the second is refused with 429.
    let mut statuses = Vec::new();
    for _ in 0..2 {
        let res = client
            .post(format!("{}/api/askatt/chat", app.base))
            .bearer_auth(&token)
            .json(&json!({ "message": "hello" }))
            .send()
            .await
            .unwrap();
        statuses.push(res.status());
    }
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::TOO_MANY_REQUESTS],
        "the second chat within the minute is limited"
    );

    let text = scrape(&app).await;
    for (name, value) in [
        (r#"askgate_webhook_events_total{outcome="credited"}"#, 1.0),
        (
            r#"askgate_webhook_events_total{outcome="duplicate_event"}"#,
            1.0,
        ),
        ("askgate_webhook_duplicates_total", 1.0),
        (r#"askgate_tokens_credited_total{kind="purchase"}"#, 100.0),
        (
            r#"askgate_rate_limited_total{route="/api/askatt/chat"}"#,
            1.0,
        ),
        ("askgate_tokens_debited_total", 1.0),
    ] {
        assert_eq!(grew(&before, &text, name), value, "{name} in\n{text}");
    }
}
