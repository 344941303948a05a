//! The database section of [`Settings`](super::Settings): which PostgreSQL,
//! how many connections, and how they are encrypted.

use std::path::PathBuf;
use std::time::Duration;

use askgate_postgres::{PgConfig, PgTls, SslMode};
use secrecy::{ExposeSecret, SecretString};

use super::AppEnv;
use super::env::{ConfigError, Env, is_loopback, parse_url, variables};

variables! {
    DATABASE_URL,
    DATABASE_CA_CERT,
    DATABASE_MAX_CONNECTIONS,
}

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/askgate";

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
    pub ca_cert: Option<PathBuf>,
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

    pub(super) fn read(env: &Env<'_>, app_env: AppEnv) -> Result<Self, ConfigError> {
        let url = env
            .get(DATABASE_URL)
            .unwrap_or_else(|| DEFAULT_URL.to_owned());
        // The value may hold a password: never repeat it in the message.
        let parsed = parse_url(&url, &["postgres", "postgresql"]).ok_or_else(|| {
            ConfigError::new(
                DATABASE_URL,
                "must be a postgres:// URL, e.g. postgres://user:password@127.0.0.1:5432/askgate",
            )
        })?;
        let ssl_mode = askgate_postgres::ssl_mode_of(&url)
            .map_err(|e| ConfigError::new(DATABASE_URL, format!("is not valid: {e}")))?;
        // In production the connection is encrypted unless the server is on
        // this machine and plain text is asked for by name.
        if app_env.is_production()
            && let Some(weak @ (SslMode::Disable | SslMode::Prefer)) = ssl_mode
            && !is_loopback(&parsed)
        {
            return Err(ConfigError::new(
                DATABASE_URL,
                format!(
                    "must not use sslmode={weak} when APP_ENV=production unless PostgreSQL is on this machine (127.0.0.1, ::1, localhost); use sslmode=require or verify-full"
                ),
            ));
        }
        let ca_cert = env.get(DATABASE_CA_CERT).map(PathBuf::from);
        if let Some(path) = &ca_cert {
            askgate_postgres::check_ca_file(path).map_err(|reason| {
                ConfigError::new(DATABASE_CA_CERT, format!("is not usable: {reason}"))
            })?;
        }
        let default_ssl_mode = if app_env.is_production() {
            SslMode::Require
        } else {
            SslMode::Prefer
        };
        let max_connections = env.integer(DATABASE_MAX_CONNECTIONS, 10, 1..=1000)?;
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

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::super::Settings;
    use super::super::tests::SECRET;
    use super::*;

    #[test]
    fn each_bad_database_value_names_its_variable() {
        for (name, value) in [
            ("DATABASE_URL", "mysql://x@y/z"),
            ("DATABASE_MAX_CONNECTIONS", "0"),
        ] {
            let err = Settings::from_pairs(&[(name, value)]).unwrap_err();
            assert_eq!(err.variable, name, "{err}");
            assert!(!err.to_string().contains('\n'));
        }
    }

    #[test]
    fn database_url_errors_never_echo_the_url() {
        let err = Settings::from_pairs(&[("DATABASE_URL", "mysql://u:hunter2@h/db")]).unwrap_err();
        assert!(!err.to_string().contains("hunter2"));
    }

    /// A CA certificate (its key thrown away), for `DATABASE_CA_CERT`.
    const CA_PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIBmzCCAUGgAwIBAgIUDFqRfpeqUc/JyySUzMn5x58YszMwCgYIKoZIzj0EAwIw\nIzEhMB8GA1UEAwwYYXNrZ2F0ZSBzZXR0aW5ncyB0ZXN0IENBMB4XDTI2MTIwMjA3\nMDUyMloXDTM2MTEyOTA3MDUyMlowIzEhMB8GA1UEAwwYYXNrZ2F0ZSBzZXR0aW5n\ncyB0ZXN0IENBMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEvyBURfDiROwH6E5h\ngqoQssvmqBk2eqVq6KgHNcRpCsSlAuwK/Zsij5bKP918QIR++kA38Xg7jncK/QpK\nwMEU1KNTMFEwHQYDVR0OBBYEFBAByQAKG2V6WiEaunD3+Ec7nmpwMB8GA1UdIwQY\nMBaAFBAByQAKG2V6WiEaunD3+Ec7nmpwMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZI\nzj0EAwIDSAAwRQIhALCzqYWMHzCIwiL6atBfZRgIa0reNjUsju/LsOj0XRM/AiBA\n8c4GgZJB8Fz3l/SdtQtzK4zdlUEXDN3vWkQaagQDdQ==\n-----END CERTIFICATE-----\n";

    fn temp_file(name: &str, contents: &str) -> PathBuf {
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
}
