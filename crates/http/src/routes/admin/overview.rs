//! `GET /api/admin/overview?from=&to=`: sales, revenue, spending, refunds,
//! reversals, active users and the outstanding liability of a period, with a
//! daily series. Admins only.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::auth::AdminUser;
use crate::dto::OverviewView;
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The start: an RFC 3339 date-time, or a UTC date (from its midnight).
    /// Default: the midnight 30 days (counting the last) before the end.
    #[param(example = "2026-11-01")]
    from: Option<String>,
    /// The end (excluded): an RFC 3339 date-time, or a UTC date (included
    /// whole). Default: now. At most 366 days after `from`.
    #[param(example = "2026-11-30")]
    to: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/admin/overview",
    tag = "admin",
    params(Params),
    responses(
        (status = 200, description = "The period's figures, from one snapshot of the ledger", body = OverviewView),
        (status = 403, description = "Admins only", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`from` or `to` cannot be read, the period ends before it starts, or it is longer than 366 days", body = crate::dto::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub async fn handle(
    state: web::Data<AppState>,
    admin: AdminUser,
    params: web::Query<Params>,
) -> Result<HttpResponse, ApiError> {
    let Params { from, to } = params.into_inner();
    let overview = state
        .services
        .reports
        .overview(&admin.actor(), from.as_deref(), to.as_deref())
        .await?;
    Ok(HttpResponse::Ok().json(OverviewView::from(&overview)))
}
