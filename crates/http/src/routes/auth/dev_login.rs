//! `POST /api/auth/dev-login {email, display_name?, admin?}`: development sign-in.
//! Starts a real session (refresh cookie) like any other sign-in.
//!
//! Only routed when dev login is enabled (`AUTH_DEV_LOGIN`, refused at start-up
//! in production); otherwise the path answers 404 like any unknown one.

use actix_web::{HttpResponse, web};
use askgate_domain::Email;
use serde::Deserialize;

use super::signed_in::start_session;
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = DevLoginRequest)]
#[serde(deny_unknown_fields)]
pub struct Body {
    /// An address: up to 64 characters before the `@`, a host that neither
    /// starts nor ends with a dot, no spaces or control characters.
    #[schema(
        max_length = 254,
        pattern = "^[\\x21-\\x3F\\x41-\\x7E]{1,64}@[\\x21-\\x2D\\x2F-\\x3F\\x41-\\x7E]([\\x21-\\x3F\\x41-\\x7E]{0,187}[\\x21-\\x2D\\x2F-\\x3F\\x41-\\x7E])?$",
        example = "ann@example.com"
    )]
    email: String,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    admin: bool,
}

#[utoipa::path(
    post,
    path = "/api/auth/dev-login",
    tag = "auth",
    request_body = Body,
    responses(
        (status = 200, description = "Signed in; the refresh token is in the `askgate_refresh` cookie", body = super::signed_in::SignedIn),
        (status = 403, description = "An administrator disabled this account (`account_disabled`)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Dev login is not enabled", body = crate::dto::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn handle(
    state: web::Data<AppState>,
    body: web::Json<Body>,
) -> Result<HttpResponse, ApiError> {
    let Body {
        email,
        display_name,
        admin,
    } = body.into_inner();
    let email = Email::parse(&email)?;
    let user = state
        .services
        .accounts
        .dev_sign_in(email, display_name.as_deref(), admin)
        .await?;
    tracing::info!(user_id = %user.id, role = %user.role, "dev sign-in");
    start_session(&state, &user).await
}
