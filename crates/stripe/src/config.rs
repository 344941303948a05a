use askgate_domain::package::TokenPackage;
use secrecy::SecretString;
use url::Url;

/// How askgate talks to Stripe's API.
#[derive(Debug, Clone)]
pub struct StripeConfig {
    /// `STRIPE_SECRET_KEY` (`sk_live_…`, `sk_test_…` or a restricted `rk_…` key).
    pub secret_key: SecretString,
    /// `STRIPE_API_BASE`: `None` means Stripe's own `https://api.stripe.com/`.
    pub api_base: Option<Url>,
    /// `STRIPE_PRICE_100/250/600`: Stripe Price ids for the Checkout line items.
    pub prices: PriceIds,
}

/// Stripe Price ids for the packages. A package without one is sold with
/// inline price data (the package's exact amount in USD).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PriceIds {
    /// `STRIPE_PRICE_100`
    pub price_100: Option<String>,
    /// `STRIPE_PRICE_250`
    pub price_250: Option<String>,
    /// `STRIPE_PRICE_600`
    pub price_600: Option<String>,
}

impl PriceIds {
    /// The configured price id for `package`, if any.
    #[must_use]
    pub fn for_package(&self, package: TokenPackage) -> Option<&str> {
        match package {
            TokenPackage::Small => self.price_100.as_deref(),
            TokenPackage::Medium => self.price_250.as_deref(),
            TokenPackage::Large => self.price_600.as_deref(),
        }
        .filter(|id| !id.trim().is_empty())
    }
}

/// The Stripe client could not be built from the configuration.
#[derive(Debug, thiserror::Error)]
pub enum StripeSetupError {
    #[error("STRIPE_SECRET_KEY is empty or contains characters other than visible ASCII")]
    InvalidSecretKey,
    #[error("STRIPE_API_BASE must be an http or https URL without query or fragment")]
    InvalidApiBase,
    #[error("the Stripe client could not be built: {0}")]
    Client(String),
}
