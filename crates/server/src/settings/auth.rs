//! The sessions section of [`Settings`](super::Settings): how session tokens
//! are signed and how long they live, dev login, and who is always an admin.

use std::time::Duration;

use askgate_domain::{Email, Tokens};
use secrecy::SecretString;
use uuid::Uuid;

use super::AppEnv;
use super::env::{ConfigError, Env, is_loopback, variables};
use super::http::{BIND_ADDR, HttpSettings, PUBLIC_BASE_URL};

variables! {
    JWT_SECRET,
    SESSION_TTL_SECONDS,
    AUTH_DEV_LOGIN,
    ADMIN_EMAILS,
    ADMIN_OBJECT_IDS,
    REFRESH_TTL_DAYS,
    SESSION_MAX_AGE_DAYS,
    TRIAL_TOKENS,
    LOW_BALANCE_TOKENS,
}

/// The smallest `JWT_SECRET` accepted, in bytes (HS256 wants at least 256 bits).
pub const MIN_JWT_SECRET_BYTES: usize = 32;

/// `aud` of session tokens: Supabase's default audience for signed-in users.
pub const SESSION_AUDIENCE: &str = "authenticated";

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
    /// `TRIAL_TOKENS`: what a person gets at their first sign-in, once per
    /// identity and e-mail address (0: nothing).
    pub trial_tokens: Tokens,
    /// `LOW_BALANCE_TOKENS`: at this balance or below the web UI says so,
    /// with the way to buy more.
    pub low_balance_tokens: u32,
}

impl AuthSettings {
    pub(super) fn read(
        env: &Env<'_>,
        app_env: AppEnv,
        http: &HttpSettings,
    ) -> Result<Self, ConfigError> {
        let jwt_secret = env.checked_secret(
            JWT_SECRET,
            |secret| secret.len() >= MIN_JWT_SECRET_BYTES,
            format!("must be at least {MIN_JWT_SECRET_BYTES} bytes"),
        )?;
        let (jwt_secret, jwt_secret_generated) = match jwt_secret {
            Some(secret) => (secret, false),
            None if app_env.is_production() => {
                return Err(ConfigError::new(
                    JWT_SECRET,
                    format!(
                        "is required when APP_ENV=production (at least {MIN_JWT_SECRET_BYTES} random bytes)"
                    ),
                ));
            }
            None => (generate_secret(), true),
        };
        let session_ttl =
            Duration::from_secs(env.integer(SESSION_TTL_SECONDS, 900, 60..=86_400)?);
        // Dev login signs anyone in as anyone (admin included): only ever on a
        // development instance that nobody else can reach.
        let bind_local = http.bind_addr.ip().is_loopback();
        let public_local = is_loopback(&http.public_base_url);
        let dev_login = env
            .bool(AUTH_DEV_LOGIN)?
            .unwrap_or(!app_env.is_production() && bind_local && public_local);
        if dev_login && app_env.is_production() {
            return Err(ConfigError::new(
                AUTH_DEV_LOGIN,
                "must not be enabled when APP_ENV=production",
            ));
        }
        if dev_login && !bind_local {
            return Err(ConfigError::new(
                BIND_ADDR,
                "must be a loopback address (127.0.0.1 or ::1) while dev login is on; set AUTH_DEV_LOGIN=false to listen elsewhere",
            ));
        }
        if dev_login && !public_local {
            return Err(ConfigError::new(
                PUBLIC_BASE_URL,
                "must be on this machine (localhost, 127.0.0.1 or ::1) while dev login is on; set AUTH_DEV_LOGIN=false for a public URL",
            ));
        }
        let admin_emails = env
            .list(ADMIN_EMAILS, |e| {
                Email::parse(e).map_err(|_| {
                    format!("must be comma-separated e-mail addresses; '{e}' is not one")
                })
            })?
            .unwrap_or_default();
        let admin_object_ids = env
            .list(ADMIN_OBJECT_IDS, |id| {
                Uuid::parse_str(id)
                    .map(|id| id.hyphenated().to_string())
                    .map_err(|_| {
                        format!(
                            "must be comma-separated Entra ID object ids (GUIDs); '{id}' is not one"
                        )
                    })
            })?
            .unwrap_or_default();
        let refresh_ttl = Duration::from_secs(env.integer(REFRESH_TTL_DAYS, 14, 1..=365)? * 86_400);
        let session_max_age =
            Duration::from_secs(env.integer(SESSION_MAX_AGE_DAYS, 30, 1..=365)? * 86_400);
        let trial_tokens = tokens(TRIAL_TOKENS, env.integer(TRIAL_TOKENS, 0, 0..=1_000_000)?)?;
        let low_balance_tokens =
            u32::try_from(env.integer(LOW_BALANCE_TOKENS, 5, 0..=1_000_000)?)
                .map_err(|_| ConfigError::new(LOW_BALANCE_TOKENS, "is too large"))?;
        Ok(Self {
            jwt_secret,
            jwt_secret_generated,
            session_ttl,
            dev_login,
            admin_emails,
            admin_object_ids,
            refresh_ttl,
            session_max_age,
            trial_tokens,
            low_balance_tokens,
        })
    }
}

/// A count `Env::integer` already bounded, as tokens.
fn tokens(var: super::env::Var, count: u64) -> Result<Tokens, ConfigError> {
    i64::try_from(count)
        .ok()
        .and_then(|n| Tokens::new(n).ok())
        .ok_or_else(|| ConfigError::new(var, "is too large"))
}

/// 64 hex characters from two v4 UUIDs: 244 bits from the OS's random source.
fn generate_secret() -> SecretString {
    SecretString::from(format!(
        "{}{}",
        Uuid::new_v4().simple(),
        Uuid::new_v4().simple()
    ))
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::super::Settings;
    use super::super::tests::SECRET;
    use super::*;

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
    fn each_bad_auth_value_names_its_variable() {
        for (name, value) in [
            ("SESSION_TTL_SECONDS", "ten"),
            ("AUTH_DEV_LOGIN", "maybe"),
            ("ADMIN_EMAILS", "boss@example.com, nope"),
        ] {
            let err = Settings::from_pairs(&[(name, value)]).unwrap_err();
            assert_eq!(err.variable, name, "{err}");
            assert!(!err.to_string().contains('\n'));
        }
    }

    #[test]
    fn admin_emails_are_parsed_and_normalised() {
        let s = Settings::from_pairs(&[("ADMIN_EMAILS", " Boss@Example.com ,, ops@example.com")])
            .unwrap();
        let admins: Vec<_> = s.auth.admin_emails.iter().map(Email::as_str).collect();
        assert_eq!(admins, ["boss@example.com", "ops@example.com"]);
    }

    #[test]
    fn admin_object_ids_are_lowercase_guids() {
        let s = Settings::from_pairs(&[(
            "ADMIN_OBJECT_IDS",
            "6F1C2B9E-0D7A-4C55-9A3E-7B1D4C2E8F10, ,",
        )])
        .unwrap();
        assert_eq!(
            s.auth.admin_object_ids,
            ["6f1c2b9e-0d7a-4c55-9a3e-7b1d4c2e8f10"]
        );
        let err = Settings::from_pairs(&[("ADMIN_OBJECT_IDS", "boss@example.com")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "ADMIN_OBJECT_IDS must be comma-separated Entra ID object ids (GUIDs); 'boss@example.com' is not one"
        );
    }
}
