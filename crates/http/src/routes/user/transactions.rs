//! `GET /api/user/transactions?limit=&cursor=&type=&service=&from=&to=`: the
//! caller's ledger, newest first, narrowed by the filters given.

use actix_web::{HttpResponse, web};
use askgate_domain::page::PageRequest;
use chrono::NaiveDate;
use serde::Deserialize;

use crate::auth::{Scoped, scope};
use crate::dto::{EntryKindView, FilterParams, ServiceTypeView, TransactionPageView};
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
    /// Only rows of this type.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    kind: Option<EntryKindView>,
    /// Only chats with this service (and their refunds).
    service: Option<ServiceTypeView>,
    /// The first UTC day, `YYYY-MM-DD`.
    #[param(value_type = Option<String>, format = Date, example = "2026-12-01")]
    from: Option<NaiveDate>,
    /// The last UTC day (included), `YYYY-MM-DD`; not before `from`.
    #[param(value_type = Option<String>, format = Date, example = "2026-12-31")]
    to: Option<NaiveDate>,
}

#[utoipa::path(
    get,
    path = "/api/user/transactions",
    tag = "user",
    params(Params),
    responses(
        (status = 200, description = "The caller's ledger, newest first", body = TransactionPageView),
        (status = 422, description = "`limit`, `cursor` or the period is not valid", body = crate::dto::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub async fn handle(
    state: web::Data<AppState>,
    caller: Scoped<scope::HistoryRead>,
    params: web::Query<Params>,
) -> Result<HttpResponse, ApiError> {
    let Params {
        limit,
        cursor,
        kind,
        service,
        from,
        to,
    } = params.into_inner();
    let page = PageRequest::parse(limit, cursor.as_deref())?;
    let filter = FilterParams {
        kind,
        service,
        from,
        to,
    }
    .into_filter()?;
    let history = state
        .services
        .accounts
        .transactions(caller.user, filter, page)
        .await?;
    Ok(HttpResponse::Ok().json(TransactionPageView::from(&history)))
}
