//! Registered apps: other teams' backends that verify askgate users and use
//! their token balance, with the scopes and URLs an admin gave them.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use url::Url;

use crate::AppId;
use crate::newtype::string_newtype;

/// What every app secret starts with.
pub const APP_SECRET_PREFIX: &str = "ags_";

/// The longest overlap a rotation may keep the previous secret valid for.
pub const MAX_ROTATION_OVERLAP_SECONDS: u32 = 30 * 86_400;

/// The overlap of a rotation when none is asked for.
pub const DEFAULT_ROTATION_OVERLAP_SECONDS: u32 = 86_400;

/// How many origins or return URLs an app may list.
pub const MAX_URLS: usize = 20;

/// What an app may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AppScope {
    /// Spend a user's tokens (and refund what it spent).
    CreditsConsume,
    /// Read a user's balance.
    BalanceRead,
    /// Start a Stripe Checkout for a user.
    CheckoutCreate,
    /// Ask whether a session token is active and whose it is.
    TokenIntrospect,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "scope must be one of 'credits:consume', 'balance:read', 'checkout:create', 'token:introspect'"
)]
pub struct AppScopeError;

impl AppScope {
    pub const ALL: [Self; 4] = [
        Self::CreditsConsume,
        Self::BalanceRead,
        Self::CheckoutCreate,
        Self::TokenIntrospect,
    ];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::CreditsConsume => "credits:consume",
            Self::BalanceRead => "balance:read",
            Self::CheckoutCreate => "checkout:create",
            Self::TokenIntrospect => "token:introspect",
        }
    }
}

impl FromStr for AppScope {
    type Err = AppScopeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or(AppScopeError)
    }
}

impl fmt::Display for AppScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

string_newtype! {
    /// An app's name: 1–100 characters, trimmed, no control characters.
    pub struct AppName(String), parse = AppNameError;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("name must be 1 to 100 characters without control characters")]
pub struct AppNameError;

impl AppName {
    pub fn parse(raw: &str) -> Result<Self, AppNameError> {
        let name = raw.trim();
        let ok = (1..=100).contains(&name.chars().count()) && !name.chars().any(char::is_control);
        if ok {
            Ok(Self(name.to_owned()))
        } else {
            Err(AppNameError)
        }
    }
}

/// Why a URL an admin gave for an app is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppUrlError {
    #[error("'{0}' is not an absolute URL")]
    NotAbsolute(String),
    #[error(
        "'{0}' must be https (plain http only for localhost or 127.0.0.1), without user info or fragment"
    )]
    NotAllowed(String),
    #[error("an origin is scheme, host and port only: '{0}'")]
    NotAnOrigin(String),
    #[error("at most {MAX_URLS} entries")]
    TooMany,
}

fn checked_url(raw: &str) -> Result<Url, AppUrlError> {
    let url = Url::parse(raw.trim()).map_err(|_| AppUrlError::NotAbsolute(raw.to_owned()))?;
    let local = matches!(url.host_str(), Some("localhost" | "127.0.0.1"));
    let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && local);
    let clean = url.host_str().is_some()
        && url.username().is_empty()
        && url.password().is_none()
        && url.fragment().is_none();
    if scheme_ok && clean {
        Ok(url)
    } else {
        Err(AppUrlError::NotAllowed(raw.to_owned()))
    }
}

/// An absolute URL an app may send its users back to: https, or plain http
/// on localhost/127.0.0.1 for development; no user info, no fragment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReturnUrl(String);

impl ReturnUrl {
    pub fn parse(raw: &str) -> Result<Self, AppUrlError> {
        checked_url(raw).map(|u| Self(u.to_string()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A browser origin of an app (`https://app.example.com`, with a port if any).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AppOrigin(String);

impl AppOrigin {
    pub fn parse(raw: &str) -> Result<Self, AppUrlError> {
        let url = checked_url(raw)?;
        let origin = url.origin().ascii_serialization();
        let trimmed = raw.trim().trim_end_matches('/');
        if url.path() != "/" || url.query().is_some() || origin != trimmed {
            return Err(AppUrlError::NotAnOrigin(raw.to_owned()));
        }
        Ok(Self(origin))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Parses a list of URLs, at most [`MAX_URLS`], without repeats.
///
/// # Errors
/// The first entry refused, or `TooMany`.
pub fn parse_urls<T: PartialEq>(
    raw: &[String],
    parse: impl Fn(&str) -> Result<T, AppUrlError>,
) -> Result<Vec<T>, AppUrlError> {
    if raw.len() > MAX_URLS {
        return Err(AppUrlError::TooMany);
    }
    let mut out: Vec<T> = Vec::with_capacity(raw.len());
    for r in raw {
        let parsed = parse(r)?;
        if !out.contains(&parsed) {
            out.push(parsed);
        }
    }
    Ok(out)
}

/// A registered app as admins see it (never a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    pub id: AppId,
    pub name: AppName,
    pub allowed_origins: Vec<AppOrigin>,
    pub allowed_return_urls: Vec<ReturnUrl>,
    pub scopes: Vec<AppScope>,
    pub daily_limit_per_user: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl App {
    #[must_use]
    pub fn allows(&self, scope: AppScope) -> bool {
        self.scopes.contains(&scope)
    }

    /// Whether `url` is exactly one of the registered return URLs.
    #[must_use]
    pub fn accepts_return_url(&self, url: &ReturnUrl) -> bool {
        self.allowed_return_urls.contains(url)
    }
}

/// What an admin sets on an app (all of it, when registering).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppSettings {
    pub name: AppName,
    pub allowed_origins: Vec<AppOrigin>,
    pub allowed_return_urls: Vec<ReturnUrl>,
    pub scopes: Vec<AppScope>,
    pub daily_limit_per_user: Option<i32>,
}

/// What an admin changes on an app: only the fields given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppPatch {
    pub name: Option<AppName>,
    pub allowed_origins: Option<Vec<AppOrigin>>,
    pub allowed_return_urls: Option<Vec<ReturnUrl>>,
    pub scopes: Option<Vec<AppScope>>,
    /// `Some(None)` removes the limit.
    pub daily_limit_per_user: Option<Option<i32>>,
}

impl AppPatch {
    /// `app` with this patch applied.
    #[must_use]
    pub fn apply(&self, app: &App) -> AppSettings {
        AppSettings {
            name: self.name.clone().unwrap_or_else(|| app.name.clone()),
            allowed_origins: self
                .allowed_origins
                .clone()
                .unwrap_or_else(|| app.allowed_origins.clone()),
            allowed_return_urls: self
                .allowed_return_urls
                .clone()
                .unwrap_or_else(|| app.allowed_return_urls.clone()),
            scopes: self.scopes.clone().unwrap_or_else(|| app.scopes.clone()),
            daily_limit_per_user: self
                .daily_limit_per_user
                .unwrap_or(app.daily_limit_per_user),
        }
    }
}

/// The state of an app an audit record keeps (before/after).
#[must_use]
pub fn audit_json(app: &App) -> serde_json::Value {
    serde_json::json!({
        "name": app.name.as_str(),
        "allowed_origins": app.allowed_origins.iter().map(AppOrigin::as_str).collect::<Vec<_>>(),
        "allowed_return_urls": app.allowed_return_urls.iter().map(ReturnUrl::as_str).collect::<Vec<_>>(),
        "scopes": app.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "daily_limit_per_user": app.daily_limit_per_user,
        "revoked_at": app.revoked_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_urls_are_https_or_local_http() {
        assert!(ReturnUrl::parse("https://app.example.com/done?x=1").is_ok());
        assert!(ReturnUrl::parse("http://localhost:3000/back").is_ok());
        assert!(ReturnUrl::parse("http://127.0.0.1/back").is_ok());
        assert!(ReturnUrl::parse("http://app.example.com/back").is_err());
        assert!(ReturnUrl::parse("/relative").is_err());
        assert!(ReturnUrl::parse("https://u:p@app.example.com/").is_err());
        assert!(ReturnUrl::parse("https://app.example.com/#frag").is_err());
        assert!(ReturnUrl::parse("javascript:alert(1)").is_err());
    }

    #[test]
    fn origins_are_scheme_host_and_port_only() {
        assert_eq!(
            AppOrigin::parse("https://app.example.com")
                .unwrap()
                .as_str(),
            "https://app.example.com"
        );
        assert!(AppOrigin::parse("http://localhost:5173").is_ok());
        assert!(AppOrigin::parse("https://app.example.com/path").is_err());
        assert!(AppOrigin::parse("http://app.example.com").is_err());
    }

    #[test]
    fn scopes_round_trip() {
        for s in AppScope::ALL {
            assert_eq!(s.as_str().parse::<AppScope>(), Ok(s));
        }
    }
}
