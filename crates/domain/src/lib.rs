//! askgate's pure core.
//!
//! This crate does no I/O and knows no framework. It owns the types (newtypes that
//! can only hold valid values), the ledger rules, the use cases and the ports
//! (traits) that adapter crates implement for PostgreSQL, Azure AD, Stripe, the AI
//! upstreams and rate limiting.

pub mod api_key;
pub mod app;
pub mod audit;
mod cache;
pub mod conversation;
pub mod domain;
pub mod email;
pub mod error;
pub mod ids;
pub mod ledger;
mod newtype;
pub mod package;
pub mod page;
pub mod payment;
pub mod ports;
pub mod report;
pub mod services;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;
pub mod text;
pub mod tokens;
pub mod usage;
pub mod user;

pub use email::Email;
pub use error::{BoxError, StoreError};
pub use ids::{
    ApiKeyId, AppId, ChargeId, ConversationId, DomainId, MessageId, SessionId, TransactionId,
    UserId,
};
pub use tokens::Tokens;
