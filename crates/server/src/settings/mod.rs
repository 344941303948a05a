//! Typed configuration, read once from the environment in `main` and passed
//! down explicitly (no global settings).
//!
//! One section per concern (HTTP, database, auth, Azure AD, Stripe, upstreams,
//! rate limits, telemetry), each a field of [`Settings`] read by its own
//! `*Settings::read` in its own file, which also declares the variables it
//! reads. `env.rs` is their shared vocabulary (numbers, switches, lists, URLs,
//! secrets). A bad or missing required value is a [`ConfigError`] naming the
//! variable and what is wrong.

use std::fmt;

mod auth;
mod azure_ad;
mod chat;
mod database;
mod env;
mod http;
mod stripe;
mod telemetry;

pub use auth::{AuthSettings, MIN_JWT_SECRET_BYTES, SESSION_AUDIENCE};
pub use azure_ad::{AzureAdApp, AzureAdSettings};
pub use chat::{AskAttKind, RateLimitSettings, UpstreamSettings};
pub use database::DatabaseSettings;
pub use env::ConfigError;
pub use http::HttpSettings;
pub use stripe::StripeSettings;
pub use telemetry::{LogFormat, TelemetrySettings};

use env::{Env, variables};

variables! { APP_ENV }

/// `APP_ENV`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Production,
}

impl AppEnv {
    #[must_use]
    pub const fn is_production(self) -> bool {
        matches!(self, Self::Production)
    }

    /// Unset is development only on a loopback listener (`cargo run` with
    /// nothing configured); anything reachable from other machines, such as a
    /// container on 0.0.0.0, is production: a secret is required and dev
    /// login is refused.
    fn read(env: &Env<'_>, http: &HttpSettings) -> Result<Self, ConfigError> {
        let named = env.one_of(
            APP_ENV,
            &[
                ("development", Self::Development),
                ("production", Self::Production),
            ],
        )?;
        Ok(match named {
            Some(app_env) => app_env,
            None if http.bind_addr.ip().is_loopback() => Self::Development,
            None => Self::Production,
        })
    }
}

impl fmt::Display for AppEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Development => "development",
            Self::Production => "production",
        })
    }
}

/// Everything askgate reads from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub app_env: AppEnv,
    pub http: HttpSettings,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub azure_ad: AzureAdSettings,
    pub telemetry: TelemetrySettings,
    pub stripe: StripeSettings,
    pub upstream: UpstreamSettings,
    pub rate_limit: RateLimitSettings,
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads from given pairs only (tests; nothing comes from the process).
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Result<Self, ConfigError> {
        Self::from_lookup(|name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    /// Reads through `lookup` (a variable's value, or `None` when unset).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env::new(&lookup);
        let telemetry = TelemetrySettings::read(&env)?;
        let http = HttpSettings::read(&env)?;
        let app_env = AppEnv::read(&env, &http)?;
        let auth = AuthSettings::read(&env, app_env, &http)?;
        let stripe = StripeSettings::read(&env)?;
        if auth.dev_login && stripe.has_live_key() {
            return Err(ConfigError::new(
                stripe::STRIPE_SECRET_KEY,
                "is a live key (sk_live_…/rk_live_…) while dev login is on; use a test key in development or set AUTH_DEV_LOGIN=false",
            ));
        }
        Ok(Self {
            app_env,
            telemetry,
            database: DatabaseSettings::read(&env, app_env)?,
            auth,
            stripe,
            upstream: UpstreamSettings::read(&env, app_env)?,
            rate_limit: RateLimitSettings::read(&env)?,
            azure_ad: AzureAdSettings::read(&env, &http)?,
            http,
        })
    }

    /// Whether cookies get `Secure`: always, except in development when
    /// `PUBLIC_BASE_URL` is plain http on this machine (127.0.0.1, localhost, ::1),
    /// where browsers would otherwise drop them.
    #[must_use]
    pub fn secure_cookies(&self) -> bool {
        let url = &self.http.public_base_url;
        let local_http = url.scheme() == "http"
            && matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
        self.app_env.is_production() || !local_http
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::time::Duration;

    use secrecy::ExposeSecret;

    use super::env::Var;
    use super::*;

    pub(super) const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn nothing_set_gives_a_working_development_setup() {
        let s = Settings::from_pairs(&[]).unwrap();
        assert_eq!(s.app_env, AppEnv::Development);
        assert_eq!(s.http.bind_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(s.database.max_connections, 10);
        assert_eq!(
            s.database.url.expose_secret(),
            "postgres://postgres@127.0.0.1:5432/askgate"
        );
        assert!(s.auth.dev_login);
        assert!(s.auth.jwt_secret_generated);
        assert!(s.auth.jwt_secret.expose_secret().len() >= MIN_JWT_SECRET_BYTES);
        assert_eq!(s.auth.session_ttl, Duration::from_secs(900));
        assert_eq!(s.telemetry.format, LogFormat::Pretty);
    }

    #[test]
    fn unset_app_env_on_a_public_listener_is_production_without_dev_login() {
        let err = Settings::from_pairs(&[("BIND_ADDR", "0.0.0.0:8080")]).unwrap_err();
        assert_eq!(err.variable, "JWT_SECRET");
        let s =
            Settings::from_pairs(&[("BIND_ADDR", "0.0.0.0:8080"), ("JWT_SECRET", SECRET)]).unwrap();
        assert_eq!(s.app_env, AppEnv::Production);
        assert!(!s.auth.dev_login);
    }

    #[test]
    fn a_live_stripe_key_with_dev_login_is_refused_without_echoing_it() {
        for key in ["sk_live_hunter2", "rk_live_hunter2"] {
            let err = Settings::from_pairs(&[
                ("STRIPE_SECRET_KEY", key),
                ("STRIPE_WEBHOOK_SECRET", "whsec_abc"),
            ])
            .unwrap_err();
            assert_eq!(err.variable, "STRIPE_SECRET_KEY");
            assert!(!err.to_string().contains("hunter2"), "{err}");
            assert!(!err.to_string().contains('\n'));
        }
        let s = Settings::from_pairs(&[
            ("STRIPE_SECRET_KEY", "sk_live_abc"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_abc"),
            ("AUTH_DEV_LOGIN", "false"),
        ])
        .unwrap();
        assert!(s.stripe.has_live_key() && !s.auth.dev_login);
        let s = Settings::from_pairs(&[
            ("STRIPE_SECRET_KEY", "sk_test_abc"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_abc"),
        ])
        .unwrap();
        assert!(s.auth.dev_login);
    }

    #[test]
    fn debug_never_shows_secrets() {
        let s = Settings::from_pairs(&[
            ("JWT_SECRET", SECRET),
            ("DATABASE_URL", "postgres://u:hunter2@127.0.0.1/db"),
        ])
        .unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains(SECRET) && !shown.contains("hunter2"));
    }

    #[test]
    fn a_bad_app_env_names_its_variable() {
        let err = Settings::from_pairs(&[("APP_ENV", "staging")]).unwrap_err();
        assert_eq!(err.variable, "APP_ENV", "{err}");
        assert_eq!(
            err.to_string(),
            "APP_ENV must be 'development' or 'production'"
        );
    }

    /// Every variable the sections declare, section by section.
    fn declared() -> Vec<&'static str> {
        [
            VARIABLES,
            http::VARIABLES,
            database::VARIABLES,
            auth::VARIABLES,
            azure_ad::VARIABLES,
            stripe::VARIABLES,
            telemetry::VARIABLES,
            chat::VARIABLES,
        ]
        .concat()
        .into_iter()
        .map(Var::name)
        .collect()
    }

    fn sorted(mut names: Vec<&str>) -> Vec<&str> {
        names.sort_unstable();
        names
    }

    #[test]
    fn every_declared_variable_is_read_exactly_once() {
        // Microsoft sign-in is the one section read only when configured.
        let configured = [
            ("AZURE_AD_TENANT_ID", "6f1c2b9e-0d7a-4c55-9a3e-7b1d4c2e8f10"),
            ("AZURE_AD_CLIENT_ID", "askgate"),
        ];
        let read = RefCell::new(Vec::new());
        Settings::from_lookup(|name| {
            read.borrow_mut().push(name.to_owned());
            configured
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
        .unwrap();
        let read = read.into_inner();
        assert_eq!(
            sorted(read.iter().map(String::as_str).collect()),
            sorted(declared())
        );
    }

    #[test]
    fn env_example_names_exactly_the_variables_settings_reads() {
        let example = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../.env.example"));
        // `NAME=value`, or `# NAME=value` for one left unset.
        let named = example
            .lines()
            .filter_map(|line| line.trim_start_matches(['#', ' ']).split_once('='))
            .map(|(name, _)| name)
            .filter(|name| {
                name.starts_with(|c: char| c.is_ascii_uppercase())
                    && name
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            })
            .collect();
        assert_eq!(sorted(named), sorted(declared()));
    }
}
