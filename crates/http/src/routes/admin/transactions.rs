//! `GET /api/admin/users/{id}/transactions?limit=&cursor=`: a user's ledger,
//! newest first, in the shape the user sees it.

use actix_web::{HttpResponse, web};
use askgate_domain::UserId;
use askgate_domain::page::PageRequest;
use serde::Deserialize;

use crate::auth::AdminUser;
use crate::dto::TransactionPageView;
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
    path = "/api/admin/users/{id}/transactions",
    tag = "admin",
    params(("id" = uuid::Uuid, Path, description = "The user"), Params),
    responses(
        (status = 200, description = "The user's ledger, newest first", body = TransactionPageView),
        (status = 403, description = "Admins only", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`id`, `limit` or `cursor` is not valid", body = crate::dto::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub async fn handle(
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<UserId>,
    params: web::Query<Params>,
) -> Result<HttpResponse, ApiError> {
    let Params { limit, cursor } = params.into_inner();
    let page = PageRequest::parse(limit, cursor.as_deref())?;
    let history = state
        .services
        .admin
        .ledger(&admin.actor(), id.into_inner(), page)
        .await?;
    Ok(HttpResponse::Ok().json(TransactionPageView::from(&history)))
}
