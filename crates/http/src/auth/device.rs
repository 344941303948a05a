//! Device-code sign-in without an identity provider, for development with dev
//! login on: askgate issues the codes itself and a signed-in user approves
//! one on the web UI's `/device` page.
//!
//! The codes live in this process only, so this serves a single development
//! instance; with Microsoft sign-in configured the provider's own device flow
//! is used instead (see the azure-ad crate), which every instance shares.
//! The pace of polling is kept by the device sign-in use case, not here.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use askgate_domain::UserId;
use askgate_domain::ports::{
    DeviceAuthorization, DevicePerson, DevicePoll, DeviceSignIn, IdentityError,
};
use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng as _;

/// How long codes stay valid when nothing else is configured (RFC 8628
/// suggests minutes, not hours).
pub const DEV_DEVICE_CODE_TTL: Duration = Duration::from_secs(600);

/// The wait between polls a device is told to keep when nothing else is configured.
pub const DEV_DEVICE_POLL_INTERVAL: Duration = Duration::from_secs(5);

/// At most this many codes wait at once; starting more drops the expired ones
/// first and then refuses.
const CAPACITY: usize = 10_000;

/// Letters of user codes: no vowels (no words), nothing easily confused
/// (RFC 8628 §6.1), 20⁸ ≈ 2.6 × 10¹⁰ codes.
const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    Waiting,
    Approved(UserId),
    Denied,
}

#[derive(Debug)]
struct Pending {
    user_code: String,
    expires_at: Instant,
    decision: Decision,
}

/// The user code named on the page is unknown or expired.
#[derive(Debug, thiserror::Error)]
#[error("no such code, or it has expired")]
pub struct UnknownUserCode;

/// Codes issued by this process, keyed by device code.
#[derive(Debug)]
pub struct DevDeviceCodes {
    verification_uri: String,
    ttl: Duration,
    interval: Duration,
    codes: Mutex<HashMap<String, Pending>>,
}

impl DevDeviceCodes {
    /// `verification_uri`: the web UI's `/device` page, as the person reaches it.
    #[must_use]
    pub fn new(verification_uri: String, ttl: Duration, interval: Duration) -> Self {
        Self {
            verification_uri,
            ttl,
            interval,
            codes: Mutex::new(HashMap::new()),
        }
    }

    /// The signed-in `user` approves (or declines) the code they were shown.
    /// Case, spaces and dashes in `user_code` do not matter.
    pub fn decide(
        &self,
        user_code: &str,
        user: UserId,
        approve: bool,
    ) -> Result<(), UnknownUserCode> {
        let wanted = normalise(user_code);
        let now = Instant::now();
        let mut codes = self.lock();
        let pending = codes
            .values_mut()
            .find(|p| {
                p.user_code == wanted && p.expires_at > now && p.decision == Decision::Waiting
            })
            .ok_or(UnknownUserCode)?;
        pending.decision = if approve {
            Decision::Approved(user)
        } else {
            Decision::Denied
        };
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Pending>> {
        // A panic while holding the lock leaves the map consistent (every
        // change is one insert or field write), so keep using it.
        self.codes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// `bcdf-ghjk` and `BCDF GHJK` are `BCDFGHJK`.
fn normalise(user_code: &str) -> String {
    user_code
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .flat_map(char::to_uppercase)
        .collect()
}

fn random_user_code() -> String {
    let mut rng = rand::rng();
    (0..8)
        .map(|_| char::from(USER_CODE_ALPHABET[rng.random_range(0..USER_CODE_ALPHABET.len())]))
        .collect()
}

fn random_device_code() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    URL_SAFE_NO_PAD.encode(bytes)
}

#[async_trait]
impl DeviceSignIn for DevDeviceCodes {
    async fn start(&self) -> Result<DeviceAuthorization, IdentityError> {
        let now = Instant::now();
        let mut codes = self.lock();
        if codes.len() >= CAPACITY {
            codes.retain(|_, p| p.expires_at > now);
        }
        if codes.len() >= CAPACITY {
            return Err(IdentityError::Unavailable(
                "too many device sign-ins waiting".into(),
            ));
        }
        let user_code = loop {
            let code = random_user_code();
            if !codes.values().any(|p| p.user_code == code) {
                break code;
            }
        };
        let device_code = random_device_code();
        codes.insert(
            device_code.clone(),
            Pending {
                user_code: user_code.clone(),
                expires_at: now + self.ttl,
                decision: Decision::Waiting,
            },
        );
        let shown = format!("{}-{}", &user_code[..4], &user_code[4..]);
        Ok(DeviceAuthorization {
            device_code,
            verification_uri_complete: Some(format!("{}?code={shown}", self.verification_uri)),
            verification_uri: self.verification_uri.clone(),
            user_code: shown,
            expires_in: self.ttl.as_secs(),
            interval: self.interval.as_secs(),
        })
    }

    async fn poll(&self, device_code: &str) -> Result<DevicePoll, IdentityError> {
        let now = Instant::now();
        let mut codes = self.lock();
        let Some(pending) = codes.get(device_code) else {
            return Ok(DevicePoll::Unknown);
        };
        if pending.expires_at <= now {
            codes.remove(device_code);
            return Ok(DevicePoll::Expired);
        }
        match pending.decision {
            Decision::Waiting => Ok(DevicePoll::Pending),
            Decision::Denied => {
                codes.remove(device_code);
                Ok(DevicePoll::Denied)
            }
            Decision::Approved(user) => {
                codes.remove(device_code);
                Ok(DevicePoll::SignedIn(DevicePerson::Approved(user)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(ttl: Duration, interval: Duration) -> DevDeviceCodes {
        DevDeviceCodes::new("http://127.0.0.1:8080/device".into(), ttl, interval)
    }

    #[tokio::test]
    async fn an_approved_code_signs_its_user_in_once() {
        let codes = codes(DEV_DEVICE_CODE_TTL, Duration::ZERO);
        let started = codes.start().await.unwrap();
        assert_eq!(started.user_code.len(), 9);
        assert!(started.device_code.len() >= 43, "256 bits");
        assert_eq!(
            codes.poll(&started.device_code).await.unwrap(),
            DevicePoll::Pending
        );
        let user = UserId::generate();
        codes
            .decide(&started.user_code.to_lowercase(), user, true)
            .unwrap();
        assert_eq!(
            codes.poll(&started.device_code).await.unwrap(),
            DevicePoll::SignedIn(DevicePerson::Approved(user))
        );
        assert_eq!(
            codes.poll(&started.device_code).await.unwrap(),
            DevicePoll::Unknown
        );
        assert!(
            codes.decide(&started.user_code, user, true).is_err(),
            "used up"
        );
    }

    #[tokio::test]
    async fn a_declined_code_is_denied_once() {
        let codes = codes(DEV_DEVICE_CODE_TTL, Duration::ZERO);
        let started = codes.start().await.unwrap();
        codes
            .decide(
                &started.user_code.replace('-', " "),
                UserId::generate(),
                false,
            )
            .unwrap();
        assert_eq!(
            codes.poll(&started.device_code).await.unwrap(),
            DevicePoll::Denied
        );
        assert_eq!(
            codes.poll(&started.device_code).await.unwrap(),
            DevicePoll::Unknown
        );
    }

    #[tokio::test]
    async fn an_expired_code_answers_expired_and_cannot_be_approved() {
        let codes = codes(Duration::ZERO, Duration::ZERO);
        let started = codes.start().await.unwrap();
        assert!(
            codes
                .decide(&started.user_code, UserId::generate(), true)
                .is_err()
        );
        assert_eq!(
            codes.poll(&started.device_code).await.unwrap(),
            DevicePoll::Expired
        );
    }
}
