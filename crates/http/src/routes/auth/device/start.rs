//! `POST /api/auth/device`: starts a device-code sign-in. The device shows the
//! person `user_code` and `verification_uri`, then polls
//! `/api/auth/device/token` with `device_code` every `interval` seconds.

use actix_web::{HttpResponse, web};
use serde::Serialize;

use crate::error::ApiError;
use crate::state::AppState;

/// RFC 8628 §3.2's answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = DeviceAuthorization)]
pub struct Started {
    /// The secret to poll with. Keep it; never show it.
    device_code: String,
    /// What the person enters at `verification_uri`.
    user_code: String,
    verification_uri: String,
    /// `verification_uri` with the code filled in, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    verification_uri_complete: Option<String>,
    /// Seconds until both codes expire.
    expires_in: u64,
    /// Seconds to wait between polls.
    interval: u64,
}

#[utoipa::path(
    post,
    path = "/api/auth/device",
    tag = "auth",
    responses(
        (status = 200, description = "Started: show `user_code` and `verification_uri`, then poll", body = Started),
        (status = 404, description = "Device sign-in is not available on this server (`not_found`)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The identity provider could not be reached", body = crate::dto::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn handle(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let device = state.services.device.as_ref().ok_or_else(not_available)?;
    let started = device.start().await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(Started {
            device_code: started.device_code,
            user_code: started.user_code,
            verification_uri: started.verification_uri,
            verification_uri_complete: started.verification_uri_complete,
            expires_in: started.expires_in,
            interval: started.interval,
        }))
}

pub(super) fn not_available() -> ApiError {
    ApiError::not_found(
        "Device sign-in is not available on this server: it needs Microsoft sign-in whose provider offers it, or dev login.",
    )
}
