//! `POST /api/auth/device/token {device_code}`: one poll of a device-code
//! sign-in. Until the person has signed in it answers 400 with the RFC 8628
//! error in `code` (and `error`): `authorization_pending`, `slow_down`,
//! `expired_token`, `access_denied`, or `invalid_grant` for a code it does not
//! know. Then it starts a session, with the refresh token in the body: the
//! device has no cookie jar to keep it in.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::start::not_available;
use crate::error::ApiError;
use crate::routes::auth::signed_in::{SignedIn, with_body_token};
use crate::state::AppState;

/// Longer than any device code askgate or Entra ID issues.
const MAX_DEVICE_CODE: usize = 4096;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = DeviceTokenRequest)]
#[serde(deny_unknown_fields)]
pub struct Body {
    /// The `device_code` of `POST /api/auth/device`.
    #[schema(min_length = 1, max_length = 4096)]
    device_code: String,
}

#[utoipa::path(
    post,
    path = "/api/auth/device/token",
    tag = "auth",
    request_body = Body,
    responses(
        (status = 200, description = "Signed in: a session, with `refresh_token` in the body", body = SignedIn),
        (status = 400, description = "Not signed in (yet): `code` (and `error`) is `authorization_pending`, `slow_down`, `expired_token`, `access_denied` or `invalid_grant`", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 401, description = "The identity provider's ID token was refused", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 403, description = "An administrator disabled this account (`account_disabled`)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Device sign-in is not available on this server", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`device_code` missing, empty or too long", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The identity provider could not be reached", body = crate::dto::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn handle(
    state: web::Data<AppState>,
    body: web::Json<Body>,
) -> Result<HttpResponse, ApiError> {
    let device = state.services.device.as_ref().ok_or_else(not_available)?;
    let Body { device_code } = body.into_inner();
    if device_code.is_empty() || device_code.len() > MAX_DEVICE_CODE {
        return Err(ApiError::invalid_field(
            "device_code",
            "device_code is required: the device_code POST /api/auth/device answered.",
        ));
    }
    let user = device.poll(&device_code).await?;
    tracing::info!(user_id = %user.id, role = %user.role, "signed in with a device code");
    let grant = state.services.sessions.start(&user).await?;
    let body = with_body_token(SignedIn::new(grant.access, &user), Some(&grant.refresh));
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(body))
}
