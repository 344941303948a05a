//! What handlers share: the use cases and the ports they call, behind `Arc`s.

use std::sync::Arc;

use askgate_domain::ports::HealthCheck;
use askgate_domain::services::{AccountService, DomainService};

use crate::auth::{SessionKeys, TokenVerifier};

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
        }
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
    pub const fn dev_login_enabled(&self) -> bool {
        self.dev_login
    }
}
