//! `GET /api/user/me`: the caller's profile.

use actix_web::{HttpResponse, web};

use crate::auth::AuthenticatedUser;
use crate::dto::ProfileView;
use crate::error::ApiError;
use crate::state::AppState;

pub async fn handle(
    state: web::Data<AppState>,
    caller: AuthenticatedUser,
) -> Result<HttpResponse, ApiError> {
    let user = state.accounts.profile(caller.user).await?;
    Ok(HttpResponse::Ok().json(ProfileView::from(&user)))
}
