//! `POST /api/admin/users/{id}/credits` with a required `Idempotency-Key`:
//! a `grant` or an `adjustment` with its reason. 201 when written, 200 with
//! the first row when the key was used before for the same request.

use actix_web::{HttpResponse, web};
use askgate_domain::UserId;
use askgate_domain::services::CreditInput;

use crate::auth::AdminUser;
use crate::dto::{AdminCreditBody, AdminCreditView, TransactionView};
use crate::error::ApiError;
use crate::idempotency::{IDEMPOTENCY_KEY, IdempotencyKeyHeader};
use crate::state::AppState;

#[utoipa::path(
    post,
    path = "/api/admin/users/{id}/credits",
    tag = "admin",
    params(
        ("id" = uuid::Uuid, Path, description = "The user"),
        ("Idempotency-Key" = String, Header, description = "Required: a retry with the same key writes nothing more", min_length = 1, max_length = 200),
    ),
    request_body = AdminCreditBody,
    responses(
        (status = 201, description = "Written to the ledger and the audit log", body = AdminCreditView),
        (status = 200, description = "Written before under this Idempotency-Key: nothing changed", body = AdminCreditView),
        (status = 403, description = "Admins only", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field or key, or the adjustment would take the balance below zero (`balance` says what it is)", body = crate::dto::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub async fn handle(
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<UserId>,
    key: IdempotencyKeyHeader,
    body: web::Json<AdminCreditBody>,
) -> Result<HttpResponse, ApiError> {
    let key = key.into_key().ok_or_else(|| {
        ApiError::invalid_field(IDEMPOTENCY_KEY, "An Idempotency-Key header is required.")
    })?;
    let AdminCreditBody {
        kind,
        amount,
        reason,
    } = body.into_inner();
    let input = CreditInput {
        kind: kind.into(),
        amount,
        reason,
    };
    let recorded = state
        .services
        .admin
        .credit(&admin.actor(), admin.stamp(), id.into_inner(), input, &key)
        .await?;
    let view = AdminCreditView {
        transaction: TransactionView::from(recorded.entry()),
        replayed: !recorded.was_applied(),
    };
    Ok(if recorded.was_applied() {
        HttpResponse::Created().json(view)
    } else {
        HttpResponse::Ok().json(view)
    })
}
