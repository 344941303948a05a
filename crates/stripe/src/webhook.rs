use std::fmt;
use std::time::Duration;

use askgate_domain::payment::PaymentEvent;
use askgate_domain::ports::{WebhookError, WebhookVerifier};
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

use crate::{event, signature};

/// Stripe's own default: events signed more than five minutes from now are refused.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// Verifies Stripe webhooks against the endpoint's signing secrets.
///
/// Several secrets may be configured at once so an endpoint secret can be
/// rotated without refusing events: a delivery is accepted when any of its
/// `v1` signatures matches any configured secret.
pub struct StripeWebhooks {
    secrets: Vec<SecretString>,
    tolerance: Duration,
}

impl StripeWebhooks {
    /// `secrets`: `STRIPE_WEBHOOK_SECRET` values (`whsec_…`), see
    /// [`split_webhook_secrets`]. `tolerance`: normally [`DEFAULT_TOLERANCE`].
    #[must_use]
    pub fn new(secrets: Vec<SecretString>, tolerance: Duration) -> Self {
        Self { secrets, tolerance }
    }
}

impl fmt::Debug for StripeWebhooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeWebhooks")
            .field("secrets", &self.secrets.len())
            .field("tolerance", &self.tolerance)
            .finish()
    }
}

impl WebhookVerifier for StripeWebhooks {
    fn verify(
        &self,
        payload: &[u8],
        signature_header: &str,
        now: DateTime<Utc>,
    ) -> Result<PaymentEvent, WebhookError> {
        signature::verify(
            payload,
            signature_header,
            &self.secrets,
            self.tolerance,
            now,
        )?;
        event::parse_event(payload)
    }
}

/// Splits a comma-separated `STRIPE_WEBHOOK_SECRET` into its secrets, dropping
/// blanks: `"whsec_new, whsec_old"` → two secrets.
#[must_use]
pub fn split_webhook_secrets(value: &SecretString) -> Vec<SecretString> {
    value
        .expose_secret()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| SecretString::from(s.to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_split_on_commas_and_blanks_dropped() {
        let secrets = split_webhook_secrets(&SecretString::from(" whsec_a,,whsec_b ,".to_owned()));
        let exposed: Vec<_> = secrets.iter().map(ExposeSecret::expose_secret).collect();
        assert_eq!(exposed, ["whsec_a", "whsec_b"]);
    }

    #[test]
    fn debug_output_never_shows_a_secret() {
        let webhooks = StripeWebhooks::new(
            vec![SecretString::from("whsec_topsecret".to_owned())],
            DEFAULT_TOLERANCE,
        );
        let shown = format!("{webhooks:?}");
        assert!(!shown.contains("topsecret"), "{shown}");
    }
}
