//! Client-credentials service tokens against a token endpoint played by wiremock.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use askgate_azure_ad::ClientCredentials;
use askgate_domain::ports::{ServiceTokenError, ServiceTokenProvider};
use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const SECRET: &str = "Qx8~cc.client-secret_value";
const ASKATT: &str = "api://askatt/.default";
const QNA: &str = "api://domain-qna/.default";

fn provider(server: &MockServer) -> ClientCredentials {
    ClientCredentials::new(
        format!("{}/tenant/oauth2/v2.0/token", server.uri())
            .parse()
            .unwrap(),
        "askgate-client".to_owned(),
        SecretString::from(SECRET),
    )
}

fn token_body(access_token: &str, expires_in: u64) -> serde_json::Value {
    json!({
        "token_type": "Bearer",
        "expires_in": expires_in,
        "ext_expires_in": expires_in,
        "access_token": access_token,
    })
}

/// Numbers every token it issues, so a test can tell fresh tokens from cached ones.
struct Issuer {
    issued: AtomicUsize,
    expires_in: u64,
    delay: Duration,
}

impl Issuer {
    fn new(expires_in: u64) -> Self {
        Self {
            issued: AtomicUsize::new(0),
            expires_in,
            delay: Duration::ZERO,
        }
    }
}

impl Respond for Issuer {
    fn respond(&self, _request: &Request) -> ResponseTemplate {
        let n = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
        ResponseTemplate::new(200)
            .set_body_json(token_body(&format!("token-{n}"), self.expires_in))
            .set_delay(self.delay)
    }
}

async fn mount(server: &MockServer, issuer: Issuer, expected: u64) {
    Mock::given(method("POST"))
        .and(path("/tenant/oauth2/v2.0/token"))
        .respond_with(issuer)
        .expect(expected)
        .mount(server)
        .await;
}

#[tokio::test]
async fn posts_the_client_credentials_grant_for_the_scope() {
    let server = MockServer::start().await;
    mount(&server, Issuer::new(3599), 1).await;

    let token = provider(&server).token(ASKATT).await.unwrap();
    assert_eq!(token.expose(), "token-1");

    let requests = server.received_requests().await.unwrap();
    let form: HashMap<String, String> = url::form_urlencoded::parse(&requests[0].body)
        .into_owned()
        .collect();
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["client_id"], "askgate-client");
    assert_eq!(form["client_secret"], SECRET);
    assert_eq!(form["scope"], ASKATT);
}

#[tokio::test]
async fn a_second_call_is_served_from_the_cache() {
    let server = MockServer::start().await;
    mount(&server, Issuer::new(3599), 1).await;
    let credentials = provider(&server);

    let first = credentials.token(ASKATT).await.unwrap();
    let second = credentials.token(ASKATT).await.unwrap();
    assert_eq!(first, second);
    // Clones share the cache.
    assert_eq!(credentials.clone().token(ASKATT).await.unwrap(), first);
}

#[tokio::test]
async fn tokens_are_cached_per_scope() {
    let server = MockServer::start().await;
    for (scope, token) in [(ASKATT, "askatt-token"), (QNA, "qna-token")] {
        Mock::given(method("POST"))
            .and(path("/tenant/oauth2/v2.0/token"))
            .and(body_string_contains(
                url::form_urlencoded::byte_serialize(scope.as_bytes()).collect::<String>(),
            ))
            .respond_with(ResponseTemplate::new(200).set_body_json(token_body(token, 3599)))
            .expect(1)
            .mount(&server)
            .await;
    }
    let credentials = provider(&server);
    for _ in 0..3 {
        assert_eq!(
            credentials.token(ASKATT).await.unwrap().expose(),
            "askatt-token"
        );
        assert_eq!(credentials.token(QNA).await.unwrap().expose(), "qna-token");
    }
}

#[tokio::test]
async fn a_token_is_refreshed_once_it_is_within_five_minutes_of_expiry() {
    let server = MockServer::start().await;
    // Valid for 5 minutes and 1 second: fresh enough for one second only.
    mount(&server, Issuer::new(301), 2).await;
    let credentials = provider(&server);

    assert_eq!(credentials.token(ASKATT).await.unwrap().expose(), "token-1");
    assert_eq!(credentials.token(ASKATT).await.unwrap().expose(), "token-1");
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(credentials.token(ASKATT).await.unwrap().expose(), "token-2");
}

#[tokio::test]
async fn a_token_that_expires_within_five_minutes_is_never_reused() {
    let server = MockServer::start().await;
    mount(&server, Issuer::new(240), 2).await;
    let credentials = provider(&server);
    assert_eq!(credentials.token(ASKATT).await.unwrap().expose(), "token-1");
    assert_eq!(credentials.token(ASKATT).await.unwrap().expose(), "token-2");
}

#[tokio::test]
async fn a_hundred_concurrent_callers_cause_one_token_request() {
    let server = MockServer::start().await;
    let mut issuer = Issuer::new(3599);
    issuer.delay = Duration::from_millis(200);
    mount(&server, issuer, 1).await;
    let credentials = Arc::new(provider(&server));

    let callers = (0..100).map(|_| {
        let credentials = Arc::clone(&credentials);
        tokio::spawn(async move { credentials.token(ASKATT).await })
    });
    for caller in futures::future::join_all(callers).await {
        assert_eq!(caller.unwrap().unwrap().expose(), "token-1");
    }
}

#[tokio::test]
async fn refused_credentials_are_rejected_with_the_oauth_code_and_never_the_secret() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/tenant/oauth2/v2.0/token"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": "invalid_client",
            "error_description": format!("AADSTS7000215: Invalid client secret provided: {SECRET}"),
            "error_codes": [7000215],
        })))
        .mount(&server)
        .await;

    let err = provider(&server).token(ASKATT).await.unwrap_err();
    match &err {
        ServiceTokenError::Rejected(reason) => {
            assert!(reason.contains("invalid_client"), "{reason}");
            assert!(reason.contains("401"), "{reason}");
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert!(!format!("{err:?}").contains(SECRET));
    assert!(!err.to_string().contains(SECRET));
}

#[tokio::test]
async fn a_refusal_is_not_cached() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/tenant/oauth2/v2.0/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_scope"})))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    mount(&server, Issuer::new(3599), 1).await;
    let credentials = provider(&server);

    assert!(matches!(
        credentials.token(ASKATT).await,
        Err(ServiceTokenError::Rejected(_))
    ));
    assert_eq!(credentials.token(ASKATT).await.unwrap().expose(), "token-1");
}

#[tokio::test]
async fn a_failing_provider_is_unreachable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/tenant/oauth2/v2.0/token"))
        .respond_with(ResponseTemplate::new(503).set_body_string("<html>busy</html>"))
        .mount(&server)
        .await;
    let err = provider(&server).token(ASKATT).await.unwrap_err();
    assert!(matches!(err, ServiceTokenError::Unreachable(_)), "{err:?}");
}

#[tokio::test]
async fn a_provider_that_cannot_be_reached_is_unreachable() {
    // A port nothing listens on (wiremock keeps dropped servers alive for reuse).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let credentials = ClientCredentials::new(
        format!("http://127.0.0.1:{port}/token").parse().unwrap(),
        "askgate-client".to_owned(),
        SecretString::from(SECRET),
    );
    let err = credentials.token(ASKATT).await.unwrap_err();
    assert!(matches!(err, ServiceTokenError::Unreachable(_)), "{err:?}");
}

#[test]
fn debug_output_never_shows_the_secret() {
    let credentials = ClientCredentials::new(
        "https://login.example.com/token".parse().unwrap(),
        "askgate-client".to_owned(),
        SecretString::from(SECRET),
    );
    assert!(!format!("{credentials:?}").contains(SECRET));
}
