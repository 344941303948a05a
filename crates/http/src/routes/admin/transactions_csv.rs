//! `GET /api/admin/transactions.csv?from=&to=&type=&service=`: every user's
//! ledger rows in the period as a CSV download, newest first, streamed.
//! Admins only.

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use futures::FutureExt;

use crate::auth::AdminUser;
use crate::dto::FilterParams;
use crate::error::ApiError;
use crate::export::{PageReader, csv_response};
use crate::state::AppState;

#[utoipa::path(
    get,
    path = "/api/admin/transactions.csv",
    tag = "admin",
    params(FilterParams),
    responses(
        (status = 200, description = "Every ledger row in the period, newest first, as CSV with a header row (RFC 4180)", body = String, content_type = "text/csv"),
        (status = 403, description = "The caller is not an admin", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 422, description = "The period is not valid", body = crate::dto::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub async fn handle(
    state: web::Data<AppState>,
    admin: AdminUser,
    params: web::Query<FilterParams>,
) -> Result<HttpResponse, ApiError> {
    let filter = params.into_inner().into_filter()?;
    let accounts = Arc::clone(&state.services.accounts);
    let actor = admin.actor();
    let read: PageReader = Arc::new(move |page| {
        let accounts = Arc::clone(&accounts);
        async move { accounts.all_transactions(&actor, filter, page).await }.boxed()
    });
    csv_response("transactions.csv", read).await
}
