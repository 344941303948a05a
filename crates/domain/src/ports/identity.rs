use async_trait::async_trait;

use crate::{BoxError, Email};

/// What the identity provider vouches for about a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalIdentity {
    /// Azure AD `oid` (stable per tenant), else `sub`.
    pub subject: String,
    pub tenant: Option<String>,
    pub email: Option<Email>,
    pub display_name: Option<String>,
    /// App roles (`roles` claim).
    pub roles: Vec<String>,
    /// Group object ids (`groups` claim), when the app registration emits them.
    pub groups: Vec<String>,
}

/// The start of an authorization-code + PKCE sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationStart {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// The end of one: the code and what must match it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeExchange {
    pub code: String,
    /// The PKCE verifier of the authorization request (RFC 7636): always
    /// sent, so a code intercepted on its way back is useless without it.
    pub pkce_verifier: String,
    pub redirect_uri: String,
    /// The nonce the ID token must carry: the one the authorization request
    /// sent, whoever started the flow.
    pub nonce: String,
}

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The token, code or ID token was refused. The reason is for logs only.
    #[error("invalid credentials: {0}")]
    Invalid(String),
    /// The provider could not be reached or answered nonsense.
    #[error("identity provider unavailable")]
    Unavailable(#[source] BoxError),
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait IdentityProvider: Send + Sync {
    /// Builds the provider's authorization URL with fresh state, nonce and PKCE.
    async fn start_sign_in(&self, redirect_uri: &str) -> Result<AuthorizationStart, IdentityError>;

    /// Exchanges an authorization code and verifies the ID token (signature,
    /// `iss`, `aud`, `exp`, `nonce`). MUST return `Invalid` for any failed check.
    async fn complete_sign_in(
        &self,
        exchange: &CodeExchange,
    ) -> Result<ExternalIdentity, IdentityError>;

    /// Verifies an access token issued for askgate's API (JWKS signature, `iss`,
    /// `aud`, `exp`/`nbf`, `tid`). MUST return `Invalid` for any failed check.
    async fn verify_access_token(&self, token: &str) -> Result<ExternalIdentity, IdentityError>;
}

/// A device-code sign-in just started (RFC 8628 §3.2): what the device shows
/// the person, and the code it polls with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceAuthorization {
    /// The secret the device polls with; never shown to the person.
    pub device_code: String,
    /// What the person types at `verification_uri`.
    pub user_code: String,
    pub verification_uri: String,
    /// `verification_uri` with the user code filled in, when the provider offers one.
    pub verification_uri_complete: Option<String>,
    /// Seconds until the codes expire.
    pub expires_in: u64,
    /// Seconds the device must wait between two polls.
    pub interval: u64,
}

/// Who approved a device-code sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DevicePerson {
    /// Someone the identity provider vouches for (its verified ID token).
    Verified(ExternalIdentity),
    /// A user already signed in to askgate who approved the code on askgate's
    /// own verification page (development, without a provider).
    Approved(crate::UserId),
}

/// Where a device-code sign-in stands when the device polls (RFC 8628 §3.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DevicePoll {
    /// The person has not finished yet: poll again after the interval.
    Pending,
    /// Polled sooner than the interval allows: wait 5 seconds longer from now on.
    SlowDown,
    /// The codes expired before anyone approved them.
    Expired,
    /// The person declined.
    Denied,
    /// No such device code (never issued, or already redeemed).
    Unknown,
    SignedIn(DevicePerson),
}

/// Device-code sign-in (RFC 8628) for clients without a browser, such as a
/// command-line tool: it shows a code, the person enters it elsewhere.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait DeviceSignIn: Send + Sync {
    async fn start(&self) -> Result<DeviceAuthorization, IdentityError>;

    /// One poll. A code that signed someone in is redeemed: polling it again
    /// answers [`DevicePoll::Unknown`].
    async fn poll(&self, device_code: &str) -> Result<DevicePoll, IdentityError>;
}

/// How a poll of a device code stands against its pace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollPace {
    /// Not a code askgate handed out, or one already finished.
    Unknown,
    Expired,
    /// Sooner than the interval after the last poll; the interval is now 5 s longer.
    TooSoon,
    InTime,
}

/// The device codes askgate handed out, shared by every instance: how often
/// each may be polled, and until when.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait DeviceCodes: Send + Sync {
    async fn issued(
        &self,
        device_code: &str,
        expires_in: std::time::Duration,
        interval: std::time::Duration,
    ) -> Result<(), crate::StoreError>;

    /// Records one poll (atomically: two polls at once are one in time and
    /// one too soon).
    async fn polled(&self, device_code: &str) -> Result<PollPace, crate::StoreError>;

    /// The sign-in finished (signed in, denied or expired): forget the code.
    async fn finished(&self, device_code: &str) -> Result<(), crate::StoreError>;
}
