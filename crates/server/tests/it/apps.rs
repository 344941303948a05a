//! Registered apps over real HTTP against a fresh real database: admins
//! register, change, revoke them and rotate their secrets (all audited); apps
//! authenticate with HTTP Basic and introspect session tokens.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Reply, TestApp, assert_problem};

pub async fn spawn() -> TestApp {
    TestApp::spawn(&[("DATABASE_MAX_CONNECTIONS", "6")]).await
}

/// An admin's session token.
pub async fn admin(app: &TestApp) -> String {
    app.sign_in_admin("boss@example.com").await.0
}

/// Registers an app with `scopes` (and `extra` fields): its client id and secret.
pub async fn register(
    app: &TestApp,
    admin: &str,
    scopes: &[&str],
    extra: Value,
) -> (String, String) {
    let mut body = json!({
        "name": "Shop",
        "allowed_origins": ["https://shop.example.com"],
        "allowed_return_urls": ["https://shop.example.com/back", "http://localhost:3000/back"],
        "scopes": scopes,
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let reply = app.post("/api/admin/apps", Some(admin), &body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    (
        reply.body["client_id"].as_str().unwrap().to_owned(),
        reply.body["client_secret"].as_str().unwrap().to_owned(),
    )
}

/// `POST /api/v1/token/introspect` with the app's credentials, as a form.
async fn introspect(app: &TestApp, id: &str, secret: &str, token: &str) -> Reply {
    app.send(
        app.client
            .post(app.url("/api/v1/token/introspect"))
            .basic_auth(id, Some(secret))
            .form(&[("token", token)]),
    )
    .await
}

async fn audit_actions(app: &TestApp, admin: &str, target: &str) -> Vec<String> {
    let reply = app
        .get(&format!("/api/admin/audit?target={target}"), Some(admin))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn an_admin_registers_changes_rotates_and_revokes_an_app_and_each_step_is_audited() {
    let app = spawn().await;
    let boss = admin(&app).await;
    let (id, secret) = register(&app, &boss, &["token:introspect"], json!({})).await;
    assert!(secret.starts_with("ags_"), "{secret}");
    let (user_token, _) = app.sign_in("ann@example.com").await;
    assert_eq!(
        introspect(&app, &id, &secret, &user_token).await.body["active"],
        true
    );

    let listed = app.get("/api/admin/apps", Some(&boss)).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert_eq!(listed.body["items"][0]["id"], id.as_str());
    assert!(!listed.body.to_string().contains(&secret));

    let changed = app
        .send(
            app.request(Method::PATCH, &format!("/api/admin/apps/{id}"), Some(&boss))
                .json(&json!({ "name": "Shop 2", "daily_limit_per_user": 5 })),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_eq!(changed.body["name"], "Shop 2");
    assert_eq!(changed.body["daily_limit_per_user"], 5);
    assert_eq!(changed.body["scopes"], json!(["token:introspect"]));

    // Rotation: both secrets work during the overlap; with none, only the new one.
    let rotated = app
        .post(
            &format!("/api/admin/apps/{id}/rotate-secret"),
            Some(&boss),
            &json!({ "overlap_seconds": 3600 }),
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let second = rotated.body["client_secret"].as_str().unwrap().to_owned();
    assert_ne!(second, secret);
    assert_eq!(
        introspect(&app, &id, &secret, &user_token).await.status,
        StatusCode::OK
    );
    assert_eq!(
        introspect(&app, &id, &second, &user_token).await.status,
        StatusCode::OK
    );
    let rotated = app
        .post(
            &format!("/api/admin/apps/{id}/rotate-secret"),
            Some(&boss),
            &json!({ "overlap_seconds": 0 }),
        )
        .await;
    let third = rotated.body["client_secret"].as_str().unwrap().to_owned();
    for old in [&secret, &second] {
        let refused = introspect(&app, &id, old, &user_token).await;
        assert_problem(&refused, StatusCode::UNAUTHORIZED, "unauthenticated");
        assert!(
            refused.headers["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Basic"),
        );
    }
    assert_eq!(
        introspect(&app, &id, &third, &user_token).await.status,
        StatusCode::OK
    );

    let revoked = app
        .delete(&format!("/api/admin/apps/{id}"), Some(&boss))
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    assert!(revoked.body["revoked_at"].is_string());
    let refused = introspect(&app, &id, &third, &user_token).await;
    assert_problem(&refused, StatusCode::UNAUTHORIZED, "unauthenticated");

    assert_eq!(
        audit_actions(&app, &boss, &id).await,
        [
            "app_revoke",
            "app_rotate_secret",
            "app_rotate_secret",
            "app_update",
            "app_create"
        ]
    );
}

#[tokio::test]
async fn app_settings_are_validated_and_only_admins_manage_apps() {
    let app = spawn().await;
    let boss = admin(&app).await;
    let (user, _) = app.sign_in("bob@example.com").await;
    let body = json!({ "name": "x", "scopes": ["balance:read"] });
    let refused = app.post("/api/admin/apps", Some(&user), &body).await;
    assert_problem(&refused, StatusCode::FORBIDDEN, "forbidden");

    for (body, field) in [
        (
            json!({ "name": "x", "scopes": ["balance:read"], "allowed_return_urls": ["http://shop.example.com/back"] }),
            "allowed_return_urls",
        ),
        (
            json!({ "name": "x", "scopes": ["balance:read"], "allowed_return_urls": ["/back"] }),
            "allowed_return_urls",
        ),
        (
            json!({ "name": "x", "scopes": ["balance:read"], "allowed_origins": ["https://shop.example.com/path"] }),
            "allowed_origins",
        ),
        (json!({ "name": "x", "scopes": [] }), "scopes"),
        (
            json!({ "name": "x", "scopes": ["balance:read"], "daily_limit_per_user": 0 }),
            "daily_limit_per_user",
        ),
        (json!({ "name": " ", "scopes": ["balance:read"] }), "name"),
    ] {
        let reply = app.post("/api/admin/apps", Some(&boss), &body).await;
        assert_problem(
            &reply,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        );
        assert_eq!(reply.body["field"], field, "{}", reply.body);
    }
    let (id, _) = register(&app, &boss, &["balance:read"], json!({})).await;
    let too_long = app
        .post(
            &format!("/api/admin/apps/{id}/rotate-secret"),
            Some(&boss),
            &json!({ "overlap_seconds": 2_592_001 }),
        )
        .await;
    assert_problem(
        &too_long,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    let listed = app.get("/api/admin/apps", Some(&boss)).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn introspection_tells_active_session_tokens_from_everything_else() {
    let app = spawn().await;
    let boss = admin(&app).await;
    let (id, secret) = register(&app, &boss, &["token:introspect"], json!({})).await;
    let signed_in = app
        .post(
            "/api/auth/dev-login",
            None,
            &json!({ "email": "cy@example.com", "display_name": "Cy Young" }),
        )
        .await;
    let token = signed_in.body["session_token"].as_str().unwrap().to_owned();
    let user_id = signed_in.body["user"]["id"].as_str().unwrap().to_owned();

    let active = introspect(&app, &id, &secret, &token).await;
    assert_eq!(active.status, StatusCode::OK, "{}", active.body);
    assert_eq!(active.body["active"], true);
    assert_eq!(active.body["sub"], user_id.as_str());
    assert_eq!(active.body["email"], "cy@example.com");
    assert_eq!(active.body["name"], "Cy Young");
    assert!(active.body["exp"].as_i64().unwrap() > active.body["iat"].as_i64().unwrap());

    // JSON works as well as a form.
    let as_json = app
        .send(
            app.client
                .post(app.url("/api/v1/token/introspect"))
                .basic_auth(&id, Some(&secret))
                .json(&json!({ "token": token })),
        )
        .await;
    assert_eq!(as_json.body["active"], true);

    for forged in ["garbage", "agk_notakey", &format!("{token}x")] {
        assert_eq!(
            introspect(&app, &id, &secret, forged).await,
            (StatusCode::OK, json!({ "active": false }))
        );
    }

    // Signed out: the session is revoked, the token inactive.
    let out = app
        .send(app.request(Method::POST, "/api/auth/logout", Some(&token)))
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert_eq!(
        introspect(&app, &id, &secret, &token).await,
        (StatusCode::OK, json!({ "active": false }))
    );

    // A disabled user's token is inactive.
    let (dee, dee_id) = app.sign_in_id("dee@example.com").await;
    let disabled = app
        .post(
            &format!("/api/admin/users/{dee_id}/disable"),
            Some(&boss),
            &json!({}),
        )
        .await;
    assert_eq!(disabled.status, StatusCode::OK, "{}", disabled.body);
    assert_eq!(
        introspect(&app, &id, &secret, &dee).await.body,
        json!({ "active": false })
    );
}

#[tokio::test]
async fn app_credentials_are_checked_and_scopes_enforced() {
    let app = spawn().await;
    let boss = admin(&app).await;
    let (id, secret) = register(&app, &boss, &["balance:read"], json!({})).await;
    let (token, _) = app.sign_in("eve@example.com").await;

    let scope = introspect(&app, &id, &secret, &token).await;
    assert_problem(&scope, StatusCode::FORBIDDEN, "insufficient_scope");
    let wrong = introspect(&app, &id, "ags_wrong", &token).await;
    assert_problem(&wrong, StatusCode::UNAUTHORIZED, "unauthenticated");
    let unknown = introspect(&app, "not-a-uuid", &secret, &token).await;
    assert_problem(&unknown, StatusCode::UNAUTHORIZED, "unauthenticated");
    let none = app
        .send(
            app.client
                .post(app.url("/api/v1/token/introspect"))
                .form(&[("token", token.as_str())]),
        )
        .await;
    assert_problem(&none, StatusCode::UNAUTHORIZED, "unauthenticated");
    assert!(none.headers.contains_key("www-authenticate"));
}

#[tokio::test]
async fn a_signed_in_person_hands_an_app_a_session_only_for_its_registered_origin() {
    let app = spawn().await;
    let boss = admin(&app).await;
    let (client_id, secret) = register(&app, &boss, &["token:introspect"], json!({})).await;
    let (ann, _) = app.sign_in("ann@example.com").await;
    let connect = |token: String, origin: &'static str, id: String| {
        let app = &app;
        async move {
            app.post(
                "/api/user/app-sessions",
                Some(&token),
                &json!({ "client_id": id, "origin": origin }),
            )
            .await
        }
    };

    let handed = connect(ann.clone(), "https://shop.example.com", client_id.clone()).await;
    assert_eq!(handed.status, StatusCode::OK, "{}", handed.body);
    assert_eq!(handed.body["origin"], "https://shop.example.com");
    assert_eq!(handed.body["app_name"], "Shop");
    let session = handed.body["session"]["session_token"].as_str().unwrap();
    assert_ne!(session, ann, "a session of its own");
    assert!(handed.body["session"].get("refresh_token").is_none());
    let checked = introspect(&app, &client_id, &secret, session).await;
    assert_eq!(checked.body["active"], true);
    assert_eq!(checked.body["email"], "ann@example.com");

    for origin in [
        "https://evil.example.com",
        "https://shop.example.com.evil.net",
        "*",
    ] {
        let refused = connect(ann.clone(), origin, client_id.clone()).await;
        assert_problem(&refused, StatusCode::FORBIDDEN, "forbidden");
        assert!(refused.body.get("session").is_none());
    }
    let unknown = connect(ann.clone(), "https://shop.example.com", "not-an-app".into()).await;
    assert_problem(&unknown, StatusCode::NOT_FOUND, "not_found");
    let anonymous = app
        .post(
            "/api/user/app-sessions",
            None,
            &json!({ "client_id": client_id, "origin": "https://shop.example.com" }),
        )
        .await;
    assert_problem(&anonymous, StatusCode::UNAUTHORIZED, "unauthenticated");

    let revoked = app
        .send(app.request(
            Method::DELETE,
            &format!("/api/admin/apps/{client_id}"),
            Some(&boss),
        ))
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    let after = connect(ann, "https://shop.example.com", client_id.clone()).await;
    assert_problem(&after, StatusCode::CONFLICT, "conflict");
}
