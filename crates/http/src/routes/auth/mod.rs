//! Signing in and out: Microsoft sign-in (client- or server-driven), the
//! development sign-in, and sessions with rotating refresh tokens.

pub mod authorize;
pub mod callback;
pub mod dev_login;
pub mod login;
pub mod logout;
pub mod refresh;
mod signed_in;
