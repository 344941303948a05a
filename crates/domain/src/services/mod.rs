//! Use cases: plain structs holding the ports they need.

pub mod account;
pub mod domains;

pub use account::{AccountError, AccountService};
pub use domains::{DomainError, DomainInput, DomainService};
