//! Readiness: the database answers.

use askgate_domain::BoxError;
use askgate_domain::ports::HealthCheck;
use async_trait::async_trait;
use diesel_async::SimpleAsyncConnection;

use crate::Database;

/// Ready when a pooled connection answers `SELECT 1`.
#[derive(Debug, Clone)]
pub struct PgHealth {
    db: Database,
}

impl PgHealth {
    #[must_use]
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl HealthCheck for PgHealth {
    async fn check(&self) -> Result<(), BoxError> {
        let mut conn = self.db.conn().await?;
        conn.batch_execute("SELECT 1").await?;
        Ok(())
    }
}
