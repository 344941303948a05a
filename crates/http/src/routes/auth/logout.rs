//! `POST /api/auth/logout`: revokes the caller's session (its refresh token
//! and access tokens stop working) and deletes the refresh cookie. 204.

use actix_web::{HttpResponse, web};

use crate::auth::AuthenticatedUser;
use crate::error::ApiError;
use crate::state::AppState;

#[utoipa::path(
    post,
    path = "/api/auth/logout",
    tag = "auth",
    responses(
        (status = 204, description = "Signed out; the refresh cookie is cleared"),
    ),
    security(("bearer" = [])),
)]
pub async fn handle(
    caller: AuthenticatedUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    // An Azure AD access token has no askgate session to revoke.
    if let Some(session) = caller.session {
        state.services.sessions.end(session).await?;
    }
    tracing::info!(user_id = %caller.user, "signed out");
    Ok(HttpResponse::NoContent()
        .cookie(state.cleared_refresh_cookie())
        .finish())
}
