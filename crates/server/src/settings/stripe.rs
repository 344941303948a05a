//! The payments section of [`Settings`](super::Settings): Stripe keys, the
//! webhook's signing secrets and the Price ids of the packages.

use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::env::{ConfigError, Env, HTTP, entries, is_token, parse_url, variables};

variables! {
    STRIPE_SECRET_KEY,
    STRIPE_WEBHOOK_SECRET,
    STRIPE_PUBLISHABLE_KEY,
    STRIPE_PRICE_100,
    STRIPE_PRICE_250,
    STRIPE_PRICE_600,
    STRIPE_API_BASE,
}

/// Stripe: buying tokens. Without `STRIPE_SECRET_KEY` payments are off and the
/// purchase endpoints answer 503; everything else works.
#[derive(Debug, Clone, Default)]
pub struct StripeSettings {
    /// `STRIPE_SECRET_KEY` (`sk_live_…`, `sk_test_…` or a restricted `rk_…`).
    pub secret_key: Option<SecretString>,
    /// `STRIPE_WEBHOOK_SECRET`: the endpoint's signing secrets (`whsec_…`),
    /// comma-separated while one is rotated. Required with the secret key.
    pub webhook_secret: Option<SecretString>,
    /// `STRIPE_PUBLISHABLE_KEY` (`pk_…`): public, served to the web UI.
    pub publishable_key: Option<String>,
    /// `STRIPE_PRICE_100`, `STRIPE_PRICE_250`, `STRIPE_PRICE_600`: Price ids
    /// for Checkout; a package without one is sold with inline price data.
    pub price_100: Option<String>,
    pub price_250: Option<String>,
    pub price_600: Option<String>,
    /// `STRIPE_API_BASE`: `None` is Stripe's own API; tests point it at a fake.
    pub api_base: Option<Url>,
}

impl StripeSettings {
    /// True when purchases can be made.
    #[must_use]
    pub const fn payments_enabled(&self) -> bool {
        self.secret_key.is_some()
    }

    /// True for a live-mode key, which moves real money.
    #[must_use]
    pub fn has_live_key(&self) -> bool {
        self.secret_key.as_ref().is_some_and(|k| {
            let k = k.expose_secret();
            k.starts_with("sk_live_") || k.starts_with("rk_live_")
        })
    }

    /// Key values are never repeated in messages.
    pub(super) fn read(env: &Env<'_>) -> Result<Self, ConfigError> {
        let secret_key = env.checked_secret(
            STRIPE_SECRET_KEY,
            |key| stripe_id(key, &["sk_live_", "sk_test_", "rk_live_", "rk_test_"]),
            "must be a Stripe secret key (sk_live_…, sk_test_… or a restricted rk_… key)",
        )?;
        let webhook_secret = env.checked_secret(
            STRIPE_WEBHOOK_SECRET,
            // At least one: `,,,` would be a webhook no signature can pass.
            |raw| {
                entries(raw).next().is_some()
                    && entries(raw).all(|secret| stripe_id(secret, &["whsec_"]))
            },
            "must be the endpoint's signing secret (whsec_…), or several separated by commas while rotating",
        )?;
        if webhook_secret.is_none() && secret_key.is_some() {
            return Err(ConfigError::new(
                STRIPE_WEBHOOK_SECRET,
                "is required when STRIPE_SECRET_KEY is set (the webhook endpoint's signing secret, whsec_…)",
            ));
        }
        let publishable_key = env.checked(
            STRIPE_PUBLISHABLE_KEY,
            |key| stripe_id(key, &["pk_"]),
            "must be a publishable key (pk_live_… or pk_test_…); it is shown to browsers, so never put a secret key here",
        )?;
        let api_base = env
            .get(STRIPE_API_BASE)
            .map(|raw| {
                parse_url(&raw, HTTP)
                    .filter(|u| u.query().is_none() && u.fragment().is_none())
                    .ok_or_else(|| {
                        ConfigError::new(
                            STRIPE_API_BASE,
                            "must be an absolute http(s) URL without query or fragment, e.g. https://api.stripe.com",
                        )
                    })
            })
            .transpose()?;
        let price = |var| {
            env.checked(
                var,
                |id| stripe_id(id, &["price_"]),
                "must be a Stripe Price id (price_…)",
            )
        };
        Ok(Self {
            secret_key,
            webhook_secret,
            publishable_key,
            price_100: price(STRIPE_PRICE_100)?,
            price_250: price(STRIPE_PRICE_250)?,
            price_600: price(STRIPE_PRICE_600)?,
            api_base,
        })
    }
}

/// A Stripe key or id: one of the `prefixes`, then printable characters.
fn stripe_id(value: &str, prefixes: &[&str]) -> bool {
    prefixes.iter().any(|p| value.starts_with(p)) && is_token(value)
}

#[cfg(test)]
mod tests {
    use super::super::Settings;

    #[test]
    fn payments_are_off_without_a_stripe_secret_key() {
        let s = Settings::from_pairs(&[]).unwrap();
        assert!(!s.stripe.payments_enabled());
        assert!(s.stripe.api_base.is_none());
    }

    #[test]
    fn a_stripe_secret_key_needs_a_webhook_secret() {
        let err = Settings::from_pairs(&[("STRIPE_SECRET_KEY", "sk_test_abc")]).unwrap_err();
        assert_eq!(err.variable, "STRIPE_WEBHOOK_SECRET");
        assert!(!err.to_string().contains('\n'));
        let s = Settings::from_pairs(&[
            ("STRIPE_SECRET_KEY", "sk_test_abc"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_new, whsec_old"),
            ("STRIPE_PUBLISHABLE_KEY", "pk_test_abc"),
            ("STRIPE_PRICE_250", "price_250"),
            ("STRIPE_API_BASE", "http://127.0.0.1:12111"),
        ])
        .unwrap();
        assert!(s.stripe.payments_enabled());
        assert_eq!(s.stripe.price_250.as_deref(), Some("price_250"));
        assert_eq!(s.stripe.price_100, None);
        assert_eq!(s.stripe.publishable_key.as_deref(), Some("pk_test_abc"));
    }

    #[test]
    fn each_bad_stripe_value_names_its_variable_without_echoing_it() {
        for (name, value) in [
            ("STRIPE_SECRET_KEY", "pk_test_oops"),
            ("STRIPE_WEBHOOK_SECRET", "sk_test_oops"),
            ("STRIPE_WEBHOOK_SECRET", ", ,,"),
            ("STRIPE_PUBLISHABLE_KEY", "sk_test_oops"),
            ("STRIPE_PRICE_100", "prod_oops"),
            ("STRIPE_API_BASE", "ftp://oops"),
        ] {
            let err = Settings::from_pairs(&[(name, value)]).unwrap_err();
            assert_eq!(err.variable, name, "{err}");
            assert!(!err.to_string().contains("oops"), "{err}");
        }
    }

    #[test]
    fn debug_never_shows_stripe_secrets() {
        let s = Settings::from_pairs(&[
            ("STRIPE_SECRET_KEY", "sk_test_hunter2"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_hunter3"),
        ])
        .unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2") && !shown.contains("hunter3"));
    }
}
