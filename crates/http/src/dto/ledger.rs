//! The caller's ledger.

use askgate_domain::ledger::{EntryKind, LedgerEntry, ServiceType};
use askgate_domain::page::Page;
use askgate_domain::{DomainId, TransactionId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

// Which AI service a conversation or a consumption is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = ServiceType)]
pub enum ServiceTypeView {
    #[serde(rename = "askatt")]
    AskAtt,
    #[serde(rename = "askdocs")]
    AskDocs,
    /// Spent by a registered app (`metadata.app_id`, `metadata.app_name`).
    #[serde(rename = "app")]
    App,
}

impl From<ServiceType> for ServiceTypeView {
    fn from(service: ServiceType) -> Self {
        match service {
            ServiceType::AskAtt => Self::AskAtt,
            ServiceType::AskDocs => Self::AskDocs,
            ServiceType::App => Self::App,
        }
    }
}

// Why a ledger row exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = EntryKind)]
#[serde(rename_all = "lowercase")]
pub enum EntryKindView {
    Purchase,
    Consumption,
    Refund,
    Grant,
    Adjustment,
    Reversal,
}

impl From<ServiceTypeView> for ServiceType {
    fn from(service: ServiceTypeView) -> Self {
        match service {
            ServiceTypeView::AskAtt => Self::AskAtt,
            ServiceTypeView::AskDocs => Self::AskDocs,
            ServiceTypeView::App => Self::App,
        }
    }
}

impl From<EntryKindView> for EntryKind {
    fn from(kind: EntryKindView) -> Self {
        match kind {
            EntryKindView::Purchase => Self::Purchase,
            EntryKindView::Consumption => Self::Consumption,
            EntryKindView::Refund => Self::Refund,
            EntryKindView::Grant => Self::Grant,
            EntryKindView::Adjustment => Self::Adjustment,
            EntryKindView::Reversal => Self::Reversal,
        }
    }
}

impl From<EntryKind> for EntryKindView {
    fn from(kind: EntryKind) -> Self {
        match kind {
            EntryKind::Purchase => Self::Purchase,
            EntryKind::Consumption => Self::Consumption,
            EntryKind::Refund => Self::Refund,
            EntryKind::Grant => Self::Grant,
            EntryKind::Adjustment => Self::Adjustment,
            EntryKind::Reversal => Self::Reversal,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = Transaction)]
pub struct TransactionView {
    #[schema(value_type = uuid::Uuid)]
    pub id: TransactionId,
    #[serde(rename = "type")]
    pub kind: EntryKindView,
    pub amount: i32,
    pub balance_after: i32,
    pub service_type: Option<ServiceTypeView>,
    #[schema(value_type = Option<uuid::Uuid>)]
    pub domain_id: Option<DomainId>,
    pub stripe_payment_intent_id: Option<String>,
    pub metadata: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

impl From<&LedgerEntry> for TransactionView {
    fn from(e: &LedgerEntry) -> Self {
        Self {
            id: e.id,
            kind: e.kind.into(),
            amount: e.amount,
            balance_after: e.balance_after.get(),
            service_type: e.service_type.map(ServiceTypeView::from),
            domain_id: e.domain_id,
            stripe_payment_intent_id: e.stripe_payment_intent_id.clone(),
            metadata: e.metadata.clone(),
            created_at: e.created_at,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = TransactionPage)]
pub struct TransactionPageView {
    pub items: Vec<TransactionView>,
    pub next_cursor: Option<String>,
}

impl From<&Page<LedgerEntry>> for TransactionPageView {
    fn from(page: &Page<LedgerEntry>) -> Self {
        Self {
            items: page.items.iter().map(TransactionView::from).collect(),
            next_cursor: page.next_cursor.clone(),
        }
    }
}
