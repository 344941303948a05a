//! `GET /api/conversations?limit=&cursor=`: most recently updated first.

use actix_web::{HttpResponse, web};
use askgate_domain::page::PageRequest;
use serde::Deserialize;

use crate::auth::AuthenticatedUser;
use crate::error::ApiError;
use crate::routes::chat::not_configured;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    limit: Option<u32>,
    cursor: Option<String>,
}

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
