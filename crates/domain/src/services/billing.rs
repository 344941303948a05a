//! Selling tokens: packages, starting a payment, and crediting it exactly once
//! whatever the payment provider sends, in whatever order.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tracing::{error, info, instrument, warn};

use crate::app::ReturnUrl;
use crate::ledger::{
    DisputeWon, IdempotencyKey, LedgerEntry, PaymentOutcome, PurchaseCredit, PurchaseReversal,
    RefundShare, ReversalCause,
};
use crate::package::{PackageView, TokenPackage, UnknownPackage};
use crate::payment::{
    CheckoutCreated, CheckoutRequest, CheckoutSessionId, ClientKeyTooLong, DisputeStatus,
    PaidPayment, PaymentEvent, PaymentIntentCreated, PaymentIntentId, PaymentIntentRequest,
    PaymentRequestKind, ProviderIdempotencyKey, Purchase, PurchaseStatus, StripeEventId,
};
use crate::ports::{
    BalanceError, Ledger, PaymentError, PaymentGateway, PurchaseCreditError, PurchaseRepository,
    RestoreError, ReversalError,
};
use crate::user::Actor;
use crate::{BoxError, StoreError, Tokens, UserId};

#[derive(Debug, thiserror::Error)]
pub enum BillingError {
    /// No payment provider is configured (`STRIPE_SECRET_KEY` unset).
    #[error("payments are not configured")]
    NotConfigured,
    #[error(transparent)]
    UnknownPackage(#[from] UnknownPackage),
    /// The client's idempotency key is too long to pass on to the provider.
    #[error(transparent)]
    IdempotencyKeyTooLong(#[from] ClientKeyTooLong),
    #[error("purchase not found")]
    PurchaseNotFound,
    #[error("the payment provider refused the request")]
    Rejected(String),
    #[error("service unavailable")]
    Unavailable(#[source] BoxError),
    #[error("unexpected error")]
    Unexpected(#[source] BoxError),
}

impl From<StoreError> for BillingError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(src) => Self::Unavailable(src),
            other @ (StoreError::Conflict(_) | StoreError::Unexpected(_)) => {
                Self::Unexpected(Box::new(other))
            }
        }
    }
}

impl From<BalanceError> for BillingError {
    fn from(e: BalanceError) -> Self {
        match e {
            BalanceError::Unavailable(src) => Self::Unavailable(src),
            // The purchase names its buyer: a missing one is not the caller's fault.
            other @ (BalanceError::UserNotFound | BalanceError::Unexpected(_)) => {
                Self::Unexpected(Box::new(other))
            }
        }
    }
}

impl From<PurchaseCreditError> for BillingError {
    fn from(e: PurchaseCreditError) -> Self {
        match e {
            PurchaseCreditError::Unavailable(src) => Self::Unavailable(src),
            // A package is never empty, and a balance this large is a bug.
            other @ (PurchaseCreditError::EmptyCredit
            | PurchaseCreditError::Overflow
            | PurchaseCreditError::Unexpected(_)) => Self::Unexpected(Box::new(other)),
        }
    }
}

impl From<ReversalError> for BillingError {
    fn from(e: ReversalError) -> Self {
        match e {
            ReversalError::Unavailable(src) => Self::Unavailable(src),
            other @ ReversalError::Unexpected(_) => Self::Unexpected(Box::new(other)),
        }
    }
}

impl From<RestoreError> for BillingError {
    fn from(e: RestoreError) -> Self {
        match e {
            RestoreError::Unavailable(src) => Self::Unavailable(src),
            other @ (RestoreError::Overflow | RestoreError::Unexpected(_)) => {
                Self::Unexpected(Box::new(other))
            }
        }
    }
}

impl From<PaymentError> for BillingError {
    fn from(e: PaymentError) -> Self {
        match e {
            PaymentError::Rejected(why) => Self::Rejected(why),
            PaymentError::Unavailable(src) => Self::Unavailable(src),
        }
    }
}

/// What handling one payment event did (for logs, metrics and the webhook reply).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventOutcome {
    Credited {
        tokens: Tokens,
    },
    AlreadyCredited,
    DuplicateEvent,
    /// Paid, but not what the metadata promised: nothing credited.
    Mismatch {
        reason: String,
    },
    Reversed {
        tokens: Tokens,
    },
    /// Credited and at once taken back: a refund or dispute of this payment
    /// had arrived first. `tokens` is what the reversal took.
    CreditedThenReversed {
        tokens: Tokens,
    },
    NothingToReverse,
    /// A dispute the merchant won: `tokens` is what it gave back of what the
    /// dispute took.
    Restored {
        tokens: Tokens,
    },
    /// A won dispute with nothing to give back (it took nothing, was won
    /// before, or the payment is not credited yet: then remembered).
    NothingToRestore,
    /// Paid by a user who no longer exists: nothing credited, the payment is
    /// recorded as orphaned for the operator to refund at Stripe.
    Orphaned,
    CheckoutFailed,
    Ignored,
}

/// What the success page polls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurchaseView {
    pub status: PurchaseStatus,
    pub tokens: Tokens,
    pub balance: Tokens,
}

/// Where the hosted checkout sends the buyer back to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnUrls {
    pub success_url: String,
    pub cancel_url: String,
}

impl ReturnUrls {
    /// `{base}/purchase/success?session_id={CHECKOUT_SESSION_ID}` and `{base}/purchase/cancel`.
    #[must_use]
    pub fn under(public_base_url: &str) -> Self {
        let base = public_base_url.trim_end_matches('/');
        Self {
            success_url: format!("{base}/purchase/success?session_id={{CHECKOUT_SESSION_ID}}"),
            cancel_url: format!("{base}/purchase/cancel"),
        }
    }
}

pub struct BillingService {
    gateway: Option<Arc<dyn PaymentGateway>>,
    ledger: Arc<dyn Ledger>,
    purchases: Arc<dyn PurchaseRepository>,
    return_urls: ReturnUrls,
}

impl BillingService {
    /// `gateway` is `None` when payments are not configured: purchases then
    /// fail with [`BillingError::NotConfigured`] and everything else works.
    pub fn new(
        gateway: Option<Arc<dyn PaymentGateway>>,
        ledger: Arc<dyn Ledger>,
        purchases: Arc<dyn PurchaseRepository>,
        return_urls: ReturnUrls,
    ) -> Self {
        Self {
            gateway,
            ledger,
            purchases,
            return_urls,
        }
    }

    #[must_use]
    pub fn packages() -> Vec<PackageView> {
        TokenPackage::ALL
            .into_iter()
            .map(TokenPackage::describe)
            .collect()
    }

    /// False when no payment provider is configured: purchases then answer
    /// [`BillingError::NotConfigured`].
    #[must_use]
    pub fn payments_enabled(&self) -> bool {
        self.gateway.is_some()
    }

    fn gateway(&self) -> Result<&Arc<dyn PaymentGateway>, BillingError> {
        self.gateway.as_ref().ok_or(BillingError::NotConfigured)
    }

    /// A PaymentIntent for `package`. The client's `idempotency_key` makes a
    /// retried request return the same intent; without one, each request is new.
    #[instrument(skip_all, fields(user_id = %actor.user, package))]
    pub async fn start_payment(
        &self,
        actor: &Actor,
        package: &str,
        idempotency_key: Option<&IdempotencyKey>,
    ) -> Result<PaymentIntentCreated, BillingError> {
        let package: TokenPackage = package.parse()?;
        let idempotency_key = ProviderIdempotencyKey::derive(
            PaymentRequestKind::PaymentIntent,
            actor.user,
            package,
            idempotency_key,
        )?;
        let gateway = self.gateway()?;
        let request = PaymentIntentRequest {
            user: actor.user,
            package,
            idempotency_key,
        };
        Ok(gateway.create_payment_intent(&request).await?)
    }

    /// A hosted checkout for `package`, tracked as a pending purchase.
    #[instrument(skip_all, fields(user_id = %actor.user))]
    pub async fn start_checkout(
        &self,
        actor: &Actor,
        email: Option<String>,
        package: &str,
        idempotency_key: Option<&IdempotencyKey>,
    ) -> Result<CheckoutCreated, BillingError> {
        let return_urls = self.return_urls.clone();
        self.start_checkout_returning(actor, email, package, idempotency_key, return_urls)
            .await
    }

    /// A checkout a registered app starts for its user: the same purchase
    /// and exactly-once fulfilment, with Stripe sending the user back to
    /// `return_url` (one of the app's registered URLs) with
    /// `askgate_checkout=success&session_id=…` or `askgate_checkout=cancel`.
    pub async fn start_app_checkout(
        &self,
        actor: &Actor,
        email: Option<String>,
        package: &str,
        return_url: &ReturnUrl,
    ) -> Result<CheckoutCreated, BillingError> {
        let base = return_url.as_str();
        let join = if base.contains('?') { '&' } else { '?' };
        let return_urls = ReturnUrls {
            success_url: format!(
                "{base}{join}askgate_checkout=success&session_id={{CHECKOUT_SESSION_ID}}"
            ),
            cancel_url: format!("{base}{join}askgate_checkout=cancel"),
        };
        self.start_checkout_returning(actor, email, package, None, return_urls)
            .await
    }

    async fn start_checkout_returning(
        &self,
        actor: &Actor,
        email: Option<String>,
        package: &str,
        idempotency_key: Option<&IdempotencyKey>,
        return_urls: ReturnUrls,
    ) -> Result<CheckoutCreated, BillingError> {
        let package: TokenPackage = package.parse()?;
        let idempotency_key = ProviderIdempotencyKey::derive(
            PaymentRequestKind::Checkout,
            actor.user,
            package,
            idempotency_key,
        )?;
        let gateway = self.gateway()?;
        let request = CheckoutRequest {
            user: actor.user,
            email,
            package,
            success_url: return_urls.success_url,
            cancel_url: return_urls.cancel_url,
            idempotency_key,
        };
        let created = gateway.create_checkout(&request).await?;
        self.purchases
            .record(&Purchase {
                checkout_session_id: created.id.clone(),
                user: actor.user,
                package,
                payment_intent_id: None,
                status: PurchaseStatus::Pending,
            })
            .await?;
        Ok(created)
    }

    /// The state of a checkout the actor started; someone else's is `PurchaseNotFound`.
    pub async fn purchase(
        &self,
        actor: &Actor,
        checkout_session_id: &str,
    ) -> Result<PurchaseView, BillingError> {
        // No checkout has an id that is not one.
        let checkout_session_id = CheckoutSessionId::parse(checkout_session_id)
            .map_err(|_| BillingError::PurchaseNotFound)?;
        let purchase = self
            .purchases
            .get(&checkout_session_id)
            .await?
            .filter(|p| p.user == actor.user)
            .ok_or(BillingError::PurchaseNotFound)?;
        let balance = self.ledger.balance(actor.user).await?;
        Ok(PurchaseView {
            status: purchase.status,
            tokens: purchase.package.tokens(),
            balance,
        })
    }

    /// Applies one verified payment event. Safe to call any number of times,
    /// concurrently, in any order: a payment is credited at most once.
    #[instrument(skip_all)]
    pub async fn handle(&self, event: PaymentEvent) -> Result<EventOutcome, BillingError> {
        match event {
            PaymentEvent::Paid(payment) => self.credit(payment).await,
            PaymentEvent::CheckoutFailed {
                checkout_session_id,
                ..
            } => {
                self.purchases.mark_failed(&checkout_session_id).await?;
                Ok(EventOutcome::CheckoutFailed)
            }
            PaymentEvent::Refunded {
                event_id,
                payment_intent_id,
                share,
            } => {
                self.reverse(
                    Some(event_id),
                    payment_intent_id,
                    ReversalCause::Refund,
                    share,
                )
                .await
            }
            PaymentEvent::Disputed {
                event_id,
                payment_intent_id,
            } => {
                self.reverse(
                    Some(event_id),
                    payment_intent_id,
                    ReversalCause::Dispute,
                    None,
                )
                .await
            }
            PaymentEvent::DisputeWon {
                event_id,
                payment_intent_id,
            } => self.restore(Some(event_id), payment_intent_id).await,
            PaymentEvent::Ignored { event_type, .. } => {
                tracing::debug!(%event_type, "payment event ignored");
                Ok(EventOutcome::Ignored)
            }
        }
    }

    async fn credit(&self, payment: PaidPayment) -> Result<EventOutcome, BillingError> {
        let (user, package) = match check_payment(&payment) {
            Ok(ok) => ok,
            Err(reason) => {
                warn!(payment_intent = %payment.payment_intent_id, %reason, "paid amount does not match a package: nothing credited");
                return Ok(EventOutcome::Mismatch { reason });
            }
        };
        let credit = PurchaseCredit {
            user,
            payment_intent_id: payment.payment_intent_id.clone(),
            tokens: package.tokens(),
            event_id: payment.event_id.clone(),
            metadata: serde_json::json!({
                "package": package.id(),
                "amount_cents": payment.amount_cents,
                "currency": payment.currency,
                "checkout_session_id": payment.checkout_session_id,
            }),
        };
        let outcome = match self.ledger.credit_purchase(&credit).await? {
            PaymentOutcome::Applied(entry) => {
                info!(user_id = %user, tokens = %package.tokens(), balance = %entry.balance_after, "purchase credited");
                EventOutcome::Credited {
                    tokens: package.tokens(),
                }
            }
            PaymentOutcome::AppliedThenReversed { credit, reversal } => {
                let taken = reversal.map_or(Tokens::ZERO, |r| taken_by(&r));
                warn!(user_id = %user, payment_intent = %payment.payment_intent_id, credited = credit.amount, %taken, "payment credited after its refund or dispute: taken back at once");
                EventOutcome::CreditedThenReversed { tokens: taken }
            }
            PaymentOutcome::AlreadyApplied | PaymentOutcome::NothingToDo => {
                EventOutcome::AlreadyCredited
            }
            PaymentOutcome::Orphaned { .. } => {
                error!(user_id = %user, payment_intent = %payment.payment_intent_id, tokens = %package.tokens(), "paid purchase for a user who no longer exists: nothing credited, refund it at Stripe");
                EventOutcome::Orphaned
            }
            PaymentOutcome::DuplicateEvent => EventOutcome::DuplicateEvent,
        };
        if let Some(checkout) = &payment.checkout_session_id {
            self.purchases
                .attach_payment(checkout, &payment.payment_intent_id)
                .await?;
        }
        Ok(outcome)
    }

    async fn reverse(
        &self,
        event_id: Option<StripeEventId>,
        payment_intent_id: PaymentIntentId,
        cause: ReversalCause,
        share: Option<RefundShare>,
    ) -> Result<EventOutcome, BillingError> {
        let reason = match cause {
            ReversalCause::Refund => "refund",
            ReversalCause::Dispute => "dispute",
        };
        let reversal = PurchaseReversal {
            payment_intent_id,
            event_id,
            reason: reason.to_owned(),
            cause,
            share,
        };
        Ok(match self.ledger.reverse_purchase(&reversal).await? {
            PaymentOutcome::Applied(entry) => EventOutcome::Reversed {
                tokens: taken_by(&entry),
            },
            PaymentOutcome::AlreadyApplied
            | PaymentOutcome::NothingToDo
            | PaymentOutcome::AppliedThenReversed { .. }
            | PaymentOutcome::Orphaned { .. } => EventOutcome::NothingToReverse,
            PaymentOutcome::DuplicateEvent => EventOutcome::DuplicateEvent,
        })
    }

    async fn restore(
        &self,
        event_id: Option<StripeEventId>,
        payment_intent_id: PaymentIntentId,
    ) -> Result<EventOutcome, BillingError> {
        let won = DisputeWon {
            payment_intent_id,
            event_id,
        };
        Ok(match self.ledger.restore_disputed(&won).await? {
            PaymentOutcome::Applied(entry) => {
                info!(user_id = %entry.user_id, payment_intent = %won.payment_intent_id, tokens = entry.amount, "dispute won: tokens given back");
                EventOutcome::Restored {
                    tokens: Tokens::new(i64::from(entry.amount)).unwrap_or(Tokens::ZERO),
                }
            }
            PaymentOutcome::DuplicateEvent => EventOutcome::DuplicateEvent,
            PaymentOutcome::AlreadyApplied
            | PaymentOutcome::NothingToDo
            | PaymentOutcome::AppliedThenReversed { .. }
            | PaymentOutcome::Orphaned { .. } => EventOutcome::NothingToRestore,
        })
    }

    /// Credits every succeeded payment since `since` that was missed, through
    /// the same exactly-once path as the webhook, and applies the refunds and
    /// disputes Stripe shows for it that no webhook brought: those first, so
    /// a payment credited now is taken back in the credit's own transaction
    /// and a refunded or disputed payment never leaves spendable tokens.
    pub async fn reconcile(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<(PaymentIntentId, EventOutcome)>, BillingError> {
        let payments = self.gateway()?.succeeded_payments_since(since).await?;
        let mut report = Vec::with_capacity(payments.len());
        for payment in payments {
            let id = payment.payment_intent_id.clone();
            let standing = payment.standing;
            let mut taken_back = None;
            if let Some(share) = standing.refunded {
                let share = (share.refunded_cents < share.paid_cents).then_some(share);
                let outcome = self
                    .reverse(None, id.clone(), ReversalCause::Refund, share)
                    .await?;
                taken_back = add_reversed(taken_back, outcome);
            }
            match standing.dispute {
                Some(DisputeStatus::Open | DisputeStatus::Lost) => {
                    let outcome = self
                        .reverse(None, id.clone(), ReversalCause::Dispute, None)
                        .await?;
                    taken_back = add_reversed(taken_back, outcome);
                }
                Some(DisputeStatus::Won) => {
                    let outcome = self.restore(None, id.clone()).await?;
                    if matches!(outcome, EventOutcome::Restored { .. }) {
                        taken_back = Some(outcome);
                    }
                }
                None => {}
            }
            let credited = self
                .credit(PaidPayment {
                    event_id: None,
                    ..payment
                })
                .await?;
            // What changed the balance is what the operator needs to read.
            let outcome = match (credited, taken_back) {
                (EventOutcome::AlreadyCredited, Some(reversed)) => reversed,
                (credited, _) => credited,
            };
            report.push((id, outcome));
        }
        Ok(report)
    }
}

/// The tokens two reversals of one payment took, as one outcome.
fn add_reversed(before: Option<EventOutcome>, now: EventOutcome) -> Option<EventOutcome> {
    match (before, now) {
        (Some(EventOutcome::Reversed { tokens: a }), EventOutcome::Reversed { tokens: b }) => {
            Some(EventOutcome::Reversed {
                tokens: a.checked_add(b).unwrap_or(a),
            })
        }
        (None, now @ EventOutcome::Reversed { .. }) => Some(now),
        (before, _) => before,
    }
}

/// The tokens a `reversal` row took (its amount is negative).
fn taken_by(entry: &LedgerEntry) -> Tokens {
    Tokens::new(-i64::from(entry.amount)).unwrap_or(Tokens::ZERO)
}

/// The buyer and package of a payment, or why it cannot be credited.
fn check_payment(payment: &PaidPayment) -> Result<(UserId, TokenPackage), String> {
    let user = payment.user.ok_or("no user_id in the payment's metadata")?;
    let package: TokenPackage = payment
        .package
        .as_deref()
        .ok_or("no package in the payment's metadata")?
        .parse()
        .map_err(|_| "unknown package in the payment's metadata")?;
    if !package.is_paid_by(payment.amount_cents, &payment.currency) {
        return Err(format!(
            "paid {} {} but package {} costs {} usd",
            payment.amount_cents,
            payment.currency,
            package.id(),
            package.amount_cents()
        ));
    }
    Ok((user, package))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payment::PaymentStanding;
    use crate::ports::{MockLedger, MockPaymentGateway, MockPurchaseRepository};
    use crate::user::Role;

    fn paid(amount_cents: i64, package: &str) -> PaidPayment {
        PaidPayment {
            event_id: Some(StripeEventId::parse("evt_1").unwrap()),
            payment_intent_id: PaymentIntentId::parse("pi_1").unwrap(),
            checkout_session_id: None,
            user: Some(UserId::generate()),
            package: Some(package.into()),
            amount_cents,
            currency: "usd".into(),
            created_at: None,
            standing: PaymentStanding::default(),
        }
    }

    fn service(ledger: MockLedger, gateway: Option<MockPaymentGateway>) -> BillingService {
        BillingService::new(
            gateway.map(|g| Arc::new(g) as Arc<dyn PaymentGateway>),
            Arc::new(ledger),
            Arc::new(MockPurchaseRepository::new()),
            ReturnUrls::under("http://127.0.0.1:8080/"),
        )
    }

    #[tokio::test]
    async fn a_payment_that_does_not_match_its_package_credits_nothing() {
        let mut ledger = MockLedger::new();
        ledger.expect_credit_purchase().never();
        let svc = service(ledger, None);
        for payment in [
            paid(499, "100"),
            paid(500, "250"),
            paid(500, "bogus"),
            PaidPayment {
                currency: "eur".into(),
                ..paid(500, "100")
            },
            PaidPayment {
                user: None,
                ..paid(500, "100")
            },
        ] {
            assert!(matches!(
                svc.handle(PaymentEvent::Paid(payment)).await.unwrap(),
                EventOutcome::Mismatch { .. }
            ));
        }
    }

    #[tokio::test]
    async fn a_matching_payment_credits_the_package_tokens_keyed_by_payment() {
        let mut ledger = MockLedger::new();
        ledger
            .expect_credit_purchase()
            .withf(|c| {
                c.tokens.get() == 250
                    && c.payment_intent_id.as_str() == "pi_1"
                    && c.event_id.as_ref().map(StripeEventId::as_str) == Some("evt_1")
            })
            .times(1)
            .returning(|_| Ok(PaymentOutcome::DuplicateEvent));
        let outcome = service(ledger, None)
            .handle(PaymentEvent::Paid(paid(1000, "250")))
            .await
            .unwrap();
        assert_eq!(outcome, EventOutcome::DuplicateEvent);
    }

    #[tokio::test]
    async fn purchases_without_a_payment_provider_are_not_configured() {
        let svc = service(MockLedger::new(), None);
        let actor = Actor {
            user: UserId::generate(),
            role: Role::User,
        };
        assert!(matches!(
            svc.start_payment(&actor, "100", None).await,
            Err(BillingError::NotConfigured)
        ));
    }

    #[tokio::test]
    async fn unknown_packages_are_refused_before_calling_the_provider() {
        let mut gateway = MockPaymentGateway::new();
        gateway.expect_create_payment_intent().never();
        let svc = service(MockLedger::new(), Some(gateway));
        let actor = Actor {
            user: UserId::generate(),
            role: Role::User,
        };
        assert!(matches!(
            svc.start_payment(&actor, "99", None).await,
            Err(BillingError::UnknownPackage(_))
        ));
    }

    #[test]
    fn return_urls_carry_the_checkout_placeholder() {
        let urls = ReturnUrls::under("https://askgate.example.com/");
        assert_eq!(
            urls.success_url,
            "https://askgate.example.com/purchase/success?session_id={CHECKOUT_SESSION_ID}"
        );
        assert_eq!(
            urls.cancel_url,
            "https://askgate.example.com/purchase/cancel"
        );
    }
}
