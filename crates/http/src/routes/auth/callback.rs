//! `GET /api/auth/callback?code&state`: where the identity provider sends the
//! browser back. Accepts only the `state` of the signed sign-in cookie,
//! exchanges the code with its PKCE verifier, requires the ID token to carry
//! the cookie's `nonce`, starts a session (refresh cookie) and redirects to
//! `return_to`. The web UI then trades the cookie for an access token.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askgate_domain::ports::CodeExchange;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::signed_in::start_session_cookie;
use crate::auth::FLOW_COOKIE;
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Query {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    state: Option<String>,
    /// Set by the provider when the user cancelled or consent was refused.
    #[serde(default)]
    error: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/auth/callback",
    tag = "auth",
    params(Query),
    responses(
        (status = 302, description = "Signed in: redirect to `return_to` with the refresh cookie"),
        (status = 401, description = "The sign-in failed or was not this browser's", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Microsoft sign-in is not configured", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`code` is missing", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn handle(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<Query>,
) -> Result<HttpResponse, ApiError> {
    let microsoft = state
        .microsoft_sign_in()
        .ok_or_else(|| ApiError::not_found("Microsoft sign-in is not configured."))?;
    let Query {
        code,
        state: returned_state,
        error,
    } = query.into_inner();
    if let Some(error) = error {
        tracing::info!(%error, "the identity provider ended the sign-in");
        return Err(ApiError::sign_in_failed());
    }
    let cookie = req.cookie(FLOW_COOKIE).ok_or_else(|| {
        tracing::info!("sign-in callback without its cookie");
        ApiError::sign_in_failed()
    })?;
    let pending = microsoft.open_flow_cookie(cookie.value()).map_err(|e| {
        tracing::info!(reason = %e, "sign-in cookie refused");
        ApiError::sign_in_failed()
    })?;
    let returned_state = returned_state.unwrap_or_default();
    if !bool::from(returned_state.as_bytes().ct_eq(pending.state.as_bytes())) {
        tracing::info!("sign-in callback with a state that is not this browser's");
        return Err(ApiError::sign_in_failed());
    }
    let code = code
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::invalid_field("code", "code is missing."))?;
    let identity = microsoft
        .provider()
        .complete_sign_in(&CodeExchange {
            code,
            pkce_verifier: Some(pending.pkce_verifier),
            redirect_uri: microsoft.redirect_uri().to_owned(),
            nonce: Some(pending.nonce),
        })
        .await?;
    let user = state.accounts().sign_in(&identity).await?;
    tracing::info!(user_id = %user.id, role = %user.role, "signed in with Microsoft");
    let mut response = HttpResponse::Found();
    response
        .cookie(microsoft.cleared_flow_cookie())
        .insert_header((header::LOCATION, pending.return_to))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    if let Some(refresh) = start_session_cookie(&state, &user).await? {
        response.cookie(refresh);
    }
    Ok(response.finish())
}
