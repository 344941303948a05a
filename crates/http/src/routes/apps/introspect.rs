//! `POST /api/v1/token/introspect` (RFC 7662), app scope `token:introspect`:
//! whether an askgate session token is active, and whose it is.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use crate::auth::{AppCaller, app_scope};
use crate::error::ApiError;
use crate::state::AppState;

/// The token to look at, as a form (`token=…`, RFC 7662) or JSON. Other
/// fields (`token_type_hint`) are ignored: askgate introspects session tokens.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = IntrospectionRequest)]
pub struct Body {
    /// A session token a user of the app signed in with.
    #[schema(max_length = 8192)]
    token: String,
}

/// RFC 7662's answer: `{"active": false}` alone for anything not active.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Introspection)]
pub struct IntrospectionView {
    pub active: bool,
    /// The user's askgate id.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<uuid::Uuid>)]
    pub sub: Option<askgate_domain::UserId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The display name, when the user has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
}

impl IntrospectionView {
    const INACTIVE: Self = Self {
        active: false,
        sub: None,
        email: None,
        name: None,
        exp: None,
        iat: None,
        token_type: None,
    };
}

/// The body, at most [`JSON_BODY_LIMIT`](crate::JSON_BODY_LIMIT) bytes (413 beyond).
async fn read_body(mut payload: web::Payload) -> Result<Vec<u8>, ApiError> {
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| {
            ApiError::invalid_with_status(
                StatusCode::BAD_REQUEST,
                "The request body could not be read.",
            )
        })?;
        if body.len() + chunk.len() > crate::JSON_BODY_LIMIT {
            return Err(ApiError::invalid_with_status(
                StatusCode::PAYLOAD_TOO_LARGE,
                "The request body is too large.",
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The `token` of a form or JSON body; anything else is 415 or 422.
fn token_of(req: &HttpRequest, body: &[u8]) -> Result<String, ApiError> {
    let media = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    let missing = || ApiError::invalid_field("token", "The token to introspect is missing.");
    match media.as_deref() {
        Some("application/x-www-form-urlencoded") => url::form_urlencoded::parse(body)
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.into_owned())
            .ok_or_else(missing),
        Some("application/json") => serde_json::from_slice::<Body>(body)
            .map(|b| b.token)
            .map_err(|_| missing()),
        _ => Err(ApiError::invalid_with_status(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Send the token as application/x-www-form-urlencoded (token=…) or application/json.",
        )),
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/token/introspect",
    tag = "apps",
    request_body(content(
        (Body = "application/x-www-form-urlencoded"),
        (Body = "application/json"),
    )),
    responses(
        (status = 200, description = "`active` and, when active, whose token it is", body = IntrospectionView),
        (status = 401, description = "App credentials missing or refused (`WWW-Authenticate: Basic`)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The app lacks the `token:introspect` scope (`insufficient_scope`)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is neither a form nor JSON", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 422, description = "No `token`", body = crate::dto::Problem, content_type = "application/problem+json"),
    ),
    security(("app" = [])),
)]
pub async fn handle(
    state: web::Data<AppState>,
    app: AppCaller<app_scope::TokenIntrospect>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(payload).await?;
    let token = token_of(&req, &body)?;
    let Some(session) = state.services.bearer.active_session(&token).await? else {
        return Ok(HttpResponse::Ok().json(IntrospectionView::INACTIVE));
    };
    let user = match state.services.accounts.profile(session.user).await {
        Ok(user) if user.disabled_at.is_none() => user,
        Ok(_) | Err(askgate_domain::services::AccountError::UserNotFound) => {
            return Ok(HttpResponse::Ok().json(IntrospectionView::INACTIVE));
        }
        Err(e) => return Err(e.into()),
    };
    tracing::info!(app_id = %app.id, user_id = %user.id, "introspected an active session token");
    Ok(HttpResponse::Ok().json(IntrospectionView {
        active: true,
        sub: Some(user.id),
        email: Some(user.email.as_str().to_owned()),
        name: user.display_name,
        exp: Some(session.expires_at),
        iat: Some(session.issued_at),
        token_type: Some("Bearer"),
    }))
}
