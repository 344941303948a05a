//! `POST /api/auth/login {code, code_verifier?, redirect_uri?}`: a client that
//! ran the authorization-code flow itself hands askgate the code; askgate
//! exchanges it, verifies the ID token, signs the user in and starts a session.

use actix_web::{HttpResponse, web};
use askgate_domain::ports::CodeExchange;
use serde::Deserialize;

use super::signed_in::start_session;
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = LoginRequest)]
#[serde(deny_unknown_fields)]
pub struct Body {
    code: String,
    #[serde(default)]
    code_verifier: Option<String>,
    #[serde(default)]
    redirect_uri: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/auth/login",
    tag = "auth",
    request_body = Body,
    responses(
        (status = 200, description = "Signed in; the refresh token is in the `askgate_refresh` cookie", body = super::signed_in::SignedIn),
        (status = 401, description = "The code or the ID token was refused", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Microsoft sign-in is not configured", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn handle(
    state: web::Data<AppState>,
    body: web::Json<Body>,
) -> Result<HttpResponse, ApiError> {
    let microsoft = state
        .microsoft_sign_in()
        .ok_or_else(|| ApiError::not_found("Microsoft sign-in is not configured."))?;
    let Body {
        code,
        code_verifier,
        redirect_uri,
    } = body.into_inner();
    if code.trim().is_empty() {
        return Err(ApiError::invalid_field("code", "code must not be empty."));
    }
    let redirect_uri = microsoft.redirect_uri_for(redirect_uri.as_deref())?;
    let identity = microsoft
        .provider()
        .complete_sign_in(&CodeExchange {
            code,
            pkce_verifier: code_verifier,
            redirect_uri,
            nonce: None,
        })
        .await?;
    let user = state.accounts().sign_in(&identity).await?;
    tracing::info!(user_id = %user.id, role = %user.role, "signed in with Microsoft");
    start_session(&state, &user).await
}
