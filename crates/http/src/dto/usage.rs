//! Usage: spending per day for the chart, and ledger rows as CSV.

use askgate_domain::DomainId;
use askgate_domain::ledger::LedgerEntry;
use askgate_domain::usage::{DailySpend, LedgerFilter, Period, PeriodError};
use chrono::NaiveDate;
use serde::Serialize;

use super::ServiceTypeView;

// Tokens spent on one day with one service (and domain).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = DailySpend)]
pub struct DailySpendView {
    /// The UTC day.
    pub day: NaiveDate,
    pub service_type: ServiceTypeView,
    #[schema(value_type = Option<uuid::Uuid>)]
    pub domain_id: Option<DomainId>,
    /// Chats charged less charges given back.
    pub tokens: i64,
}

// What the caller spent per day, oldest day first; days without chats are left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = Usage)]
pub struct UsageView {
    /// The first day covered (the last is today, UTC).
    pub since: NaiveDate,
    pub days: Vec<DailySpendView>,
}

impl UsageView {
    #[must_use]
    pub fn new(since: NaiveDate, spend: &[DailySpend]) -> Self {
        Self {
            since,
            days: spend
                .iter()
                .map(|s| DailySpendView {
                    day: s.day,
                    service_type: s.service.into(),
                    domain_id: s.domain,
                    tokens: s.tokens,
                })
                .collect(),
        }
    }
}

/// The header row of a ledger export.
pub const CSV_HEADER: &str = "id,created_at,user_id,type,amount,balance_after,service_type,domain_id,stripe_payment_intent_id,metadata\r\n";

/// One ledger row as a CSV record (RFC 4180: CRLF line ends, fields with a
/// comma, quote or line break in quotes, quotes doubled).
#[must_use]
pub fn csv_record(e: &LedgerEntry) -> String {
    let fields = [
        e.id.to_string(),
        e.created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        e.user_id.to_string(),
        e.kind.as_str().to_owned(),
        e.amount.to_string(),
        e.balance_after.get().to_string(),
        e.service_type
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        e.domain_id.map(|d| d.to_string()).unwrap_or_default(),
        e.stripe_payment_intent_id.clone().unwrap_or_default(),
        e.metadata.to_string(),
    ];
    let mut line = String::new();
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        push_field(&mut line, field);
    }
    line.push_str("\r\n");
    line
}

fn push_field(line: &mut String, field: &str) {
    if field.contains([',', '"', '\r', '\n']) {
        line.push('"');
        line.push_str(&field.replace('"', "\"\""));
        line.push('"');
    } else {
        line.push_str(field);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_with_commas_quotes_or_line_breaks_are_quoted() {
        let mut line = String::new();
        push_field(&mut line, r#"{"reason":"a, \"b\"\nc"}"#);
        assert_eq!(line, r#""{""reason"":""a, \""b\""\nc""}""#);
        let mut plain = String::new();
        push_field(&mut plain, "grant");
        assert_eq!(plain, "grant");
    }
}

/// `?type=&service=&from=&to=`: which ledger rows to read.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FilterParams {
    /// Only rows of this type.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<super::EntryKindView>,
    /// Only chats with this service (and their refunds).
    pub service: Option<ServiceTypeView>,
    /// The first UTC day, `YYYY-MM-DD`.
    #[param(value_type = Option<String>, format = Date, example = "2026-12-01")]
    pub from: Option<NaiveDate>,
    /// The last UTC day (included), `YYYY-MM-DD`; not before `from`.
    #[param(value_type = Option<String>, format = Date, example = "2026-12-31")]
    pub to: Option<NaiveDate>,
}

impl FilterParams {
    /// The filter these ask for; a period ending before it starts is refused.
    pub fn into_filter(self) -> Result<LedgerFilter, PeriodError> {
        Ok(LedgerFilter {
            user: None,
            kind: self.kind.map(Into::into),
            service: self.service.map(Into::into),
            period: Period::new(self.from, self.to)?,
        })
    }
}
