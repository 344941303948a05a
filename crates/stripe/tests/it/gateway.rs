//! The Stripe API calls against a local fake (wiremock) answering with
//! Stripe's documented object shapes (fixtures/api/).

use std::collections::HashMap;

use askgate_domain::UserId;
use askgate_domain::ledger::IdempotencyKey;
use askgate_domain::ledger::RefundShare;
use askgate_domain::package::TokenPackage;
use askgate_domain::payment::{
    CheckoutRequest, DisputeStatus, PaidPayment, PaymentIntentId, PaymentIntentRequest,
    PaymentRequestKind, PaymentStanding, ProviderIdempotencyKey,
};
use askgate_domain::ports::{PaymentError, PaymentGateway};
use askgate_stripe::{PriceIds, StripeConfig, StripeGateway};
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PAYMENT_INTENT: &str = include_str!("../../fixtures/api/payment_intent.json");
const CHECKOUT_SESSION: &str = include_str!("../../fixtures/api/checkout_session.json");
const CARD_ERROR: &str = include_str!("../../fixtures/api/card_error.json");
const INVALID_REQUEST_ERROR: &str = include_str!("../../fixtures/api/invalid_request_error.json");
const API_ERROR: &str = include_str!("../../fixtures/api/api_error.json");

const SECRET_KEY: &str = "sk_test_51AskgateFixtureKeyDoNotUse0123456789";
const USER_ID: &str = "0192f0c4-5b1a-7c3e-9d2f-4a6b8c0d1e2f";

fn user() -> UserId {
    USER_ID.parse().unwrap()
}

fn gateway(server: &MockServer, prices: PriceIds) -> StripeGateway {
    StripeGateway::new(StripeConfig {
        secret_key: SecretString::from(SECRET_KEY.to_owned()),
        api_base: Some(server.uri().parse().unwrap()),
        prices,
    })
    .unwrap()
}

fn json_body(raw: &str) -> Value {
    serde_json::from_str(raw).unwrap()
}

/// The form fields of the only request the fake received.
async fn sent_form(server: &MockServer) -> (HashMap<String, String>, wiremock::Request) {
    let mut requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1, "exactly one request to Stripe");
    let request = requests.remove(0);
    let form = url::form_urlencoded::parse(&request.body)
        .into_owned()
        .collect();
    (form, request)
}

/// The key askgate derives for `kind` with the client's key `client`.
fn provider_key(
    kind: PaymentRequestKind,
    package: TokenPackage,
    client: &str,
) -> ProviderIdempotencyKey {
    ProviderIdempotencyKey::derive(
        kind,
        user(),
        package,
        Some(&IdempotencyKey::parse(client).unwrap()),
    )
    .unwrap()
}

fn intent_key() -> ProviderIdempotencyKey {
    provider_key(
        PaymentRequestKind::PaymentIntent,
        TokenPackage::Small,
        "7f3c2a10",
    )
}

fn checkout_key() -> ProviderIdempotencyKey {
    provider_key(
        PaymentRequestKind::Checkout,
        TokenPackage::Medium,
        "5e1d9b77",
    )
}

fn intent_request(package: TokenPackage) -> PaymentIntentRequest {
    PaymentIntentRequest {
        user: user(),
        package,
        idempotency_key: provider_key(PaymentRequestKind::PaymentIntent, package, "7f3c2a10"),
    }
}

fn checkout_request(email: Option<&str>) -> CheckoutRequest {
    CheckoutRequest {
        user: user(),
        email: email.map(str::to_owned),
        package: TokenPackage::Medium,
        success_url:
            "https://askgate.example.com/purchase/success?session_id={CHECKOUT_SESSION_ID}"
                .to_owned(),
        cancel_url: "https://askgate.example.com/purchase/cancel".to_owned(),
        idempotency_key: checkout_key(),
    }
}

#[tokio::test]
async fn create_payment_intent_sends_the_package_price_metadata_and_idempotency_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .and(header("idempotency-key", intent_key().as_str()))
        .and(header(
            "authorization",
            format!("Bearer {SECRET_KEY}").as_str(),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json_body(PAYMENT_INTENT)))
        .expect(1)
        .mount(&server)
        .await;

    let created = gateway(&server, PriceIds::default())
        .create_payment_intent(&intent_request(TokenPackage::Small))
        .await
        .unwrap();

    assert_eq!(created.payment_intent_id, "pi_3QaskgateCreated0001");
    assert_eq!(
        created.client_secret,
        "pi_3QaskgateCreated0001_secret_Xyz0123456789abcdef"
    );
    let (form, _) = sent_form(&server).await;
    assert_eq!(form["amount"], "500");
    assert_eq!(form["currency"], "usd");
    assert_eq!(form["metadata[user_id]"], USER_ID);
    assert_eq!(form["metadata[package]"], "100");
    assert_eq!(form["metadata[tokens]"], "100");
    assert_eq!(form["automatic_payment_methods[enabled]"], "true");
}

#[tokio::test]
async fn create_payment_intent_charges_each_package_its_own_price() {
    for (package, amount, tokens) in [
        (TokenPackage::Medium, "1000", "250"),
        (TokenPackage::Large, "2000", "600"),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/payment_intents"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json_body(PAYMENT_INTENT)))
            .mount(&server)
            .await;
        gateway(&server, PriceIds::default())
            .create_payment_intent(&intent_request(package))
            .await
            .unwrap();
        let (form, _) = sent_form(&server).await;
        assert_eq!(form["amount"], amount);
        assert_eq!(form["metadata[package]"], package.id());
        assert_eq!(form["metadata[tokens]"], tokens);
    }
}

#[tokio::test]
async fn create_checkout_sends_mode_urls_metadata_and_inline_price_without_a_price_id() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .and(header("idempotency-key", checkout_key().as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json_body(CHECKOUT_SESSION)))
        .expect(1)
        .mount(&server)
        .await;

    let created = gateway(&server, PriceIds::default())
        .create_checkout(&checkout_request(Some("ada@example.com")))
        .await
        .unwrap();

    assert_eq!(
        created.id,
        "cs_test_b1C2d3E4f5G6h7I8j9K0lMnOpQrStUvWxYz9876543210zyxWV"
    );
    assert!(
        created
            .url
            .starts_with("https://checkout.stripe.com/c/pay/cs_test_b1C2d3E4"),
        "{}",
        created.url
    );
    let (form, _) = sent_form(&server).await;
    let expected = [
        ("mode", "payment"),
        (
            "success_url",
            "https://askgate.example.com/purchase/success?session_id={CHECKOUT_SESSION_ID}",
        ),
        ("cancel_url", "https://askgate.example.com/purchase/cancel"),
        ("client_reference_id", USER_ID),
        ("customer_email", "ada@example.com"),
        ("metadata[user_id]", USER_ID),
        ("metadata[package]", "250"),
        ("metadata[tokens]", "250"),
        ("payment_intent_data[metadata][user_id]", USER_ID),
        ("payment_intent_data[metadata][package]", "250"),
        ("payment_intent_data[metadata][tokens]", "250"),
        ("line_items[0][quantity]", "1"),
        ("line_items[0][price_data][currency]", "usd"),
        ("line_items[0][price_data][unit_amount]", "1000"),
        (
            "line_items[0][price_data][product_data][name]",
            "askgate — 250 tokens",
        ),
    ];
    for (key, value) in expected {
        assert_eq!(form.get(key).map(String::as_str), Some(value), "{key}");
    }
    assert!(!form.contains_key("line_items[0][price]"));
}

#[tokio::test]
async fn create_checkout_uses_the_configured_price_id() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json_body(CHECKOUT_SESSION)))
        .mount(&server)
        .await;
    let prices = PriceIds {
        price_250: Some("price_1QaskgateTwoFifty".to_owned()),
        ..PriceIds::default()
    };

    gateway(&server, prices)
        .create_checkout(&checkout_request(None))
        .await
        .unwrap();

    let (form, _) = sent_form(&server).await;
    assert_eq!(form["line_items[0][price]"], "price_1QaskgateTwoFifty");
    assert_eq!(form["line_items[0][quantity]"], "1");
    assert!(!form.keys().any(|k| k.contains("price_data")), "{form:?}");
    assert!(!form.contains_key("customer_email"));
}

#[tokio::test]
async fn a_declined_card_or_invalid_request_is_rejected_with_stripes_message() {
    for (status, body, message) in [
        (402, CARD_ERROR, "Your card was declined."),
        (400, INVALID_REQUEST_ERROR, "Invalid integer: abc"),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(status).set_body_json(json_body(body)))
            .mount(&server)
            .await;
        let gateway = gateway(&server, PriceIds::default());

        let intent = gateway
            .create_payment_intent(&intent_request(TokenPackage::Small))
            .await;
        assert!(
            matches!(&intent, Err(PaymentError::Rejected(m)) if m == message),
            "{status}: {intent:?}"
        );
        let checkout = gateway.create_checkout(&checkout_request(None)).await;
        assert!(
            matches!(&checkout, Err(PaymentError::Rejected(m)) if m == message),
            "{status}: {checkout:?}"
        );
    }
}

#[tokio::test]
async fn a_rejection_never_repeats_the_secret_key() {
    let server = MockServer::start().await;
    let body = json!({"error": {
        "message": format!("Invalid API Key provided: {SECRET_KEY}"),
        "type": "invalid_request_error"
    }});
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_json(body))
        .mount(&server)
        .await;

    let result = gateway(&server, PriceIds::default())
        .create_payment_intent(&intent_request(TokenPackage::Small))
        .await;

    let Err(PaymentError::Rejected(message)) = result else {
        panic!("expected a rejection, got {result:?}");
    };
    assert!(!message.contains(SECRET_KEY), "{message}");
    assert!(message.starts_with("Invalid API Key provided"), "{message}");
}

#[tokio::test]
async fn stripe_failing_or_rate_limiting_is_unavailable() {
    for (status, body) in [
        (500, json_body(API_ERROR)),
        (503, json!({})),
        (
            429,
            json!({"error": {"message": "Too many requests", "type": "invalid_request_error", "code": "rate_limit"}}),
        ),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(status).set_body_json(body))
            .mount(&server)
            .await;
        let result = gateway(&server, PriceIds::default())
            .create_checkout(&checkout_request(None))
            .await;
        assert!(
            matches!(result, Err(PaymentError::Unavailable(_))),
            "{status}: {result:?}"
        );
    }
}

#[tokio::test]
async fn an_unreachable_stripe_is_unavailable() {
    // A port nothing listens on (wiremock keeps dropped servers alive in a pool).
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let api_base = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let gateway = StripeGateway::new(StripeConfig {
        secret_key: SecretString::from(SECRET_KEY.to_owned()),
        api_base: Some(api_base.parse().unwrap()),
        prices: PriceIds::default(),
    })
    .unwrap();

    let result = gateway
        .create_payment_intent(&intent_request(TokenPackage::Small))
        .await;

    let Err(PaymentError::Unavailable(cause)) = result else {
        panic!("expected unavailable, got {result:?}");
    };
    assert!(!cause.to_string().contains(SECRET_KEY));
}

/// A PaymentIntent as Stripe lists it, with the given id, status and buyer.
fn listed_intent(id: &str, status: &str, amount: i64, package: &str, created: i64) -> Value {
    let mut intent = json_body(PAYMENT_INTENT);
    intent["id"] = json!(id);
    intent["client_secret"] = json!(format!("{id}_secret_listed"));
    intent["status"] = json!(status);
    intent["amount"] = json!(amount);
    intent["amount_received"] = json!(if status == "succeeded" { amount } else { 0 });
    intent["created"] = json!(created);
    intent["metadata"] = json!({"user_id": USER_ID, "package": package, "tokens": package});
    intent
}

fn list_page(data: Vec<Value>, has_more: bool) -> Value {
    json!({"object": "list", "data": data, "has_more": has_more, "url": "/v1/payment_intents"})
}

#[tokio::test]
async fn listing_follows_every_page_and_keeps_only_succeeded_payments() {
    let server = MockServer::start().await;
    let since: DateTime<Utc> = DateTime::from_timestamp(1_794_916_800, 0).unwrap();
    let first = list_page(
        vec![
            listed_intent("pi_4", "succeeded", 2000, "600", 1_795_176_000),
            listed_intent("pi_3", "requires_payment_method", 500, "100", 1_795_100_000),
        ],
        true,
    );
    let second = list_page(
        vec![
            listed_intent("pi_2", "canceled", 1000, "250", 1_795_000_000),
            listed_intent("pi_1", "succeeded", 500, "100", 1_794_920_000),
        ],
        false,
    );
    Mock::given(method("GET"))
        .and(path("/v1/payment_intents"))
        .and(query_param("created[gte]", "1794916800"))
        .and(query_param_is_missing("starting_after"))
        .respond_with(ResponseTemplate::new(200).set_body_json(first))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/payment_intents"))
        .and(query_param("created[gte]", "1794916800"))
        .and(query_param("starting_after", "pi_3"))
        .respond_with(ResponseTemplate::new(200).set_body_json(second))
        .expect(1)
        .mount(&server)
        .await;

    let paid = gateway(&server, PriceIds::default())
        .succeeded_payments_since(since)
        .await
        .unwrap();

    let expected = |id: &str, amount: i64, package: &str, created: i64| PaidPayment {
        event_id: None,
        payment_intent_id: PaymentIntentId::parse(id).unwrap(),
        checkout_session_id: None,
        user: Some(user()),
        package: Some(package.to_owned()),
        amount_cents: amount,
        currency: "usd".to_owned(),
        created_at: DateTime::from_timestamp(created, 0),
        standing: PaymentStanding::default(),
    };
    assert_eq!(
        paid,
        vec![
            expected("pi_4", 2000, "600", 1_795_176_000),
            expected("pi_1", 500, "100", 1_794_920_000),
        ]
    );
}

#[tokio::test]
async fn a_listing_failure_is_not_a_partial_answer() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/payment_intents"))
        .and(query_param_is_missing("starting_after"))
        .respond_with(ResponseTemplate::new(200).set_body_json(list_page(
            vec![listed_intent(
                "pi_9",
                "succeeded",
                500,
                "100",
                1_795_176_000,
            )],
            true,
        )))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/payment_intents"))
        .and(query_param("starting_after", "pi_9"))
        .respond_with(ResponseTemplate::new(500).set_body_json(json_body(API_ERROR)))
        .mount(&server)
        .await;

    let result = gateway(&server, PriceIds::default())
        .succeeded_payments_since(DateTime::from_timestamp(0, 0).unwrap())
        .await;

    assert!(
        matches!(result, Err(PaymentError::Unavailable(_))),
        "{result:?}"
    );
}

const EVENT_CHARGE_REFUNDED: &str = include_str!("../../fixtures/events/charge_refunded.json");
const EVENT_DISPUTE_CREATED: &str =
    include_str!("../../fixtures/events/charge_dispute_created.json");

/// The charge of `intent`, as `expand[]=data.latest_charge` lists it.
fn charge_of(intent: &str, amount: i64, refunded_cents: i64, disputed: bool) -> Value {
    let mut charge = json_body(EVENT_CHARGE_REFUNDED)["data"]["object"].clone();
    charge["id"] = json!(format!("ch_{intent}"));
    charge["payment_intent"] = json!(intent);
    charge["amount"] = json!(amount);
    charge["amount_captured"] = json!(amount);
    charge["amount_refunded"] = json!(refunded_cents);
    charge["refunded"] = json!(refunded_cents >= amount);
    charge["disputed"] = json!(disputed);
    // Nested objects askgate does not read, left out as Stripe may.
    for field in ["payment_method_details", "outcome", "fraud_details"] {
        charge[field] = Value::Null;
    }
    charge
}

fn dispute_of(intent: &str, status: &str) -> Value {
    let mut dispute = json_body(EVENT_DISPUTE_CREATED)["data"]["object"].clone();
    dispute["id"] = json!(format!("du_{intent}"));
    dispute["charge"] = json!(format!("ch_{intent}"));
    dispute["payment_intent"] = json!(intent);
    dispute["status"] = json!(status);
    // What the API's dispute object has beyond the webhook fixture.
    dispute["evidence"]["enhanced_evidence"] = json!({});
    dispute["payment_method_details"]["card"]["network"] = json!("visa");
    dispute
}

#[tokio::test]
async fn listing_reads_each_payments_refunds_and_dispute_from_its_charge() {
    let server = MockServer::start().await;
    let with_charge = |id: &str, amount: i64, refunded: i64, disputed: bool| {
        let mut intent = listed_intent(id, "succeeded", amount, "600", 1_795_176_000);
        intent["latest_charge"] = charge_of(id, amount, refunded, disputed);
        intent
    };
    let unexpanded = {
        let mut intent = listed_intent("pi_plain", "succeeded", 500, "100", 1_795_176_000);
        intent["latest_charge"] = json!("ch_pi_plain");
        intent
    };
    Mock::given(method("GET"))
        .and(path("/v1/payment_intents"))
        .and(query_param("expand[0]", "data.latest_charge"))
        .respond_with(ResponseTemplate::new(200).set_body_json(list_page(
            vec![
                with_charge("pi_clean", 2000, 0, false),
                with_charge("pi_quarter", 2000, 500, false),
                with_charge("pi_full", 2000, 2000, false),
                with_charge("pi_won", 2000, 0, true),
                with_charge("pi_lost", 2000, 0, true),
                with_charge("pi_open", 2000, 0, true),
                unexpanded,
            ],
            false,
        )))
        .expect(1)
        .mount(&server)
        .await;
    for (intent, status) in [
        ("pi_won", "won"),
        ("pi_lost", "lost"),
        ("pi_open", "needs_response"),
    ] {
        Mock::given(method("GET"))
            .and(path("/v1/disputes"))
            .and(query_param("payment_intent", intent))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "object": "list", "data": [dispute_of(intent, status)], "has_more": false, "url": "/v1/disputes"
            })))
            .expect(1)
            .mount(&server)
            .await;
    }

    let paid = gateway(&server, PriceIds::default())
        .succeeded_payments_since(DateTime::from_timestamp(1_794_000_000, 0).unwrap())
        .await
        .unwrap();

    let standing: Vec<(&str, PaymentStanding)> = paid
        .iter()
        .map(|p| (p.payment_intent_id.as_str(), p.standing))
        .collect();
    let share = |refunded_cents| {
        Some(RefundShare {
            refunded_cents,
            paid_cents: 2000,
        })
    };
    let standing_of = |refunded, dispute| PaymentStanding { refunded, dispute };
    assert_eq!(
        standing,
        [
            ("pi_clean", standing_of(None, None)),
            ("pi_quarter", standing_of(share(500), None)),
            ("pi_full", standing_of(share(2000), None)),
            ("pi_won", standing_of(None, Some(DisputeStatus::Won))),
            ("pi_lost", standing_of(None, Some(DisputeStatus::Lost))),
            ("pi_open", standing_of(None, Some(DisputeStatus::Open))),
            ("pi_plain", standing_of(None, None)),
        ]
    );
}
