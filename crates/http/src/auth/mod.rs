//! Who is calling: session tokens, sessions with rotating refresh tokens,
//! Microsoft sign-in, the verifier behind the extractors, and the extractors
//! handlers take (`AuthenticatedUser`, `AdminUser`).

mod bearer;
mod extract;
mod session;
mod sessions;
mod sign_in;
mod verifier;

pub use bearer::BearerTokens;
pub use extract::{AdminUser, AuthenticatedUser};
pub use session::{IssuedToken, SESSION_ROLE, SessionClaims, SessionKeys, SessionTokenError};
pub use sessions::{
    REFRESH_COOKIE, REFRESH_COOKIE_PATH, RefreshToken, Rotated, SessionError, SessionGrant,
    SessionPolicy, Sessions, hash_refresh_token,
};
pub use sign_in::{
    FLOW_COOKIE, FLOW_TTL, FlowCookieError, MicrosoftSignIn, NotALocalPath, PendingSignIn,
    RedirectUriRefused, local_return_path,
};
pub use verifier::{TokenError, TokenVerifier};
