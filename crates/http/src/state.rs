//! What handlers share: the use cases, built once by the server, and how this
//! HTTP layer is set up.

use std::sync::Arc;
use std::time::Duration;

use actix_web::cookie::Cookie;
use askgate_domain::ports::{HealthCheck, RefreshToken, WebhookVerifier};
use askgate_domain::services::{
    AccountService, AdminService, ApiKeyService, AppCreditService, AppService, BillingService,
    ChatService, ConversationService, DeviceSignInService, DomainService, ReportService,
    SessionService,
};

use crate::auth::{
    DevDeviceCodes, MicrosoftSignIn, TokenVerifier, cleared_refresh_cookie, refresh_cookie,
};

/// The balance at or below which the web UI shows its low-balance notice
/// when nothing else is configured.
pub const DEFAULT_LOW_BALANCE_TOKENS: u32 = 5;

/// How long a request body may take to arrive when nothing else is configured.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Every use case the handlers call. Only Microsoft sign-in and webhook
/// verification depend on configuration; everything else is always there.
#[derive(Clone)]
pub struct Services {
    pub accounts: Arc<AccountService>,
    pub sessions: Arc<SessionService>,
    pub conversations: Arc<ConversationService>,
    pub chat: Arc<ChatService>,
    pub domains: Arc<DomainService>,
    pub admin: Arc<AdminService>,
    /// Personal API keys: made, listed and revoked by their owner.
    pub api_keys: Arc<ApiKeyService>,
    /// Registered apps: managed by admins, authenticated on every app call.
    pub apps: Arc<AppService>,
    /// The credits API: apps spend and refund their users' tokens.
    pub app_credits: Arc<AppCreditService>,
    /// The admin overview.
    pub reports: Arc<ReportService>,
    pub billing: Arc<BillingService>,
    pub health: Arc<dyn HealthCheck>,
    /// Whom a bearer token speaks for.
    pub bearer: Arc<dyn TokenVerifier>,
    /// Microsoft sign-in (`/api/auth/login`, `/authorize`, `/callback`; 404
    /// without it), offered by the web UI when present.
    pub microsoft: Option<MicrosoftSignIn>,
    /// Device-code sign-in (`/api/auth/device`, `/device/token`; 404 without it).
    pub device: Option<Arc<DeviceSignInService>>,
    /// The codes askgate issues itself when dev login stands in for the
    /// identity provider: approved on the web UI's `/device` page.
    pub dev_device: Option<Arc<DevDeviceCodes>>,
    /// Verifies `POST /api/webhook/stripe`; without it the webhook answers 503.
    pub webhooks: Option<Arc<dyn WebhookVerifier>>,
}

/// How the HTTP layer behaves, from the server's settings.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Mounts `POST /api/auth/dev-login` (never in production: `Settings` refuses it).
    pub dev_login: bool,
    /// A development server: with payments off, out-of-tokens answers say how
    /// to grant tokens locally instead of only pointing at the purchase page.
    pub development: bool,
    /// The public URL is https: responses carry `Strict-Transport-Security`.
    pub https: bool,
    /// `Secure` on cookies: off only for plain-http local development.
    pub secure_cookies: bool,
    /// Browser origins other than askgate's own allowed to call the API with
    /// credentials (`ALLOWED_ORIGINS`).
    pub cors_origins: Vec<String>,
    /// How long a request body may take to arrive before the answer is 408.
    pub body_read_timeout: Duration,
    /// `STRIPE_PUBLISHABLE_KEY`, served to the web UI in `GET /api/ui-config`.
    pub stripe_publishable_key: Option<String>,
    /// The web UI shows a notice, with the way to buy tokens, at this
    /// balance or below (`LOW_BALANCE_TOKENS`).
    pub low_balance_tokens: u32,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            dev_login: false,
            development: false,
            https: false,
            secure_cookies: true,
            cors_origins: Vec::new(),
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            stripe_publishable_key: None,
            low_balance_tokens: DEFAULT_LOW_BALANCE_TOKENS,
        }
    }
}

/// Application state, registered once as `web::Data<AppState>`.
#[derive(Clone)]
pub struct AppState {
    pub(crate) services: Services,
    pub(crate) options: HttpOptions,
}

impl AppState {
    #[must_use]
    pub const fn new(services: Services, options: HttpOptions) -> Self {
        Self { services, options }
    }

    /// True when tokens can only be had by granting them from the command
    /// line: a development server with payments off.
    #[must_use]
    pub fn grant_tokens_locally(&self) -> bool {
        self.options.development && !self.services.billing.payments_enabled()
    }

    /// The refresh cookie carrying `token`.
    #[must_use]
    pub(crate) fn refresh_cookie(&self, token: &RefreshToken) -> Cookie<'static> {
        refresh_cookie(
            token,
            self.services.sessions.refresh_ttl(),
            self.options.secure_cookies,
        )
    }

    /// A cookie that deletes the refresh cookie.
    #[must_use]
    pub(crate) fn cleared_refresh_cookie(&self) -> Cookie<'static> {
        cleared_refresh_cookie(self.options.secure_cookies)
    }
}
