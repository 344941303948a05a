//! The signed-in user's own account.

pub mod api_keys;
pub mod app_sessions;
pub mod me;
pub mod tokens;
pub mod transactions;
pub mod transactions_csv;
pub mod usage;
