//! The credits API: a registered app reads a user's balance, spends their
//! tokens (idempotently, within its scopes and daily limit) and refunds what
//! it spent, on the same ledger as chats.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tracing::instrument;

use crate::api_key::KeyRef;
use crate::app::{App, AppScope};
use crate::ledger::IdempotencyKey;
use crate::ports::{AppConsumption, AppLedger, AppRefundOutcome, AppSpend, SpendOutcome};
use crate::{BoxError, StoreError, Tokens, TransactionId, UserId};

/// How much one call may spend.
pub const MAX_CONSUME: i32 = 100;

/// How long an app may refund what it spent.
pub const REFUND_WINDOW: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, thiserror::Error)]
pub enum AppCreditError {
    #[error("the app lacks the '{0}' scope")]
    MissingScope(AppScope),
    #[error("amount must be 1 to {MAX_CONSUME}")]
    InvalidAmount,
    #[error("reason must be 1 to 200 characters without control characters")]
    InvalidReason,
    #[error("the idempotency key was used for another request")]
    IdempotencyMismatch,
    #[error("insufficient tokens (balance {balance})")]
    InsufficientTokens { balance: Tokens },
    #[error(
        "this app may spend at most {limit} tokens a day for this user ({spent_today} spent today)"
    )]
    DailyLimitExceeded { limit: i32, spent_today: i32 },
    #[error("no such consumption of this app")]
    NotFound,
    #[error("the consumption was refunded already")]
    AlreadyRefunded,
    #[error("the consumption is older than 24 hours")]
    RefundWindowPassed,
    #[error("user not found")]
    UserNotFound,
    #[error("credits unavailable")]
    Unavailable(#[source] BoxError),
    #[error("unexpected credits error")]
    Unexpected(#[source] BoxError),
}

impl From<StoreError> for AppCreditError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => Self::Unavailable(Box::new(e)),
            StoreError::Conflict(_) | StoreError::Unexpected(_) => Self::Unexpected(Box::new(e)),
        }
    }
}

/// What an app asks to spend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumeRequest {
    pub user: UserId,
    pub amount: i32,
    pub reason: String,
    pub idempotency_key: IdempotencyKey,
    /// The user's API key, when the app came with one.
    pub api_key: Option<KeyRef>,
}

impl ConsumeRequest {
    /// The canonical text the key is bound to: who, how much and why.
    #[must_use]
    pub fn fingerprint(&self) -> String {
        #[derive(Serialize)]
        struct Fingerprint<'a> {
            amount: i32,
            reason: &'a str,
            user: UserId,
        }
        serde_json::to_string(&Fingerprint {
            amount: self.amount,
            reason: &self.reason,
            user: self.user,
        })
        .unwrap_or_default()
    }
}

/// A consumption as the app is answered: the same on every retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumed {
    pub consumption: AppConsumption,
    /// True when answered from an earlier call with the same key.
    pub replayed: bool,
}

pub struct AppCreditService {
    ledger: Arc<dyn AppLedger>,
}

fn needs(app: &App, scope: AppScope) -> Result<(), AppCreditError> {
    if app.allows(scope) {
        Ok(())
    } else {
        Err(AppCreditError::MissingScope(scope))
    }
}

impl AppCreditService {
    #[must_use]
    pub fn new(ledger: Arc<dyn AppLedger>) -> Self {
        Self { ledger }
    }

    /// Spends the user's tokens for `app`.
    #[instrument(skip_all, fields(app_id = %app.id, user_id = %request.user, amount = request.amount))]
    pub async fn consume(
        &self,
        app: &App,
        request: &ConsumeRequest,
    ) -> Result<Consumed, AppCreditError> {
        needs(app, AppScope::CreditsConsume)?;
        if !(1..=MAX_CONSUME).contains(&request.amount) {
            return Err(AppCreditError::InvalidAmount);
        }
        let reason = request.reason.trim();
        if !(1..=200).contains(&reason.chars().count())
            || !crate::text::is_storable(reason)
            || reason.chars().any(char::is_control)
        {
            return Err(AppCreditError::InvalidReason);
        }
        let fingerprint = request.fingerprint();
        let outcome = self
            .ledger
            .consume(&AppSpend {
                app,
                user: request.user,
                amount: request.amount,
                reason,
                key: &request.idempotency_key,
                fingerprint: &fingerprint,
                api_key: request.api_key.as_ref(),
            })
            .await?;
        match outcome {
            SpendOutcome::Consumed(consumption) => Ok(Consumed {
                consumption,
                replayed: false,
            }),
            SpendOutcome::Replay(consumption) => Ok(Consumed {
                consumption,
                replayed: true,
            }),
            SpendOutcome::Mismatch => Err(AppCreditError::IdempotencyMismatch),
            SpendOutcome::InsufficientTokens { balance } => {
                Err(AppCreditError::InsufficientTokens { balance })
            }
            SpendOutcome::DailyLimit { limit, spent_today } => {
                Err(AppCreditError::DailyLimitExceeded { limit, spent_today })
            }
            SpendOutcome::UserNotFound => Err(AppCreditError::UserNotFound),
        }
    }

    /// Gives back one of the app's consumptions, once, within 24 hours.
    #[instrument(skip_all, fields(app_id = %app.id, consumption = %consumption))]
    pub async fn refund(
        &self,
        app: &App,
        consumption: TransactionId,
    ) -> Result<(i32, Tokens), AppCreditError> {
        needs(app, AppScope::CreditsConsume)?;
        match self
            .ledger
            .refund(app.id, consumption, REFUND_WINDOW)
            .await?
        {
            AppRefundOutcome::Refunded {
                amount,
                balance_after,
            } => Ok((amount, balance_after)),
            AppRefundOutcome::NotFound => Err(AppCreditError::NotFound),
            AppRefundOutcome::AlreadyRefunded => Err(AppCreditError::AlreadyRefunded),
            AppRefundOutcome::TooLate => Err(AppCreditError::RefundWindowPassed),
        }
    }
}
