//! The Rust client crate against the real server: what another team's
//! program (and the `askgate` command-line tool) sees.

use askgate_client::{AppClient, ChatEvent, ChatRequest, Client, Credentials, Error};
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::TestApp;

/// Signs a new client in with a device code, approved on the dev `/device`
/// page by `email`'s web session.
async fn device_client(app: &TestApp, email: &str) -> Client {
    let client = Client::new(&app.url("")).unwrap();
    let started = client.start_device_sign_in().await.unwrap();
    let (web_token, _) = app.sign_in(email).await;
    let approved = app
        .post(
            "/api/auth/device/approve",
            Some(&web_token),
            &json!({ "user_code": started.user_code, "approve": true }),
        )
        .await;
    assert_eq!(approved.status, StatusCode::NO_CONTENT, "{}", approved.body);
    let signed_in = client.wait_for_device_sign_in(&started).await.unwrap();
    assert_eq!(signed_in.user.email, email);
    client
}

#[tokio::test]
async fn a_device_signed_in_client_streams_an_answer_and_reads_its_ledger() {
    let app = TestApp::spawn(&[]).await;
    let client = device_client(&app, "ann@example.com").await;
    app.grant("ann@example.com", 3, "client-grant").await;
    assert_eq!(client.balance().await.unwrap(), 3);

    let mut events = client
        .chat_stream(&ChatRequest::askatt("What is askgate?").with_idempotency_key("k-1"))
        .await
        .unwrap();
    let mut text = String::new();
    let mut last = None;
    while let Some(event) = events.next().await {
        match event.unwrap() {
            ChatEvent::Delta { text: piece } => text.push_str(&piece),
            other => last = Some(other),
        }
    }
    assert!(!text.is_empty(), "the answer arrived in pieces");
    assert!(
        matches!(
            last,
            Some(ChatEvent::Done {
                tokens_remaining: 2,
                ..
            })
        ),
        "{last:?}"
    );

    let page = client.history(None).await.unwrap();
    let kinds: Vec<_> = page.items.iter().map(|t| t.kind.as_str()).collect();
    assert_eq!(kinds, ["consumption", "grant"]);
    let csv = client.history_csv().await.unwrap();
    assert!(csv.starts_with("id,created_at,"), "{csv}");
    assert_eq!(csv.lines().count(), 3, "a header and two rows");
    assert!(client.domains().await.unwrap().is_empty());
}

#[tokio::test]
async fn out_of_tokens_is_a_402_problem_with_the_way_to_buy() {
    let app = TestApp::spawn(&[]).await;
    let client = device_client(&app, "bob@example.com").await;
    let err = client
        .chat(&ChatRequest::askatt("Anyone there?"))
        .await
        .unwrap_err();
    let Error::Api(problem) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(problem.status, 402);
    assert_eq!(problem.code, "insufficient_tokens");
    assert_eq!(problem.balance, Some(0));
    assert!(problem.purchase_url.is_some());
}

#[tokio::test]
async fn a_refused_access_token_is_refreshed_once_and_the_new_refresh_token_kept() {
    let app = TestApp::spawn(&[]).await;
    let client = device_client(&app, "cy@example.com").await;
    let first_refresh = client.refresh_token().unwrap();
    client.set_credentials(Credentials::Session {
        access: Some("expired-or-forged".into()),
        refresh: Some(first_refresh.clone()),
    });
    assert_eq!(client.me().await.unwrap().user.email, "cy@example.com");
    let rotated = client.refresh_token().unwrap();
    assert_ne!(rotated, first_refresh, "refresh tokens rotate");

    client.logout().await.unwrap();
    assert!(matches!(client.me().await, Err(Error::NotSignedIn)));
    let ended = Client::new(&app.url(""))
        .unwrap()
        .with_credentials(Credentials::Session {
            access: None,
            refresh: Some(rotated),
        });
    assert_eq!(
        ended.me().await.unwrap_err().status(),
        Some(401),
        "logged out"
    );
}

#[tokio::test]
async fn a_replayed_refresh_token_ends_the_session_it_came_from() {
    let app = TestApp::spawn(&[]).await;
    let client = device_client(&app, "dee@example.com").await;
    let first_refresh = client.refresh_token().unwrap();
    client.refresh().await.unwrap();
    // Someone replays the spent refresh token: it signs nobody in, and the
    // whole session it belonged to ends, the client's current tokens too.
    let thief = Client::new(&app.url(""))
        .unwrap()
        .with_credentials(Credentials::Session {
            access: None,
            refresh: Some(first_refresh),
        });
    assert_eq!(thief.me().await.unwrap_err().status(), Some(401));
    assert_eq!(client.me().await.unwrap_err().status(), Some(401));
}

#[tokio::test]
async fn an_app_backend_verifies_spends_and_refunds_through_the_client() {
    let app = crate::apps::spawn().await;
    let boss = crate::apps::admin(&app).await;
    let (id, secret) = crate::apps::register(
        &app,
        &boss,
        &["token:introspect", "balance:read", "credits:consume"],
        json!({}),
    )
    .await;
    let (token, _) = app.sign_in("eve@example.com").await;
    app.grant("eve@example.com", 4, "app-client-grant").await;
    let backend = AppClient::new(&app.url(""), &id, &secret).unwrap();

    let who = backend.introspect(&token).await.unwrap();
    assert!(who.active);
    assert_eq!(who.email.as_deref(), Some("eve@example.com"));
    assert!(!backend.introspect("forged").await.unwrap().active);

    let spent = backend
        .consume(&token, 3, "a summary", "c-1")
        .await
        .unwrap();
    assert_eq!(spent.balance_after, 1);
    let again = backend
        .consume(&token, 3, "a summary", "c-1")
        .await
        .unwrap();
    assert!(again.replayed);
    assert_eq!(again.id, spent.id);
    let short = backend.consume(&token, 2, "more", "c-2").await.unwrap_err();
    assert_eq!(short.status(), Some(402));
    backend.refund(&spent.id).await.unwrap();
    assert_eq!(
        backend.refund(&spent.id).await.unwrap_err().status(),
        Some(409)
    );
    assert_eq!(backend.balance(&token).await.unwrap(), 4);

    let stranger = AppClient::new(&app.url(""), &id, "ags_not-the-secret").unwrap();
    assert_eq!(
        stranger.balance(&token).await.unwrap_err().status(),
        Some(401)
    );
}
