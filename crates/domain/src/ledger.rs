//! The token ledger: entry kinds, requests the `Ledger` port takes, and the pure
//! rules every implementation must keep.
//!
//! **Invariant**: for every user at every moment, `balance = Σ amount` over the
//! user's entries, and `balance ≥ 0`. Entries are append-only.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use crate::newtype::string_newtype;
use crate::payment::{PaymentIntentId, StripeEventId};
use crate::{DomainId, Tokens, TransactionId, UserId};

/// Why a ledger row exists (`transactions.transaction_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// Tokens bought through Stripe (+).
    Purchase,
    /// One chat request (−1).
    Consumption,
    /// A consumption given back because the upstream failed (+1).
    Refund,
    /// Tokens given by an operator (+).
    Grant,
    /// An operator's correction, or the tokens a dispute took given back
    /// when the merchant won it (+).
    Adjustment,
    /// Purchased tokens taken back after a Stripe refund or dispute (−).
    Reversal,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown ledger entry kind")]
pub struct EntryKindParseError;

impl EntryKind {
    pub const ALL: [Self; 6] = [
        Self::Purchase,
        Self::Consumption,
        Self::Refund,
        Self::Grant,
        Self::Adjustment,
        Self::Reversal,
    ];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Purchase => "purchase",
            Self::Consumption => "consumption",
            Self::Refund => "refund",
            Self::Grant => "grant",
            Self::Adjustment => "adjustment",
            Self::Reversal => "reversal",
        }
    }
}

impl FromStr for EntryKind {
    type Err = EntryKindParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or(EntryKindParseError)
    }
}

impl fmt::Display for EntryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a consumption paid for: one of the AI services, or a registered app
/// (named in the row's metadata). Chats are only ever `AskAtt` or `AskDocs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceType {
    AskAtt,
    AskDocs,
    /// Spent by a registered app through the credits API.
    App,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("service must be 'askatt', 'askdocs' or 'app'")]
pub struct ServiceTypeParseError;

impl ServiceType {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AskAtt => "askatt",
            Self::AskDocs => "askdocs",
            Self::App => "app",
        }
    }
}

impl FromStr for ServiceType {
    type Err = ServiceTypeParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "askatt" => Ok(Self::AskAtt),
            "askdocs" => Ok(Self::AskDocs),
            "app" => Ok(Self::App),
            _ => Err(ServiceTypeParseError),
        }
    }
}

impl fmt::Display for ServiceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

string_newtype! {
    /// A client- or system-chosen key that makes an operation happen at most once.
    ///
    /// 1–255 printable ASCII characters (what the `Idempotency-Key` header allows).
    pub struct IdempotencyKey(String), check = IdempotencyKeyError;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("idempotency key must be 1 to 255 printable ASCII characters")]
pub struct IdempotencyKeyError;

impl IdempotencyKey {
    fn check(raw: &str) -> Result<(), IdempotencyKeyError> {
        let ok =
            !raw.is_empty() && raw.len() <= 255 && raw.bytes().all(|b| (0x21..=0x7e).contains(&b));
        if ok { Ok(()) } else { Err(IdempotencyKeyError) }
    }

    /// The ledger key under which a Stripe payment is credited: one credit per payment.
    #[must_use]
    pub fn for_payment(payment_intent_id: &PaymentIntentId) -> Self {
        Self(format!("purchase:{payment_intent_id}"))
    }

    /// The ledger key of the reversal of a Stripe payment: at most one per payment.
    #[must_use]
    pub fn for_reversal(payment_intent_id: &PaymentIntentId) -> Self {
        Self(format!("reversal:{payment_intent_id}"))
    }

    /// The ledger key of a later reversal of the same payment (after a partial
    /// refund), which brings what the payment owes back up to `due` tokens.
    #[must_use]
    pub fn for_reversal_up_to(payment_intent_id: &PaymentIntentId, due: i32) -> Self {
        Self(format!("reversal:{payment_intent_id}:{due}"))
    }

    /// The ledger key of a reversal of the same payment after its dispute was
    /// won and given back (the keys before it are taken).
    #[must_use]
    pub fn for_reversal_after_dispute_won(payment_intent_id: &PaymentIntentId, due: i32) -> Self {
        Self(format!(
            "reversal:{payment_intent_id}:{due}:after-dispute-won"
        ))
    }

    /// The ledger key of what a won dispute gives back: at most once per payment.
    #[must_use]
    pub fn for_dispute_won(payment_intent_id: &PaymentIntentId) -> Self {
        Self(format!("dispute-won:{payment_intent_id}"))
    }
}

/// One ledger row as stored (`transactions`).
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerEntry {
    pub id: TransactionId,
    pub user_id: UserId,
    pub kind: EntryKind,
    /// Positive adds tokens, negative removes them.
    pub amount: i32,
    pub balance_after: Tokens,
    pub stripe_payment_intent_id: Option<String>,
    pub idempotency_key: Option<String>,
    pub service_type: Option<ServiceType>,
    pub domain_id: Option<DomainId>,
    pub metadata: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// Kinds of credit an operator or the system can make with [`CreditRequest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreditKind {
    Grant,
    Adjustment,
}

impl From<CreditKind> for EntryKind {
    fn from(k: CreditKind) -> Self {
        match k {
            CreditKind::Grant => Self::Grant,
            CreditKind::Adjustment => Self::Adjustment,
        }
    }
}

/// Add tokens exactly once per idempotency key.
#[derive(Debug, Clone, PartialEq)]
pub struct CreditRequest {
    pub user: UserId,
    pub kind: CreditKind,
    /// Must be at least 1.
    pub amount: Tokens,
    pub idempotency_key: IdempotencyKey,
    pub metadata: serde_json::Value,
}

/// Credit a paid Stripe purchase: once per payment intent, whichever event says so first.
#[derive(Debug, Clone, PartialEq)]
pub struct PurchaseCredit {
    pub user: UserId,
    pub payment_intent_id: PaymentIntentId,
    pub tokens: Tokens,
    /// The Stripe event that announced the payment; recorded in the same transaction.
    pub event_id: Option<StripeEventId>,
    pub metadata: serde_json::Value,
}

/// Take back the still-unspent tokens of a refunded or disputed purchase, never
/// below zero. The shortfall is recorded in metadata. A payment gives back at most
/// its purchased tokens in all: a partial refund takes its pro-rata share, a
/// later (larger) refund or a dispute only what is due on top.
#[derive(Debug, Clone, PartialEq)]
pub struct PurchaseReversal {
    pub payment_intent_id: PaymentIntentId,
    pub event_id: Option<StripeEventId>,
    pub reason: String,
    /// A refund (which stands) or a dispute (which a won outcome undoes).
    pub cause: ReversalCause,
    /// `None`: the whole purchase (a full refund, a dispute).
    pub share: Option<RefundShare>,
}

/// Why a purchase is taken back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReversalCause {
    /// The merchant refunded the payment, fully or partly: final.
    Refund,
    /// The buyer disputed the payment (opened, or closed lost). If the merchant
    /// wins it later, what the dispute took is given back.
    Dispute,
}

/// A dispute of a payment closed in the merchant's favour: what the dispute
/// took is given back (once), whenever it arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisputeWon {
    pub payment_intent_id: PaymentIntentId,
    /// The Stripe event that said so; `None` when found by reconciliation.
    pub event_id: Option<StripeEventId>,
}

/// How much of a charge has been refunded so far (Stripe's `amount_refunded`,
/// cumulative over the charge's refunds) out of what was paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefundShare {
    pub refunded_cents: i64,
    pub paid_cents: i64,
}

impl RefundShare {
    /// The tokens of a `purchased`-token purchase that this share gives back:
    /// `floor(purchased × refunded ÷ paid)`, within `0..=purchased`.
    #[must_use]
    pub fn tokens_of(self, purchased: i32) -> i32 {
        if self.paid_cents <= 0 || self.refunded_cents >= self.paid_cents {
            return purchased;
        }
        let refunded = i128::from(self.refunded_cents.max(0));
        let due = i128::from(purchased) * refunded / i128::from(self.paid_cents);
        i32::try_from(due).unwrap_or(purchased).clamp(0, purchased)
    }
}

/// The tokens `share` gives back of a `purchased`-token purchase (`None`: all).
#[must_use]
pub fn tokens_due(share: Option<RefundShare>, purchased: i32) -> i32 {
    share.map_or(purchased, |s| s.tokens_of(purchased))
}

/// Result of an operation that happens at most once.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    /// This call wrote the row.
    Applied(LedgerEntry),
    /// An earlier call already did; here is the row it wrote. Nothing changed.
    Duplicate(LedgerEntry),
}

impl Recorded {
    #[must_use]
    pub fn entry(&self) -> &LedgerEntry {
        match self {
            Self::Applied(e) | Self::Duplicate(e) => e,
        }
    }

    #[must_use]
    pub const fn was_applied(&self) -> bool {
        matches!(self, Self::Applied(_))
    }
}

/// Result of a Stripe-driven ledger operation.
#[derive(Debug, Clone, PartialEq)]
pub enum PaymentOutcome {
    /// This call changed the balance.
    Applied(LedgerEntry),
    /// The payment was already credited (or reversed) under another event; nothing changed.
    AlreadyApplied,
    /// This exact Stripe event was processed before; nothing changed.
    DuplicateEvent,
    /// Nothing changed the balance (e.g. a reversal for a payment not credited
    /// yet, which is remembered for the credit).
    NothingToDo,
    /// The credit was applied and, because a refund or dispute of the payment
    /// arrived before it, taken back in the same transaction. `reversal` is
    /// `None` when the payment had been reversed already.
    AppliedThenReversed {
        credit: LedgerEntry,
        reversal: Option<LedgerEntry>,
    },
    /// The buyer no longer exists: nothing credited, and the payment is
    /// recorded as orphaned (the final outcome: retrying cannot fix it).
    /// `first` is true for the call that recorded it.
    Orphaned { first: bool },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refund_share_gives_back_the_floor_of_its_pro_rata_tokens() {
        let share = |refunded_cents, paid_cents| RefundShare {
            refunded_cents,
            paid_cents,
        };
        assert_eq!(share(500, 2000).tokens_of(600), 150);
        assert_eq!(share(333, 1000).tokens_of(250), 83);
        assert_eq!(share(1, 2000).tokens_of(600), 0);
        assert_eq!(share(2000, 2000).tokens_of(600), 600);
        assert_eq!(share(5000, 2000).tokens_of(600), 600);
        assert_eq!(tokens_due(None, 600), 600);
    }

    #[test]
    fn idempotency_keys_are_printable_ascii() {
        assert!(IdempotencyKey::parse("abc-123_XYZ").is_ok());
        assert!(IdempotencyKey::parse("").is_err());
        assert!(IdempotencyKey::parse("has space").is_err());
        assert!(IdempotencyKey::parse(&"k".repeat(256)).is_err());
    }
}
