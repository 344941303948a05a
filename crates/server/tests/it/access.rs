//! Per-domain access over real HTTP: a domain restricted to Entra app roles or
//! groups is listed to, and answers, only their holders and admins; everyone
//! else gets the 404 of an unknown domain and pays nothing.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{TestApp, assert_problem};

async fn spawn() -> TestApp {
    TestApp::spawn(&[
        ("DATABASE_MAX_CONNECTIONS", "5"),
        ("RATE_LIMIT_PER_MINUTE", "1000"),
    ])
    .await
}

/// Signs in through dev login with `body`: the session token and user id.
async fn dev_login(app: &TestApp, body: &Value) -> (String, String) {
    let reply = app.post("/api/auth/dev-login", None, body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    (
        reply.body["session_token"].as_str().unwrap().to_owned(),
        reply.body["user"]["id"].as_str().unwrap().to_owned(),
    )
}

/// A built-in (demo) domain open to `allowed_roles`; returns its id.
async fn restricted_domain(app: &TestApp, admin: &str, allowed_roles: &Value) -> String {
    let reply = app
        .post(
            "/api/domains",
            Some(admin),
            &json!({
                "name": "finance",
                "display_name": "Finance",
                "configuration": {"kind": "builtin"},
                "allowed_roles": allowed_roles,
            }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.body["allowed_roles"], *allowed_roles);
    reply.body["id"].as_str().unwrap().to_owned()
}

fn listed(reply: &crate::support::Reply) -> Vec<String> {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_restricted_domain_is_invisible_and_unaskable_without_its_role_and_free() {
    let app = spawn().await;
    let (admin, _) = dev_login(&app, &json!({"email": "root@example.com", "admin": true})).await;
    let finance = restricted_domain(&app, &admin, &json!(["Finance"])).await;
    let open = app
        .post(
            "/api/domains",
            Some(&admin),
            &json!({"name": "handbook", "display_name": "Handbook", "configuration": {"kind": "builtin"}}),
        )
        .await;
    assert_eq!(open.status, StatusCode::CREATED, "{}", open.body);

    let (outsider, outsider_id) = dev_login(
        &app,
        &json!({"email": "out@example.com", "roles": ["Reader"]}),
    )
    .await;
    app.grant("out@example.com", 3, "grant-out").await;

    assert_eq!(
        listed(&app.get("/api/domains", Some(&outsider)).await),
        ["handbook"]
    );
    let ask = json!({"message": "What is the budget?", "domain_id": finance});
    let refused = app.chat("askdocs", &outsider, &ask, None).await;
    assert_problem(&refused, StatusCode::NOT_FOUND, "not_found");
    let unknown = app
        .chat(
            "askdocs",
            &outsider,
            &json!({"message": "What is the budget?", "domain_id": uuid::Uuid::new_v4()}),
            None,
        )
        .await;
    assert_eq!(
        refused.body["detail"], unknown.body["detail"],
        "told apart from an unknown domain"
    );
    assert_eq!(app.balance(&outsider).await, 3);
    let rows = app.ledger(&outsider_id).await;
    assert_eq!(rows.len(), 1, "only the grant: {rows:?}");

    // The same person signed in again with the role: listed and answered.
    let (insider, insider_id) = dev_login(
        &app,
        &json!({"email": "out@example.com", "roles": ["Reader", "Finance"]}),
    )
    .await;
    assert_eq!(insider_id, outsider_id);
    assert_eq!(
        listed(&app.get("/api/domains", Some(&insider)).await),
        ["finance", "handbook"]
    );
    let answered = app.chat("askdocs", &insider, &ask, None).await;
    assert_eq!(answered.status, StatusCode::OK, "{}", answered.body);
    assert_eq!(answered.body["domain_name"], "finance");
    assert_eq!(app.balance(&insider).await, 2);
    // Users are not shown who may ask.
    assert!(
        app.get("/api/domains", Some(&insider)).await.body[0]
            .get("allowed_roles")
            .is_none()
    );

    // Admins see and ask every domain, whatever their roles.
    assert_eq!(
        listed(&app.get("/api/domains", Some(&admin)).await),
        ["finance", "handbook"]
    );
    app.grant("root@example.com", 1, "grant-root").await;
    let by_admin = app.chat("askdocs", &admin, &ask, None).await;
    assert_eq!(by_admin.status, StatusCode::OK, "{}", by_admin.body);
}

#[tokio::test]
async fn opening_a_domain_lets_everyone_in_and_an_update_without_allowed_roles_keeps_them() {
    let app = spawn().await;
    let (admin, _) = dev_login(&app, &json!({"email": "root@example.com", "admin": true})).await;
    let id = restricted_domain(
        &app,
        &admin,
        &json!(["Finance", "0f6c1c2e-1d0b-4f3e-9a55-4b1d2c3e4f50"]),
    )
    .await;
    let (user, _) = dev_login(&app, &json!({"email": "ann@example.com"})).await;
    assert!(listed(&app.get("/api/domains", Some(&user)).await).is_empty());

    let renamed =
        json!({"name": "finance", "display_name": "Money", "configuration": {"kind": "builtin"}});
    let kept = app
        .put(&format!("/api/domains/{id}"), Some(&admin), &renamed)
        .await;
    assert_eq!(kept.status, StatusCode::OK, "{}", kept.body);
    assert_eq!(
        kept.body["allowed_roles"],
        json!(["Finance", "0f6c1c2e-1d0b-4f3e-9a55-4b1d2c3e4f50"])
    );
    assert!(listed(&app.get("/api/domains", Some(&user)).await).is_empty());

    let mut opened = renamed.clone();
    opened["allowed_roles"] = json!([]);
    let reply = app
        .put(&format!("/api/domains/{id}"), Some(&admin), &opened)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        listed(&app.get("/api/domains", Some(&user)).await),
        ["finance"]
    );

    // The audit rows carry who could ask, before and after.
    let audit = app
        .get(&format!("/api/admin/audit?target={id}"), Some(&admin))
        .await;
    assert_eq!(audit.status, StatusCode::OK, "{}", audit.body);
    let records = audit.body["items"].as_array().unwrap();
    assert_eq!(records[0]["action"], "domain_update");
    assert_eq!(
        records[0]["before"]["allowed_roles"],
        json!(["Finance", "0f6c1c2e-1d0b-4f3e-9a55-4b1d2c3e4f50"])
    );
    assert_eq!(records[0]["after"]["allowed_roles"], json!([]));
    assert_eq!(records[2]["action"], "domain_create");
    assert_eq!(
        records[2]["after"]["allowed_roles"],
        json!(["Finance", "0f6c1c2e-1d0b-4f3e-9a55-4b1d2c3e4f50"])
    );
}

#[tokio::test]
async fn bad_allowed_roles_are_422_naming_the_field_and_change_nothing() {
    let app = spawn().await;
    let (admin, _) = dev_login(&app, &json!({"email": "root@example.com", "admin": true})).await;
    let too_many: Vec<String> = (0..51).map(|i| format!("role-{i}")).collect();
    for bad in [
        json!(too_many),
        json!(["two words"]),
        json!([""]),
        json!(["x".repeat(257)]),
        json!("Finance"),
        json!([7]),
    ] {
        let reply = app
            .post(
                "/api/domains",
                Some(&admin),
                &json!({"name": "finance", "display_name": "Finance", "allowed_roles": bad}),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            reply.body
        );
        assert_eq!(reply.body["code"], "validation_failed", "{}", reply.body);
    }
    let reply = app
        .post(
            "/api/domains",
            Some(&admin),
            &json!({"name": "finance", "display_name": "Finance", "allowed_roles": ["a b"]}),
        )
        .await;
    assert_eq!(reply.body["field"], "allowed_roles", "{}", reply.body);
    assert!(
        listed(
            &app.get("/api/domains?include_inactive=true", Some(&admin))
                .await
        )
        .is_empty()
    );

    let reply = app
        .post(
            "/api/auth/dev-login",
            None,
            &json!({"email": "ann@example.com", "roles": ["a b"]}),
        )
        .await;
    assert_problem(
        &reply,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(reply.body["field"], "roles");
}
