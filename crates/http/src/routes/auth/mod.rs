//! Signing in.

pub mod dev_login;
