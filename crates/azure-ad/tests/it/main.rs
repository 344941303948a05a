//! askgate-azure-ad against identity providers played by wiremock:
//! one module per area, so that the crate links a single test binary.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod client_credentials;
mod identity;
mod support;
