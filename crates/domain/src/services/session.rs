//! Sign-in sessions: a short-lived access token plus a rotating refresh token.
//!
//! Only a refresh token's hash is stored. Every refresh spends the token and
//! hands out a successor; presenting a spent one again revokes the whole
//! session (the token was copied). Signing out revokes the session, and the
//! access tokens of a revoked session are refused: each instance remembers
//! "this session is active" for at most [`SessionPolicy::revocation_check_ttl`]
//! (5 s by default), so a revocation made elsewhere takes effect on every
//! instance within that bound, and at once on the instance that made it.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tracing::instrument;

use crate::cache::ExpiringCache;
use crate::ports::{
    Clock, IssuedToken, NewRefreshToken, RefreshToken, Rotation, SessionStore, TokenIssueError,
    TokenIssuer,
};
use crate::services::{AccountError, AccountService};
use crate::user::User;
use crate::{BoxError, SessionId, StoreError};

/// How many sessions an instance remembers as active or revoked.
const ACTIVE_CACHE_CAPACITY: usize = 100_000;

/// How sessions behave; the server fills it from its settings.
#[derive(Debug, Clone)]
pub struct SessionPolicy {
    /// Lifetime of each refresh token (`REFRESH_TTL_DAYS`); every refresh starts a new one.
    pub refresh_ttl: Duration,
    /// Absolute lifetime of a session (`SESSION_MAX_AGE_DAYS`), however often
    /// it is refreshed: after it, only a new sign-in gives a new session.
    pub max_age: Duration,
    /// How long an instance may trust an earlier "session is active" answer:
    /// the longest a revoked session's access token keeps working elsewhere.
    pub revocation_check_ttl: Duration,
}

impl SessionPolicy {
    /// The default bound on how long a revocation takes to reach every instance.
    pub const DEFAULT_REVOCATION_CHECK_TTL: Duration = Duration::from_secs(5);
    /// The default absolute session lifetime: 30 days.
    pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(30 * 86_400);
}

/// What starting or refreshing a session hands out.
#[derive(Debug, Clone)]
pub struct SessionGrant {
    pub session: SessionId,
    pub access: IssuedToken,
    pub refresh: RefreshToken,
}

/// A refreshed session: its user as they are now, and its next tokens.
#[derive(Debug, Clone)]
pub struct Refreshed {
    pub user: User,
    pub grant: SessionGrant,
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// Unknown, expired, spent, of a revoked session, or of a user who is gone.
    #[error("refresh token refused")]
    Refused,
    /// A spent refresh token came back: its session is now revoked.
    #[error("refresh token reused: session revoked")]
    ReuseDetected,
    /// The session reached its absolute lifetime: a new sign-in is required.
    #[error("session lifetime reached: session revoked")]
    Expired,
    #[error("service unavailable")]
    Unavailable(#[source] BoxError),
    #[error("unexpected error")]
    Unexpected(#[source] BoxError),
}

impl From<StoreError> for SessionError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => Self::Unavailable(Box::new(e)),
            StoreError::Conflict(_) | StoreError::Unexpected(_) => Self::Unexpected(Box::new(e)),
        }
    }
}

impl From<TokenIssueError> for SessionError {
    fn from(e: TokenIssueError) -> Self {
        Self::Unexpected(Box::new(e))
    }
}

/// Starts, refreshes and ends sessions, and answers "is this session still active?".
pub struct SessionService {
    store: Arc<dyn SessionStore>,
    tokens: Arc<dyn TokenIssuer>,
    accounts: Arc<AccountService>,
    clock: Arc<dyn Clock>,
    policy: SessionPolicy,
    active: ExpiringCache<SessionId, bool>,
}

impl SessionService {
    #[must_use]
    pub fn new(
        store: Arc<dyn SessionStore>,
        tokens: Arc<dyn TokenIssuer>,
        accounts: Arc<AccountService>,
        clock: Arc<dyn Clock>,
        policy: SessionPolicy,
    ) -> Self {
        Self {
            active: ExpiringCache::new(ACTIVE_CACHE_CAPACITY, policy.revocation_check_ttl),
            store,
            tokens,
            accounts,
            clock,
            policy,
        }
    }

    /// Lifetime of each refresh token, for the cookie that carries it.
    #[must_use]
    pub const fn refresh_ttl(&self) -> Duration {
        self.policy.refresh_ttl
    }

    fn refresh_expiry(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let ttl = chrono::Duration::from_std(self.policy.refresh_ttl)
            .unwrap_or_else(|_| chrono::Duration::days(14));
        now + ttl
    }

    /// Sessions that began at or before this instant are past their lifetime.
    fn oldest_start(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let max_age = chrono::Duration::from_std(self.policy.max_age)
            .unwrap_or_else(|_| chrono::Duration::days(30));
        now - max_age
    }

    /// A new session for `user`: its first refresh token and an access token.
    #[instrument(skip_all, fields(user_id = %user.id))]
    pub async fn start(&self, user: &User) -> Result<SessionGrant, SessionError> {
        let session = SessionId::generate();
        let refresh = self.tokens.refresh_token();
        self.store
            .start(&NewRefreshToken {
                session,
                user: user.id,
                token_hash: refresh.hash().to_owned(),
                expires_at: self.refresh_expiry(self.clock.now()),
            })
            .await?;
        let access = self.tokens.access_token(user, session)?;
        tracing::info!(%session, "session started");
        Ok(SessionGrant {
            session,
            access,
            refresh,
        })
    }

    /// Spends `presented` and hands out its successor with a new access token
    /// for the user as they are now. A spent token revokes its session; so
    /// does one whose session is past its lifetime or whose user is gone.
    #[instrument(skip_all)]
    pub async fn refresh(&self, presented: &str) -> Result<Refreshed, SessionError> {
        let next = self.tokens.refresh_token();
        let now = self.clock.now();
        let rotation = self
            .store
            .rotate(
                &self.tokens.refresh_token_hash(presented),
                next.hash(),
                self.refresh_expiry(now),
                now,
                self.oldest_start(now),
            )
            .await?;
        let (session, user) = match rotation {
            Rotation::Rotated { session, user } => (session, user),
            Rotation::ReuseDetected { session } => {
                self.remember_revoked(session);
                tracing::warn!(%session, "refresh token reuse: session revoked");
                return Err(SessionError::ReuseDetected);
            }
            Rotation::SessionExpired { session } => {
                self.remember_revoked(session);
                tracing::info!(%session, "session lifetime reached: session revoked");
                return Err(SessionError::Expired);
            }
            Rotation::Invalid => return Err(SessionError::Refused),
        };
        let user = match self.accounts.for_refresh(user).await {
            Ok(user) => user,
            Err(AccountError::UserNotFound | AccountError::Disabled) => {
                self.end(session).await?;
                return Err(SessionError::Refused);
            }
            Err(AccountError::Unavailable(source)) => {
                return Err(SessionError::Unavailable(source));
            }
            Err(other) => return Err(SessionError::Unexpected(Box::new(other))),
        };
        let access = self.tokens.access_token(&user, session)?;
        Ok(Refreshed {
            user,
            grant: SessionGrant {
                session,
                access,
                refresh: next,
            },
        })
    }

    /// Revokes the session: its refresh token and access tokens stop working.
    #[instrument(skip_all, fields(%session))]
    pub async fn end(&self, session: SessionId) -> Result<(), SessionError> {
        self.store.revoke(session).await?;
        self.remember_revoked(session);
        tracing::info!("session ended");
        Ok(())
    }

    /// False once the session is revoked (see the module docs for the bound).
    pub async fn is_active(&self, session: SessionId) -> Result<bool, StoreError> {
        if let Some(active) = self.active.get(&session, self.clock.now()) {
            return Ok(active);
        }
        let active = self.store.is_active(session).await?;
        self.active.insert(session, active, self.clock.now());
        Ok(active)
    }

    /// Why a session found inactive was ended: true when its user's account
    /// is disabled (asked only on that path, so active sessions cost nothing more).
    pub async fn account_disabled(&self, user: crate::UserId) -> Result<bool, StoreError> {
        self.accounts.is_disabled(user).await
    }

    fn remember_revoked(&self, session: SessionId) {
        self.active.insert(session, false, self.clock.now());
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;

    use super::*;
    use crate::ports::{MockLedger, MockUserRepository};
    use crate::services::account::AdminPolicy;
    use crate::user::{ExternalId, Role};
    use crate::{Email, Tokens, UserId};

    /// A clock the test moves.
    struct TestClock(Mutex<DateTime<Utc>>);

    impl TestClock {
        fn advance(&self, by: Duration) {
            let mut now = self.0.lock().unwrap();
            *now += chrono::Duration::from_std(by).unwrap();
        }
    }

    impl Clock for TestClock {
        fn now(&self) -> DateTime<Utc> {
            *self.0.lock().unwrap()
        }
    }

    /// Tokens that say which they are: `refresh-N`, hashed as `hash:refresh-N`.
    #[derive(Default)]
    struct CountingTokens(AtomicUsize);

    impl TokenIssuer for CountingTokens {
        fn access_token(
            &self,
            user: &User,
            session: SessionId,
        ) -> Result<IssuedToken, TokenIssueError> {
            Ok(IssuedToken {
                token: format!("access:{}:{session}", user.id),
                expires_in: 900,
            })
        }

        fn refresh_token(&self) -> RefreshToken {
            let n = self.0.fetch_add(1, Ordering::SeqCst);
            let secret = format!("refresh-{n}");
            let hash = self.refresh_token_hash(&secret);
            RefreshToken::new(secret, hash)
        }

        fn refresh_token_hash(&self, presented: &str) -> String {
            format!("hash:{presented}")
        }
    }

    struct StoredToken {
        session: SessionId,
        user: UserId,
        hash: String,
        expires_at: DateTime<Utc>,
        spent: bool,
    }

    struct StoredSession {
        id: SessionId,
        started_at: DateTime<Utc>,
        revoked: bool,
    }

    /// The session store's contract, in memory; counts `is_active` questions.
    struct MemoryStore {
        clock: Arc<TestClock>,
        tokens: Mutex<Vec<StoredToken>>,
        sessions: Mutex<Vec<StoredSession>>,
        active_checks: AtomicUsize,
    }

    impl MemoryStore {
        fn revoke_now(&self, session: SessionId) {
            for s in self.sessions.lock().unwrap().iter_mut() {
                if s.id == session {
                    s.revoked = true;
                }
            }
        }

        fn is_revoked(&self, session: SessionId) -> bool {
            self.sessions
                .lock()
                .unwrap()
                .iter()
                .any(|s| s.id == session && s.revoked)
        }

        fn checks(&self) -> usize {
            self.active_checks.load(Ordering::SeqCst)
        }
    }

    #[async_trait]
    impl SessionStore for MemoryStore {
        async fn start(&self, first: &NewRefreshToken) -> Result<(), StoreError> {
            self.sessions.lock().unwrap().push(StoredSession {
                id: first.session,
                started_at: self.clock.now(),
                revoked: false,
            });
            self.tokens.lock().unwrap().push(StoredToken {
                session: first.session,
                user: first.user,
                hash: first.token_hash.clone(),
                expires_at: first.expires_at,
                spent: false,
            });
            Ok(())
        }

        async fn rotate(
            &self,
            presented_hash: &str,
            next_hash: &str,
            next_expires_at: DateTime<Utc>,
            now: DateTime<Utc>,
            started_after: DateTime<Utc>,
        ) -> Result<Rotation, StoreError> {
            let mut tokens = self.tokens.lock().unwrap();
            let Some(token) = tokens.iter_mut().find(|t| t.hash == presented_hash) else {
                return Ok(Rotation::Invalid);
            };
            let (session, user) = (token.session, token.user);
            let started_at = {
                let sessions = self.sessions.lock().unwrap();
                let s = sessions.iter().find(|s| s.id == session).unwrap();
                if s.revoked {
                    return Ok(Rotation::Invalid);
                }
                s.started_at
            };
            if token.spent {
                self.revoke_now(session);
                return Ok(Rotation::ReuseDetected { session });
            }
            if started_at <= started_after {
                self.revoke_now(session);
                return Ok(Rotation::SessionExpired { session });
            }
            if token.expires_at <= now {
                return Ok(Rotation::Invalid);
            }
            token.spent = true;
            tokens.push(StoredToken {
                session,
                user,
                hash: next_hash.to_owned(),
                expires_at: next_expires_at,
                spent: false,
            });
            Ok(Rotation::Rotated { session, user })
        }

        async fn revoke(&self, session: SessionId) -> Result<(), StoreError> {
            self.revoke_now(session);
            Ok(())
        }

        async fn is_active(&self, session: SessionId) -> Result<bool, StoreError> {
            self.active_checks.fetch_add(1, Ordering::SeqCst);
            Ok(self
                .sessions
                .lock()
                .unwrap()
                .iter()
                .any(|s| s.id == session && !s.revoked))
        }
    }

    const POLICY: SessionPolicy = SessionPolicy {
        refresh_ttl: Duration::from_secs(14 * 86_400),
        max_age: SessionPolicy::DEFAULT_MAX_AGE,
        revocation_check_ttl: SessionPolicy::DEFAULT_REVOCATION_CHECK_TTL,
    };

    fn ann() -> User {
        let email = Email::parse("ann@example.com").unwrap();
        User {
            id: UserId::generate(),
            external_id: ExternalId::for_dev_login(&email),
            email,
            display_name: None,
            tokens: Tokens::ZERO,
            role: Role::User,
            created_at: Utc::now(),
            last_login: None,
            disabled_at: None,
            role_from_sign_in: true,
        }
    }

    struct Fixture {
        clock: Arc<TestClock>,
        store: Arc<MemoryStore>,
        sessions: SessionService,
    }

    /// Sessions over the in-memory store, for a user that exists (or not).
    fn fixture(user: Option<User>) -> Fixture {
        let clock = Arc::new(TestClock(Mutex::new(
            DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
        )));
        let store = Arc::new(MemoryStore {
            clock: Arc::clone(&clock),
            tokens: Mutex::default(),
            sessions: Mutex::default(),
            active_checks: AtomicUsize::new(0),
        });
        let mut users = MockUserRepository::new();
        users.expect_find().returning(move |_| Ok(user.clone()));
        let accounts = AccountService::new(
            Arc::new(users),
            Arc::new(MockLedger::new()),
            clock.clone(),
            AdminPolicy::default(),
        );
        let sessions = SessionService::new(
            store.clone(),
            Arc::new(CountingTokens::default()),
            Arc::new(accounts),
            clock.clone(),
            POLICY,
        );
        Fixture {
            clock,
            store,
            sessions,
        }
    }

    #[tokio::test]
    async fn a_refresh_spends_the_token_and_hands_out_its_successor() {
        let user = ann();
        let f = fixture(Some(user.clone()));
        let first = f.sessions.start(&user).await.unwrap();
        let next = f.sessions.refresh(first.refresh.expose()).await.unwrap();
        assert_eq!(next.grant.session, first.session);
        assert_eq!(next.user.id, user.id);
        assert_ne!(next.grant.refresh.expose(), first.refresh.expose());
        assert_eq!(
            next.grant.access.token,
            format!("access:{}:{}", user.id, first.session)
        );
        assert!(
            f.sessions
                .refresh(next.grant.refresh.expose())
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn reusing_a_spent_refresh_token_revokes_the_whole_session() {
        let user = ann();
        let f = fixture(Some(user.clone()));
        let first = f.sessions.start(&user).await.unwrap();
        let legit = f.sessions.refresh(first.refresh.expose()).await.unwrap();

        let reuse = f.sessions.refresh(first.refresh.expose()).await;
        assert!(
            matches!(reuse, Err(SessionError::ReuseDetected)),
            "{reuse:?}"
        );
        assert!(f.store.is_revoked(first.session));
        let newest = f.sessions.refresh(legit.grant.refresh.expose()).await;
        assert!(matches!(newest, Err(SessionError::Refused)), "{newest:?}");
        // This instance refuses the session's access tokens at once, without
        // asking the store.
        assert!(!f.sessions.is_active(first.session).await.unwrap());
        assert_eq!(f.store.checks(), 0);
    }

    #[tokio::test]
    async fn a_session_past_its_lifetime_is_revoked_at_its_next_refresh() {
        let user = ann();
        let f = fixture(Some(user.clone()));
        let first = f.sessions.start(&user).await.unwrap();
        f.clock.advance(Duration::from_secs(13 * 86_400));
        let day_13 = f.sessions.refresh(first.refresh.expose()).await.unwrap();
        f.clock.advance(Duration::from_secs(13 * 86_400));
        let day_26 = f
            .sessions
            .refresh(day_13.grant.refresh.expose())
            .await
            .unwrap();
        f.clock.advance(Duration::from_secs(5 * 86_400));
        let day_31 = f.sessions.refresh(day_26.grant.refresh.expose()).await;
        assert!(matches!(day_31, Err(SessionError::Expired)), "{day_31:?}");
        assert!(f.store.is_revoked(first.session));
        assert!(!f.sessions.is_active(first.session).await.unwrap());
    }

    #[tokio::test]
    async fn an_unknown_or_expired_refresh_token_is_refused() {
        let user = ann();
        let f = fixture(Some(user.clone()));
        assert!(matches!(
            f.sessions.refresh("never-issued").await,
            Err(SessionError::Refused)
        ));
        let first = f.sessions.start(&user).await.unwrap();
        f.clock.advance(POLICY.refresh_ttl);
        assert!(matches!(
            f.sessions.refresh(first.refresh.expose()).await,
            Err(SessionError::Refused)
        ));
        assert!(!f.store.is_revoked(first.session));
    }

    #[tokio::test]
    async fn a_refresh_for_a_user_who_is_gone_ends_the_session() {
        let f = fixture(None);
        let first = f.sessions.start(&ann()).await.unwrap();
        let refreshed = f.sessions.refresh(first.refresh.expose()).await;
        assert!(
            matches!(refreshed, Err(SessionError::Refused)),
            "{refreshed:?}"
        );
        assert!(f.store.is_revoked(first.session));
    }

    #[tokio::test]
    async fn an_active_answer_is_trusted_for_the_revocation_check_ttl_only() {
        let user = ann();
        let f = fixture(Some(user.clone()));
        let grant = f.sessions.start(&user).await.unwrap();
        assert!(f.sessions.is_active(grant.session).await.unwrap());
        assert_eq!(f.store.checks(), 1);

        // Another instance signs the session out.
        f.store.revoke_now(grant.session);
        f.clock.advance(Duration::from_secs(4));
        assert!(f.sessions.is_active(grant.session).await.unwrap());
        assert_eq!(f.store.checks(), 1, "answered from memory within the bound");

        f.clock.advance(Duration::from_secs(1));
        assert!(!f.sessions.is_active(grant.session).await.unwrap());
        assert_eq!(f.store.checks(), 2);
    }

    #[tokio::test]
    async fn ending_a_session_refuses_it_on_this_instance_at_once() {
        let user = ann();
        let f = fixture(Some(user.clone()));
        let grant = f.sessions.start(&user).await.unwrap();
        assert!(f.sessions.is_active(grant.session).await.unwrap());
        f.sessions.end(grant.session).await.unwrap();
        assert!(!f.sessions.is_active(grant.session).await.unwrap());
        assert_eq!(f.store.checks(), 1);
        assert!(matches!(
            f.sessions.refresh(grant.refresh.expose()).await,
            Err(SessionError::Refused)
        ));
    }
}
