use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use askgate_domain::UserId;
use askgate_domain::ledger::RefundShare;
use askgate_domain::package::TokenPackage;
use askgate_domain::payment::{
    CheckoutCreated, CheckoutRequest, CheckoutSessionId, DisputeStatus, PaidPayment,
    PaymentIntentCreated, PaymentIntentId, PaymentIntentRequest, PaymentStanding,
    ProviderIdempotencyKey,
};
use askgate_domain::ports::{PaymentError, PaymentGateway};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use stripe::{ClientBuilder, IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_checkout::CheckoutSessionMode;
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionLineItemsPriceData,
    CreateCheckoutSessionPaymentIntentData, ProductData,
};
use stripe_core::dispute::ListDispute;
use stripe_core::payment_intent::{
    CreatePaymentIntent, CreatePaymentIntentAutomaticPaymentMethods, ListPaymentIntent,
};
use stripe_core::{Charge, Dispute, PaymentIntentStatus};
use stripe_types::{Currency, RangeQueryTs};
use tracing::instrument;

use crate::config::{PriceIds, StripeConfig, StripeSetupError};
use crate::event::{META_PACKAGE, META_TOKENS, META_USER_ID, timestamp, user_from};

/// One Stripe API call never waits longer than this.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Stripe's maximum page size for list calls.
const PAGE_SIZE: i64 = 100;

/// [`PaymentGateway`] on Stripe's API.
pub struct StripeGateway {
    client: stripe::Client,
    secret_key: SecretString,
    prices: PriceIds,
}

impl fmt::Debug for StripeGateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeGateway")
            .field("prices", &self.prices)
            .finish_non_exhaustive()
    }
}

impl StripeGateway {
    /// Builds the client; makes no request.
    ///
    /// # Errors
    /// When the key or the API base cannot be used in a request.
    pub fn new(config: StripeConfig) -> Result<Self, StripeSetupError> {
        let key = config.secret_key.expose_secret();
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(StripeSetupError::InvalidSecretKey);
        }
        let mut builder = ClientBuilder::new(key).timeout(REQUEST_TIMEOUT);
        if let Some(base) = config.api_base {
            builder = builder.url(api_base(base)?);
        }
        let client = builder.build().map_err(|err| match err {
            StripeError::ConfigError(_) => StripeSetupError::InvalidApiBase,
            other => StripeSetupError::Client(other.to_string()),
        })?;
        Ok(Self {
            client,
            secret_key: config.secret_key,
            prices: config.prices,
        })
    }

    /// Turns a failed call into the port's error: Stripe's refusals (4xx) keep
    /// Stripe's message, everything else is "unavailable".
    fn payment_error(&self, err: StripeError) -> PaymentError {
        let failure = match err {
            StripeError::Stripe(api, status) => {
                let message = api
                    .message
                    .unwrap_or_else(|| format!("{} ({status})", api.type_.as_str()));
                // Stripe masks keys in its messages; make sure ours never shows.
                let message = message.replace(self.secret_key.expose_secret(), "[redacted]");
                if is_refusal(status) {
                    return PaymentError::Rejected(message);
                }
                ApiFailure::Status { status, message }
            }
            StripeError::Timeout => ApiFailure::Timeout,
            StripeError::ClientError(detail) => ApiFailure::Transport(detail),
            StripeError::JSONDeserialize(detail) => ApiFailure::UnexpectedResponse(detail),
            StripeError::ConfigError(detail) => ApiFailure::Configuration(detail),
        };
        PaymentError::Unavailable(Box::new(failure))
    }
}

impl StripeGateway {
    /// The disputes of one payment (normally one).
    async fn disputes_of(&self, payment_intent_id: &str) -> Result<Vec<Dispute>, PaymentError> {
        let page = ListDispute::new()
            .payment_intent(payment_intent_id)
            .limit(PAGE_SIZE)
            .send(&self.client)
            .await
            .map_err(|err| self.payment_error(err))?;
        Ok(page.data)
    }
}

/// A Stripe 4xx that retrying will not fix. 409 (idempotency conflict of a
/// concurrent retry) and 429 (rate limit) pass with time.
const fn is_refusal(status: u16) -> bool {
    matches!(status, 400..=499) && status != 409 && status != 429
}

/// Why a Stripe call could not be completed. Carries no request data.
#[derive(Debug, thiserror::Error)]
enum ApiFailure {
    #[error("Stripe answered {status}: {message}")]
    Status { status: u16, message: String },
    #[error("Stripe did not answer in time")]
    Timeout,
    #[error("could not reach Stripe: {0}")]
    Transport(String),
    #[error("unexpected response from Stripe: {0}")]
    UnexpectedResponse(String),
    #[error("Stripe client misconfigured: {0}")]
    Configuration(String),
    #[error("Stripe's response lacks `{0}`")]
    MissingField(&'static str),
    #[error("Stripe's response has an unusable `{0}`")]
    InvalidId(&'static str),
}

fn api_base(mut base: url::Url) -> Result<String, StripeSetupError> {
    if !matches!(base.scheme(), "http" | "https")
        || base.cannot_be_a_base()
        || base.query().is_some()
        || base.fragment().is_some()
    {
        return Err(StripeSetupError::InvalidApiBase);
    }
    // async-stripe appends `v1/...` directly to the base.
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    Ok(base.into())
}

fn idempotent(key: &ProviderIdempotencyKey) -> Result<RequestStrategy, PaymentError> {
    IdempotencyKey::new(key.as_str())
        .map(RequestStrategy::Idempotent)
        .map_err(|err| PaymentError::Rejected(format!("idempotency key: {err}")))
}

/// `user_id`, `package`, `tokens`: how a payment names its buyer and package.
fn purchase_metadata(user: UserId, package: TokenPackage) -> HashMap<String, String> {
    HashMap::from([
        (META_USER_ID.to_owned(), user.to_string()),
        (META_PACKAGE.to_owned(), package.id().to_owned()),
        (META_TOKENS.to_owned(), package.tokens().get().to_string()),
    ])
}

fn line_item(prices: &PriceIds, package: TokenPackage) -> CreateCheckoutSessionLineItems {
    let mut item = CreateCheckoutSessionLineItems::new();
    item.quantity = Some(1);
    if let Some(price) = prices.for_package(package) {
        item.price = Some(price.to_owned());
    } else {
        let mut price_data = CreateCheckoutSessionLineItemsPriceData::new(Currency::USD);
        price_data.unit_amount = Some(package.amount_cents());
        price_data.product_data = Some(ProductData::new(format!(
            "askgate — {} tokens",
            package.tokens().get()
        )));
        item.price_data = Some(price_data);
    }
    item
}

/// The refunds and dispute of a payment's charge (listed with the charge
/// expanded). `disputes` are the payment's disputes, fetched only when the
/// charge says it is disputed.
fn standing(charge: Option<&Charge>, disputes: &[Dispute]) -> PaymentStanding {
    let Some(charge) = charge else {
        return PaymentStanding::default();
    };
    let refunded = (charge.refunded || charge.amount_refunded > 0).then(|| RefundShare {
        // `refunded` without an amount: the whole charge.
        refunded_cents: if charge.refunded {
            charge.amount_refunded.max(charge.amount)
        } else {
            charge.amount_refunded
        },
        paid_cents: charge.amount,
    });
    // A charge has one dispute; should there be several, the one that still
    // holds the money back decides.
    let dispute = disputes
        .iter()
        .map(|d| dispute_status(&d.status))
        .min_by_key(|status| match status {
            DisputeStatus::Lost => 0,
            DisputeStatus::Open => 1,
            DisputeStatus::Won => 2,
        })
        .or_else(|| charge.disputed.then_some(DisputeStatus::Open));
    PaymentStanding { refunded, dispute }
}

fn dispute_status(status: &stripe_core::DisputeStatus) -> DisputeStatus {
    use stripe_core::DisputeStatus as S;
    match status {
        S::Won | S::WarningClosed | S::Prevented => DisputeStatus::Won,
        S::Lost => DisputeStatus::Lost,
        // Undecided, or a status this version does not know: the money is
        // held back until Stripe says otherwise.
        _ => DisputeStatus::Open,
    }
}

/// An id of Stripe's response as the domain's type.
fn id_of<T: TryFrom<String>>(raw: &str, field: &'static str) -> Result<T, PaymentError> {
    T::try_from(raw.to_owned())
        .map_err(|_| PaymentError::Unavailable(Box::new(ApiFailure::InvalidId(field))))
}

fn paid_payment(
    intent: stripe_core::PaymentIntent,
    standing: PaymentStanding,
) -> Result<PaidPayment, PaymentError> {
    Ok(PaidPayment {
        event_id: None,
        payment_intent_id: id_of::<PaymentIntentId>(intent.id.as_str(), "payment_intent.id")?,
        checkout_session_id: None,
        user: user_from(intent.metadata.get(META_USER_ID).map(String::as_str)),
        package: intent.metadata.get(META_PACKAGE).cloned(),
        amount_cents: intent.amount_received,
        currency: intent.currency.to_string(),
        created_at: timestamp(Some(intent.created)),
        standing,
    })
}

#[async_trait]
impl PaymentGateway for StripeGateway {
    #[instrument(skip_all, fields(user_id = %request.user, package = %request.package))]
    async fn create_payment_intent(
        &self,
        request: &PaymentIntentRequest,
    ) -> Result<PaymentIntentCreated, PaymentError> {
        let intent = CreatePaymentIntent::new(request.package.amount_cents(), Currency::USD)
            .automatic_payment_methods(CreatePaymentIntentAutomaticPaymentMethods::new(true))
            .metadata(purchase_metadata(request.user, request.package))
            .customize()
            .request_strategy(idempotent(&request.idempotency_key)?)
            .send(&self.client)
            .await
            .map_err(|err| self.payment_error(err))?;
        let client_secret = intent.client_secret.ok_or_else(|| {
            PaymentError::Unavailable(Box::new(ApiFailure::MissingField("client_secret")))
        })?;
        Ok(PaymentIntentCreated {
            payment_intent_id: id_of(intent.id.as_str(), "payment_intent.id")?,
            client_secret,
        })
    }

    #[instrument(skip_all, fields(user_id = %request.user, package = %request.package))]
    async fn create_checkout(
        &self,
        request: &CheckoutRequest,
    ) -> Result<CheckoutCreated, PaymentError> {
        let metadata = purchase_metadata(request.user, request.package);
        let mut payment_intent_data = CreateCheckoutSessionPaymentIntentData::new();
        // So `payment_intent.succeeded` names the buyer and package too.
        payment_intent_data.metadata = Some(metadata.clone());

        let mut params = CreateCheckoutSession::new()
            .mode(CheckoutSessionMode::Payment)
            .line_items(vec![line_item(&self.prices, request.package)])
            .client_reference_id(request.user.to_string())
            .metadata(metadata)
            .payment_intent_data(payment_intent_data)
            .success_url(request.success_url.as_str())
            .cancel_url(request.cancel_url.as_str());
        if let Some(email) = &request.email {
            params = params.customer_email(email.as_str());
        }
        let session = params
            .customize()
            .request_strategy(idempotent(&request.idempotency_key)?)
            .send(&self.client)
            .await
            .map_err(|err| self.payment_error(err))?;
        let url = session
            .url
            .ok_or_else(|| PaymentError::Unavailable(Box::new(ApiFailure::MissingField("url"))))?;
        Ok(CheckoutCreated {
            id: id_of::<CheckoutSessionId>(session.id.as_str(), "checkout.session.id")?,
            url,
        })
    }

    #[instrument(skip_all, fields(%since))]
    async fn succeeded_payments_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<PaidPayment>, PaymentError> {
        let mut paid = Vec::new();
        let mut starting_after: Option<String> = None;
        loop {
            // The charge comes along, so its refunds and dispute are known.
            let mut list = ListPaymentIntent::new()
                .created(RangeQueryTs::gte(since.timestamp()))
                .limit(PAGE_SIZE)
                .expand(vec!["data.latest_charge".to_owned()]);
            if let Some(last) = starting_after.take() {
                list = list.starting_after(last);
            }
            let page = list
                .send(&self.client)
                .await
                .map_err(|err| self.payment_error(err))?;
            starting_after = page.data.last().map(|intent| intent.id.as_str().to_owned());
            for intent in page.data {
                if intent.status != PaymentIntentStatus::Succeeded {
                    continue;
                }
                let charge = intent.latest_charge.as_ref().and_then(|c| c.as_object());
                let disputes = match charge {
                    Some(charge) if charge.disputed => self.disputes_of(intent.id.as_str()).await?,
                    _ => Vec::new(),
                };
                let standing = standing(charge, &disputes);
                paid.push(paid_payment(intent, standing)?);
            }
            if !page.has_more || starting_after.is_none() {
                break;
            }
        }
        tracing::debug!(count = paid.len(), "listed succeeded payments");
        Ok(paid)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_api_base_gets_the_trailing_slash_async_stripe_expects() {
        let base = |s: &str| api_base(url::Url::parse(s).unwrap());
        assert_eq!(
            base("http://127.0.0.1:12111").unwrap(),
            "http://127.0.0.1:12111/"
        );
        assert_eq!(base("http://fake/stripe").unwrap(), "http://fake/stripe/");
        assert!(matches!(
            base("ftp://fake/"),
            Err(StripeSetupError::InvalidApiBase)
        ));
        assert!(matches!(
            base("http://fake/?x=1"),
            Err(StripeSetupError::InvalidApiBase)
        ));
    }

    #[test]
    fn only_lasting_client_errors_are_refusals() {
        for status in [400, 401, 402, 403, 404] {
            assert!(is_refusal(status), "{status}");
        }
        for status in [409, 429, 500, 502, 503] {
            assert!(!is_refusal(status), "{status}");
        }
    }

    #[test]
    fn a_key_that_cannot_be_sent_is_refused_at_setup() {
        for key in ["", "sk_test_with space", "sk_test_é"] {
            let config = StripeConfig {
                secret_key: SecretString::from(key.to_owned()),
                api_base: None,
                prices: PriceIds::default(),
            };
            assert!(
                matches!(
                    StripeGateway::new(config),
                    Err(StripeSetupError::InvalidSecretKey)
                ),
                "{key:?}"
            );
        }
    }
}
