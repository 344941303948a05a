//! [`StripeSignedEvent`]: a payment-provider event whose signature was checked
//! over the exact bytes received, before any handler sees it.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, web};
use askgate_domain::payment::PaymentEvent;
use askgate_domain::ports::WebhookError;
use futures::StreamExt;

use crate::error::ApiError;
use crate::state::AppState;

/// Largest webhook body read (Stripe's events are a few KiB).
pub const WEBHOOK_BODY_LIMIT: usize = 256 * 1024;

/// The header Stripe signs its deliveries with.
pub const STRIPE_SIGNATURE_HEADER: &str = "Stripe-Signature";

/// A verified Stripe event.
///
/// Reads the raw body (at most [`WEBHOOK_BODY_LIMIT`]) and `Stripe-Signature`,
/// and checks them with the application's `WebhookVerifier` at the clock's
/// current time. A missing, wrong or stale signature, or a payload that is not
/// an event, is refused with 400 problem+json before the handler runs, so
/// nothing changes. Without a configured verifier the webhook answers 503.
#[derive(Debug)]
pub struct StripeSignedEvent(PaymentEvent);

impl StripeSignedEvent {
    #[must_use]
    pub fn into_inner(self) -> PaymentEvent {
        self.0
    }
}

impl FromRequest for StripeSignedEvent {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let payload = payload.take();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AppState>>()
                .cloned()
                .ok_or_else(|| ApiError::internal(&MissingState))?;
            let verifier = state.webhook_verifier()?;
            let signature = req
                .headers()
                .get(STRIPE_SIGNATURE_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = read_body(&req, payload).await?;
            let Some(signature) = signature else {
                return Err(WebhookError::MissingSignature.into());
            };
            verifier
                .verify(&body, &signature, state.clock().now())
                .map(Self)
                .map_err(ApiError::from)
        })
    }
}

async fn read_body(req: &HttpRequest, mut payload: Payload) -> Result<Vec<u8>, ApiError> {
    let too_large = || {
        ApiError::invalid_with_status(
            StatusCode::PAYLOAD_TOO_LARGE,
            "The request body is too large.",
        )
    };
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > WEBHOOK_BODY_LIMIT) {
        return Err(too_large());
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(0));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| {
            ApiError::invalid_with_status(
                StatusCode::BAD_REQUEST,
                "The request body could not be read.",
            )
        })?;
        if body.len() + chunk.len() > WEBHOOK_BODY_LIMIT {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[derive(Debug, thiserror::Error)]
#[error("AppState is not registered with the application")]
struct MissingState;
