//! The calls a registered app's backend makes: with the app's credentials
//! (HTTP Basic), on behalf of a user whose askgate token (session token or
//! API key) it forwards in `X-Askgate-User-Token`.

use reqwest::header::ACCEPT;
use reqwest::{Method, RequestBuilder};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::client::{base_url_of, decode, http_client, join};
use crate::error::Error;
use crate::types::Checkout;

/// The header that carries the user's token on app calls.
pub const USER_TOKEN_HEADER: &str = "X-Askgate-User-Token";

/// What introspection says about a token (RFC 7662).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Introspection {
    pub active: bool,
    #[serde(default)]
    pub sub: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub exp: Option<i64>,
}

/// A consumption the app made.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Consumption {
    /// The ledger row; refund it with [`AppClient::refund`].
    pub id: String,
    pub amount: i64,
    pub balance_after: i64,
    /// Answered from an earlier call with the same idempotency key.
    #[serde(default)]
    pub replayed: bool,
}

#[derive(Serialize)]
struct ConsumeBody<'a> {
    amount: u32,
    reason: &'a str,
    idempotency_key: &'a str,
}

#[derive(Serialize)]
struct CheckoutBody<'a> {
    package: &'a str,
    return_url: &'a str,
}

#[derive(Deserialize)]
struct Balance {
    tokens: i64,
}

/// A registered app's client of askgate. Keep the secret on the server.
#[derive(Debug)]
pub struct AppClient {
    http: reqwest::Client,
    base: Url,
    client_id: String,
    client_secret: String,
}

impl AppClient {
    pub fn new(base_url: &str, client_id: &str, client_secret: &str) -> Result<Self, Error> {
        Ok(Self {
            http: http_client()?,
            base: base_url_of(base_url)?,
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
        })
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        user: Option<&str>,
    ) -> Result<RequestBuilder, Error> {
        let request = self
            .http
            .request(method, join(&self.base, path)?)
            .basic_auth(&self.client_id, Some(&self.client_secret))
            .header(ACCEPT, "application/json");
        Ok(match user {
            Some(token) => request.header(USER_TOKEN_HEADER, token),
            None => request,
        })
    }

    /// Whether `token` is an active askgate session token, and whose.
    pub async fn introspect(&self, token: &str) -> Result<Introspection, Error> {
        let request = self
            .request(Method::POST, "/api/v1/token/introspect", None)?
            .form(&[("token", token)]);
        decode(request.send().await?).await
    }

    /// The user's balance.
    pub async fn balance(&self, user_token: &str) -> Result<i64, Error> {
        let request = self.request(Method::GET, "/api/v1/balance", Some(user_token))?;
        Ok(decode::<Balance>(request.send().await?).await?.tokens)
    }

    /// Spends `amount` (1–100) of the user's tokens; the same
    /// `idempotency_key` answers the first consumption again.
    pub async fn consume(
        &self,
        user_token: &str,
        amount: u32,
        reason: &str,
        idempotency_key: &str,
    ) -> Result<Consumption, Error> {
        let request = self
            .request(Method::POST, "/api/v1/credits/consume", Some(user_token))?
            .json(&ConsumeBody {
                amount,
                reason,
                idempotency_key,
            });
        decode(request.send().await?).await
    }

    /// Gives a consumption back, once, within 24 hours.
    pub async fn refund(&self, consumption: &str) -> Result<serde_json::Value, Error> {
        let path = format!("/api/v1/credits/{consumption}/refund");
        let request = self
            .request(Method::POST, &path, None)?
            .json(&serde_json::json!({}));
        decode(request.send().await?).await
    }

    /// A Stripe Checkout page for the user to buy `package`, returning to
    /// `return_url` (one of the app's registered return URLs).
    pub async fn checkout(
        &self,
        user_token: &str,
        package: &str,
        return_url: &str,
    ) -> Result<Checkout, Error> {
        let request = self
            .request(Method::POST, "/api/v1/checkout", Some(user_token))?
            .json(&CheckoutBody {
                package,
                return_url,
            });
        decode(request.send().await?).await
    }
}
