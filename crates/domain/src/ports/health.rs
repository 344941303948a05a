use async_trait::async_trait;

use crate::BoxError;

/// A dependency readiness depends on (the database).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait HealthCheck: Send + Sync {
    /// `Ok` when the dependency answers now.
    async fn check(&self) -> Result<(), BoxError>;
}
