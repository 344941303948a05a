//! The connection pool, its configuration, and the embedded migrations.

use std::sync::Arc;
use std::time::Duration;

use diesel::ConnectionError;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::deadpool::{Object, Pool, PoolError};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, PoolError as ManagerError, RecyclingMethod,
};
use diesel_async::{AsyncPgConnection, SimpleAsyncConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use tokio_postgres::config::Host;

use crate::tls::{PgTls, SslMode, Tls, take_ssl_mode};

/// Every migration under `migrations/`, compiled into the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

/// Fingerprint of the embedded migrations' files (set by `build.rs`).
#[cfg(feature = "test-support")]
pub(crate) const MIGRATIONS_HASH: &str = env!("ASKGATE_MIGRATIONS_HASH");

/// Key of the session advisory lock held while migrating, so that replicas
/// starting together apply migrations one after the other. ("askgate" in ASCII.)
const MIGRATION_LOCK_KEY: i64 = 0x61_736b_6761_7465;

/// How to reach PostgreSQL.
#[derive(Clone)]
pub struct PgConfig {
    /// `postgres://user:password@host:port/database?...` (or libpq `key=value`
    /// form). Parts left out default as libpq's do: host from `PGHOST` or
    /// `localhost`, port from `PGPORT` or 5432, user from `PGUSER` or the OS user,
    /// password from `PGPASSWORD`, database from `PGDATABASE` or the user name.
    /// `sslmode` may be `disable`, `prefer`, `require`, `verify-ca` or
    /// `verify-full`, with libpq's meaning (see [`SslMode`]).
    pub url: String,
    /// Largest number of open connections.
    pub max_connections: usize,
    /// Shown in `pg_stat_activity`.
    pub application_name: String,
    /// Longest a statement may run before PostgreSQL cancels it (0: no limit).
    pub statement_timeout: std::time::Duration,
    /// Longest to wait for a new connection, and for a free one from the pool.
    pub connect_timeout: std::time::Duration,
    /// Encryption: the `sslmode` when the URL names none, and the CA file.
    pub tls: PgTls,
}

impl std::fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConfig")
            .field("url", &"<redacted>")
            .field("max_connections", &self.max_connections)
            .field("application_name", &self.application_name)
            .field("statement_timeout", &self.statement_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("tls", &self.tls)
            .finish()
    }
}

/// Why the database could not be set up. Each message is one line naming the
/// server (never the password) and the cause.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error("the PostgreSQL URL is not valid: {reason}")]
    InvalidUrl { reason: String },
    #[error("cannot connect to PostgreSQL at {target}: {reason}")]
    Connect { target: String, reason: String },
    #[error("cannot apply migrations to PostgreSQL at {target}: {reason}")]
    Migration { target: String, reason: String },
    #[error("cannot create the PostgreSQL connection pool: {reason}")]
    Pool { reason: String },
    #[error("cannot set up TLS to PostgreSQL: {reason}")]
    Tls { reason: String },
}

/// What every new connection is set up with.
struct Settings {
    connect: tokio_postgres::Config,
    /// The `sslmode` in force (the driver knows only disable/prefer/require).
    ssl_mode: SslMode,
    tls: Tls,
    statement_timeout: Duration,
    /// `host:port/database`, for messages.
    target: String,
    wait_timeout: Duration,
}

/// A pool of PostgreSQL connections; cheap to clone.
#[derive(Clone)]
pub struct Database {
    pool: Pool<AsyncPgConnection>,
    settings: Arc<Settings>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("target", &self.settings.target)
            .finish_non_exhaustive()
    }
}

/// A pooled connection.
pub(crate) type Conn = Object<AsyncPgConnection>;

/// No connection could be had (pool exhausted, server down, timeout).
#[derive(Debug, thiserror::Error)]
#[error("no database connection available: {0}")]
pub(crate) struct Unreachable(String);

impl Database {
    /// Builds the pool and checks out one connection, so a wrong URL, a server
    /// that is down or a missing database fails here with a clear message.
    pub async fn connect(config: &PgConfig) -> Result<Self, PgError> {
        let settings = Arc::new(Settings::from_config(config)?);
        let setup = Arc::clone(&settings);
        let mut manager_config = ManagerConfig::<AsyncPgConnection>::default();
        manager_config.custom_setup = Box::new(move |_url| {
            let setup = Arc::clone(&setup);
            Box::pin(async move { establish(&setup, setup.statement_timeout).await })
        });
        // A checked-out connection is reused when its socket is open and no
        // transaction is left on it, without the default `SELECT 1` first: that
        // ping was a round trip on every checkout (a chat checks out several).
        // A connection the server closed is seen as closed and replaced.
        manager_config.recycling_method = RecyclingMethod::Fast;
        // The URL given to the manager is never used: `custom_setup` connects
        // with the parsed configuration.
        let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(
            String::new(),
            manager_config,
        );
        let pool = Pool::builder(manager)
            .max_size(config.max_connections.max(1))
            .build()
            .map_err(|e| PgError::Pool {
                reason: e.to_string(),
            })?;
        let database = Self { pool, settings };
        let first = database
            .conn()
            .await
            .map_err(|Unreachable(reason)| PgError::Connect {
                target: database.settings.target.clone(),
                reason,
            })?;
        drop(first);
        tracing::debug!(target = %database.settings.target, "connected to PostgreSQL");
        Ok(database)
    }

    /// Applies the migrations not yet applied, holding an advisory lock so that
    /// concurrent callers (replicas starting together) wait for each other.
    pub async fn migrate(&self) -> Result<(), PgError> {
        let target = self.settings.target.clone();
        let failed = |reason: String| PgError::Migration {
            target: target.clone(),
            reason,
        };
        // A connection of its own, without a statement timeout: waiting for the
        // lock or running a long migration must not be cancelled.
        let conn = establish(&self.settings, Duration::ZERO)
            .await
            .map_err(|e| PgError::Connect {
                target: target.clone(),
                reason: connection_error_reason(&e),
            })?;
        let applied = tokio::task::spawn_blocking(move || run_migrations(conn))
            .await
            .map_err(|e| failed(e.to_string()))?
            .map_err(failed)?;
        if applied.is_empty() {
            tracing::info!(target = %target, "database schema is up to date");
        } else {
            tracing::info!(target = %target, migrations = ?applied, "applied migrations");
        }
        Ok(())
    }

    /// Connections `(in use, idle)`.
    #[must_use]
    pub fn pool_status(&self) -> (usize, usize) {
        let status = self.pool.status();
        (
            status.size.saturating_sub(status.available),
            status.available,
        )
    }

    /// `host:port/database` of the server, for messages.
    #[must_use]
    pub fn target(&self) -> &str {
        &self.settings.target
    }

    /// A pooled connection, waiting at most `connect_timeout` for one.
    pub(crate) async fn conn(&self) -> Result<Conn, Unreachable> {
        match tokio::time::timeout(self.settings.wait_timeout, self.pool.get()).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(e)) => Err(Unreachable(pool_error_reason(e))),
            Err(_) => Err(Unreachable(format!(
                "no free connection within {:?}",
                self.settings.wait_timeout
            ))),
        }
    }

    /// Closes the pool: idle connections are dropped, checkouts fail.
    #[cfg(feature = "test-support")]
    pub(crate) fn close(&self) {
        self.pool.close();
    }
}

impl Settings {
    fn from_config(config: &PgConfig) -> Result<Self, PgError> {
        let (url, ssl_mode) = take_ssl_mode(&config.url).map_err(|e| PgError::InvalidUrl {
            reason: e.to_string(),
        })?;
        let mut connect: tokio_postgres::Config =
            url.parse()
                .map_err(|e: tokio_postgres::Error| PgError::InvalidUrl {
                    reason: e.to_string(),
                })?;
        apply_libpq_defaults(&mut connect);
        connect.application_name(config.application_name.as_str());
        connect.connect_timeout(config.connect_timeout);
        let mut ssl_mode = ssl_mode.unwrap_or(config.tls.default_mode);
        // As libpq: no TLS over a Unix socket (the server offers none there).
        #[cfg(unix)]
        if !connect.get_hosts().is_empty()
            && connect
                .get_hosts()
                .iter()
                .all(|h| matches!(h, Host::Unix(_)))
        {
            ssl_mode = SslMode::Disable;
        }
        // Only `hostaddr=` given: the driver has no name for the TLS handshake
        // and would fail even where `prefer` allows plain text.
        if connect.get_hosts().is_empty() && ssl_mode == SslMode::Prefer {
            ssl_mode = SslMode::Disable;
        }
        connect.ssl_mode(ssl_mode.driver_mode());
        let tls = Tls::new(ssl_mode, config.tls.ca_cert.as_deref())
            .map_err(|reason| PgError::Tls { reason })?;
        let target = describe_target(&connect);
        Ok(Self {
            connect,
            ssl_mode,
            tls,
            statement_timeout: config.statement_timeout,
            target,
            wait_timeout: config.connect_timeout,
        })
    }
}

impl Settings {
    /// A raw driver connection, encrypted as `sslmode` says.
    async fn open(
        &self,
    ) -> Result<
        (
            tokio_postgres::Client,
            tokio_postgres::Connection<tokio_postgres::Socket, crate::tls::TlsStream>,
        ),
        tokio_postgres::Error,
    > {
        self.connect.connect(self.tls.clone()).await
    }

    /// [`postgres_error_reason`], with a hint when the server wants TLS that
    /// `sslmode=disable` turned off.
    fn connect_error_reason(&self, error: &tokio_postgres::Error) -> String {
        let reason = postgres_error_reason(error);
        if self.ssl_mode == SslMode::Disable && reason.contains("no encryption") {
            format!(
                "{reason} (the server requires TLS: remove sslmode=disable or use sslmode=require)"
            )
        } else {
            reason
        }
    }
}

/// Fills in what the URL left out, as libpq would.
fn apply_libpq_defaults(config: &mut tokio_postgres::Config) {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    if config.get_hosts().is_empty() && config.get_hostaddrs().is_empty() {
        config.host(env("PGHOST").unwrap_or_else(|| "localhost".to_owned()));
    }
    if config.get_ports().is_empty()
        && let Some(port) = env("PGPORT").and_then(|p| p.parse().ok())
    {
        config.port(port);
    }
    if config.get_user().is_none()
        && let Some(user) = env("PGUSER")
    {
        config.user(user);
    }
    if config.get_password().is_none()
        && let Some(password) = env("PGPASSWORD")
    {
        config.password(password);
    }
    if config.get_dbname().is_none()
        && let Some(dbname) = env("PGDATABASE")
    {
        config.dbname(dbname);
    }
}

/// `host:port/database`, never the user's password.
fn describe_target(config: &tokio_postgres::Config) -> String {
    let host = match (config.get_hosts().first(), config.get_hostaddrs().first()) {
        (Some(Host::Tcp(h)), _) => h.clone(),
        #[cfg(unix)]
        (Some(Host::Unix(path)), _) => path.display().to_string(),
        (None, Some(addr)) => addr.to_string(),
        (None, None) => "localhost".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    // PostgreSQL's default database is the user's name.
    let dbname = config
        .get_dbname()
        .map(str::to_owned)
        .or_else(|| config.get_user().map(str::to_owned))
        .unwrap_or_else(|| "<user name>".to_owned());
    format!("{host}:{port}/{dbname}")
}

/// Opens one connection with askgate's session settings.
async fn establish(
    settings: &Settings,
    statement_timeout: Duration,
) -> diesel::ConnectionResult<AsyncPgConnection> {
    let (client, connection) = settings
        .open()
        .await
        .map_err(|e| ConnectionError::BadConnection(settings.connect_error_reason(&e)))?;
    let mut conn = AsyncPgConnection::try_from_client_and_connection(client, connection).await?;
    // Sent as a statement rather than a start-up option, which poolers such as
    // PgBouncer refuse.
    conn.batch_execute(&format!(
        "SET statement_timeout = {}",
        statement_timeout.as_millis()
    ))
    .await
    .map_err(ConnectionError::CouldntSetupConfiguration)?;
    Ok(conn)
}

/// One connection to `url` outside any pool, encrypted as its `sslmode` says
/// (libpq's default `prefer` without one), for test set-up.
#[cfg(feature = "test-support")]
pub(crate) async fn connect_once(url: &str) -> Result<AsyncPgConnection, String> {
    let settings = Settings::from_config(&PgConfig {
        url: url.to_owned(),
        max_connections: 1,
        application_name: "askgate-test".to_owned(),
        statement_timeout: Duration::ZERO,
        connect_timeout: Duration::from_secs(10),
        tls: PgTls::default(),
    })
    .map_err(|e| e.to_string())?;
    establish(&settings, Duration::ZERO)
        .await
        .map_err(|e| settings.target.clone() + ": " + &connection_error_reason(&e))
}

fn run_migrations(conn: AsyncPgConnection) -> Result<Vec<String>, String> {
    use diesel::connection::SimpleConnection;

    let mut conn: AsyncConnectionWrapper<AsyncPgConnection> = conn.into();
    SimpleConnection::batch_execute(
        &mut conn,
        &format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"),
    )
    .map_err(|e| format!("cannot take the migration lock: {e}"))?;
    let result = conn
        .run_pending_migrations(MIGRATIONS)
        .map(|versions| versions.iter().map(ToString::to_string).collect())
        .map_err(|e| e.to_string());
    // Closing the connection would release the lock too; unlock explicitly anyway.
    if let Err(e) = SimpleConnection::batch_execute(
        &mut conn,
        &format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"),
    ) {
        tracing::warn!(error = %e, "cannot release the migration lock");
    }
    result
}

/// The cause of a connection failure in a few words ("connection refused",
/// `database "x" does not exist`, `password authentication failed for user "y"`).
pub(crate) fn postgres_error_reason(error: &tokio_postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        return db.message().to_owned();
    }
    let mut cause: &dyn std::error::Error = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    if let Some(io) = cause.downcast_ref::<std::io::Error>() {
        return match io.kind() {
            std::io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
            std::io::ErrorKind::TimedOut => "timed out".to_owned(),
            _ => io.to_string(),
        };
    }
    let text = cause.to_string();
    if text.is_empty() {
        error.to_string()
    } else {
        text
    }
}

fn connection_error_reason(error: &ConnectionError) -> String {
    match error {
        ConnectionError::BadConnection(reason) => reason.clone(),
        other => other.to_string(),
    }
}

fn pool_error_reason(error: PoolError) -> String {
    match error {
        PoolError::Backend(ManagerError::ConnectionError(e)) => connection_error_reason(&e),
        PoolError::Backend(ManagerError::QueryError(e)) => e.to_string(),
        PoolError::Timeout(_) => "timed out waiting for a connection".to_owned(),
        PoolError::Closed => "the connection pool is closed".to_owned(),
        other => other.to_string(),
    }
}

/// Creates the database `config` names when it does not exist yet, connecting to
/// the same server's `postgres` database to do so. For local development, where
/// `cargo run` should work on a fresh PostgreSQL. Returns whether it created it.
pub async fn create_database_if_missing(config: &PgConfig) -> Result<bool, PgError> {
    use tokio_postgres::error::SqlState;

    let settings = Settings::from_config(config)?;
    let connect_failed = |e: &tokio_postgres::Error| PgError::Connect {
        target: settings.target.clone(),
        reason: settings.connect_error_reason(e),
    };
    let Some(dbname) = settings.connect.get_dbname().map(str::to_owned) else {
        return Ok(false);
    };
    match settings.open().await {
        Ok(_) => return Ok(false),
        Err(e) if e.code() == Some(&SqlState::INVALID_CATALOG_NAME) => {}
        Err(e) => return Err(connect_failed(&e)),
    }
    let mut server = settings.connect.clone();
    server.dbname("postgres");
    let (client, connection) = server
        .connect(settings.tls.clone())
        .await
        .map_err(|e| connect_failed(&e))?;
    let driver = tokio::spawn(connection);
    let quoted = format!("\"{}\"", dbname.replace('"', "\"\""));
    let created = match client
        .batch_execute(&format!("CREATE DATABASE {quoted}"))
        .await
    {
        Ok(()) => true,
        // Another instance created it at the same moment.
        Err(e) if e.code() == Some(&SqlState::DUPLICATE_DATABASE) => false,
        Err(e) => return Err(connect_failed(&e)),
    };
    drop(client);
    driver.abort();
    if created {
        tracing::info!(target = %settings.target, "created the database");
    }
    Ok(created)
}
