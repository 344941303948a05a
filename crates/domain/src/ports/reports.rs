use async_trait::async_trait;

use crate::StoreError;
use crate::report::{LedgerFigures, ReportPeriod};

/// Reads of the whole ledger for reports.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Reports: Send + Sync {
    /// The figures of `period` (rows written from `period.from()` up to, not
    /// including, `period.to()`), and the liability at `period.to()` as the
    /// rule of [`crate::report`] values it. Every figure MUST come from one
    /// consistent snapshot of the ledger, so that they agree with each other
    /// even while rows are written.
    async fn figures(&self, period: &ReportPeriod) -> Result<LedgerFigures, StoreError>;
}
