//! Who is calling: session tokens, the verifier behind the extractors, and the
//! extractors handlers take (`AuthenticatedUser`, `AdminUser`).

mod extract;
mod session;
mod verifier;

pub use extract::{AdminUser, AuthenticatedUser};
pub use session::{IssuedToken, SESSION_ROLE, SessionClaims, SessionKeys, SessionTokenError};
pub use verifier::{TokenError, TokenVerifier};
