//! askgate-stripe's API calls and webhook verification against local fakes:
//! one module per area, so that the crate links a single test binary.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod gateway;
mod webhooks;
