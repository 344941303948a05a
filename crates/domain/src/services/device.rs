//! Device-code sign-in (RFC 8628): a client without a browser, such as the
//! command-line tool, starts it, shows the person a code to enter elsewhere,
//! and polls until they have signed in; then it gets a session like any
//! other sign-in.

use std::sync::Arc;

use tracing::instrument;

use std::time::Duration;

use crate::StoreError;
use crate::ports::{
    DeviceAuthorization, DeviceCodes, DevicePerson, DevicePoll, DeviceSignIn, IdentityError,
    PollPace,
};
use crate::services::{AccountError, AccountService};
use crate::user::User;

/// Why a poll signed nobody in (yet). The first five are RFC 8628's and
/// RFC 6749's errors, which the device acts on (the HTTP layer names them).
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
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Starts and polls device-code sign-ins. askgate keeps the pace itself
/// (providers differ: Entra ID and others may never answer `slow_down`), so a
/// device polling too fast is told so without reaching the provider, and a
/// device code askgate never handed out is refused the same way.
pub struct DeviceSignInService {
    provider: Arc<dyn DeviceSignIn>,
    codes: Arc<dyn DeviceCodes>,
    accounts: Arc<AccountService>,
}

impl DeviceSignInService {
    pub fn new(
        provider: Arc<dyn DeviceSignIn>,
        codes: Arc<dyn DeviceCodes>,
        accounts: Arc<AccountService>,
    ) -> Self {
        Self {
            provider,
            codes,
            accounts,
        }
    }

    pub async fn start(&self) -> Result<DeviceAuthorization, DeviceError> {
        let started = self.provider.start().await?;
        self.codes
            .issued(
                &started.device_code,
                Duration::from_secs(started.expires_in),
                Duration::from_secs(started.interval),
            )
            .await?;
        Ok(started)
    }

    /// One poll; the user once someone signed in, as [`AccountService::sign_in`]
    /// signs them in (created the first time, refused when disabled).
    #[instrument(skip_all)]
    pub async fn poll(&self, device_code: &str) -> Result<User, DeviceError> {
        match self.codes.polled(device_code).await? {
            PollPace::Unknown => return Err(DeviceError::UnknownCode),
            PollPace::Expired => {
                self.codes.finished(device_code).await?;
                return Err(DeviceError::Expired);
            }
            PollPace::TooSoon => return Err(DeviceError::SlowDown),
            PollPace::InTime => {}
        }
        let person = match self.provider.poll(device_code).await? {
            DevicePoll::Pending => return Err(DeviceError::Pending),
            DevicePoll::SlowDown => return Err(DeviceError::SlowDown),
            finished @ (DevicePoll::Expired | DevicePoll::Denied | DevicePoll::Unknown) => {
                self.codes.finished(device_code).await?;
                return Err(match finished {
                    DevicePoll::Expired => DeviceError::Expired,
                    DevicePoll::Denied => DeviceError::Denied,
                    _ => DeviceError::UnknownCode,
                });
            }
            DevicePoll::SignedIn(person) => person,
        };
        self.codes.finished(device_code).await?;
        Ok(match person {
            DevicePerson::Verified(identity) => self.accounts.sign_in(&identity).await?,
            DevicePerson::Approved(user) => self.accounts.for_refresh(user).await?,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::mem::discriminant;

    use chrono::Utc;

    use super::*;
    use crate::ports::{
        MockClock, MockDeviceCodes, MockDeviceSignIn, MockLedger, MockUserRepository,
    };
    use crate::services::account::AdminPolicy;
    use crate::testing;
    use crate::user::Role;

    fn service(poll: DevicePoll, found: Option<User>) -> DeviceSignInService {
        paced(PollPace::InTime, poll, found)
    }

    fn paced(pace: PollPace, poll: DevicePoll, found: Option<User>) -> DeviceSignInService {
        let mut provider = MockDeviceSignIn::new();
        provider.expect_poll().returning(move |_| Ok(poll.clone()));
        let mut codes = MockDeviceCodes::new();
        codes.expect_polled().returning(move |_| Ok(pace));
        codes.expect_finished().returning(|_| Ok(()));
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
        DeviceSignInService::new(Arc::new(provider), Arc::new(codes), Arc::new(accounts))
    }

    #[tokio::test]
    async fn a_poll_out_of_pace_never_reaches_the_provider() {
        for (pace, expected) in [
            (PollPace::TooSoon, DeviceError::SlowDown),
            (PollPace::Expired, DeviceError::Expired),
            (PollPace::Unknown, DeviceError::UnknownCode),
        ] {
            // The provider would sign someone in: it must not be asked.
            let user = testing::user("ann@example.com", Role::User);
            let signed_in = DevicePoll::SignedIn(DevicePerson::Approved(user.id));
            let err = paced(pace, signed_in, Some(user))
                .poll("code")
                .await
                .unwrap_err();
            assert_eq!(
                discriminant(&err),
                discriminant(&expected),
                "{pace:?}: {err:?}"
            );
        }
    }

    #[tokio::test]
    async fn each_unfinished_poll_is_its_own_error() {
        for (poll, expected) in [
            (DevicePoll::Pending, DeviceError::Pending),
            (DevicePoll::SlowDown, DeviceError::SlowDown),
            (DevicePoll::Expired, DeviceError::Expired),
            (DevicePoll::Denied, DeviceError::Denied),
            (DevicePoll::Unknown, DeviceError::UnknownCode),
        ] {
            let err = service(poll.clone(), None).poll("code").await.unwrap_err();
            assert_eq!(
                discriminant(&err),
                discriminant(&expected),
                "{poll:?}: {err:?}"
            );
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
