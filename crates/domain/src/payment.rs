//! Payments as the domain sees them: requests to the payment provider and the
//! verified events it sends back. No Stripe type appears here.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::UserId;
use crate::ledger::{IdempotencyKey, RefundShare};
use crate::newtype::string_newtype;
use crate::package::TokenPackage;

/// An id the payment provider gave a payment, a checkout or an event was not
/// 1 to 255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a payment provider id must be 1 to 255 visible ASCII characters")]
pub struct ProviderIdError;

/// What the provider's ids have in common (Stripe's are `pi_…`, `cs_…`,
/// `evt_…`); the prefix is not checked, so a new kind of id is not refused.
fn check_provider_id(raw: &str) -> Result<(), ProviderIdError> {
    let ok = !raw.is_empty() && raw.len() <= 255 && raw.bytes().all(|b| b.is_ascii_graphic());
    if ok { Ok(()) } else { Err(ProviderIdError) }
}

string_newtype! {
    /// A Stripe PaymentIntent (`pi_…`): the payment a purchase is credited for.
    pub struct PaymentIntentId(String), check = ProviderIdError;
}

impl PaymentIntentId {
    fn check(raw: &str) -> Result<(), ProviderIdError> {
        check_provider_id(raw)
    }
}

string_newtype! {
    /// A Stripe Checkout Session (`cs_…`): a purchase started through askgate.
    pub struct CheckoutSessionId(String), check = ProviderIdError;
}

impl CheckoutSessionId {
    fn check(raw: &str) -> Result<(), ProviderIdError> {
        check_provider_id(raw)
    }
}

string_newtype! {
    /// A Stripe event (`evt_…`): handled at most once.
    pub struct StripeEventId(String), check = ProviderIdError;
}

impl StripeEventId {
    fn check(raw: &str) -> Result<(), ProviderIdError> {
        check_provider_id(raw)
    }
}

/// Which provider request a [`ProviderIdempotencyKey`] is for: keys of
/// different requests never collide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentRequestKind {
    PaymentIntent,
    Checkout,
}

impl PaymentRequestKind {
    const fn as_str(self) -> &'static str {
        match self {
            Self::PaymentIntent => "payment_intent",
            Self::Checkout => "checkout",
        }
    }
}

/// The idempotency key sent to the payment provider with a request:
/// `askgate:<kind>:<user>:<package>:<client key>`, the client key being the
/// client's `Idempotency-Key` when it sent one, else a fresh one. Scoped to
/// the caller, the kind of request and the package, so one user's key can
/// never return another user's payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderIdempotencyKey(String);

/// The client's key would make a provider key longer than the provider accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the idempotency key must be at most {max} characters", max = ProviderIdempotencyKey::MAX_CLIENT_KEY_LEN)]
pub struct ClientKeyTooLong;

impl ProviderIdempotencyKey {
    /// Longest key Stripe accepts.
    pub const MAX_LEN: usize = 255;

    /// Longest client key accepted: with the longest prefix
    /// (`askgate:payment_intent:<user uuid>:<package>:`) it stays within
    /// [`Self::MAX_LEN`].
    pub const MAX_CLIENT_KEY_LEN: usize =
        Self::MAX_LEN - "askgate:payment_intent:".len() - 36 - ":600:".len();

    pub fn derive(
        kind: PaymentRequestKind,
        user: UserId,
        package: TokenPackage,
        client_key: Option<&IdempotencyKey>,
    ) -> Result<Self, ClientKeyTooLong> {
        let client_key = match client_key {
            Some(key) if key.as_str().len() > Self::MAX_CLIENT_KEY_LEN => {
                return Err(ClientKeyTooLong);
            }
            Some(key) => key.as_str().to_owned(),
            None => uuid::Uuid::new_v4().to_string(),
        };
        Ok(Self(format!(
            "askgate:{}:{user}:{package}:{client_key}",
            kind.as_str()
        )))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Ask the provider for a PaymentIntent for one package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentIntentRequest {
    pub user: UserId,
    pub package: TokenPackage,
    /// Sent to the provider so a retried request creates one intent.
    pub idempotency_key: ProviderIdempotencyKey,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaymentIntentCreated {
    pub payment_intent_id: PaymentIntentId,
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
    pub idempotency_key: ProviderIdempotencyKey,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckoutCreated {
    pub id: CheckoutSessionId,
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
        event_id: StripeEventId,
        checkout_session_id: CheckoutSessionId,
    },
    /// A charge was refunded, fully or partly.
    Refunded {
        event_id: StripeEventId,
        payment_intent_id: PaymentIntentId,
        /// The part refunded so far when it is less than the charge; `None`
        /// for a full refund.
        share: Option<RefundShare>,
    },
    /// A dispute (chargeback) was opened, or closed lost.
    Disputed {
        event_id: StripeEventId,
        payment_intent_id: PaymentIntentId,
    },
    /// A dispute was closed in the merchant's favour (won, funds reinstated).
    DisputeWon {
        event_id: StripeEventId,
        payment_intent_id: PaymentIntentId,
    },
    /// Any other event type: acknowledged, nothing done.
    Ignored {
        event_id: StripeEventId,
        event_type: String,
    },
}

/// A successful payment as reported by the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaidPayment {
    /// `None` for payments found by reconciliation rather than an event.
    pub event_id: Option<StripeEventId>,
    pub payment_intent_id: PaymentIntentId,
    pub checkout_session_id: Option<CheckoutSessionId>,
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
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
    pub checkout_session_id: CheckoutSessionId,
    pub user: UserId,
    pub package: TokenPackage,
    pub payment_intent_id: Option<PaymentIntentId>,
    pub status: PurchaseStatus,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_longest_client_key_still_makes_a_key_stripe_accepts() {
        let user = UserId::generate();
        let longest =
            IdempotencyKey::parse(&"k".repeat(ProviderIdempotencyKey::MAX_CLIENT_KEY_LEN)).unwrap();
        for kind in [
            PaymentRequestKind::Checkout,
            PaymentRequestKind::PaymentIntent,
        ] {
            let key =
                ProviderIdempotencyKey::derive(kind, user, TokenPackage::Large, Some(&longest))
                    .unwrap();
            assert!(
                key.as_str().len() <= ProviderIdempotencyKey::MAX_LEN,
                "{kind:?}: {}",
                key.as_str().len()
            );
        }
        let too_long = IdempotencyKey::parse(&format!("{}k", longest.as_str())).unwrap();
        assert_eq!(
            ProviderIdempotencyKey::derive(
                PaymentRequestKind::PaymentIntent,
                user,
                TokenPackage::Large,
                Some(&too_long)
            ),
            Err(ClientKeyTooLong)
        );
    }

    #[test]
    fn a_client_key_is_scoped_to_the_user_the_request_and_the_package() {
        let user = UserId::generate();
        let client = IdempotencyKey::parse("retry-me").unwrap();
        let key = ProviderIdempotencyKey::derive(
            PaymentRequestKind::Checkout,
            user,
            TokenPackage::Medium,
            Some(&client),
        )
        .unwrap();
        assert_eq!(
            key.as_str(),
            format!("askgate:checkout:{user}:250:retry-me")
        );
        let fresh = |_| {
            ProviderIdempotencyKey::derive(
                PaymentRequestKind::Checkout,
                user,
                TokenPackage::Medium,
                None,
            )
            .unwrap()
        };
        assert_ne!(fresh(1), fresh(2));
    }
}
