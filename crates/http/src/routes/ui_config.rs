//! `GET /api/ui-config`: what the web UI should offer (public). Carries only
//! public values: the Stripe publishable key, never the secret key.

use actix_web::{HttpResponse, web};
use serde::Serialize;

use crate::state::AppState;

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct UiConfig<'a> {
    dev_login: bool,
    microsoft_login: bool,
    payments: bool,
    /// Payments are off on a development server: tokens are granted with
    /// `grant_command` instead.
    grant_locally: bool,
    /// How to grant tokens on this server, when `grant_locally`.
    grant_command: Option<&'static str>,
    stripe_publishable_key: Option<&'a str>,
    /// The web UI shows a low-balance notice at this balance or below.
    low_balance_tokens: u32,
}

#[utoipa::path(
    get,
    path = "/api/ui-config",
    tag = "ui",
    responses(
        (status = 200, description = "What the web UI offers", body = UiConfig),
    ),
)]
pub async fn handle(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(UiConfig {
        dev_login: state.options.dev_login,
        microsoft_login: state.services.microsoft.is_some(),
        payments: state.services.billing.payments_enabled(),
        grant_locally: state.grant_tokens_locally(),
        grant_command: state
            .grant_tokens_locally()
            .then_some(crate::error::GRANT_COMMAND),
        stripe_publishable_key: state.options.stripe_publishable_key.as_deref(),
        low_balance_tokens: state.options.low_balance_tokens,
    })
}
