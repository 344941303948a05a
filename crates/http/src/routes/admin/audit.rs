//! `GET /api/admin/audit?action=&actor=&target=&limit=&cursor=`: the audit
//! log, newest first.

use actix_web::{HttpResponse, web};
use askgate_domain::UserId;
use askgate_domain::audit::AuditFilter;
use askgate_domain::page::PageRequest;
use serde::Deserialize;

use crate::auth::AdminUser;
use crate::dto::{AuditActionView, AuditPageView};
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Only this action.
    action: Option<AuditActionView>,
    /// Only actions of this admin.
    #[param(value_type = Option<uuid::Uuid>)]
    actor: Option<UserId>,
    /// Only actions on this user or domain.
    target: Option<uuid::Uuid>,
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
    path = "/api/admin/audit",
    tag = "admin",
    params(Params),
    responses(
        (status = 200, description = "Audit records, newest first", body = AuditPageView),
        (status = 403, description = "Admins only", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A filter, `limit` or `cursor` is not valid", body = crate::dto::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub async fn handle(
    state: web::Data<AppState>,
    admin: AdminUser,
    params: web::Query<Params>,
) -> Result<HttpResponse, ApiError> {
    let Params {
        action,
        actor,
        target,
        limit,
        cursor,
    } = params.into_inner();
    let page = PageRequest::parse(limit, cursor.as_deref())?;
    let filter = AuditFilter {
        action: action.map(Into::into),
        actor,
        target,
    };
    let records = state
        .services
        .admin
        .audit(&admin.actor(), filter, page)
        .await?;
    Ok(HttpResponse::Ok().json(AuditPageView::from(&records)))
}
