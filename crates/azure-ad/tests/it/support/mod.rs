//! An identity provider played by wiremock: discovery, a JWKS that can rotate, and a
//! token endpoint answering with ID tokens signed by the committed test keys.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use askgate_azure_ad::{AzureAd, AzureAdConfig};
use askgate_domain::ports::{CodeExchange, ExternalIdentity, IdentityError, IdentityProvider};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const TENANT: &str = "6f1c2b9e-0d7a-4c55-9a3e-7b1d4c2e8f10";
pub const CLIENT_ID: &str = "3c9e1f4a-5b2d-4e8f-a1c7-0d6b9e2f4a13";
pub const APP_ID_URI: &str = "api://askgate";
pub const CLIENT_SECRET: &str = "s3cr3t~value.that-must-not-leak";
pub const NONCE: &str = "nonce-from-the-authorize-request";
pub const REDIRECT_URI: &str = "https://askgate.example.com/api/auth/callback";

pub use askgate_azure_ad::testing::{PUBLISHED, ROTATED, STRANGER, TestKey};

/// An address nothing listens on.
pub fn closed_port_url() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}/token")
}

pub fn now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

/// Answers with whatever key set the test currently publishes.
struct Jwks(Arc<Mutex<Value>>);

impl Respond for Jwks {
    fn respond(&self, _request: &Request) -> ResponseTemplate {
        ResponseTemplate::new(200).set_body_json(self.0.lock().unwrap().clone())
    }
}

pub struct Idp {
    pub server: MockServer,
    jwks: Arc<Mutex<Value>>,
}

impl Idp {
    /// A provider publishing [`PUBLISHED`].
    pub async fn start() -> Self {
        Self::start_with_token_endpoint(None).await
    }

    /// A provider whose discovery document names another token endpoint.
    pub async fn start_with_token_endpoint(token_endpoint: Option<String>) -> Self {
        let server = MockServer::start().await;
        let jwks = Arc::new(Mutex::new(json!({ "keys": [PUBLISHED.jwk.clone()] })));
        let idp = Self { server, jwks };
        let discovery = json!({
            "issuer": idp.issuer(),
            "authorization_endpoint": format!("{}/{TENANT}/oauth2/v2.0/authorize", idp.server.uri()),
            "token_endpoint": token_endpoint.unwrap_or_else(|| idp.token_endpoint()),
            "jwks_uri": format!("{}/{TENANT}/discovery/v2.0/keys", idp.server.uri()),
            "response_types_supported": ["code", "id_token", "code id_token"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "oid", "tid", "name", "email", "preferred_username", "roles", "nonce"],
        });
        Mock::given(method("GET"))
            .and(path(format!(
                "/{TENANT}/v2.0/.well-known/openid-configuration"
            )))
            .respond_with(ResponseTemplate::new(200).set_body_json(discovery))
            .mount(&idp.server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("/{TENANT}/discovery/v2.0/keys")))
            .respond_with(Jwks(Arc::clone(&idp.jwks)))
            .mount(&idp.server)
            .await;
        idp
    }

    pub fn issuer(&self) -> String {
        format!("{}/{TENANT}/v2.0", self.server.uri())
    }

    pub fn token_endpoint(&self) -> String {
        format!("{}/{TENANT}/oauth2/v2.0/token", self.server.uri())
    }

    pub fn config(&self) -> AzureAdConfig {
        AzureAdConfig {
            authority: self.issuer().parse().unwrap(),
            tenant_id: TENANT.to_owned(),
            client_id: CLIENT_ID.to_owned(),
            client_secret: Some(SecretString::from(CLIENT_SECRET)),
            accepted_audiences: vec![CLIENT_ID.to_owned(), APP_ID_URI.to_owned()],
            admin_role: "Admin".to_owned(),
            leeway: Duration::from_secs(30),
        }
    }

    pub async fn discover(&self) -> AzureAd {
        AzureAd::discover(self.config()).await.unwrap()
    }

    /// Publishes a new key set from now on.
    pub fn publish(&self, keys: &[&TestKey]) {
        let keys: Vec<Value> = keys.iter().map(|key| key.jwk.clone()).collect();
        *self.jwks.lock().unwrap() = json!({ "keys": keys });
    }

    pub async fn jwks_requests(&self) -> usize {
        self.requests_to(&format!("/{TENANT}/discovery/v2.0/keys"))
            .await
            .len()
    }

    pub async fn requests_to(&self, request_path: &str) -> Vec<Request> {
        self.server
            .received_requests()
            .await
            .unwrap()
            .into_iter()
            .filter(|request| request.url.path() == request_path)
            .collect()
    }

    /// The token endpoint answers the next code with this ID token.
    pub async fn issue_id_token(&self, id_token: &str) {
        Mock::given(method("POST"))
            .and(path(format!("/{TENANT}/oauth2/v2.0/token")))
            .respond_with(ResponseTemplate::new(200).set_body_json(token_response(id_token)))
            .up_to_n_times(1)
            .mount(&self.server)
            .await;
    }

    /// Signs in with a code the token endpoint answers with `id_token`.
    pub async fn sign_in_with(
        &self,
        azure: &AzureAd,
        id_token: &str,
    ) -> Result<ExternalIdentity, IdentityError> {
        self.issue_id_token(id_token).await;
        azure.complete_sign_in(&exchange(NONCE)).await
    }
}

pub fn token_response(id_token: &str) -> Value {
    json!({
        "token_type": "Bearer",
        "scope": "openid profile email offline_access",
        "expires_in": 3599,
        "access_token": "opaque-access-token",
        "refresh_token": "opaque-refresh-token",
        "id_token": id_token,
    })
}

pub fn exchange(nonce: &str) -> CodeExchange {
    CodeExchange {
        code: "0.AXoA-authorization-code".to_owned(),
        pkce_verifier: "pkce-verifier-0123456789-0123456789-0123456789".to_owned(),
        redirect_uri: REDIRECT_URI.to_owned(),
        nonce: nonce.to_owned(),
    }
}

/// Claims of an ID token as Azure AD v2.0 issues them for a user of the tenant.
pub fn id_token_claims(issuer: &str) -> Value {
    let now = now();
    json!({
        "iss": issuer,
        "aud": CLIENT_ID,
        "sub": "pairwise-subject-AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
        "oid": "00000000-0000-0000-66f3-3332eca7ea81",
        "tid": TENANT,
        "iat": now - 5,
        "nbf": now - 5,
        "exp": now + 3600,
        "nonce": NONCE,
        "name": "Ada Lovelace",
        "email": "Ada@Example.com",
        "preferred_username": "ada@contoso.onmicrosoft.com",
        "roles": ["Admin", "Reader"],
        "groups": ["5e0c1f4a-7d1b-4c5e-9a0f-2b3c4d5e6f70"],
        "ver": "2.0",
    })
}

/// Claims of a v2.0 access token issued for askgate's API.
pub fn access_token_claims(issuer: &str) -> Value {
    let now = now();
    json!({
        "iss": issuer,
        "aud": APP_ID_URI,
        "azp": "9b1e2c3d-client-of-askgate",
        "sub": "pairwise-subject-for-the-api",
        "oid": "00000000-0000-0000-66f3-3332eca7ea81",
        "tid": TENANT,
        "iat": now - 5,
        "nbf": now - 5,
        "exp": now + 3600,
        "scp": "chat",
        "name": "Ada Lovelace",
        "preferred_username": "ada@contoso.onmicrosoft.com",
        "roles": ["Reader"],
        "groups": ["5e0c1f4a-7d1b-4c5e-9a0f-2b3c4d5e6f70"],
        "ver": "2.0",
    })
}

/// `alg: none`: a header and payload with an empty signature.
pub fn unsigned(claims: &Value) -> String {
    let header = json!({ "alg": "none", "typ": "JWT", "kid": PUBLISHED.kid });
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// HS256 with the provider's public key as the HMAC secret (algorithm confusion).
pub fn hmac_with_public_key(claims: &Value) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(PUBLISHED.kid.clone());
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_secret(PUBLISHED.public_pem.as_bytes()),
    )
    .unwrap()
}

/// A validly signed token whose payload is swapped for `forged`, keeping the signature.
pub fn tampered(claims: &Value, forged: &Value) -> String {
    let original = PUBLISHED.sign(claims);
    let parts: Vec<&str> = original.split('.').collect();
    format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(forged.to_string()),
        parts[2]
    )
}

pub fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

pub fn assert_invalid(result: Result<ExternalIdentity, IdentityError>) {
    match result {
        Err(IdentityError::Invalid(_)) => {}
        other => panic!("expected Invalid, got {other:?}"),
    }
}
