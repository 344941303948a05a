//! The problem+json body every error answer carries (RFC 9457), and the
//! [`ApiError`] value it is rendered from.
//!
//! 5xx bodies are generic: the full error chain is logged once, when the
//! error is made, and never sent to the client.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use askgate_domain::ports::RateDecision;
use serde::Serialize;

use crate::dto::Problem;

/// Media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Where a 402 sends the user to buy tokens (the web UI's page).
pub const PURCHASE_URL: &str = "/buy";

/// The command that grants tokens on a development server.
pub const GRANT_COMMAND: &str = "cargo run -- grant --email <your e-mail> --tokens 100";

/// How to get tokens on a development server whose payments are off.
const GRANT_HINT: &str = "Payments are off on this server (no STRIPE_SECRET_KEY), so grant \
    tokens from the command line: cargo run -- grant --email <your e-mail> --tokens 100";

/// Prefix of the `type` URI of every problem.
const PROBLEM_TYPE_BASE: &str = "https://askgate.dev/problems/";

/// `WWW-Authenticate` when no credentials were sent (RFC 6750 §3.1: no error code).
const CHALLENGE_MISSING: &str = "Bearer realm=\"askgate\"";
/// `WWW-Authenticate` when an app's credentials are missing or refused.
const CHALLENGE_APP: &str = "Basic realm=\"askgate apps\"";
/// `WWW-Authenticate` when the credentials sent were refused.
const CHALLENGE_INVALID: &str = "Bearer realm=\"askgate\", error=\"invalid_token\"";

/// The stable machine-readable error codes of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProblemCode {
    Unauthenticated,
    SessionExpired,
    Forbidden,
    InsufficientScope,
    AccountDisabled,
    NotFound,
    ValidationFailed,
    InsufficientTokens,
    RateLimited,
    DailyLimitExceeded,
    Conflict,
    UpstreamFailed,
    UpstreamTimeout,
    Unavailable,
    Internal,
    /// Device-code sign-in (RFC 8628 §3.5): not approved yet, poll again.
    AuthorizationPending,
    /// Device-code sign-in: polled too fast, wait 5 seconds longer.
    SlowDown,
    /// Device-code sign-in: the code expired, start again.
    ExpiredToken,
    /// Device-code sign-in: the person declined.
    AccessDenied,
    /// Device-code sign-in: no such device code (or already redeemed).
    InvalidGrant,
}

impl ProblemCode {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Unauthenticated => "unauthenticated",
            Self::SessionExpired => "session_expired",
            Self::Forbidden => "forbidden",
            Self::InsufficientScope => "insufficient_scope",
            Self::AccountDisabled => "account_disabled",
            Self::NotFound => "not_found",
            Self::ValidationFailed => "validation_failed",
            Self::InsufficientTokens => "insufficient_tokens",
            Self::RateLimited => "rate_limited",
            Self::DailyLimitExceeded => "daily_limit_exceeded",
            Self::Conflict => "conflict",
            Self::UpstreamFailed => "upstream_failed",
            Self::UpstreamTimeout => "upstream_timeout",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
            Self::AuthorizationPending => "authorization_pending",
            Self::SlowDown => "slow_down",
            Self::ExpiredToken => "expired_token",
            Self::AccessDenied => "access_denied",
            Self::InvalidGrant => "invalid_grant",
        }
    }

    /// The usual status of the code (validation failures may use 400/413/415).
    #[must_use]
    pub const fn status(self) -> StatusCode {
        match self {
            Self::Unauthenticated | Self::SessionExpired => StatusCode::UNAUTHORIZED,
            Self::Forbidden | Self::InsufficientScope | Self::AccountDisabled => {
                StatusCode::FORBIDDEN
            }
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::ValidationFailed => StatusCode::UNPROCESSABLE_ENTITY,
            Self::InsufficientTokens => StatusCode::PAYMENT_REQUIRED,
            Self::RateLimited | Self::DailyLimitExceeded => StatusCode::TOO_MANY_REQUESTS,
            Self::Conflict => StatusCode::CONFLICT,
            Self::UpstreamFailed => StatusCode::BAD_GATEWAY,
            Self::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            // RFC 8628 §3.5 / RFC 6749 §5.2: token errors are 400s.
            Self::AuthorizationPending
            | Self::SlowDown
            | Self::ExpiredToken
            | Self::AccessDenied
            | Self::InvalidGrant => StatusCode::BAD_REQUEST,
        }
    }

    const fn title(self) -> &'static str {
        match self {
            Self::Unauthenticated => "Authentication required",
            Self::SessionExpired => "Session expired",
            Self::Forbidden => "Forbidden",
            Self::InsufficientScope => "Insufficient scope",
            Self::AccountDisabled => "Account disabled",
            Self::NotFound => "Not found",
            Self::ValidationFailed => "Invalid request",
            Self::InsufficientTokens => "Insufficient tokens",
            Self::RateLimited => "Too many requests",
            Self::DailyLimitExceeded => "Daily limit exceeded",
            Self::Conflict => "Conflict",
            Self::UpstreamFailed => "Upstream service failed",
            Self::UpstreamTimeout => "Upstream service timed out",
            Self::Unavailable => "Service unavailable",
            Self::Internal => "Internal server error",
            Self::AuthorizationPending => "Sign-in not completed yet",
            Self::SlowDown => "Polling too fast",
            Self::ExpiredToken => "Code expired",
            Self::AccessDenied => "Sign-in declined",
            Self::InvalidGrant => "Unknown device code",
        }
    }

    /// The OAuth `error` a device-flow client reads (RFC 8628 §3.5), for the
    /// codes that are one.
    const fn oauth_error(self) -> Option<&'static str> {
        match self {
            Self::AuthorizationPending
            | Self::SlowDown
            | Self::ExpiredToken
            | Self::AccessDenied
            | Self::InvalidGrant => Some(self.as_str()),
            _ => None,
        }
    }

    /// The detail every 5xx of this code shows, whatever the cause.
    const fn generic_detail(self) -> &'static str {
        match self {
            Self::UpstreamFailed => "The AI service could not answer. No token was charged.",
            Self::UpstreamTimeout => "The AI service did not answer in time. No token was charged.",
            Self::Unavailable => "The service is temporarily unavailable. Please try again.",
            _ => "Something went wrong on our side.",
        }
    }
}

impl fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a 429 tells the client about when to come back.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RetryAfter {
    wait: Duration,
    /// The limiter's decision, for the `RateLimit-*` headers.
    limits: Option<RateDecision>,
}

/// An error answer of the API. Holds only what may be shown to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    code: ProblemCode,
    status: StatusCode,
    detail: String,
    field: Option<String>,
    balance: Option<i64>,
    purchase_url: Option<String>,
    /// Boxed: rare, and every `Result<_, ApiError>` carries this struct's size.
    retry_after: Option<Box<RetryAfter>>,
    challenge: Option<&'static str>,
}

impl ApiError {
    pub(super) fn new(code: ProblemCode, detail: impl Into<String>) -> Self {
        Self {
            code,
            status: code.status(),
            detail: detail.into(),
            field: None,
            balance: None,
            purchase_url: None,
            retry_after: None,
            challenge: None,
        }
    }

    /// A server-side failure: logs the whole chain of `source` once and keeps
    /// only the generic text.
    pub(super) fn server(code: ProblemCode, source: &(dyn StdError + 'static)) -> Self {
        tracing::error!(
            code = code.as_str(),
            error.chain = %ErrorChain(source),
            "request failed"
        );
        Self::new(code, code.generic_detail())
    }

    /// A device-code poll that signed nobody in: `code` is the RFC 8628 error.
    #[must_use]
    pub fn device_poll(code: ProblemCode, detail: impl Into<String>) -> Self {
        Self::new(code, detail)
    }

    /// No credentials were sent: 401 with a bare Bearer challenge.
    #[must_use]
    pub fn unauthenticated() -> Self {
        Self {
            challenge: Some(CHALLENGE_MISSING),
            ..Self::new(
                ProblemCode::Unauthenticated,
                "Sign in and send the session token as 'Authorization: Bearer <token>'.",
            )
        }
    }

    /// `POST /api/auth/refresh` without a refresh token: 401 saying what that
    /// endpoint takes (a session token is no use there).
    #[must_use]
    pub fn no_refresh_token() -> Self {
        Self {
            challenge: Some(CHALLENGE_MISSING),
            ..Self::new(
                ProblemCode::Unauthenticated,
                "Send the refresh token: the askgate_refresh cookie set at sign-in, \
                 or {\"refresh_token\": \"…\"} as the JSON body.",
            )
        }
    }

    /// The credentials sent were refused. Never says which check failed.
    #[must_use]
    pub fn invalid_token() -> Self {
        Self {
            challenge: Some(CHALLENGE_INVALID),
            ..Self::new(
                ProblemCode::Unauthenticated,
                "The session token is invalid or has expired. Sign in again.",
            )
        }
    }

    /// The session reached its absolute lifetime (`SESSION_MAX_AGE_DAYS`).
    #[must_use]
    pub fn session_expired() -> Self {
        Self {
            challenge: Some(CHALLENGE_INVALID),
            ..Self::new(
                ProblemCode::SessionExpired,
                "This session has reached its maximum lifetime. Sign in again.",
            )
        }
    }

    /// A sign-in (authorization code, ID token, returning state) was refused.
    /// Never says which check failed.
    #[must_use]
    pub fn sign_in_failed() -> Self {
        Self::new(
            ProblemCode::Unauthenticated,
            "Sign-in with Microsoft failed or has expired. Please sign in again.",
        )
    }

    #[must_use]
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(ProblemCode::Forbidden, detail)
    }

    /// The credentials are valid but do not allow this endpoint (an API key
    /// without the scope, or a key where only a session will do).
    #[must_use]
    pub fn insufficient_scope(detail: impl Into<String>) -> Self {
        Self::new(ProblemCode::InsufficientScope, detail)
    }

    /// App credentials (HTTP Basic `client_id:client_secret`) are missing,
    /// wrong, retired or belong to a revoked app. Never says which.
    #[must_use]
    pub fn invalid_app_credentials() -> Self {
        Self {
            challenge: Some(CHALLENGE_APP),
            ..Self::new(
                ProblemCode::Unauthenticated,
                "Send the app's credentials as HTTP Basic 'client_id:client_secret'.",
            )
        }
    }

    /// An app call without the user's token: 401 saying where it goes.
    #[must_use]
    pub fn unauthenticated_user(detail: impl Into<String>) -> Self {
        Self {
            challenge: Some(CHALLENGE_MISSING),
            ..Self::new(ProblemCode::Unauthenticated, detail)
        }
    }

    /// A presented API key is unknown, revoked or expired. Never says which.
    #[must_use]
    pub fn invalid_api_key() -> Self {
        Self {
            challenge: Some(CHALLENGE_INVALID),
            ..Self::new(
                ProblemCode::Unauthenticated,
                "The API key is invalid, revoked or has expired.",
            )
        }
    }

    /// The caller's account was disabled by an admin; its tokens and history stay.
    #[must_use]
    pub fn account_disabled() -> Self {
        Self::new(
            ProblemCode::AccountDisabled,
            "This account is disabled. Contact an administrator.",
        )
    }

    #[must_use]
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(ProblemCode::NotFound, detail)
    }

    /// 422 about one request field.
    #[must_use]
    pub fn invalid_field(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            field: Some(field.into()),
            ..Self::new(ProblemCode::ValidationFailed, detail)
        }
    }

    /// 422 about the request as a whole.
    #[must_use]
    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::new(ProblemCode::ValidationFailed, detail)
    }

    /// A validation failure with another 4xx status (400, 413, 415).
    pub(crate) fn invalid_with_status(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            ..Self::new(ProblemCode::ValidationFailed, detail)
        }
    }

    /// 422: an adjustment would take the balance below zero; `balance` is
    /// what the user has.
    #[must_use]
    pub fn below_zero(balance: i64) -> Self {
        Self {
            balance: Some(balance),
            ..Self::invalid_field(
                "amount",
                format!("The balance is {balance}: an adjustment cannot take it below zero."),
            )
        }
    }

    /// 402 with the balance and where to buy more.
    #[must_use]
    pub fn insufficient_tokens(balance: i64, purchase_url: impl Into<String>) -> Self {
        Self {
            balance: Some(balance),
            purchase_url: Some(purchase_url.into()),
            ..Self::new(
                ProblemCode::InsufficientTokens,
                "You have no tokens left. Buy more to continue.",
            )
        }
    }

    /// On a development server without payments, a 402 says how to grant
    /// tokens from the command line, since its purchase page cannot sell any.
    /// Any other error is returned unchanged.
    #[must_use]
    pub fn with_local_grant_hint(self) -> Self {
        if self.code != ProblemCode::InsufficientTokens {
            return self;
        }
        Self {
            detail: format!("You have no tokens left. {GRANT_HINT}"),
            ..self
        }
    }

    /// 429 with `Retry-After` (whole seconds, at least 1).
    #[must_use]
    pub fn rate_limited(retry_after: Duration) -> Self {
        Self {
            retry_after: Some(Box::new(RetryAfter {
                wait: retry_after,
                limits: None,
            })),
            ..Self::new(
                ProblemCode::RateLimited,
                "Too many requests. Wait before trying again.",
            )
        }
    }

    /// 429: an app reached its daily limit for this user; `Retry-After` is
    /// the next UTC midnight.
    #[must_use]
    pub fn daily_limit_exceeded(detail: impl Into<String>, retry_after: Duration) -> Self {
        Self {
            retry_after: Some(Box::new(RetryAfter {
                wait: retry_after,
                limits: None,
            })),
            ..Self::new(ProblemCode::DailyLimitExceeded, detail)
        }
    }

    /// 429 from a rate limiter's decision: `Retry-After` plus `RateLimit-Limit`,
    /// `RateLimit-Remaining` and `RateLimit-Reset`.
    #[must_use]
    pub fn rate_limited_by(decision: RateDecision) -> Self {
        Self {
            retry_after: Some(Box::new(RetryAfter {
                wait: decision.reset_after,
                limits: Some(decision),
            })),
            ..Self::rate_limited(decision.reset_after)
        }
    }

    #[must_use]
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(ProblemCode::Conflict, detail)
    }

    #[must_use]
    pub fn upstream_failed(source: &(dyn StdError + 'static)) -> Self {
        Self::server(ProblemCode::UpstreamFailed, source)
    }

    #[must_use]
    pub fn upstream_timeout(source: &(dyn StdError + 'static)) -> Self {
        Self::server(ProblemCode::UpstreamTimeout, source)
    }

    #[must_use]
    pub fn unavailable(source: &(dyn StdError + 'static)) -> Self {
        Self::server(ProblemCode::Unavailable, source)
    }

    #[must_use]
    pub fn internal(source: &(dyn StdError + 'static)) -> Self {
        Self::server(ProblemCode::Internal, source)
    }

    /// The same problem with another detail (the status and code stay).
    pub(super) fn with_detail(self, detail: impl Into<String>) -> Self {
        Self {
            detail: detail.into(),
            ..self
        }
    }

    /// The body of this error's answer (also the `error` event of a stream).
    #[must_use]
    pub fn problem(&self) -> Problem {
        Problem {
            type_uri: format!("{PROBLEM_TYPE_BASE}{}", self.code),
            title: self.code.title().to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            code: self.code,
            field: self.field.clone(),
            balance: self.balance,
            purchase_url: self.purchase_url.clone(),
            error: self.code.oauth_error().map(str::to_owned),
        }
    }

    #[must_use]
    pub const fn code(&self) -> ProblemCode {
        self.code
    }

    #[must_use]
    pub fn detail(&self) -> &str {
        &self.detail
    }

    #[must_use]
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.detail)
    }
}

impl StdError for ApiError {}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let body = self.problem();
        let mut response = HttpResponse::build(self.status);
        response.insert_header((header::CONTENT_TYPE, PROBLEM_JSON));
        if let Some(challenge) = self.challenge {
            response.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            ));
        }
        if let Some(retry) = self.retry_after.as_deref() {
            let seconds = whole_seconds(retry.wait);
            response.insert_header((header::RETRY_AFTER, seconds));
            if let Some(limits) = retry.limits {
                response.insert_header(("RateLimit-Limit", limits.limit));
                response.insert_header(("RateLimit-Remaining", limits.remaining));
                response.insert_header(("RateLimit-Reset", seconds));
            }
        }
        // Serialising this struct of strings and integers cannot fail; fall back
        // to an empty object rather than panicking if it ever did.
        response.body(serde_json::to_string(&body).unwrap_or_else(|_| "{}".to_owned()))
    }
}

/// Seconds rounded up, at least 1 (a client told 0 would retry at once).
fn whole_seconds(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// Displays an error and all its sources, `outer: inner: root`.
struct ErrorChain<'a>(&'a (dyn StdError + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}
