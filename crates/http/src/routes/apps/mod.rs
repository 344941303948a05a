//! `/api/v1/…`: what registered apps' backends call with their credentials
//! (HTTP Basic `client_id:client_secret`), on behalf of a signed-in askgate
//! user whose session token or personal API key they forward in
//! [`USER_TOKEN_HEADER`].

pub mod balance;
pub mod checkout;
pub mod consume;
pub mod introspect;
pub mod refund;

use actix_web::HttpRequest;
use askgate_domain::api_key::ApiKeyScope;

use crate::auth::AuthenticatedUser;
use crate::error::ApiError;
use crate::state::AppState;

/// The header an app forwards the user's session token (or API key) in.
pub const USER_TOKEN_HEADER: &str = "X-Askgate-User-Token";

/// The user the app acts for: a session token, or an API key with `scope`.
async fn user_of(
    state: &AppState,
    req: &HttpRequest,
    scope: ApiKeyScope,
) -> Result<AuthenticatedUser, ApiError> {
    let token = req
        .headers()
        .get(USER_TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::unauthenticated_user(format!(
                "Send the user's session token or API key in {USER_TOKEN_HEADER}."
            ))
        })?;
    let user = state.services.bearer.verify(token).await?;
    if let Some(grant) = &user.api_key
        && !grant.scopes.contains(&scope)
    {
        return Err(ApiError::insufficient_scope(format!(
            "The user's API key does not have the '{scope}' scope."
        )));
    }
    Ok(user)
}
