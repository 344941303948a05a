//! `GET /api/auth/callback?code&state`: where the identity provider sends the
//! browser back. Accepts only the `state` of the signed sign-in cookie,
//! exchanges the code with its PKCE verifier, requires the ID token to carry
//! the cookie's `nonce`, starts a session (refresh cookie) and redirects to
//! `return_to`. The web UI then trades the cookie for an access token.
//!
//! A person lands here in a browser, so a sign-in that does not complete is a
//! redirect to the sign-in page with `?error=cancelled` (they declined at the
//! provider) or `?error=failed` (anything else, logged here with its reason),
//! never a JSON body.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use askgate_domain::ports::CodeExchange;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::signed_in::start_session_cookie;
use crate::auth::{FLOW_COOKIE, MicrosoftSignIn};
use crate::error::{ApiError, ProblemCode};
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
        (status = 302, description = "Signed in: redirect to `return_to` with the refresh cookie. Not signed in (cancelled, expired, not this browser's, or the provider failed): redirect to `/signin?error=cancelled`, `/signin?error=disabled` (an admin disabled the account) or `/signin?error=failed`"),
        (status = 404, description = "Microsoft sign-in is not configured", body = crate::dto::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn handle(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<Query>,
) -> Result<HttpResponse, ApiError> {
    let microsoft = state
        .services
        .microsoft
        .as_ref()
        .ok_or_else(|| ApiError::not_found("Microsoft sign-in is not configured."))?;
    let query = query.into_inner();
    if let Some(error) = &query.error {
        tracing::info!(%error, "the identity provider ended the sign-in");
        return Ok(back_to_sign_in(microsoft, "cancelled"));
    }
    match complete(&req, &state, microsoft, query).await {
        Ok(signed_in) => Ok(signed_in),
        Err(e) => {
            if e.status_code().is_server_error() {
                tracing::warn!(error = %e, "sign-in with Microsoft could not complete");
            } else {
                tracing::info!(error = %e, "sign-in with Microsoft refused");
            }
            // A disabled account is told so, not just "failed".
            let reason = if e.code() == ProblemCode::AccountDisabled {
                "disabled"
            } else {
                "failed"
            };
            Ok(back_to_sign_in(microsoft, reason))
        }
    }
}

/// To the sign-in page, which explains; the flow cookie is spent either way.
fn back_to_sign_in(microsoft: &MicrosoftSignIn, reason: &str) -> HttpResponse {
    HttpResponse::Found()
        .cookie(microsoft.cleared_flow_cookie())
        .insert_header((header::LOCATION, format!("/signin?error={reason}")))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        // A sign-in in another app's popup passes here: keep its opener.
        .insert_header((header::CROSS_ORIGIN_OPENER_POLICY, crate::ui::OPENER_KEPT))
        .finish()
}

async fn complete(
    req: &HttpRequest,
    state: &AppState,
    microsoft: &MicrosoftSignIn,
    query: Query,
) -> Result<HttpResponse, ApiError> {
    let Query {
        code,
        state: returned_state,
        error: _,
    } = query;
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
            pkce_verifier: pending.pkce_verifier,
            redirect_uri: microsoft.redirect_uri().to_owned(),
            nonce: pending.nonce,
        })
        .await?;
    let user = state.services.accounts.sign_in(&identity).await?;
    tracing::info!(user_id = %user.id, role = %user.role, "signed in with Microsoft");
    let mut response = HttpResponse::Found();
    response
        .cookie(microsoft.cleared_flow_cookie())
        .insert_header((header::LOCATION, pending.return_to))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        // A sign-in in another app's popup passes here: keep its opener.
        .insert_header((header::CROSS_ORIGIN_OPENER_POLICY, crate::ui::OPENER_KEPT));
    let refresh = start_session_cookie(state, &user).await?;
    Ok(response.cookie(refresh).finish())
}
