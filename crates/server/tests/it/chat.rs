//! Chat, domains and conversations over real HTTP: askgate on a random port,
//! a fresh real database per test, wiremock standing in for the AI upstreams.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::{LedgerRow, TestApp, assert_problem};
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ADMIN: &str = "admin@example.com";

/// askgate with an admin, room for many requests, and the wiremock upstreams
/// allowed; `overrides` win over these defaults.
async fn spawn_with(overrides: &[(&str, &str)]) -> TestApp {
    let mut pairs: Vec<(&str, &str)> = overrides.to_vec();
    pairs.extend([
        ("DATABASE_MAX_CONNECTIONS", "10"),
        ("ADMIN_EMAILS", ADMIN),
        ("RATE_LIMIT_PER_MINUTE", "1000"),
        // The wiremock upstreams, and the example host of the domain tests.
        ("UPSTREAM_ALLOWED_HOSTS", "127.0.0.1,docs.example.com"),
    ]);
    TestApp::spawn(&pairs).await
}

impl TestApp {
    /// A second askgate instance on the same database (and settings).
    async fn another_instance(
        &self,
        overrides: &[(&str, &str)],
    ) -> (String, tokio::task::JoinHandle<std::io::Result<()>>) {
        let mut pairs: Vec<(&str, &str)> = overrides.to_vec();
        pairs.push(("DATABASE_MAX_CONNECTIONS", "10"));
        let served = crate::support::serve(crate::support::settings(&self.db, &pairs)).await;
        (served.base, served.server)
    }

    /// Rows other than the test's own grant.
    async fn charges(&self, user_id: &str) -> Vec<LedgerRow> {
        self.ledger(user_id)
            .await
            .into_iter()
            .filter(|r| r.kind != "grant")
            .collect()
    }

    /// Stores a domain straight in the database, as one saved before the
    /// current rules (or edited in SQL) would be; returns its id.
    async fn store_domain(&self, name: &str, endpoint: &str, configuration: &Value) -> String {
        let configuration = configuration.to_string();
        self.sql()
            .await
            .query_one(
                "INSERT INTO domains (id, name, display_name, api_endpoint, configuration) \
                 VALUES ($1::text::uuid, $2, 'Stored', $3, $4::text::jsonb) RETURNING id::text",
                &[
                    &Uuid::new_v4().to_string(),
                    &name,
                    &endpoint,
                    &configuration,
                ],
            )
            .await
            .unwrap()
            .get(0)
    }

    /// Creates a domain as the admin; returns its id.
    async fn create_domain(&self, admin: &str, name: &str, endpoint: &str) -> String {
        let reply = self
            .post(
                "/api/domains",
                Some(admin),
                &json!({
                    "name": name,
                    "display_name": "HR policies",
                    "api_endpoint": endpoint,
                    "configuration": {"kind": "askdocs", "index": "hr-2026"},
                }),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body["id"].as_str().unwrap().to_owned()
    }
}

/// An AskAT&T upstream answering `answer` after `delay`.
async fn askatt_upstream(answer: &str, delay: Duration) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/chat"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "response": answer }))
                .set_delay(delay),
        )
        .mount(&server)
        .await;
    server
}

/// Waits until `check` holds, for at most `limit`.
async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return true;
        }
        if started.elapsed() > limit {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// --- AskAT&T ------------------------------------------------------------------

#[tokio::test]
async fn askatt_sends_the_message_without_authorization_and_charges_one_token() {
    let upstream = askatt_upstream("Paris.", Duration::ZERO).await;
    let app = spawn_with(&[("ASKATT_API_ENDPOINT", &upstream.uri())]).await;
    let (token, user) = app.user_with("ann@example.com", 5).await;

    let reply = app
        .chat(
            "askatt",
            &token,
            &json!({"message": "Capital of France?"}),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["response"], "Paris.");
    assert_eq!(reply.body["tokens_remaining"], 4);
    assert!(reply.body.get("domain_name").is_none());
    let conversation = reply.body["conversation_id"].as_str().unwrap().to_owned();

    let received = upstream.received_requests().await.unwrap();
    assert_eq!(received.len(), 1);
    assert!(received[0].headers.get("authorization").is_none());
    let body: Value = serde_json::from_slice(&received[0].body).unwrap();
    assert_eq!(body, json!({"message": "Capital of France?"}));

    // Continuing the conversation sends its history along.
    let reply = app
        .chat(
            "askatt",
            &token,
            &json!({"message": "And of Italy?", "conversation_id": conversation}),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["conversation_id"], conversation.as_str());
    assert_eq!(reply.body["tokens_remaining"], 3);
    let received = upstream.received_requests().await.unwrap();
    let body: Value = serde_json::from_slice(&received[1].body).unwrap();
    assert_eq!(body["message"], "And of Italy?");
    assert_eq!(
        body["history"],
        json!([
            {"role": "user", "content": "Capital of France?"},
            {"role": "assistant", "content": "Paris."},
        ])
    );

    let charges = app.charges(&user).await;
    assert_eq!(charges.len(), 2);
    assert!(
        charges
            .iter()
            .all(|r| r.kind == "consumption" && r.amount == -1)
    );
    assert_eq!(app.balance(&token).await, 3);
    app.db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn an_upstream_error_is_502_and_the_token_is_refunded() {
    let upstream = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/chat"))
        .respond_with(ResponseTemplate::new(500).set_body_string("model exploded at 0x1234"))
        .mount(&upstream)
        .await;
    let app = spawn_with(&[("ASKATT_API_ENDPOINT", &upstream.uri())]).await;
    let (token, user) = app.user_with("ann@example.com", 3).await;

    let reply = app
        .chat("askatt", &token, &json!({"message": "hello"}), None)
        .await;
    assert_problem(&reply, StatusCode::BAD_GATEWAY, "upstream_failed");
    assert!(!reply.body.to_string().contains("0x1234"));

    assert_eq!(app.balance(&token).await, 3);
    let charges = app.charges(&user).await;
    assert_eq!(charges.len(), 2, "{charges:?}");
    assert_eq!(
        (charges[0].kind.as_str(), charges[0].amount),
        ("consumption", -1)
    );
    assert_eq!((charges[1].kind.as_str(), charges[1].amount), ("refund", 1));
    assert_eq!(charges[1].refunds.as_deref(), Some(charges[0].id.as_str()));
    app.db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn a_slow_upstream_is_504_and_the_token_is_refunded() {
    let upstream = askatt_upstream("too late", Duration::from_secs(3)).await;
    let app = spawn_with(&[
        ("ASKATT_API_ENDPOINT", &upstream.uri()),
        ("UPSTREAM_TIMEOUT_MS", "300"),
    ])
    .await;
    let (token, user) = app.user_with("ann@example.com", 1).await;

    let started = Instant::now();
    let reply = app
        .chat("askatt", &token, &json!({"message": "hello"}), None)
        .await;
    assert_problem(&reply, StatusCode::GATEWAY_TIMEOUT, "upstream_timeout");
    assert!(started.elapsed() < Duration::from_secs(2));

    assert_eq!(app.balance(&token).await, 1);
    let charges = app.charges(&user).await;
    assert_eq!(charges.len(), 2, "{charges:?}");
    assert_eq!(charges[1].kind, "refund");
    assert_eq!(charges[1].refunds.as_deref(), Some(charges[0].id.as_str()));
    app.db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn fifty_concurrent_chats_on_ten_tokens_answer_exactly_ten() {
    let upstream = askatt_upstream("ok", Duration::from_millis(20)).await;
    let app = Arc::new(spawn_with(&[("ASKATT_API_ENDPOINT", &upstream.uri())]).await);
    let (token, user) = app.user_with("busy@example.com", 10).await;

    let replies = join_all((0..50).map(|n| {
        let app = Arc::clone(&app);
        let token = token.clone();
        async move {
            app.chat("askatt", &token, &json!({"message": format!("q{n}")}), None)
                .await
        }
    }))
    .await;

    let answered = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    let refused: Vec<_> = replies
        .iter()
        .filter(|r| r.status == StatusCode::PAYMENT_REQUIRED)
        .collect();
    assert_eq!((answered, refused.len()), (10, 40));
    for reply in refused {
        assert_problem(reply, StatusCode::PAYMENT_REQUIRED, "insufficient_tokens");
        assert_eq!(reply.body["balance"], 0);
        assert_eq!(reply.body["purchase_url"], "/buy");
    }
    assert_eq!(app.balance(&token).await, 0);
    assert_eq!(upstream.received_requests().await.unwrap().len(), 10);
    assert_eq!(app.charges(&user).await.len(), 10);
    app.db.assert_ledger_invariant().await;
}

// --- Idempotency-Key ----------------------------------------------------------

#[tokio::test]
async fn an_idempotent_retry_gets_the_same_answer_and_is_charged_once() {
    let upstream = askatt_upstream("the answer", Duration::from_millis(300)).await;
    let app = Arc::new(spawn_with(&[("ASKATT_API_ENDPOINT", &upstream.uri())]).await);
    let (token, user) = app.user_with("ann@example.com", 5).await;
    let body = json!({"message": "once please"});

    // Two at the same time: the second waits for the first and replays it.
    let (first, second) = tokio::join!(
        app.chat("askatt", &token, &body, Some("key-1")),
        app.chat("askatt", &token, &body, Some("key-1")),
    );
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
    assert_eq!(first.body, second.body);
    // And a later retry, too.
    let third = app.chat("askatt", &token, &body, Some("key-1")).await;
    assert_eq!(third.body, first.body);
    assert_eq!(first.body["tokens_remaining"], 4);

    assert_eq!(upstream.received_requests().await.unwrap().len(), 1);
    assert_eq!(app.balance(&token).await, 4);
    assert_eq!(app.charges(&user).await.len(), 1);

    // Another key is another question.
    let other = app.chat("askatt", &token, &body, Some("key-2")).await;
    assert_eq!(other.body["tokens_remaining"], 3);
    app.db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn text_postgres_cannot_keep_is_refused_from_users_and_replaced_from_upstreams() {
    // A NUL character cannot be stored in PostgreSQL text or jsonb.
    let upstream = askatt_upstream("half\u{0}answer", Duration::ZERO).await;
    let app = spawn_with(&[
        ("ASKATT_API_ENDPOINT", &upstream.uri()),
        ("ADMIN_EMAILS", "admin@example.com"),
    ])
    .await;
    let (token, user) = app.user_with("ann@example.com", 5).await;

    // From the user: refused before anything is charged or sent.
    let reply = app
        .chat(
            "askatt",
            &token,
            &json!({"message": "a\u{0}b"}),
            Some("nul-1"),
        )
        .await;
    assert_problem(
        &reply,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert!(upstream.received_requests().await.unwrap().is_empty());
    assert!(app.charges(&user).await.is_empty());

    // From the upstream: the answer is given, kept, and replayed with U+FFFD.
    let first = app
        .chat(
            "askatt",
            &token,
            &json!({"message": "hello"}),
            Some("nul-2"),
        )
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(first.body["response"], "half\u{FFFD}answer");
    let conversation = first.body["conversation_id"].as_str().unwrap().to_owned();
    let kept = app
        .get(&format!("/api/conversations/{conversation}"), Some(&token))
        .await;
    assert_eq!(kept.status, StatusCode::OK, "{}", kept.body);
    assert!(
        kept.body.to_string().contains("half\u{FFFD}answer"),
        "{}",
        kept.body
    );
    let retry = app
        .chat(
            "askatt",
            &token,
            &json!({"message": "hello"}),
            Some("nul-2"),
        )
        .await;
    assert_eq!(retry.status, StatusCode::OK, "{}", retry.body);
    assert_eq!(retry.body, first.body);
    assert_eq!(app.charges(&user).await.len(), 1);

    // Domains: each field names itself, and nothing is created.
    let (admin, _) = app.sign_in("admin@example.com").await;
    for (field, body) in [
        (
            "display_name",
            json!({"name": "hr", "display_name": "H\u{0}R"}),
        ),
        (
            "description",
            json!({"name": "hr", "display_name": "HR", "description": "x\u{0}"}),
        ),
        (
            "configuration",
            json!({"name": "hr", "display_name": "HR", "configuration": {"k": "\u{0}"}}),
        ),
    ] {
        let reply = app.post("/api/domains", Some(&admin), &body).await;
        assert_problem(
            &reply,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        );
        assert_eq!(reply.body["field"], field, "{}", reply.body);
    }
    let listed = app.get("/api/domains", Some(&admin)).await;
    assert_eq!(
        listed.body.as_array().map(Vec::len),
        Some(0),
        "{}",
        listed.body
    );
    app.db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn the_same_key_with_another_body_is_422_and_costs_nothing() {
    let upstream = askatt_upstream("ok", Duration::ZERO).await;
    let app = spawn_with(&[("ASKATT_API_ENDPOINT", &upstream.uri())]).await;
    let (token, _) = app.user_with("ann@example.com", 5).await;

    let first = app
        .chat("askatt", &token, &json!({"message": "one"}), Some("k"))
        .await;
    assert_eq!(first.status, StatusCode::OK);
    let reused = app
        .chat("askatt", &token, &json!({"message": "two"}), Some("k"))
        .await;
    assert_problem(
        &reused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(reused.body["field"], "Idempotency-Key");

    let invalid = app
        .chat(
            "askatt",
            &token,
            &json!({"message": "x"}),
            Some("not valid"),
        )
        .await;
    assert_problem(
        &invalid,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(invalid.body["field"], "Idempotency-Key");
    assert_eq!(app.balance(&token).await, 4);
}

// --- rate limits --------------------------------------------------------------

#[tokio::test]
async fn a_rate_limited_chat_is_429_with_retry_after_and_costs_nothing() {
    let upstream = askatt_upstream("ok", Duration::ZERO).await;
    let app = spawn_with(&[
        ("ASKATT_API_ENDPOINT", &upstream.uri()),
        ("RATE_LIMIT_PER_MINUTE", "2"),
    ])
    .await;
    let (token, user) = app.user_with("fast@example.com", 10).await;
    for _ in 0..2 {
        let reply = app
            .chat("askatt", &token, &json!({"message": "hi"}), None)
            .await;
        assert_eq!(reply.status, StatusCode::OK);
    }
    let limited = app
        .chat("askatt", &token, &json!({"message": "hi"}), None)
        .await;
    assert_problem(&limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let header = |name: &str| -> u64 {
        limited
            .headers
            .get(name)
            .unwrap()
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!((1..=30).contains(&header("retry-after")));
    assert_eq!(header("ratelimit-limit"), 2);
    assert_eq!(header("ratelimit-remaining"), 0);
    assert!(header("ratelimit-reset") >= 1);

    assert_eq!(app.balance(&token).await, 8);
    assert_eq!(app.charges(&user).await.len(), 2);
    assert_eq!(upstream.received_requests().await.unwrap().len(), 2);
    // Someone else is not limited by it.
    let (other, _) = app.user_with("calm@example.com", 1).await;
    let reply = app
        .chat("askatt", &other, &json!({"message": "hi"}), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn with_tiers_a_user_and_an_admin_are_limited_at_their_own_numbers_on_both_limiters() {
    let redis = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let tiers = [
        ("RATE_LIMIT_PER_MINUTE", "1"),
        ("RATE_LIMIT_TIERS", "user:2,admin:3"),
    ];
    let in_process = tiers.to_vec();
    let mut shared = tiers.to_vec();
    shared.push(("REDIS_URL", redis.as_str()));
    for limits in [in_process, shared] {
        let app = spawn_with(&limits).await;
        for (email, limit) in [("tiered@example.com", 2), (ADMIN, 3)] {
            let (token, _) = app.user_with(email, 10).await;
            for _ in 0..limit {
                let reply = app
                    .chat("askatt", &token, &json!({"message": "hi"}), None)
                    .await;
                assert_eq!(
                    reply.status,
                    StatusCode::OK,
                    "{email} {limits:?}: {}",
                    reply.body
                );
            }
            let limited = app
                .chat("askatt", &token, &json!({"message": "hi"}), None)
                .await;
            assert_problem(&limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
            assert_eq!(
                limited
                    .headers
                    .get("ratelimit-limit")
                    .unwrap()
                    .to_str()
                    .unwrap(),
                limit.to_string(),
                "{email} {limits:?}"
            );
            assert_eq!(app.balance(&token).await, 10 - i64::from(limit));
        }
    }
}

#[tokio::test]
async fn with_redis_two_instances_share_one_limit() {
    let redis = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let limits = [
        ("REDIS_URL", redis.as_str()),
        ("RATE_LIMIT_PER_MINUTE", "2"),
    ];
    let app = spawn_with(&limits).await;
    let (second, _server) = app.another_instance(&limits).await;
    let (token, _) = app.user_with("shared@example.com", 10).await;
    let ask = |base: String| {
        let client = app.client.clone();
        let token = token.clone();
        async move {
            client
                .post(format!("{base}/api/askatt/chat"))
                .bearer_auth(token)
                .json(&json!({"message": "hi"}))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(ask(app.base.clone()).await, StatusCode::OK);
    assert_eq!(ask(second.clone()).await, StatusCode::OK);
    assert_eq!(ask(app.base.clone()).await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(ask(second).await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(app.balance(&token).await, 8);
}

// --- disconnecting clients ----------------------------------------------------

#[tokio::test]
async fn a_client_that_disconnects_while_the_upstream_answers_still_gets_charged_once_and_the_answer_kept()
 {
    let upstream = askatt_upstream("worth waiting for", Duration::from_millis(800)).await;
    let app = spawn_with(&[("ASKATT_API_ENDPOINT", &upstream.uri())]).await;
    let (token, user) = app.user_with("gone@example.com", 3).await;

    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let result = impatient
        .post(app.url("/api/askatt/chat"))
        .bearer_auth(&token)
        .json(&json!({"message": "long question"}))
        .send()
        .await;
    assert!(result.is_err(), "the client gave up before the answer");

    // The chat finishes without the client: one debit, the answer recorded.
    let recorded = eventually(Duration::from_secs(5), || async {
        let page = app.get("/api/conversations", Some(&token)).await;
        page.body["items"]
            .as_array()
            .is_some_and(|items| items.len() == 1)
    })
    .await;
    assert!(recorded, "the exchange was not recorded");
    let charges = app.charges(&user).await;
    assert_eq!(charges.len(), 1, "{charges:?}");
    assert_eq!(charges[0].kind, "consumption");
    assert_eq!(app.balance(&token).await, 2);
    app.db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn a_client_that_disconnects_before_an_upstream_timeout_still_gets_the_refund() {
    let upstream = askatt_upstream("never in time", Duration::from_secs(5)).await;
    let app = spawn_with(&[
        ("ASKATT_API_ENDPOINT", &upstream.uri()),
        ("UPSTREAM_TIMEOUT_MS", "800"),
    ])
    .await;
    let (token, user) = app.user_with("gone@example.com", 3).await;

    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let result = impatient
        .post(app.url("/api/askatt/chat"))
        .bearer_auth(&token)
        .json(&json!({"message": "long question"}))
        .send()
        .await;
    assert!(result.is_err(), "the client gave up before the answer");

    let refunded = eventually(Duration::from_secs(5), || async {
        app.charges(&user).await.iter().any(|r| r.kind == "refund")
    })
    .await;
    assert!(refunded, "the refund never came");
    let charges = app.charges(&user).await;
    assert_eq!(charges.len(), 2, "{charges:?}");
    assert_eq!(charges[1].refunds.as_deref(), Some(charges[0].id.as_str()));
    assert_eq!(app.balance(&token).await, 3);
    app.db.assert_ledger_invariant().await;
}

// --- AskDocs and domains ------------------------------------------------------

#[tokio::test]
async fn askdocs_sends_the_message_and_the_domains_configuration_to_its_endpoint() {
    let upstream = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hr/ask"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"response": "30 days of leave.", "sources": [{"title": "Handbook"}]}),
        ))
        .mount(&upstream)
        .await;
    let app = spawn_with(&[]).await;
    let (admin, _) = app.sign_in(ADMIN).await;
    let domain = app
        .create_domain(&admin, "hr", &format!("{}/hr/ask", upstream.uri()))
        .await;
    let (token, _) = app.user_with("ann@example.com", 2).await;

    let reply = app
        .chat(
            "askdocs",
            &token,
            &json!({"message": "How much leave?", "domain_id": domain}),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["response"], "30 days of leave.");
    assert_eq!(reply.body["domain_name"], "hr");
    assert_eq!(reply.body["tokens_remaining"], 1);
    assert!(reply.body["conversation_id"].is_string());

    let received = upstream.received_requests().await.unwrap();
    assert_eq!(received.len(), 1);
    assert!(received[0].headers.get("authorization").is_none());
    let body: Value = serde_json::from_slice(&received[0].body).unwrap();
    assert_eq!(
        body,
        json!({
            "message": "How much leave?",
            "configuration": {"kind": "askdocs", "index": "hr-2026"},
        })
    );
}

#[tokio::test]
async fn askdocs_on_an_inactive_or_unknown_domain_is_404_before_any_charge() {
    let upstream = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"response": "ok"})))
        .mount(&upstream)
        .await;
    let app = spawn_with(&[]).await;
    let (admin, _) = app.sign_in(ADMIN).await;
    let endpoint = format!("{}/hr", upstream.uri());
    let domain = app.create_domain(&admin, "hr", &endpoint).await;
    let (token, user) = app.user_with("ann@example.com", 5).await;
    let ask = |domain_id: Value| json!({"message": "q", "domain_id": domain_id});

    // Active: answered (and the domain is now in the cache).
    let reply = app.chat("askdocs", &token, &ask(json!(domain)), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);

    // Deactivated: refused as soon as the admin's write has returned.
    let deactivated = app
        .put(
            &format!("/api/domains/{domain}"),
            Some(&admin),
            &json!({"name": "hr", "display_name": "HR policies", "api_endpoint": endpoint, "is_active": false}),)
        .await;
    assert_eq!(deactivated.status, StatusCode::OK, "{}", deactivated.body);
    assert_eq!(deactivated.body["is_active"], false);
    let reply = app.chat("askdocs", &token, &ask(json!(domain)), None).await;
    assert_problem(&reply, StatusCode::NOT_FOUND, "not_found");

    let unknown = app
        .chat("askdocs", &token, &ask(json!(Uuid::new_v4())), None)
        .await;
    assert_problem(&unknown, StatusCode::NOT_FOUND, "not_found");

    let missing = app
        .chat("askdocs", &token, &json!({"message": "q"}), None)
        .await;
    assert_problem(
        &missing,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(missing.body["field"], "domain_id");

    assert_eq!(app.balance(&token).await, 4);
    assert_eq!(app.charges(&user).await.len(), 1);
    assert_eq!(upstream.received_requests().await.unwrap().len(), 1);
    app.db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn only_admins_manage_domains_and_everyone_lists_the_active_ones() {
    let app = spawn_with(&[]).await;
    let (admin, _) = app.sign_in(ADMIN).await;
    let (user, _) = app.sign_in("ann@example.com").await;
    let hr = json!({
        "name": "hr",
        "display_name": "HR policies",
        "description": "The handbook",
        "api_endpoint": "https://docs.example.com/hr",
        "configuration": {"kind": "askdocs"},
    });

    let refused = app.post("/api/domains", Some(&user), &hr).await;
    assert_problem(&refused, StatusCode::FORBIDDEN, "forbidden");

    let created = app
        .send(
            app.client
                .post(app.url("/api/domains"))
                .bearer_auth(&admin)
                .json(&hr),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created.headers.get("location").unwrap(),
        &format!("/api/domains/{id}")
    );
    assert_eq!(created.body["api_endpoint"], "https://docs.example.com/hr");

    let duplicate = app.post("/api/domains", Some(&admin), &hr).await;
    assert_problem(&duplicate, StatusCode::CONFLICT, "conflict");

    let mut bad = hr.clone();
    bad["name"] = json!("finance");
    bad["api_endpoint"] = json!("ftp://docs.example.com");
    let invalid = app.post("/api/domains", Some(&admin), &bad).await;
    assert_problem(
        &invalid,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(invalid.body["field"], "api_endpoint");

    // Users see active domains, without where their questions go.
    let listed = app.get("/api/domains", Some(&user)).await;
    assert_eq!(listed.status, StatusCode::OK);
    let items = listed.body.as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["name"], "hr");
    assert!(items[0].get("api_endpoint").is_none());
    assert!(items[0].get("configuration").is_none());
    let peek = app
        .get("/api/domains?include_inactive=true", Some(&user))
        .await;
    assert_problem(&peek, StatusCode::FORBIDDEN, "forbidden");

    let mut renamed = hr.clone();
    renamed["display_name"] = json!("Human resources");
    let updated = app
        .put(&format!("/api/domains/{id}"), Some(&admin), &renamed)
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
    assert_eq!(updated.body["display_name"], "Human resources");
    let by_user = app
        .put(&format!("/api/domains/{id}"), Some(&user), &renamed)
        .await;
    assert_problem(&by_user, StatusCode::FORBIDDEN, "forbidden");
    let nowhere = app
        .put(
            &format!("/api/domains/{}", Uuid::new_v4()),
            Some(&admin),
            &renamed,
        )
        .await;
    assert_problem(&nowhere, StatusCode::NOT_FOUND, "not_found");

    assert_problem(
        &app.delete(&format!("/api/domains/{id}"), Some(&user)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    let deleted = app
        .delete(&format!("/api/domains/{id}"), Some(&admin))
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let all = app
        .get("/api/domains?include_inactive=true", Some(&admin))
        .await;
    assert_eq!(all.body, json!([]));
    assert_problem(
        &app.delete(&format!("/api/domains/{id}"), Some(&admin))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
}

#[tokio::test]
async fn deleting_a_domain_with_history_deactivates_it() {
    let app = spawn_with(&[]).await;
    let (admin, _) = app.sign_in(ADMIN).await;
    // No endpoint and no ASKDOCS_API_BASE_ENDPOINT: the demo upstream answers.
    let created = app
        .post(
            "/api/domains",
            Some(&admin),
            &json!({"name": "hr", "display_name": "HR"}),
        )
        .await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    let (token, _) = app.user_with("ann@example.com", 1).await;
    let reply = app
        .chat(
            "askdocs",
            &token,
            &json!({"message": "q", "domain_id": id}),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);

    let deleted = app
        .delete(&format!("/api/domains/{id}"), Some(&admin))
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let all = app
        .get("/api/domains?include_inactive=true", Some(&admin))
        .await;
    let items = all.body.as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["is_active"], false);
    assert_eq!(app.get("/api/domains", Some(&token)).await.body, json!([]));
    app.db.assert_ledger_invariant().await;
}

// --- conversations ------------------------------------------------------------

#[tokio::test]
async fn conversations_are_private_to_their_user() {
    let app = spawn_with(&[]).await;
    let (ann, _) = app.user_with("ann@example.com", 5).await;
    let (bob, bob_id) = app.user_with("bob@example.com", 5).await;

    let first = app
        .chat(
            "askatt",
            &ann,
            &json!({"message": "Ann's secret question"}),
            None,
        )
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let id = first.body["conversation_id"].as_str().unwrap().to_owned();
    let second = app
        .chat("askatt", &ann, &json!({"message": "another one"}), None)
        .await;
    let newer = second.body["conversation_id"].as_str().unwrap().to_owned();

    let listed = app.get("/api/conversations?limit=1", Some(&ann)).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.body["items"][0]["id"], newer.as_str());
    let cursor = listed.body["next_cursor"].as_str().unwrap();
    let older = app
        .get(
            &format!("/api/conversations?limit=1&cursor={cursor}"),
            Some(&ann),
        )
        .await;
    assert_eq!(older.body["items"][0]["id"], id.as_str());
    assert_eq!(older.body["items"][0]["title"], "Ann's secret question");

    let opened = app
        .get(&format!("/api/conversations/{id}"), Some(&ann))
        .await;
    assert_eq!(opened.status, StatusCode::OK);
    assert_eq!(opened.body["conversation"]["service_type"], "askatt");
    let messages = opened.body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["author"], "user");
    assert_eq!(messages[0]["content"], "Ann's secret question");
    assert_eq!(messages[1]["author"], "assistant");

    // Bob cannot see, continue or delete it, and pays nothing for trying.
    assert_problem(
        &app.get(&format!("/api/conversations/{id}"), Some(&bob))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let hijack = app
        .chat(
            "askatt",
            &bob,
            &json!({"message": "let me in", "conversation_id": id}),
            None,
        )
        .await;
    assert_problem(&hijack, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(app.balance(&bob).await, 5);
    assert!(app.charges(&bob_id).await.is_empty());
    assert_problem(
        &app.delete(&format!("/api/conversations/{id}"), Some(&bob))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_eq!(
        app.get("/api/conversations", Some(&bob)).await.body,
        json!({"items": [], "next_cursor": null})
    );

    let deleted = app
        .delete(&format!("/api/conversations/{id}"), Some(&ann))
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_problem(
        &app.get(&format!("/api/conversations/{id}"), Some(&ann))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    app.db.assert_ledger_invariant().await;
}

// --- defaults -----------------------------------------------------------------

#[tokio::test]
async fn with_nothing_configured_the_builtin_upstream_answers_after_a_grant() {
    let app = spawn_with(&[]).await;
    let (token, _) = app.user_with("dev@example.com", 0).await;
    let broke = app
        .chat("askatt", &token, &json!({"message": "hello"}), None)
        .await;
    assert_problem(&broke, StatusCode::PAYMENT_REQUIRED, "insufficient_tokens");
    // Payments are off in development: the answer says how to get tokens here,
    // and so does the buy page (through /api/ui-config).
    let detail = broke.body["detail"].as_str().unwrap();
    assert!(
        detail.contains("cargo run -- grant --email") && detail.contains("STRIPE_SECRET_KEY"),
        "{detail}"
    );
    let config = app
        .client
        .get(format!("{}/api/ui-config", app.base))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(config["grant_locally"], true, "{config}");
    assert!(
        config["grant_command"]
            .as_str()
            .unwrap()
            .starts_with("cargo run -- grant --email"),
        "{config}"
    );

    let (token, _) = app.user_with("dev@example.com", 1).await;
    let reply = app
        .chat("askatt", &token, &json!({"message": "hello"}), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let text = reply.body["response"].as_str().unwrap();
    assert!(
        text.contains("demo upstream") && text.contains("hello"),
        "{text}"
    );
    assert_eq!(reply.body["tokens_remaining"], 0);

    let blank = app
        .chat("askatt", &token, &json!({"message": "   "}), None)
        .await;
    assert_problem(
        &blank,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(blank.body["field"], "message");
    app.db.assert_ledger_invariant().await;
}

// --- Where domains may send questions ----------------------------------------

#[tokio::test]
async fn a_domain_cannot_name_a_token_scope_or_an_upstream_outside_the_allowed_hosts() {
    let app = spawn_with(&[("UPSTREAM_ALLOWED_HOSTS", "127.0.0.1,*.askdocs.example.com")]).await;
    let (admin, _) = app.sign_in(ADMIN).await;
    let domain = |api_endpoint: &str, configuration: Value| {
        json!({
            "name": "hr",
            "display_name": "HR",
            "api_endpoint": api_endpoint,
            "configuration": configuration,
        })
    };
    let refused = [
        (
            domain(
                "https://hr.askdocs.example.com/chat",
                json!({"kind": "openai", "model": "m", "scope": "https://graph.microsoft.com/.default"}),
            ),
            "configuration.scope",
        ),
        (
            domain(
                "https://hr.askdocs.example.com/chat",
                json!({"kind": "openai", "model": "m", "base_url": "http://169.254.169.254/"}),
            ),
            "configuration.base_url",
        ),
        (
            domain("http://169.254.169.254/latest/meta-data/", json!({})),
            "api_endpoint",
        ),
        (domain("http://localhost:6379/", json!({})), "api_endpoint"),
        (
            domain("https://askdocs.example.com.evil.test/", json!({})),
            "api_endpoint",
        ),
    ];
    for (body, field) in &refused {
        let reply = app.post("/api/domains", Some(&admin), body).await;
        assert_problem(
            &reply,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        );
        assert_eq!(reply.body["field"], *field, "{}", reply.body);
    }
    let all = app
        .get("/api/domains?include_inactive=true", Some(&admin))
        .await;
    assert_eq!(all.body, json!([]), "nothing was stored");

    // A host under the wildcard is accepted, and an update is checked the same way.
    let created = app
        .post(
            "/api/domains",
            Some(&admin),
            &domain(
                "https://hr.askdocs.example.com/chat",
                json!({"kind": "askdocs"}),
            ),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().unwrap();
    for (body, field) in &refused {
        let reply = app
            .put(&format!("/api/domains/{id}"), Some(&admin), body)
            .await;
        assert_problem(
            &reply,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        );
        assert_eq!(reply.body["field"], *field, "{}", reply.body);
    }
    let kept = app
        .get("/api/domains?include_inactive=true", Some(&admin))
        .await;
    assert_eq!(
        kept.body[0]["api_endpoint"],
        "https://hr.askdocs.example.com/chat"
    );
    assert_eq!(kept.body[0]["configuration"], json!({"kind": "askdocs"}));
}

#[tokio::test]
async fn an_unknown_upstream_kind_is_refused_when_a_domain_is_saved_naming_configuration_kind() {
    let app = spawn_with(&[]).await;
    let (admin, _) = app.sign_in(ADMIN).await;
    let domain = |kind: Value| {
        json!({
            "name": "hr",
            "display_name": "HR",
            "configuration": {"kind": kind, "model": "m"},
        })
    };
    for kind in [json!("gpt-9"), json!("OpenAI"), json!(7)] {
        let reply = app.post("/api/domains", Some(&admin), &domain(kind)).await;
        assert_problem(
            &reply,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        );
        assert_eq!(reply.body["field"], "configuration.kind", "{}", reply.body);
    }
    let all = app
        .get("/api/domains?include_inactive=true", Some(&admin))
        .await;
    assert_eq!(all.body, json!([]), "nothing was stored");

    let created = app
        .post("/api/domains", Some(&admin), &domain(json!("builtin")))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().unwrap();
    let reply = app
        .put(
            &format!("/api/domains/{id}"),
            Some(&admin),
            &domain(json!("gpt-9")),
        )
        .await;
    assert_problem(
        &reply,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(reply.body["field"], "configuration.kind", "{}", reply.body);
    let kept = app
        .get("/api/domains?include_inactive=true", Some(&admin))
        .await;
    assert_eq!(kept.body[0]["configuration"]["kind"], "builtin");
}

#[tokio::test]
async fn a_stored_domain_outside_the_rules_is_refused_at_chat_and_the_token_refunded() {
    let upstream = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "response": "leaked",
            "choices": [{"message": {"content": "leaked"}}]
        })))
        .mount(&upstream)
        .await;
    let app = spawn_with(&[]).await;
    let port = upstream.address().port();
    // `localhost` reaches the same upstream as 127.0.0.1, but only 127.0.0.1 is listed.
    let unlisted = app
        .store_domain(
            "unlisted",
            &format!("http://localhost:{port}/hr"),
            &json!({}),
        )
        .await;
    let scoped = app
        .store_domain(
            "scoped",
            &format!("{}/hr", upstream.uri()),
            &json!({"kind": "openai", "model": "m", "scope": "https://graph.microsoft.com/.default"}),
        )
        .await;
    let (token, user) = app.user_with("ann@example.com", 2).await;

    for domain in [unlisted, scoped] {
        let reply = app
            .chat(
                "askdocs",
                &token,
                &json!({"message": "q", "domain_id": domain}),
                None,
            )
            .await;
        assert_problem(&reply, StatusCode::BAD_GATEWAY, "upstream_failed");
    }

    assert_eq!(upstream.received_requests().await.unwrap().len(), 0);
    assert_eq!(app.balance(&token).await, 2);
    let kinds: Vec<_> = app
        .charges(&user)
        .await
        .into_iter()
        .map(|r| r.kind)
        .collect();
    assert_eq!(kinds, ["consumption", "refund", "consumption", "refund"]);
    app.db.assert_ledger_invariant().await;
}
