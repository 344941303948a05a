//! Webhook verification against events signed by Stripe's official Node
//! library (see fixtures/sign.mjs), verified at the instant they were signed.

use std::time::Duration;

use askgate_domain::UserId;
use askgate_domain::payment::{
    CheckoutSessionId, PaidPayment, PaymentEvent, PaymentIntentId, PaymentStanding, StripeEventId,
};
use askgate_domain::ports::{WebhookError, WebhookVerifier};
use askgate_stripe::{DEFAULT_TOLERANCE, StripeWebhooks};
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::Deserialize;

const SIGNATURES: &str = include_str!("../../fixtures/signatures.json");
const CHECKOUT_COMPLETED: &str =
    include_str!("../../fixtures/events/checkout_session_completed.json");
const CHECKOUT_COMPLETED_UNPAID: &str =
    include_str!("../../fixtures/events/checkout_session_completed_unpaid.json");
const ASYNC_SUCCEEDED: &str =
    include_str!("../../fixtures/events/checkout_session_async_payment_succeeded.json");
const ASYNC_FAILED: &str =
    include_str!("../../fixtures/events/checkout_session_async_payment_failed.json");
const INTENT_SUCCEEDED: &str = include_str!("../../fixtures/events/payment_intent_succeeded.json");
const CHARGE_REFUNDED: &str = include_str!("../../fixtures/events/charge_refunded.json");
const DISPUTE_CREATED: &str = include_str!("../../fixtures/events/charge_dispute_created.json");
const CUSTOMER_CREATED: &str = include_str!("../../fixtures/events/customer_created.json");

/// The values fixtures/sign.mjs put in the events.
const USER_ID: &str = "0192f0c4-5b1a-7c3e-9d2f-4a6b8c0d1e2f";
const CHECKOUT_ID: &str = "cs_test_a1B2c3D4e5F6g7H8i9J0kLmNoPqRsTuVwXyZ0123456789abcdEF";
const PAYMENT_INTENT_ID: &str = "pi_3QaskgateFixture0001";
const CREATED: i64 = 1_795_176_000 - 120;

#[derive(Deserialize)]
struct Signatures {
    timestamp: i64,
    secret: String,
    previous_secret: String,
    headers: std::collections::HashMap<String, String>,
    checkout_session_completed_signed_with_previous_secret: String,
    checkout_session_completed_signed_with_both_secrets: String,
}

fn signatures() -> Signatures {
    serde_json::from_str(SIGNATURES).unwrap()
}

fn header(name: &str) -> String {
    signatures().headers.remove(name).expect(name)
}

fn signed_at() -> DateTime<Utc> {
    DateTime::from_timestamp(signatures().timestamp, 0).unwrap()
}

fn webhooks(secrets: &[&str]) -> StripeWebhooks {
    StripeWebhooks::new(
        secrets
            .iter()
            .map(|s| SecretString::from((*s).to_owned()))
            .collect(),
        DEFAULT_TOLERANCE,
    )
}

fn current() -> StripeWebhooks {
    webhooks(&[&signatures().secret])
}

fn verify(payload: &str, name: &str) -> Result<PaymentEvent, WebhookError> {
    current().verify(payload.as_bytes(), &header(name), signed_at())
}

fn paid(event_id: &str, checkout: bool) -> PaymentEvent {
    PaymentEvent::Paid(PaidPayment {
        event_id: Some(StripeEventId::parse(event_id).unwrap()),
        payment_intent_id: PaymentIntentId::parse(PAYMENT_INTENT_ID).unwrap(),
        checkout_session_id: checkout.then(|| CheckoutSessionId::parse(CHECKOUT_ID).unwrap()),
        user: Some(USER_ID.parse::<UserId>().unwrap()),
        package: Some("250".to_owned()),
        amount_cents: 1000,
        currency: "usd".to_owned(),
        created_at: DateTime::from_timestamp(CREATED, 0),
        standing: PaymentStanding::default(),
    })
}

#[test]
fn paid_checkout_completed_becomes_a_paid_payment_with_its_checkout() {
    let event = verify(CHECKOUT_COMPLETED, "checkout_session_completed").unwrap();
    assert_eq!(event, paid("evt_1QaskgateFixture0001", true));
}

#[test]
fn checkout_completed_but_unpaid_is_ignored() {
    let event = verify(
        CHECKOUT_COMPLETED_UNPAID,
        "checkout_session_completed_unpaid",
    )
    .unwrap();
    assert_eq!(
        event,
        PaymentEvent::Ignored {
            event_id: StripeEventId::parse("evt_1QaskgateFixture0002").unwrap(),
            event_type: "checkout.session.completed".to_owned(),
        }
    );
}

#[test]
fn async_payment_succeeded_becomes_a_paid_payment() {
    let event = verify(ASYNC_SUCCEEDED, "checkout_session_async_payment_succeeded").unwrap();
    assert_eq!(event, paid("evt_1QaskgateFixture0003", true));
}

#[test]
fn async_payment_failed_becomes_a_failed_checkout() {
    let event = verify(ASYNC_FAILED, "checkout_session_async_payment_failed").unwrap();
    assert_eq!(
        event,
        PaymentEvent::CheckoutFailed {
            event_id: StripeEventId::parse("evt_1QaskgateFixture0004").unwrap(),
            checkout_session_id: CheckoutSessionId::parse(CHECKOUT_ID).unwrap(),
        }
    );
}

#[test]
fn payment_intent_succeeded_becomes_a_paid_payment_without_checkout() {
    let event = verify(INTENT_SUCCEEDED, "payment_intent_succeeded").unwrap();
    assert_eq!(event, paid("evt_1QaskgateFixture0005", false));
}

#[test]
fn charge_refunded_names_the_payment_intent() {
    let event = verify(CHARGE_REFUNDED, "charge_refunded").unwrap();
    assert_eq!(
        event,
        PaymentEvent::Refunded {
            event_id: StripeEventId::parse("evt_1QaskgateFixture0006").unwrap(),
            payment_intent_id: PaymentIntentId::parse(PAYMENT_INTENT_ID).unwrap(),
            share: None,
        }
    );
}

#[test]
fn dispute_created_names_the_payment_intent() {
    let event = verify(DISPUTE_CREATED, "charge_dispute_created").unwrap();
    assert_eq!(
        event,
        PaymentEvent::Disputed {
            event_id: StripeEventId::parse("evt_1QaskgateFixture0007").unwrap(),
            payment_intent_id: PaymentIntentId::parse(PAYMENT_INTENT_ID).unwrap(),
        }
    );
}

#[test]
fn unknown_event_types_are_ignored() {
    let event = verify(CUSTOMER_CREATED, "customer_created").unwrap();
    assert_eq!(
        event,
        PaymentEvent::Ignored {
            event_id: StripeEventId::parse("evt_1QaskgateFixture0008").unwrap(),
            event_type: "customer.created".to_owned(),
        }
    );
}

#[test]
fn a_wrong_secret_is_a_bad_signature() {
    let result = webhooks(&["whsec_someone_elses"]).verify(
        CHECKOUT_COMPLETED.as_bytes(),
        &header("checkout_session_completed"),
        signed_at(),
    );
    assert!(
        matches!(result, Err(WebhookError::BadSignature)),
        "{result:?}"
    );
}

#[test]
fn a_signature_older_than_the_tolerance_is_stale() {
    let late = signed_at() + chrono::Duration::seconds(301);
    let result = current().verify(
        CHECKOUT_COMPLETED.as_bytes(),
        &header("checkout_session_completed"),
        late,
    );
    assert!(matches!(result, Err(WebhookError::Stale)), "{result:?}");
}

#[test]
fn a_signature_exactly_at_the_tolerance_is_accepted() {
    let edge = signed_at() + chrono::Duration::seconds(300);
    let result = current().verify(
        CHECKOUT_COMPLETED.as_bytes(),
        &header("checkout_session_completed"),
        edge,
    );
    assert!(result.is_ok(), "{result:?}");
}

#[test]
fn a_custom_tolerance_is_honoured() {
    let strict = StripeWebhooks::new(
        vec![SecretString::from(signatures().secret)],
        Duration::from_secs(10),
    );
    let result = strict.verify(
        CHECKOUT_COMPLETED.as_bytes(),
        &header("checkout_session_completed"),
        signed_at() + chrono::Duration::seconds(11),
    );
    assert!(matches!(result, Err(WebhookError::Stale)), "{result:?}");
}

#[test]
fn a_missing_or_garbled_header_is_a_missing_signature() {
    for header in ["", "   ", "v1=", "t=1795176000", "sha256=abc"] {
        let result = current().verify(CHECKOUT_COMPLETED.as_bytes(), header, signed_at());
        assert!(
            matches!(result, Err(WebhookError::MissingSignature)),
            "{header:?}: {result:?}"
        );
    }
}

#[test]
fn a_tampered_body_is_a_bad_signature() {
    let tampered = CHECKOUT_COMPLETED.replace("\"amount_total\": 1000", "\"amount_total\": 100000");
    assert_ne!(tampered, CHECKOUT_COMPLETED);
    let result = current().verify(
        tampered.as_bytes(),
        &header("checkout_session_completed"),
        signed_at(),
    );
    assert!(
        matches!(result, Err(WebhookError::BadSignature)),
        "{result:?}"
    );
}

#[test]
fn a_header_with_two_v1_values_is_accepted_when_one_matches() {
    let sigs = signatures();
    let header = sigs.checkout_session_completed_signed_with_both_secrets;
    assert_eq!(header.matches("v1=").count(), 2);
    // Only the current secret is configured: the first v1 matches nothing.
    let event = current()
        .verify(CHECKOUT_COMPLETED.as_bytes(), &header, signed_at())
        .unwrap();
    assert_eq!(event, paid("evt_1QaskgateFixture0001", true));

    let result =
        webhooks(&["whsec_neither"]).verify(CHECKOUT_COMPLETED.as_bytes(), &header, signed_at());
    assert!(
        matches!(result, Err(WebhookError::BadSignature)),
        "{result:?}"
    );
}

#[test]
fn during_a_rotation_events_signed_with_either_secret_verify() {
    let sigs = signatures();
    let rotating = webhooks(&[&sigs.secret, &sigs.previous_secret]);
    for header in [
        sigs.headers["checkout_session_completed"].as_str(),
        sigs.checkout_session_completed_signed_with_previous_secret
            .as_str(),
    ] {
        let event = rotating
            .verify(CHECKOUT_COMPLETED.as_bytes(), header, signed_at())
            .unwrap();
        assert_eq!(event, paid("evt_1QaskgateFixture0001", true));
    }

    // Once the previous secret is dropped, its signatures are refused.
    let result = current().verify(
        CHECKOUT_COMPLETED.as_bytes(),
        &sigs.checkout_session_completed_signed_with_previous_secret,
        signed_at(),
    );
    assert!(
        matches!(result, Err(WebhookError::BadSignature)),
        "{result:?}"
    );
}
