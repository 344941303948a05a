//! `POST /api/checkout-session {package}`: a Stripe-hosted checkout page for
//! the package, tracked as a pending purchase. Answers `{url, id}`; the web UI
//! sends the browser to `url`.

use actix_web::{HttpResponse, web};

use super::PackageBody;
use crate::auth::AuthenticatedUser;
use crate::error::ApiError;
use crate::idempotency::IdempotencyKeyHeader;
use crate::state::AppState;

#[utoipa::path(
    post,
    path = "/api/checkout-session",
    tag = "payments",
    request_body = super::PackageBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried request create one payment at Stripe, not two (1 to 191 visible ASCII characters)", min_length = 1, max_length = 191, pattern = "^[\\x21-\\x7E]+$")),
    responses(
        (status = 200, description = "A hosted checkout page", body = crate::openapi::schemas::CheckoutCreated),
        (status = 502, description = "Stripe refused to start the checkout", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub async fn handle(
    state: web::Data<AppState>,
    caller: AuthenticatedUser,
    body: web::Json<PackageBody>,
    key: IdempotencyKeyHeader,
) -> Result<HttpResponse, ApiError> {
    let package = body.into_inner().package;
    let created = state
        .billing()?
        .start_checkout(
            &caller.actor(),
            Some(caller.email.as_str().to_owned()),
            &package,
            key.key(),
        )
        .await?;
    Ok(HttpResponse::Ok().json(created))
}
