//! Typed configuration, read once from the environment in `main` and passed
//! down explicitly (no global settings).
//!
//! One section per concern (HTTP, database, auth, Azure AD, Stripe, upstreams,
//! rate limits, telemetry), each a field of [`Settings`] read by its own
//! `*Settings::read`. A bad or missing required value is a [`ConfigError`]
//! naming the variable and what is wrong.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use askgate_domain::Email;
use askgate_postgres::{PgConfig, PgTls, SslMode};
use secrecy::{ExposeSecret, SecretString};
use tracing_subscriber::EnvFilter;
use url::Url;
use uuid::Uuid;

mod chat;
pub use chat::{AskAttKind, RateLimitSettings, UpstreamSettings};

/// The smallest `JWT_SECRET` accepted, in bytes (HS256 wants at least 256 bits).
pub const MIN_JWT_SECRET_BYTES: usize = 32;

/// `aud` of session tokens: Supabase's default audience for signed-in users.
pub const SESSION_AUDIENCE: &str = "authenticated";

/// A configuration value that stops start-up: `{variable} {problem}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable} {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

impl ConfigError {
    fn new(variable: &'static str, problem: impl Into<String>) -> Self {
        Self {
            variable,
            problem: problem.into(),
        }
    }
}

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

#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// `BIND_ADDR` (port 0 picks a free port).
    pub bind_addr: SocketAddr,
    /// `PUBLIC_BASE_URL`: where users reach askgate (links, redirects).
    pub public_base_url: Url,
    /// `ALLOWED_ORIGINS`: browser origins allowed to call the API cross-origin.
    pub allowed_origins: Vec<String>,
    /// How long in-flight requests may finish after SIGTERM/SIGINT.
    pub shutdown_timeout: Duration,
    /// `METRICS_ADDR`: serve `/metrics` on this address instead of `BIND_ADDR`.
    pub metrics_addr: Option<SocketAddr>,
    /// `METRICS_TOKEN`: serve `/metrics` on `BIND_ADDR` too, to
    /// `Authorization: Bearer <token>` only. Unset: not on `BIND_ADDR` at all.
    pub metrics_token: Option<SecretString>,
    /// `BODY_READ_TIMEOUT_SECONDS`: how long a request body may take to arrive
    /// (then 408), so a client trickling bytes cannot hold a connection open.
    pub body_read_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// `DATABASE_URL` (may hold a password).
    pub url: SecretString,
    /// `DATABASE_MAX_CONNECTIONS`.
    pub max_connections: usize,
    pub statement_timeout: Duration,
    pub connect_timeout: Duration,
    /// The `sslmode` when `DATABASE_URL` names none: libpq's `prefer` in
    /// development, `require` in production.
    pub default_ssl_mode: SslMode,
    /// `DATABASE_CA_CERT`: PEM file of the CA certificates to trust.
    pub ca_cert: Option<std::path::PathBuf>,
}

impl DatabaseSettings {
    /// What the Postgres adapter needs to connect.
    #[must_use]
    pub fn pg_config(&self) -> PgConfig {
        PgConfig {
            url: self.url.expose_secret().to_owned(),
            max_connections: self.max_connections,
            application_name: "askgate".to_owned(),
            statement_timeout: self.statement_timeout,
            connect_timeout: self.connect_timeout,
            tls: PgTls {
                default_mode: self.default_ssl_mode,
                ca_cert: self.ca_cert.clone(),
            },
        }
    }
}

#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// `JWT_SECRET`: signs session tokens.
    pub jwt_secret: SecretString,
    /// True when `JWT_SECRET` was unset in development and a random one was made:
    /// sessions then end when the process restarts.
    pub jwt_secret_generated: bool,
    /// `SESSION_TTL_SECONDS`.
    pub session_ttl: Duration,
    /// `AUTH_DEV_LOGIN`: `POST /api/auth/dev-login` (never in production).
    pub dev_login: bool,
    /// `ADMIN_EMAILS`.
    pub admin_emails: Vec<Email>,
    /// `ADMIN_OBJECT_IDS`: Entra ID object ids (`oid`) that are always admins, lowercase.
    pub admin_object_ids: Vec<String>,
    /// `REFRESH_TTL_DAYS`: lifetime of each refresh token (every refresh starts a new one).
    pub refresh_ttl: Duration,
    /// `SESSION_MAX_AGE_DAYS`: absolute lifetime of a session, however often it
    /// is refreshed; after it a new sign-in is required.
    pub session_max_age: Duration,
}

/// Stripe: buying tokens. Without `STRIPE_SECRET_KEY` payments are off and the
/// purchase endpoints answer 503; everything else works.
#[derive(Debug, Clone, Default)]
pub struct StripeSettings {
    /// `STRIPE_SECRET_KEY` (`sk_live_…`, `sk_test_…` or a restricted `rk_…`).
    pub secret_key: Option<SecretString>,
    /// `STRIPE_WEBHOOK_SECRET`: the endpoint's signing secrets (`whsec_…`),
    /// comma-separated while one is rotated. Required with the secret key.
    pub webhook_secret: Option<SecretString>,
    /// `STRIPE_PUBLISHABLE_KEY` (`pk_…`): public, served to the web UI.
    pub publishable_key: Option<String>,
    /// `STRIPE_PRICE_100`, `STRIPE_PRICE_250`, `STRIPE_PRICE_600`: Price ids
    /// for Checkout; a package without one is sold with inline price data.
    pub price_100: Option<String>,
    pub price_250: Option<String>,
    pub price_600: Option<String>,
    /// `STRIPE_API_BASE`: `None` is Stripe's own API; tests point it at a fake.
    pub api_base: Option<Url>,
}

impl StripeSettings {
    /// True when purchases can be made.
    #[must_use]
    pub const fn payments_enabled(&self) -> bool {
        self.secret_key.is_some()
    }

    /// True for a live-mode key, which moves real money.
    #[must_use]
    pub fn has_live_key(&self) -> bool {
        self.secret_key.as_ref().is_some_and(|k| {
            let k = k.expose_secret();
            k.starts_with("sk_live_") || k.starts_with("rk_live_")
        })
    }

    fn read(env: &Env<'_>) -> Result<Self, ConfigError> {
        // Key values are never repeated in messages.
        let secret_key = env.get("STRIPE_SECRET_KEY");
        if let Some(key) = &secret_key {
            let known = ["sk_live_", "sk_test_", "rk_live_", "rk_test_"]
                .iter()
                .any(|p| key.starts_with(p));
            if !known || !key.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(ConfigError::new(
                    "STRIPE_SECRET_KEY",
                    "must be a Stripe secret key (sk_live_…, sk_test_… or a restricted rk_… key)",
                ));
            }
        }
        let webhook_secret = env.get("STRIPE_WEBHOOK_SECRET");
        if let Some(raw) = &webhook_secret {
            let valid = raw
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .all(|s| s.starts_with("whsec_") && s.bytes().all(|b| b.is_ascii_graphic()));
            if !valid {
                return Err(ConfigError::new(
                    "STRIPE_WEBHOOK_SECRET",
                    "must be the endpoint's signing secret (whsec_…), or several separated by commas while rotating",
                ));
            }
        } else if secret_key.is_some() {
            return Err(ConfigError::new(
                "STRIPE_WEBHOOK_SECRET",
                "is required when STRIPE_SECRET_KEY is set (the webhook endpoint's signing secret, whsec_…)",
            ));
        }
        let publishable_key = env.get("STRIPE_PUBLISHABLE_KEY");
        if publishable_key
            .as_deref()
            .is_some_and(|k| !k.starts_with("pk_") || !k.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(ConfigError::new(
                "STRIPE_PUBLISHABLE_KEY",
                "must be a publishable key (pk_live_… or pk_test_…); it is shown to browsers, so never put a secret key here",
            ));
        }
        let price = |name: &'static str| -> Result<Option<String>, ConfigError> {
            env.get(name)
                .map(|id| {
                    if id.starts_with("price_") && id.bytes().all(|b| b.is_ascii_graphic()) {
                        Ok(id)
                    } else {
                        Err(ConfigError::new(
                            name,
                            "must be a Stripe Price id (price_…)",
                        ))
                    }
                })
                .transpose()
        };
        let api_base = env
            .get("STRIPE_API_BASE")
            .map(|raw| {
                Url::parse(&raw)
                    .ok()
                    .filter(|u| {
                        matches!(u.scheme(), "http" | "https")
                            && u.has_host()
                            && u.query().is_none()
                            && u.fragment().is_none()
                    })
                    .ok_or_else(|| {
                        ConfigError::new(
                            "STRIPE_API_BASE",
                            "must be an http(s) URL such as https://api.stripe.com",
                        )
                    })
            })
            .transpose()?;
        Ok(Self {
            secret_key: secret_key.map(SecretString::from),
            webhook_secret: webhook_secret.map(SecretString::from),
            publishable_key,
            price_100: price("STRIPE_PRICE_100")?,
            price_250: price("STRIPE_PRICE_250")?,
            price_600: price("STRIPE_PRICE_600")?,
            api_base,
        })
    }
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
        let env = Env(&lookup);
        let telemetry = TelemetrySettings::read(&env)?;
        let http = HttpSettings::read(&env)?;
        // Unset APP_ENV is development only on a loopback listener (`cargo run`
        // with nothing configured); anything reachable from other machines, such
        // as a container on 0.0.0.0, is production: a secret is required and
        // dev login is refused.
        let app_env = match env.get("APP_ENV").as_deref() {
            None if http.bind_addr.ip().is_loopback() => AppEnv::Development,
            None | Some("production") => AppEnv::Production,
            Some("development") => AppEnv::Development,
            Some(_) => {
                return Err(ConfigError::new(
                    "APP_ENV",
                    "must be 'development' or 'production'",
                ));
            }
        };
        let auth = AuthSettings::read(&env, app_env, &http)?;
        let stripe = StripeSettings::read(&env)?;
        if auth.dev_login && stripe.has_live_key() {
            return Err(ConfigError::new(
                "STRIPE_SECRET_KEY",
                "is a live key (sk_live_…/rk_live_…) while dev login is on; use a test key in development or set AUTH_DEV_LOGIN=false",
            ));
        }
        Ok(Self {
            app_env,
            telemetry,
            http,
            database: DatabaseSettings::read(&env, app_env)?,
            auth,
            stripe,
            upstream: UpstreamSettings::read(&env, app_env)?,
            rate_limit: RateLimitSettings::read(&env)?,
            azure_ad: AzureAdSettings::read(&env)?,
        })
    }
}

/// True for `localhost` and loopback IP addresses.
fn is_loopback_url(url: &Url) -> bool {
    match url.host() {
        // URLs of other schemes than http(s), such as postgres://, keep IPv4
        // addresses as names.
        Some(url::Host::Domain(name)) => {
            name.eq_ignore_ascii_case("localhost")
                || name
                    .parse::<std::net::Ipv4Addr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Trimmed values; an empty variable counts as unset.
struct Env<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Env<'_> {
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    fn bool(&self, name: &'static str) -> Result<Option<bool>, ConfigError> {
        self.get(name)
            .map(|raw| match raw.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(true),
                "false" | "0" | "no" | "off" => Ok(false),
                _ => Err(ConfigError::new(name, "must be true or false")),
            })
            .transpose()
    }

    fn integer(
        &self,
        name: &'static str,
        default: u64,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<u64, ConfigError> {
        let Some(raw) = self.get(name) else {
            return Ok(default);
        };
        raw.parse::<u64>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| {
                ConfigError::new(
                    name,
                    format!(
                        "must be a whole number from {} to {}",
                        range.start(),
                        range.end()
                    ),
                )
            })
    }
}

impl HttpSettings {
    fn read(env: &Env<'_>) -> Result<Self, ConfigError> {
        let bind_addr = env
            .get("BIND_ADDR")
            .unwrap_or_else(|| "127.0.0.1:8080".to_owned())
            .parse()
            .map_err(|_| {
                ConfigError::new(
                    "BIND_ADDR",
                    "must be an IP address and port, e.g. 127.0.0.1:8080",
                )
            })?;
        let public_base_url = env
            .get("PUBLIC_BASE_URL")
            .unwrap_or_else(|| "http://127.0.0.1:8080".to_owned());
        let public_base_url = Url::parse(&public_base_url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
            .ok_or_else(|| {
                ConfigError::new(
                    "PUBLIC_BASE_URL",
                    "must be an absolute http(s) URL, e.g. https://askgate.example.com",
                )
            })?;
        let allowed_origins = env
            .get("ALLOWED_ORIGINS")
            .map(|raw| parse_origins(&raw))
            .transpose()?
            .unwrap_or_default();
        let metrics_addr = env
            .get("METRICS_ADDR")
            .map(|raw| {
                raw.parse().map_err(|_| {
                    ConfigError::new(
                        "METRICS_ADDR",
                        "must be an IP address and port, e.g. 127.0.0.1:9090",
                    )
                })
            })
            .transpose()?;
        // Never repeated in messages.
        let metrics_token = env.get("METRICS_TOKEN");
        if metrics_token
            .as_deref()
            .is_some_and(|t| t.len() < 16 || !t.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(ConfigError::new(
                "METRICS_TOKEN",
                "must be at least 16 printable characters without spaces (a random string)",
            ));
        }
        Ok(Self {
            bind_addr,
            public_base_url,
            allowed_origins,
            shutdown_timeout: Duration::from_secs(30),
            metrics_addr,
            metrics_token: metrics_token.map(SecretString::from),
            body_read_timeout: Duration::from_secs(env.integer(
                "BODY_READ_TIMEOUT_SECONDS",
                10,
                1..=300,
            )?),
        })
    }
}

fn parse_origins(raw: &str) -> Result<Vec<String>, ConfigError> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|origin| {
            Url::parse(origin)
                .ok()
                .filter(|u| {
                    matches!(u.scheme(), "http" | "https")
                        && u.has_host()
                        && u.path() == "/"
                        && u.query().is_none()
                })
                .map(|u| u.origin().ascii_serialization())
                .ok_or_else(|| {
                    ConfigError::new(
                        "ALLOWED_ORIGINS",
                        format!(
                            "must be a comma-separated list of origins such as https://app.example.com; '{origin}' is not one"
                        ),
                    )
                })
        })
        .collect()
}

impl DatabaseSettings {
    fn read(env: &Env<'_>, app_env: AppEnv) -> Result<Self, ConfigError> {
        let url = env
            .get("DATABASE_URL")
            .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/askgate".to_owned());
        // The value may hold a password: never repeat it in the message.
        let parsed = Url::parse(&url)
            .ok()
            .filter(|u| matches!(u.scheme(), "postgres" | "postgresql") && u.has_host())
            .ok_or_else(|| {
                ConfigError::new(
                    "DATABASE_URL",
                    "must be a postgres:// URL, e.g. postgres://user:password@127.0.0.1:5432/askgate",
                )
            })?;
        let ssl_mode = askgate_postgres::ssl_mode_of(&url)
            .map_err(|e| ConfigError::new("DATABASE_URL", format!("is not valid: {e}")))?;
        // In production the connection is encrypted unless the server is on
        // this machine and plain text is asked for by name.
        if app_env.is_production()
            && let Some(weak @ (SslMode::Disable | SslMode::Prefer)) = ssl_mode
            && !is_loopback_url(&parsed)
        {
            return Err(ConfigError::new(
                "DATABASE_URL",
                format!(
                    "must not use sslmode={weak} when APP_ENV=production unless PostgreSQL is on this machine (127.0.0.1, ::1, localhost); use sslmode=require or verify-full"
                ),
            ));
        }
        let ca_cert = env.get("DATABASE_CA_CERT").map(std::path::PathBuf::from);
        if let Some(path) = &ca_cert {
            askgate_postgres::check_ca_file(path).map_err(|reason| {
                ConfigError::new("DATABASE_CA_CERT", format!("is not usable: {reason}"))
            })?;
        }
        let default_ssl_mode = if app_env.is_production() {
            SslMode::Require
        } else {
            SslMode::Prefer
        };
        let max_connections = env.integer("DATABASE_MAX_CONNECTIONS", 10, 1..=1000)?;
        Ok(Self {
            url: SecretString::from(url),
            max_connections: usize::try_from(max_connections).unwrap_or(10),
            statement_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            default_ssl_mode,
            ca_cert,
        })
    }
}

impl AuthSettings {
    fn read(env: &Env<'_>, app_env: AppEnv, http: &HttpSettings) -> Result<Self, ConfigError> {
        let (jwt_secret, jwt_secret_generated) = match env.get("JWT_SECRET") {
            Some(secret) if secret.len() < MIN_JWT_SECRET_BYTES => {
                return Err(ConfigError::new(
                    "JWT_SECRET",
                    format!("must be at least {MIN_JWT_SECRET_BYTES} bytes"),
                ));
            }
            Some(secret) => (SecretString::from(secret), false),
            None if app_env.is_production() => {
                return Err(ConfigError::new(
                    "JWT_SECRET",
                    format!(
                        "is required when APP_ENV=production (at least {MIN_JWT_SECRET_BYTES} random bytes)"
                    ),
                ));
            }
            None => (generate_secret(), true),
        };
        let session_ttl =
            Duration::from_secs(env.integer("SESSION_TTL_SECONDS", 900, 60..=86_400)?);
        // Dev login signs anyone in as anyone (admin included): only ever on a
        // development instance that nobody else can reach.
        let bind_local = http.bind_addr.ip().is_loopback();
        let public_local = is_loopback_url(&http.public_base_url);
        let dev_login = env
            .bool("AUTH_DEV_LOGIN")?
            .unwrap_or(!app_env.is_production() && bind_local && public_local);
        if dev_login && app_env.is_production() {
            return Err(ConfigError::new(
                "AUTH_DEV_LOGIN",
                "must not be enabled when APP_ENV=production",
            ));
        }
        if dev_login && !bind_local {
            return Err(ConfigError::new(
                "BIND_ADDR",
                "must be a loopback address (127.0.0.1 or ::1) while dev login is on; set AUTH_DEV_LOGIN=false to listen elsewhere",
            ));
        }
        if dev_login && !public_local {
            return Err(ConfigError::new(
                "PUBLIC_BASE_URL",
                "must be on this machine (localhost, 127.0.0.1 or ::1) while dev login is on; set AUTH_DEV_LOGIN=false for a public URL",
            ));
        }
        let admin_emails = env
            .get("ADMIN_EMAILS")
            .map(|raw| {
                raw.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|e| {
                        Email::parse(e).map_err(|_| {
                            ConfigError::new(
                                "ADMIN_EMAILS",
                                format!(
                                    "must be comma-separated e-mail addresses; '{e}' is not one"
                                ),
                            )
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?
            .unwrap_or_default();
        let admin_object_ids = env
            .get("ADMIN_OBJECT_IDS")
            .map(|raw| {
                raw.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|id| {
                        uuid::Uuid::parse_str(id)
                            .map(|id| id.hyphenated().to_string())
                            .map_err(|_| {
                                ConfigError::new(
                                    "ADMIN_OBJECT_IDS",
                                    format!(
                                        "must be comma-separated Entra ID object ids (GUIDs); '{id}' is not one"
                                    ),
                                )
                            })
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?
            .unwrap_or_default();
        let refresh_ttl =
            Duration::from_secs(env.integer("REFRESH_TTL_DAYS", 14, 1..=365)? * 86_400);
        let session_max_age =
            Duration::from_secs(env.integer("SESSION_MAX_AGE_DAYS", 30, 1..=365)? * 86_400);
        Ok(Self {
            jwt_secret,
            jwt_secret_generated,
            session_ttl,
            dev_login,
            admin_emails,
            admin_object_ids,
            refresh_ttl,
            session_max_age,
        })
    }
}

/// Microsoft Entra ID (Azure AD): sign-in, bearer access tokens and the
/// client-credentials tokens for the upstreams. See docs/entra-id-setup.md.
#[derive(Debug, Clone)]
pub struct AzureAdSettings {
    /// Present when `AZURE_AD_TENANT_ID` and `AZURE_AD_CLIENT_ID` are both set.
    pub app: Option<AzureAdApp>,
    /// `AZURE_AD_ADMIN_ROLE`: the app role that makes an admin (default `Admin`).
    pub admin_role: String,
}

/// askgate's app registration in one tenant.
#[derive(Debug, Clone)]
pub struct AzureAdApp {
    /// `AZURE_AD_TENANT_ID`.
    pub tenant_id: String,
    /// `AZURE_AD_CLIENT_ID`.
    pub client_id: String,
    /// `AZURE_AD_CLIENT_SECRET`: for the code exchange and client-credentials tokens.
    pub client_secret: Option<SecretString>,
    /// `AZURE_AD_AUTHORITY` (default `https://login.microsoftonline.com/{tenant}/v2.0`):
    /// the issuer, whose discovery document askgate reads at start-up.
    pub authority: Url,
    /// `AZURE_AD_REDIRECT_URI` (default `{PUBLIC_BASE_URL}/api/auth/callback`).
    pub redirect_uri: Url,
    /// `AZURE_AD_AUDIENCES`: `aud` values accepted on bearer access tokens
    /// (default the client id and `api://{client id}`).
    pub audiences: Vec<String>,
}

impl AzureAdSettings {
    fn read(env: &Env<'_>) -> Result<Self, ConfigError> {
        let admin_role = env
            .get("AZURE_AD_ADMIN_ROLE")
            .unwrap_or_else(|| "Admin".to_owned());
        let app = match (env.get("AZURE_AD_TENANT_ID"), env.get("AZURE_AD_CLIENT_ID")) {
            (None, None) => None,
            (Some(_), None) => {
                return Err(ConfigError::new(
                    "AZURE_AD_CLIENT_ID",
                    "must be set when AZURE_AD_TENANT_ID is (Microsoft sign-in needs both)",
                ));
            }
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    "AZURE_AD_TENANT_ID",
                    "must be set when AZURE_AD_CLIENT_ID is (Microsoft sign-in needs both)",
                ));
            }
            (Some(tenant_id), Some(client_id)) => {
                Some(AzureAdApp::read(env, tenant_id, client_id)?)
            }
        };
        Ok(Self { app, admin_role })
    }
}

impl AzureAdApp {
    fn read(env: &Env<'_>, tenant_id: String, client_id: String) -> Result<Self, ConfigError> {
        if !is_identifier(&tenant_id) {
            return Err(ConfigError::new(
                "AZURE_AD_TENANT_ID",
                "must be the directory (tenant) id, e.g. 6f1c2b9e-0d7a-4c55-9a3e-7b1d4c2e8f10",
            ));
        }
        if !is_identifier(&client_id) {
            return Err(ConfigError::new(
                "AZURE_AD_CLIENT_ID",
                "must be the application (client) id of askgate's app registration",
            ));
        }
        let http_url = |name: &'static str, raw: String, example: &str| {
            Url::parse(&raw)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
                .ok_or_else(|| {
                    ConfigError::new(
                        name,
                        format!("must be an absolute http(s) URL, e.g. {example}"),
                    )
                })
        };
        let authority = http_url(
            "AZURE_AD_AUTHORITY",
            env.get("AZURE_AD_AUTHORITY")
                .unwrap_or_else(|| format!("https://login.microsoftonline.com/{tenant_id}/v2.0")),
            "https://login.microsoftonline.com/<tenant id>/v2.0",
        )?;
        let redirect_uri = match env.get("AZURE_AD_REDIRECT_URI") {
            Some(raw) => http_url(
                "AZURE_AD_REDIRECT_URI",
                raw,
                "https://askgate.example.com/api/auth/callback",
            )?,
            None => {
                let base = env
                    .get("PUBLIC_BASE_URL")
                    .unwrap_or_else(|| "http://127.0.0.1:8080".to_owned());
                http_url(
                    "PUBLIC_BASE_URL",
                    format!("{}/api/auth/callback", base.trim_end_matches('/')),
                    "https://askgate.example.com",
                )?
            }
        };
        let audiences = env.get("AZURE_AD_AUDIENCES").map_or_else(
            || vec![client_id.clone(), format!("api://{client_id}")],
            |raw| {
                raw.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            },
        );
        if audiences.is_empty() {
            return Err(ConfigError::new(
                "AZURE_AD_AUDIENCES",
                "must list at least one audience, e.g. the client id and api://<client id>",
            ));
        }
        Ok(Self {
            client_secret: env.get("AZURE_AD_CLIENT_SECRET").map(SecretString::from),
            tenant_id,
            client_id,
            authority,
            redirect_uri,
            audiences,
        })
    }
}

/// A tenant or client id: a GUID, or a name such as `contoso.onmicrosoft.com`
/// (letters, digits, `.`, `-`, `_`), never something that changes a URL's path.
fn is_identifier(raw: &str) -> bool {
    raw.len() <= 100
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

impl Settings {
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

/// 64 hex characters from two v4 UUIDs: 244 bits from the OS's random source.
fn generate_secret() -> SecretString {
    SecretString::from(format!(
        "{}{}",
        Uuid::new_v4().simple(),
        Uuid::new_v4().simple()
    ))
}

impl TelemetrySettings {
    fn read(env: &Env<'_>) -> Result<Self, ConfigError> {
        let format = match env.get("LOG_FORMAT").as_deref() {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(_) => return Err(ConfigError::new("LOG_FORMAT", "must be 'pretty' or 'json'")),
        };
        let filter = env
            .get("RUST_LOG")
            .unwrap_or_else(|| "info,askgate=info".to_owned());
        EnvFilter::try_new(&filter)
            .map_err(|e| ConfigError::new("RUST_LOG", format!("is not a valid log filter: {e}")))?;
        Ok(Self { format, filter })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

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
    fn dev_login_needs_loopback_bind_and_public_url() {
        let dev = |extra: &[(&str, &str)]| {
            let mut pairs = vec![("APP_ENV", "development")];
            pairs.extend_from_slice(extra);
            Settings::from_pairs(&pairs)
        };
        assert!(dev(&[]).unwrap().auth.dev_login);
        assert!(
            dev(&[
                ("BIND_ADDR", "[::1]:8080"),
                ("PUBLIC_BASE_URL", "http://localhost:8080")
            ])
            .unwrap()
            .auth
            .dev_login
        );
        // Not asked for: off by default.
        assert!(
            !dev(&[("BIND_ADDR", "0.0.0.0:8080")])
                .unwrap()
                .auth
                .dev_login
        );
        assert!(
            !dev(&[("PUBLIC_BASE_URL", "https://askgate.example.com")])
                .unwrap()
                .auth
                .dev_login
        );
        // Asked for: start-up refused, naming the variable.
        let err = dev(&[("BIND_ADDR", "0.0.0.0:8080"), ("AUTH_DEV_LOGIN", "true")]).unwrap_err();
        assert_eq!(err.variable, "BIND_ADDR");
        let err = dev(&[
            ("PUBLIC_BASE_URL", "https://askgate.example.com"),
            ("AUTH_DEV_LOGIN", "true"),
        ])
        .unwrap_err();
        assert_eq!(err.variable, "PUBLIC_BASE_URL");
        assert!(!err.to_string().contains('\n'));
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
    fn metrics_token_is_off_by_default_and_must_be_long_enough() {
        assert!(
            Settings::from_pairs(&[])
                .unwrap()
                .http
                .metrics_token
                .is_none()
        );
        let err = Settings::from_pairs(&[("METRICS_TOKEN", "hunter2")]).unwrap_err();
        assert_eq!(err.variable, "METRICS_TOKEN");
        assert!(!err.to_string().contains("hunter2"));
        let s = Settings::from_pairs(&[("METRICS_TOKEN", "0123456789abcdef")]).unwrap();
        assert!(!format!("{s:?}").contains("0123456789abcdef"));
    }

    #[test]
    fn generated_secrets_differ() {
        let a = Settings::from_pairs(&[]).unwrap().auth.jwt_secret;
        let b = Settings::from_pairs(&[]).unwrap().auth.jwt_secret;
        assert_ne!(a.expose_secret(), b.expose_secret());
    }

    #[test]
    fn production_with_dev_login_is_refused_naming_auth_dev_login() {
        let err = Settings::from_pairs(&[
            ("APP_ENV", "production"),
            ("JWT_SECRET", SECRET),
            ("AUTH_DEV_LOGIN", "true"),
        ])
        .unwrap_err();
        assert_eq!(err.variable, "AUTH_DEV_LOGIN");
        assert_eq!(
            err.to_string(),
            "AUTH_DEV_LOGIN must not be enabled when APP_ENV=production"
        );
    }

    #[test]
    fn production_defaults_dev_login_off_and_requires_a_secret() {
        let s = Settings::from_pairs(&[("APP_ENV", "production"), ("JWT_SECRET", SECRET)]).unwrap();
        assert!(!s.auth.dev_login);
        let err = Settings::from_pairs(&[("APP_ENV", "production")]).unwrap_err();
        assert_eq!(err.variable, "JWT_SECRET");
    }

    #[test]
    fn short_jwt_secret_is_refused_naming_jwt_secret() {
        let err = Settings::from_pairs(&[("JWT_SECRET", "too-short")]).unwrap_err();
        assert_eq!(err.to_string(), "JWT_SECRET must be at least 32 bytes");
        assert!(!err.to_string().contains("too-short"));
    }

    #[test]
    fn each_bad_value_names_its_variable() {
        for (name, value) in [
            ("APP_ENV", "staging"),
            ("BIND_ADDR", "localhost"),
            ("DATABASE_URL", "mysql://x@y/z"),
            ("DATABASE_MAX_CONNECTIONS", "0"),
            ("SESSION_TTL_SECONDS", "ten"),
            ("BODY_READ_TIMEOUT_SECONDS", "0"),
            ("AUTH_DEV_LOGIN", "maybe"),
            ("ADMIN_EMAILS", "boss@example.com, nope"),
            ("ALLOWED_ORIGINS", "https://app.example.com/path"),
            ("PUBLIC_BASE_URL", "not a url"),
            ("LOG_FORMAT", "xml"),
            ("RUST_LOG", "info,[[["),
        ] {
            let err = Settings::from_pairs(&[(name, value)]).unwrap_err();
            assert_eq!(err.variable, name, "{err}");
            assert!(!err.to_string().contains('\n'));
        }
    }

    #[test]
    fn payments_are_off_without_a_stripe_secret_key() {
        let s = Settings::from_pairs(&[]).unwrap();
        assert!(!s.stripe.payments_enabled());
        assert!(s.stripe.api_base.is_none());
    }

    #[test]
    fn a_stripe_secret_key_needs_a_webhook_secret() {
        let err = Settings::from_pairs(&[("STRIPE_SECRET_KEY", "sk_test_abc")]).unwrap_err();
        assert_eq!(err.variable, "STRIPE_WEBHOOK_SECRET");
        assert!(!err.to_string().contains('\n'));
        let s = Settings::from_pairs(&[
            ("STRIPE_SECRET_KEY", "sk_test_abc"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_new, whsec_old"),
            ("STRIPE_PUBLISHABLE_KEY", "pk_test_abc"),
            ("STRIPE_PRICE_250", "price_250"),
            ("STRIPE_API_BASE", "http://127.0.0.1:12111"),
        ])
        .unwrap();
        assert!(s.stripe.payments_enabled());
        assert_eq!(s.stripe.price_250.as_deref(), Some("price_250"));
        assert_eq!(s.stripe.price_100, None);
        assert_eq!(s.stripe.publishable_key.as_deref(), Some("pk_test_abc"));
    }

    #[test]
    fn each_bad_stripe_value_names_its_variable_without_echoing_it() {
        for (name, value) in [
            ("STRIPE_SECRET_KEY", "pk_test_oops"),
            ("STRIPE_WEBHOOK_SECRET", "sk_test_oops"),
            ("STRIPE_PUBLISHABLE_KEY", "sk_test_oops"),
            ("STRIPE_PRICE_100", "prod_oops"),
            ("STRIPE_API_BASE", "ftp://oops"),
        ] {
            let err = Settings::from_pairs(&[(name, value)]).unwrap_err();
            assert_eq!(err.variable, name, "{err}");
            assert!(!err.to_string().contains("oops"), "{err}");
        }
    }

    #[test]
    fn debug_never_shows_stripe_secrets() {
        let s = Settings::from_pairs(&[
            ("STRIPE_SECRET_KEY", "sk_test_hunter2"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_hunter3"),
        ])
        .unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2") && !shown.contains("hunter3"));
    }

    #[test]
    fn database_url_errors_never_echo_the_url() {
        let err = Settings::from_pairs(&[("DATABASE_URL", "mysql://u:hunter2@h/db")]).unwrap_err();
        assert!(!err.to_string().contains("hunter2"));
    }

    #[test]
    fn lists_are_parsed_and_normalised() {
        let s = Settings::from_pairs(&[
            ("ADMIN_EMAILS", " Boss@Example.com ,, ops@example.com"),
            (
                "ALLOWED_ORIGINS",
                "https://app.example.com, http://localhost:3000",
            ),
        ])
        .unwrap();
        let admins: Vec<_> = s.auth.admin_emails.iter().map(Email::as_str).collect();
        assert_eq!(admins, ["boss@example.com", "ops@example.com"]);
        assert_eq!(
            s.http.allowed_origins,
            ["https://app.example.com", "http://localhost:3000"]
        );
    }

    /// A CA certificate (its key thrown away), for `DATABASE_CA_CERT`.
    const CA_PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIBmzCCAUGgAwIBAgIUDFqRfpeqUc/JyySUzMn5x58YszMwCgYIKoZIzj0EAwIw\nIzEhMB8GA1UEAwwYYXNrZ2F0ZSBzZXR0aW5ncyB0ZXN0IENBMB4XDTI2MTIwMjA3\nMDUyMloXDTM2MTEyOTA3MDUyMlowIzEhMB8GA1UEAwwYYXNrZ2F0ZSBzZXR0aW5n\ncyB0ZXN0IENBMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEvyBURfDiROwH6E5h\ngqoQssvmqBk2eqVq6KgHNcRpCsSlAuwK/Zsij5bKP918QIR++kA38Xg7jncK/QpK\nwMEU1KNTMFEwHQYDVR0OBBYEFBAByQAKG2V6WiEaunD3+Ec7nmpwMB8GA1UdIwQY\nMBaAFBAByQAKG2V6WiEaunD3+Ec7nmpwMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZI\nzj0EAwIDSAAwRQIhALCzqYWMHzCIwiL6atBfZRgIa0reNjUsju/LsOj0XRM/AiBA\n8c4GgZJB8Fz3l/SdtQtzK4zdlUEXDN3vWkQaagQDdQ==\n-----END CERTIFICATE-----\n";

    fn temp_file(name: &str, contents: &str) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("askgate-{}-{name}", Uuid::new_v4().simple()));
        std::fs::write(&path, contents).unwrap();
        path
    }

    #[test]
    fn production_encrypts_database_connections_when_the_url_names_no_sslmode() {
        let s = Settings::from_pairs(&[("APP_ENV", "production"), ("JWT_SECRET", SECRET)]).unwrap();
        assert_eq!(s.database.default_ssl_mode, SslMode::Require);
        assert_eq!(s.database.pg_config().tls.default_mode, SslMode::Require);
        // Development keeps libpq's default: TLS when the server offers it.
        let s = Settings::from_pairs(&[]).unwrap();
        assert_eq!(s.database.default_ssl_mode, SslMode::Prefer);
    }

    #[test]
    fn production_refuses_plain_text_to_a_database_on_another_machine_naming_database_url() {
        for (host, mode) in [
            ("db.example.com", "disable"),
            ("db.example.com", "prefer"),
            ("10.0.0.5", "disable"),
        ] {
            let err = Settings::from_pairs(&[
                ("APP_ENV", "production"),
                ("JWT_SECRET", SECRET),
                (
                    "DATABASE_URL",
                    &format!("postgres://askgate:hunter2@{host}:5432/askgate?sslmode={mode}"),
                ),
            ])
            .unwrap_err();
            assert_eq!(err.variable, "DATABASE_URL");
            assert_eq!(
                err.to_string(),
                format!(
                    "DATABASE_URL must not use sslmode={mode} when APP_ENV=production unless PostgreSQL is on this machine (127.0.0.1, ::1, localhost); use sslmode=require or verify-full"
                )
            );
        }
        // On this machine (a sidecar pooler, a proxy) plain text may be asked for.
        for host in ["127.0.0.1", "localhost", "[::1]"] {
            let s = Settings::from_pairs(&[
                ("APP_ENV", "production"),
                ("JWT_SECRET", SECRET),
                (
                    "DATABASE_URL",
                    &format!("postgres://u@{host}:6432/askgate?sslmode=disable"),
                ),
            ])
            .unwrap();
            assert!(s.database.url.expose_secret().ends_with("sslmode=disable"));
        }
        // Development may, anywhere.
        Settings::from_pairs(&[(
            "DATABASE_URL",
            "postgres://u@db.example.com/askgate?sslmode=disable",
        )])
        .unwrap();
        // Verified modes are fine everywhere.
        Settings::from_pairs(&[
            ("APP_ENV", "production"),
            ("JWT_SECRET", SECRET),
            (
                "DATABASE_URL",
                "postgres://u@db.example.com/askgate?sslmode=verify-full",
            ),
        ])
        .unwrap();
    }

    #[test]
    fn an_unknown_sslmode_is_refused_naming_database_url_without_echoing_the_url() {
        let err = Settings::from_pairs(&[(
            "DATABASE_URL",
            "postgres://u:hunter2@db.example.com/askgate?sslmode=allow",
        )])
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "DATABASE_URL is not valid: sslmode 'allow' is not one of disable, prefer, require, verify-ca, verify-full"
        );
    }

    #[test]
    fn database_ca_cert_must_be_a_readable_pem_file() {
        let good = temp_file("ca.pem", CA_PEM);
        let s = Settings::from_pairs(&[("DATABASE_CA_CERT", good.to_str().unwrap())]).unwrap();
        assert_eq!(
            s.database.pg_config().tls.ca_cert.as_deref(),
            Some(good.as_path())
        );
        let not_pem = temp_file("ca.pem", "not a certificate");
        for path in [not_pem.to_str().unwrap(), "/nonexistent/askgate-ca.pem"] {
            let err = Settings::from_pairs(&[("DATABASE_CA_CERT", path)]).unwrap_err();
            assert_eq!(err.variable, "DATABASE_CA_CERT", "{err}");
            assert!(err.to_string().contains(path), "{err}");
            assert!(!err.to_string().contains('\n'), "{err}");
        }
        for path in [good, not_pem] {
            std::fs::remove_file(path).unwrap();
        }
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
}
