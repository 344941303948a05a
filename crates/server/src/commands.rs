//! The one-shot commands: `migrate`, `grant` and `reconcile`.

use askgate_domain::StoreError;
use askgate_domain::ledger::{IdempotencyKey, Recorded};
use askgate_domain::services::{AccountError, BillingError, EventOutcome};
use askgate_postgres::audit::AuditReport;
use uuid::Uuid;

use crate::cli::{GrantArgs, ReconcileArgs};
use crate::settings::Settings;
use crate::startup::{self, StartupError};

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Startup(#[from] StartupError),
    #[error("no user has the e-mail address {0}; they must sign in once first")]
    UnknownUser(String),
    #[error("the grant failed: {0}")]
    Grant(#[source] AccountError),
    #[error("payments are not configured: set STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET")]
    PaymentsNotConfigured,
    #[error("reconciliation failed: {0}")]
    Reconcile(#[source] BillingError),
    #[error("the ledger audit could not run: {0}")]
    Audit(#[source] StoreError),
}

/// Checks the whole ledger (balances, `balance_after` chains, refunds,
/// purchases, charges pending past the recovery window) and totals it.
/// Applies pending migrations first, so an audit of a database left behind by
/// an older askgate checks it under today's rules instead of failing.
pub async fn audit(settings: &Settings) -> Result<AuditReport, CommandError> {
    let db = startup::connect_and_migrate(settings).await?;
    askgate_postgres::audit::audit(&db, settings.upstream.charge_recovery_after)
        .await
        .map_err(CommandError::Audit)
}

/// Lists the payments that succeeded at Stripe within `args.since` and credits
/// any that no webhook credited, through the same exactly-once path as the
/// webhook: running it again, or while webhooks arrive, credits nothing twice.
/// A refund or dispute Stripe shows for a payment is applied first, so a
/// refunded or disputed payment is never left spendable. Says, one line per
/// payment, what happened.
pub async fn reconcile(settings: &Settings, args: ReconcileArgs) -> Result<String, CommandError> {
    if !settings.stripe.payments_enabled() {
        return Err(CommandError::PaymentsNotConfigured);
    }
    let db = startup::connect(settings).await?;
    let billing = startup::billing_service(settings, &db)?;
    let window = chrono::Duration::from_std(args.since)
        .map_err(|e| CommandError::Reconcile(BillingError::Unexpected(Box::new(e))))?;
    let since = chrono::Utc::now() - window;
    let report = billing.reconcile(since).await.map_err(|e| match e {
        BillingError::NotConfigured => CommandError::PaymentsNotConfigured,
        other => CommandError::Reconcile(other),
    })?;
    let mut lines: Vec<String> = report
        .iter()
        .map(|(payment, outcome)| format!("{payment}: {}", describe(outcome)))
        .collect();
    let credited = report
        .iter()
        .filter(|(_, o)| matches!(o, EventOutcome::Credited { .. }))
        .count();
    lines.push(format!(
        "{} succeeded payment(s) since {}; {credited} credited now, the rest needed nothing",
        report.len(),
        since.format("%Y-%m-%d %H:%M:%S UTC")
    ));
    Ok(lines.join("\n"))
}

fn describe(outcome: &EventOutcome) -> String {
    match outcome {
        EventOutcome::Credited { tokens } => {
            format!("credited {tokens} tokens (it had been missed)")
        }
        EventOutcome::AlreadyCredited | EventOutcome::DuplicateEvent => {
            "already credited; nothing changed".to_owned()
        }
        EventOutcome::Mismatch { reason } => format!("not credited: {reason}"),
        EventOutcome::Reversed { tokens } => {
            format!(
                "refunded or disputed at Stripe: {tokens} tokens taken back (it had been missed)"
            )
        }
        EventOutcome::Restored { tokens } => {
            format!("dispute won at Stripe: {tokens} tokens given back (it had been missed)")
        }
        EventOutcome::NothingToRestore => "dispute won; nothing to give back".to_owned(),
        EventOutcome::CreditedThenReversed { tokens } => {
            format!(
                "refunded or disputed before its credit: credited and {tokens} tokens taken back at once"
            )
        }
        EventOutcome::NothingToReverse => "nothing to reverse".to_owned(),
        EventOutcome::Orphaned => {
            "not credited: the user no longer exists (refund it at Stripe)".to_owned()
        }
        EventOutcome::CheckoutFailed => "checkout failed; nothing credited".to_owned(),
        EventOutcome::Ignored => "ignored".to_owned(),
    }
}

/// Applies pending migrations.
pub async fn migrate(settings: &Settings) -> Result<String, CommandError> {
    startup::connect_and_migrate(settings).await?;
    Ok("migrations applied; the schema is up to date".to_owned())
}

/// Writes a `grant` ledger row; says what happened.
pub async fn grant(settings: &Settings, args: GrantArgs) -> Result<String, CommandError> {
    let db = startup::connect(settings).await?;
    let accounts = startup::account_service(settings, &db);
    let key = match args.key {
        Some(key) => key,
        None => IdempotencyKey::parse(&format!("grant:{}", Uuid::new_v4()))
            .map_err(|e| CommandError::Grant(AccountError::Unexpected(Box::new(e))))?,
    };
    let recorded = accounts
        .grant(&args.email, args.tokens, key.clone(), &args.reason)
        .await
        .map_err(|e| match e {
            AccountError::UserNotFound => CommandError::UnknownUser(args.email.to_string()),
            other => CommandError::Grant(other),
        })?;
    let entry = recorded.entry();
    Ok(match recorded {
        Recorded::Applied(_) => format!(
            "credited {} tokens to {}; new balance {} (transaction {}, key {})",
            entry.amount,
            args.email,
            entry.balance_after,
            entry.id,
            key.as_str()
        ),
        Recorded::Duplicate(_) => format!(
            "nothing changed: key {} already credited {} tokens to {} (transaction {}, balance after it {})",
            key.as_str(),
            entry.amount,
            args.email,
            entry.id,
            entry.balance_after
        ),
    })
}
