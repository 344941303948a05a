//! Buying tokens.

use askgate_domain::package::PackageView as Package;
use askgate_domain::payment::{CheckoutCreated, PaymentIntentCreated, PurchaseStatus};
use askgate_domain::services::{EventOutcome, PurchaseView as Purchase};
use serde::Serialize;

/// A token package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = TokenPackage)]
pub struct PackageView {
    /// What to send as `package`: `"100"`, `"250"` or `"600"`.
    pub id: &'static str,
    pub tokens: i32,
    pub amount_cents: i64,
    pub currency: &'static str,
    pub display_price: String,
}

impl From<&Package> for PackageView {
    fn from(p: &Package) -> Self {
        Self {
            id: p.id,
            tokens: p.tokens.get(),
            amount_cents: p.amount_cents,
            currency: p.currency,
            display_price: p.display_price.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = TokenPackages)]
pub struct PackagesView {
    pub packages: Vec<PackageView>,
}

impl From<&[Package]> for PackagesView {
    fn from(packages: &[Package]) -> Self {
        Self {
            packages: packages.iter().map(PackageView::from).collect(),
        }
    }
}

/// A Stripe PaymentIntent for the browser to confirm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = PaymentIntentCreated)]
pub struct PaymentIntentView {
    pub payment_intent_id: String,
    pub client_secret: String,
}

impl From<&PaymentIntentCreated> for PaymentIntentView {
    fn from(created: &PaymentIntentCreated) -> Self {
        Self {
            payment_intent_id: created.payment_intent_id.as_str().to_owned(),
            client_secret: created.client_secret.clone(),
        }
    }
}

/// A Stripe-hosted checkout page to send the browser to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = CheckoutCreated)]
pub struct CheckoutView {
    pub id: String,
    pub url: String,
}

impl From<&CheckoutCreated> for CheckoutView {
    fn from(created: &CheckoutCreated) -> Self {
        Self {
            id: created.id.as_str().to_owned(),
            url: created.url.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = PurchaseStatus)]
#[serde(rename_all = "lowercase")]
pub enum PurchaseStatusView {
    Pending,
    Credited,
    Failed,
}

impl From<PurchaseStatus> for PurchaseStatusView {
    fn from(status: PurchaseStatus) -> Self {
        match status {
            PurchaseStatus::Pending => Self::Pending,
            PurchaseStatus::Credited => Self::Credited,
            PurchaseStatus::Failed => Self::Failed,
        }
    }
}

/// A purchase the caller started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = Purchase)]
pub struct PurchaseView {
    pub status: PurchaseStatusView,
    pub tokens: i32,
    pub balance: i32,
}

impl From<&Purchase> for PurchaseView {
    fn from(p: &Purchase) -> Self {
        Self {
            status: p.status.into(),
            tokens: p.tokens.get(),
            balance: p.balance.get(),
        }
    }
}

// What Stripe is told about an event it sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = WebhookReceived)]
pub struct WebhookReceivedView {
    pub received: bool,
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl From<&EventOutcome> for WebhookReceivedView {
    fn from(outcome: &EventOutcome) -> Self {
        let (name, tokens, reason) = match outcome {
            EventOutcome::Credited { tokens } => ("credited", Some(tokens.get()), None),
            EventOutcome::AlreadyCredited => ("already_credited", None, None),
            EventOutcome::DuplicateEvent => ("duplicate_event", None, None),
            EventOutcome::Mismatch { reason } => ("mismatch", None, Some(reason.clone())),
            EventOutcome::Reversed { tokens } => ("reversed", Some(tokens.get()), None),
            EventOutcome::CreditedThenReversed { tokens } => {
                ("credited_then_reversed", Some(tokens.get()), None)
            }
            EventOutcome::NothingToReverse => ("nothing_to_reverse", None, None),
            EventOutcome::Restored { tokens } => ("restored", Some(tokens.get()), None),
            EventOutcome::NothingToRestore => ("nothing_to_restore", None, None),
            EventOutcome::Orphaned => ("orphaned", None, None),
            EventOutcome::CheckoutFailed => ("checkout_failed", None, None),
            EventOutcome::Ignored => ("ignored", None, None),
        };
        Self {
            received: true,
            outcome: name,
            tokens,
            reason,
        }
    }
}
