use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, web};
use askgate_domain::audit::AuditStamp;
use askgate_domain::user::{Actor, Role};
use askgate_domain::{Email, SessionId, UserId};
use tracing_actix_web::RequestId;

use crate::error::ApiError;
use crate::state::AppState;

/// A signed-in caller, verified from `Authorization: Bearer <token>`.
///
/// Missing or refused credentials answer 401 `unauthenticated` with a
/// `WWW-Authenticate: Bearer` challenge before the handler runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedUser {
    pub user: UserId,
    pub role: Role,
    /// The sign-in session of a session token; `None` for an Azure AD access token.
    pub session: Option<SessionId>,
    pub email: Email,
}

impl AuthenticatedUser {
    /// The caller as the use cases see them.
    #[must_use]
    pub const fn actor(&self) -> Actor {
        Actor {
            user: self.user,
            role: self.role,
        }
    }
}

/// A signed-in caller with the admin role; others get 403 `forbidden`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminUser {
    user: AuthenticatedUser,
    /// The id this request is logged under, for the audit log.
    request_id: Option<String>,
}

impl AdminUser {
    #[must_use]
    pub const fn actor(&self) -> Actor {
        self.user.actor()
    }

    /// Who acts and under which request, for the audit record of a change.
    #[must_use]
    pub fn stamp(&self) -> AuditStamp {
        AuditStamp {
            actor: self.user.user,
            request_id: self.request_id.clone(),
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header, if there is one.
fn bearer_token(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
}

async fn authenticate(req: HttpRequest) -> Result<AuthenticatedUser, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::internal(&MissingState))?;
    let token = bearer_token(&req).ok_or_else(ApiError::unauthenticated)?;
    Ok(state.services.bearer.verify(&token).await?)
}

#[derive(Debug, thiserror::Error)]
#[error("AppState is not registered with the application")]
struct MissingState;

impl FromRequest for AuthenticatedUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(authenticate(req.clone()))
    }
}

impl FromRequest for AdminUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let request_id = req.extensions().get::<RequestId>().map(ToString::to_string);
            let user = authenticate(req).await?;
            if user.role.is_admin() {
                Ok(Self { user, request_id })
            } else {
                Err(ApiError::forbidden("Only admins may do this."))
            }
        })
    }
}
