//! askgate-ratelimit's limiters, in process and on Redis:
//! one module per area, so that the crate links a single test binary.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod in_process;
mod redis;
