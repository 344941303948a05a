//! Every error of the use cases, the ports and the request parsers, turned
//! into an [`ApiError`]: one `From` impl per error type, each matching every
//! variant, so a new variant forces a decision about its status.

use actix_web::http::StatusCode;
use askgate_domain::StoreError;
use askgate_domain::email::EmailError;
use askgate_domain::page::PageError;
use askgate_domain::payment::ProviderIdempotencyKey;
use askgate_domain::ports::{IdentityError, WebhookError};
use askgate_domain::report::ReportPeriodError;
use askgate_domain::services::ReportError;
use askgate_domain::services::{
    AccountError, AdminError, ApiKeyError, AppAuthError, AppCreditError, AppError, BillingError,
    ChatError, ConversationError, DeviceError, DomainError, SessionError,
};
use askgate_domain::usage::{PeriodError, UsageDaysError};

use super::{ApiError, PURCHASE_URL, ProblemCode};
use crate::auth::{NotALocalPath, RedirectUriRefused, TokenError};
use crate::idempotency::IDEMPOTENCY_KEY;
use crate::routes::auth::refresh::BadBody;

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::UserNotFound => Self::not_found("No such user."),
            AccountError::MissingEmail => Self::invalid_field("email", e.to_string()),
            AccountError::InvalidIdentity => Self::invalid_token(),
            AccountError::Conflict(what) => Self::conflict(what),
            AccountError::EmptyGrant => Self::invalid_field("tokens", e.to_string()),
            AccountError::Forbidden => Self::forbidden("Only admins may do this."),
            AccountError::Disabled => Self::account_disabled(),
            AccountError::Unavailable(_) => Self::unavailable(&e),
            AccountError::Unexpected(_) => Self::internal(&e),
        }
    }
}

impl From<ApiKeyError> for ApiError {
    fn from(e: ApiKeyError) -> Self {
        match e {
            ApiKeyError::NoScopes => Self::invalid_field("scopes", e.to_string()),
            ApiKeyError::ExpiryInPast => Self::invalid_field("expires_at", e.to_string()),
            ApiKeyError::TooManyKeys => Self::conflict(e.to_string()),
            ApiKeyError::NotFound => Self::not_found("No such API key."),
            ApiKeyError::Unavailable(_) => Self::unavailable(&e),
            ApiKeyError::Unexpected(_) => Self::internal(&e),
        }
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Forbidden => Self::forbidden("Only admins may do this."),
            AppError::NotFound => Self::not_found("No such app."),
            AppError::Revoked => Self::conflict("The app is revoked."),
            AppError::NoScopes => Self::invalid_field("scopes", e.to_string()),
            AppError::InvalidDailyLimit => {
                Self::invalid_field("daily_limit_per_user", e.to_string())
            }
            AppError::InvalidOverlap => Self::invalid_field("overlap_seconds", e.to_string()),
            AppError::ReturnUrlNotAllowed => Self::forbidden(
                "This app did not register that return URL: its admin must add it to the app's allowed return URLs.",
            ),
            AppError::OriginNotAllowed => Self::forbidden(
                "This app is not registered for the page that asked: its admin must add that origin to the app's allowed origins.",
            ),
            AppError::Unavailable(_) => Self::unavailable(&e),
            AppError::Unexpected(_) => Self::internal(&e),
        }
    }
}

impl From<AppCreditError> for ApiError {
    fn from(e: AppCreditError) -> Self {
        match e {
            AppCreditError::MissingScope(_) => Self::insufficient_scope(format!("{e}.")),
            AppCreditError::InvalidAmount => Self::invalid_field("amount", e.to_string()),
            AppCreditError::InvalidReason => Self::invalid_field("reason", e.to_string()),
            AppCreditError::IdempotencyMismatch => Self::invalid_field(
                "idempotency_key",
                "This idempotency_key was used with a different request.",
            ),
            AppCreditError::InsufficientTokens { balance } => {
                Self::insufficient_tokens(i64::from(balance.get()), PURCHASE_URL)
            }
            AppCreditError::DailyLimitExceeded { .. } => {
                let now = chrono::Utc::now();
                let midnight = (now.date_naive() + chrono::Days::new(1))
                    .and_hms_opt(0, 0, 0)
                    .map(|t| t.and_utc());
                let wait = midnight
                    .and_then(|m| (m - now).to_std().ok())
                    .unwrap_or(std::time::Duration::from_secs(3600));
                Self::daily_limit_exceeded(format!("{e}."), wait)
            }
            AppCreditError::NotFound => Self::not_found("No such consumption of this app."),
            AppCreditError::AlreadyRefunded => {
                Self::conflict("This consumption was refunded already.")
            }
            AppCreditError::RefundWindowPassed => {
                Self::invalid_field("id", "A consumption can be refunded only within 24 hours.")
            }
            AppCreditError::UserNotFound => Self::not_found("No such user."),
            AppCreditError::Unavailable(_) => Self::unavailable(&e),
            AppCreditError::Unexpected(_) => Self::internal(&e),
        }
    }
}

impl From<AppAuthError> for ApiError {
    fn from(e: AppAuthError) -> Self {
        match e {
            AppAuthError::Refused => {
                tracing::info!("refused app credentials");
                Self::invalid_app_credentials()
            }
            AppAuthError::Unavailable(_) => Self::unavailable(&e),
        }
    }
}

impl From<PeriodError> for ApiError {
    fn from(e: PeriodError) -> Self {
        Self::invalid_field("to", e.to_string())
    }
}

impl From<UsageDaysError> for ApiError {
    fn from(e: UsageDaysError) -> Self {
        Self::invalid_field("days", e.to_string())
    }
}

impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::Forbidden => Self::forbidden("Only admins may do this."),
            AdminError::UserNotFound => Self::not_found("No such user."),
            AdminError::InvalidReason(_) => Self::invalid_field("reason", e.to_string()),
            AdminError::InvalidAmount(_) | AdminError::Overflow => {
                Self::invalid_field("amount", e.to_string())
            }
            AdminError::InvalidSearch => Self::invalid_field("search", e.to_string()),
            AdminError::BelowZero { balance } => Self::below_zero(i64::from(balance)),
            AdminError::IdempotencyMismatch | AdminError::IdempotencyKeyTooLong => {
                Self::invalid_field(IDEMPOTENCY_KEY, e.to_string())
            }
            AdminError::RoleFromSignIn | AdminError::OwnAccount => Self::conflict(e.to_string()),
            AdminError::Unavailable(_) => Self::unavailable(&e),
            AdminError::Unexpected(_) => Self::internal(&e),
        }
    }
}

impl From<ReportPeriodError> for ApiError {
    fn from(e: ReportPeriodError) -> Self {
        Self::invalid_field(e.field(), e.to_string())
    }
}

impl From<ReportError> for ApiError {
    fn from(e: ReportError) -> Self {
        match e {
            ReportError::Forbidden => Self::forbidden("Only admins may do this."),
            ReportError::InvalidPeriod(period) => period.into(),
            ReportError::Unavailable(_) => Self::unavailable(&e),
            ReportError::Unexpected(_) => Self::internal(&e),
        }
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Forbidden => Self::forbidden("Only admins may do this."),
            DomainError::NotFound => Self::not_found("No such domain."),
            DomainError::Invalid(invalid) => {
                Self::invalid_field(invalid.field(), invalid.to_string())
            }
            DomainError::Conflict(what) => Self::conflict(what),
            DomainError::Unavailable(_) => Self::unavailable(&e),
            DomainError::Unexpected(_) => Self::internal(&e),
        }
    }
}

impl From<ChatError> for ApiError {
    fn from(e: ChatError) -> Self {
        match e {
            ChatError::DomainRequired => Self::invalid_field("domain_id", e.to_string()),
            ChatError::DomainNotFound => Self::not_found("No such domain, or it is not active."),
            ChatError::ConversationNotFound => Self::not_found("No such conversation."),
            ChatError::RateLimited(decision) => Self::rate_limited_by(decision),
            ChatError::InsufficientTokens { balance } => {
                Self::insufficient_tokens(i64::from(balance.get()), PURCHASE_URL)
            }
            ChatError::UpstreamFailed(_) => Self::upstream_failed(&e),
            ChatError::UpstreamTimeout => Self::upstream_timeout(&e),
            ChatError::IdempotencyMismatch => Self::invalid_field(
                "Idempotency-Key",
                "This Idempotency-Key was used with a different request.",
            ),
            ChatError::IdempotencyInProgress => Self::conflict(
                "A request with this Idempotency-Key is still being processed. Retry later.",
            ),
            ChatError::Unavailable(_) => Self::unavailable(&e),
            ChatError::Unexpected(_) => Self::internal(&e),
        }
    }
}

/// A storage port called directly by a handler (conversations).
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => Self::conflict(what),
            StoreError::Unavailable(_) => Self::unavailable(&e),
            StoreError::Unexpected(_) => Self::internal(&e),
        }
    }
}

impl From<BillingError> for ApiError {
    fn from(e: BillingError) -> Self {
        match e {
            // Configuration, not an outage: said plainly and not logged as an error.
            BillingError::NotConfigured => {
                Self::new(ProblemCode::Unavailable, "payments are not configured")
            }
            BillingError::UnknownPackage(unknown) => {
                Self::invalid_field("package", unknown.to_string())
            }
            BillingError::IdempotencyKeyTooLong(_) => Self::invalid_field(
                IDEMPOTENCY_KEY,
                format!(
                    "Idempotency-Key must be 1 to {} visible ASCII characters.",
                    ProviderIdempotencyKey::MAX_CLIENT_KEY_LEN
                ),
            ),
            BillingError::PurchaseNotFound => Self::not_found("No such purchase."),
            // Stripe's own message is logged, never shown.
            BillingError::Rejected(_) => Self::server(ProblemCode::UpstreamFailed, &e).with_detail(
                "The payment provider could not start the payment. Please try again later.",
            ),
            BillingError::Unavailable(_) => Self::unavailable(&e),
            BillingError::Unexpected(_) => Self::internal(&e),
        }
    }
}

impl From<PageError> for ApiError {
    fn from(e: PageError) -> Self {
        let field = match e {
            PageError::InvalidLimit => "limit",
            PageError::InvalidCursor => "cursor",
        };
        Self::invalid_field(field, e.to_string())
    }
}

impl From<EmailError> for ApiError {
    fn from(e: EmailError) -> Self {
        Self::invalid_field("email", e.to_string())
    }
}

impl From<ConversationError> for ApiError {
    fn from(e: ConversationError) -> Self {
        match e {
            ConversationError::NotFound => Self::not_found("No such conversation."),
            ConversationError::Unavailable(_) => Self::unavailable(&e),
            ConversationError::Unexpected(_) => Self::internal(&e),
        }
    }
}

impl From<SessionError> for ApiError {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::Refused | SessionError::ReuseDetected => {
                tracing::info!(reason = %e, "refused a refresh");
                Self::invalid_token()
            }
            SessionError::Expired => {
                tracing::info!(reason = %e, "refused a refresh");
                Self::session_expired()
            }
            SessionError::Unavailable(_) => Self::unavailable(&e),
            SessionError::Unexpected(_) => Self::internal(&e),
        }
    }
}

impl From<IdentityError> for ApiError {
    fn from(e: IdentityError) -> Self {
        match e {
            IdentityError::Invalid(reason) => {
                tracing::info!(%reason, "sign-in refused");
                Self::sign_in_failed()
            }
            IdentityError::Unavailable(_) => Self::unavailable(&e),
        }
    }
}

impl From<DeviceError> for ApiError {
    fn from(e: DeviceError) -> Self {
        let (code, detail) = match e {
            DeviceError::Pending => (
                ProblemCode::AuthorizationPending,
                "The sign-in has not been completed yet: poll again after the interval.",
            ),
            DeviceError::SlowDown => (
                ProblemCode::SlowDown,
                "Polled too fast: wait 5 seconds longer between polls from now on.",
            ),
            DeviceError::Expired => (
                ProblemCode::ExpiredToken,
                "The code expired before the sign-in was completed: start again.",
            ),
            DeviceError::Denied => (ProblemCode::AccessDenied, "The sign-in was declined."),
            DeviceError::UnknownCode => (
                ProblemCode::InvalidGrant,
                "No such device code: it was never issued, has expired or was already used.",
            ),
            DeviceError::Identity(e) => return e.into(),
            DeviceError::Account(e) => return e.into(),
            DeviceError::Store(e) => return e.into(),
        };
        Self::device_poll(code, detail)
    }
}

impl From<RedirectUriRefused> for ApiError {
    fn from(e: RedirectUriRefused) -> Self {
        Self::invalid_field("redirect_uri", e.to_string())
    }
}

impl From<NotALocalPath> for ApiError {
    fn from(e: NotALocalPath) -> Self {
        Self::invalid_field("return_to", e.to_string())
    }
}

impl From<BadBody> for ApiError {
    fn from(e: BadBody) -> Self {
        Self::invalid(e.to_string())
    }
}

/// A bearer token was refused: the client learns only "invalid token", the
/// reason is logged.
impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Unavailable(source) => Self::unavailable(source.as_ref()),
            TokenError::AccountDisabled => Self::account_disabled(),
            TokenError::KeyRefused(_) => {
                tracing::info!(reason = %e, "refused an API key");
                Self::invalid_api_key()
            }
            TokenError::Jwt(_)
            | TokenError::WrongRole
            | TokenError::InvalidClaim(_)
            | TokenError::Revoked
            | TokenError::Refused(_) => {
                tracing::info!(reason = %e, "refused a bearer token");
                Self::invalid_token()
            }
        }
    }
}

/// A webhook delivery was refused: 400 naming what was wrong; the details are
/// logged, not echoed.
impl From<WebhookError> for ApiError {
    fn from(e: WebhookError) -> Self {
        tracing::warn!(error = %e, "refused a webhook delivery");
        let detail = match e {
            WebhookError::MissingSignature => {
                "The Stripe-Signature header is missing or malformed."
            }
            WebhookError::BadSignature => "The Stripe-Signature does not match the payload.",
            WebhookError::Stale => "The Stripe-Signature timestamp is outside the tolerance.",
            WebhookError::MalformedPayload(_) => "The payload is not a Stripe event.",
        };
        Self::invalid_with_status(StatusCode::BAD_REQUEST, detail)
    }
}
