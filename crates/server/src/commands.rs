//! The one-shot commands: `migrate` and `grant`.

use askgate_domain::ledger::{IdempotencyKey, Recorded};
use askgate_domain::services::AccountError;
use uuid::Uuid;

use crate::cli::GrantArgs;
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
