//! The askgate binary's library: configuration, telemetry, wiring and commands.
//! `main.rs` only reads the command line and reports failures.

pub mod cli;
pub mod commands;
pub mod domain_cache;
pub mod metrics;
pub mod settings;
pub mod startup;
pub mod telemetry;

pub use settings::{ConfigError, Settings};
pub use startup::{Application, StartupError};
