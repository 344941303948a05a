//! `GET /api/user/usage?days=`: what the caller spent per day, per service and
//! domain, over the last `days` days (default 30), for the usage chart.

use actix_web::{HttpResponse, web};
use askgate_domain::usage::UsageDays;
use serde::Deserialize;

use crate::auth::{Scoped, scope};
use crate::dto::UsageView;
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Days covered, ending today (UTC), 1 to 366 (default 30).
    #[param(minimum = 1, maximum = 366, example = 30)]
    days: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/api/user/usage",
    tag = "user",
    params(Params),
    responses(
        (status = 200, description = "Tokens spent per day, service and domain, oldest day first", body = UsageView),
        (status = 422, description = "`days` is not valid", body = crate::dto::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub async fn handle(
    state: web::Data<AppState>,
    caller: Scoped<scope::HistoryRead>,
    params: web::Query<Params>,
) -> Result<HttpResponse, ApiError> {
    let days = UsageDays::new(params.into_inner().days)?;
    let (since, spend) = state
        .services
        .accounts
        .daily_spend(caller.user, days)
        .await?;
    Ok(HttpResponse::Ok().json(UsageView::new(since, &spend)))
}
