//! The logging section of [`Settings`](super::Settings): what is logged, and
//! in which format.

use tracing_subscriber::EnvFilter;

use super::env::{ConfigError, Env, variables};

variables! {
    LOG_FORMAT,
    RUST_LOG,
}

/// `LOG_FORMAT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone)]
pub struct TelemetrySettings {
    pub format: LogFormat,
    /// `RUST_LOG`, checked to be a valid filter.
    pub filter: String,
}

impl TelemetrySettings {
    pub(super) fn read(env: &Env<'_>) -> Result<Self, ConfigError> {
        let format = env
            .one_of(
                LOG_FORMAT,
                &[("pretty", LogFormat::Pretty), ("json", LogFormat::Json)],
            )?
            .unwrap_or(LogFormat::Pretty);
        let filter = env
            .get(RUST_LOG)
            .unwrap_or_else(|| "info,askgate=info".to_owned());
        EnvFilter::try_new(&filter)
            .map_err(|e| ConfigError::new(RUST_LOG, format!("is not a valid log filter: {e}")))?;
        Ok(Self { format, filter })
    }
}

#[cfg(test)]
mod tests {
    use super::super::Settings;
    use super::*;

    #[test]
    fn each_bad_telemetry_value_names_its_variable() {
        for (name, value) in [("LOG_FORMAT", "xml"), ("RUST_LOG", "info,[[[")] {
            let err = Settings::from_pairs(&[(name, value)]).unwrap_err();
            assert_eq!(err.variable, name, "{err}");
            assert!(!err.to_string().contains('\n'));
        }
    }

    #[test]
    fn logs_are_pretty_unless_json_is_asked_for() {
        let s = Settings::from_pairs(&[("LOG_FORMAT", "json"), ("RUST_LOG", "debug")]).unwrap();
        assert_eq!(s.telemetry.format, LogFormat::Json);
        assert_eq!(s.telemetry.filter, "debug");
        let err = Settings::from_pairs(&[("LOG_FORMAT", "JSON")]).unwrap_err();
        assert_eq!(err.to_string(), "LOG_FORMAT must be 'pretty' or 'json'");
    }
}
