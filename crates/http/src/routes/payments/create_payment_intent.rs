//! `POST /api/create-payment-intent {package}`: a Stripe PaymentIntent for the
//! package's exact price, for clients that collect the card themselves
//! (Stripe Elements). Answers `{client_secret, payment_intent_id}`.

use actix_web::{HttpResponse, web};

use super::PackageBody;
use crate::auth::AuthenticatedUser;
use crate::error::ApiError;
use crate::idempotency::IdempotencyKeyHeader;
use crate::state::AppState;

#[utoipa::path(
    post,
    path = "/api/create-payment-intent",
    tag = "payments",
    request_body = super::PackageBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried request create one payment at Stripe, not two (1 to 191 visible ASCII characters)", min_length = 1, max_length = 191, pattern = "^[\\x21-\\x7E]+$")),
    responses(
        (status = 200, description = "A PaymentIntent for the package's price", body = crate::openapi::schemas::PaymentIntentCreated),
        (status = 502, description = "Stripe refused to start the payment", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
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
        .start_payment(&caller.actor(), &package, key.key())
        .await?;
    Ok(HttpResponse::Ok().json(created))
}
