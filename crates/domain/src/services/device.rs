//! Device-code sign-in (RFC 8628): a client without a browser, such as the
//! command-line tool, starts it, shows the person a code to enter elsewhere,
//! and polls until they have signed in; then it gets a session like any
//! other sign-in.

use std::sync::Arc;

use tracing::instrument;

use crate::ports::{DeviceAuthorization, DevicePerson, DevicePoll, DeviceSignIn, IdentityError};
use crate::services::{AccountError, AccountService};
use crate::user::User;

/// Why a poll signed nobody in (yet). The first five are RFC 8628's and
/// RFC 6749's error codes, which the device acts on.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("the sign-in has not been completed yet")]
    Pending,
    #[error("polled too fast: wait 5 seconds longer between polls")]
    SlowDown,
    #[error("the code expired: start again")]
    Expired,
    #[error("the sign-in was declined")]
    Denied,
    /// Never issued, already redeemed, or not this provider's.
    #[error("unknown device code")]
    UnknownCode,
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error(transparent)]
    Account(#[from] AccountError),
}

impl DeviceError {
    /// The RFC 8628 / RFC 6749 `error` code the device reads.
    #[must_use]
    pub const fn oauth_code(&self) -> Option<&'static str> {
        match self {
            Self::Pending => Some("authorization_pending"),
            Self::SlowDown => Some("slow_down"),
            Self::Expired => Some("expired_token"),
            Self::Denied => Some("access_denied"),
            Self::UnknownCode => Some("invalid_grant"),
            Self::Identity(_) | Self::Account(_) => None,
        }
    }
}

pub struct DeviceSignInService {
    codes: Arc<dyn DeviceSignIn>,
    accounts: Arc<AccountService>,
}

impl DeviceSignInService {
    pub fn new(codes: Arc<dyn DeviceSignIn>, accounts: Arc<AccountService>) -> Self {
        Self { codes, accounts }
    }

    pub async fn start(&self) -> Result<DeviceAuthorization, DeviceError> {
        Ok(self.codes.start().await?)
    }

    /// One poll; the user once someone signed in, as [`AccountService::sign_in`]
    /// signs them in (created the first time, refused when disabled).
    #[instrument(skip_all)]
    pub async fn poll(&self, device_code: &str) -> Result<User, DeviceError> {
        match self.codes.poll(device_code).await? {
            DevicePoll::Pending => Err(DeviceError::Pending),
            DevicePoll::SlowDown => Err(DeviceError::SlowDown),
            DevicePoll::Expired => Err(DeviceError::Expired),
            DevicePoll::Denied => Err(DeviceError::Denied),
            DevicePoll::Unknown => Err(DeviceError::UnknownCode),
            DevicePoll::SignedIn(DevicePerson::Verified(identity)) => {
                Ok(self.accounts.sign_in(&identity).await?)
            }
            DevicePoll::SignedIn(DevicePerson::Approved(user)) => {
                Ok(self.accounts.for_refresh(user).await?)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::ports::{MockClock, MockDeviceSignIn, MockLedger, MockUserRepository};
    use crate::services::account::AdminPolicy;
    use crate::testing;
    use crate::user::Role;

    fn service(poll: DevicePoll, found: Option<User>) -> DeviceSignInService {
        let mut codes = MockDeviceSignIn::new();
        codes.expect_poll().returning(move |_| Ok(poll.clone()));
        let mut users = MockUserRepository::new();
        users.expect_find().returning(move |_| Ok(found.clone()));
        let mut clock = MockClock::new();
        clock.expect_now().returning(Utc::now);
        let accounts = AccountService::new(
            Arc::new(users),
            Arc::new(MockLedger::new()),
            Arc::new(clock),
            AdminPolicy::default(),
        );
        DeviceSignInService::new(Arc::new(codes), Arc::new(accounts))
    }

    #[tokio::test]
    async fn each_unfinished_poll_names_its_oauth_error() {
        for (poll, code) in [
            (DevicePoll::Pending, "authorization_pending"),
            (DevicePoll::SlowDown, "slow_down"),
            (DevicePoll::Expired, "expired_token"),
            (DevicePoll::Denied, "access_denied"),
            (DevicePoll::Unknown, "invalid_grant"),
        ] {
            let err = service(poll.clone(), None).poll("code").await.unwrap_err();
            assert_eq!(err.oauth_code(), Some(code), "{poll:?}");
        }
    }

    #[tokio::test]
    async fn an_approved_code_signs_in_its_user_unless_disabled() {
        let user = testing::user("ann@example.com", Role::User);
        let approved = DevicePoll::SignedIn(DevicePerson::Approved(user.id));
        let signed_in = service(approved.clone(), Some(user.clone()))
            .poll("code")
            .await
            .unwrap();
        assert_eq!(signed_in.id, user.id);

        let mut disabled = user.clone();
        disabled.disabled_at = Some(Utc::now());
        let err = service(approved, Some(disabled))
            .poll("code")
            .await
            .unwrap_err();
        assert!(
            matches!(err, DeviceError::Account(AccountError::Disabled)),
            "{err:?}"
        );
    }
}
