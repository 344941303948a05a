//! Reports for admins: the overview of a period.

use std::sync::Arc;

use tracing::instrument;

use crate::ports::{Clock, Reports};
use crate::report::{Overview, ReportPeriod, ReportPeriodError};
use crate::user::Actor;
use crate::{BoxError, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("only admins may do this")]
    Forbidden,
    #[error(transparent)]
    InvalidPeriod(#[from] ReportPeriodError),
    #[error("service unavailable")]
    Unavailable(#[source] BoxError),
    #[error("unexpected error")]
    Unexpected(#[source] BoxError),
}

impl From<StoreError> for ReportError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(src) => Self::Unavailable(src),
            StoreError::Conflict(_) | StoreError::Unexpected(_) => Self::Unexpected(Box::new(e)),
        }
    }
}

pub struct ReportService {
    reports: Arc<dyn Reports>,
    clock: Arc<dyn Clock>,
}

impl ReportService {
    pub fn new(reports: Arc<dyn Reports>, clock: Arc<dyn Clock>) -> Self {
        Self { reports, clock }
    }

    /// The overview of the period `from`–`to` (see [`ReportPeriod::parse`]):
    /// admins only, and the period is checked before anything is read.
    #[instrument(skip_all)]
    pub async fn overview(
        &self,
        actor: &Actor,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<Overview, ReportError> {
        if !actor.is_admin() {
            return Err(ReportError::Forbidden);
        }
        let period = ReportPeriod::parse(from, to, self.clock.now())?;
        let figures = self.reports.figures(&period).await?;
        Ok(Overview::new(period, figures))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::UserId;
    use crate::ports::{MockClock, MockReports};
    use crate::report::LedgerFigures;
    use crate::user::Role;

    fn service(reports: MockReports) -> ReportService {
        let mut clock = MockClock::new();
        clock.expect_now().returning(chrono::Utc::now);
        ReportService::new(Arc::new(reports), Arc::new(clock))
    }

    fn actor(role: Role) -> Actor {
        Actor {
            user: UserId::generate(),
            role,
        }
    }

    #[tokio::test]
    async fn non_admins_and_bad_periods_read_nothing() {
        let mut reports = MockReports::new();
        reports.expect_figures().never();
        let svc = service(reports);
        assert!(matches!(
            svc.overview(&actor(Role::User), None, None).await,
            Err(ReportError::Forbidden)
        ));
        assert!(matches!(
            svc.overview(&actor(Role::Admin), Some("2026-12-02"), Some("2026-12-01"))
                .await,
            Err(ReportError::InvalidPeriod(ReportPeriodError::Reversed))
        ));
    }

    #[tokio::test]
    async fn an_admin_gets_the_default_thirty_days() {
        let mut reports = MockReports::new();
        reports
            .expect_figures()
            .times(1)
            .returning(|_| Ok(LedgerFigures::default()));
        let overview = service(reports)
            .overview(&actor(Role::Admin), None, None)
            .await
            .unwrap();
        assert_eq!(overview.daily.len(), 30);
        assert_eq!(overview.spent_tokens, 0);
    }
}
