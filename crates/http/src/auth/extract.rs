use std::future::Future;
use std::marker::PhantomData;
use std::ops::Deref;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, web};
use askgate_domain::api_key::{ApiKeyScope, KeyRef};
use askgate_domain::audit::AuditStamp;
use askgate_domain::user::{Actor, Role};
use askgate_domain::{Email, SessionId, UserId};
use tracing_actix_web::RequestId;

use crate::error::ApiError;
use crate::state::AppState;

/// A signed-in caller, verified from `Authorization: Bearer <token>`.
///
/// Missing or refused credentials answer 401 `unauthenticated` with a
/// `WWW-Authenticate: Bearer` challenge before the handler runs. Taken as
/// is, it stands for a session (or an Azure AD access token): a personal API
/// key is refused with 403 `insufficient_scope`. Endpoints a key may call
/// take [`Scoped`] instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedUser {
    pub user: UserId,
    pub role: Role,
    /// The sign-in session of a session token; `None` for an Azure AD access token.
    pub session: Option<SessionId>,
    pub email: Email,
    /// The personal API key the request came with; `None` otherwise.
    pub api_key: Option<ApiKeyGrant>,
}

/// A personal API key that authenticated a request, and what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyGrant {
    pub key: KeyRef,
    pub scopes: Vec<ApiKeyScope>,
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

    /// The API key to name in the ledger rows this request writes.
    #[must_use]
    pub fn api_key_ref(&self) -> Option<KeyRef> {
        self.api_key.as_ref().map(|grant| grant.key.clone())
    }
}

/// A scope an endpoint asks of an API key (see [`scope`]).
pub trait KeyScope {
    const SCOPE: ApiKeyScope;
}

/// The scopes endpoints ask for, as types for [`Scoped`].
pub mod scope {
    use askgate_domain::api_key::ApiKeyScope;

    use super::KeyScope;

    /// The chat endpoints and the domain list.
    #[derive(Debug)]
    pub struct Chat;
    /// The balance.
    #[derive(Debug)]
    pub struct BalanceRead;
    /// The ledger history, usage and conversations (read only).
    #[derive(Debug)]
    pub struct HistoryRead;

    impl KeyScope for Chat {
        const SCOPE: ApiKeyScope = ApiKeyScope::Chat;
    }
    impl KeyScope for BalanceRead {
        const SCOPE: ApiKeyScope = ApiKeyScope::BalanceRead;
    }
    impl KeyScope for HistoryRead {
        const SCOPE: ApiKeyScope = ApiKeyScope::HistoryRead;
    }
}

/// A caller signed in with a session, or with a personal API key that has
/// the scope `S`; a key without it gets 403 `insufficient_scope`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scoped<S> {
    caller: AuthenticatedUser,
    scope: PhantomData<fn() -> S>,
}

impl<S> Deref for Scoped<S> {
    type Target = AuthenticatedUser;

    fn deref(&self) -> &AuthenticatedUser {
        &self.caller
    }
}

impl<S: KeyScope> FromRequest for Scoped<S> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let caller = authenticate(req).await?;
            match &caller.api_key {
                Some(grant) if !grant.scopes.contains(&S::SCOPE) => {
                    Err(ApiError::insufficient_scope(format!(
                        "This API key does not have the '{}' scope.",
                        S::SCOPE
                    )))
                }
                _ => Ok(Self {
                    caller,
                    scope: PhantomData,
                }),
            }
        })
    }
}

/// Only a session will do: account, key-management and admin endpoints.
fn session_only(caller: AuthenticatedUser) -> Result<AuthenticatedUser, ApiError> {
    if caller.api_key.is_some() {
        Err(ApiError::insufficient_scope(
            "API keys cannot be used here: sign in to the web UI.",
        ))
    } else {
        Ok(caller)
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
        let req = req.clone();
        Box::pin(async move { session_only(authenticate(req).await?) })
    }
}

impl FromRequest for AdminUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let request_id = req.extensions().get::<RequestId>().map(ToString::to_string);
            let user = session_only(authenticate(req).await?)?;
            if user.role.is_admin() {
                Ok(Self { user, request_id })
            } else {
                Err(ApiError::forbidden("Only admins may do this."))
            }
        })
    }
}
