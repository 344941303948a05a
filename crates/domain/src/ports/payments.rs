use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::payment::{
    CheckoutCreated, CheckoutRequest, CheckoutSessionId, PaidPayment, PaymentEvent,
    PaymentIntentCreated, PaymentIntentId, PaymentIntentRequest, Purchase,
};
use crate::{BoxError, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    /// The provider refused the request (bad key, invalid parameters).
    #[error("payment provider refused the request: {0}")]
    Rejected(String),
    #[error("payment provider unavailable")]
    Unavailable(#[source] BoxError),
}

/// The payment provider's API (Stripe).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PaymentGateway: Send + Sync {
    /// A PaymentIntent for the package's exact price with metadata `user_id`,
    /// `package`, `tokens`, created under the request's idempotency key.
    async fn create_payment_intent(
        &self,
        request: &PaymentIntentRequest,
    ) -> Result<PaymentIntentCreated, PaymentError>;

    /// A hosted Checkout Session for the package.
    async fn create_checkout(
        &self,
        request: &CheckoutRequest,
    ) -> Result<CheckoutCreated, PaymentError>;

    /// Payments that succeeded since `since`, for reconciliation.
    async fn succeeded_payments_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<PaidPayment>, PaymentError>;
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("missing or malformed signature header")]
    MissingSignature,
    #[error("no signature matches")]
    BadSignature,
    #[error("signature timestamp outside the tolerance")]
    Stale,
    #[error("event payload is not valid: {0}")]
    MalformedPayload(String),
}

/// Verifies a payment-provider webhook and turns it into a [`PaymentEvent`].
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait WebhookVerifier: Send + Sync {
    /// Checks the signature header over the raw body at time `now`.
    fn verify(
        &self,
        payload: &[u8],
        signature_header: &str,
        now: DateTime<Utc>,
    ) -> Result<PaymentEvent, WebhookError>;
}

/// Purchases started through askgate's checkout, for the success page.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PurchaseRepository: Send + Sync {
    /// Records a new pending purchase. Recording the same checkout again changes nothing.
    async fn record(&self, purchase: &Purchase) -> Result<(), StoreError>;

    /// Links the payment intent to its checkout and marks it credited. Unknown
    /// checkouts (paid outside askgate's checkout) are ignored.
    async fn attach_payment(
        &self,
        checkout_session_id: &CheckoutSessionId,
        payment_intent_id: &PaymentIntentId,
    ) -> Result<(), StoreError>;

    /// Marks a checkout as failed (async payment failure).
    async fn mark_failed(&self, checkout_session_id: &CheckoutSessionId) -> Result<(), StoreError>;

    /// `Ok(None)` when unknown.
    async fn get(
        &self,
        checkout_session_id: &CheckoutSessionId,
    ) -> Result<Option<Purchase>, StoreError>;
}
