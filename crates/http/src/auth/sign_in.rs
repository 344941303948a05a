//! Microsoft sign-in (OpenID Connect authorization code + PKCE): what the
//! `/api/auth/{login,authorize,callback}` handlers share.
//!
//! For the built-in web UI the server runs the whole flow: `authorize` keeps
//! the PKCE verifier, `state`, `nonce` and where to return in a short-lived
//! cookie signed with HMAC-SHA256 (key derived from `JWT_SECRET`), and
//! `callback` accepts only the `state` that cookie vouches for.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use askgate_domain::ports::IdentityProvider;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use url::Url;

/// Name of the cookie that carries a sign-in in progress.
pub const FLOW_COOKIE: &str = "askgate_sign_in";
/// How long a started sign-in may take to come back.
pub const FLOW_TTL: Duration = Duration::from_secs(600);
/// Domain separation: this MAC can never be mistaken for another use of the secret.
const FLOW_MAC_CONTEXT: &[u8] = b"askgate sign-in flow v1\0";

/// How Microsoft sign-in is configured.
#[derive(Clone)]
pub struct MicrosoftSignIn {
    provider: Arc<dyn IdentityProvider>,
    redirect_uri: String,
    allowed_origins: Vec<String>,
    flow_secret: SecretString,
    secure_cookies: bool,
}

impl fmt::Debug for MicrosoftSignIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MicrosoftSignIn")
            .field("redirect_uri", &self.redirect_uri)
            .field("allowed_origins", &self.allowed_origins)
            .finish_non_exhaustive()
    }
}

/// A sign-in in progress, as the flow cookie carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingSignIn {
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
    pub return_to: String,
    /// Unix seconds after which the cookie is refused.
    pub exp: i64,
}

impl MicrosoftSignIn {
    /// `redirect_uri` is `AZURE_AD_REDIRECT_URI`; a client may send another
    /// only when its origin is one of `allowed_origins` (the origin of
    /// `PUBLIC_BASE_URL` and `ALLOWED_ORIGINS`, as `scheme://host[:port]`).
    #[must_use]
    pub fn new(
        provider: Arc<dyn IdentityProvider>,
        redirect_uri: String,
        allowed_origins: Vec<String>,
        flow_secret: SecretString,
        secure_cookies: bool,
    ) -> Self {
        Self {
            provider,
            redirect_uri,
            allowed_origins,
            flow_secret,
            secure_cookies,
        }
    }

    #[must_use]
    pub fn provider(&self) -> &dyn IdentityProvider {
        self.provider.as_ref()
    }

    #[must_use]
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// The redirect URI to exchange a client's code with: the configured one,
    /// or the client's when its origin is allowed (422 otherwise).
    pub fn redirect_uri_for(&self, requested: Option<&str>) -> Result<String, RedirectUriRefused> {
        let Some(requested) = requested else {
            return Ok(self.redirect_uri.clone());
        };
        let allowed = Url::parse(requested).ok().is_some_and(|url| {
            matches!(url.scheme(), "http" | "https")
                && self
                    .allowed_origins
                    .iter()
                    .any(|origin| *origin == url.origin().ascii_serialization())
        });
        if allowed {
            Ok(requested.to_owned())
        } else {
            Err(RedirectUriRefused)
        }
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes keys of any length; this cannot fail.
        let mut mac =
            <Hmac<Sha256> as KeyInit>::new_from_slice(self.flow_secret.expose_secret().as_bytes())
                .unwrap_or_else(|_| unreachable_hmac());
        mac.update(FLOW_MAC_CONTEXT);
        mac
    }

    /// The signed cookie for a sign-in in progress.
    #[must_use]
    pub fn flow_cookie(&self, pending: &PendingSignIn) -> Cookie<'static> {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(pending).unwrap_or_default());
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        let tag = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        let max_age = i64::try_from(FLOW_TTL.as_secs()).unwrap_or(600);
        // Lax, not Strict: the provider sends the browser back with a top-level
        // cross-site navigation, which Strict cookies do not accompany.
        Cookie::build(FLOW_COOKIE, format!("{payload}.{tag}"))
            .path(crate::auth::REFRESH_COOKIE_PATH)
            .http_only(true)
            .secure(self.secure_cookies)
            .same_site(SameSite::Lax)
            .max_age(CookieDuration::seconds(max_age))
            .finish()
    }

    /// A cookie deleting the flow cookie.
    #[must_use]
    pub fn cleared_flow_cookie(&self) -> Cookie<'static> {
        let mut cookie = Cookie::build(FLOW_COOKIE, "")
            .path(crate::auth::REFRESH_COOKIE_PATH)
            .http_only(true)
            .secure(self.secure_cookies)
            .same_site(SameSite::Lax)
            .finish();
        cookie.make_removal();
        cookie
    }

    /// The sign-in the cookie vouches for, if its MAC is ours and it has not expired.
    pub fn open_flow_cookie(&self, value: &str) -> Result<PendingSignIn, FlowCookieError> {
        let (payload, tag) = value.split_once('.').ok_or(FlowCookieError::Malformed)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| FlowCookieError::Malformed)?;
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        mac.verify_slice(&tag)
            .map_err(|_| FlowCookieError::BadSignature)?;
        let json = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| FlowCookieError::Malformed)?;
        let pending: PendingSignIn =
            serde_json::from_slice(&json).map_err(|_| FlowCookieError::Malformed)?;
        if pending.exp < Utc::now().timestamp() {
            return Err(FlowCookieError::Expired);
        }
        Ok(pending)
    }
}

#[cold]
fn unreachable_hmac() -> Hmac<Sha256> {
    // `new_from_slice` only fails for fixed-size keys; HMAC has none. Keep a
    // total function all the same: a constant key that no cookie will match.
    <Hmac<Sha256> as KeyInit>::new(&Default::default())
}

/// Why a flow cookie was refused (logged only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FlowCookieError {
    #[error("sign-in cookie is malformed")]
    Malformed,
    #[error("sign-in cookie signature does not match")]
    BadSignature,
    #[error("sign-in cookie has expired")]
    Expired,
}

/// A client's `redirect_uri` is not on an allowed origin (422).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("redirect_uri must be on this service's origin or one of ALLOWED_ORIGINS.")]
pub struct RedirectUriRefused;

/// `return_to` is not a local path (422).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("return_to must be a path on this site, starting with a single '/'.")]
pub struct NotALocalPath;

/// `return_to` of `/api/auth/authorize`: a local path (`/…` but not `//…`).
pub fn local_return_path(raw: Option<&str>) -> Result<String, NotALocalPath> {
    let path = raw.unwrap_or("/");
    let local = path.starts_with('/')
        && !path.starts_with("//")
        && !path.contains('\\')
        && !path.chars().any(char::is_control);
    if local {
        Ok(path.to_owned())
    } else {
        Err(NotALocalPath)
    }
}

#[cfg(test)]
mod tests {
    use askgate_domain::ports::MockIdentityProvider;

    use super::*;

    fn sign_in(secret: &str) -> MicrosoftSignIn {
        MicrosoftSignIn::new(
            Arc::new(MockIdentityProvider::new()),
            "https://askgate.example.com/api/auth/callback".into(),
            vec![
                "https://askgate.example.com".into(),
                "http://localhost:3000".into(),
            ],
            SecretString::from(secret.to_owned()),
            true,
        )
    }

    fn pending(exp: i64) -> PendingSignIn {
        PendingSignIn {
            state: "state".into(),
            nonce: "nonce".into(),
            pkce_verifier: "verifier".into(),
            return_to: "/chat".into(),
            exp,
        }
    }

    #[test]
    fn a_flow_cookie_opens_only_with_its_own_secret_and_untampered() {
        let flow = sign_in("0123456789abcdef0123456789abcdef");
        let p = pending(Utc::now().timestamp() + 60);
        let cookie = flow.flow_cookie(&p);
        assert!(cookie.http_only().unwrap_or(false));
        assert_eq!(flow.open_flow_cookie(cookie.value()), Ok(p.clone()));

        let other = sign_in("another-secret-another-secret-xx");
        assert_eq!(
            other.open_flow_cookie(cookie.value()),
            Err(FlowCookieError::BadSignature)
        );
        let (_, tag) = cookie.value().split_once('.').unwrap();
        let forged = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&PendingSignIn {
                return_to: "/evil".into(),
                ..p
            })
            .unwrap(),
        );
        assert_eq!(
            flow.open_flow_cookie(&format!("{forged}.{tag}")),
            Err(FlowCookieError::BadSignature)
        );
    }

    #[test]
    fn an_expired_flow_cookie_is_refused() {
        let flow = sign_in("0123456789abcdef0123456789abcdef");
        let cookie = flow.flow_cookie(&pending(Utc::now().timestamp() - 1));
        assert_eq!(
            flow.open_flow_cookie(cookie.value()),
            Err(FlowCookieError::Expired)
        );
    }

    #[test]
    fn return_to_must_be_a_local_path() {
        assert_eq!(local_return_path(None).unwrap(), "/");
        assert_eq!(local_return_path(Some("/chat?x=1")).unwrap(), "/chat?x=1");
        for bad in [
            "//evil.example",
            "https://evil.example/",
            "chat",
            "/\\evil.example",
            "",
        ] {
            assert!(local_return_path(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn client_redirect_uris_must_be_on_an_allowed_origin() {
        let flow = sign_in("0123456789abcdef0123456789abcdef");
        assert_eq!(
            flow.redirect_uri_for(None).unwrap(),
            "https://askgate.example.com/api/auth/callback"
        );
        assert!(
            flow.redirect_uri_for(Some("http://localhost:3000/cb"))
                .is_ok()
        );
        for bad in [
            "https://evil.example/api/auth/callback",
            "https://askgate.example.com.evil.example/cb",
            "http://askgate.example.com/cb",
            "javascript:alert(1)",
        ] {
            assert!(flow.redirect_uri_for(Some(bad)).is_err(), "{bad}");
        }
    }
}
