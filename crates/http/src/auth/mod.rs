//! Who is calling: session tokens, the refresh cookie, Microsoft sign-in, the
//! verifier behind the extractors, and the extractors handlers take
//! (`AuthenticatedUser`, `AdminUser`).

mod app;
mod bearer;
mod cookies;
mod device;
mod extract;
mod secrets;
mod session;
mod sign_in;
mod verifier;

pub use app::{AppCaller, AppScopeNeeded, app_scope};
pub use askgate_domain::ports::{IssuedToken, RefreshToken};
pub use bearer::BearerTokens;
pub use cookies::{REFRESH_COOKIE, REFRESH_COOKIE_PATH, cleared_refresh_cookie, refresh_cookie};
pub use device::{DEV_DEVICE_CODE_TTL, DEV_DEVICE_POLL_INTERVAL, DevDeviceCodes, UnknownUserCode};
pub use extract::{AdminUser, ApiKeyGrant, AuthenticatedUser, KeyScope, Scoped, scope};
pub use secrets::RandomSecrets;
pub use session::{
    SESSION_ROLE, SessionClaims, SessionKeys, SessionTokenError, hash_refresh_token,
};
pub use sign_in::{
    FLOW_COOKIE, FLOW_TTL, FlowCookieError, MicrosoftSignIn, NotALocalPath, PendingSignIn,
    RedirectUriRefused, local_return_path,
};
pub use verifier::{ActiveSession, TokenError, TokenVerifier};
