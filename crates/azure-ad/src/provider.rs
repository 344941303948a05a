//! Sign-in (authorization code + PKCE) and bearer access-token validation.

use std::borrow::Cow;
use std::time::Duration;

use askgate_domain::ports::{
    AuthorizationStart, CodeExchange, ExternalIdentity, IdentityError, IdentityProvider,
};
use async_trait::async_trait;
use jsonwebtoken::{Algorithm, Validation};
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreClaimName, CoreClaimType,
    CoreClientAuthMethod, CoreErrorResponseType, CoreGenderClaim, CoreGrantType,
    CoreIdTokenVerifier, CoreJsonWebKey, CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm, CoreResponseMode, CoreResponseType,
    CoreRevocableToken, CoreRevocationErrorResponse, CoreSubjectIdentifierType,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalProviderMetadata, AuthType, AuthorizationCode, Client, ClientId, ClientSecret,
    CsrfToken, EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet,
    HttpClientError, IdToken, IdTokenFields, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier,
    ProviderMetadata, RedirectUrl, RequestTokenError, Scope, StandardErrorResponse,
    StandardTokenResponse,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::claims::{AccessTokenClaims, AzureClaims, IdentityParts};
use crate::client_credentials::ClientCredentials;
use crate::config::{AzureAdConfig, MAX_LEEWAY};
use crate::error::AzureAdError;
use crate::keys::{KeyLookup, SigningKey, SigningKeys};

/// Scopes requested at sign-in: identity, e-mail and a refresh token.
pub(crate) const SIGN_IN_SCOPES: [&str; 3] = ["profile", "email", "offline_access"];

/// The discovery document's one field beyond the standard ones askgate reads:
/// where device-code sign-in starts (RFC 8628 §4), when the provider has it.
#[derive(Debug, Clone, Deserialize, Serialize)]
struct DeviceEndpoint {
    #[serde(default)]
    device_authorization_endpoint: Option<String>,
}

impl AdditionalProviderMetadata for DeviceEndpoint {}

type AzureProviderMetadata = ProviderMetadata<
    DeviceEndpoint,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

pub(crate) type AzureIdToken = IdToken<
    AzureClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type AzureTokenResponse = StandardTokenResponse<
    IdTokenFields<
        AzureClaims,
        EmptyExtraTokenFields,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >,
    CoreTokenType,
>;
type OidcClient = Client<
    AzureClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    AzureTokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
    EndpointMaybeSet,
>;

/// askgate's view of one Azure AD tenant: sign-in and bearer-token validation.
///
/// Build it once at start-up with [`AzureAd::discover`] and share it (`Arc<dyn
/// IdentityProvider>`): it holds the signing-key cache.
pub struct AzureAd {
    client: OidcClient,
    pub(crate) http: reqwest::Client,
    keys: SigningKeys,
    issuer: IssuerUrl,
    pub(crate) token_endpoint: Url,
    /// Where device-code sign-in starts; `None` when the provider has none.
    pub(crate) device_endpoint: Option<Url>,
    tenant_id: String,
    pub(crate) client_id: String,
    pub(crate) client_secret: Option<SecretString>,
    accepted_audiences: Vec<String>,
    admin_role: String,
    leeway: Duration,
}

impl std::fmt::Debug for AzureAd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureAd")
            .field("issuer", &self.issuer.as_str())
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// A refusal, with the reason for the logs.
pub(crate) enum Rejection {
    Invalid(String),
    Unavailable(askgate_domain::BoxError),
}

impl From<Rejection> for IdentityError {
    fn from(rejection: Rejection) -> Self {
        match rejection {
            Rejection::Invalid(reason) => IdentityError::Invalid(reason),
            Rejection::Unavailable(source) => IdentityError::Unavailable(source),
        }
    }
}

pub(crate) fn invalid(reason: impl Into<String>) -> Rejection {
    Rejection::Invalid(reason.into())
}

impl AzureAd {
    /// Reads the provider's discovery document and signing keys.
    ///
    /// Fails when the configuration is unusable (leeway above 60 s, no accepted
    /// audience), when discovery or the JWKS cannot be fetched, or when the discovery
    /// document names another issuer than `config.authority`.
    #[tracing::instrument(skip_all, fields(issuer = %config.authority))]
    pub async fn discover(config: AzureAdConfig) -> Result<Self, AzureAdError> {
        if config.leeway > MAX_LEEWAY {
            return Err(AzureAdError::Config("leeway must be at most 60 seconds"));
        }
        if config.accepted_audiences.is_empty() {
            return Err(AzureAdError::Config(
                "at least one accepted audience is needed for bearer tokens",
            ));
        }
        if config.client_id.is_empty() || config.tenant_id.is_empty() {
            return Err(AzureAdError::Config("client id and tenant id must be set"));
        }
        let http = crate::http::client().map_err(AzureAdError::HttpClient)?;
        let issuer = IssuerUrl::new(config.authority.as_str().to_owned()).map_err(|err| {
            AzureAdError::Discovery {
                issuer: config.authority.to_string(),
                source: Box::new(err),
            }
        })?;
        let metadata = AzureProviderMetadata::discover_async(issuer.clone(), &http)
            .await
            .map_err(|err| AzureAdError::Discovery {
                issuer: issuer.to_string(),
                source: Box::new(err),
            })?;
        let token_endpoint =
            metadata
                .token_endpoint()
                .cloned()
                .ok_or_else(|| AzureAdError::NoTokenEndpoint {
                    issuer: issuer.to_string(),
                })?;
        let device_endpoint = metadata
            .additional_metadata()
            .device_authorization_endpoint
            .as_deref()
            .and_then(|url| Url::parse(url).ok());
        let initial_keys = metadata
            .jwks()
            .keys()
            .iter()
            .filter_map(|key| serde_json::to_value(key).ok())
            .collect();
        let keys = SigningKeys::new(
            metadata.jwks_uri().url().clone(),
            http.clone(),
            initial_keys,
        )
        .await;

        let secret = config
            .client_secret
            .as_ref()
            .map(|secret| ClientSecret::new(secret.expose_secret().to_owned()));
        let client: OidcClient = Client::from_provider_metadata(
            metadata,
            ClientId::new(config.client_id.clone()),
            secret,
        )
        .set_token_uri(token_endpoint.clone())
        // Credentials in the form body: Azure AD does not URL-decode HTTP Basic
        // credentials, so secrets with reserved characters would fail there.
        .set_auth_type(AuthType::RequestBody);

        tracing::info!("identity provider discovered");
        Ok(Self {
            client,
            http,
            keys,
            issuer,
            token_endpoint: token_endpoint.url().clone(),
            device_endpoint,
            tenant_id: config.tenant_id,
            client_id: config.client_id,
            client_secret: config.client_secret,
            accepted_audiences: config.accepted_audiences,
            admin_role: config.admin_role,
            leeway: config.leeway,
        })
    }

    /// A client-credentials token provider for the upstreams, using the discovered
    /// token endpoint; `None` when no client secret is configured. Call it once and
    /// share the result: the token cache lives in it.
    pub fn client_credentials(&self) -> Option<ClientCredentials> {
        self.client_secret.as_ref().map(|secret| {
            ClientCredentials::with_http_client(
                self.http.clone(),
                self.token_endpoint.clone(),
                self.client_id.clone(),
                secret.clone(),
            )
        })
    }

    /// The app role that makes a user an admin, as configured (the domain's admin
    /// policy decides with it; identities carry all their roles).
    pub fn admin_role(&self) -> &str {
        &self.admin_role
    }

    /// Whether the provider offers device-code sign-in (its discovery document
    /// names a `device_authorization_endpoint`).
    pub fn offers_device_sign_in(&self) -> bool {
        self.device_endpoint.is_some()
    }

    /// The issuer tokens must name, as discovered.
    pub fn issuer(&self) -> &str {
        self.issuer.as_str()
    }

    /// The signing key named by a token's header, after pinning the algorithm to RS256.
    /// Nothing about keys is looked at before the algorithm is known to be RS256.
    async fn signing_key(&self, token: &str) -> Result<std::sync::Arc<SigningKey>, Rejection> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|err| invalid(format!("unreadable token header: {err}")))?;
        if header.alg != Algorithm::RS256 {
            return Err(invalid(format!(
                "token signed with {:?}; only RS256 is accepted",
                header.alg
            )));
        }
        let kid = header
            .kid
            .ok_or_else(|| invalid("token header names no signing key (kid)"))?;
        match self.keys.get(&kid).await {
            Ok(KeyLookup::Found(key)) => Ok(key),
            Ok(KeyLookup::Unknown) => Err(invalid(format!("unknown signing key id {kid:?}"))),
            Err(err) => Err(Rejection::Unavailable(Box::new(err))),
        }
    }

    fn check_tenant(&self, tid: Option<&str>) -> Result<(), Rejection> {
        match tid {
            Some(tid) if tid != self.tenant_id => {
                Err(invalid(format!("token issued for tenant {tid:?}")))
            }
            _ => Ok(()),
        }
    }

    fn leeway_secs(&self) -> i64 {
        i64::try_from(self.leeway.as_secs()).unwrap_or(0)
    }

    async fn exchange_code(&self, exchange: &CodeExchange) -> Result<ExternalIdentity, Rejection> {
        let redirect_uri = RedirectUrl::new(exchange.redirect_uri.clone())
            .map_err(|_| invalid("redirect_uri is not a URL"))?;
        let response = self
            .client
            .exchange_code(AuthorizationCode::new(exchange.code.clone()))
            .set_redirect_uri(Cow::Owned(redirect_uri))
            .set_pkce_verifier(PkceCodeVerifier::new(exchange.pkce_verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(token_request_rejection)?;
        let id_token = response
            .extra_fields()
            .id_token()
            .ok_or_else(|| invalid("token response carries no ID token"))?;
        self.verify_id_token(id_token, Some(&exchange.nonce)).await
    }

    /// Checks an ID token's signature, issuer, audience, times and tenant.
    /// `expected_nonce`: the authorization request's; `None` only for flows
    /// that send none (device code), where the token request itself is bound
    /// to the device code.
    pub(crate) async fn verify_id_token(
        &self,
        id_token: &AzureIdToken,
        expected_nonce: Option<&str>,
    ) -> Result<ExternalIdentity, Rejection> {
        let key = self.signing_key(&id_token.to_string()).await?;
        let leeway = chrono::Duration::seconds(self.leeway_secs());
        let verifier = CoreIdTokenVerifier::new_public_client(
            ClientId::new(self.client_id.clone()),
            self.issuer.clone(),
            CoreJsonWebKeySet::new(vec![key.jwk.clone()]),
        )
        .set_allowed_algs([CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256])
        // Expiry with leeway: the token counts as expired `leeway` after its `exp`.
        .set_time_fn(move || chrono::Utc::now() - leeway)
        .set_issue_time_verifier_fn(move |issued_at| {
            if issued_at > chrono::Utc::now() + leeway {
                Err(format!("issued in the future ({issued_at})"))
            } else {
                Ok(())
            }
        });
        // The ID token must carry the authorization request's nonce: one
        // issued for another sign-in cannot be replayed into this one.
        let claims = match expected_nonce {
            Some(nonce) => id_token.claims(&verifier, &Nonce::new(nonce.to_owned())),
            None => id_token.claims(&verifier, |_: Option<&Nonce>| Ok(())),
        }
        .map_err(|err| invalid(format!("ID token rejected: {err}")))?;

        let azure = claims.additional_claims();
        if azure
            .nbf
            .is_some_and(|nbf| nbf > chrono::Utc::now().timestamp() + self.leeway_secs())
        {
            return Err(invalid("ID token is not valid yet (nbf)"));
        }
        self.check_tenant(azure.tid.as_deref())?;

        Ok(IdentityParts {
            subject: azure
                .oid
                .clone()
                .unwrap_or_else(|| claims.subject().as_str().to_owned()),
            tenant: azure.tid.clone(),
            emails: [
                claims.email().map(|email| email.as_str()),
                claims
                    .preferred_username()
                    .map(|username| username.as_str()),
                None,
            ],
            display_name: claims
                .name()
                .and_then(|name| name.get(None))
                .map(|name| name.as_str().to_owned()),
            roles: azure.roles.clone(),
            groups: azure.groups.clone(),
        }
        .into_identity())
    }

    async fn verify_bearer(&self, token: &str) -> Result<ExternalIdentity, Rejection> {
        let key = self.signing_key(token).await?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[self.issuer.as_str()]);
        validation.set_audience(&self.accepted_audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = self.leeway.as_secs();
        let data = jsonwebtoken::decode::<AccessTokenClaims>(token, &key.decoding, &validation)
            .map_err(|err| invalid(format!("access token rejected: {err}")))?;
        let claims = data.claims;
        if let Some(reason) = claims.not_an_access_token() {
            return Err(invalid(reason));
        }
        self.check_tenant(claims.tid.as_deref())?;
        let subject = claims
            .oid
            .ok_or_else(|| invalid("access token carries no oid"))?;
        Ok(IdentityParts {
            subject,
            tenant: claims.tid,
            emails: [
                claims.email.as_deref(),
                claims.preferred_username.as_deref(),
                claims.upn.as_deref(),
            ],
            display_name: claims.name,
            roles: claims.roles,
            groups: claims.groups,
        }
        .into_identity())
    }
}

/// A refused code (`invalid_grant` and friends) is the caller's fault; a provider that
/// cannot be reached or answers something unreadable is unavailable.
fn token_request_rejection(
    err: RequestTokenError<
        HttpClientError<reqwest::Error>,
        StandardErrorResponse<CoreErrorResponseType>,
    >,
) -> Rejection {
    match err {
        RequestTokenError::ServerResponse(response) => invalid(format!(
            "token endpoint refused the code: {}",
            response.error()
        )),
        RequestTokenError::Request(source) => Rejection::Unavailable(Box::new(source)),
        RequestTokenError::Parse(source, _body) => Rejection::Unavailable(Box::new(source)),
        RequestTokenError::Other(message) => Rejection::Unavailable(message.into()),
    }
}

pub(crate) fn log_rejection(what: &str, rejection: Rejection) -> IdentityError {
    match &rejection {
        Rejection::Invalid(reason) => tracing::info!(reason = %reason, "{what} rejected"),
        Rejection::Unavailable(source) => {
            tracing::warn!(error = %source, "{what} failed: identity provider unavailable");
        }
    }
    rejection.into()
}

#[async_trait]
impl IdentityProvider for AzureAd {
    #[tracing::instrument(skip_all)]
    async fn start_sign_in(&self, redirect_uri: &str) -> Result<AuthorizationStart, IdentityError> {
        let redirect_uri = RedirectUrl::new(redirect_uri.to_owned())
            .map_err(|_| IdentityError::Invalid("redirect_uri is not a URL".to_owned()))?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = self
            .client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scopes(SIGN_IN_SCOPES.map(|scope| Scope::new(scope.to_owned())))
            .set_pkce_challenge(challenge)
            .set_redirect_uri(Cow::Owned(redirect_uri))
            .url();
        Ok(AuthorizationStart {
            url: url.into(),
            state: state.into_secret(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.into_secret(),
        })
    }

    #[tracing::instrument(skip_all)]
    async fn complete_sign_in(
        &self,
        exchange: &CodeExchange,
    ) -> Result<ExternalIdentity, IdentityError> {
        self.exchange_code(exchange)
            .await
            .map_err(|rejection| log_rejection("sign-in", rejection))
    }

    #[tracing::instrument(skip_all)]
    async fn verify_access_token(&self, token: &str) -> Result<ExternalIdentity, IdentityError> {
        self.verify_bearer(token)
            .await
            .map_err(|rejection| log_rejection("bearer token", rejection))
    }
}
