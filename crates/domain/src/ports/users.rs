use async_trait::async_trait;

use crate::user::{Memberships, SignIn, User};
use crate::{Email, StoreError, UserId};

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait UserRepository: Send + Sync {
    /// Creates the user on first sign-in, found by `external_id`; afterwards
    /// updates email, display name, role, memberships (replaced by the
    /// sign-in's) and `last_login` and never touches
    /// the balance. Creating the user credits `sign_in.trial` tokens (when not
    /// 0) as a `grant` row with reason `trial`, in the same database
    /// transaction, unless that identity or that e-mail address had a trial
    /// before: at most one trial per identity and per address, however many
    /// first sign-ins race. A row linked from an older schema is not a first
    /// sign-in. MUST return `StoreError::Conflict` when the e-mail already
    /// belongs to a different external identity.
    async fn upsert_sign_in(&self, sign_in: &SignIn) -> Result<User, StoreError>;

    /// `Ok(None)` when no such user exists.
    async fn find(&self, id: UserId) -> Result<Option<User>, StoreError>;

    /// The app roles and groups of the user's last sign-in (none for an
    /// unknown user).
    async fn memberships(&self, id: UserId) -> Result<Memberships, StoreError>;

    /// `Ok(None)` when no user has this address.
    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, StoreError>;
}
