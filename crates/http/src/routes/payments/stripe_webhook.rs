//! `POST /api/webhook/stripe`: Stripe's events, signature-verified by
//! [`StripeSignedEvent`] before anything runs, then applied exactly once.
//!
//! 200 tells Stripe the event is handled (also for types askgate ignores and
//! for payments that do not match their package: retrying cannot fix those).
//! A storage failure answers 5xx so that Stripe delivers the event again.

use actix_web::{HttpResponse, web};
use askgate_domain::services::EventOutcome;

use crate::dto::WebhookReceivedView;
use crate::error::ApiError;
use crate::state::AppState;
use crate::webhook::StripeSignedEvent;

#[utoipa::path(
    post,
    path = "/api/webhook/stripe",
    tag = "payments",
    request_body(content = Object, description = "A Stripe event, exactly as Stripe sent it", content_type = "application/json"),
    params(("Stripe-Signature" = String, Header, description = "Stripe's signature of the raw body")),
    responses(
        (status = 200, description = "The event is handled (also ignored types and mismatches)", body = WebhookReceivedView),
        (status = 400, description = "The signature or the body is not valid", body = crate::dto::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn handle(
    state: web::Data<AppState>,
    event: StripeSignedEvent,
) -> Result<HttpResponse, ApiError> {
    let outcome = state.services.billing.handle(event.into_inner()).await?;
    tracing::info!(?outcome, "stripe event handled");
    record_event(&outcome);
    Ok(HttpResponse::Ok().json(WebhookReceivedView::from(&outcome)))
}

/// `askgate_webhook_events_total{outcome}` for every verified event, and
/// `askgate_webhook_duplicates_total` for those that changed nothing because
/// they (or their payment) were seen before.
fn record_event(outcome: &EventOutcome) {
    let received = WebhookReceivedView::from(outcome);
    metrics::counter!("askgate_webhook_events_total", "outcome" => received.outcome).increment(1);
    if matches!(
        outcome,
        EventOutcome::DuplicateEvent | EventOutcome::AlreadyCredited
    ) {
        metrics::counter!("askgate_webhook_duplicates_total").increment(1);
    }
}
