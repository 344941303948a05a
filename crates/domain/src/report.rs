//! What the admin overview reports for a period: sales, revenue, spending,
//! refunds, reversals and disputes, active users, the outstanding liability,
//! and a daily series for charts.
//!
//! **Liability rule.** The liability at the end of a period is every user's
//! balance at that instant (tokens not spent yet), and what those tokens are
//! worth at the price the user paid for them:
//!
//! - a payment's tokens are worth its price per token (amount paid ÷ tokens);
//!   what its refunds and disputes made due is no longer the user's bought
//!   tokens (the money went back);
//! - a user's bought tokens are spent after their free ones (grants, trial
//!   tokens, admin adjustments): of a balance `b`, `min(b, bought)` tokens are
//!   valued at the user's average price of the bought tokens they kept, the
//!   rest at 0. So the value is never understated;
//! - grants and trial tokens are worth 0.

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, TimeDelta, Utc};

use crate::DomainId;
use crate::ledger::ServiceType;

/// The instants `[from, to)` a report covers: at most 366 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportPeriod {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

/// Why a period was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportPeriodError {
    #[error("`{field}` must be an RFC 3339 date-time or a date (YYYY-MM-DD)")]
    Unparsable { field: &'static str },
    #[error("the period must end after it starts")]
    Reversed,
    #[error("the period must be at most {max} days", max = ReportPeriod::MAX_DAYS)]
    TooLong,
}

impl ReportPeriodError {
    /// The query parameter at fault.
    #[must_use]
    pub const fn field(&self) -> &'static str {
        match self {
            Self::Unparsable { field } => field,
            Self::Reversed | Self::TooLong => "to",
        }
    }
}

impl ReportPeriod {
    /// The longest period a report covers.
    pub const MAX_DAYS: i64 = 366;
    /// The UTC days covered when no start is given, the last being the one `to` ends in.
    pub const DEFAULT_DAYS: u64 = 30;

    /// The period `from`–`to`, each an RFC 3339 instant or a UTC date: a date
    /// `from` starts at its midnight, a date `to` includes its whole day.
    /// Without `to`, the period ends `now`; without `from`, it starts at the
    /// midnight 30 days (counting the last one) before its end.
    pub fn parse(
        from: Option<&str>,
        to: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Self, ReportPeriodError> {
        let to = match to {
            Some(raw) => parse_bound(raw, Bound::End)?,
            None => now,
        };
        let from = match from {
            Some(raw) => parse_bound(raw, Bound::Start)?,
            None => last_day(to)
                .checked_sub_days(Days::new(Self::DEFAULT_DAYS - 1))
                .map_or(DateTime::<Utc>::MIN_UTC, midnight),
        };
        Self::new(from, to)
    }

    /// Refuses a period that does not end after it starts, or is longer than
    /// [`Self::MAX_DAYS`].
    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Self, ReportPeriodError> {
        if to <= from {
            return Err(ReportPeriodError::Reversed);
        }
        if to.signed_duration_since(from) > TimeDelta::days(Self::MAX_DAYS) {
            return Err(ReportPeriodError::TooLong);
        }
        Ok(Self { from, to })
    }

    /// The first instant covered.
    #[must_use]
    pub const fn from(&self) -> DateTime<Utc> {
        self.from
    }

    /// The first instant after the period.
    #[must_use]
    pub const fn to(&self) -> DateTime<Utc> {
        self.to
    }

    /// Every UTC day the period touches, oldest first (at most 367).
    #[must_use]
    pub fn days(&self) -> Vec<NaiveDate> {
        let last = last_day(self.to);
        let mut days = Vec::new();
        let mut day = self.from.date_naive();
        while day <= last {
            days.push(day);
            match day.succ_opt() {
                Some(next) => day = next,
                None => break,
            }
        }
        days
    }
}

/// The years a bound may name: those of four digits that the calendar has.
const YEARS: std::ops::RangeInclusive<i32> = 1..=9999;

#[derive(Clone, Copy)]
enum Bound {
    Start,
    End,
}

fn parse_bound(raw: &str, bound: Bound) -> Result<DateTime<Utc>, ReportPeriodError> {
    let field = match bound {
        Bound::Start => "from",
        Bound::End => "to",
    };
    let refused = ReportPeriodError::Unparsable { field };
    let raw = raw.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(raw) {
        let at = at.with_timezone(&Utc);
        return if YEARS.contains(&at.year()) {
            Ok(at)
        } else {
            Err(refused)
        };
    }
    let day = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .filter(|day| YEARS.contains(&day.year()))
        .ok_or_else(|| refused.clone())?;
    match bound {
        Bound::Start => Ok(midnight(day)),
        Bound::End => day.succ_opt().map(midnight).ok_or(refused),
    }
}

fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(NaiveTime::MIN).and_utc()
}

/// The UTC day of the last instant before `to`.
fn last_day(to: DateTime<Utc>) -> NaiveDate {
    (to - TimeDelta::microseconds(1)).date_naive()
}

/// A number of ledger rows and the tokens they moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tally {
    pub count: i64,
    pub tokens: i64,
}

/// An amount of money in the smallest unit of its currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Money {
    /// ISO 4217, lower case as Stripe writes it.
    pub currency: String,
    pub amount_cents: i64,
}

/// The purchases of one package (in one currency) in the period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageSales {
    /// The package id ("100", "250", "600"), as the purchase recorded it.
    pub package: String,
    pub currency: String,
    pub count: i64,
    pub tokens: i64,
    pub amount_cents: i64,
}

/// An AskDocs domain as a report names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainLabel {
    pub id: DomainId,
    /// The slug.
    pub name: String,
    pub display_name: String,
}

/// Tokens spent with one service (and AskDocs domain): chats charged less the
/// charges given back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpendGroup {
    pub service: ServiceType,
    /// `None` for AskAT&T; for AskDocs, `None` only if the domain is gone.
    pub domain: Option<DomainLabel>,
    pub tokens: i64,
}

/// Tokens sold and spent on one UTC day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayFigures {
    pub day: NaiveDate,
    pub sold: i64,
    pub spent: i64,
}

/// Purchased tokens taken back, and what was given back of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reversals {
    /// Reversals after a Stripe refund (full or partial).
    pub refunds: Tally,
    /// Reversals after a dispute.
    pub disputes: Tally,
    /// Tokens their refunds and disputes made due that were already spent.
    pub shortfall: i64,
    /// What disputes won by the merchant gave back.
    pub disputes_won: Tally,
}

/// The unspent tokens at the end of the period and their value at the price
/// paid (see the module's liability rule).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Liability {
    /// Every balance at the end, added up.
    pub tokens: i64,
    /// Of those, the bought ones (valued at their price).
    pub paid_tokens: i64,
    /// Their value per currency.
    pub value: Vec<Money>,
}

/// The figures the [`Reports`](crate::ports::Reports) port reads, all from
/// one snapshot of the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LedgerFigures {
    /// Purchases in the period by package and currency.
    pub sales: Vec<PackageSales>,
    /// Net spending in the period by service and domain.
    pub spending: Vec<SpendGroup>,
    /// Chats whose charge was given back (the upstream failed).
    pub chat_refunds: Tally,
    pub reversals: Reversals,
    /// Grants, trial tokens included.
    pub grants: Tally,
    /// Admin adjustments (either sign; `tokens` is their sum).
    pub adjustments: Tally,
    /// Distinct users with a chat charged in the period.
    pub active_users: i64,
    pub liability: Liability,
    /// Days with something sold or spent; other days are left out.
    pub days: Vec<DayFigures>,
}

/// The admin overview of a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overview {
    pub period: ReportPeriod,
    pub sales: Vec<PackageSales>,
    /// Tokens bought in the period.
    pub sold_tokens: i64,
    /// What the purchases in the period paid, per currency (before refunds).
    pub revenue: Vec<Money>,
    /// Net tokens spent in the period.
    pub spent_tokens: i64,
    pub spent_by_service: Vec<(ServiceType, i64)>,
    /// AskDocs spending per domain, most first.
    pub spent_by_domain: Vec<SpendGroup>,
    pub chat_refunds: Tally,
    pub reversals: Reversals,
    pub grants: Tally,
    pub adjustments: Tally,
    pub active_users: i64,
    pub liability: Liability,
    /// Every day of the period, oldest first, days without activity as 0.
    pub daily: Vec<DayFigures>,
}

impl Overview {
    /// The overview of `period` from the ledger's figures.
    #[must_use]
    pub fn new(period: ReportPeriod, figures: LedgerFigures) -> Self {
        let mut sales = figures.sales;
        sales.sort_by(|a, b| {
            package_order(&a.package)
                .cmp(&package_order(&b.package))
                .then_with(|| a.package.cmp(&b.package))
                .then_with(|| a.currency.cmp(&b.currency))
        });
        let mut revenue: Vec<Money> = Vec::new();
        for sale in &sales {
            match revenue.iter_mut().find(|m| m.currency == sale.currency) {
                Some(money) => money.amount_cents += sale.amount_cents,
                None => revenue.push(Money {
                    currency: sale.currency.clone(),
                    amount_cents: sale.amount_cents,
                }),
            }
        }
        revenue.sort_by(|a, b| a.currency.cmp(&b.currency));
        let spent_by_service = [ServiceType::AskAtt, ServiceType::AskDocs]
            .into_iter()
            .map(|service| {
                let tokens = figures
                    .spending
                    .iter()
                    .filter(|g| g.service == service)
                    .map(|g| g.tokens)
                    .sum();
                (service, tokens)
            })
            .collect::<Vec<_>>();
        let mut spent_by_domain: Vec<SpendGroup> = figures
            .spending
            .into_iter()
            .filter(|g| g.service == ServiceType::AskDocs)
            .collect();
        spent_by_domain.sort_by(|a, b| {
            b.tokens.cmp(&a.tokens).then_with(|| {
                let name = |g: &SpendGroup| g.domain.as_ref().map(|d| d.name.clone());
                name(a).cmp(&name(b))
            })
        });
        let daily = period
            .days()
            .into_iter()
            .map(|day| {
                figures
                    .days
                    .iter()
                    .find(|d| d.day == day)
                    .copied()
                    .unwrap_or(DayFigures {
                        day,
                        sold: 0,
                        spent: 0,
                    })
            })
            .collect();
        Self {
            period,
            sold_tokens: sales.iter().map(|s| s.tokens).sum(),
            sales,
            revenue,
            spent_tokens: spent_by_service.iter().map(|(_, t)| t).sum(),
            spent_by_service,
            spent_by_domain,
            chat_refunds: figures.chat_refunds,
            reversals: figures.reversals,
            grants: figures.grants,
            adjustments: figures.adjustments,
            active_users: figures.active_users,
            liability: figures.liability,
            daily,
        }
    }
}

/// The packages in the order the shop lists them, others after.
fn package_order(id: &str) -> usize {
    crate::package::TokenPackage::ALL
        .iter()
        .position(|p| p.id() == id)
        .unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(raw: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(raw).unwrap().to_utc()
    }

    #[test]
    fn dates_cover_whole_days_and_instants_are_taken_as_given() {
        let now = at("2026-12-20T10:00:00Z");
        let p = ReportPeriod::parse(Some("2026-12-01"), Some("2026-12-01"), now).unwrap();
        assert_eq!(p.from(), at("2026-12-01T00:00:00Z"));
        assert_eq!(p.to(), at("2026-12-02T00:00:00Z"));
        assert_eq!(p.days().len(), 1);
        let p = ReportPeriod::parse(
            Some("2026-12-01T12:00:00+02:00"),
            Some("2026-12-03T00:00:00Z"),
            now,
        )
        .unwrap();
        assert_eq!(p.from(), at("2026-12-01T10:00:00Z"));
        assert_eq!(
            p.days(),
            vec![
                "2026-12-01".parse::<NaiveDate>().unwrap(),
                "2026-12-02".parse().unwrap()
            ]
        );
    }

    #[test]
    fn the_default_is_thirty_days_ending_now() {
        let now = at("2026-12-30T10:00:00Z");
        let p = ReportPeriod::parse(None, None, now).unwrap();
        assert_eq!(p.from(), at("2026-12-01T00:00:00Z"));
        assert_eq!(p.to(), now);
        assert_eq!(p.days().len(), 30);
    }

    #[test]
    fn unparsable_reversed_and_too_long_periods_are_refused() {
        let now = at("2026-12-30T10:00:00Z");
        let parse = |from, to| ReportPeriod::parse(from, to, now);
        assert_eq!(
            parse(Some("yesterday"), None),
            Err(ReportPeriodError::Unparsable { field: "from" })
        );
        assert_eq!(
            parse(None, Some("2026-13-01")),
            Err(ReportPeriodError::Unparsable { field: "to" })
        );
        assert_eq!(
            parse(None, Some("+275760-09-13")),
            Err(ReportPeriodError::Unparsable { field: "to" })
        );
        assert_eq!(
            parse(Some("-5000-01-01"), None),
            Err(ReportPeriodError::Unparsable { field: "from" })
        );
        assert_eq!(
            parse(Some("2026-12-02"), Some("2026-12-01")),
            Err(ReportPeriodError::Reversed)
        );
        assert_eq!(
            parse(Some("2026-12-01T00:00:00Z"), Some("2026-12-01T00:00:00Z")),
            Err(ReportPeriodError::Reversed)
        );
        assert_eq!(
            parse(Some("2025-01-01"), Some("2026-01-02")),
            Err(ReportPeriodError::TooLong)
        );
        let longest = parse(Some("2024-01-01"), Some("2024-12-31")).unwrap();
        assert_eq!(longest.days().len(), 366);
        assert_eq!(
            parse(Some("9999-12-31"), Some("9999-12-31"))
                .unwrap()
                .days()
                .len(),
            1
        );
    }

    #[test]
    fn the_overview_adds_up_and_fills_every_day() {
        let period =
            ReportPeriod::parse(Some("2026-12-01"), Some("2026-12-03"), Utc::now()).unwrap();
        let day = |d: &str| d.parse::<NaiveDate>().unwrap();
        let domain = |name: &str| DomainLabel {
            id: DomainId::generate(),
            name: name.into(),
            display_name: name.to_uppercase(),
        };
        let figures = LedgerFigures {
            sales: vec![
                PackageSales {
                    package: "600".into(),
                    currency: "usd".into(),
                    count: 1,
                    tokens: 600,
                    amount_cents: 2000,
                },
                PackageSales {
                    package: "100".into(),
                    currency: "usd".into(),
                    count: 2,
                    tokens: 200,
                    amount_cents: 1000,
                },
            ],
            spending: vec![
                SpendGroup {
                    service: ServiceType::AskDocs,
                    domain: Some(domain("hr")),
                    tokens: 2,
                },
                SpendGroup {
                    service: ServiceType::AskAtt,
                    domain: None,
                    tokens: 3,
                },
                SpendGroup {
                    service: ServiceType::AskDocs,
                    domain: Some(domain("it")),
                    tokens: 5,
                },
            ],
            days: vec![DayFigures {
                day: day("2026-12-02"),
                sold: 800,
                spent: 10,
            }],
            ..LedgerFigures::default()
        };
        let o = Overview::new(period, figures);
        assert_eq!(
            o.sales
                .iter()
                .map(|s| s.package.as_str())
                .collect::<Vec<_>>(),
            ["100", "600"]
        );
        assert_eq!(o.sold_tokens, 800);
        assert_eq!(
            o.revenue,
            vec![Money {
                currency: "usd".into(),
                amount_cents: 3000
            }]
        );
        assert_eq!(o.spent_tokens, 10);
        assert_eq!(
            o.spent_by_service,
            vec![(ServiceType::AskAtt, 3), (ServiceType::AskDocs, 7)]
        );
        assert_eq!(
            o.spent_by_domain
                .iter()
                .map(|g| (g.domain.as_ref().unwrap().name.as_str(), g.tokens))
                .collect::<Vec<_>>(),
            [("it", 5), ("hr", 2)]
        );
        assert_eq!(
            o.daily
                .iter()
                .map(|d| (d.sold, d.spent))
                .collect::<Vec<_>>(),
            [(0, 0), (800, 10), (0, 0)]
        );
    }
}
