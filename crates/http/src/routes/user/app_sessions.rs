//! `POST /api/user/app-sessions {client_id, origin}`: the signed-in person
//! lets a registered app use their account (the web UI's `/connect` page,
//! which the app's SDK opens in a popup). askgate starts a session of its
//! own for the app and answers it with the one origin the page may hand it
//! to: an origin the app registered, named by the page that asked.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use crate::auth::AuthenticatedUser;
use crate::error::ApiError;
use crate::routes::auth::signed_in::SignedIn;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = AppSessionRequest)]
#[serde(deny_unknown_fields)]
pub struct Body {
    /// The app's client id.
    #[schema(max_length = 64)]
    client_id: String,
    /// The origin of the app's page that opened the connect page.
    #[schema(max_length = 2048, example = "https://app.example.com")]
    origin: String,
}

/// A session for the app, and where it may go.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = AppSession)]
pub struct Connected {
    app_name: String,
    /// The app's registered origin the session may be posted to (never `*`).
    origin: String,
    /// A session of its own: the app's backend spends with its token. No
    /// refresh token: the app signs in again when it expires.
    session: SignedIn,
}

#[utoipa::path(
    post,
    path = "/api/user/app-sessions",
    tag = "user",
    request_body = Body,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The app's session, and the origin to hand it to", body = Connected),
        (status = 401, description = "Not signed in", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a session (API keys may not), the account is disabled, or the app is not registered for `origin`", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such app", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The app is revoked", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 422, description = "The body is not `{client_id, origin}`", body = crate::dto::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn handle(
    state: web::Data<AppState>,
    caller: AuthenticatedUser,
    body: web::Json<Body>,
) -> Result<HttpResponse, ApiError> {
    let Body { client_id, origin } = body.into_inner();
    let (app, origin) = state.services.apps.connect(&client_id, &origin).await?;
    let user = state.services.accounts.for_refresh(caller.user).await?;
    let grant = state.services.sessions.start(&user).await?;
    tracing::info!(user_id = %user.id, app_id = %app.id, "app signed in");
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(Connected {
            app_name: app.name.as_str().to_owned(),
            origin: origin.as_str().to_owned(),
            session: SignedIn::new(grant.access, &user),
        }))
}
