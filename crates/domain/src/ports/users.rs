use async_trait::async_trait;

use crate::user::{SignIn, User};
use crate::{Email, StoreError, UserId};

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait UserRepository: Send + Sync {
    /// Creates the user (0 tokens) on first sign-in, found by `external_id`;
    /// afterwards updates email, display name, role and `last_login`. Never
    /// touches the balance. MUST return `StoreError::Conflict` when the e-mail
    /// already belongs to a different external identity.
    async fn upsert_sign_in(&self, sign_in: &SignIn) -> Result<User, StoreError>;

    /// `Ok(None)` when no such user exists.
    async fn find(&self, id: UserId) -> Result<Option<User>, StoreError>;

    /// `Ok(None)` when no user has this address.
    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, StoreError>;
}
