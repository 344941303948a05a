//! Handler tests: the real routes, extractors and error mapping, with mocked ports.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError, test, web};
use askgate_domain::ledger::{EntryKind, LedgerEntry, ServiceType};
use askgate_domain::page::Page;
use askgate_domain::ports::{
    BalanceError, MockAiUpstream, MockCharges, MockClock, MockConversationRepository,
    MockDomainRepository, MockHealthCheck, MockLedger, MockPurchaseRepository, MockRateLimiter,
    MockSessionStore, MockUserRepository,
};
use askgate_domain::services::account::AdminPolicy;
use askgate_domain::services::{
    AccountError, AccountService, BillingService, ChatPorts, ChatService, ConversationService,
    DomainError, DomainService, ReturnUrls, SessionPolicy, SessionService,
};
use askgate_domain::testing;
use askgate_domain::user::{Role, User};
use askgate_domain::{SessionId, StoreError, Tokens, TransactionId};
use askgate_http::{
    AdminUser, ApiError, AppState, AuthenticatedUser, HttpOptions, Services, SessionKeys, app,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use secrecy::SecretString;
use serde_json::{Value, json};

const SECRET: &str = "test-secret-test-secret-test-secret!";

fn keys() -> SessionKeys {
    keys_with(SECRET)
}

fn keys_with(secret: &str) -> SessionKeys {
    SessionKeys::new(
        &SecretString::from(secret.to_owned()),
        Duration::from_secs(900),
        "authenticated".into(),
    )
}

fn user(email: &str, role: Role) -> User {
    User {
        last_login: Some(Utc::now()),
        ..testing::user(email, role)
    }
}

fn token_for(user: &User) -> String {
    keys().issue(user, SessionId::generate()).unwrap().token
}

/// Mocks for the ports, consumed by [`Ports::state`].
#[derive(Default)]
struct Ports {
    users: MockUserRepository,
    ledger: MockLedger,
    health: MockHealthCheck,
    dev_login: bool,
}

impl Ports {
    fn state(self) -> AppState {
        let mut clock = MockClock::new();
        clock.expect_now().returning(Utc::now);
        let clock = Arc::new(clock);
        let accounts = Arc::new(AccountService::new(
            Arc::new(self.users),
            Arc::new(self.ledger),
            clock.clone(),
            AdminPolicy::default(),
        ));
        let mut store = MockSessionStore::new();
        store.expect_start().returning(|_| Ok(()));
        let sessions = SessionService::new(
            Arc::new(store),
            Arc::new(keys()),
            Arc::clone(&accounts),
            clock,
            SessionPolicy {
                refresh_ttl: Duration::from_secs(14 * 86_400),
                max_age: SessionPolicy::DEFAULT_MAX_AGE,
                revocation_check_ttl: SessionPolicy::DEFAULT_REVOCATION_CHECK_TTL,
            },
        );
        let domains = DomainService::new(
            Arc::new(MockDomainRepository::new()),
            Arc::new(askgate_domain::ports::MockUpstreamTargets::new()),
            Arc::new(MockUserRepository::new()),
        );
        let chat = ChatService::new(
            ChatPorts {
                charges: Arc::new(MockCharges::new()),
                upstream: Arc::new(MockAiUpstream::new()),
                domains: Arc::new(MockDomainRepository::new()),
                conversations: Arc::new(MockConversationRepository::new()),
                rate_limiter: Arc::new(MockRateLimiter::new()),
                replies: Arc::new(askgate_http::dto::ChatReplyFormat),
                users: Arc::new(MockUserRepository::new()),
            },
            Duration::from_secs(1),
        );
        let billing = BillingService::new(
            None,
            Arc::new(MockLedger::new()),
            Arc::new(MockPurchaseRepository::new()),
            ReturnUrls::under("http://localhost:8080"),
        );
        let services = Services {
            accounts,
            sessions: Arc::new(sessions),
            conversations: Arc::new(ConversationService::new(Arc::new(
                MockConversationRepository::new(),
            ))),
            chat: Arc::new(chat),
            domains: Arc::new(domains),
            reports: Arc::new(askgate_domain::services::ReportService::new(
                Arc::new(askgate_domain::ports::MockReports::new()),
                Arc::new(askgate_domain::ports::SystemClock),
            )),
            admin: Arc::new(askgate_domain::services::AdminService::new(
                Arc::new(askgate_domain::ports::MockAdminStore::new()),
                Arc::new(MockLedger::new()),
                AdminPolicy::default(),
            )),
            api_keys: Arc::new(askgate_domain::services::ApiKeyService::new(
                Arc::new(askgate_domain::ports::MockApiKeyStore::new()),
                Arc::new(askgate_domain::ports::MockSecretMinter::new()),
                Arc::new(askgate_domain::ports::SystemClock),
            )),
            app_credits: Arc::new(askgate_domain::services::AppCreditService::new(Arc::new(
                askgate_domain::ports::MockAppLedger::new(),
            ))),
            apps: Arc::new(askgate_domain::services::AppService::new(
                Arc::new(askgate_domain::ports::MockAppStore::new()),
                Arc::new(askgate_domain::ports::MockSecretMinter::new()),
            )),
            billing: Arc::new(billing),
            health: Arc::new(self.health),
            bearer: Arc::new(keys()),
            microsoft: None,
            device: None,
            dev_device: None,
            webhooks: None,
        };
        AppState::new(
            services,
            HttpOptions {
                dev_login: self.dev_login,
                ..HttpOptions::default()
            },
        )
    }
}

/// Sends `req` to the app built from `ports`; returns status, headers and JSON body.
async fn send(ports: Ports, req: test::TestRequest) -> (StatusCode, header::HeaderMap, Value) {
    let svc = test::init_service(app(ports.state())).await;
    let res = test::call_service(&svc, req.to_request()).await;
    let status = res.status();
    let headers = res.headers().clone();
    let body = test::read_body(res).await;
    let json = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body)
            .unwrap_or_else(|_| panic!("body is not JSON: {}", String::from_utf8_lossy(&body)))
    };
    (status, headers, json)
}

fn content_type(headers: &header::HeaderMap) -> &str {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Asserts an RFC 9457 problem with the given status and code.
fn assert_problem(
    status: StatusCode,
    headers: &header::HeaderMap,
    body: &Value,
    want: StatusCode,
    code: &str,
) {
    assert_eq!(status, want, "body: {body}");
    assert_eq!(content_type(headers), "application/problem+json");
    assert_eq!(body["status"], want.as_u16());
    assert_eq!(body["code"], code);
    assert_eq!(body["type"], format!("https://askgate.dev/problems/{code}"));
    assert!(body["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(body["detail"].as_str().is_some_and(|t| !t.is_empty()));
}

fn get(path: &str) -> test::TestRequest {
    test::TestRequest::get().uri(path)
}

fn get_as(path: &str, token: &str) -> test::TestRequest {
    get(path).insert_header((header::AUTHORIZATION, format!("Bearer {token}")))
}

// --- health -----------------------------------------------------------------

#[actix_web::test]
async fn live_answers_ok_with_a_request_id() {
    let (status, headers, body) = send(Ports::default(), get("/health/live")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"status": "ok"}));
    assert!(headers.contains_key("x-request-id"));
}

#[actix_web::test]
async fn ready_answers_ok_when_the_database_answers() {
    let mut ports = Ports::default();
    ports.health.expect_check().times(1).returning(|| Ok(()));
    let (status, _, body) = send(ports, get("/health/ready")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"status": "ok"}));
}

#[actix_web::test]
async fn ready_answers_503_problem_without_the_cause_when_the_check_fails() {
    let mut ports = Ports::default();
    ports
        .health
        .expect_check()
        .returning(|| Err("connection refused to 10.0.0.7:5432 password=hunter2".into()));
    let (status, headers, body) = send(ports, get("/health/ready")).await;
    assert_problem(
        status,
        &headers,
        &body,
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
    );
    assert!(!body.to_string().contains("hunter2"));
    assert!(!body.to_string().contains("10.0.0.7"));
}

#[actix_web::test]
async fn unknown_paths_are_a_404_problem() {
    let (status, headers, body) = send(Ports::default(), get("/no/such/thing")).await;
    assert_problem(status, &headers, &body, StatusCode::NOT_FOUND, "not_found");
}

// --- authentication -----------------------------------------------------------

fn assert_unauthenticated(status: StatusCode, headers: &header::HeaderMap, body: &Value) {
    assert_problem(
        status,
        headers,
        body,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    let challenge = headers
        .get(header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .expect("a WWW-Authenticate header");
    assert!(challenge.starts_with("Bearer"), "{challenge}");
}

#[actix_web::test]
async fn user_routes_without_a_token_are_401_with_a_bearer_challenge() {
    for path in ["/api/user/tokens", "/api/user/transactions", "/api/user/me"] {
        let mut ports = Ports::default();
        ports.ledger.expect_balance().never();
        ports.ledger.expect_history().never();
        let (status, headers, body) = send(ports, get(path)).await;
        assert_unauthenticated(status, &headers, &body);
    }
}

fn alg_none_token(user: &User) -> String {
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let now = Utc::now().timestamp();
    let claims = json!({
        "sub": user.id, "role": "authenticated", "aud": "authenticated",
        "iat": now, "exp": now + 600, "sid": SessionId::generate(),
        "email": user.email.as_str(), "app_role": "admin",
    });
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.")
}

/// A correctly signed token whose claims are tampered with (`role` not `authenticated`).
fn service_role_token(user: &User) -> String {
    let now = Utc::now().timestamp();
    let claims = json!({
        "sub": user.id, "role": "service_role", "aud": "authenticated",
        "iat": now, "exp": now + 600, "sid": SessionId::generate(),
        "email": user.email.as_str(), "app_role": "user",
    });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

#[actix_web::test]
async fn refused_tokens_are_401_invalid_token_without_saying_why() {
    let ann = user("ann@example.com", Role::User);
    let hour_ago = Utc::now().timestamp() - 3600;
    let cases = [
        ("garbage", "not.a.jwt".to_owned()),
        (
            "another secret",
            keys_with("another-secret-another-secret-another")
                .issue(&ann, SessionId::generate())
                .unwrap()
                .token,
        ),
        (
            "expired",
            keys()
                .issue_at(&ann, SessionId::generate(), hour_ago)
                .unwrap()
                .token,
        ),
        ("alg none", alg_none_token(&ann)),
        ("wrong role", service_role_token(&ann)),
    ];
    let mut details = Vec::new();
    for (case, token) in cases {
        let mut ports = Ports::default();
        ports.ledger.expect_balance().never();
        let (status, headers, body) = send(ports, get_as("/api/user/tokens", &token)).await;
        assert_unauthenticated(status, &headers, &body);
        let challenge = headers
            .get(header::WWW_AUTHENTICATE)
            .unwrap()
            .to_str()
            .unwrap();
        assert!(
            challenge.contains(r#"error="invalid_token""#),
            "{case}: {challenge}"
        );
        details.push(body["detail"].as_str().unwrap().to_owned());
    }
    details.dedup();
    assert_eq!(
        details.len(),
        1,
        "the detail must not reveal which check failed: {details:?}"
    );
}

#[actix_web::test]
async fn a_non_bearer_authorization_header_is_401() {
    let (status, headers, body) = send(
        Ports::default(),
        get("/api/user/tokens").insert_header((header::AUTHORIZATION, "Basic YW5uOnB3")),
    )
    .await;
    assert_unauthenticated(status, &headers, &body);
}

#[actix_web::test]
async fn admin_extractor_refuses_users_with_403_and_admits_admins() {
    async fn admin_only(admin: AdminUser) -> HttpResponse {
        HttpResponse::Ok().json(json!({"admin": admin.actor().user}))
    }
    async fn anyone(user: AuthenticatedUser) -> HttpResponse {
        HttpResponse::Ok().json(json!({"user": user.actor().user, "email": user.email}))
    }
    let svc = test::init_service(
        actix_web::App::new()
            .app_data(web::Data::new(Ports::default().state()))
            .route("/admin-only", web::get().to(admin_only))
            .route("/anyone", web::get().to(anyone)),
    )
    .await;
    let ann = user("ann@example.com", Role::User);
    let boss = user("boss@example.com", Role::Admin);

    let res = test::call_service(&svc, get_as("/admin-only", &token_for(&ann)).to_request()).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let body: Value = test::read_body_json(res).await;
    assert_eq!(body["code"], "forbidden");

    let res = test::call_service(&svc, get_as("/admin-only", &token_for(&boss)).to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = test::read_body_json(res).await;
    assert_eq!(body["admin"], json!(boss.id));

    let res = test::call_service(&svc, get_as("/anyone", &token_for(&ann)).to_request()).await;
    let body: Value = test::read_body_json(res).await;
    assert_eq!(body, json!({"user": ann.id, "email": "ann@example.com"}));
}

// --- dev login ------------------------------------------------------------------

fn dev_login(body: Value) -> test::TestRequest {
    test::TestRequest::post()
        .uri("/api/auth/dev-login")
        .set_json(body)
}

#[actix_web::test]
async fn dev_login_is_404_when_disabled_whatever_the_body() {
    for body in [json!({"email": "ann@example.com"}), json!({"nonsense": 1})] {
        let mut ports = Ports::default();
        ports.users.expect_upsert_sign_in().never();
        let (status, headers, body) = send(ports, dev_login(body)).await;
        assert_problem(status, &headers, &body, StatusCode::NOT_FOUND, "not_found");
    }
}

#[actix_web::test]
async fn dev_login_with_a_bad_email_is_422_and_creates_nobody() {
    for email in ["", "not-an-email", "a b@example.com"] {
        let mut ports = Ports {
            dev_login: true,
            ..Ports::default()
        };
        ports.users.expect_upsert_sign_in().never();
        let (status, headers, body) = send(ports, dev_login(json!({"email": email}))).await;
        assert_problem(
            status,
            &headers,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        );
        assert_eq!(body["field"], "email");
    }
}

#[actix_web::test]
async fn dev_login_signs_in_and_its_token_opens_the_balance() {
    let mut ports = Ports {
        dev_login: true,
        ..Ports::default()
    };
    let created = user("ann@example.com", Role::User);
    let id = created.id;
    ports
        .users
        .expect_upsert_sign_in()
        .withf(|s| {
            s.email.as_str() == "ann@example.com" && s.display_name.as_deref() == Some("Ann")
        })
        .times(1)
        .returning(move |s| {
            let mut u = created.clone();
            u.display_name.clone_from(&s.display_name);
            Ok(u)
        });
    ports
        .ledger
        .expect_balance()
        .withf(move |u| *u == id)
        .returning(|_| Ok(Tokens::ZERO));
    let svc = test::init_service(app(ports.state())).await;

    let req = dev_login(json!({"email": " Ann@Example.com ", "display_name": "Ann"})).to_request();
    let res = test::call_service(&svc, req).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = test::read_body_json(res).await;
    assert_eq!(body["expires_in"], 900);
    assert_eq!(
        body["user"],
        json!({"id": id, "email": "ann@example.com", "display_name": "Ann", "tokens": 0, "role": "user"})
    );
    let token = body["session_token"].as_str().unwrap();

    let res = test::call_service(&svc, get_as("/api/user/tokens", token).to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = test::read_body_json(res).await;
    assert_eq!(body, json!({"tokens": 0}));
}

#[actix_web::test]
async fn malformed_oversized_or_non_json_bodies_are_problems() {
    let enabled = || Ports {
        dev_login: true,
        ..Ports::default()
    };
    let (status, headers, body) = send(
        enabled(),
        test::TestRequest::post()
            .uri("/api/auth/dev-login")
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .set_payload("{not json"),
    )
    .await;
    assert_problem(
        status,
        &headers,
        &body,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    );

    let (status, headers, body) =
        send(enabled(), dev_login(json!({"display_name": "no email"}))).await;
    assert_problem(
        status,
        &headers,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );

    let huge = json!({"email": "ann@example.com", "display_name": "x".repeat(70 * 1024)});
    let (status, headers, body) = send(enabled(), dev_login(huge)).await;
    assert_problem(
        status,
        &headers,
        &body,
        StatusCode::PAYLOAD_TOO_LARGE,
        "validation_failed",
    );

    let (status, headers, body) = send(
        enabled(),
        test::TestRequest::post()
            .uri("/api/auth/dev-login")
            .insert_header((header::CONTENT_TYPE, "text/plain"))
            .set_payload(r#"{"email":"ann@example.com"}"#),
    )
    .await;
    assert_problem(
        status,
        &headers,
        &body,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "validation_failed",
    );
}

// --- the user's account -----------------------------------------------------------

#[actix_web::test]
async fn balance_is_503_when_the_ledger_is_unavailable() {
    let ann = user("ann@example.com", Role::User);
    let mut ports = Ports::default();
    ports
        .ledger
        .expect_balance()
        .returning(|_| Err(BalanceError::Unavailable("pool timed out".into())));
    let (status, headers, body) = send(ports, get_as("/api/user/tokens", &token_for(&ann))).await;
    assert_problem(
        status,
        &headers,
        &body,
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
    );
    assert!(!body.to_string().contains("pool"));
}

#[actix_web::test]
async fn me_shows_the_profile() {
    let ann = user("ann@example.com", Role::Admin);
    let stored = ann.clone();
    let mut ports = Ports::default();
    ports
        .users
        .expect_find()
        .returning(move |_| Ok(Some(stored.clone())));
    let (status, _, body) = send(ports, get_as("/api/user/me", &token_for(&ann))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["id"], json!(ann.id));
    assert_eq!(body["email"], "ann@example.com");
    assert_eq!(body["role"], "admin");
    assert_eq!(body["tokens"], 0);
    assert!(body["created_at"].is_string());
}

#[actix_web::test]
async fn transactions_validate_limit_and_cursor_before_reading() {
    let ann = user("ann@example.com", Role::User);
    let token = token_for(&ann);
    for (query, field) in [
        ("limit=0", Some("limit")),
        ("limit=101", Some("limit")),
        ("limit=-1", None),
        ("limit=abc", None),
        ("cursor=garbage", Some("cursor")),
        ("cursor=123_not-a-uuid", Some("cursor")),
    ] {
        let mut ports = Ports::default();
        ports.ledger.expect_history().never();
        let (status, headers, body) = send(
            ports,
            get_as(&format!("/api/user/transactions?{query}"), &token),
        )
        .await;
        assert_problem(
            status,
            &headers,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        );
        if let Some(field) = field {
            assert_eq!(body["field"], field, "{query}");
        }
    }
}

#[actix_web::test]
async fn transactions_are_listed_with_their_type_and_the_next_cursor() {
    let ann = user("ann@example.com", Role::User);
    let id = ann.id;
    let mut ports = Ports::default();
    ports
        .ledger
        .expect_entries()
        .withf(move |filter, page| {
            filter.user == Some(id)
                && filter.kind.is_none()
                && filter.service.is_none()
                && page.limit.get() == 2
                && page.after.is_none()
        })
        .times(1)
        .returning(move |_, _| {
            let entry = |kind, amount, after: i64, service| LedgerEntry {
                id: TransactionId::generate(),
                user_id: id,
                kind,
                amount,
                balance_after: Tokens::new(after).unwrap(),
                stripe_payment_intent_id: None,
                idempotency_key: Some("secret-ish-key".into()),
                service_type: service,
                domain_id: None,
                metadata: json!({}),
                created_at: Utc::now(),
            };
            Ok(Page {
                items: vec![
                    entry(EntryKind::Consumption, -1, 99, Some(ServiceType::AskAtt)),
                    entry(EntryKind::Grant, 100, 100, None),
                ],
                next_cursor: Some("1700000000000000_00000000-0000-0000-0000-000000000000".into()),
            })
        });
    let (status, _, body) = send(
        ports,
        get_as("/api/user/transactions?limit=2", &token_for(&ann)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["type"], "consumption");
    assert_eq!(items[0]["amount"], -1);
    assert_eq!(items[0]["balance_after"], 99);
    assert_eq!(items[0]["service_type"], "askatt");
    assert_eq!(items[1]["type"], "grant");
    assert_eq!(items[1]["service_type"], Value::Null);
    assert!(items[0].get("user_id").is_none());
    assert_eq!(
        body["next_cursor"],
        "1700000000000000_00000000-0000-0000-0000-000000000000"
    );
}

// --- error mapping ---------------------------------------------------------------

async fn render(err: ApiError) -> (StatusCode, Value) {
    let res = err.error_response();
    let status = res.status();
    let body = actix_web::body::to_bytes(res.into_body()).await.unwrap();
    (status, serde_json::from_slice(&body).unwrap())
}

#[actix_web::test]
async fn domain_errors_map_to_their_status_and_code() {
    let cases: Vec<(ApiError, StatusCode, &str)> = vec![
        (
            AccountError::UserNotFound.into(),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            AccountError::MissingEmail.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            AccountError::InvalidIdentity.into(),
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        ),
        (
            AccountError::Conflict("email taken".into()).into(),
            StatusCode::CONFLICT,
            "conflict",
        ),
        (
            AccountError::EmptyGrant.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            AccountError::Unavailable("down".into()).into(),
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
        ),
        (
            AccountError::Unexpected("bug".into()).into(),
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
        ),
        (
            DomainError::Forbidden.into(),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            DomainError::NotFound.into(),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            DomainError::Invalid(askgate_domain::domain::DomainValidationError::InvalidEndpoint)
                .into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            DomainError::Conflict("name taken".into()).into(),
            StatusCode::CONFLICT,
            "conflict",
        ),
        (
            DomainError::Unavailable("down".into()).into(),
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
        ),
        (
            DomainError::Unexpected("bug".into()).into(),
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
        ),
    ];
    for (err, status, code) in cases {
        let (got_status, body) = render(err).await;
        assert_eq!((got_status, body["code"].as_str().unwrap()), (status, code));
        assert_eq!(body["status"], status.as_u16());
    }
    let (_, body) = render(
        DomainError::Invalid(askgate_domain::domain::DomainValidationError::InvalidEndpoint).into(),
    )
    .await;
    assert_eq!(body["field"], "api_endpoint");
}

#[actix_web::test]
async fn server_error_bodies_never_carry_the_cause() {
    let source = StoreError::Unexpected(
        "duplicate key value violates constraint users_pkey; password=hunter2".into(),
    );
    let (status, body) = render(AccountError::from(source).into()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let text = body.to_string();
    assert!(
        !text.contains("hunter2") && !text.contains("users_pkey"),
        "{text}"
    );
}

#[actix_web::test]
async fn insufficient_tokens_carries_balance_and_purchase_url_and_429_a_retry_after() {
    let res = ApiError::insufficient_tokens(0, "http://127.0.0.1:8080/buy").error_response();
    assert_eq!(res.status(), StatusCode::PAYMENT_REQUIRED);
    let body = actix_web::body::to_bytes(res.into_body()).await.unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["balance"], 0);
    assert_eq!(body["purchase_url"], "http://127.0.0.1:8080/buy");
    assert_eq!(body["code"], "insufficient_tokens");

    let res = ApiError::rate_limited(Duration::from_millis(1500)).error_response();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers().get(header::RETRY_AFTER).unwrap(), "2");
}
