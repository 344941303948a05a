//! The session JWT askgate mints: HS256 with `JWT_SECRET`, shaped so the same
//! token works against Supabase's data API (`sub` = users.id, `role` =
//! `authenticated`); and the refresh tokens of sessions: 256 random bits,
//! base64url, of which only the SHA-256 is stored.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use askgate_domain::ports::{IssuedToken, RefreshToken, TokenIssueError, TokenIssuer};
use askgate_domain::user::{Role, User};
use askgate_domain::{Email, SessionId, UserId};
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{AuthenticatedUser, TokenError, TokenVerifier};

/// The `role` claim of every session token (the Postgres role RLS runs as).
pub const SESSION_ROLE: &str = "authenticated";

/// Clock skew tolerated on `exp`, in seconds.
const LEEWAY_SECONDS: u64 = 5;

/// The claims of a session token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// `users.id`.
    pub sub: UserId,
    /// Always [`SESSION_ROLE`].
    pub role: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    /// The sign-in session (refresh-token family).
    pub sid: SessionId,
    pub email: String,
    /// askgate's own role: "user" or "admin".
    pub app_role: Role,
}

/// A session token could not be minted.
#[derive(Debug, thiserror::Error)]
#[error("could not sign the session token")]
pub struct SessionTokenError(#[source] jsonwebtoken::errors::Error);

/// Signs and verifies session tokens. Cheap to clone.
#[derive(Clone)]
pub struct SessionKeys {
    inner: Arc<Inner>,
}

struct Inner {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
    audience: String,
}

impl fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionKeys")
            .field("secret", &"[REDACTED]")
            .field("ttl", &self.inner.ttl)
            .field("audience", &self.inner.audience)
            .finish()
    }
}

impl SessionKeys {
    /// `secret` must be at least 32 bytes; `Settings` enforces it.
    #[must_use]
    pub fn new(secret: &SecretString, ttl: Duration, audience: String) -> Self {
        let bytes = secret.expose_secret().as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_audience(&[&audience]);
        validation.set_required_spec_claims(&["exp", "iat", "sub", "aud"]);
        Self {
            inner: Arc::new(Inner {
                encoding: EncodingKey::from_secret(bytes),
                decoding: DecodingKey::from_secret(bytes),
                validation,
                ttl,
                audience,
            }),
        }
    }

    #[must_use]
    pub fn ttl(&self) -> Duration {
        self.inner.ttl
    }

    /// Mints a token for `user` in `session`, valid for the configured TTL from now.
    pub fn issue(&self, user: &User, session: SessionId) -> Result<IssuedToken, SessionTokenError> {
        self.issue_at(user, session, Utc::now().timestamp())
    }

    /// Mints a token as if it were `issued_at` (unix seconds).
    pub fn issue_at(
        &self,
        user: &User,
        session: SessionId,
        issued_at: i64,
    ) -> Result<IssuedToken, SessionTokenError> {
        let ttl = self.inner.ttl.as_secs();
        let claims = SessionClaims {
            sub: user.id,
            role: SESSION_ROLE.to_owned(),
            aud: self.inner.audience.clone(),
            iat: issued_at,
            exp: issued_at.saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX)),
            sid: session,
            email: user.email.as_str().to_owned(),
            app_role: user.role,
        };
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.inner.encoding,
        )
        .map_err(SessionTokenError)?;
        Ok(IssuedToken {
            token,
            expires_in: ttl,
        })
    }

    /// The claims of a valid session token: signature (HS256 only), `exp`,
    /// `aud` and `role` checked.
    pub fn session_claims(&self, token: &str) -> Result<SessionClaims, TokenError> {
        let data = jsonwebtoken::decode::<SessionClaims>(
            token,
            &self.inner.decoding,
            &self.inner.validation,
        )?;
        if data.claims.role != SESSION_ROLE {
            return Err(TokenError::WrongRole);
        }
        Ok(data.claims)
    }

    /// Checks signature (HS256 only), `exp`, `aud` and `role`.
    pub fn verify_session(&self, token: &str) -> Result<AuthenticatedUser, TokenError> {
        let claims = self.session_claims(token)?;
        let email = Email::parse(&claims.email).map_err(|_| TokenError::InvalidClaim("email"))?;
        Ok(AuthenticatedUser {
            user: claims.sub,
            role: claims.app_role,
            session: Some(claims.sid),
            email,
            api_key: None,
        })
    }
}

impl TokenIssuer for SessionKeys {
    fn access_token(
        &self,
        user: &User,
        session: SessionId,
    ) -> Result<IssuedToken, TokenIssueError> {
        self.issue(user, session)
            .map_err(|e| TokenIssueError(Box::new(e)))
    }

    fn refresh_token(&self) -> RefreshToken {
        let mut bytes = [0_u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let token = URL_SAFE_NO_PAD.encode(bytes);
        let hash = hash_refresh_token(&token);
        RefreshToken::new(token, hash)
    }

    fn refresh_token_hash(&self, presented: &str) -> String {
        hash_refresh_token(presented)
    }
}

/// SHA-256 of a refresh token, lowercase hex: what the session store keeps.
#[must_use]
pub fn hash_refresh_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[async_trait]
impl TokenVerifier for SessionKeys {
    async fn verify(&self, bearer: &str) -> Result<AuthenticatedUser, TokenError> {
        self.verify_session(bearer)
    }
}

#[cfg(test)]
mod tests {
    use askgate_domain::testing;

    use super::*;

    fn keys(secret: &str) -> SessionKeys {
        SessionKeys::new(
            &SecretString::from(secret.to_owned()),
            Duration::from_secs(900),
            "authenticated".into(),
        )
    }

    fn user() -> User {
        testing::user("ann@example.com", Role::Admin)
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn a_minted_token_verifies_to_its_user_session_and_role() {
        let keys = keys(SECRET);
        let user = user();
        let sid = SessionId::generate();
        let issued = keys.issue(&user, sid).unwrap();
        assert_eq!(issued.expires_in, 900);
        let who = keys.verify_session(&issued.token).unwrap();
        assert_eq!(who.user, user.id);
        assert_eq!(who.session, Some(sid));
        assert_eq!(who.role, Role::Admin);
        assert_eq!(who.email, user.email);
    }

    #[test]
    fn claims_carry_sub_role_and_audience_for_supabase() {
        let keys = keys(SECRET);
        let user = user();
        let issued = keys.issue(&user, SessionId::generate()).unwrap();
        let mut v = Validation::new(Algorithm::HS256);
        v.set_audience(&["authenticated"]);
        let data = jsonwebtoken::decode::<serde_json::Value>(
            &issued.token,
            &DecodingKey::from_secret(SECRET.as_bytes()),
            &v,
        )
        .unwrap();
        assert_eq!(data.claims["sub"], user.id.to_string());
        assert_eq!(data.claims["role"], "authenticated");
        assert_eq!(data.claims["app_role"], "admin");
        assert_eq!(data.claims["email"], "ann@example.com");
    }

    #[test]
    fn tokens_of_another_secret_or_audience_or_expired_are_refused() {
        let user = user();
        let other = keys("another-secret-another-secret-xx").issue(&user, SessionId::generate());
        assert!(keys(SECRET).verify_session(&other.unwrap().token).is_err());

        let wrong_aud = SessionKeys::new(
            &SecretString::from(SECRET.to_owned()),
            Duration::from_secs(900),
            "someone-else".into(),
        )
        .issue(&user, SessionId::generate())
        .unwrap();
        assert!(keys(SECRET).verify_session(&wrong_aud.token).is_err());

        let an_hour_ago = Utc::now().timestamp() - 3600;
        let expired = keys(SECRET)
            .issue_at(&user, SessionId::generate(), an_hour_ago)
            .unwrap();
        assert!(keys(SECRET).verify_session(&expired.token).is_err());
    }

    #[test]
    fn refresh_tokens_are_256_random_bits_in_base64url() {
        let keys = keys(SECRET);
        let a = keys.refresh_token();
        let b = keys.refresh_token();
        assert_eq!(a.expose().len(), 43);
        assert_ne!(a.expose(), b.expose());
        assert!(
            a.expose()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_eq!(a.hash().len(), 64);
        assert_ne!(a.hash(), a.expose());
        assert_eq!(keys.refresh_token_hash(a.expose()), a.hash());
        assert!(!format!("{a:?}").contains(a.expose()));
    }

    #[test]
    fn the_hash_is_sha256_hex() {
        assert_eq!(
            hash_refresh_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let shown = format!("{:?}", keys(SECRET));
        assert!(!shown.contains(SECRET));
    }
}
