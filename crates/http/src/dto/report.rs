//! The admin overview of a period.

use askgate_domain::DomainId;
use askgate_domain::report::{Liability, Money, Overview, PackageSales, SpendGroup, Tally};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::ServiceTypeView;

/// A number of ledger rows and the tokens they moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = Tally)]
pub struct TallyView {
    #[schema(minimum = 0)]
    pub count: i64,
    pub tokens: i64,
}

impl From<Tally> for TallyView {
    fn from(t: Tally) -> Self {
        Self {
            count: t.count,
            tokens: t.tokens,
        }
    }
}

/// An amount in the smallest unit of its currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = Money)]
pub struct MoneyView {
    /// ISO 4217, lower case.
    #[schema(example = "usd")]
    pub currency: String,
    pub amount_cents: i64,
}

impl From<&Money> for MoneyView {
    fn from(m: &Money) -> Self {
        Self {
            currency: m.currency.clone(),
            amount_cents: m.amount_cents,
        }
    }
}

/// The purchases of one package in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = PackageSales)]
pub struct PackageSalesView {
    #[schema(example = "250")]
    pub package: String,
    pub currency: String,
    #[schema(minimum = 0)]
    pub count: i64,
    pub tokens: i64,
    pub amount_cents: i64,
}

impl From<&PackageSales> for PackageSalesView {
    fn from(s: &PackageSales) -> Self {
        Self {
            package: s.package.clone(),
            currency: s.currency.clone(),
            count: s.count,
            tokens: s.tokens,
            amount_cents: s.amount_cents,
        }
    }
}

/// Tokens sold in the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = OverviewSales)]
pub struct SalesView {
    pub tokens: i64,
    #[schema(minimum = 0)]
    pub count: i64,
    /// By package and currency, in the shop's order.
    pub by_package: Vec<PackageSalesView>,
}

/// Net tokens spent with one service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = ServiceSpend)]
pub struct ServiceSpendView {
    pub service_type: ServiceTypeView,
    pub tokens: i64,
}

/// Net tokens spent with one AskDocs domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = DomainSpend)]
pub struct DomainSpendView {
    /// `null` when the domain no longer exists.
    #[schema(value_type = Option<uuid::Uuid>)]
    pub domain_id: Option<DomainId>,
    /// The domain's slug.
    pub name: Option<String>,
    pub display_name: Option<String>,
    pub tokens: i64,
}

impl From<&SpendGroup> for DomainSpendView {
    fn from(g: &SpendGroup) -> Self {
        Self {
            domain_id: g.domain.as_ref().map(|d| d.id),
            name: g.domain.as_ref().map(|d| d.name.clone()),
            display_name: g.domain.as_ref().map(|d| d.display_name.clone()),
            tokens: g.tokens,
        }
    }
}

/// Net tokens spent in the period: chats charged less charges given back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = OverviewSpent)]
pub struct SpentView {
    pub tokens: i64,
    pub by_service: Vec<ServiceSpendView>,
    /// AskDocs only, most spent first.
    pub by_domain: Vec<DomainSpendView>,
}

/// Purchased tokens taken back after Stripe refunds and disputes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = OverviewReversals)]
pub struct ReversalsView {
    /// Reversals after refunds (`tokens`: taken back).
    pub refunds: TallyView,
    /// Reversals after disputes (`tokens`: taken back).
    pub disputes: TallyView,
    /// Tokens those made due that had already been spent.
    pub shortfall: i64,
    /// Disputes won by the merchant (`tokens`: given back).
    pub disputes_won: TallyView,
}

/// The unspent tokens at the end of the period and their value at the price
/// paid: each user's bought tokens are counted as spent after their free ones
/// and valued at the user's average price of the bought tokens they kept;
/// grants and trial tokens are worth 0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = OverviewLiability)]
pub struct LiabilityView {
    /// The instant it is measured at (the end of the period).
    pub at: DateTime<Utc>,
    /// Every balance, added up.
    pub tokens: i64,
    /// Of those, the bought ones.
    pub paid_tokens: i64,
    /// The rest: grants, trial tokens, adjustments (worth 0).
    pub free_tokens: i64,
    /// The bought ones' value, per currency.
    pub value: Vec<MoneyView>,
}

impl LiabilityView {
    fn new(at: DateTime<Utc>, l: &Liability) -> Self {
        Self {
            at,
            tokens: l.tokens,
            paid_tokens: l.paid_tokens,
            free_tokens: l.tokens - l.paid_tokens,
            value: l.value.iter().map(MoneyView::from).collect(),
        }
    }
}

/// Tokens sold and spent on one UTC day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = OverviewDay)]
pub struct DayView {
    pub day: NaiveDate,
    pub sold: i64,
    pub spent: i64,
}

/// What happened in a period, and what is owed at its end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = Overview)]
pub struct OverviewView {
    /// The first instant covered.
    pub from: DateTime<Utc>,
    /// The first instant after the period.
    pub to: DateTime<Utc>,
    pub sales: SalesView,
    /// What the period's purchases paid, per currency, before refunds.
    pub revenue: Vec<MoneyView>,
    pub spent: SpentView,
    /// Chats whose token was given back because the upstream failed.
    pub chat_refunds: TallyView,
    pub reversals: ReversalsView,
    /// Grants, trial tokens included.
    pub grants: TallyView,
    /// Admin adjustments (`tokens`: their sum, either sign).
    pub adjustments: TallyView,
    /// Distinct users with a chat charged in the period.
    #[schema(minimum = 0)]
    pub active_users: i64,
    pub liability: LiabilityView,
    /// Every UTC day the period touches, oldest first.
    pub daily: Vec<DayView>,
}

impl From<&Overview> for OverviewView {
    fn from(o: &Overview) -> Self {
        Self {
            from: o.period.from(),
            to: o.period.to(),
            sales: SalesView {
                tokens: o.sold_tokens,
                count: o.sales.iter().map(|s| s.count).sum(),
                by_package: o.sales.iter().map(PackageSalesView::from).collect(),
            },
            revenue: o.revenue.iter().map(MoneyView::from).collect(),
            spent: SpentView {
                tokens: o.spent_tokens,
                by_service: o
                    .spent_by_service
                    .iter()
                    .map(|(service, tokens)| ServiceSpendView {
                        service_type: (*service).into(),
                        tokens: *tokens,
                    })
                    .collect(),
                by_domain: o
                    .spent_by_domain
                    .iter()
                    .map(DomainSpendView::from)
                    .collect(),
            },
            chat_refunds: o.chat_refunds.into(),
            reversals: ReversalsView {
                refunds: o.reversals.refunds.into(),
                disputes: o.reversals.disputes.into(),
                shortfall: o.reversals.shortfall,
                disputes_won: o.reversals.disputes_won.into(),
            },
            grants: o.grants.into(),
            adjustments: o.adjustments.into(),
            active_users: o.active_users,
            liability: LiabilityView::new(o.period.to(), &o.liability),
            daily: o
                .daily
                .iter()
                .map(|d| DayView {
                    day: d.day,
                    sold: d.sold,
                    spent: d.spent,
                })
                .collect(),
        }
    }
}
