//! `POST /api/auth/refresh`: trades the refresh token (the `askgate_refresh`
//! cookie, or `{refresh_token}` in the body for non-browser clients) for a new
//! access token and a new refresh token. A refresh token that was already
//! traded revokes its whole session.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::signed_in::{SignedIn, with_body_token};
use crate::auth::REFRESH_COOKIE;
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = RefreshRequest)]
#[serde(deny_unknown_fields)]
struct Body {
    /// Absent or `null`: the `askgate_refresh` cookie is used (many clients send
    /// `{}` by default).
    #[serde(default)]
    refresh_token: Option<String>,
}

/// The body is neither empty nor `{refresh_token}` (422).
#[derive(Debug, thiserror::Error)]
#[error("The body must be empty, {{}} or {{\"refresh_token\": \"…\"}}.")]
pub(crate) struct BadBody;

/// The token from the body (when there is one) or else the cookie, and
/// whether it came in the body.
fn presented(req: &HttpRequest, body: &[u8]) -> Result<Option<(String, bool)>, BadBody> {
    if !body.iter().all(u8::is_ascii_whitespace) {
        let Body { refresh_token } = serde_json::from_slice(body).map_err(|_| BadBody)?;
        if let Some(token) = refresh_token {
            return Ok(Some((token, true)));
        }
    }
    Ok(req
        .cookie(REFRESH_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty())
        .map(|v| (v, false)))
}

#[utoipa::path(
    post,
    path = "/api/auth/refresh",
    tag = "auth",
    request_body(content = Body, description = "`{}` or `{\"refresh_token\": null}` (the cookie is used), or the refresh token. An empty body counts as `{}`; any other JSON (`null` among it) is 422", content_type = "application/json"),
    responses(
        (status = 200, description = "A new access token and refresh token", body = super::signed_in::SignedIn),
        (status = 401, description = "No refresh token, or one that is invalid, expired or already used (`unauthenticated`), or a session older than `SESSION_MAX_AGE_DAYS` (`session_expired`): sign in again", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn handle(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (token, in_body) = presented(&req, &body)?.ok_or_else(ApiError::no_refresh_token)?;
    let sessions = state.sessions().ok_or_else(ApiError::invalid_token)?;
    let rotated = sessions.rotate(&token).await?;
    let user = match state.accounts().for_refresh(rotated.user).await {
        Ok(user) => user,
        Err(askgate_domain::services::AccountError::UserNotFound) => {
            sessions.end(rotated.session).await?;
            return Err(ApiError::invalid_token());
        }
        Err(e) => return Err(e.into()),
    };
    let access = sessions.access_token(&user, rotated.session)?;
    let body = with_body_token(
        SignedIn::new(access, &user),
        in_body.then_some(&rotated.refresh),
    );
    Ok(HttpResponse::Ok()
        .cookie(sessions.refresh_cookie(&rotated.refresh))
        .json(body))
}
