//! What handlers share: the use cases and the ports they call, behind `Arc`s.

use std::sync::Arc;

use askgate_domain::ports::HealthCheck;
use askgate_domain::services::{AccountService, DomainService};

use crate::auth::{MicrosoftSignIn, SessionKeys, Sessions, TokenVerifier};

/// Application state, registered once as `web::Data<AppState>`.
///
/// Built with [`AppState::new`] and the `with_*` methods, so adding a service
/// later (chat, billing, …) does not break existing call sites.
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
            chat: crate::routes::chat::ChatState::default(),
            sessions: None,
            microsoft: None,
        }
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
        self.microsoft = sign_in;
        self
    }

    /// Mounts `POST /api/auth/dev-login` (never in production: `Settings` refuses it).
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

    #[must_use]
    pub const fn dev_login_enabled(&self) -> bool {
        self.dev_login
    }
}
