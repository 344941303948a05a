//! askgate's Stripe adapter.
//!
//! - [`StripeGateway`] implements [`askgate_domain::ports::PaymentGateway`] with
//!   async-stripe: PaymentIntents, hosted Checkout Sessions and the listing of
//!   succeeded payments that reconciliation replays.
//! - [`StripeWebhooks`] implements [`askgate_domain::ports::WebhookVerifier`]:
//!   it checks the `Stripe-Signature` header against one or more endpoint
//!   secrets and turns the event into an [`askgate_domain::payment::PaymentEvent`].
//!
//! No Stripe type leaves this crate.

mod config;
mod event;
mod gateway;
mod signature;
mod webhook;

pub use config::{PriceIds, StripeConfig, StripeSetupError};
pub use gateway::StripeGateway;
pub use webhook::{DEFAULT_TOLERANCE, StripeWebhooks, split_webhook_secrets};
