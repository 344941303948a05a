//! `POST /api/auth/dev-login {email, display_name?, admin?}`: development sign-in.
//!
//! Only routed when dev login is enabled (`AUTH_DEV_LOGIN`, refused at start-up
//! in production); otherwise the path answers 404 like any unknown one.

use actix_web::{HttpResponse, web};
use askgate_domain::{Email, SessionId};
use serde::{Deserialize, Serialize};

use crate::dto::UserView;
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body {
    email: String,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    admin: bool,
}

#[derive(Debug, Serialize)]
struct SignedIn {
    session_token: String,
    expires_in: u64,
    user: UserView,
}

pub async fn handle(
    state: web::Data<AppState>,
    body: web::Json<Body>,
) -> Result<HttpResponse, ApiError> {
    let Body {
        email,
        display_name,
        admin,
    } = body.into_inner();
    let email = Email::parse(&email)?;
    let user = state
        .accounts
        .dev_sign_in(email, display_name.as_deref(), admin)
        .await?;
    let issued = state
        .session_keys
        .issue(&user, SessionId::generate())
        .map_err(|e| ApiError::internal(&e))?;
    tracing::info!(user_id = %user.id, role = %user.role, "dev sign-in");
    Ok(HttpResponse::Ok().json(SignedIn {
        session_token: issued.token,
        expires_in: issued.expires_in,
        user: UserView::from(&user),
    }))
}
