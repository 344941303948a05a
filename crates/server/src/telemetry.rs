//! Logging: human-readable by default, JSON lines with `LOG_FORMAT=json`,
//! filtered by `RUST_LOG`. Logs go to stdout; stderr is kept for the one-line
//! fatal error of a failed start.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::util::TryInitError;

use crate::settings::{LogFormat, TelemetrySettings};

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("RUST_LOG is not a valid log filter: {0}")]
    Filter(#[from] tracing_subscriber::filter::ParseError),
    #[error("logging was already set up: {0}")]
    AlreadySet(#[from] TryInitError),
}

/// Installs the global subscriber. Call once, from `main` (or a test harness).
pub fn init(settings: &TelemetrySettings) -> Result<(), TelemetryError> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    let filter = EnvFilter::try_new(&settings.filter)?;
    let colours = std::io::stdout().is_terminal();
    let registry = tracing_subscriber::registry().with(filter);
    match settings.format {
        LogFormat::Pretty => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(colours)
                    .with_writer(std::io::stdout),
            )
            .try_init()?,
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_writer(std::io::stdout),
            )
            .try_init()?,
    }
    Ok(())
}
