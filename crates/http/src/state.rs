//! What handlers share: the use cases and the ports they call, behind `Arc`s.

use std::sync::Arc;
use std::time::Duration;

use askgate_domain::ports::{Clock, HealthCheck, SystemClock, WebhookVerifier};
use askgate_domain::services::{AccountService, BillingError, BillingService, DomainService};

use crate::auth::{MicrosoftSignIn, SessionKeys, Sessions, TokenVerifier};

/// Application state, registered once as `web::Data<AppState>`.
///
/// Built with [`AppState::new`] and the `with_*` methods, so adding a service
/// later (chat, billing, …) does not break existing call sites.
/// How long a request body may take to arrive when nothing else is configured.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct AppState {
    pub(crate) accounts: Arc<AccountService>,
    pub(crate) domains: Arc<DomainService>,
    pub(crate) health: Arc<dyn HealthCheck>,
    pub(crate) session_keys: SessionKeys,
    pub(crate) verifier: Arc<dyn TokenVerifier>,
    pub(crate) dev_login: bool,
    pub(crate) chat: crate::routes::chat::ChatState,
    pub(crate) sessions: Option<Arc<Sessions>>,
    pub(crate) microsoft: Option<MicrosoftSignIn>,
    pub(crate) payments: Payments,
    pub(crate) microsoft_login: bool,
    /// A development server: with payments off, out-of-tokens answers say how
    /// to grant tokens locally instead of only pointing at the purchase page.
    pub(crate) development: bool,
    /// The public URL is https: responses carry `Strict-Transport-Security`.
    pub(crate) https: bool,
    /// Browser origins other than askgate's own allowed to call the API (CORS).
    pub(crate) cors_origins: Vec<String>,
    /// How long a request body may take to arrive before the answer is 408.
    pub(crate) body_read_timeout: Duration,
}

/// Buying tokens: the use case, the webhook's verifier and the public key
/// the browser may see. All absent until the server configures payments.
#[derive(Clone)]
pub(crate) struct Payments {
    billing: Option<Arc<BillingService>>,
    webhooks: Option<Arc<dyn WebhookVerifier>>,
    clock: Arc<dyn Clock>,
    publishable_key: Option<String>,
}

impl AppState {
    /// Dev login is off; bearer tokens are checked as session tokens signed by
    /// `session_keys`.
    #[must_use]
    pub fn new(
        accounts: Arc<AccountService>,
        domains: Arc<DomainService>,
        health: Arc<dyn HealthCheck>,
        session_keys: SessionKeys,
    ) -> Self {
        Self {
            accounts,
            domains,
            health,
            verifier: Arc::new(session_keys.clone()),
            session_keys,
            dev_login: false,
            development: false,
            chat: crate::routes::chat::ChatState::default(),
            sessions: None,
            microsoft: None,
            payments: Payments {
                billing: None,
                webhooks: None,
                clock: Arc::new(SystemClock),
                publishable_key: None,
            },
            microsoft_login: false,
            https: false,
            cors_origins: Vec::new(),
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
        }
    }

    /// Tells the web UI (`GET /api/ui-config`) to offer "Sign in with Microsoft".
    #[must_use]
    pub fn with_microsoft_login(mut self, enabled: bool) -> Self {
        self.microsoft_login = enabled;
        self
    }

    /// The billing use case (`BillingService`). Without it the purchase
    /// endpoints answer 503 "payments are not configured".
    #[must_use]
    pub fn with_billing(mut self, billing: Arc<BillingService>) -> Self {
        self.payments.billing = Some(billing);
        self
    }

    /// Verifies `POST /api/webhook/stripe`. Without it the webhook answers 503.
    #[must_use]
    pub fn with_webhook_verifier(mut self, verifier: Arc<dyn WebhookVerifier>) -> Self {
        self.payments.webhooks = Some(verifier);
        self
    }

    /// `STRIPE_PUBLISHABLE_KEY`, served to the web UI in `GET /api/ui-config`.
    #[must_use]
    pub fn with_stripe_publishable_key(mut self, key: Option<String>) -> Self {
        self.payments.publishable_key = key;
        self
    }

    /// Sessions with rotating refresh tokens: sign-ins start one (refresh
    /// cookie), `POST /api/auth/refresh` rotates it, `POST /api/auth/logout`
    /// revokes it. Without them, sign-ins hand out an access token only.
    /// Pair with a verifier that checks revocation (`BearerTokens::with_revocation`).
    #[must_use]
    pub fn with_sessions(mut self, sessions: Arc<Sessions>) -> Self {
        self.sessions = Some(sessions);
        self
    }

    /// Microsoft sign-in (`/api/auth/login`, `/authorize`, `/callback`; 404
    /// without it), and whether the web UI offers it.
    #[must_use]
    pub fn with_microsoft_sign_in(mut self, sign_in: Option<MicrosoftSignIn>) -> Self {
        self.microsoft_login = sign_in.is_some();
        self.microsoft = sign_in;
        self
    }

    /// Marks a development server (`APP_ENV=development`).
    #[must_use]
    pub fn with_development(mut self, development: bool) -> Self {
        self.development = development;
        self
    }

    /// True when tokens can only be had by granting them from the command
    /// line: a development server with payments off.
    #[must_use]
    pub fn grant_tokens_locally(&self) -> bool {
        self.development && !self.payments_enabled()
    }

    /// Mounts `POST /api/auth/dev-login` (never in production: `Settings` refuses it).
    /// Served over https (`PUBLIC_BASE_URL`): adds `Strict-Transport-Security`.
    #[must_use]
    pub fn with_https(mut self, https: bool) -> Self {
        self.https = https;
        self
    }

    /// `ALLOWED_ORIGINS`: origins (`https://app.example.com`) whose pages may
    /// call the API with credentials.
    #[must_use]
    pub fn with_cors_origins(mut self, origins: Vec<String>) -> Self {
        self.cors_origins = origins;
        self
    }

    /// How long a request body may take to arrive (`BODY_READ_TIMEOUT_SECONDS`).
    #[must_use]
    pub fn with_body_read_timeout(mut self, timeout: Duration) -> Self {
        self.body_read_timeout = timeout;
        self
    }

    #[must_use]
    pub fn with_dev_login(mut self, enabled: bool) -> Self {
        self.dev_login = enabled;
        self
    }

    /// Replaces how bearer tokens are checked (e.g. session tokens or Azure AD
    /// access tokens, with revocation).
    #[must_use]
    pub fn with_token_verifier(mut self, verifier: Arc<dyn TokenVerifier>) -> Self {
        self.verifier = verifier;
        self
    }

    #[must_use]
    pub fn accounts(&self) -> &AccountService {
        &self.accounts
    }

    #[must_use]
    pub fn domains(&self) -> &DomainService {
        &self.domains
    }

    #[must_use]
    pub fn session_keys(&self) -> &SessionKeys {
        &self.session_keys
    }

    #[must_use]
    pub fn verifier(&self) -> &dyn TokenVerifier {
        self.verifier.as_ref()
    }

    #[must_use]
    pub fn sessions(&self) -> Option<&Sessions> {
        self.sessions.as_deref()
    }

    #[must_use]
    pub fn microsoft_sign_in(&self) -> Option<&MicrosoftSignIn> {
        self.microsoft.as_ref()
    }

    /// The billing use case; `NotConfigured` (503) until the server sets it.
    pub fn billing(&self) -> Result<&BillingService, BillingError> {
        self.payments
            .billing
            .as_deref()
            .ok_or(BillingError::NotConfigured)
    }

    /// The webhook verifier; `NotConfigured` (503) without a webhook secret.
    pub fn webhook_verifier(&self) -> Result<&dyn WebhookVerifier, BillingError> {
        self.payments
            .webhooks
            .as_deref()
            .ok_or(BillingError::NotConfigured)
    }

    #[must_use]
    pub fn clock(&self) -> &dyn Clock {
        self.payments.clock.as_ref()
    }

    /// True when purchases can be made.
    #[must_use]
    pub fn payments_enabled(&self) -> bool {
        self.payments
            .billing
            .as_ref()
            .is_some_and(|b| b.payments_enabled())
    }

    #[must_use]
    pub fn stripe_publishable_key(&self) -> Option<&str> {
        self.payments.publishable_key.as_deref()
    }

    #[must_use]
    pub const fn microsoft_login_enabled(&self) -> bool {
        self.microsoft_login
    }

    #[must_use]
    pub const fn dev_login_enabled(&self) -> bool {
        self.dev_login
    }
}
