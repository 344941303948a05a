use std::time::Duration;

use async_trait::async_trait;

use crate::api_key::KeyRef;
use crate::conversation::ChatMessage;
use crate::ledger::{IdempotencyKey, ServiceType};
use crate::ports::StoredReply;
use crate::{BoxError, ChargeId, ConversationId, DomainId, StoreError, Tokens, UserId};

/// A chat's request to hold one token.
#[derive(Debug, Clone, PartialEq)]
pub struct Reservation<'a> {
    pub charge: ChargeId,
    pub user: UserId,
    pub service: ServiceType,
    pub domain: Option<DomainId>,
    /// The conversation the exchange will be recorded in (new or existing);
    /// named in the consumption row.
    pub conversation: ConversationId,
    /// The client's `Idempotency-Key` and the canonical text of its request
    /// (adapters store a hash of it).
    pub idempotency: Option<(&'a IdempotencyKey, &'a str)>,
    /// The personal API key the chat came with: its id and prefix go in the
    /// consumption row's metadata.
    pub api_key: Option<&'a KeyRef>,
}

/// What [`Charges::reserve`] decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Reserved {
    /// One token is held: the charge is pending until settled or refunded.
    Held { balance_after: Tokens },
    /// The key's request finished earlier: its stored reply, replayed free.
    Replay(StoredReply),
    /// A request with this key is still running (after waiting for it).
    InProgress,
    /// The key was used with a different request.
    Mismatch,
}

/// Why no token could be held.
#[derive(Debug, thiserror::Error)]
pub enum ReserveError {
    #[error("insufficient tokens (balance {balance})")]
    InsufficientTokens { balance: Tokens },
    #[error("user not found")]
    UserNotFound,
    #[error("charges unavailable")]
    Unavailable(#[source] BoxError),
    #[error("unexpected charge error")]
    Unexpected(#[source] BoxError),
}

impl From<StoreError> for ReserveError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(src) => Self::Unavailable(src),
            other @ (StoreError::Conflict(_) | StoreError::Unexpected(_)) => {
                Self::Unexpected(Box::new(other))
            }
        }
    }
}

/// Where a settled exchange is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExchangeTarget {
    /// A conversation started by this exchange (the id the reservation named).
    New(ConversationId),
    /// A conversation the user already owns.
    Existing(ConversationId),
}

/// A held charge's answer, to record.
#[derive(Debug, Clone, PartialEq)]
pub struct Settlement<'a> {
    pub charge: ChargeId,
    pub user: UserId,
    pub service: ServiceType,
    pub domain: Option<DomainId>,
    pub target: ExchangeTarget,
    pub question: &'a ChatMessage,
    pub answer: &'a str,
    /// The reply stored under the request's `Idempotency-Key`, if it had one.
    pub idempotency: Option<(&'a IdempotencyKey, &'a StoredReply)>,
    /// How the answer ended, which decides what becomes of the token.
    pub end: AnswerEnd<'a>,
}

/// How an answer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerEnd<'a> {
    /// The upstream finished it: the token is spent.
    Complete,
    /// The client went away after part of it reached them: the part is kept,
    /// marked interrupted, and the token is spent (they had the answer's start,
    /// and the upstream's work up to there).
    ClientLeft,
    /// The upstream broke off after part of it reached the client: the part is
    /// kept, marked interrupted, and the token given back with a `refund` row
    /// whose metadata carries `reason` (the user did not get a full answer).
    BrokenOff { reason: &'a str },
}

impl AnswerEnd<'_> {
    /// Whether the answer was cut short.
    #[must_use]
    pub const fn is_interrupted(&self) -> bool {
        !matches!(self, Self::Complete)
    }
}

/// What became of the charge when its answer was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettleOutcome {
    /// The token is spent on this answer.
    Charged,
    /// The answer was recorded and its token given back, as
    /// [`AnswerEnd::BrokenOff`] asked; the balance after the refund.
    Refunded { balance_after: Tokens },
    /// The charge was refunded first (recovered, its request thought dead):
    /// the answer was free.
    AlreadyRefunded,
    /// No such charge: its reservation never committed (the connection broke
    /// between the reservation's answer and its commit). Nothing was charged,
    /// so the answer must not be given.
    NeverReserved,
}

/// What [`Charges::settle`] recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settled {
    pub outcome: SettleOutcome,
    /// Where the exchange went; `None` when an existing conversation is no
    /// longer the user's, or the charge was never reserved.
    pub conversation: Option<ConversationId>,
}

/// A charge refunded because the process answering it stopped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecoveredCharge {
    pub charge: ChargeId,
    pub user: UserId,
    pub pending_for: Duration,
}

/// The lifecycle of a chat's token: reserve → settle, or reserve → refund.
///
/// A charge that is never settled nor refunded (the process died) is refunded
/// by [`Charges::recover`]: no token is ever kept for an answer nobody got.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Charges: Send + Sync {
    /// Holds one token: the debit, its `consumption` row, the pending charge
    /// and the `Idempotency-Key` claim, in one round trip. One conditional
    /// statement decides the debit, so no number of concurrent calls can
    /// overspend. When another request holds the key, waits up to `wait` for it
    /// to finish, then answers `Replay` (it settled), holds the token itself (it
    /// was refunded or recovered) or `InProgress` (still running).
    /// MUST return `InsufficientTokens { balance }` when the balance is 0 (and
    /// leave no claim behind), `UserNotFound` for an unknown user.
    async fn reserve<'a>(
        &self,
        reservation: &Reservation<'a>,
        wait: Duration,
    ) -> Result<Reserved, ReserveError>;

    /// Records the exchange, marks the charge settled and stores the reply
    /// under the key, in one round trip; or, for an answer the upstream broke
    /// off ([`AnswerEnd::BrokenOff`]), records it and refunds the charge in the
    /// same transaction (never one without the other), releasing the key. The reply MUST come back from
    /// `reserve` as `Replay` exactly as given, version and body. Safe to repeat: adapters retry it
    /// when a connection breaks, and a repeat records nothing twice.
    async fn settle<'a>(&self, settlement: &Settlement<'a>) -> Result<Settled, StoreError>;

    /// Gives the held token back with a `refund` row whose metadata carries
    /// `reason`, and releases the key so a retry runs again. `Ok(None)` when the
    /// charge was not pending (settled or refunded already): nothing changes.
    /// Safe to repeat, so adapters retry it when a connection breaks.
    async fn refund(&self, charge: ChargeId, reason: &str) -> Result<Option<Tokens>, StoreError>;

    /// Refunds up to `limit` charges pending for longer than `older_than`
    /// (reason `recovered`), skipping charges another instance is recovering.
    async fn recover(
        &self,
        older_than: Duration,
        limit: u32,
    ) -> Result<Vec<RecoveredCharge>, StoreError>;
}
