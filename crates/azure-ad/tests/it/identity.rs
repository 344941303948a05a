//! Sign-in and bearer-token validation against an identity provider played by wiremock.

use crate::support::*;
use askgate_azure_ad::{AzureAd, AzureAdError};
use askgate_domain::Email;
use askgate_domain::ports::{IdentityError, IdentityProvider};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

// ---- discovery -------------------------------------------------------------------

#[tokio::test]
async fn discovery_fails_naming_the_issuer_when_the_provider_is_down() {
    let idp = Idp::start().await;
    let mut config = idp.config();
    config.authority = format!("{}/another-tenant/v2.0", idp.server.uri())
        .parse()
        .unwrap();
    let err = AzureAd::discover(config).await.unwrap_err();
    assert!(matches!(err, AzureAdError::Discovery { .. }), "{err:?}");
    assert!(err.to_string().contains("another-tenant"), "{err}");
}

#[tokio::test]
async fn discovery_refuses_a_leeway_above_sixty_seconds() {
    let idp = Idp::start().await;
    let mut config = idp.config();
    config.leeway = std::time::Duration::from_secs(61);
    let err = AzureAd::discover(config).await.unwrap_err();
    assert!(matches!(err, AzureAdError::Config(_)), "{err:?}");
}

// ---- sign-in -----------------------------------------------------------------------

#[tokio::test]
async fn start_sign_in_builds_an_authorize_url_with_pkce_state_and_nonce() {
    let idp = Idp::start().await;
    let azure = idp.discover().await;
    let start = azure.start_sign_in(REDIRECT_URI).await.unwrap();

    let url = url::Url::parse(&start.url).unwrap();
    assert_eq!(url.path(), format!("/{TENANT}/oauth2/v2.0/authorize"));
    let query: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["client_id"], CLIENT_ID);
    assert_eq!(query["redirect_uri"], REDIRECT_URI);
    assert_eq!(query["state"], start.state);
    assert_eq!(query["nonce"], start.nonce);
    assert_eq!(query["code_challenge_method"], "S256");
    let mut scopes: Vec<&str> = query["scope"].split(' ').collect();
    scopes.sort_unstable();
    assert_eq!(scopes, ["email", "offline_access", "openid", "profile"]);
    // The challenge is the S256 hash of the verifier handed back to the caller.
    assert!(start.pkce_verifier.len() >= 43);
    assert!(!query["code_challenge"].is_empty());
    assert_ne!(query["code_challenge"], start.pkce_verifier);

    let again = azure.start_sign_in(REDIRECT_URI).await.unwrap();
    assert_ne!(again.state, start.state);
    assert_ne!(again.nonce, start.nonce);
    assert_ne!(again.pkce_verifier, start.pkce_verifier);
}

#[tokio::test]
async fn code_exchange_returns_the_identity_from_the_id_token() {
    let idp = Idp::start().await;
    let azure = idp.discover().await;
    let id_token = PUBLISHED.sign(&id_token_claims(&idp.issuer()));

    let identity = idp.sign_in_with(&azure, &id_token).await.unwrap();

    assert_eq!(identity.subject, "00000000-0000-0000-66f3-3332eca7ea81");
    assert_eq!(identity.tenant.as_deref(), Some(TENANT));
    assert_eq!(
        identity.email,
        Some(Email::parse("ada@example.com").unwrap())
    );
    assert_eq!(identity.display_name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(identity.roles, ["Admin", "Reader"]);
    assert_eq!(identity.groups, ["5e0c1f4a-7d1b-4c5e-9a0f-2b3c4d5e6f70"]);
}

#[tokio::test]
async fn code_exchange_sends_code_pkce_verifier_redirect_uri_and_client_credentials() {
    let idp = Idp::start().await;
    let azure = idp.discover().await;
    let id_token = PUBLISHED.sign(&id_token_claims(&idp.issuer()));
    idp.sign_in_with(&azure, &id_token).await.unwrap();

    let requests = idp
        .requests_to(&format!("/{TENANT}/oauth2/v2.0/token"))
        .await;
    assert_eq!(requests.len(), 1);
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(&requests[0].body)
            .into_owned()
            .collect();
    let sent = exchange(NONCE);
    assert_eq!(form["grant_type"], "authorization_code");
    assert_eq!(form["code"], sent.code);
    assert_eq!(form["code_verifier"], sent.pkce_verifier);
    assert_eq!(form["redirect_uri"], REDIRECT_URI);
    assert_eq!(form["client_id"], CLIENT_ID);
    assert_eq!(form["client_secret"], CLIENT_SECRET);
}

#[tokio::test]
async fn email_falls_back_to_preferred_username() {
    let idp = Idp::start().await;
    let azure = idp.discover().await;
    let mut claims = id_token_claims(&idp.issuer());
    claims.as_object_mut().unwrap().remove("email");
    let identity = idp
        .sign_in_with(&azure, &PUBLISHED.sign(&claims))
        .await
        .unwrap();
    assert_eq!(
        identity.email,
        Some(Email::parse("ada@contoso.onmicrosoft.com").unwrap())
    );
}

#[tokio::test]
async fn subject_falls_back_to_sub_without_oid() {
    let idp = Idp::start().await;
    let azure = idp.discover().await;
    let mut claims = id_token_claims(&idp.issuer());
    claims.as_object_mut().unwrap().remove("oid");
    let identity = idp
        .sign_in_with(&azure, &PUBLISHED.sign(&claims))
        .await
        .unwrap();
    assert_eq!(identity.subject, claims["sub"].as_str().unwrap());
}

#[tokio::test]
async fn an_id_token_without_a_nonce_is_invalid() {
    let idp = Idp::start().await;
    let azure = idp.discover().await;
    let mut claims = id_token_claims(&idp.issuer());
    claims.as_object_mut().unwrap().remove("nonce");
    assert_invalid(idp.sign_in_with(&azure, &PUBLISHED.sign(&claims)).await);
}

#[tokio::test]
async fn id_token_with_the_wrong_nonce_is_invalid() {
    let idp = Idp::start().await;
    let azure = idp.discover().await;
    let claims = with(id_token_claims(&idp.issuer()), "nonce", json!("replayed"));
    assert_invalid(idp.sign_in_with(&azure, &PUBLISHED.sign(&claims)).await);
}

#[tokio::test]
async fn id_token_without_a_nonce_is_invalid_when_one_was_sent() {
    let idp = Idp::start().await;
    let azure = idp.discover().await;
    let mut claims = id_token_claims(&idp.issuer());
    claims.as_object_mut().unwrap().remove("nonce");
    assert_invalid(idp.sign_in_with(&azure, &PUBLISHED.sign(&claims)).await);
}

#[tokio::test]
async fn an_authorization_code_used_twice_is_invalid() {
    let idp = Idp::start().await;
    let azure = idp.discover().await;
    let id_token = PUBLISHED.sign(&id_token_claims(&idp.issuer()));
    Mock::given(method("POST"))
        .and(path(format!("/{TENANT}/oauth2/v2.0/token")))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_response(&id_token)))
        .up_to_n_times(1)
        .mount(&idp.server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/{TENANT}/oauth2/v2.0/token")))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_grant",
            "error_description": "AADSTS54005: OAuth2 Authorization code was already redeemed.",
            "error_codes": [54005],
        })))
        .mount(&idp.server)
        .await;

    azure.complete_sign_in(&exchange(NONCE)).await.unwrap();
    let second = azure.complete_sign_in(&exchange(NONCE)).await;
    match second {
        Err(IdentityError::Invalid(reason)) => {
            assert!(reason.contains("invalid_grant"), "{reason}")
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[tokio::test]
async fn token_endpoint_unreachable_is_unavailable_not_invalid() {
    let idp = Idp::start_with_token_endpoint(Some(closed_port_url())).await;
    let azure = idp.discover().await;
    let result = azure.complete_sign_in(&exchange(NONCE)).await;
    assert!(
        matches!(result, Err(IdentityError::Unavailable(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn token_endpoint_failing_with_a_server_error_is_unavailable() {
    let idp = Idp::start().await;
    let azure = idp.discover().await;
    Mock::given(method("POST"))
        .and(path(format!("/{TENANT}/oauth2/v2.0/token")))
        .respond_with(ResponseTemplate::new(503).set_body_string("<html>try later</html>"))
        .mount(&idp.server)
        .await;
    let result = azure.complete_sign_in(&exchange(NONCE)).await;
    assert!(
        matches!(result, Err(IdentityError::Unavailable(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn token_response_without_an_id_token_is_invalid() {
    let idp = Idp::start().await;
    let azure = idp.discover().await;
    let mut response = token_response("x");
    response.as_object_mut().unwrap().remove("id_token");
    Mock::given(method("POST"))
        .and(path(format!("/{TENANT}/oauth2/v2.0/token")))
        .respond_with(ResponseTemplate::new(200).set_body_json(response))
        .mount(&idp.server)
        .await;
    assert_invalid(azure.complete_sign_in(&exchange(NONCE)).await);
}

// ---- bearer access tokens ----------------------------------------------------------

#[tokio::test]
async fn bearer_token_for_the_app_id_uri_is_accepted() {
    let idp = Idp::start().await;
    let azure = idp.discover().await;
    let token = PUBLISHED.sign(&access_token_claims(&idp.issuer()));
    let identity = azure.verify_access_token(&token).await.unwrap();
    assert_eq!(identity.subject, "00000000-0000-0000-66f3-3332eca7ea81");
    assert_eq!(identity.tenant.as_deref(), Some(TENANT));
    assert_eq!(
        identity.email,
        Some(Email::parse("ada@contoso.onmicrosoft.com").unwrap())
    );
    assert_eq!(identity.roles, ["Reader"]);
    assert_eq!(identity.groups, ["5e0c1f4a-7d1b-4c5e-9a0f-2b3c4d5e6f70"]);
}

#[tokio::test]
async fn bearer_token_for_the_client_id_is_accepted() {
    let idp = Idp::start().await;
    let azure = idp.discover().await;
    let claims = with(access_token_claims(&idp.issuer()), "aud", json!(CLIENT_ID));
    azure
        .verify_access_token(&PUBLISHED.sign(&claims))
        .await
        .unwrap();
}

#[tokio::test]
async fn bearer_token_expired_within_the_leeway_is_accepted() {
    let idp = Idp::start().await;
    let azure = idp.discover().await;
    let claims = with(access_token_claims(&idp.issuer()), "exp", json!(now() - 10));
    azure
        .verify_access_token(&PUBLISHED.sign(&claims))
        .await
        .unwrap();
}

#[tokio::test]
async fn bearer_token_without_oid_is_invalid() {
    let idp = Idp::start().await;
    let azure = idp.discover().await;
    let mut claims = access_token_claims(&idp.issuer());
    claims.as_object_mut().unwrap().remove("oid");
    assert_invalid(azure.verify_access_token(&PUBLISHED.sign(&claims)).await);
}

#[tokio::test]
async fn a_microsoft_graph_token_is_invalid() {
    let idp = Idp::start().await;
    let azure = idp.discover().await;
    let claims = with(
        access_token_claims(&idp.issuer()),
        "aud",
        json!("00000003-0000-0000-c000-000000000000"),
    );
    assert_invalid(azure.verify_access_token(&PUBLISHED.sign(&claims)).await);
}

#[tokio::test]
async fn an_id_token_is_not_an_access_token() {
    let idp = Idp::start().await;
    let azure = idp.discover().await;
    // Signed by the tenant, for askgate's client id, with app roles: still an ID token.
    let id_token = PUBLISHED.sign(&id_token_claims(&idp.issuer()));
    assert_invalid(azure.verify_access_token(&id_token).await);
    // The same token still signs in where an ID token belongs.
    idp.sign_in_with(&azure, &id_token).await.unwrap();
}

#[tokio::test]
async fn a_bearer_token_without_scopes_roles_version_or_client_is_invalid() {
    let idp = Idp::start().await;
    let azure = idp.discover().await;
    let mut no_grant = access_token_claims(&idp.issuer());
    no_grant.as_object_mut().unwrap().remove("scp");
    no_grant["roles"] = json!([]);
    assert_invalid(azure.verify_access_token(&PUBLISHED.sign(&no_grant)).await);

    let mut no_version = access_token_claims(&idp.issuer());
    no_version.as_object_mut().unwrap().remove("ver");
    assert_invalid(
        azure
            .verify_access_token(&PUBLISHED.sign(&no_version))
            .await,
    );

    let mut no_client = access_token_claims(&idp.issuer());
    no_client.as_object_mut().unwrap().remove("azp");
    assert_invalid(azure.verify_access_token(&PUBLISHED.sign(&no_client)).await);

    // App roles alone (an application calling with its own identity) are enough.
    let mut app_only = access_token_claims(&idp.issuer());
    app_only.as_object_mut().unwrap().remove("scp");
    azure
        .verify_access_token(&PUBLISHED.sign(&app_only))
        .await
        .unwrap();
    // So is a v1 token naming its client as appid.
    let mut v1 = access_token_claims(&idp.issuer());
    v1.as_object_mut().unwrap().remove("azp");
    v1["appid"] = json!("9b1e2c3d-client-of-askgate");
    v1["ver"] = json!("1.0");
    azure
        .verify_access_token(&PUBLISHED.sign(&v1))
        .await
        .unwrap();
}

// ---- attack battery: every forged token is refused, as bearer and as ID token -------

#[tokio::test]
async fn alg_none_is_invalid() {
    let idp = Idp::start().await;
    let azure = idp.discover().await;
    assert_invalid(
        azure
            .verify_access_token(&unsigned(&access_token_claims(&idp.issuer())))
            .await,
    );
    assert_invalid(
        idp.sign_in_with(&azure, &unsigned(&id_token_claims(&idp.issuer())))
            .await,
    );
}

#[tokio::test]
async fn hs256_signed_with_the_public_key_is_invalid() {
    let idp = Idp::start().await;
    let azure = idp.discover().await;
    assert_invalid(
        azure
            .verify_access_token(&hmac_with_public_key(&access_token_claims(&idp.issuer())))
            .await,
    );
    assert_invalid(
        idp.sign_in_with(
            &azure,
            &hmac_with_public_key(&id_token_claims(&idp.issuer())),
        )
        .await,
    );
}

#[tokio::test]
async fn wrong_issuer_is_invalid() {
    let idp = Idp::start().await;
    let azure = idp.discover().await;
    let other = "https://login.microsoftonline.com/another-tenant/v2.0";
    assert_invalid(
        azure
            .verify_access_token(&PUBLISHED.sign(&access_token_claims(other)))
            .await,
    );
    assert_invalid(
        idp.sign_in_with(&azure, &PUBLISHED.sign(&id_token_claims(other)))
            .await,
    );
}

#[tokio::test]
async fn wrong_audience_is_invalid() {
    let idp = Idp::start().await;
    let azure = idp.discover().await;
    let access = with(
        access_token_claims(&idp.issuer()),
        "aud",
        json!("api://someone-else"),
    );
    assert_invalid(azure.verify_access_token(&PUBLISHED.sign(&access)).await);
    // An ID token for another app, even one that also names askgate's API.
    let id = with(
        id_token_claims(&idp.issuer()),
        "aud",
        json!("another-client"),
    );
    assert_invalid(idp.sign_in_with(&azure, &PUBLISHED.sign(&id)).await);
    let shared = with(
        id_token_claims(&idp.issuer()),
        "aud",
        json!([CLIENT_ID, "another-client"]),
    );
    assert_invalid(idp.sign_in_with(&azure, &PUBLISHED.sign(&shared)).await);
}

#[tokio::test]
async fn expired_beyond_the_leeway_is_invalid() {
    let idp = Idp::start().await;
    let azure = idp.discover().await;
    let exp = json!(now() - 120);
    let access = with(access_token_claims(&idp.issuer()), "exp", exp.clone());
    assert_invalid(azure.verify_access_token(&PUBLISHED.sign(&access)).await);
    let id = with(id_token_claims(&idp.issuer()), "exp", exp);
    assert_invalid(idp.sign_in_with(&azure, &PUBLISHED.sign(&id)).await);
}

#[tokio::test]
async fn not_before_in_the_future_is_invalid() {
    let idp = Idp::start().await;
    let azure = idp.discover().await;
    let nbf = json!(now() + 600);
    let access = with(access_token_claims(&idp.issuer()), "nbf", nbf.clone());
    assert_invalid(azure.verify_access_token(&PUBLISHED.sign(&access)).await);
    let id = with(id_token_claims(&idp.issuer()), "nbf", nbf);
    assert_invalid(idp.sign_in_with(&azure, &PUBLISHED.sign(&id)).await);
}

#[tokio::test]
async fn unknown_key_id_is_invalid_after_one_jwks_refetch() {
    let idp = Idp::start().await;
    let azure = idp.discover().await;
    assert_eq!(idp.jwks_requests().await, 1);

    let token = STRANGER.sign(&access_token_claims(&idp.issuer()));
    assert_invalid(azure.verify_access_token(&token).await);
    assert_eq!(
        idp.jwks_requests().await,
        2,
        "one refetch for the unknown kid"
    );

    let id_token = STRANGER.sign(&id_token_claims(&idp.issuer()));
    assert_invalid(idp.sign_in_with(&azure, &id_token).await);
    assert_eq!(
        idp.jwks_requests().await,
        2,
        "no second refetch within a minute"
    );
}

#[tokio::test]
async fn a_stranger_key_under_the_published_kid_is_invalid() {
    let idp = Idp::start().await;
    let azure = idp.discover().await;
    let token = STRANGER.sign_as(&PUBLISHED.kid, &access_token_claims(&idp.issuer()));
    assert_invalid(azure.verify_access_token(&token).await);
    let id_token = STRANGER.sign_as(&PUBLISHED.kid, &id_token_claims(&idp.issuer()));
    assert_invalid(idp.sign_in_with(&azure, &id_token).await);
}

#[tokio::test]
async fn tampered_payload_with_the_original_signature_is_invalid() {
    let idp = Idp::start().await;
    let azure = idp.discover().await;
    let access = access_token_claims(&idp.issuer());
    let escalated = with(access.clone(), "roles", json!(["Admin"]));
    assert_invalid(
        azure
            .verify_access_token(&tampered(&access, &escalated))
            .await,
    );

    let id = id_token_claims(&idp.issuer());
    let impersonated = with(id.clone(), "oid", json!("someone-else"));
    assert_invalid(
        idp.sign_in_with(&azure, &tampered(&id, &impersonated))
            .await,
    );
}

#[tokio::test]
async fn wrong_tenant_is_invalid() {
    let idp = Idp::start().await;
    let azure = idp.discover().await;
    let tid = json!("72f988bf-86f1-41af-91ab-2d7cd011db47");
    let access = with(access_token_claims(&idp.issuer()), "tid", tid.clone());
    assert_invalid(azure.verify_access_token(&PUBLISHED.sign(&access)).await);
    let id = with(id_token_claims(&idp.issuer()), "tid", tid);
    assert_invalid(idp.sign_in_with(&azure, &PUBLISHED.sign(&id)).await);
}

#[tokio::test]
async fn garbage_bearer_token_is_invalid() {
    let idp = Idp::start().await;
    let azure = idp.discover().await;
    for token in ["", "not-a-jwt", "a.b.c", "eyJhbGciOiJSUzI1NiJ9..."] {
        assert_invalid(azure.verify_access_token(token).await);
    }
}

#[tokio::test]
async fn rejection_reasons_never_echo_the_token() {
    let idp = Idp::start().await;
    let azure = idp.discover().await;
    let token = STRANGER.sign(&access_token_claims(&idp.issuer()));
    let err = azure.verify_access_token(&token).await.unwrap_err();
    let signature = token.rsplit('.').next().unwrap();
    assert!(!format!("{err:?}").contains(signature));
    assert!(!err.to_string().contains(signature));
}

// ---- key rotation ------------------------------------------------------------------

#[tokio::test]
async fn a_token_signed_with_a_rotated_key_is_accepted_after_one_refetch() {
    let idp = Idp::start().await;
    let azure = idp.discover().await;
    assert_eq!(idp.jwks_requests().await, 1);

    idp.publish(&[&PUBLISHED, &ROTATED]);
    let token = ROTATED.sign(&access_token_claims(&idp.issuer()));
    azure.verify_access_token(&token).await.unwrap();
    assert_eq!(idp.jwks_requests().await, 2);

    // Known keys are served from the cache: no further requests.
    azure.verify_access_token(&token).await.unwrap();
    let id_token = ROTATED.sign(&id_token_claims(&idp.issuer()));
    idp.sign_in_with(&azure, &id_token).await.unwrap();
    azure
        .verify_access_token(&PUBLISHED.sign(&access_token_claims(&idp.issuer())))
        .await
        .unwrap();
    assert_eq!(idp.jwks_requests().await, 2);
}

#[tokio::test]
async fn jwks_refetch_is_rate_limited_to_once_a_minute() {
    let idp = Idp::start().await;
    let azure = idp.discover().await;

    let stranger = STRANGER.sign(&access_token_claims(&idp.issuer()));
    let burst = (0..20).map(|_| azure.verify_access_token(&stranger));
    for result in futures::future::join_all(burst).await {
        assert_invalid(result);
    }
    assert_eq!(
        idp.jwks_requests().await,
        2,
        "one refetch for the whole burst"
    );

    // A key published after that refetch is not picked up until the minute is over.
    idp.publish(&[&PUBLISHED, &ROTATED]);
    let rotated = ROTATED.sign(&access_token_claims(&idp.issuer()));
    assert_invalid(azure.verify_access_token(&rotated).await);
    assert_eq!(idp.jwks_requests().await, 2);
}

#[tokio::test]
async fn a_withdrawn_key_is_no_longer_trusted_after_a_refetch() {
    let idp = Idp::start().await;
    let azure = idp.discover().await;
    idp.publish(&[&ROTATED]);
    azure
        .verify_access_token(&ROTATED.sign(&access_token_claims(&idp.issuer())))
        .await
        .unwrap();
    assert_invalid(
        azure
            .verify_access_token(&PUBLISHED.sign(&access_token_claims(&idp.issuer())))
            .await,
    );
}

// ---- client credentials from discovery ---------------------------------------------

#[tokio::test]
async fn client_credentials_use_the_discovered_token_endpoint_when_a_secret_is_set() {
    use askgate_domain::ports::ServiceTokenProvider;

    let idp = Idp::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/{TENANT}/oauth2/v2.0/token")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "token_type": "Bearer", "expires_in": 3599, "access_token": "app-token",
        })))
        .expect(1)
        .mount(&idp.server)
        .await;
    let azure = idp.discover().await;
    let credentials = azure.client_credentials().expect("a secret is configured");
    let token = credentials.token("api://askatt/.default").await.unwrap();
    assert_eq!(token.expose(), "app-token");

    let mut public = idp.config();
    public.client_secret = None;
    let azure = AzureAd::discover(public).await.unwrap();
    assert!(azure.client_credentials().is_none());
}
