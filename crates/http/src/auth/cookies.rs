//! The refresh-token cookie. Sessions themselves (rotation, reuse detection,
//! revocation) are the domain's `SessionService`; this is how browsers carry
//! their refresh token.

use std::time::Duration;

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use askgate_domain::ports::RefreshToken;

/// Name of the refresh-token cookie.
pub const REFRESH_COOKIE: &str = "askgate_refresh";
/// The refresh cookie is only ever sent to the auth endpoints.
pub const REFRESH_COOKIE_PATH: &str = "/api/auth";

/// The refresh cookie carrying `token` for as long as it can be traded.
#[must_use]
pub fn refresh_cookie(token: &RefreshToken, lifetime: Duration, secure: bool) -> Cookie<'static> {
    let max_age = i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX);
    Cookie::build(REFRESH_COOKIE, token.expose().to_owned())
        .path(REFRESH_COOKIE_PATH)
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .max_age(CookieDuration::seconds(max_age))
        .finish()
}

/// A cookie that deletes the refresh cookie.
#[must_use]
pub fn cleared_refresh_cookie(secure: bool) -> Cookie<'static> {
    let mut cookie = Cookie::build(REFRESH_COOKIE, "")
        .path(REFRESH_COOKIE_PATH)
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .finish();
    cookie.make_removal();
    cookie
}
