//! `POST /api/user/app-sessions {client_id, origin | return_url}`: the
//! signed-in person lets a registered app use their account (the web UI's
//! `/connect` page, which the app's SDK opens in a popup or sends the window
//! to). askgate starts a session of its own for the app and answers it with
//! where the page may hand it: the opener's origin (popup), or the page to
//! send the window back to (redirect), each only when the app registered it.

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
    /// Popup: the origin of the app's page that opened the connect page.
    #[serde(default)]
    #[schema(max_length = 2048, example = "https://app.example.com")]
    origin: Option<String>,
    /// Redirect: the app's page to send the window back to, one of its
    /// registered return URLs (exactly one of `origin` and `return_url`).
    #[serde(default)]
    #[schema(max_length = 2048, example = "https://app.example.com/signed-in")]
    return_url: Option<String>,
}

/// A session for the app, and where it may go.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = AppSession)]
pub struct Connected {
    app_name: String,
    /// Popup: the app's registered origin the session may be posted to (never `*`).
    #[serde(skip_serializing_if = "Option::is_none")]
    origin: Option<String>,
    /// Redirect: the registered page to send the window back to, the session
    /// in its fragment.
    #[serde(skip_serializing_if = "Option::is_none")]
    return_url: Option<String>,
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
        (status = 403, description = "Not a session (API keys may not), the account is disabled, or the app did not register `origin` / `return_url`", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such app", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The app is revoked", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 422, description = "The body is not `{client_id}` with exactly one of `origin` and `return_url`", body = crate::dto::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn handle(
    state: web::Data<AppState>,
    caller: AuthenticatedUser,
    body: web::Json<Body>,
) -> Result<HttpResponse, ApiError> {
    let Body {
        client_id,
        origin,
        return_url,
    } = body.into_inner();
    let apps = &state.services.apps;
    let (app, origin, return_url) = match (origin, return_url) {
        (Some(origin), None) => {
            let (app, origin) = apps.connect(&client_id, &origin).await?;
            (app, Some(origin.as_str().to_owned()), None)
        }
        (None, Some(url)) => {
            let (app, url) = apps.connect_back(&client_id, &url).await?;
            (app, None, Some(url.as_str().to_owned()))
        }
        _ => {
            return Err(ApiError::invalid_field(
                "origin",
                "Name exactly one of origin (a popup's opener) and return_url (where to send the window back).",
            ));
        }
    };
    let user = state.services.accounts.for_refresh(caller.user).await?;
    let grant = state.services.sessions.start(&user).await?;
    tracing::info!(user_id = %user.id, app_id = %app.id, "app signed in");
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(Connected {
            app_name: app.name.as_str().to_owned(),
            origin,
            return_url,
            session: SignedIn::new(grant.access, &user),
        }))
}
