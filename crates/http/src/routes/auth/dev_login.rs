//! `POST /api/auth/dev-login {email, display_name?, admin?, roles?}`:
//! development sign-in, `roles` standing for the app roles an Entra ID token
//! would carry.
//! Starts a real session (refresh cookie) like any other sign-in.
//!
//! Only routed when dev login is enabled (`AUTH_DEV_LOGIN`, refused at start-up
//! in production); otherwise the path answers 404 like any unknown one.

use actix_web::{HttpResponse, web};
use askgate_domain::Email;
use askgate_domain::domain::AllowedRoles;
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
    /// App roles to sign in with, as an Entra ID token's `roles` claim would
    /// carry them (they decide which restricted domains the user may ask).
    #[serde(default)]
    #[schema(max_items = 50, example = json!(["Finance.Reader"]))]
    roles: Vec<String>,
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
        roles,
    } = body.into_inner();
    let email = Email::parse(&email)?;
    // The bounds of a domain's `allowed_roles`: a role outside them could
    // never be matched.
    let roles = AllowedRoles::parse(&roles)
        .map_err(|_| {
            ApiError::invalid_field(
                "roles",
                "roles must have at most 50 entries of 1 to 256 characters without spaces or control characters.",
            )
        })?
        .as_slice()
        .to_vec();
    let user = state
        .services
        .accounts
        .dev_sign_in(email, display_name.as_deref(), admin, roles)
        .await?;
    tracing::info!(user_id = %user.id, role = %user.role, "dev sign-in");
    start_session(&state, &user).await
}
