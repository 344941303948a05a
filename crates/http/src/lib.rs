//! askgate's HTTP layer (actix-web 4).
//!
//! Thin handlers, one file per action under [`routes`], calling the domain's use
//! cases held in [`Services`]. Errors leave as RFC 9457 problem+json through
//! [`ApiError`], the one place where failures become status codes. This crate
//! depends on `askgate-domain` only: no SQL, no HTTP clients.

pub mod auth;
pub mod dto;
pub mod error;
mod export;
mod idempotency;
pub mod metrics;
mod middleware;
pub mod openapi;
pub mod routes;
mod state;
pub mod ui;
pub mod webhook;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{App, web};
use tracing_actix_web::TracingLogger;

pub use auth::{AdminUser, AuthenticatedUser, SessionKeys, TokenVerifier};
pub use error::{ApiError, PROBLEM_JSON, ProblemCode};
pub use idempotency::IdempotencyKeyHeader;
pub use state::{AppState, HttpOptions, Services};
pub use webhook::StripeSignedEvent;

/// Largest JSON request body accepted (64 KiB).
pub const JSON_BODY_LIMIT: usize = 64 * 1024;

/// Registers every route, the extractor configurations that turn bad input into
/// problem+json, the body limits and the 404 problem for unknown paths.
///
/// The caller registers the state: `App::new().app_data(web::Data::new(state))`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(JSON_BODY_LIMIT)
            .error_handler(error::json_error),
    )
    .app_data(web::PayloadConfig::default().limit(JSON_BODY_LIMIT))
    .app_data(web::QueryConfig::default().error_handler(error::query_error))
    .app_data(web::PathConfig::default().error_handler(error::path_error))
    .configure(openapi::register)
    .configure(routes::register)
    .default_service(web::to(not_found));
}

/// The whole application: state, request tracing with a request id (also sent
/// back as `x-request-id`), and [`configure`]. The server and tests use this.
pub fn app(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let https = state.options.https;
    let cors = cors(&state.options.cors_origins);
    App::new()
        .app_data(web::Data::new(state))
        .configure(ui::configure_ui)
        .configure(configure)
        .wrap(actix_web::middleware::from_fn(middleware::body_deadline))
        .wrap(cors)
        .wrap(actix_web::middleware::from_fn(
            middleware::cors_credentials_only_with_origin,
        ))
        .wrap(ui::security_headers(https))
        .wrap(actix_web::middleware::from_fn(metrics::record_request))
        .wrap(actix_web::middleware::from_fn(
            middleware::request_id_header,
        ))
        .wrap(TracingLogger::default())
}

/// CORS for exactly `origins`: their preflights are answered and their pages may
/// send credentials (the refresh cookie, `Authorization`). Any other origin gets
/// no CORS headers, so browsers keep its pages from reading answers; requests
/// without `Origin` or from askgate's own pages are not affected.
fn cors(origins: &[String]) -> actix_cors::Cors {
    use actix_web::http::{Method, header};
    let cors = actix_cors::Cors::default()
        .allowed_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([
            header::RETRY_AFTER,
            header::HeaderName::from_static("ratelimit-limit"),
            header::HeaderName::from_static("ratelimit-remaining"),
            header::HeaderName::from_static("ratelimit-reset"),
            header::HeaderName::from_static("x-request-id"),
        ])
        .supports_credentials()
        .block_on_origin_mismatch(false)
        .max_age(600);
    origins
        .iter()
        .fold(cors, |cors, origin| cors.allowed_origin(origin))
}

async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::not_found("There is nothing at this address."))
}
