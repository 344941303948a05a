//! Buying tokens: the packages, starting a payment or a hosted checkout, the
//! success page's poll, and Stripe's webhook.

use actix_web::HttpRequest;
use askgate_domain::UserId;
use uuid::Uuid;

use crate::error::ApiError;

pub mod checkout_session;
pub mod create_payment_intent;
pub mod purchase_status;
pub mod stripe_webhook;
pub mod token_packages;

/// The header a client may send so that a retried purchase request creates
/// one payment at Stripe, not two.
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";

/// Longest key Stripe accepts.
const STRIPE_MAX_KEY_LEN: usize = 255;

/// Longest client key accepted: with askgate's longest prefix
/// (`askgate:payment_intent:<user uuid>:<package>:`) it stays within Stripe's
/// 255 characters.
const MAX_CLIENT_KEY_LEN: usize =
    STRIPE_MAX_KEY_LEN - "askgate:payment_intent:".len() - 36 - ":600:".len();

/// The body every purchase request carries.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[schema(as = PackageRequest)]
#[serde(deny_unknown_fields)]
pub struct PackageBody {
    /// `"100"`, `"250"` or `"600"` (see `GET /api/token-packages`).
    #[schema(pattern = "^(100|250|600)$", example = "100")]
    package: String,
}

/// The client's `Idempotency-Key` is not one askgate can pass on.
#[derive(Debug)]
struct BadIdempotencyKey;

impl From<BadIdempotencyKey> for ApiError {
    fn from(_: BadIdempotencyKey) -> Self {
        Self::invalid_field(
            IDEMPOTENCY_KEY_HEADER,
            format!("Idempotency-Key must be 1 to {MAX_CLIENT_KEY_LEN} visible ASCII characters."),
        )
    }
}

/// The idempotency key sent to Stripe: the client's `Idempotency-Key` when it
/// sent one, else a fresh one. Scoped to the caller, the kind of request and
/// the package, so one user's key can never return another user's payment.
fn stripe_idempotency_key(
    req: &HttpRequest,
    user: UserId,
    kind: &str,
    package: &str,
) -> Result<String, BadIdempotencyKey> {
    let client_key = match req.headers().get(IDEMPOTENCY_KEY_HEADER) {
        None => Uuid::new_v4().to_string(),
        Some(value) => value
            .to_str()
            .ok()
            .map(str::trim)
            .filter(|k| {
                !k.is_empty()
                    && k.len() <= MAX_CLIENT_KEY_LEN
                    && k.bytes().all(|b| b.is_ascii_graphic())
            })
            .ok_or(BadIdempotencyKey)?
            .to_owned(),
    };
    Ok(format!("askgate:{kind}:{user}:{package}:{client_key}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn the_longest_client_key_still_makes_a_key_stripe_accepts() {
        let user = UserId::generate();
        let longest = "k".repeat(MAX_CLIENT_KEY_LEN);
        for kind in ["checkout", "payment_intent"] {
            let req = TestRequest::default()
                .insert_header((IDEMPOTENCY_KEY_HEADER, longest.as_str()))
                .to_http_request();
            let key = stripe_idempotency_key(&req, user, kind, "600").unwrap();
            assert!(key.len() <= STRIPE_MAX_KEY_LEN, "{kind}: {}", key.len());
        }
        let too_long = TestRequest::default()
            .insert_header((IDEMPOTENCY_KEY_HEADER, format!("{longest}k")))
            .to_http_request();
        assert!(stripe_idempotency_key(&too_long, user, "payment_intent", "600").is_err());
    }
}
