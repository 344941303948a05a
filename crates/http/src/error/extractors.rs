//! Rejections of request parts before a handler runs: actix's own extractors
//! (JSON bodies, query strings, path segments, registered as their error
//! handlers) and askgate's request headers.

use actix_web::HttpRequest;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::StatusCode;

use super::ApiError;
use crate::idempotency::{IDEMPOTENCY_KEY, InvalidHeader};

impl From<InvalidHeader> for ApiError {
    fn from(_: InvalidHeader) -> Self {
        Self::invalid_field(
            IDEMPOTENCY_KEY,
            "Idempotency-Key must be sent once, as 1 to 255 printable ASCII characters.",
        )
    }
}

/// Bodies that are not JSON, too large or of the wrong shape.
pub(crate) fn json_error(err: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let api = match &err {
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => {
            ApiError::invalid_with_status(
                StatusCode::PAYLOAD_TOO_LARGE,
                "The request body is too large.",
            )
        }
        JsonPayloadError::ContentType => ApiError::invalid_with_status(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "The request body must be JSON (Content-Type: application/json).",
        ),
        JsonPayloadError::Deserialize(serde) if serde.is_data() => {
            ApiError::invalid(format!("The request body is not valid: {serde}"))
        }
        JsonPayloadError::Deserialize(_) | JsonPayloadError::Serialize(_) => {
            ApiError::invalid_with_status(
                StatusCode::BAD_REQUEST,
                "The request body is not valid JSON.",
            )
        }
        JsonPayloadError::Payload(_) => ApiError::invalid_with_status(
            StatusCode::BAD_REQUEST,
            "The request body could not be read.",
        ),
        _ => {
            ApiError::invalid_with_status(StatusCode::BAD_REQUEST, "The request body is not valid.")
        }
    };
    tracing::debug!(error = %err, "refused a request body");
    api.into()
}

/// Query strings of the wrong shape (`?limit=abc`).
pub(crate) fn query_error(err: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let reason = match &err {
        QueryPayloadError::Deserialize(e) => e.to_string(),
        other => other.to_string(),
    };
    ApiError::invalid(format!("The query string is not valid: {reason}")).into()
}

/// Path segments of the wrong shape (`/api/domains/not-a-uuid`).
pub(crate) fn path_error(err: PathError, _req: &HttpRequest) -> actix_web::Error {
    let reason = match &err {
        PathError::Deserialize(e) => e.to_string(),
        other => other.to_string(),
    };
    ApiError::invalid(format!("The path is not valid: {reason}")).into()
}
