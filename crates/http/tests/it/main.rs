//! askgate-http's routes, extractors and OpenAPI document with mocked ports:
//! one module per area, so that the crate links a single test binary.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod chat_cancel;
mod openapi;
