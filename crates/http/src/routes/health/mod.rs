//! Liveness and readiness probes.

pub mod live;
pub mod ready;
