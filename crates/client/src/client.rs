//! The client: one askgate, one set of credentials.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::error::{Error, Problem};
use crate::stream::{self, ChatStream};
use crate::types::{
    ChatAnswer, ChatRequest, Checkout, DeviceAuthorization, Domain, Package, Page, Profile,
    Service, SignedIn, Transaction,
};

/// How calls authenticate.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    None,
    /// A personal API key (`agk_…`): no refresh, no expiry but its own.
    ApiKey(String),
    /// A session: the access token when there is one, and the refresh token
    /// that gets the next.
    Session {
        access: Option<String>,
        refresh: Option<String>,
    },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::None => "None",
            Self::ApiKey(_) => "ApiKey(…)",
            Self::Session { .. } => "Session(…)",
        })
    }
}

/// A client of one askgate. Cheap to share behind an `Arc`; calls may run
/// concurrently.
#[derive(Debug)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    credentials: Mutex<Credentials>,
}

/// The body of a refresh, and of a device-code poll.
#[derive(Serialize)]
struct RefreshBody<'a> {
    refresh_token: &'a str,
}

#[derive(Serialize)]
struct DeviceTokenBody<'a> {
    device_code: &'a str,
}

#[derive(Serialize)]
struct PackageBody<'a> {
    package: &'a str,
}

#[derive(serde::Deserialize)]
struct Balance {
    tokens: i64,
}

#[derive(serde::Deserialize)]
struct Packages {
    packages: Vec<Package>,
}

impl Client {
    /// A client of the askgate at `base_url` (`https://askgate.example.com`),
    /// with no credentials yet.
    pub fn new(base_url: &str) -> Result<Self, Error> {
        Ok(Self {
            http: http_client()?,
            base: base_url_of(base_url)?,
            credentials: Mutex::new(Credentials::None),
        })
    }

    #[must_use]
    pub fn with_credentials(self, credentials: Credentials) -> Self {
        self.set_credentials(credentials);
        self
    }

    pub fn set_credentials(&self, credentials: Credentials) {
        *self.lock() = credentials;
    }

    #[must_use]
    pub fn credentials(&self) -> Credentials {
        self.lock().clone()
    }

    /// The refresh token to keep for next time: it changes at every refresh,
    /// and the old one then signs nobody in.
    #[must_use]
    pub fn refresh_token(&self) -> Option<String> {
        match &*self.lock() {
            Credentials::Session { refresh, .. } => refresh.clone(),
            _ => None,
        }
    }

    #[must_use]
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Credentials> {
        self.credentials
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn url(&self, path: &str) -> Result<Url, Error> {
        join(&self.base, path)
    }

    /// A request for `path` without credentials.
    fn request(&self, method: Method, path: &str) -> Result<RequestBuilder, Error> {
        Ok(self
            .http
            .request(method, self.url(path)?)
            .header(ACCEPT, "application/json"))
    }

    // ---- sign-in ------------------------------------------------------------------

    /// Starts a device-code sign-in: show the person `user_code` and
    /// `verification_uri`, then [`wait_for_device_sign_in`](Self::wait_for_device_sign_in).
    pub async fn start_device_sign_in(&self) -> Result<DeviceAuthorization, Error> {
        decode(
            self.request(Method::POST, "/api/auth/device")?
                .send()
                .await?,
        )
        .await
    }

    /// Polls at the pace askgate asks for until the person has signed in (or
    /// declined, or the code expired: then the error says so). On success the
    /// client holds the new session.
    pub async fn wait_for_device_sign_in(
        &self,
        started: &DeviceAuthorization,
    ) -> Result<SignedIn, Error> {
        let mut interval = Duration::from_secs(started.interval.max(1));
        loop {
            tokio::time::sleep(interval).await;
            let response = self
                .request(Method::POST, "/api/auth/device/token")?
                .json(&DeviceTokenBody {
                    device_code: &started.device_code,
                })
                .send()
                .await?;
            match decode::<SignedIn>(response).await {
                Ok(signed_in) => {
                    self.hold(&signed_in);
                    return Ok(signed_in);
                }
                Err(err) => match err.code() {
                    Some("authorization_pending") => {}
                    Some("slow_down") => interval += Duration::from_secs(5),
                    _ => return Err(err),
                },
            }
        }
    }

    /// Development servers only: signs in as `email` with dev login.
    pub async fn dev_login(&self, email: &str) -> Result<SignedIn, Error> {
        let signed_in: SignedIn = decode(
            self.request(Method::POST, "/api/auth/dev-login")?
                .json(&serde_json::json!({ "email": email }))
                .send()
                .await?,
        )
        .await?;
        // Dev login keeps its refresh token in a cookie, which this client
        // does not keep: the session lasts as long as its access token.
        self.hold(&signed_in);
        Ok(signed_in)
    }

    /// Trades the refresh token for a new session (and a new refresh token).
    pub async fn refresh(&self) -> Result<SignedIn, Error> {
        let refresh = self.refresh_token().ok_or(Error::NotSignedIn)?;
        let response = self
            .request(Method::POST, "/api/auth/refresh")?
            .json(&RefreshBody {
                refresh_token: &refresh,
            })
            .send()
            .await?;
        let signed_in: SignedIn = decode(response).await?;
        self.hold(&signed_in);
        Ok(signed_in)
    }

    /// Ends the session at askgate (its refresh token stops working) and
    /// forgets the credentials.
    pub async fn logout(&self) -> Result<(), Error> {
        let result = self
            .signed_in(Method::POST, "/api/auth/logout", |r| r)
            .await;
        self.set_credentials(Credentials::None);
        match result {
            Ok(response) => expect_empty(response).await,
            // Nothing to end: never signed in, or the session is over already.
            Err(Error::NotSignedIn) => Ok(()),
            Err(err) if err.status() == Some(401) => Ok(()),
            Err(err) => Err(err),
        }
    }

    fn hold(&self, signed_in: &SignedIn) {
        let mut credentials = self.lock();
        let kept = match &*credentials {
            Credentials::Session { refresh, .. } => refresh.clone(),
            _ => None,
        };
        *credentials = Credentials::Session {
            access: Some(signed_in.session_token.clone()),
            refresh: signed_in.refresh_token.clone().or(kept),
        };
    }

    // ---- signed-in calls -------------------------------------------------------------

    /// Sends a signed-in request built by `build`; when a session's access
    /// token is missing or refused, refreshes once and sends it again.
    async fn signed_in(
        &self,
        method: Method,
        path: &str,
        build: impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<Response, Error> {
        let credentials = self.credentials();
        let token = match &credentials {
            Credentials::None => return Err(Error::NotSignedIn),
            Credentials::ApiKey(key) => key.clone(),
            Credentials::Session {
                access: Some(access),
                ..
            } => access.clone(),
            Credentials::Session { access: None, .. } => self.refresh().await?.session_token,
        };
        let send = |token: &str| {
            let request = build(self.request(method.clone(), path)?);
            Ok::<_, Error>(request.header(AUTHORIZATION, format!("Bearer {token}")))
        };
        let response = send(&token)?.send().await?;
        let refreshable = matches!(
            credentials,
            Credentials::Session {
                refresh: Some(_),
                ..
            }
        );
        if response.status() == StatusCode::UNAUTHORIZED && refreshable {
            let fresh = self.refresh().await?;
            return Ok(send(&fresh.session_token)?.send().await?);
        }
        Ok(response)
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, Error> {
        decode(self.signed_in(Method::GET, path, |r| r).await?).await
    }

    /// `GET /api/user/me`.
    pub async fn me(&self) -> Result<Profile, Error> {
        self.get("/api/user/me").await
    }

    /// The balance in tokens.
    pub async fn balance(&self) -> Result<i64, Error> {
        Ok(self.get::<Balance>("/api/user/tokens").await?.tokens)
    }

    /// One page of the caller's ledger, newest first.
    pub async fn history(&self, cursor: Option<&str>) -> Result<Page<Transaction>, Error> {
        let mut path = "/api/user/transactions?limit=50".to_owned();
        if let Some(cursor) = cursor {
            path.push_str("&cursor=");
            path.push_str(
                &url::form_urlencoded::byte_serialize(cursor.as_bytes()).collect::<String>(),
            );
        }
        self.get(&path).await
    }

    /// The caller's whole ledger as CSV (RFC 4180, with a header row).
    pub async fn history_csv(&self) -> Result<String, Error> {
        let response = self
            .signed_in(Method::GET, "/api/user/transactions.csv", |r| {
                r.header(ACCEPT, "text/csv")
            })
            .await?;
        if !response.status().is_success() {
            return Err(problem(response).await);
        }
        Ok(response.text().await?)
    }

    /// The AskDocs domains the caller may ask.
    pub async fn domains(&self) -> Result<Vec<Domain>, Error> {
        self.get("/api/domains").await
    }

    /// The token packages on sale (no sign-in needed).
    pub async fn packages(&self) -> Result<Vec<Package>, Error> {
        let response = self
            .request(Method::GET, "/api/token-packages")?
            .send()
            .await?;
        Ok(decode::<Packages>(response).await?.packages)
    }

    /// A Stripe Checkout page for `package` (`"100"`, `"250"`, `"600"`): send
    /// the person's browser to its `url`. Tokens arrive once Stripe confirms.
    pub async fn checkout(&self, package: &str) -> Result<Checkout, Error> {
        decode(
            self.signed_in(Method::POST, "/api/checkout-session", |r| {
                r.json(&PackageBody { package })
            })
            .await?,
        )
        .await
    }

    /// Asks a question and waits for the whole answer (one token).
    pub async fn chat(&self, request: &ChatRequest) -> Result<ChatAnswer, Error> {
        decode(self.send_chat(request, "application/json").await?).await
    }

    /// Asks a question and follows the answer as it is written (one token).
    /// A refusal before the token is held (402, 404, 429…) is the `Err`.
    pub async fn chat_stream(&self, request: &ChatRequest) -> Result<ChatStream, Error> {
        let response = self.send_chat(request, "text/event-stream").await?;
        if !response.status().is_success() {
            return Err(problem(response).await);
        }
        let streaming = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if streaming {
            Ok(stream::events(response))
        } else {
            Ok(stream::whole(decode(response).await?))
        }
    }

    async fn send_chat(&self, request: &ChatRequest, accept: &str) -> Result<Response, Error> {
        let path = match request.service {
            Service::Askatt => "/api/askatt/chat",
            Service::Askdocs => "/api/askdocs/chat",
        };
        self.signed_in(Method::POST, path, |r| {
            let r = r.header(ACCEPT, accept).json(request);
            match &request.idempotency_key {
                Some(key) => r.header("Idempotency-Key", key),
                None => r,
            }
        })
        .await
    }
}

/// The HTTP client every askgate client of this crate uses.
pub(crate) fn http_client() -> Result<reqwest::Client, Error> {
    Ok(reqwest::Client::builder()
        .user_agent(concat!("askgate-client/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .build()?)
}

/// `base_url` as a base to join API paths to: absolute http(s), ending in `/`.
pub(crate) fn base_url_of(base_url: &str) -> Result<Url, Error> {
    let mut base = Url::parse(base_url).map_err(|_| Error::BadUrl(base_url.to_owned()))?;
    if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
        return Err(Error::BadUrl(base_url.to_owned()));
    }
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    Ok(base)
}

pub(crate) fn join(base: &Url, path: &str) -> Result<Url, Error> {
    base.join(path.trim_start_matches('/'))
        .map_err(|_| Error::BadUrl(path.to_owned()))
}

/// The body of a successful answer, or the problem of a refused one.
pub(crate) async fn decode<T: DeserializeOwned>(response: Response) -> Result<T, Error> {
    if !response.status().is_success() {
        return Err(problem(response).await);
    }
    let bytes = response.bytes().await?;
    serde_json::from_slice(&bytes).map_err(|err| Error::Unexpected(err.to_string()))
}

async fn expect_empty(response: Response) -> Result<(), Error> {
    if response.status().is_success() {
        Ok(())
    } else {
        Err(problem(response).await)
    }
}

/// The problem+json of a refusal; something readable when the body is not one.
async fn problem(response: Response) -> Error {
    let status = response.status();
    let bytes = response.bytes().await.unwrap_or_default();
    match serde_json::from_slice::<Problem>(&bytes) {
        Ok(problem) => Error::Api(Box::new(problem)),
        Err(_) => Error::Api(Box::new(Problem {
            status: status.as_u16(),
            code: "unexpected".to_owned(),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            detail: String::from_utf8_lossy(&bytes).chars().take(200).collect(),
            field: None,
            balance: None,
            purchase_url: None,
        })),
    }
}
