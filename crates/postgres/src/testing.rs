//! A fresh, migrated database per test (`test-support` feature).
//!
//! The first [`TestDatabase`] of a process makes sure a template database
//! `askgate_tpl_<hash of the migrations>` exists: built once, under an advisory
//! lock on the server database so that test binaries running side by side do
//! not race, then closed to connections for good (`ALLOW_CONNECTIONS false`), so
//! that `CREATE DATABASE … TEMPLATE` never finds anyone connected to it. Each
//! `TestDatabase` is then a copy of it (`askgate_t_<uuid v7>`), dropped again on
//! `Drop`; copies older than an hour, left by crashed runs, are swept away when
//! the template is first checked.
//!
//! The server comes from `TEST_DATABASE_URL` (a `postgres://` URL), by default
//! `postgres://postgres@127.0.0.1:5432/postgres`; when that URL has no
//! password, `PGPASSWORD` gives it, as for the server itself ([`test_server_url`]).

use std::time::Duration;

use askgate_domain::ledger::{CreditKind, CreditRequest, IdempotencyKey};
use askgate_domain::ports::{
    Charges, ExchangeTarget, Ledger, Reserved, SettleOutcome, Settled, UserRepository,
};
use askgate_domain::testing as fixtures;
use askgate_domain::{ConversationId, Tokens, UserId};
use diesel::QueryableByName;
use diesel::sql_types::Text;
use diesel_async::{AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use tokio::sync::OnceCell;
use uuid::Uuid;

use crate::audit::balance_violations;
use crate::database::MIGRATIONS_HASH;
use crate::{Database, PgCharges, PgConfig, PgLedger, PgUsers};

/// Where tests find PostgreSQL when `TEST_DATABASE_URL` is not set.
pub const DEFAULT_TEST_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The PostgreSQL server tests use: `TEST_DATABASE_URL` (or
/// [`DEFAULT_TEST_DATABASE_URL`]), with `PGPASSWORD` as its password when the
/// URL gives none, so that a server that asks for a password works the same
/// way for the tests as for `cargo run`.
pub fn test_server_url() -> String {
    let url = std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| DEFAULT_TEST_DATABASE_URL.to_owned());
    with_password(
        url,
        std::env::var("PGPASSWORD").ok().filter(|p| !p.is_empty()),
    )
}

/// `url` with `password` when it has none of its own.
fn with_password(url: String, password: Option<String>) -> String {
    match (url::Url::parse(&url), password) {
        (Ok(mut parsed), Some(password)) if parsed.password().is_none() => {
            if parsed.set_password(Some(&password)).is_ok() {
                parsed.into()
            } else {
                url
            }
        }
        _ => url,
    }
}

/// Connections a [`TestDatabase::new`] pool may open.
pub const DEFAULT_MAX_CONNECTIONS: usize = 5;

/// Prefix of every per-test database.
const TEST_PREFIX: &str = "askgate_t_";

/// Leftover test databases older than this are dropped.
const LEFTOVER_AGE: Duration = Duration::from_secs(60 * 60);

/// Advisory lock held while the template is checked or built ("askgtpl").
const TEMPLATE_LOCK_KEY: i64 = 0x61_736b_6774_706c;

/// Name of the template database, set once per process.
static TEMPLATE: OnceCell<String> = OnceCell::const_new();

/// A database of its own for one test, migrated, dropped when this is dropped.
pub struct TestDatabase {
    database: Database,
    name: String,
    url: String,
    server_url: String,
}

impl std::fmt::Debug for TestDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDatabase")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl TestDatabase {
    /// A fresh database with every migration applied and a pool of
    /// [`DEFAULT_MAX_CONNECTIONS`]. Panics (failing the test at once) when
    /// PostgreSQL cannot be used.
    pub async fn new() -> Self {
        Self::with_max_connections(DEFAULT_MAX_CONNECTIONS).await
    }

    /// Like [`TestDatabase::new`], with a pool of `max_connections`.
    pub async fn with_max_connections(max_connections: usize) -> Self {
        let template = template().await;
        Self::create(&format!(r#"TEMPLATE "{template}""#), max_connections).await
    }

    /// A fresh database without askgate's schema (PostgreSQL's default
    /// template), for tests that build a schema themselves: the Supabase
    /// scripts, migrations from nothing. Named and swept like the migrated ones.
    pub async fn empty() -> Self {
        // Checking the template once also sweeps the leftovers of crashed runs.
        template().await;
        Self::create("", DEFAULT_MAX_CONNECTIONS).await
    }

    /// Creates `askgate_t_<uuid v7>` with the `CREATE DATABASE` options
    /// `options` and connects a pool of `max_connections` to it.
    async fn create(options: &str, max_connections: usize) -> Self {
        let server_url = test_server_url();
        let name = format!("{TEST_PREFIX}{}", Uuid::now_v7().simple());
        let mut server = connect_server(&server_url)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        server
            .batch_execute(&format!(r#"CREATE DATABASE "{name}" {options}"#))
            .await
            .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
        drop(server);

        let url = database_url(&server_url, &name);
        let database = Database::connect(&PgConfig {
            url: url.clone(),
            max_connections,
            application_name: "askgate-test".to_owned(),
            statement_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            tls: Default::default(),
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        Self {
            database,
            name,
            url,
            server_url,
        }
    }

    /// The pool of this test's database.
    #[must_use]
    pub fn database(&self) -> Database {
        self.database.clone()
    }

    /// The value of setting `name` on a connection of this test's pool (with
    /// a pool of one, the connection the adapters used last).
    pub async fn pooled_setting(&self, name: &str) -> String {
        #[derive(QueryableByName)]
        struct Setting {
            #[diesel(sql_type = diesel::sql_types::Text)]
            value: String,
        }
        let mut conn = self.database.conn().await.unwrap_or_else(|e| panic!("{e}"));
        diesel::sql_query("SELECT current_setting($1) AS value")
            .bind::<diesel::sql_types::Text, _>(name)
            .get_result::<Setting>(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("cannot read setting {name}: {e}"))
            .value
    }

    /// `postgres://…/askgate_t_…`, for code that connects by itself.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Panics, naming the users, unless for every user `tokens = Σ amount` of
    /// their ledger rows and `tokens ≥ 0` (the audit's first rule).
    pub async fn assert_ledger_invariant(&self) {
        let broken = balance_violations(&self.database)
            .await
            .unwrap_or_else(|e| panic!("cannot check the ledger invariant of {}: {e}", self.name));
        assert!(
            broken.is_empty(),
            "ledger invariant broken:\n{}",
            broken.join("\n")
        );
    }
}

/// The name of the migrated template, checked (or built) once per process.
async fn template() -> &'static str {
    let server_url = test_server_url();
    TEMPLATE
        .get_or_try_init(|| ensure_template(&server_url))
        .await
        .unwrap_or_else(|e| panic!("cannot prepare the test template database: {e}"))
}

/// A new user, signed in once, holding `tokens` granted tokens.
pub async fn user_with(db: &Database, tokens: i64) -> UserId {
    let id = Uuid::now_v7().simple();
    let user = PgUsers::new(db.clone())
        .upsert_sign_in(&fixtures::new_sign_in())
        .await
        .unwrap_or_else(|e| panic!("cannot create a test user: {e}"))
        .id;
    if tokens > 0 {
        PgLedger::new(db.clone())
            .credit(&CreditRequest {
                user,
                kind: CreditKind::Grant,
                amount: Tokens::new(tokens).unwrap_or_else(|e| panic!("{e}")),
                idempotency_key: IdempotencyKey::parse(&format!("seed-{id}"))
                    .unwrap_or_else(|e| panic!("{e}")),
                metadata: serde_json::json!({ "by": "test" }),
            })
            .await
            .unwrap_or_else(|e| panic!("cannot grant test tokens: {e}"));
    }
    user
}

/// One chat as the chat use case records it: one of `user`'s tokens reserved
/// for AskAT&T (the reservation must hold), then settled with `question` and
/// `answer` recorded in `target`.
pub async fn exchange(
    charges: &PgCharges,
    user: UserId,
    target: ExchangeTarget,
    question: &str,
    answer: &str,
) -> Settled {
    let conversation = match target {
        ExchangeTarget::New(id) | ExchangeTarget::Existing(id) => id,
    };
    let reservation = fixtures::reservation(user, conversation);
    let reserved = charges
        .reserve(&reservation, Duration::ZERO)
        .await
        .unwrap_or_else(|e| panic!("cannot reserve a test chat's token: {e}"));
    assert!(
        matches!(reserved, Reserved::Held { .. }),
        "cannot reserve a test chat's token: {reserved:?}"
    );
    let question = fixtures::message(question);
    charges
        .settle(&fixtures::settlement(
            &reservation,
            target,
            &question,
            answer,
        ))
        .await
        .unwrap_or_else(|e| panic!("cannot settle a test chat: {e}"))
}

/// Spends `n` of the user's tokens as chats do: each one reserved, then
/// settled with a question and answer in a new conversation.
pub async fn spend(db: &Database, user: UserId, n: usize) {
    let charges = PgCharges::new(db.clone());
    for _ in 0..n {
        let target = ExchangeTarget::New(ConversationId::generate());
        let settled = exchange(&charges, user, target, "a question", "an answer").await;
        assert_eq!(settled.outcome, SettleOutcome::Charged);
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        self.database.close();
        // On a thread and runtime of its own: `Drop` cannot await, and the test's
        // runtime may be single-threaded or shutting down. FORCE ends the pool's
        // remaining sessions.
        let server_url = self.server_url.clone();
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let mut server = connect_server(&server_url).await?;
                drop_database(&mut server, &name).await
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(database = %self.name, error = %e, "cannot drop test database")
            }
            Err(_) => tracing::warn!(database = %self.name, "dropping the test database panicked"),
        }
    }
}

/// Whether the pooled connection `database` hands out is encrypted (TLS), as
/// the server sees it.
pub async fn connection_is_encrypted(database: &Database) -> bool {
    #[derive(QueryableByName)]
    struct Ssl {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        ssl: bool,
    }
    let mut conn = database.conn().await.unwrap_or_else(|e| panic!("{e}"));
    diesel::sql_query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .get_result::<Ssl>(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("cannot read pg_stat_ssl: {e}"))
        .ssl
}

async fn connect_server(server_url: &str) -> Result<AsyncPgConnection, String> {
    crate::database::connect_once(server_url)
        .await
        .map_err(|e| {
            format!("cannot connect to the test PostgreSQL server (TEST_DATABASE_URL): {e}")
        })
}

async fn drop_database(server: &mut AsyncPgConnection, name: &str) -> Result<(), String> {
    server
        .batch_execute(&format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#))
        .await
        .map_err(|e| format!("cannot drop database {name}: {e}"))
}

/// The server URL with `name` as its database.
fn database_url(server_url: &str, name: &str) -> String {
    let mut url = url::Url::parse(server_url)
        .unwrap_or_else(|e| panic!("TEST_DATABASE_URL must be a postgres:// URL: {e}"));
    url.set_path(&format!("/{name}"));
    url.into()
}

#[derive(QueryableByName)]
struct DatabaseRow {
    #[diesel(sql_type = Text)]
    datname: String,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    datallowconn: bool,
}

/// Makes sure the migrated template exists; returns its name.
async fn ensure_template(server_url: &str) -> Result<String, String> {
    let template = format!("askgate_tpl_{MIGRATIONS_HASH}");
    let mut server = connect_server(server_url).await?;
    server
        .batch_execute(&format!("SELECT pg_advisory_lock({TEMPLATE_LOCK_KEY})"))
        .await
        .map_err(|e| format!("cannot take the template lock: {e}"))?;
    let result = prepare_template(&mut server, server_url, &template).await;
    // Closing the connection releases the lock as well.
    let _ = server
        .batch_execute(&format!("SELECT pg_advisory_unlock({TEMPLATE_LOCK_KEY})"))
        .await;
    result.map(|()| template)
}

async fn prepare_template(
    server: &mut AsyncPgConnection,
    server_url: &str,
    template: &str,
) -> Result<(), String> {
    let databases: Vec<DatabaseRow> = RunQueryDsl::load(
        diesel::sql_query(
            "SELECT datname::text AS datname, datallowconn FROM pg_database
             WHERE datname LIKE 'askgate\\_t\\_%' OR datname = $1",
        )
        .bind::<Text, _>(template),
        server,
    )
    .await
    .map_err(|e| format!("cannot list databases: {e}"))?;

    for leftover in databases.iter().filter(|d| is_old_leftover(&d.datname)) {
        drop_database(server, &leftover.datname).await?;
    }

    match databases.iter().find(|d| d.datname == template) {
        // Complete: closed to connections as the last step of building it.
        Some(d) if !d.datallowconn => return Ok(()),
        // Half-built by a run that died: start over.
        Some(_) => drop_database(server, template).await?,
        None => {}
    }

    server
        .batch_execute(&format!(r#"CREATE DATABASE "{template}""#))
        .await
        .map_err(|e| format!("cannot create {template}: {e}"))?;
    let database = Database::connect(&PgConfig {
        url: database_url(server_url, template),
        max_connections: 1,
        application_name: "askgate-test-template".to_owned(),
        statement_timeout: Duration::ZERO,
        connect_timeout: Duration::from_secs(10),
        tls: Default::default(),
    })
    .await
    .map_err(|e| e.to_string())?;
    database.migrate().await.map_err(|e| e.to_string())?;
    database.close();
    drop(database);
    server
        .batch_execute(&format!(
            r#"ALTER DATABASE "{template}" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"#
        ))
        .await
        .map_err(|e| format!("cannot close {template} to connections: {e}"))?;
    // Sessions still closing would make CREATE DATABASE … TEMPLATE wait or fail.
    server
        .batch_execute(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{template}'"
        ))
        .await
        .map_err(|e| format!("cannot end the sessions on {template}: {e}"))?;
    Ok(())
}

/// `askgate_t_<uuid v7>` created more than [`LEFTOVER_AGE`] ago.
fn is_old_leftover(name: &str) -> bool {
    let Some(id) = name
        .strip_prefix(TEST_PREFIX)
        .and_then(|id| Uuid::parse_str(id).ok())
    else {
        return false;
    };
    let Some((secs, nanos)) = id.get_timestamp().map(|t| t.to_unix()) else {
        return false;
    };
    let created = std::time::UNIX_EPOCH + Duration::new(secs, nanos);
    std::time::SystemTime::now()
        .duration_since(created)
        .is_ok_and(|age| age > LEFTOVER_AGE)
}

#[cfg(test)]
mod tests {
    use super::with_password;

    #[test]
    fn pgpassword_fills_in_a_url_without_a_password_and_never_overrides_one() {
        let url = "postgres://postgres@127.0.0.1:5432/postgres".to_owned();
        assert_eq!(
            with_password(url.clone(), Some("s3cret".into())),
            "postgres://postgres:s3cret@127.0.0.1:5432/postgres"
        );
        assert_eq!(with_password(url.clone(), None), url);
        let own = "postgres://postgres:mine@127.0.0.1:5432/postgres".to_owned();
        assert_eq!(with_password(own.clone(), Some("other".into())), own);
    }
}
