//! `GET /api/user/transactions?limit=&cursor=`: the caller's ledger, newest first.

use actix_web::{HttpResponse, web};
use askgate_domain::ledger::{EntryKind, LedgerEntry, ServiceType};
use askgate_domain::page::PageRequest;
use askgate_domain::{DomainId, TransactionId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::auth::AuthenticatedUser;
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Items per page, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100, example = 20)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[param(
        pattern = "^-?[0-9]{1,16}_[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
        example = "1764633600000000_019ad6a2-5c3e-7d01-8f00-3b2a1c0d9e8f"
    )]
    cursor: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Transaction)]
struct TransactionView {
    #[schema(value_type = uuid::Uuid)]
    id: TransactionId,
    #[serde(rename = "type")]
    #[schema(value_type = crate::openapi::schemas::EntryKind)]
    kind: EntryKind,
    amount: i32,
    balance_after: i32,
    #[schema(value_type = Option<crate::openapi::schemas::ServiceType>)]
    service_type: Option<ServiceType>,
    #[schema(value_type = Option<uuid::Uuid>)]
    domain_id: Option<DomainId>,
    stripe_payment_intent_id: Option<String>,
    metadata: serde_json::Value,
    created_at: DateTime<Utc>,
}

impl From<LedgerEntry> for TransactionView {
    fn from(e: LedgerEntry) -> Self {
        Self {
            id: e.id,
            kind: e.kind,
            amount: e.amount,
            balance_after: e.balance_after.get(),
            service_type: e.service_type,
            domain_id: e.domain_id,
            stripe_payment_intent_id: e.stripe_payment_intent_id,
            metadata: e.metadata,
            created_at: e.created_at,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = TransactionPage)]
struct PageView {
    items: Vec<TransactionView>,
    next_cursor: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/user/transactions",
    tag = "user",
    params(Params),
    responses(
        (status = 200, description = "The caller's ledger, newest first", body = PageView),
        (status = 422, description = "`limit` or `cursor` is not valid", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub async fn handle(
    state: web::Data<AppState>,
    caller: AuthenticatedUser,
    params: web::Query<Params>,
) -> Result<HttpResponse, ApiError> {
    let Params { limit, cursor } = params.into_inner();
    let page = PageRequest::parse(limit, cursor.as_deref())?;
    let history = state.services.accounts.history(caller.user, page).await?;
    Ok(HttpResponse::Ok().json(PageView {
        items: history
            .items
            .into_iter()
            .map(TransactionView::from)
            .collect(),
        next_cursor: history.next_cursor,
    }))
}
