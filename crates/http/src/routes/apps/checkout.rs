//! `POST /api/v1/checkout {package, return_url}`, app scope
//! `checkout:create`: a Stripe Checkout for the user whose pages send them
//! back to the app. Fulfilment is the usual webhook path, exactly once.

use actix_web::{HttpRequest, HttpResponse, web};
use askgate_domain::api_key::ApiKeyScope;
use askgate_domain::app::ReturnUrl;
use serde::Deserialize;

use crate::auth::{AppCaller, app_scope};
use crate::dto::CheckoutView;
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = AppCheckoutRequest)]
#[serde(deny_unknown_fields)]
pub struct Body {
    /// `"100"`, `"250"` or `"600"` (`GET /api/token-packages`).
    #[schema(pattern = "^(100|250|600)$", example = "100")]
    package: String,
    /// Exactly one of the app's registered return URLs. Stripe sends the user
    /// back there with `askgate_checkout=success&session_id=…` or
    /// `askgate_checkout=cancel` added to its query.
    #[schema(max_length = 2048)]
    return_url: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/checkout",
    tag = "apps",
    params(("X-Askgate-User-Token" = String, Header, description = "The user's session token, or their API key with `chat`")),
    request_body = Body,
    responses(
        (status = 200, description = "A hosted checkout page to send the user to", body = CheckoutView),
        (status = 401, description = "App credentials (`WWW-Authenticate: Basic`) or the user's token missing or refused", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The app lacks `checkout:create`, or the user's API key lacks `chat` (`insufficient_scope`); the account is disabled (`account_disabled`)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown package, or a return URL the app did not register", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 502, description = "Stripe refused to start the checkout", body = crate::dto::Problem, content_type = "application/problem+json"),
    ),
    security(("app" = [])),
)]
pub async fn handle(
    state: web::Data<AppState>,
    app: AppCaller<app_scope::CheckoutCreate>,
    req: HttpRequest,
    body: web::Json<Body>,
) -> Result<HttpResponse, ApiError> {
    let Body {
        package,
        return_url,
    } = body.into_inner();
    let return_url = ReturnUrl::parse(&return_url)
        .ok()
        .filter(|url| app.accepts_return_url(url))
        .ok_or_else(|| {
            ApiError::invalid_field(
                "return_url",
                "The return URL must be one of the app's registered return URLs.",
            )
        })?;
    let user = super::user_of(&state, &req, ApiKeyScope::Chat).await?;
    let created = state
        .services
        .billing
        .start_app_checkout(
            &user.actor(),
            Some(user.email.as_str().to_owned()),
            &package,
            &return_url,
        )
        .await?;
    tracing::info!(app_id = %app.id, checkout = %created.id, "app checkout started");
    Ok(HttpResponse::Ok().json(CheckoutView::from(&created)))
}
