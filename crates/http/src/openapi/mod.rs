//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]`
//! annotations, served at `GET /api/openapi.json`, with Swagger UI (vendored:
//! no CDN) at `/api/docs/`.
//!
//! Every operation also gets the error answers any request may meet: 500 and
//! 503; 401 when it needs a bearer token; 400, 413, 415 and 422 when it takes
//! a JSON body. Operation-specific errors are listed on the handler.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as OpenApiDocument, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use crate::error::PROBLEM_JSON;
use crate::routes;

/// Where the document is served.
pub const OPENAPI_PATH: &str = "/api/openapi.json";
/// Where Swagger UI is served (the index is `/api/docs/`).
pub const DOCS_PATH: &str = "/api/docs";

/// Name of the bearer security scheme handlers refer to.
pub(crate) const BEARER: &str = "bearer";
/// Name of the HTTP Basic scheme of registered apps.
pub(crate) const APP: &str = "app";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "askgate",
        description = "Token-metered gateway to AskAT&T and AskDocs. Errors are RFC 9457 \
            `application/problem+json` with a stable `code`. Sign in, then send \
            `Authorization: Bearer <session_token>`.",
        license(name = "MIT", identifier = "MIT"),
    ),
    paths(
        routes::health::live::handle,
        routes::health::ready::handle,
        routes::ui_config::handle,
        routes::payments::token_packages::handle,
        routes::payments::create_payment_intent::handle,
        routes::payments::checkout_session::handle,
        routes::payments::purchase_status::handle,
        routes::payments::stripe_webhook::handle,
        routes::auth::dev_login::handle,
        routes::auth::login::handle,
        routes::auth::authorize::handle,
        routes::auth::callback::handle,
        routes::auth::refresh::handle,
        routes::auth::device::start::handle,
        routes::auth::device::token::handle,
        routes::auth::device::approve::handle,
        routes::auth::logout::handle,
        routes::chat::askatt::handle,
        routes::chat::askdocs::handle,
        routes::domains::list::handle,
        routes::domains::create::handle,
        routes::domains::update::handle,
        routes::domains::delete::handle,
        routes::conversations::list::handle,
        routes::conversations::get::handle,
        routes::conversations::delete::handle,
        routes::user::me::handle,
        routes::user::api_keys::create::handle,
        routes::user::api_keys::list::handle,
        routes::user::api_keys::revoke::handle,
        routes::user::app_sessions::handle,
        routes::user::tokens::handle,
        routes::user::transactions::handle,
        routes::user::transactions_csv::handle,
        routes::user::usage::handle,
        routes::admin::transactions_csv::handle,
        routes::admin::users::handle,
        routes::admin::user::handle,
        routes::admin::transactions::handle,
        routes::admin::credit::handle,
        routes::admin::disable::handle,
        routes::admin::enable::handle,
        routes::admin::role::handle,
        routes::admin::audit::handle,
        routes::admin::apps::create::handle,
        routes::admin::apps::list::handle,
        routes::admin::apps::get::handle,
        routes::admin::apps::update::handle,
        routes::admin::apps::revoke::handle,
        routes::admin::apps::rotate::handle,
        routes::apps::introspect::handle,
        routes::apps::balance::handle,
        routes::apps::consume::handle,
        routes::apps::refund::handle,
        routes::apps::checkout::handle,
        routes::admin::overview::handle,
    ),
    components(schemas(
        crate::dto::Problem,
        crate::dto::StartEvent,
        crate::dto::DeltaEvent,
        crate::dto::SourcesEvent,
        crate::dto::DoneEvent,
        crate::dto::ErrorEvent,
    )),
    modifiers(&CommonResponses),
    tags(
        (name = "health", description = "Liveness and readiness probes"),
        (name = "auth", description = "Signing in and out, sessions"),
        (name = "chat", description = "AskAT&T and AskDocs: one token per answer"),
        (name = "domains", description = "AskDocs domains (admins manage them)"),
        (name = "conversations", description = "The caller's chat history"),
        (name = "payments", description = "Buying tokens through Stripe"),
        (name = "user", description = "The caller's account"),
        (name = "admin", description = "Administration: users, tokens, accounts, apps, the overview, the audit log (admins only)"),
        (name = "apps", description = "For registered apps' backends: HTTP Basic app credentials, on behalf of a user"),
        (name = "ui", description = "What the web UI needs"),
    ),
)]
pub struct ApiDoc;

/// The document as served.
#[must_use]
pub fn document() -> OpenApiDocument {
    ApiDoc::openapi()
}

/// Adds the bearer scheme and the error answers every operation shares.
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut OpenApiDocument) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A session token from sign-in (`session_token`), an Azure AD access \
                         token for askgate, or a personal API key (`agk_…`) on the endpoints \
                         its scopes allow",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            APP,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "A registered app's credentials: `client_id:client_secret` (from \
                         `/api/admin/apps`)",
                    ))
                    .build(),
            ),
        );
        for (path, item) in &mut openapi.paths.paths {
            for (method, operation) in [
                ("get", &mut item.get),
                ("post", &mut item.post),
                ("put", &mut item.put),
                ("delete", &mut item.delete),
                ("patch", &mut item.patch),
            ] {
                if let Some(operation) = operation {
                    operation.operation_id = Some(operation_id(method, path));
                    add_common_responses(operation);
                }
            }
        }
    }
}

/// A unique, stable `operationId` from the method and the path (every
/// handler is a `handle` function, which is no name for clients to generate
/// from): `POST /api/askatt/chat` is `post_askatt_chat`,
/// `GET /api/admin/users/{id}` is `get_admin_users_id`.
fn operation_id(method: &str, path: &str) -> String {
    let words: Vec<String> = path
        .split('/')
        .filter(|segment| !segment.is_empty() && *segment != "api")
        .map(|segment| {
            segment
                .trim_matches(|c| c == '{' || c == '}')
                .replace(['-', '.'], "_")
        })
        .collect();
    format!("{method}_{}", words.join("_"))
}

fn add_common_responses(operation: &mut Operation) {
    let secured = operation
        .security
        .as_ref()
        .is_some_and(|requirements| !requirements.is_empty());
    let has_body = operation.request_body.is_some();
    let mut common: Vec<(&str, &str)> = vec![
        ("500", "Something went wrong on the server (generic body)"),
        (
            "503",
            "A dependency (database, payment provider) is unavailable",
        ),
    ];
    if secured {
        common.push((
            "401",
            "No bearer token, or one that is invalid, expired or revoked (`WWW-Authenticate: Bearer`)",
        ));
        common.push((
            "403",
            "The account is disabled (`account_disabled`), or an API key was sent that lacks the \
             scope this endpoint needs, or where only a session will do (`insufficient_scope`)",
        ));
    }
    if has_body {
        common.extend([
            ("400", "The body is not JSON"),
            ("413", "The body is larger than 64 KiB"),
            ("415", "The body is not `application/json`"),
            ("422", "A field is missing or invalid (`field` names it)"),
        ]);
    }
    for (status, description) in common {
        if !operation.responses.responses.contains_key(status) {
            operation
                .responses
                .responses
                .insert(status.to_owned(), problem_response(description).into());
        }
    }
}

/// A problem+json response with `description`.
pub(crate) fn problem_response(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            PROBLEM_JSON,
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
}

/// `GET /api/openapi.json`, `GET /api/docs` (a redirect) and Swagger UI under
/// `/api/docs/`. Register before the `/api` scope.
pub(crate) fn register(cfg: &mut web::ServiceConfig) {
    cfg.route(DOCS_PATH, web::get().to(docs_redirect))
        .service(SwaggerUi::new(format!("{DOCS_PATH}/{{_:.*}}")).url(OPENAPI_PATH, document()));
}

/// Swagger UI's page loads its files relative to `/api/docs/`.
async fn docs_redirect() -> HttpResponse {
    HttpResponse::MovedPermanently()
        .insert_header((header::LOCATION, format!("{DOCS_PATH}/")))
        .finish()
}
