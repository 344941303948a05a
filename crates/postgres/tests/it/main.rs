//! askgate-postgres on the real PostgreSQL, a fresh database per test:
//! one module per area, so that the crate links a single test binary.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod charges;
mod chat_store;
mod device_codes;
mod ledger;
mod pooler;
mod purchases;
mod reports;
mod rls;
mod sessions;
mod sql_scripts;
mod store;
mod support;
mod tls;
