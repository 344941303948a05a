//! Payments as the domain sees them: requests to the payment provider and the
//! verified events it sends back. No Stripe type appears here.

use chrono::{DateTime, Utc};

use crate::UserId;
use crate::ledger::RefundShare;
use crate::package::TokenPackage;

/// Ask the provider for a PaymentIntent for one package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentIntentRequest {
    pub user: UserId,
    pub package: TokenPackage,
    /// Sent to the provider so a retried request creates one intent.
    pub idempotency_key: String,
}

/// A PaymentIntent the buyer's client confirms with its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentIntentCreated {
    pub payment_intent_id: String,
    pub client_secret: String,
}

/// Ask the provider for a hosted checkout page for one package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutRequest {
    pub user: UserId,
    pub email: Option<String>,
    pub package: TokenPackage,
    pub success_url: String,
    pub cancel_url: String,
    pub idempotency_key: String,
}

/// A hosted checkout page to send the buyer to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutCreated {
    pub id: String,
    pub url: String,
}

/// What askgate learned from a verified payment-provider event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentEvent {
    /// Money arrived for a payment (checkout completed and paid, async payment
    /// succeeded, or payment intent succeeded).
    Paid(PaidPayment),
    /// A checkout's delayed payment failed: nothing to credit.
    CheckoutFailed {
        event_id: String,
        checkout_session_id: String,
    },
    /// A charge was refunded, fully or partly.
    Refunded {
        event_id: String,
        payment_intent_id: String,
        /// The part refunded so far when it is less than the charge; `None`
        /// for a full refund.
        share: Option<RefundShare>,
    },
    /// A dispute (chargeback) was opened, or closed lost.
    Disputed {
        event_id: String,
        payment_intent_id: String,
    },
    /// A dispute was closed in the merchant's favour (won, funds reinstated).
    DisputeWon {
        event_id: String,
        payment_intent_id: String,
    },
    /// Any other event type: acknowledged, nothing done.
    Ignored {
        event_id: String,
        event_type: String,
    },
}

/// A successful payment as reported by the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaidPayment {
    /// `None` for payments found by reconciliation rather than an event.
    pub event_id: Option<String>,
    pub payment_intent_id: String,
    pub checkout_session_id: Option<String>,
    /// From metadata; `None` when the payment was not made through askgate.
    pub user: Option<UserId>,
    /// From metadata, unparsed: a bad value is recorded as a mismatch.
    pub package: Option<String>,
    pub amount_cents: i64,
    pub currency: String,
    pub created_at: Option<DateTime<Utc>>,
    /// What the provider shows of the payment's refunds and dispute when it
    /// is listed (reconciliation); nothing for a payment event.
    pub standing: PaymentStanding,
}

/// A listed payment's refunds and dispute as the provider shows them now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PaymentStanding {
    /// Refunded so far out of the charge's amount; `None` when nothing is.
    pub refunded: Option<RefundShare>,
    /// The charge's dispute, if it has one.
    pub dispute: Option<DisputeStatus>,
}

/// Where a dispute stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisputeStatus {
    /// Opened, not decided yet: the money is held back from the merchant.
    Open,
    /// Decided for the merchant (or an inquiry closed without a chargeback).
    Won,
    /// Decided for the buyer.
    Lost,
}

/// State of a checkout as the success page sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PurchaseStatus {
    Pending,
    Credited,
    Failed,
}

impl PurchaseStatus {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Credited => "credited",
            Self::Failed => "failed",
        }
    }
}

/// A purchase started through askgate (a checkout session), tracked until credited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purchase {
    pub checkout_session_id: String,
    pub user: UserId,
    pub package: TokenPackage,
    pub payment_intent_id: Option<String>,
    pub status: PurchaseStatus,
}
