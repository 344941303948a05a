//! `Stripe-Signature` verification: HMAC-SHA256 over `"{t}.{raw body}"`, keyed
//! with the endpoint secret, compared in constant time with every `v1` value.
//! See Stripe's "Verify webhook signatures manually".

use std::time::Duration;

use askgate_domain::ports::WebhookError;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use subtle::{Choice, ConstantTimeEq};

/// The parts of a `Stripe-Signature` header that matter: the timestamp as
/// signed and the decoded `v1` signatures. Other schemes (`v0`) are ignored.
struct SignatureHeader<'a> {
    timestamp_text: &'a str,
    timestamp: i64,
    /// `None` for a `v1` value that is not hex: it is present but cannot match.
    v1: Vec<Option<Vec<u8>>>,
}

impl<'a> SignatureHeader<'a> {
    fn parse(header: &'a str) -> Result<Self, WebhookError> {
        let mut timestamp_text = None;
        let mut v1 = Vec::new();
        for (key, value) in header
            .split(',')
            .filter_map(|item| item.split_once('='))
            .map(|(k, v)| (k.trim(), v.trim()))
        {
            match key {
                "t" if timestamp_text.is_none() => timestamp_text = Some(value),
                "t" => return Err(WebhookError::MissingSignature),
                "v1" => v1.push(hex::decode(value).ok()),
                _ => {}
            }
        }
        let timestamp_text = timestamp_text.ok_or(WebhookError::MissingSignature)?;
        let timestamp = timestamp_text
            .parse::<i64>()
            .map_err(|_| WebhookError::MissingSignature)?;
        if v1.is_empty() {
            return Err(WebhookError::MissingSignature);
        }
        Ok(Self {
            timestamp_text,
            timestamp,
            v1,
        })
    }
}

/// Checks `header` over `payload`: accepted when any `v1` value matches any of
/// `secrets` and the timestamp lies within `tolerance` of `now`.
pub(crate) fn verify(
    payload: &[u8],
    header: &str,
    secrets: &[SecretString],
    tolerance: Duration,
    now: DateTime<Utc>,
) -> Result<(), WebhookError> {
    let header = SignatureHeader::parse(header)?;

    let mut matched = Choice::from(0);
    for secret in secrets {
        let expected = expected_signature(secret, header.timestamp_text, payload)?;
        for candidate in header.v1.iter().flatten() {
            matched |= expected.as_slice().ct_eq(candidate.as_slice());
        }
    }
    if !bool::from(matched) {
        return Err(WebhookError::BadSignature);
    }

    let age = now.timestamp().abs_diff(header.timestamp);
    if age > tolerance.as_secs() {
        return Err(WebhookError::Stale);
    }
    Ok(())
}

fn expected_signature(
    secret: &SecretString,
    timestamp: &str,
    payload: &[u8],
) -> Result<Vec<u8>, WebhookError> {
    // HMAC accepts keys of any length; this cannot fail for SHA-256.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
        .map_err(|_| WebhookError::BadSignature)?;
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(payload);
    Ok(mac.finalize().into_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn sign(secret: &str, t: i64, payload: &[u8]) -> String {
        let secret = SecretString::from(secret.to_owned());
        hex::encode(expected_signature(&secret, &t.to_string(), payload).unwrap())
    }

    fn at(t: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(t, 0).unwrap()
    }

    #[test]
    fn headers_without_timestamp_or_v1_are_missing_signatures() {
        let secrets = [SecretString::from("whsec_a".to_owned())];
        let tolerance = Duration::from_secs(300);
        for header in [
            "",
            "garbage",
            "t=100",
            "v1=abcd",
            "t=abc,v1=abcd",
            "t=1,t=2,v1=ab",
            "t=100,v0=abcd",
        ] {
            assert!(
                matches!(
                    verify(b"{}", header, &secrets, tolerance, at(100)),
                    Err(WebhookError::MissingSignature)
                ),
                "{header:?}"
            );
        }
    }

    #[test]
    fn signature_is_checked_before_the_timestamp() {
        let secrets = [SecretString::from("whsec_a".to_owned())];
        let header = format!("t=100,v1={}", sign("whsec_b", 100, b"{}"));
        let result = verify(
            b"{}",
            &header,
            &secrets,
            Duration::from_secs(300),
            at(10_000),
        );
        assert!(matches!(result, Err(WebhookError::BadSignature)));
    }

    #[test]
    fn tolerance_applies_to_timestamps_in_the_future_too() {
        let secrets = [SecretString::from("whsec_a".to_owned())];
        let header = format!("t=1000,v1={}", sign("whsec_a", 1000, b"{}"));
        let tolerance = Duration::from_secs(300);
        assert!(verify(b"{}", &header, &secrets, tolerance, at(700)).is_ok());
        assert!(matches!(
            verify(b"{}", &header, &secrets, tolerance, at(699)),
            Err(WebhookError::Stale)
        ));
    }

    #[test]
    fn non_hex_v1_values_do_not_hide_a_valid_one() {
        let secrets = [SecretString::from("whsec_a".to_owned())];
        let header = format!(
            "t=100, v1=not-hex, v0=00, v1={}",
            sign("whsec_a", 100, b"{}")
        );
        assert!(verify(b"{}", &header, &secrets, Duration::from_secs(300), at(100)).is_ok());
    }

    #[test]
    fn no_configured_secret_accepts_nothing() {
        let header = format!("t=100,v1={}", sign("whsec_a", 100, b"{}"));
        let result = verify(b"{}", &header, &[], Duration::from_secs(300), at(100));
        assert!(matches!(result, Err(WebhookError::BadSignature)));
    }
}
