//! `GET /api/conversations?limit=&cursor=`: most recently updated first.

use actix_web::{HttpResponse, web};
use askgate_domain::page::PageRequest;
use serde::Deserialize;

use crate::auth::{Scoped, scope};
use crate::dto::ConversationPageView;
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

#[utoipa::path(
    get,
    path = "/api/conversations",
    tag = "conversations",
    params(Params),
    responses(
        (status = 200, description = "Most recently updated first", body = crate::dto::ConversationPageView),
        (status = 422, description = "`limit` or `cursor` is not valid", body = crate::dto::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub async fn handle(
    state: web::Data<AppState>,
    caller: Scoped<scope::HistoryRead>,
    params: web::Query<Params>,
) -> Result<HttpResponse, ApiError> {
    let Params { limit, cursor } = params.into_inner();
    let page = PageRequest::parse(limit, cursor.as_deref())?;
    let conversations = state.services.conversations.list(caller.user, page).await?;
    Ok(HttpResponse::Ok().json(ConversationPageView::from(&conversations)))
}
