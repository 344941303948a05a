//! Identity end to end: askgate on a random port, a fresh database, and an
//! Azure AD tenant played by wiremock (discovery, JWKS with the committed RSA
//! test keys, a token endpoint answering codes with signed ID tokens).

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::support::{JWT_SECRET, Reply, TestApp};
use askgate_azure_ad::testing::{PUBLISHED, STRANGER};
use askgate_postgres::testing::TestDatabase;
use askgate_server::settings::Settings;
use askgate_server::{Application, StartupError};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, LOCATION, SET_COOKIE, WWW_AUTHENTICATE};
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TENANT: &str = "6f1c2b9e-0d7a-4c55-9a3e-7b1d4c2e8f10";
const CLIENT_ID: &str = "3c9e1f4a-5b2d-4e8f-a1c7-0d6b9e2f4a13";
const CLIENT_SECRET: &str = "s3cr3t~value.that-must-not-leak";

// ---- keys and tokens ------------------------------------------------------------

fn now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

/// A person of the tenant.
#[derive(Clone)]
struct Person {
    oid: String,
    email: String,
    name: String,
    roles: Vec<String>,
    groups: Vec<String>,
}

impl Person {
    fn new(n: u32, email: &str) -> Self {
        Self {
            oid: format!("00000000-0000-0000-0000-{n:012}"),
            email: email.to_owned(),
            name: format!("Person {n}"),
            roles: Vec::new(),
            groups: Vec::new(),
        }
    }

    fn with_roles(mut self, roles: &[&str]) -> Self {
        self.roles = roles.iter().map(|r| (*r).to_owned()).collect();
        self
    }

    fn with_groups(mut self, groups: &[&str]) -> Self {
        self.groups = groups.iter().map(|g| (*g).to_owned()).collect();
        self
    }
}

fn id_token_claims(issuer: &str, who: &Person, nonce: Option<&str>) -> Value {
    let now = now();
    let mut claims = json!({
        "iss": issuer, "aud": CLIENT_ID, "sub": format!("pairwise-{}", who.oid),
        "oid": who.oid, "tid": TENANT, "iat": now - 5, "nbf": now - 5, "exp": now + 3600,
        "name": who.name, "email": who.email, "preferred_username": who.email,
        "roles": who.roles, "groups": who.groups, "ver": "2.0",
    });
    if let Some(nonce) = nonce {
        claims["nonce"] = json!(nonce);
    }
    claims
}

fn access_token_claims(issuer: &str, who: &Person) -> Value {
    let now = now();
    json!({
        "iss": issuer, "aud": format!("api://{CLIENT_ID}"), "azp": "9b1e2c3d-api-client",
        "sub": "pairwise-subject-for-the-api", "oid": who.oid, "tid": TENANT,
        "iat": now - 5, "nbf": now - 5, "exp": now + 3600, "scp": "chat",
        "name": who.name, "preferred_username": who.email, "roles": who.roles, "ver": "2.0",
    })
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

/// The PKCE verifier and nonce a separately hosted frontend kept for its
/// sign-in (RFC 7636 verifiers are 43 to 128 unreserved characters).
const CLIENT_VERIFIER: &str = "client-kept-pkce-verifier-0123456789-abcdefghij";
const CLIENT_NONCE: &str = "client-kept-nonce-8f2c1d";

/// What a frontend posts to `/api/auth/login` after its redirect came back.
fn login_body(code: &str) -> Value {
    json!({ "code": code, "code_verifier": CLIENT_VERIFIER, "nonce": CLIENT_NONCE })
}

// ---- the identity provider ------------------------------------------------------------

struct Idp {
    server: MockServer,
}

impl Idp {
    async fn start() -> Self {
        let server = MockServer::start().await;
        let base = server.uri();
        let issuer = format!("{base}/{TENANT}/v2.0");
        let discovery = json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{base}/{TENANT}/oauth2/v2.0/authorize"),
            "token_endpoint": format!("{base}/{TENANT}/oauth2/v2.0/token"),
            "jwks_uri": format!("{base}/{TENANT}/discovery/v2.0/keys"),
            "response_types_supported": ["code", "id_token", "code id_token"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
        });
        Mock::given(method("GET"))
            .and(path(format!(
                "/{TENANT}/v2.0/.well-known/openid-configuration"
            )))
            .respond_with(ResponseTemplate::new(200).set_body_json(discovery))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("/{TENANT}/discovery/v2.0/keys")))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(json!({ "keys": [PUBLISHED.jwk] })),
            )
            .mount(&server)
            .await;
        // A code nobody was given, or one already redeemed.
        Mock::given(method("POST"))
            .and(path(format!("/{TENANT}/oauth2/v2.0/token")))
            .respond_with(ResponseTemplate::new(400).set_body_json(json!({
                "error": "invalid_grant",
                "error_description": "AADSTS54005: OAuth2 Authorization code was already redeemed.",
            })))
            .with_priority(10)
            .mount(&server)
            .await;
        Self { server }
    }

    fn issuer(&self) -> String {
        format!("{}/{TENANT}/v2.0", self.server.uri())
    }

    /// The token endpoint redeems `code` once, answering with `id_token`.
    async fn answer_code(&self, code: &str, id_token: &str) {
        Mock::given(method("POST"))
            .and(path(format!("/{TENANT}/oauth2/v2.0/token")))
            .and(body_string_contains(format!("code={code}&")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "token_type": "Bearer", "scope": "openid profile email offline_access",
                "expires_in": 3599, "access_token": "opaque-access-token",
                "refresh_token": "opaque-refresh-token", "id_token": id_token,
            })))
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&self.server)
            .await;
    }

    /// A fresh code that signs `who` in for a client that sent the
    /// challenge of [`CLIENT_VERIFIER`] and the nonce [`CLIENT_NONCE`]: the
    /// token endpoint redeems it only with that verifier.
    async fn code_for(&self, who: &Person) -> String {
        self.code_with_nonce(who, Some(CLIENT_NONCE)).await
    }

    /// As [`Self::code_for`], the ID token carrying `nonce`.
    async fn code_with_nonce(&self, who: &Person, nonce: Option<&str>) -> String {
        let code = format!("code-{}", uuid::Uuid::new_v4().simple());
        let id_token = PUBLISHED.sign(&id_token_claims(&self.issuer(), who, nonce));
        Mock::given(method("POST"))
            .and(path(format!("/{TENANT}/oauth2/v2.0/token")))
            .and(body_string_contains(format!("code={code}&")))
            .and(body_string_contains(format!(
                "code_verifier={CLIENT_VERIFIER}"
            )))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "token_type": "Bearer", "scope": "openid profile email offline_access",
                "expires_in": 3599, "access_token": "opaque-access-token",
                "refresh_token": "opaque-refresh-token", "id_token": id_token,
            })))
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&self.server)
            .await;
        code
    }

    /// How many codes askgate tried to redeem.
    async fn token_requests(&self) -> usize {
        self.server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .filter(|r| r.method.as_str() == "POST")
            .count()
    }
}

// ---- askgate ------------------------------------------------------------------------------

/// What sign-in answers carry besides their JSON: cookies and redirects.
impl Reply {
    /// The value a `Set-Cookie` of this answer gives `name` (`""` when it deletes it).
    fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookie(name)
            .map(|raw| raw.split(';').next().unwrap()[name.len() + 1..].to_owned())
    }

    fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .find(|v| v.starts_with(&format!("{name}=")))
    }

    fn location(&self) -> String {
        self.headers[LOCATION].to_str().unwrap().to_owned()
    }

    fn token(&self) -> String {
        self.body["session_token"].as_str().unwrap().to_owned()
    }

    fn refresh_cookie(&self) -> String {
        self.cookie("askgate_refresh").expect("a refresh cookie")
    }
}

fn settings(idp: &Idp, db: &TestDatabase, extra: &[(&str, &str)]) -> Settings {
    let issuer = idp.issuer();
    let mut pairs: Vec<(&str, &str)> = extra.to_vec();
    pairs.extend([
        ("DATABASE_MAX_CONNECTIONS", "3"),
        ("AZURE_AD_TENANT_ID", TENANT),
        ("AZURE_AD_CLIENT_ID", CLIENT_ID),
        ("AZURE_AD_CLIENT_SECRET", CLIENT_SECRET),
        ("AZURE_AD_AUTHORITY", issuer.as_str()),
        ("ADMIN_EMAILS", "boss@example.com"),
    ]);
    crate::support::settings(db, &pairs)
}

/// askgate signing in with the tenant an [`Idp`] plays; its client does not
/// follow redirects.
async fn spawn() -> TestApp<Idp> {
    spawn_with(&[]).await
}

async fn spawn_with(extra: &[(&str, &str)]) -> TestApp<Idp> {
    let idp = Idp::start().await;
    let db = TestDatabase::new().await;
    let settings = settings(&idp, &db, extra);
    let mut app = TestApp::start(db, settings).await;
    app.client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    app.with_peer(idp)
}

impl TestApp<Idp> {
    fn idp(&self) -> &Idp {
        &self.peer
    }

    /// Another instance on the same database and tenant.
    async fn second_instance(&self) -> String {
        crate::support::serve(settings(self.idp(), &self.db, &[]))
            .await
            .base
    }

    async fn me(&self, token: &str) -> Reply {
        self.me_at(&self.base, token).await
    }

    async fn me_at(&self, base: &str, token: &str) -> Reply {
        self.send(
            self.client
                .get(format!("{base}/api/user/me"))
                .bearer_auth(token),
        )
        .await
    }

    async fn login(&self, who: &Person) -> Reply {
        let code = self.idp().code_for(who).await;
        self.post("/api/auth/login", None, &login_body(&code)).await
    }

    async fn refresh_with_cookie(&self, refresh: &str) -> Reply {
        self.send(
            self.client
                .post(format!("{}/api/auth/refresh", self.base))
                .header("Cookie", format!("askgate_refresh={refresh}")),
        )
        .await
    }

    async fn logout(&self, token: &str) -> Reply {
        self.send(
            self.client
                .post(format!("{}/api/auth/logout", self.base))
                .bearer_auth(token),
        )
        .await
    }

    async fn authorize(&self, return_to: &str) -> Reply {
        self.send(
            self.client
                .get(format!("{}/api/auth/authorize", self.base))
                .query(&[("return_to", return_to)]),
        )
        .await
    }

    async fn callback(&self, flow_cookie: &str, code: &str, state: &str) -> Reply {
        self.send(
            self.client
                .get(format!("{}/api/auth/callback", self.base))
                .query(&[("code", code), ("state", state)])
                .header("Cookie", format!("askgate_sign_in={flow_cookie}")),
        )
        .await
    }

    /// Runs one statement on the service's database; answers the rows it touched.
    async fn execute(&self, statement: &str) -> u64 {
        self.sql().await.execute(statement, &[]).await.unwrap()
    }

    /// `DELETE /api/domains/{unknown}`: 404 for an admin, 403 for anyone else.
    async fn admin_probe(&self, token: &str) -> StatusCode {
        self.send(
            self.client
                .delete(format!(
                    "{}/api/domains/00000000-0000-4000-8000-000000000000",
                    self.base
                ))
                .bearer_auth(token),
        )
        .await
        .status
    }

    async fn user_count(&self) -> i64 {
        self.sql()
            .await
            .query_one("SELECT count(*) FROM users", &[])
            .await
            .unwrap()
            .get(0)
    }
}

fn assert_invalid_token(answer: &Reply, what: &str) {
    assert_eq!(
        answer.status,
        StatusCode::UNAUTHORIZED,
        "{what}: {}",
        answer.body
    );
    assert_eq!(answer.body["code"], "unauthenticated", "{what}");
    assert_eq!(
        answer.headers[WWW_AUTHENTICATE].to_str().unwrap(),
        "Bearer realm=\"askgate\", error=\"invalid_token\"",
        "{what}"
    );
}

fn query_of(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

// ---- Microsoft sign-in -------------------------------------------------------------------

#[tokio::test]
async fn first_login_creates_the_user_and_the_second_finds_it() {
    let app = spawn().await;
    let ada = Person::new(1, "Ada@Example.com");

    let first = app.login(&ada).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(first.body["user"]["email"], "ada@example.com");
    assert_eq!(first.body["user"]["display_name"], "Person 1");
    assert_eq!(first.body["user"]["tokens"], 0);
    assert_eq!(first.body["user"]["role"], "user");
    assert_eq!(first.body["expires_in"], 900);
    let cookie = first.set_cookie("askgate_refresh").unwrap();
    for attribute in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/api/auth",
        "Max-Age=1209600",
    ] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(first.body.get("refresh_token").is_none());

    let second = app.login(&ada).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
    assert_eq!(second.body["user"]["id"], first.body["user"]["id"]);
    assert_eq!(app.user_count().await, 1);

    let me = app.me(&second.token()).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["id"], first.body["user"]["id"]);
    assert!(me.body["last_login"].is_string());
}

#[tokio::test]
async fn the_web_ui_is_told_to_offer_microsoft_sign_in() {
    let app = spawn().await;
    let config = app
        .send(app.client.get(format!("{}/api/ui-config", app.base)))
        .await;
    assert_eq!(config.status, StatusCode::OK);
    assert_eq!(config.body["microsoft_login"], true, "{}", config.body);
}

#[tokio::test]
async fn admins_come_from_the_app_role_claim_or_admin_emails() {
    let app = spawn().await;
    let by_role = app
        .login(&Person::new(2, "ann@example.com").with_roles(&["Admin"]))
        .await;
    assert_eq!(by_role.body["user"]["role"], "admin", "{}", by_role.body);
    let by_email = app.login(&Person::new(3, "boss@example.com")).await;
    assert_eq!(by_email.body["user"]["role"], "admin", "{}", by_email.body);
    let reader = app
        .login(&Person::new(4, "bob@example.com").with_roles(&["Reader"]))
        .await;
    assert_eq!(reader.body["user"]["role"], "user", "{}", reader.body);
}

#[tokio::test]
async fn a_domain_restricted_to_a_group_or_an_app_role_is_listed_to_those_the_id_token_names() {
    const GROUP: &str = "5e0c1f4a-7d1b-4c5e-9a0f-2b3c4d5e6f70";
    let app = spawn().await;
    let boss = app.login(&Person::new(30, "boss@example.com")).await;
    let admin = boss.body["session_token"].as_str().unwrap().to_owned();
    let created = app
        .post(
            "/api/domains",
            Some(&admin),
            &json!({"name": "finance", "display_name": "Finance",
                    "configuration": {"kind": "builtin"}, "allowed_roles": ["Finance", GROUP]}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);

    async fn listed(app: &TestApp<Idp>, reply: Reply) -> usize {
        let token = reply.body["session_token"].as_str().unwrap();
        let domains = app.get("/api/domains", Some(token)).await;
        assert_eq!(domains.status, StatusCode::OK, "{}", domains.body);
        domains.body.as_array().unwrap().len()
    }
    let by_group = Person::new(31, "gil@example.com").with_groups(&[GROUP]);
    assert_eq!(listed(&app, app.login(&by_group).await).await, 1);
    let by_role = Person::new(32, "rae@example.com").with_roles(&["Finance"]);
    assert_eq!(listed(&app, app.login(&by_role).await).await, 1);
    let outsider = Person::new(33, "out@example.com")
        .with_roles(&["Reader"])
        .with_groups(&["another-group"]);
    assert_eq!(listed(&app, app.login(&outsider).await).await, 0);
    // Leaving the group shows at the next sign-in.
    let left = Person::new(31, "gil@example.com");
    assert_eq!(listed(&app, app.login(&left).await).await, 0);
}

#[tokio::test]
async fn admin_object_ids_make_admins_whatever_their_address_or_roles() {
    let app = spawn_with(&[(
        "ADMIN_OBJECT_IDS",
        "00000000-0000-0000-0000-000000000044, 00000000-0000-0000-0000-000000000099",
    )])
    .await;
    let listed = Person::new(44, "eve@example.com");
    let by_oid = app.login(&listed).await;
    assert_eq!(by_oid.body["user"]["role"], "admin", "{}", by_oid.body);
    assert_eq!(
        app.admin_probe(&by_oid.token()).await,
        StatusCode::NOT_FOUND
    );
    // As an API bearer token too.
    let bearer = PUBLISHED.sign(&access_token_claims(&app.idp().issuer(), &listed));
    assert_eq!(app.admin_probe(&bearer).await, StatusCode::NOT_FOUND);
    // Anyone else is not.
    let other = app.login(&Person::new(45, "mallory@example.com")).await;
    assert_eq!(other.body["user"]["role"], "user", "{}", other.body);

    let err = Settings::from_pairs(&[("ADMIN_OBJECT_IDS", "boss@example.com")]).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("ADMIN_OBJECT_IDS"), "{message}");
}

#[tokio::test]
async fn the_admin_role_name_is_configurable() {
    let app = spawn_with(&[("AZURE_AD_ADMIN_ROLE", "askgate.admin")]).await;
    let old_name = app
        .login(&Person::new(5, "ann@example.com").with_roles(&["Admin"]))
        .await;
    assert_eq!(old_name.body["user"]["role"], "user");
    let new_name = app
        .login(&Person::new(6, "cy@example.com").with_roles(&["askgate.admin"]))
        .await;
    assert_eq!(new_name.body["user"]["role"], "admin");
}

#[tokio::test]
async fn login_refuses_a_redirect_uri_on_another_origin() {
    let app = spawn_with(&[("ALLOWED_ORIGINS", "http://localhost:3000")]).await;
    let ada = Person::new(7, "ada@example.com");
    let code = app.idp().code_for(&ada).await;
    let refused = app
        .post(
            "/api/auth/login",
            None,
            &with(
                login_body(&code),
                "redirect_uri",
                json!("https://evil.example/api/auth/callback"),
            ),
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert_eq!(refused.body["field"], "redirect_uri");

    let allowed = app
        .post(
            "/api/auth/login",
            None,
            &with(
                login_body(&code),
                "redirect_uri",
                json!("http://localhost:3000/auth/done"),
            ),
        )
        .await;
    assert_eq!(allowed.status, StatusCode::OK, "{}", allowed.body);
    let sent = app.idp().server.received_requests().await.unwrap();
    let exchange = sent
        .iter()
        .find(|r| r.method.as_str() == "POST")
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .unwrap();
    assert!(
        exchange.contains("redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fauth%2Fdone"),
        "{exchange}"
    );
}

#[tokio::test]
async fn server_side_sign_in_redirects_back_signed_in() {
    let app = spawn().await;
    let started = app.authorize("/chat?tab=docs").await;
    assert_eq!(started.status, StatusCode::FOUND);
    let to_idp = started.location();
    assert!(to_idp.starts_with(&format!(
        "{}/{TENANT}/oauth2/v2.0/authorize?",
        app.idp().server.uri()
    )));
    let query = query_of(&to_idp);
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(
        query["redirect_uri"],
        "http://127.0.0.1:8080/api/auth/callback"
    );
    let flow_cookie = started.set_cookie("askgate_sign_in").unwrap();
    for attribute in ["HttpOnly", "SameSite=Lax", "Max-Age=600"] {
        assert!(flow_cookie.contains(attribute), "{flow_cookie}");
    }

    let ada = Person::new(8, "ada@example.com");
    app.idp()
        .answer_code(
            "code-from-the-browser",
            &PUBLISHED.sign(&id_token_claims(
                &app.idp().issuer(),
                &ada,
                Some(&query["nonce"]),
            )),
        )
        .await;
    let back = app
        .callback(
            &started.cookie("askgate_sign_in").unwrap(),
            "code-from-the-browser",
            &query["state"],
        )
        .await;
    assert_eq!(back.status, StatusCode::FOUND, "{}", back.body);
    assert_eq!(back.location(), "/chat?tab=docs");
    assert_eq!(back.cookie("askgate_sign_in").as_deref(), Some(""));

    // The page then trades the refresh cookie for an access token.
    let refreshed = app.refresh_with_cookie(&back.refresh_cookie()).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    assert_eq!(refreshed.body["user"]["email"], "ada@example.com");
    let me = app.me(&refreshed.token()).await;
    assert_eq!(me.status, StatusCode::OK);

    // The PKCE verifier kept in the cookie went to the token endpoint.
    let sent = app.idp().server.received_requests().await.unwrap();
    let exchange = sent
        .iter()
        .find(|r| r.method.as_str() == "POST")
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .unwrap();
    assert!(exchange.contains("code_verifier="), "{exchange}");
}

#[tokio::test]
async fn authorize_refuses_a_return_to_that_leaves_the_site() {
    let app = spawn().await;
    for target in ["//evil.example", "https://evil.example/", "/\\evil.example"] {
        let refused = app.authorize(target).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{target}");
        assert_eq!(refused.body["field"], "return_to");
        assert!(refused.set_cookie("askgate_sign_in").is_none());
    }
}

#[tokio::test]
async fn callback_with_another_state_or_no_cookie_is_refused() {
    let app = spawn().await;
    let started = app.authorize("/").await;
    let query = query_of(&started.location());
    let ada = Person::new(9, "ada@example.com");
    app.idp()
        .answer_code(
            "code-x",
            &PUBLISHED.sign(&id_token_claims(
                &app.idp().issuer(),
                &ada,
                Some(&query["nonce"]),
            )),
        )
        .await;
    let flow = started.cookie("askgate_sign_in").unwrap();

    // A browser lands here: it is sent back to the sign-in page, which explains.
    let wrong_state = app
        .callback(&flow, "code-x", "state-of-another-browser")
        .await;
    assert_eq!(
        wrong_state.status,
        StatusCode::FOUND,
        "{}",
        wrong_state.body
    );
    assert_eq!(wrong_state.location(), "/signin?error=failed");
    assert_eq!(wrong_state.cookie("askgate_sign_in").as_deref(), Some(""));
    let forged_cookie = app.callback("e30.AAAA", "code-x", &query["state"]).await;
    assert_eq!(forged_cookie.location(), "/signin?error=failed");
    assert_eq!(app.user_count().await, 0);
    assert!(wrong_state.set_cookie("askgate_refresh").is_none());
    assert!(forged_cookie.set_cookie("askgate_refresh").is_none());

    // Declining at the provider is told apart.
    let declined = app
        .send(
            app.client
                .get(format!("{}/api/auth/callback", app.base))
                .query(&[
                    ("error", "access_denied"),
                    ("state", query["state"].as_str()),
                ])
                .header("Cookie", format!("askgate_sign_in={flow}")),
        )
        .await;
    assert_eq!(declined.status, StatusCode::FOUND);
    assert_eq!(declined.location(), "/signin?error=cancelled");
    assert_eq!(app.user_count().await, 0);
}

#[tokio::test]
async fn an_id_token_with_another_nonce_signs_nobody_in() {
    let app = spawn().await;
    let started = app.authorize("/").await;
    let query = query_of(&started.location());
    let ada = Person::new(10, "ada@example.com");
    app.idp()
        .answer_code(
            "code-replayed-id-token",
            &PUBLISHED.sign(&id_token_claims(
                &app.idp().issuer(),
                &ada,
                Some("nonce-of-another-sign-in"),
            )),
        )
        .await;
    let back = app
        .callback(
            &started.cookie("askgate_sign_in").unwrap(),
            "code-replayed-id-token",
            &query["state"],
        )
        .await;
    assert_eq!(back.status, StatusCode::FOUND, "{}", back.body);
    assert_eq!(back.location(), "/signin?error=failed");
    assert!(back.set_cookie("askgate_refresh").is_none());
    assert_eq!(app.user_count().await, 0);
}

#[tokio::test]
async fn an_authorization_code_signs_in_only_once() {
    let app = spawn().await;
    let code = app
        .idp()
        .code_for(&Person::new(11, "ada@example.com"))
        .await;
    let first = app.post("/api/auth/login", None, &login_body(&code)).await;
    assert_eq!(first.status, StatusCode::OK);
    let again = app.post("/api/auth/login", None, &login_body(&code)).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED, "{}", again.body);
    assert_eq!(again.body["code"], "unauthenticated");
    assert!(again.set_cookie("askgate_refresh").is_none());
    assert_eq!(app.user_count().await, 1);
}

#[tokio::test]
async fn login_without_a_pkce_verifier_or_a_nonce_is_refused_before_the_code_is_redeemed() {
    let app = spawn().await;
    let code = app
        .idp()
        .code_for(&Person::new(30, "ada@example.com"))
        .await;
    let without = |field: &str| {
        let mut body = login_body(&code);
        body.as_object_mut().unwrap().remove(field);
        body
    };
    for (body, field) in [
        (without("code_verifier"), "code_verifier"),
        (
            with(login_body(&code), "code_verifier", Value::Null),
            "code_verifier",
        ),
        (
            with(login_body(&code), "code_verifier", json!("too-short")),
            "code_verifier",
        ),
        (
            with(
                login_body(&code),
                "code_verifier",
                json!(format!("{CLIENT_VERIFIER}+/=")),
            ),
            "code_verifier",
        ),
        (without("nonce"), "nonce"),
        (with(login_body(&code), "nonce", json!("")), "nonce"),
    ] {
        let refused = app.post("/api/auth/login", None, &body).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            refused.body
        );
        assert_eq!(
            refused.headers[CONTENT_TYPE], "application/problem+json",
            "{body}"
        );
        assert_eq!(refused.body["field"], field, "{body}");
        assert!(refused.set_cookie("askgate_refresh").is_none(), "{body}");
    }
    assert_eq!(app.idp().token_requests().await, 0);
    assert_eq!(app.user_count().await, 0);
    // The same code with both still signs in: nothing above spent it.
    let signed_in = app.post("/api/auth/login", None, &login_body(&code)).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.body);
}

#[tokio::test]
async fn login_with_another_pkce_verifier_signs_nobody_in() {
    let app = spawn().await;
    let code = app
        .idp()
        .code_for(&Person::new(31, "ada@example.com"))
        .await;

    let refused = app
        .post(
            "/api/auth/login",
            None,
            &with(
                login_body(&code),
                "code_verifier",
                json!("a-verifier-of-someone-who-intercepted-the-code-0123"),
            ),
        )
        .await;

    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.body);
    assert_eq!(refused.headers[CONTENT_TYPE], "application/problem+json");
    assert!(refused.set_cookie("askgate_refresh").is_none());
    assert_eq!(app.user_count().await, 0);
}

#[tokio::test]
async fn login_with_an_id_token_for_another_nonce_or_none_signs_nobody_in() {
    let app = spawn().await;
    let ada = Person::new(32, "ada@example.com");
    let replayed = app
        .idp()
        .code_with_nonce(&ada, Some("nonce-of-another-sign-in"))
        .await;
    let without = app.idp().code_with_nonce(&ada, None).await;

    for code in [replayed, without] {
        let refused = app.post("/api/auth/login", None, &login_body(&code)).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.body);
        assert_eq!(refused.headers[CONTENT_TYPE], "application/problem+json");
        assert_eq!(refused.body["code"], "unauthenticated");
        assert!(refused.set_cookie("askgate_refresh").is_none());
    }
    assert_eq!(app.user_count().await, 0);
}

// ---- sessions ------------------------------------------------------------------------------

#[tokio::test]
async fn refresh_rotates_the_cookie_and_answers_a_working_access_token() {
    let app = spawn().await;
    let signed_in = app.login(&Person::new(12, "ada@example.com")).await;
    let first = signed_in.refresh_cookie();

    let refreshed = app.refresh_with_cookie(&first).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    let second = refreshed.refresh_cookie();
    assert_ne!(second, first);
    assert_eq!(second.len(), 43);
    assert!(refreshed.body.get("refresh_token").is_none());
    assert_eq!(refreshed.body["user"]["email"], "ada@example.com");
    assert_eq!(app.me(&refreshed.token()).await.status, StatusCode::OK);

    let third = app.refresh_with_cookie(&second).await;
    assert_eq!(third.status, StatusCode::OK);
    // Without any refresh token: 401 with the bare challenge, saying what to
    // send here (not a session token).
    let none = app
        .send(app.client.post(format!("{}/api/auth/refresh", app.base)))
        .await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    let detail = none.body["detail"].as_str().unwrap();
    assert!(detail.contains("askgate_refresh"), "{detail}");
    assert!(detail.contains("refresh_token"), "{detail}");
    assert!(!detail.contains("Bearer"), "{detail}");
}

#[tokio::test]
async fn a_session_older_than_its_maximum_age_must_sign_in_again() {
    let app = spawn_with(&[("SESSION_MAX_AGE_DAYS", "30")]).await;
    let signed_in = app.login(&Person::new(40, "ada@example.com")).await;
    let access = signed_in.token();
    // Refreshed daily, the session is still within its lifetime at day 29.
    let moved = app
        .execute("UPDATE sessions SET created_at = now() - interval '29 days'")
        .await;
    assert_eq!(moved, 1);
    let day_29 = app.refresh_with_cookie(&signed_in.refresh_cookie()).await;
    assert_eq!(day_29.status, StatusCode::OK, "{}", day_29.body);

    // At day 31 its refresh token is fresh but the session is too old.
    app.execute("UPDATE sessions SET created_at = now() - interval '31 days'")
        .await;
    let day_31 = app.refresh_with_cookie(&day_29.refresh_cookie()).await;
    assert_eq!(day_31.status, StatusCode::UNAUTHORIZED, "{}", day_31.body);
    assert_eq!(day_31.body["code"], "session_expired", "{}", day_31.body);
    let detail = day_31.body["detail"].as_str().unwrap();
    assert!(detail.contains("Sign in again"), "{detail}");
    assert!(
        day_31.headers[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/problem+json")
    );
    // The session is over: its access tokens stop working too, and a new
    // sign-in starts a fresh session that refreshes.
    assert_invalid_token(&app.me(&access).await, "access token of an expired session");
    let again = app.login(&Person::new(40, "ada@example.com")).await;
    let fresh = app.refresh_with_cookie(&again.refresh_cookie()).await;
    assert_eq!(fresh.status, StatusCode::OK, "{}", fresh.body);
}

#[tokio::test]
async fn a_demoted_admin_loses_admin_at_the_next_refresh() {
    let app = spawn().await;
    let signed_in = app
        .login(&Person::new(41, "ann@example.com").with_roles(&["Admin"]))
        .await;
    assert_eq!(
        signed_in.body["user"]["role"], "admin",
        "{}",
        signed_in.body
    );
    assert_eq!(
        app.admin_probe(&signed_in.token()).await,
        StatusCode::NOT_FOUND
    );

    let demoted = app
        .execute("UPDATE users SET role = 'user' WHERE email = 'ann@example.com'")
        .await;
    assert_eq!(demoted, 1);
    let refreshed = app.refresh_with_cookie(&signed_in.refresh_cookie()).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    assert_eq!(refreshed.body["user"]["role"], "user", "{}", refreshed.body);
    assert_eq!(
        app.admin_probe(&refreshed.token()).await,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn an_address_added_to_admin_emails_is_admin_at_the_next_refresh() {
    // boss@example.com is in ADMIN_EMAILS; its stored role is not what decides.
    let app = spawn().await;
    let signed_in = app.login(&Person::new(42, "boss@example.com")).await;
    app.execute("UPDATE users SET role = 'user' WHERE email = 'boss@example.com'")
        .await;
    let refreshed = app.refresh_with_cookie(&signed_in.refresh_cookie()).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    assert_eq!(
        refreshed.body["user"]["role"], "admin",
        "{}",
        refreshed.body
    );
    assert_eq!(
        app.admin_probe(&refreshed.token()).await,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn refresh_with_a_body_token_answers_the_next_one_in_the_body() {
    let app = spawn().await;
    let signed_in = app.login(&Person::new(13, "ada@example.com")).await;
    let refreshed = app
        .post(
            "/api/auth/refresh",
            None,
            &json!({ "refresh_token": signed_in.refresh_cookie() }),
        )
        .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    let next = refreshed.body["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(Some(next.clone()), refreshed.cookie("askgate_refresh"));
    let again = app
        .post("/api/auth/refresh", None, &json!({ "refresh_token": next }))
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
}

#[tokio::test]
async fn refresh_with_the_cookie_and_an_empty_object_or_null_token_uses_the_cookie() {
    let app = spawn().await;
    let mut refresh = app
        .login(&Person::new(15, "ada@example.com"))
        .await
        .refresh_cookie();
    for body in [json!({}), json!({ "refresh_token": null })] {
        let refreshed = app
            .send(
                app.client
                    .post(format!("{}/api/auth/refresh", app.base))
                    .header("Cookie", format!("askgate_refresh={refresh}"))
                    .json(&body),
            )
            .await;
        assert_eq!(
            refreshed.status,
            StatusCode::OK,
            "{body}: {}",
            refreshed.body
        );
        assert!(refreshed.body.get("refresh_token").is_none());
        let next = refreshed.refresh_cookie();
        assert_ne!(next, refresh);
        refresh = next;
    }
    // Without a cookie, `{}` is still no refresh token at all.
    let none = app.post("/api/auth/refresh", None, &json!({})).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn reusing_a_rotated_refresh_token_revokes_the_whole_session() {
    let app = spawn().await;
    let signed_in = app.login(&Person::new(14, "ada@example.com")).await;
    let stolen = signed_in.refresh_cookie();
    let legit = app.refresh_with_cookie(&stolen).await;
    assert_eq!(legit.status, StatusCode::OK);

    let reuse = app.refresh_with_cookie(&stolen).await;
    assert_invalid_token(&reuse, "reused refresh token");

    // The newest refresh token and the session's access tokens are dead too.
    let newest = app.refresh_with_cookie(&legit.refresh_cookie()).await;
    assert_invalid_token(&newest, "newest refresh token of a revoked session");
    assert_invalid_token(
        &app.me(&legit.token()).await,
        "access token of a revoked session",
    );
    assert_invalid_token(&app.me(&signed_in.token()).await, "first access token");
    // Another session of the same user is untouched.
    let other = app.login(&Person::new(14, "ada@example.com")).await;
    assert_eq!(app.me(&other.token()).await.status, StatusCode::OK);
}

#[tokio::test]
async fn logout_ends_the_session_here_at_once_and_elsewhere_within_five_seconds() {
    let app = spawn().await;
    let other_instance = app.second_instance().await;
    let signed_in = app.login(&Person::new(15, "ada@example.com")).await;
    let token = signed_in.token();
    // The other instance has seen the session active (and may remember it).
    assert_eq!(
        app.me_at(&other_instance, &token).await.status,
        StatusCode::OK
    );

    let out = app.logout(&token).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert_eq!(out.cookie("askgate_refresh").as_deref(), Some(""));
    assert!(
        out.set_cookie("askgate_refresh")
            .unwrap()
            .contains("Max-Age=0")
    );

    assert_invalid_token(&app.me(&token).await, "access token after logout");
    assert_invalid_token(
        &app.refresh_with_cookie(&signed_in.refresh_cookie()).await,
        "refresh token after logout",
    );
    let logged_out = Instant::now();
    loop {
        let answer = app.me_at(&other_instance, &token).await;
        if answer.status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(
            logged_out.elapsed() < Duration::from_millis(5_500),
            "the other instance still accepts the token after {:?}",
            logged_out.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn dev_login_starts_a_real_session() {
    let app = spawn().await;
    let signed_in = app
        .post(
            "/api/auth/dev-login",
            None,
            &json!({ "email": "dev@example.com" }),
        )
        .await;
    assert_eq!(signed_in.status, StatusCode::OK);
    let refreshed = app.refresh_with_cookie(&signed_in.refresh_cookie()).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    assert_eq!(
        app.logout(&refreshed.token()).await.status,
        StatusCode::NO_CONTENT
    );
    assert_invalid_token(
        &app.me(&signed_in.token()).await,
        "dev session after logout",
    );
}

// ---- Azure AD bearer tokens ------------------------------------------------------------------

#[tokio::test]
async fn an_entra_id_token_is_refused_as_an_api_bearer_token() {
    let app = spawn().await;
    let ann = Person::new(43, "ann@example.com").with_roles(&["Admin"]);
    // Signed by the tenant for askgate's client id, with an app role and a
    // version: an ID token all the same (no client named, no scopes).
    let id_token = PUBLISHED.sign(&id_token_claims(&app.idp().issuer(), &ann, None));
    assert_invalid_token(&app.me(&id_token).await, "an ID token as bearer");
    assert_eq!(app.user_count().await, 0);
    // The access token of the same person works.
    let access = PUBLISHED.sign(&access_token_claims(&app.idp().issuer(), &ann));
    assert_eq!(app.me(&access).await.status, StatusCode::OK);
}

#[tokio::test]
async fn azure_access_tokens_are_accepted_and_the_user_is_created_by_oid() {
    let app = spawn().await;
    let ada = Person::new(16, "ada@example.com");
    let token = PUBLISHED.sign(&access_token_claims(&app.idp().issuer(), &ada));

    let me = app.me(&token).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.body["email"], "ada@example.com");
    assert_eq!(me.body["tokens"], 0);
    assert_eq!(app.me(&token).await.body["id"], me.body["id"]);
    // A later browser sign-in of the same person finds the same user.
    let browser = app.login(&ada).await;
    assert_eq!(browser.body["user"]["id"], me.body["id"]);
    assert_eq!(app.user_count().await, 1);
    // Logging out with an access token has no session to end, and is harmless.
    assert_eq!(app.logout(&token).await.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn forged_or_misissued_tokens_are_401_and_create_no_user() {
    let app = spawn().await;
    let issuer = app.idp().issuer();
    let mallory = Person::new(17, "mallory@example.com");
    let good = access_token_claims(&issuer, &mallory);
    let now = now();

    let alg_none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD
            .encode(json!({ "alg": "none", "typ": "JWT", "kid": PUBLISHED.kid }).to_string()),
        URL_SAFE_NO_PAD.encode(good.to_string())
    );
    let hs256_with_public_key = {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(PUBLISHED.kid.clone());
        jsonwebtoken::encode(
            &header,
            &good,
            &EncodingKey::from_secret(PUBLISHED.public_pem.as_bytes()),
        )
        .unwrap()
    };
    let tampered = {
        let original = PUBLISHED.sign(&good);
        let parts: Vec<&str> = original.split('.').collect();
        let forged = with(good.clone(), "roles", json!(["Admin"]));
        format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(forged.to_string()),
            parts[2]
        )
    };
    let session_of_another_secret = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({
            "sub": uuid::Uuid::now_v7(), "role": "authenticated", "aud": "authenticated",
            "iat": now, "exp": now + 600, "sid": uuid::Uuid::now_v7(),
            "email": "mallory@example.com", "app_role": "admin",
        }),
        &EncodingKey::from_secret(b"another-secret-another-secret-another"),
    )
    .unwrap();
    let session_never_started = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({
            "sub": uuid::Uuid::now_v7(), "role": "authenticated", "aud": "authenticated",
            "iat": now, "exp": now + 600, "sid": uuid::Uuid::now_v7(),
            "email": "mallory@example.com", "app_role": "admin",
        }),
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap();

    let cases: Vec<(&str, String)> = vec![
        ("alg none", alg_none),
        (
            "HS256 signed with the RSA public key",
            hs256_with_public_key,
        ),
        (
            "wrong iss",
            PUBLISHED.sign(&with(
                good.clone(),
                "iss",
                json!(format!("https://login.microsoftonline.com/{TENANT}/v2.0")),
            )),
        ),
        (
            "wrong aud",
            PUBLISHED.sign(&with(
                good.clone(),
                "aud",
                json!("00000003-0000-0000-c000-000000000000"),
            )),
        ),
        (
            "expired",
            PUBLISHED.sign(&with(
                with(good.clone(), "exp", json!(now - 120)),
                "iat",
                json!(now - 3720),
            )),
        ),
        (
            "nbf in the future",
            PUBLISHED.sign(&with(good.clone(), "nbf", json!(now + 600))),
        ),
        ("unknown kid", STRANGER.sign(&good)),
        ("tampered payload", tampered),
        (
            "another tenant",
            PUBLISHED.sign(&with(
                good.clone(),
                "tid",
                json!("11111111-2222-3333-4444-555555555555"),
            )),
        ),
        ("session JWT of another secret", session_of_another_secret),
        (
            "session JWT of a session that never started",
            session_never_started,
        ),
        ("garbage", "not.a.jwt".to_owned()),
    ];
    for (what, token) in &cases {
        let answer = app.me(token).await;
        assert_invalid_token(&answer, what);
        let detail = answer.body["detail"].as_str().unwrap();
        assert_eq!(
            detail, "The session token is invalid or has expired. Sign in again.",
            "{what}"
        );
    }
    assert_eq!(app.user_count().await, 0);
    // The same claims, properly signed, do work: the cases failed for their flaw.
    assert_eq!(app.me(&PUBLISHED.sign(&good)).await.status, StatusCode::OK);
}

// ---- service tokens for the upstreams ------------------------------------------------------

#[tokio::test]
async fn chat_calls_reach_the_upstream_with_a_client_credentials_token() {
    let upstream = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/chat"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "response": "Paris." })))
        .mount(&upstream)
        .await;
    let app = spawn_with(&[
        ("ASKATT_API_ENDPOINT", upstream.uri().as_str()),
        ("AZURE_AD_SCOPE", "api://askatt/.default"),
    ])
    .await;
    Mock::given(method("POST"))
        .and(path(format!("/{TENANT}/oauth2/v2.0/token")))
        .and(body_string_contains("grant_type=client_credentials"))
        .and(body_string_contains("scope=api%3A%2F%2Faskatt%2F.default"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
            "access_token": "app-only-token-for-askatt",
        })))
        .with_priority(1)
        .mount(&app.idp().server)
        .await;
    let signed_in = app.login(&Person::new(18, "ada@example.com")).await;
    app.grant("ada@example.com", 2, "identity-test-grant").await;

    for _ in 0..2 {
        let answer = app
            .send(
                app.client
                    .post(format!("{}/api/askatt/chat", app.base))
                    .bearer_auth(signed_in.token())
                    .json(&json!({ "message": "Capital of France?" })),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert_eq!(answer.body["response"], "Paris.");
    }
    let asked = upstream.received_requests().await.unwrap();
    assert_eq!(asked.len(), 2);
    for request in &asked {
        assert_eq!(
            request.headers["authorization"].to_str().unwrap(),
            "Bearer app-only-token-for-askatt"
        );
    }
    // One token request served both calls: the token is cached.
    let token_requests = app
        .idp()
        .server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| String::from_utf8_lossy(&r.body).contains("grant_type=client_credentials"))
        .count();
    assert_eq!(token_requests, 1);
}

// ---- configuration and start-up -----------------------------------------------------------------

#[tokio::test]
async fn an_unreachable_authority_stops_start_up_naming_azure_ad_authority() {
    let db = TestDatabase::new().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let authority = format!("http://127.0.0.1:{closed}/{TENANT}/v2.0");
    let settings = Settings::from_pairs(&[
        ("DATABASE_URL", db.url()),
        ("BIND_ADDR", "127.0.0.1:0"),
        ("AZURE_AD_TENANT_ID", TENANT),
        ("AZURE_AD_CLIENT_ID", CLIENT_ID),
        ("AZURE_AD_AUTHORITY", authority.as_str()),
    ])
    .unwrap();
    let Err(err) = Application::build(settings).await else {
        panic!("start-up should fail");
    };
    assert!(matches!(err, StartupError::AzureAd(_)), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("AZURE_AD_AUTHORITY"), "{message}");
    assert!(!message.contains('\n'), "{message}");
}

#[test]
fn azure_ad_settings_have_working_defaults_and_refuse_half_a_configuration() {
    let s = Settings::from_pairs(&[]).unwrap();
    assert!(s.azure_ad.app.is_none());
    assert_eq!(s.azure_ad.admin_role, "Admin");
    assert_eq!(s.auth.refresh_ttl, Duration::from_secs(14 * 86_400));
    assert_eq!(s.auth.session_max_age, Duration::from_secs(30 * 86_400));
    let err = Settings::from_pairs(&[("SESSION_MAX_AGE_DAYS", "0")]).unwrap_err();
    assert!(err.to_string().contains("SESSION_MAX_AGE_DAYS"), "{err}");

    let s = Settings::from_pairs(&[
        ("AZURE_AD_TENANT_ID", TENANT),
        ("AZURE_AD_CLIENT_ID", CLIENT_ID),
        ("PUBLIC_BASE_URL", "https://askgate.example.com/"),
        ("REFRESH_TTL_DAYS", "30"),
    ])
    .unwrap();
    let app = s.azure_ad.app.as_ref().unwrap();
    assert_eq!(
        app.authority.as_str(),
        format!("https://login.microsoftonline.com/{TENANT}/v2.0")
    );
    assert_eq!(
        app.redirect_uri.as_str(),
        "https://askgate.example.com/api/auth/callback"
    );
    assert_eq!(
        app.audiences,
        [CLIENT_ID.to_owned(), format!("api://{CLIENT_ID}")]
    );
    assert!(app.client_secret.is_none());
    assert_eq!(s.auth.refresh_ttl, Duration::from_secs(30 * 86_400));

    for (pairs, variable) in [
        (vec![("AZURE_AD_TENANT_ID", TENANT)], "AZURE_AD_CLIENT_ID"),
        (
            vec![("AZURE_AD_CLIENT_ID", CLIENT_ID)],
            "AZURE_AD_TENANT_ID",
        ),
        (
            vec![
                ("AZURE_AD_TENANT_ID", "../common"),
                ("AZURE_AD_CLIENT_ID", CLIENT_ID),
            ],
            "AZURE_AD_TENANT_ID",
        ),
        (
            vec![
                ("AZURE_AD_TENANT_ID", TENANT),
                ("AZURE_AD_CLIENT_ID", CLIENT_ID),
                ("AZURE_AD_AUTHORITY", "login.microsoftonline.com"),
            ],
            "AZURE_AD_AUTHORITY",
        ),
        (
            vec![
                ("AZURE_AD_TENANT_ID", TENANT),
                ("AZURE_AD_CLIENT_ID", CLIENT_ID),
                ("AZURE_AD_REDIRECT_URI", "/api/auth/callback"),
            ],
            "AZURE_AD_REDIRECT_URI",
        ),
        (vec![("REFRESH_TTL_DAYS", "0")], "REFRESH_TTL_DAYS"),
    ] {
        let err = Settings::from_pairs(&pairs).unwrap_err();
        assert_eq!(err.variable, variable, "{err}");
    }
}

#[test]
fn cookies_are_secure_except_for_plain_http_on_this_machine_in_development() {
    let secure = |pairs: &[(&str, &str)]| Settings::from_pairs(pairs).unwrap().secure_cookies();
    assert!(!secure(&[]));
    assert!(!secure(&[("PUBLIC_BASE_URL", "http://localhost:8080")]));
    assert!(secure(&[(
        "PUBLIC_BASE_URL",
        "https://askgate.example.com"
    )]));
    assert!(secure(&[(
        "PUBLIC_BASE_URL",
        "http://askgate.internal:8080"
    )]));
    assert!(secure(&[
        ("APP_ENV", "production"),
        ("JWT_SECRET", JWT_SECRET),
        ("PUBLIC_BASE_URL", "http://127.0.0.1:8080"),
    ]));
}

#[tokio::test]
async fn settings_debug_never_shows_the_client_secret() {
    let idp = Idp::start().await;
    let db = TestDatabase::new().await;
    let shown = format!("{:?}", settings(&idp, &db, &[]));
    assert!(!shown.contains(CLIENT_SECRET));
}
