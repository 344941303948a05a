//! `GET /api/domains[?include_inactive=true]`: the active domains the caller
//! may ask, by name (a domain restricted to app roles or groups is listed only
//! to their holders); admins see every domain and may include inactive ones
//! (others get 403 for asking).

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::auth::{Scoped, scope};
use crate::dto::DomainView;
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct Params {
    #[serde(default)]
    include_inactive: bool,
}

#[utoipa::path(
    get,
    path = "/api/domains",
    tag = "domains",
    params(Params),
    responses(
        (status = 200, description = "The domains the caller may ask, by name", body = [crate::dto::DomainView]),
        (status = 403, description = "Only admins may include inactive domains", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 422, description = "The query string is not valid", body = crate::dto::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub async fn handle(
    state: web::Data<AppState>,
    caller: Scoped<scope::Chat>,
    params: web::Query<Params>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.actor();
    let domains = state
        .services
        .domains
        .list(&actor, params.include_inactive)
        .await?;
    let views: Vec<_> = domains
        .iter()
        .map(|d| DomainView::new(d, actor.is_admin()))
        .collect();
    Ok(HttpResponse::Ok().json(views))
}
