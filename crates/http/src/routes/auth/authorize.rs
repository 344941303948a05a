//! `GET /api/auth/authorize?return_to=/…`: starts Microsoft sign-in for the
//! web UI. Keeps the PKCE verifier, `state`, `nonce` and `return_to` in a
//! signed, HttpOnly, ten-minute cookie and redirects to the identity provider.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde::Deserialize;

use crate::auth::{FLOW_TTL, PendingSignIn, local_return_path};
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Query {
    #[serde(default)]
    return_to: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/auth/authorize",
    tag = "auth",
    params(Query),
    responses(
        (status = 302, description = "Redirect to the identity provider, with the signed sign-in cookie"),
        (status = 404, description = "Microsoft sign-in is not configured", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`return_to` is not a local path", body = crate::dto::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn handle(
    state: web::Data<AppState>,
    query: web::Query<Query>,
) -> Result<HttpResponse, ApiError> {
    let microsoft = state
        .services
        .microsoft
        .as_ref()
        .ok_or_else(|| ApiError::not_found("Microsoft sign-in is not configured."))?;
    let return_to = local_return_path(query.return_to.as_deref())?;
    let start = microsoft
        .provider()
        .start_sign_in(microsoft.redirect_uri())
        .await?;
    let pending = PendingSignIn {
        state: start.state,
        nonce: start.nonce,
        pkce_verifier: start.pkce_verifier,
        return_to,
        exp: Utc::now().timestamp() + i64::try_from(FLOW_TTL.as_secs()).unwrap_or(600),
    };
    Ok(HttpResponse::Found()
        .cookie(microsoft.flow_cookie(&pending))
        .insert_header((header::LOCATION, start.url))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        // A sign-in in another app's popup passes here: keep its opener.
        .insert_header((header::CROSS_ORIGIN_OPENER_POLICY, crate::ui::OPENER_KEPT))
        .finish())
}
