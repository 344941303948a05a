//! `GET /api/user/transactions.csv?type=&service=&from=&to=`: the caller's
//! ledger as a CSV download, newest first, streamed.

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use futures::FutureExt;

use crate::auth::{Scoped, scope};
use crate::dto::FilterParams;
use crate::error::ApiError;
use crate::export::{PageReader, csv_response};
use crate::state::AppState;

#[utoipa::path(
    get,
    path = "/api/user/transactions.csv",
    tag = "user",
    params(FilterParams),
    responses(
        (status = 200, description = "The caller's ledger rows, newest first, as CSV with a header row (RFC 4180)", body = String, content_type = "text/csv"),
        (status = 422, description = "The period is not valid", body = crate::dto::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub async fn handle(
    state: web::Data<AppState>,
    caller: Scoped<scope::HistoryRead>,
    params: web::Query<FilterParams>,
) -> Result<HttpResponse, ApiError> {
    let filter = params.into_inner().into_filter()?;
    let accounts = Arc::clone(&state.services.accounts);
    let user = caller.user;
    let read: PageReader = Arc::new(move |page| {
        let accounts = Arc::clone(&accounts);
        async move { accounts.transactions(user, filter, page).await }.boxed()
    });
    csv_response("transactions.csv", read).await
}
