//! askgate-server over real HTTP and as a process, against real databases:
//! one module per area, so that the crate links a single test binary.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access;
mod accounts;
mod admin;
mod api;
mod api_keys;
mod apps;
mod binary;
mod chat;
mod client;
mod credits;
mod device;
mod faults;
mod identity;
mod metrics;
mod overview;
mod payments;
mod streaming;
mod support;
