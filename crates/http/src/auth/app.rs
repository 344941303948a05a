//! App credentials: `Authorization: Basic base64(client_id:client_secret)`,
//! checked against the database on every call (a revoked app or a retired
//! secret is refused at once, on every instance).

use std::future::Future;
use std::marker::PhantomData;
use std::ops::Deref;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use askgate_domain::app::{App, AppScope};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::error::ApiError;
use crate::state::AppState;

/// A scope an app endpoint asks for (see [`app_scope`]).
pub trait AppScopeNeeded {
    const SCOPE: AppScope;
}

/// The scopes app endpoints ask for, as types for [`AppCaller`].
pub mod app_scope {
    use askgate_domain::app::AppScope;

    use super::AppScopeNeeded;

    #[derive(Debug)]
    pub struct CreditsConsume;
    #[derive(Debug)]
    pub struct BalanceRead;
    #[derive(Debug)]
    pub struct CheckoutCreate;
    #[derive(Debug)]
    pub struct TokenIntrospect;

    impl AppScopeNeeded for CreditsConsume {
        const SCOPE: AppScope = AppScope::CreditsConsume;
    }
    impl AppScopeNeeded for BalanceRead {
        const SCOPE: AppScope = AppScope::BalanceRead;
    }
    impl AppScopeNeeded for CheckoutCreate {
        const SCOPE: AppScope = AppScope::CheckoutCreate;
    }
    impl AppScopeNeeded for TokenIntrospect {
        const SCOPE: AppScope = AppScope::TokenIntrospect;
    }
}

/// A registered app that authenticated with HTTP Basic and has the scope
/// `S`. Missing or refused credentials answer 401 with a `Basic` challenge;
/// an app without the scope, 403 `insufficient_scope`.
#[derive(Debug, Clone)]
pub struct AppCaller<S> {
    app: App,
    scope: PhantomData<fn() -> S>,
}

impl<S> Deref for AppCaller<S> {
    type Target = App;

    fn deref(&self) -> &App {
        &self.app
    }
}

/// `(client_id, client_secret)` of a Basic `Authorization` header.
fn basic_credentials(req: &HttpRequest) -> Option<(String, String)> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

async fn authenticate(req: HttpRequest) -> Result<App, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::internal(&MissingState))?;
    let (id, secret) = basic_credentials(&req).ok_or_else(ApiError::invalid_app_credentials)?;
    Ok(state.services.apps.authenticate(&id, &secret).await?)
}

#[derive(Debug, thiserror::Error)]
#[error("AppState is not registered with the application")]
struct MissingState;

impl<S: AppScopeNeeded> FromRequest for AppCaller<S> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let app = authenticate(req).await?;
            if !app.allows(S::SCOPE) {
                return Err(ApiError::insufficient_scope(format!(
                    "This app does not have the '{}' scope.",
                    S::SCOPE
                )));
            }
            Ok(Self {
                app,
                scope: PhantomData,
            })
        })
    }
}
