//! The caller's personal API keys: make, list, revoke. A session only: a key
//! cannot manage keys.

pub mod create;
pub mod list;
pub mod revoke;
