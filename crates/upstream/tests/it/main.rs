//! askgate-upstream's wire formats against upstreams played by wiremock:
//! one module per area, so that the crate links a single test binary.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod upstreams;
