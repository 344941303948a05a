//! Signing in and out: Microsoft sign-in (client- or server-driven), the
//! development sign-in, device-code sign-in for clients without a browser,
//! and sessions with rotating refresh tokens.

pub mod authorize;
pub mod callback;
pub mod dev_login;
pub mod device;
pub mod login;
pub mod logout;
pub mod refresh;
pub(crate) mod signed_in;
