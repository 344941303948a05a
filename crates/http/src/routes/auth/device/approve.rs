//! `POST /api/auth/device/approve {user_code, approve}`: on a development
//! server without an identity provider, the signed-in user approves (or
//! declines) the code their device shows, from the web UI's `/device` page.
//! The device's next poll then signs in as this user.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::auth::AuthenticatedUser;
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = DeviceApproval)]
#[serde(deny_unknown_fields)]
pub struct Body {
    /// The code the device shows (`BCDF-GHJK`; case, spaces and dashes do not matter).
    #[schema(min_length = 1, max_length = 32, example = "BCDF-GHJK")]
    user_code: String,
    /// `true` signs the device in as the caller, `false` declines it.
    approve: bool,
}

#[utoipa::path(
    post,
    path = "/api/auth/device/approve",
    tag = "auth",
    request_body = Body,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Decided: the device's next poll signs in (or is told `access_denied`)"),
        (status = 401, description = "Not signed in", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 403, description = "An administrator disabled this account (`account_disabled`)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such code waiting (unknown, expired or already decided), or no local device sign-in on this server", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`user_code` missing or too long", body = crate::dto::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn handle(
    state: web::Data<AppState>,
    caller: AuthenticatedUser,
    body: web::Json<Body>,
) -> Result<HttpResponse, ApiError> {
    let codes = state.services.dev_device.as_ref().ok_or_else(|| {
        ApiError::not_found("Codes are approved with the identity provider on this server.")
    })?;
    let Body { user_code, approve } = body.into_inner();
    if user_code.trim().is_empty() || user_code.len() > 32 {
        return Err(ApiError::invalid_field(
            "user_code",
            "user_code is required: the code your device shows.",
        ));
    }
    codes
        .decide(&user_code, caller.user, approve)
        .map_err(|_| {
            ApiError::not_found(
                "No such code is waiting: check it, or start the sign-in on your device again.",
            )
        })?;
    tracing::info!(user_id = %caller.user, approve, "device code decided");
    Ok(HttpResponse::NoContent().finish())
}
