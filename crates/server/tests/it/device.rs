//! Device-code sign-in on a development server (dev login on, no identity
//! provider): askgate issues the codes, a signed-in user approves one on the
//! `/device` page, and the device's poll gets a session of its own.
//! The provider-brokered flow is tested against a real OpenID provider in
//! e2e/oidc.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{TestApp, assert_problem};

async fn start(app: &TestApp) -> Value {
    let reply = app.post("/api/auth/device", None, &json!({})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.headers["cache-control"], "no-store");
    reply.body
}

async fn poll(app: &TestApp, started: &Value) -> crate::support::Reply {
    app.post(
        "/api/auth/device/token",
        None,
        &json!({ "device_code": started["device_code"] }),
    )
    .await
}

async fn decide(app: &TestApp, token: &str, started: &Value, approve: bool) -> StatusCode {
    app.post(
        "/api/auth/device/approve",
        Some(token),
        &json!({ "user_code": started["user_code"], "approve": approve }),
    )
    .await
    .status
}

#[tokio::test]
async fn an_approved_device_signs_in_as_the_approver_once() {
    let app = TestApp::spawn(&[]).await;
    let started = start(&app).await;
    let user_code = started["user_code"].as_str().unwrap();
    assert!(
        regex_like_user_code(user_code),
        "user code shown as XXXX-XXXX: {user_code}"
    );
    // The web UI's page under the public URL (PUBLIC_BASE_URL).
    let page = started["verification_uri"].as_str().unwrap();
    assert!(page.ends_with("/device"), "{page}");
    assert_eq!(
        started["verification_uri_complete"],
        format!("{page}?code={user_code}")
    );
    assert_eq!(started["interval"], 5);

    let (web_token, _) = app.sign_in("ann@example.com").await;
    // Typed by hand: lower case, a space for the dash.
    let typed = json!({ "user_code": user_code.to_lowercase().replace('-', " "), "approve": true });
    let approved = app
        .post("/api/auth/device/approve", Some(&web_token), &typed)
        .await;
    assert_eq!(approved.status, StatusCode::NO_CONTENT, "{}", approved.body);

    let signed_in = poll(&app, &started).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.body);
    assert_eq!(signed_in.body["user"]["email"], "ann@example.com");
    let device_token = signed_in.body["session_token"].as_str().unwrap();
    assert_ne!(device_token, web_token, "a session of its own");
    let me = app.get("/api/user/me", Some(device_token)).await;
    assert_eq!(me.body["email"], "ann@example.com");

    // The refresh token came in the body, and trades like any other.
    let refresh = signed_in.body["refresh_token"].as_str().unwrap();
    let refreshed = app
        .post(
            "/api/auth/refresh",
            None,
            &json!({ "refresh_token": refresh }),
        )
        .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);

    // The code is used up: polling it again, or approving it again, signs nobody in.
    let again = poll(&app, &started).await;
    assert_problem(&again, StatusCode::BAD_REQUEST, "invalid_grant");
    assert_eq!(
        decide(&app, &web_token, &started, true).await,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_device_polls_pending_then_slow_down_and_a_declined_one_is_denied() {
    let app = TestApp::spawn(&[]).await;
    let started = start(&app).await;
    let pending = poll(&app, &started).await;
    assert_problem(&pending, StatusCode::BAD_REQUEST, "authorization_pending");
    // What an RFC 8628 client reads.
    assert_eq!(pending.body["error"], "authorization_pending");
    let too_fast = poll(&app, &started).await;
    assert_problem(&too_fast, StatusCode::BAD_REQUEST, "slow_down");

    let declined = start(&app).await;
    let (web_token, _) = app.sign_in("bob@example.com").await;
    assert_eq!(
        decide(&app, &web_token, &declined, false).await,
        StatusCode::NO_CONTENT
    );
    let denied = poll(&app, &declined).await;
    assert_problem(&denied, StatusCode::BAD_REQUEST, "access_denied");
    assert!(denied.body.get("session_token").is_none());
}

#[tokio::test]
async fn approving_needs_a_signed_in_user_and_a_waiting_code() {
    let app = TestApp::spawn(&[]).await;
    let started = start(&app).await;
    let anonymous = app
        .post(
            "/api/auth/device/approve",
            None,
            &json!({ "user_code": started["user_code"], "approve": true }),
        )
        .await;
    assert_problem(&anonymous, StatusCode::UNAUTHORIZED, "unauthenticated");

    let (token, _) = app.sign_in("ann@example.com").await;
    let unknown = app
        .post(
            "/api/auth/device/approve",
            Some(&token),
            &json!({ "user_code": "BCDF-GHJK", "approve": true }),
        )
        .await;
    assert_problem(&unknown, StatusCode::NOT_FOUND, "not_found");
    let empty = app
        .post(
            "/api/auth/device/approve",
            Some(&token),
            &json!({ "user_code": " ", "approve": true }),
        )
        .await;
    assert_problem(
        &empty,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );

    let forged = app
        .post(
            "/api/auth/device/token",
            None,
            &json!({ "device_code": "not-a-code-askgate-issued" }),
        )
        .await;
    assert_problem(&forged, StatusCode::BAD_REQUEST, "invalid_grant");
    // Still waiting: nothing above touched the real code.
    let pending = poll(&app, &started).await;
    assert_problem(&pending, StatusCode::BAD_REQUEST, "authorization_pending");
}

#[tokio::test]
async fn a_disabled_user_cannot_sign_a_device_in() {
    let app = TestApp::spawn(&[]).await;
    let started = start(&app).await;
    let (token, user) = app.sign_in("eve@example.com").await;
    assert_eq!(
        decide(&app, &token, &started, true).await,
        StatusCode::NO_CONTENT
    );
    let sql = app.sql().await;
    let id = user["id"].as_str().unwrap();
    sql.execute(
        "UPDATE users SET disabled_at = now() WHERE id::text = $1",
        &[&id],
    )
    .await
    .unwrap();
    let refused = poll(&app, &started).await;
    assert_problem(&refused, StatusCode::FORBIDDEN, "account_disabled");
}

#[tokio::test]
async fn without_dev_login_or_a_provider_there_is_no_device_sign_in() {
    let app = TestApp::spawn(&[("AUTH_DEV_LOGIN", "false")]).await;
    let reply = app.post("/api/auth/device", None, &json!({})).await;
    assert_problem(&reply, StatusCode::NOT_FOUND, "not_found");
    let poll = app
        .post(
            "/api/auth/device/token",
            None,
            &json!({ "device_code": "x" }),
        )
        .await;
    assert_problem(&poll, StatusCode::NOT_FOUND, "not_found");
}

/// `BCDF-GHJK`: eight letters without vowels, in two groups.
fn regex_like_user_code(code: &str) -> bool {
    let (a, b) = code.split_once('-').unwrap_or(("", ""));
    [a, b]
        .iter()
        .all(|part| part.len() == 4 && part.chars().all(|c| "BCDFGHJKLMNPQRSTVWXZ".contains(c)))
}
