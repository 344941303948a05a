//! The answer to every successful sign-in or refresh:
//! `{session_token, expires_in, user}` plus the refresh cookie.

use actix_web::HttpResponse;
use actix_web::cookie::Cookie;
use askgate_domain::user::User;
use serde::Serialize;

use crate::auth::{IssuedToken, RefreshToken};
use crate::dto::UserView;
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct SignedIn {
    pub session_token: String,
    pub expires_in: u64,
    pub user: UserView,
    /// Only for clients that sent their refresh token in the body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

impl SignedIn {
    pub(crate) fn new(access: IssuedToken, user: &User) -> Self {
        Self {
            session_token: access.token,
            expires_in: access.expires_in,
            user: UserView::from(user),
            refresh_token: None,
        }
    }
}

/// Starts a session for `user` and answers with its tokens and refresh cookie.
pub(crate) async fn start_session(state: &AppState, user: &User) -> Result<HttpResponse, ApiError> {
    let grant = state.services.sessions.start(user).await?;
    Ok(HttpResponse::Ok()
        .cookie(state.refresh_cookie(&grant.refresh))
        .json(SignedIn::new(grant.access, user)))
}

/// The refresh cookie of a new session for `user`, for redirects.
pub(crate) async fn start_session_cookie(
    state: &AppState,
    user: &User,
) -> Result<Cookie<'static>, ApiError> {
    let grant = state.services.sessions.start(user).await?;
    Ok(state.refresh_cookie(&grant.refresh))
}

/// The refresh token only when the client sent one in the body.
pub(crate) fn with_body_token(mut signed_in: SignedIn, token: Option<&RefreshToken>) -> SignedIn {
    signed_in.refresh_token = token.map(|t| t.expose().to_owned());
    signed_in
}
