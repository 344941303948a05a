//! `GET /api/conversations?limit=&cursor=`: most recently updated first.

use actix_web::{HttpResponse, web};
use askgate_domain::page::PageRequest;
use serde::Deserialize;

use crate::auth::AuthenticatedUser;
use crate::error::ApiError;
use crate::routes::chat::not_configured;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct Params {
    limit: Option<u32>,
    cursor: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/conversations",
    tag = "conversations",
    params(Params),
    responses(
        (status = 200, description = "Most recently updated first", body = crate::openapi::schemas::ConversationPage),
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
    let conversations = state
        .conversations()
        .ok_or_else(|| not_configured("conversations"))?
        .list(caller.user, page)
        .await?;
    Ok(HttpResponse::Ok().json(conversations))
}
