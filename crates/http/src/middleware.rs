//! Small middleware of our own.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
use tracing_actix_web::RequestId;

/// Header that tells the client the id under which its request was logged.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Copies the request id `TracingLogger` assigned into the response.
pub async fn request_id_header(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = req.extensions().get::<RequestId>().copied();
    let mut res = next.call(req).await?;
    if let Some(value) = id.and_then(|id| HeaderValue::from_str(&id.to_string()).ok()) {
        res.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    Ok(res)
}

/// Drops `Access-Control-Allow-Credentials` (and the exposed headers) from an
/// answer that allows no origin: the CORS layer adds them to every answer, and
/// credentials are granted only to the listed origins.
pub async fn cors_credentials_only_with_origin(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    use actix_web::http::header;
    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    if !headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN) {
        headers.remove(header::ACCESS_CONTROL_ALLOW_CREDENTIALS);
        headers.remove(header::ACCESS_CONTROL_EXPOSE_HEADERS);
    }
    Ok(res)
}

/// Largest body buffered by [`body_deadline`]: the largest any route accepts,
/// plus one byte so that the route still sees it is too large.
const BUFFERED_BODY_LIMIT: usize = if crate::JSON_BODY_LIMIT > crate::webhook::WEBHOOK_BODY_LIMIT {
    crate::JSON_BODY_LIMIT + 1
} else {
    crate::webhook::WEBHOOK_BODY_LIMIT + 1
};

/// Reads the request body within the state's body-read timeout, so that a client
/// trickling its body cannot hold a connection and a worker's attention open
/// indefinitely: past the deadline the answer is 408 and the handler never runs.
pub async fn body_deadline(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::BoxBody>, Error> {
    use actix_web::http::StatusCode;
    use actix_web::web;
    use futures::StreamExt;

    let timeout = req
        .app_data::<web::Data<crate::AppState>>()
        .map_or(crate::state::DEFAULT_BODY_READ_TIMEOUT, |s| {
            s.options.body_read_timeout
        });
    let deadline = tokio::time::Instant::now() + timeout;
    let mut payload = req.take_payload();
    let mut body = web::BytesMut::new();
    loop {
        match tokio::time::timeout_at(deadline, payload.next()).await {
            Err(_) => {
                tracing::info!(read = body.len(), "request body not received in time");
                let problem = crate::ApiError::invalid_with_status(
                    StatusCode::REQUEST_TIMEOUT,
                    "The request body did not arrive in time.",
                );
                let mut res = req.error_response(problem);
                res.headers_mut().insert(
                    actix_web::http::header::CONNECTION,
                    HeaderValue::from_static("close"),
                );
                return Ok(res);
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                tracing::debug!(error = %e, "request body could not be read");
                let problem = crate::ApiError::invalid_with_status(
                    StatusCode::BAD_REQUEST,
                    "The request body could not be read.",
                );
                return Ok(req.error_response(problem));
            }
            Ok(Some(Ok(chunk))) => {
                body.extend_from_slice(&chunk);
                if body.len() >= BUFFERED_BODY_LIMIT {
                    break;
                }
            }
        }
    }
    req.set_payload(actix_web::dev::Payload::from(body.freeze()));
    Ok(next.call(req).await?.map_into_boxed_body())
}
