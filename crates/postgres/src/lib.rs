//! PostgreSQL adapters for askgate's ports, on diesel + diesel-async with a
//! deadpool pool, and the embedded migrations.
//!
//! ```no_run
//! # async fn run() -> Result<(), askgate_postgres::PgError> {
//! use std::time::Duration;
//! use askgate_postgres::{Database, PgConfig, PgLedger};
//!
//! let db = Database::connect(&PgConfig {
//!     url: "postgres://postgres@127.0.0.1:5432/askgate".into(),
//!     max_connections: 10,
//!     application_name: "askgate".into(),
//!     statement_timeout: Duration::from_secs(5),
//!     connect_timeout: Duration::from_secs(5),
//!     tls: Default::default(),
//! })
//! .await?;
//! db.migrate().await?;
//! let ledger = PgLedger::new(db.clone());
//! # let _ = ledger;
//! # Ok(())
//! # }
//! ```

mod admin;
mod api_keys;
mod app_credits;
mod apps;
pub mod audit;
mod charges;
mod conversations;
mod database;
mod device_codes;
mod domains;
mod errors;
mod health;
mod ledger;
mod models;
mod purchases;
mod reports;
pub mod schema;
mod sessions;
#[cfg(feature = "test-support")]
pub mod testing;
mod tls;
mod users;

pub use admin::PgAdmin;
pub use api_keys::PgApiKeys;
pub use app_credits::PgAppLedger;
pub use apps::PgApps;
pub use charges::{KEY_LIFETIME_HOURS, PgCharges};
pub use conversations::PgConversations;
pub use database::{Database, MIGRATIONS, PgConfig, PgError, create_database_if_missing};
pub use device_codes::PgDeviceCodes;
pub use domains::PgDomains;
pub use health::PgHealth;
pub use ledger::PgLedger;
pub use purchases::PgPurchases;
pub use reports::PgReports;
pub use sessions::PgSessions;
pub use tls::{PgTls, SslMode, UnknownSslMode, check_ca_file, ssl_mode_of};
pub use users::PgUsers;
