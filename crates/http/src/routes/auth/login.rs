//! `POST /api/auth/login {code, code_verifier, nonce, redirect_uri?}`: a client
//! that ran the authorization-code flow itself (with PKCE and a nonce) hands
//! askgate the code, its PKCE verifier and the nonce it sent; askgate exchanges
//! the code with the verifier, requires the ID token to carry that nonce,
//! signs the user in and starts a session. Without a verifier or a nonce
//! nothing is exchanged: a code caught on its way back, or an ID token of
//! another sign-in, signs nobody in.

use actix_web::{HttpResponse, web};
use askgate_domain::ports::CodeExchange;
use serde::Deserialize;

use super::signed_in::start_session;
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = LoginRequest)]
#[serde(deny_unknown_fields)]
pub struct Body {
    code: String,
    /// The PKCE verifier (RFC 7636: 43 to 128 of `A-Z a-z 0-9 - . _ ~`) whose
    /// S256 challenge the authorization request carried.
    #[serde(default)]
    #[schema(required = true, value_type = String, min_length = 43, max_length = 128)]
    code_verifier: Option<String>,
    /// The `nonce` the authorization request carried; the ID token must echo it.
    #[serde(default)]
    #[schema(required = true, value_type = String, min_length = 1, max_length = 512)]
    nonce: Option<String>,
    #[serde(default)]
    redirect_uri: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/auth/login",
    tag = "auth",
    request_body = Body,
    responses(
        (status = 200, description = "Signed in; the refresh token is in the `askgate_refresh` cookie", body = super::signed_in::SignedIn),
        (status = 401, description = "The code or the ID token was refused", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 403, description = "An administrator disabled this account (`account_disabled`)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Microsoft sign-in is not configured", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`code`, `code_verifier` or `nonce` missing or malformed, or `redirect_uri` not allowed", body = crate::dto::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn handle(
    state: web::Data<AppState>,
    body: web::Json<Body>,
) -> Result<HttpResponse, ApiError> {
    let microsoft = state
        .services
        .microsoft
        .as_ref()
        .ok_or_else(|| ApiError::not_found("Microsoft sign-in is not configured."))?;
    let Body {
        code,
        code_verifier,
        nonce,
        redirect_uri,
    } = body.into_inner();
    if code.trim().is_empty() {
        return Err(ApiError::invalid_field("code", "code must not be empty."));
    }
    let pkce_verifier = code_verifier.filter(|v| is_pkce_verifier(v)).ok_or_else(|| {
        ApiError::invalid_field(
            "code_verifier",
            "code_verifier is required: the PKCE verifier of the authorization request (43 to 128 characters of A-Z, a-z, 0-9, '-', '.', '_', '~').",
        )
    })?;
    let nonce = nonce.filter(|n| is_nonce(n)).ok_or_else(|| {
        ApiError::invalid_field(
            "nonce",
            "nonce is required: the nonce the authorization request sent (1 to 512 printable ASCII characters).",
        )
    })?;
    let redirect_uri = microsoft.redirect_uri_for(redirect_uri.as_deref())?;
    let identity = microsoft
        .provider()
        .complete_sign_in(&CodeExchange {
            code,
            pkce_verifier,
            redirect_uri,
            nonce,
        })
        .await?;
    let user = state.services.accounts.sign_in(&identity).await?;
    tracing::info!(user_id = %user.id, role = %user.role, "signed in with Microsoft");
    start_session(&state, &user).await
}

/// RFC 7636 §4.1: `code-verifier = 43*128unreserved`.
fn is_pkce_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// A nonce a client can have sent: printable ASCII, bounded.
fn is_nonce(n: &str) -> bool {
    (1..=512).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_verifiers_are_43_to_128_unreserved_characters() {
        assert!(is_pkce_verifier(&"a".repeat(43)));
        assert!(is_pkce_verifier(&format!("{}-._~Z9", "b".repeat(40))));
        assert!(is_pkce_verifier(&"c".repeat(128)));
        for bad in [
            "a".repeat(42),
            "a".repeat(129),
            format!("{} ", "a".repeat(43)),
            format!("{}+/", "a".repeat(43)),
        ] {
            assert!(!is_pkce_verifier(&bad), "{bad}");
        }
        assert!(is_nonce("n-0123"));
        assert!(!is_nonce(""));
        assert!(!is_nonce("with space"));
        assert!(!is_nonce(&"n".repeat(513)));
    }
}
