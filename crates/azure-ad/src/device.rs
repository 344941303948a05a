//! Device-code sign-in (RFC 8628) brokered through askgate's own app
//! registration: the command-line tool only needs askgate's URL.
//!
//! Nothing is kept here between polls: the provider's device code is what the
//! device holds and polls with, and the provider counts the interval
//! (`slow_down`) and the expiry. Every instance answers every poll alike. With
//! a client secret configured the code alone is useless to anyone but
//! askgate: redeeming it needs the secret, which the device never sees.

use std::str::FromStr;

use askgate_domain::ports::{
    DeviceAuthorization, DevicePerson, DevicePoll, DeviceSignIn, IdentityError,
};
use async_trait::async_trait;
use secrecy::ExposeSecret;
use serde::Deserialize;
use url::Url;

use crate::provider::{AzureAd, AzureIdToken, Rejection, SIGN_IN_SCOPES, invalid, log_rejection};

/// RFC 8628 §3.4's grant type.
const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The provider's answer to a device authorization request (RFC 8628 §3.2).
#[derive(Debug, Deserialize)]
struct AuthorizationResponse {
    device_code: String,
    user_code: String,
    /// Entra ID's v1 endpoint spells it `verification_url`.
    #[serde(alias = "verification_url")]
    verification_uri: String,
    #[serde(default)]
    verification_uri_complete: Option<String>,
    expires_in: u64,
    /// RFC 8628: 5 seconds when absent.
    #[serde(default = "default_interval")]
    interval: u64,
}

const fn default_interval() -> u64 {
    5
}

#[derive(Debug, Deserialize)]
struct TokenResponse {
    id_token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ErrorResponse {
    error: String,
}

impl AzureAd {
    /// POSTs `fields` as a form to `url` with the fields that name askgate as
    /// the client (its id, and its secret when it has one, in the body as for
    /// the code exchange); the status and the body, whatever the status.
    async fn post_form(
        &self,
        url: Url,
        fields: &[(&'static str, String)],
    ) -> Result<(reqwest::StatusCode, Vec<u8>), Rejection> {
        let mut form = vec![("client_id", self.client_id.clone())];
        if let Some(secret) = &self.client_secret {
            form.push(("client_secret", secret.expose_secret().to_owned()));
        }
        form.extend_from_slice(fields);
        let unavailable = |err: reqwest::Error| Rejection::Unavailable(Box::new(err));
        let response = self
            .http
            .post(url)
            .form(&form)
            .send()
            .await
            .map_err(unavailable)?;
        let status = response.status();
        let body = response.bytes().await.map_err(unavailable)?;
        Ok((status, body.to_vec()))
    }

    async fn start_device(&self) -> Result<DeviceAuthorization, Rejection> {
        let endpoint = self.device_endpoint.clone().ok_or_else(|| {
            Rejection::Unavailable("the identity provider offers no device sign-in".into())
        })?;
        let scope = format!("openid {}", SIGN_IN_SCOPES.join(" "));
        let (status, body) = self.post_form(endpoint, &[("scope", scope)]).await?;
        if !status.is_success() {
            return Err(Rejection::Unavailable(
                format!(
                    "device authorization refused ({status}): {}",
                    error_code(&body)
                )
                .into(),
            ));
        }
        let started: AuthorizationResponse =
            serde_json::from_slice(&body).map_err(|err| Rejection::Unavailable(Box::new(err)))?;
        Ok(DeviceAuthorization {
            device_code: started.device_code,
            user_code: started.user_code,
            verification_uri: started.verification_uri,
            verification_uri_complete: started.verification_uri_complete,
            expires_in: started.expires_in,
            interval: started.interval,
        })
    }

    async fn poll_device(&self, device_code: &str) -> Result<DevicePoll, Rejection> {
        let fields = [
            ("grant_type", DEVICE_CODE_GRANT.to_owned()),
            ("device_code", device_code.to_owned()),
        ];
        let (status, body) = self.post_form(self.token_endpoint.clone(), &fields).await?;
        if !status.is_success() {
            return match error_code(&body).as_str() {
                "authorization_pending" => Ok(DevicePoll::Pending),
                "slow_down" => Ok(DevicePoll::SlowDown),
                "expired_token" => Ok(DevicePoll::Expired),
                // Entra ID says `authorization_declined` where RFC 8628 says `access_denied`.
                "access_denied" | "authorization_declined" => Ok(DevicePoll::Denied),
                // Unknown, already redeemed, or issued to another client.
                "invalid_grant" | "bad_verification_code" => Ok(DevicePoll::Unknown),
                other => Err(Rejection::Unavailable(
                    format!("token endpoint refused the device code ({status}): {other}").into(),
                )),
            };
        }
        let tokens: TokenResponse =
            serde_json::from_slice(&body).map_err(|err| Rejection::Unavailable(Box::new(err)))?;
        let id_token = tokens
            .id_token
            .ok_or_else(|| invalid("token response carries no ID token"))?;
        let id_token = AzureIdToken::from_str(&id_token)
            .map_err(|err| invalid(format!("unreadable ID token: {err}")))?;
        // No nonce: the device flow sends none; the token answers this poll of
        // this device code, redeemable only with askgate's credentials.
        let identity = self.verify_id_token(&id_token, None).await?;
        Ok(DevicePoll::SignedIn(DevicePerson::Verified(identity)))
    }
}

/// The OAuth `error` of an error body, or a placeholder when it has none.
fn error_code(body: &[u8]) -> String {
    serde_json::from_slice::<ErrorResponse>(body)
        .map(|e| e.error)
        .unwrap_or_else(|_| "unreadable error".to_owned())
}

#[async_trait]
impl DeviceSignIn for AzureAd {
    #[tracing::instrument(skip_all)]
    async fn start(&self) -> Result<DeviceAuthorization, IdentityError> {
        self.start_device()
            .await
            .map_err(|rejection| log_rejection("device sign-in start", rejection))
    }

    #[tracing::instrument(skip_all)]
    async fn poll(&self, device_code: &str) -> Result<DevicePoll, IdentityError> {
        self.poll_device(device_code)
            .await
            .map_err(|rejection| log_rejection("device sign-in", rejection))
    }
}
