//! What people read about their use of tokens: ledger rows narrowed by kind,
//! service and period (the usage page, CSV exports), and tokens spent per day.

use chrono::{DateTime, Days, NaiveDate, NaiveTime, Utc};

use crate::ledger::{EntryKind, ServiceType};
use crate::{DomainId, UserId};

/// Whole UTC days from `from` through `to`; either end may be open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Period {
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the period ends before it starts")]
pub struct PeriodError;

impl Period {
    /// Every row, whenever written.
    pub const ALL: Self = Self {
        from: None,
        to: None,
    };

    /// Refuses a `to` before `from`.
    pub fn new(from: Option<NaiveDate>, to: Option<NaiveDate>) -> Result<Self, PeriodError> {
        match (from, to) {
            (Some(from), Some(to)) if to < from => Err(PeriodError),
            _ => Ok(Self { from, to }),
        }
    }

    /// The first instant in the period, if it has a start.
    #[must_use]
    pub fn starts_at(&self) -> Option<DateTime<Utc>> {
        self.from.map(midnight)
    }

    /// The first instant after the period, if it has an end. `None` also for
    /// the last day the calendar has, which nothing comes after.
    #[must_use]
    pub fn ends_before(&self) -> Option<DateTime<Utc>> {
        self.to
            .and_then(|to| to.checked_add_days(Days::new(1)))
            .map(midnight)
    }
}

fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(NaiveTime::MIN).and_utc()
}

/// Which ledger rows to read: each field that is set narrows the rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LedgerFilter {
    /// Only this user's rows (every user's when `None`).
    pub user: Option<UserId>,
    pub kind: Option<EntryKind>,
    /// Only rows paying for (or refunding) a chat with this service.
    pub service: Option<ServiceType>,
    pub period: Period,
}

/// How many days, ending today, a chart of spending covers: 1 to 366.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageDays(u16);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("days must be between 1 and 366")]
pub struct UsageDaysError;

impl UsageDays {
    /// The usage page's chart: the last 30 days.
    pub const DEFAULT: Self = Self(30);

    pub fn new(days: Option<u32>) -> Result<Self, UsageDaysError> {
        match days {
            None => Ok(Self::DEFAULT),
            Some(n) if (1..=366).contains(&n) => {
                u16::try_from(n).map(Self).map_err(|_| UsageDaysError)
            }
            Some(_) => Err(UsageDaysError),
        }
    }

    /// The first day covered when the last one is `today`.
    #[must_use]
    pub fn first_day(self, today: NaiveDate) -> NaiveDate {
        today
            .checked_sub_days(Days::new(u64::from(self.0) - 1))
            .unwrap_or(NaiveDate::MIN)
    }
}

/// Tokens one user spent on one UTC day with one service (and AskDocs domain):
/// chats charged less the charges given back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailySpend {
    pub day: NaiveDate,
    pub service: ServiceType,
    pub domain: Option<DomainId>,
    pub tokens: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(raw: &str) -> NaiveDate {
        raw.parse().unwrap()
    }

    #[test]
    fn a_period_covers_its_last_day_whole() {
        let period = Period::new(Some(day("2026-12-01")), Some(day("2026-12-01"))).unwrap();
        assert_eq!(
            period.starts_at().unwrap().to_rfc3339(),
            "2026-12-01T00:00:00+00:00"
        );
        assert_eq!(
            period.ends_before().unwrap().to_rfc3339(),
            "2026-12-02T00:00:00+00:00"
        );
        assert_eq!(
            Period::new(Some(day("2026-12-02")), Some(day("2026-12-01"))),
            Err(PeriodError)
        );
        assert_eq!(
            Period::new(None, Some(NaiveDate::MAX))
                .unwrap()
                .ends_before(),
            None
        );
    }

    #[test]
    fn thirty_days_end_today() {
        let days = UsageDays::new(None).unwrap();
        assert_eq!(days.first_day(day("2026-12-30")), day("2026-12-01"));
        assert_eq!(
            UsageDays::new(Some(1))
                .unwrap()
                .first_day(day("2026-12-30")),
            day("2026-12-30")
        );
        assert_eq!(UsageDays::new(Some(0)), Err(UsageDaysError));
        assert_eq!(UsageDays::new(Some(367)), Err(UsageDaysError));
    }
}
