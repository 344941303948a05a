//! askgate-upstream against upstreams played by wiremock and raw TCP peers:
//! one module per area, so that the crate links a single test binary.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod streaming;
mod upstreams;
