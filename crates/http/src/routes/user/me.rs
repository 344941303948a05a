//! `GET /api/user/me`: the caller's profile.

use actix_web::{HttpResponse, web};

use crate::auth::AuthenticatedUser;
use crate::dto::ProfileView;
use crate::error::ApiError;
use crate::state::AppState;

#[utoipa::path(
    get,
    path = "/api/user/me",
    tag = "user",
    responses(
        (status = 200, description = "The caller's profile", body = crate::dto::ProfileView),
        (status = 404, description = "The account no longer exists", body = crate::dto::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
pub async fn handle(
    state: web::Data<AppState>,
    caller: AuthenticatedUser,
) -> Result<HttpResponse, ApiError> {
    let user = state.services.accounts.profile(caller.user).await?;
    Ok(HttpResponse::Ok().json(ProfileView::from(&user)))
}
