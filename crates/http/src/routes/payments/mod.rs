//! Buying tokens: the packages, starting a payment or a hosted checkout, the
//! success page's poll, and Stripe's webhook.

pub mod checkout_session;
pub mod create_payment_intent;
pub mod purchase_status;
pub mod stripe_webhook;
pub mod token_packages;

/// The body every purchase request carries.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[schema(as = PackageRequest)]
#[serde(deny_unknown_fields)]
pub struct PackageBody {
    /// `"100"`, `"250"` or `"600"` (see `GET /api/token-packages`).
    #[schema(pattern = "^(100|250|600)$", example = "100")]
    package: String,
}
