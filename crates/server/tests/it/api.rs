//! askgate over real HTTP, on a random port, against a fresh real database.

use std::sync::Arc;

use crate::support::{Reply, TestApp};
use askgate_domain::user::{ExternalId, Role, User};
use askgate_domain::{Email, SessionId, Tokens};
use askgate_http::SessionKeys;
use askgate_server::settings::SESSION_AUDIENCE;
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::{Value, json};

/// askgate on a small pool; `overrides` win over the test defaults.
async fn spawn_with(overrides: &[(&str, &str)]) -> TestApp {
    let mut pairs: Vec<(&str, &str)> = overrides.to_vec();
    pairs.push(("DATABASE_MAX_CONNECTIONS", "3"));
    TestApp::spawn(&pairs).await
}

async fn spawn() -> TestApp {
    spawn_with(&[]).await
}

#[tokio::test]
async fn health_live_and_ready_answer_ok_against_the_database() {
    let app = spawn().await;
    assert_eq!(
        app.get("/health/live", None).await,
        (StatusCode::OK, json!({"status": "ok"}))
    );
    assert_eq!(
        app.get("/health/ready", None).await,
        (StatusCode::OK, json!({"status": "ok"}))
    );
}

#[tokio::test]
async fn dev_login_then_a_zero_balance_and_an_empty_history() {
    let app = spawn().await;
    let (token, user) = app.sign_in("a@example.com").await;
    assert_eq!(user["email"], "a@example.com");
    assert_eq!(user["tokens"], 0);
    assert_eq!(user["role"], "user");

    assert_eq!(
        app.get("/api/user/tokens", Some(&token)).await,
        (StatusCode::OK, json!({"tokens": 0}))
    );
    assert_eq!(
        app.get("/api/user/transactions", Some(&token)).await,
        (StatusCode::OK, json!({"items": [], "next_cursor": null}))
    );
    let (status, me) = app.get("/api/user/me", Some(&token)).await.into_parts();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["id"], user["id"]);
}

#[tokio::test]
async fn signing_in_twice_is_the_same_user() {
    let app = spawn().await;
    let (_, first) = app.sign_in("twice@example.com").await;
    let (_, second) = app.sign_in("Twice@Example.com").await;
    assert_eq!(first["id"], second["id"]);
}

#[tokio::test]
async fn admin_emails_sign_in_as_admins() {
    let app = spawn_with(&[("ADMIN_EMAILS", "boss@example.com")]).await;
    let (_, boss) = app.sign_in("boss@example.com").await;
    assert_eq!(boss["role"], "admin");
}

#[tokio::test]
async fn a_grant_shows_in_the_balance_and_the_history_newest_first() {
    let app = spawn().await;
    let (token, _) = app.sign_in("rich@example.com").await;
    for (n, key) in [(100, "first"), (5, "second")] {
        app.grant("rich@example.com", n, key).await;
    }

    assert_eq!(
        app.get("/api/user/tokens", Some(&token)).await,
        (StatusCode::OK, json!({"tokens": 105}))
    );
    let (status, page) = app
        .get("/api/user/transactions?limit=1", Some(&token))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK);
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["type"], "grant");
    assert_eq!(items[0]["amount"], 5);
    assert_eq!(items[0]["balance_after"], 105);
    let cursor = page["next_cursor"].as_str().expect("a second page");

    let (_, page) = app
        .get(
            &format!("/api/user/transactions?limit=1&cursor={cursor}"),
            Some(&token),
        )
        .await
        .into_parts();
    assert_eq!(page["items"][0]["amount"], 100);
    assert_eq!(page["items"][0]["balance_after"], 100);
    app.db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn a_token_signed_with_another_secret_is_401() {
    let app = spawn().await;
    let (_, user) = app.sign_in("ann@example.com").await;
    let email = Email::parse("ann@example.com").unwrap();
    let forged_user = User {
        id: serde_json::from_value(user["id"].clone()).unwrap(),
        external_id: ExternalId::for_dev_login(&email),
        email,
        display_name: None,
        tokens: Tokens::ZERO,
        role: Role::Admin,
        created_at: chrono::Utc::now(),
        last_login: None,
        disabled_at: None,
        role_from_sign_in: true,
    };
    let other = SessionKeys::new(
        &SecretString::from("a-completely-different-secret-of-40-bytes".to_owned()),
        std::time::Duration::from_secs(900),
        SESSION_AUDIENCE.to_owned(),
    );
    let forged = other
        .issue(&forged_user, SessionId::generate())
        .unwrap()
        .token;
    let res = app
        .client
        .get(format!("{}/api/user/tokens", app.base))
        .bearer_auth(forged)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.headers().get("www-authenticate").is_some());
    assert_eq!(
        res.headers().get("content-type").unwrap(),
        "application/problem+json"
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "unauthenticated");
}

#[tokio::test]
async fn dev_login_is_not_mounted_when_disabled() {
    let app = spawn_with(&[("AUTH_DEV_LOGIN", "false")]).await;
    let Reply { status, body, .. } = app.dev_login("a@example.com").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "not_found");
}

#[tokio::test]
async fn concurrent_requests_are_served() {
    let app = Arc::new(spawn().await);
    let (token, _) = app.sign_in("busy@example.com").await;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let app = Arc::clone(&app);
            let token = token.clone();
            tokio::spawn(async move { app.get("/api/user/tokens", Some(&token)).await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), (StatusCode::OK, json!({"tokens": 0})));
    }
}

#[tokio::test]
async fn an_out_of_range_pagination_cursor_is_422_naming_the_cursor() {
    let app = spawn().await;
    let (token, _) = app.sign_in("pager@example.com").await;
    let id = "0190c3a8-7f5e-7cc1-9a2b-3c4d5e6f7a8b";
    for path in ["/api/user/transactions", "/api/conversations"] {
        for micros in ["-8200000000000000000", "8200000000000000000"] {
            let reply = app
                .send(app.request(
                    Method::GET,
                    &format!("{path}?cursor={micros}_{id}"),
                    Some(&token),
                ))
                .await;
            assert_eq!(
                reply.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{path}: {}",
                reply.body
            );
            assert!(
                reply.body.to_string().contains("cursor"),
                "{path}: {}",
                reply.body
            );
        }
    }
}

#[tokio::test]
async fn every_answer_has_a_permissions_policy_and_hsts_only_over_https() {
    let plain = spawn().await;
    let reply = plain
        .send(plain.request(Method::GET, "/health/live", None))
        .await;
    assert!(
        reply.headers["permissions-policy"]
            .to_str()
            .unwrap()
            .contains("camera=()")
    );
    assert!(reply.headers.get("strict-transport-security").is_none());

    let https = spawn_with(&[
        ("PUBLIC_BASE_URL", "https://askgate.example.com"),
        ("AUTH_DEV_LOGIN", "false"),
    ])
    .await;
    for path in ["/health/live", "/api/nothing-here", "/chat"] {
        let reply = https.send(https.request(Method::GET, path, None)).await;
        assert_eq!(
            reply.headers["strict-transport-security"], "max-age=31536000",
            "{path}"
        );
        assert!(reply.headers.contains_key("permissions-policy"), "{path}");
    }
}

#[tokio::test]
async fn cors_answers_listed_origins_with_credentials_and_nobody_else() {
    const ALLOWED: &str = "http://localhost:5173";
    const OTHER: &str = "https://evil.example.com";
    let app = spawn_with(&[(
        "ALLOWED_ORIGINS",
        "http://localhost:5173, https://app.example.com",
    )])
    .await;
    let (token, _) = app.sign_in("cors@example.com").await;
    let header = |reply: &Reply, name: &str| {
        reply
            .headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_ascii_lowercase())
    };
    let preflight = |origin: &'static str| {
        app.send(
            app.request(Method::OPTIONS, "/api/askatt/chat", None)
                .header("Origin", origin)
                .header("Access-Control-Request-Method", "POST")
                .header(
                    "Access-Control-Request-Headers",
                    "authorization, content-type, idempotency-key",
                ),
        )
    };

    let allowed = preflight(ALLOWED).await;
    assert!(allowed.status.is_success(), "{}", allowed.status);
    assert_eq!(
        header(&allowed, "access-control-allow-origin").as_deref(),
        Some(ALLOWED)
    );
    assert_eq!(
        header(&allowed, "access-control-allow-credentials").as_deref(),
        Some("true")
    );
    let headers = header(&allowed, "access-control-allow-headers").unwrap();
    for name in ["authorization", "idempotency-key", "content-type"] {
        assert!(headers.contains(name), "{headers}");
    }
    assert!(
        header(&allowed, "access-control-allow-methods")
            .unwrap()
            .contains("post")
    );

    let refused = preflight(OTHER).await;
    assert!(header(&refused, "access-control-allow-origin").is_none());
    assert!(header(&refused, "access-control-allow-credentials").is_none());

    let credentialed = |origin: &'static str| {
        app.send(
            app.request(Method::GET, "/api/user/me", Some(&token))
                .header("Origin", origin),
        )
    };
    let allowed = credentialed(ALLOWED).await;
    assert_eq!(allowed.status, StatusCode::OK);
    assert_eq!(
        header(&allowed, "access-control-allow-origin").as_deref(),
        Some(ALLOWED)
    );
    assert_eq!(
        header(&allowed, "access-control-allow-credentials").as_deref(),
        Some("true")
    );
    let exposed = header(&allowed, "access-control-expose-headers").unwrap();
    for name in [
        "retry-after",
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
    ] {
        assert!(exposed.contains(name), "{exposed}");
    }

    // The server still answers (it cannot tell a browser from curl), but without
    // CORS headers the browser keeps the other origin's page from reading it.
    let other = credentialed(OTHER).await;
    assert!(header(&other, "access-control-allow-origin").is_none());
    assert!(header(&other, "access-control-allow-credentials").is_none());
    // Same-origin calls of askgate's own pages are unaffected.
    let own = credentialed("http://127.0.0.1:8080").await;
    assert_eq!(own.status, StatusCode::OK);
}

#[tokio::test]
async fn a_body_trickled_one_byte_at_a_time_is_cut_off_with_408() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_with(&[("BODY_READ_TIMEOUT_SECONDS", "1")]).await;
    let address = app.base.trim_start_matches("http://").to_owned();
    let stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    write
        .write_all(
            format!(
                "POST /api/auth/dev-login HTTP/1.1\r\nHost: {address}\r\n\
                 Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    // 1000 bytes at five a second would take over three minutes.
    let trickle = tokio::spawn(async move {
        for _ in 0..1000 {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            if write.write_all(b" ").await.is_err() {
                break;
            }
        }
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    // A bound on a broken server only: the deadline under test is one second.
    let read_all = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        loop {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    trickle.abort();
    assert!(read_all.is_ok(), "the server kept waiting for the body");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
}
