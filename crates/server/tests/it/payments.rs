//! Buying tokens over real HTTP against a fresh real database, with Stripe's
//! API played by wiremock (objects shaped like crates/stripe/fixtures/api) and
//! webhooks signed here the way Stripe signs them:
//! `Stripe-Signature: t=<unix>,v1=hex(HMAC-SHA256(secret, "<t>.<body>"))`.

use std::collections::HashMap;
use std::time::Duration;

use crate::support::{Reply, TestApp};
use askgate_domain::UserId;
use askgate_postgres::testing::{TestDatabase, spend};
use askgate_server::cli::ReconcileArgs;
use askgate_server::commands;
use futures::future::join_all;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const STRIPE_KEY: &str = "sk_test_askgate_payments";
const WEBHOOK_SECRET: &str = "whsec_askgate_payments_current";
const PREVIOUS_WEBHOOK_SECRET: &str = "whsec_askgate_payments_previous";
const PUBLISHABLE_KEY: &str = "pk_test_askgate_payments";
const PUBLIC_BASE_URL: &str = "http://localhost:8080";

const CHECKOUT_FIXTURE: &str = include_str!("../../../stripe/fixtures/api/checkout_session.json");
const INTENT_FIXTURE: &str = include_str!("../../../stripe/fixtures/api/payment_intent.json");
const CARD_ERROR_FIXTURE: &str = include_str!("../../../stripe/fixtures/api/card_error.json");
const EVENT_CHECKOUT_COMPLETED: &str =
    include_str!("../../../stripe/fixtures/events/checkout_session_completed.json");
const EVENT_INTENT_SUCCEEDED: &str =
    include_str!("../../../stripe/fixtures/events/payment_intent_succeeded.json");
const EVENT_CHARGE_REFUNDED: &str =
    include_str!("../../../stripe/fixtures/events/charge_refunded.json");
const EVENT_DISPUTE_CREATED: &str =
    include_str!("../../../stripe/fixtures/events/charge_dispute_created.json");
const EVENT_CUSTOMER_CREATED: &str =
    include_str!("../../../stripe/fixtures/events/customer_created.json");

/// Stripe's API played by wiremock, beside askgate.
pub(crate) type Shop = TestApp<MockServer>;

/// askgate with payments on, Stripe's API at a fresh wiremock.
async fn spawn() -> Shop {
    spawn_shop(&[]).await
}

/// Like [`spawn`], with more settings.
pub(crate) async fn spawn_shop(more: &[(&str, &str)]) -> Shop {
    let stripe = MockServer::start().await;
    let api_base = stripe.uri();
    let secrets = format!("{WEBHOOK_SECRET},{PREVIOUS_WEBHOOK_SECRET}");
    let mut pairs = vec![
        ("STRIPE_SECRET_KEY", STRIPE_KEY),
        ("STRIPE_WEBHOOK_SECRET", secrets.as_str()),
        ("STRIPE_PUBLISHABLE_KEY", PUBLISHABLE_KEY),
        ("STRIPE_API_BASE", api_base.as_str()),
    ];
    pairs.extend_from_slice(more);
    spawn_with(stripe, &pairs).await
}

/// askgate without any Stripe configuration.
async fn spawn_without_payments() -> Shop {
    spawn_with(MockServer::start().await, &[]).await
}

async fn spawn_with(stripe: MockServer, stripe_pairs: &[(&str, &str)]) -> Shop {
    let db = TestDatabase::with_max_connections(8).await;
    TestApp::spawn_on(db, &shop_settings(stripe_pairs))
        .await
        .with_peer(stripe)
}

/// `stripe_pairs` and the pool and public URL of these tests.
fn shop_settings<'a>(stripe_pairs: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut pairs: Vec<(&str, &str)> = stripe_pairs.to_vec();
    pairs.extend([
        ("DATABASE_MAX_CONNECTIONS", "6"),
        ("PUBLIC_BASE_URL", PUBLIC_BASE_URL),
    ]);
    pairs
}

impl Shop {
    fn stripe(&self) -> &MockServer {
        &self.peer
    }

    /// Delivers a webhook body with the given `Stripe-Signature` (or none).
    async fn deliver(&self, body: &str, signature: Option<&str>) -> Reply {
        let mut req = self
            .client
            .post(self.url("/api/webhook/stripe"))
            .header("Content-Type", "application/json")
            .body(body.to_owned());
        if let Some(signature) = signature {
            req = req.header("Stripe-Signature", signature);
        }
        self.send(req).await
    }

    /// Delivers `event` signed now with the endpoint's current secret.
    pub(crate) async fn deliver_signed(&self, event: &Value) -> Reply {
        let body = serde_json::to_string_pretty(event).unwrap();
        let signature = stripe_signature(&body, WEBHOOK_SECRET, now());
        self.deliver(&body, Some(&signature)).await
    }

    /// Spends `n` tokens of `user` as chat requests would.
    async fn spend(&self, user: UserId, n: usize) {
        spend(&self.db.database(), user, n).await;
    }

    /// The form fields of every request Stripe's fake received at `path`.
    async fn stripe_requests(&self, at: &str) -> Vec<(HashMap<String, String>, wiremock::Request)> {
        self.stripe()
            .received_requests()
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.url.path() == at)
            .map(|r| {
                let form = url::form_urlencoded::parse(&r.body).into_owned().collect();
                (form, r)
            })
            .collect()
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}

/// Stripe's scheme: `t=<unix>,v1=hex(HMAC-SHA256(secret, "<t>.<body>"))`.
fn stripe_signature(body: &str, secret: &str, timestamp: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.{body}").as_bytes());
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

fn fixture(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// A payment askgate started: the buyer, package and amount Stripe reports.
pub(crate) struct Payment {
    intent: String,
    checkout: String,
    user: UserId,
    package: &'static str,
    amount_cents: i64,
}

impl Payment {
    pub(crate) fn new(user: UserId, package: &'static str, amount_cents: i64) -> Self {
        Self {
            intent: unique("pi_3Qtest"),
            checkout: unique("cs_test"),
            user,
            package,
            amount_cents,
        }
    }

    fn metadata(&self) -> Value {
        json!({ "user_id": self.user.to_string(), "package": self.package, "tokens": self.package })
    }

    fn checkout_completed(&self) -> Value {
        let mut event = fixture(EVENT_CHECKOUT_COMPLETED);
        event["id"] = json!(unique("evt"));
        let session = &mut event["data"]["object"];
        session["id"] = json!(self.checkout);
        session["payment_intent"] = json!(self.intent);
        session["client_reference_id"] = json!(self.user.to_string());
        session["metadata"] = self.metadata();
        session["amount_total"] = json!(self.amount_cents);
        session["amount_subtotal"] = json!(self.amount_cents);
        event
    }

    pub(crate) fn intent_succeeded(&self) -> Value {
        let mut event = fixture(EVENT_INTENT_SUCCEEDED);
        event["id"] = json!(unique("evt"));
        let intent = &mut event["data"]["object"];
        intent["id"] = json!(self.intent);
        intent["metadata"] = self.metadata();
        intent["amount"] = json!(self.amount_cents);
        intent["amount_received"] = json!(self.amount_cents);
        event
    }

    pub(crate) fn refunded(&self) -> Value {
        let mut event = fixture(EVENT_CHARGE_REFUNDED);
        event["id"] = json!(unique("evt"));
        event["data"]["object"]["payment_intent"] = json!(self.intent);
        event
    }

    /// `charge.refunded` with `refunded_cents` of the charge refunded so far.
    fn partly_refunded(&self, refunded_cents: i64) -> Value {
        let mut event = self.refunded();
        event["data"]["object"]["amount"] = json!(self.amount_cents);
        event["data"]["object"]["amount_refunded"] = json!(refunded_cents);
        event["data"]["object"]["refunded"] = json!(refunded_cents >= self.amount_cents);
        event
    }

    pub(crate) fn disputed(&self) -> Value {
        let mut event = fixture(EVENT_DISPUTE_CREATED);
        event["id"] = json!(unique("evt"));
        event["data"]["object"]["payment_intent"] = json!(self.intent);
        event
    }

    /// `charge.dispute.closed` with the dispute's final `status`.
    fn dispute_closed(&self, status: &str) -> Value {
        let mut event = self.disputed();
        event["type"] = json!("charge.dispute.closed");
        event["data"]["object"]["status"] = json!(status);
        event
    }

    fn funds_reinstated(&self) -> Value {
        let mut event = self.dispute_closed("won");
        event["type"] = json!("charge.dispute.funds_reinstated");
        event
    }

    /// The payment's charge as Stripe lists it, `refunded_cents` refunded so
    /// far, disputed or not.
    fn charge(&self, refunded_cents: i64, disputed: bool) -> Value {
        let mut charge = fixture(EVENT_CHARGE_REFUNDED)["data"]["object"].clone();
        charge["id"] = json!(format!("ch_{}", self.intent));
        charge["payment_intent"] = json!(self.intent);
        charge["amount"] = json!(self.amount_cents);
        charge["amount_captured"] = json!(self.amount_cents);
        charge["amount_refunded"] = json!(refunded_cents);
        charge["refunded"] = json!(refunded_cents >= self.amount_cents);
        charge["disputed"] = json!(disputed);
        charge["metadata"] = self.metadata();
        charge
    }

    /// The payment's dispute as Stripe's dispute list returns it.
    fn dispute(&self, status: &str) -> Value {
        let mut dispute = self.disputed()["data"]["object"].clone();
        dispute["id"] = json!(format!("du_{}", self.intent));
        dispute["charge"] = json!(format!("ch_{}", self.intent));
        dispute["status"] = json!(status);
        dispute["evidence"]["enhanced_evidence"] = json!({});
        dispute["payment_method_details"]["card"]["network"] = json!("visa");
        dispute
    }

    /// The PaymentIntent as listed with its charge expanded.
    fn listed_with_charge(&self, refunded_cents: i64, disputed: bool) -> Value {
        let mut intent = self.succeeded_intent();
        intent["latest_charge"] = self.charge(refunded_cents, disputed);
        intent
    }

    /// The PaymentIntent as Stripe's list endpoint returns it once paid.
    fn succeeded_intent(&self) -> Value {
        let mut intent = fixture(INTENT_FIXTURE);
        intent["id"] = json!(self.intent);
        intent["metadata"] = self.metadata();
        intent["amount"] = json!(self.amount_cents);
        intent["amount_received"] = json!(self.amount_cents);
        intent["status"] = json!("succeeded");
        intent["client_secret"] = json!(format!("{}_secret_test", self.intent));
        intent
    }
}

fn outcomes(replies: &[Reply]) -> Vec<String> {
    replies
        .iter()
        .map(|Reply { status, body, .. }| {
            assert_eq!(*status, StatusCode::OK, "{body}");
            assert_eq!(body["received"], true, "{body}");
            body["outcome"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// Delivers each event signed, in order, and checks that askgate received it
/// with the outcome beside it; the replies.
async fn deliver_in_order<const N: usize>(app: &Shop, events: [(Value, &str); N]) -> Vec<Reply> {
    let mut replies = Vec::with_capacity(N);
    for (event, _) in &events {
        replies.push(app.deliver_signed(event).await);
    }
    let expected: Vec<&str> = events.iter().map(|(_, outcome)| *outcome).collect();
    assert_eq!(outcomes(&replies), expected);
    replies
}

fn purchases_in(history: &[Value]) -> Vec<&Value> {
    history.iter().filter(|t| t["type"] == "purchase").collect()
}

#[tokio::test]
async fn the_same_event_delivered_ten_times_at_once_credits_once() {
    let app = spawn().await;
    let (token, user) = app.sign_in_id("ten@example.com").await;
    let payment = Payment::new(user, "250", 1000);
    let body = serde_json::to_string_pretty(&payment.intent_succeeded()).unwrap();
    let signature = stripe_signature(&body, WEBHOOK_SECRET, now());

    let replies = join_all((0..10).map(|_| app.deliver(&body, Some(&signature)))).await;

    let mut outcomes = outcomes(&replies);
    outcomes.sort();
    assert_eq!(outcomes.iter().filter(|o| *o == "credited").count(), 1);
    assert!(
        outcomes
            .iter()
            .all(|o| o == "credited" || o == "duplicate_event"),
        "{outcomes:?}"
    );
    assert_eq!(app.balance(&token).await, 250);
    let history = app.history(&token).await;
    let purchases = purchases_in(&history);
    assert_eq!(purchases.len(), 1);
    assert_eq!(purchases[0]["amount"], 250);
    assert_eq!(purchases[0]["stripe_payment_intent_id"], payment.intent);
    app.db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn payment_intent_succeeded_then_checkout_completed_credits_once() {
    let app = spawn().await;
    let (token, user) = app.sign_in_id("pi-first@example.com").await;
    let payment = Payment::new(user, "100", 500);

    let replies = deliver_in_order(
        &app,
        [
            (payment.intent_succeeded(), "credited"),
            (payment.checkout_completed(), "already_credited"),
        ],
    )
    .await;

    assert_eq!(replies[0].body["tokens"], 100);
    assert_eq!(app.balance(&token).await, 100);
    assert_eq!(purchases_in(&app.history(&token).await).len(), 1);
    app.db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn checkout_completed_then_payment_intent_succeeded_credits_once() {
    let app = spawn().await;
    let (token, user) = app.sign_in_id("cs-first@example.com").await;
    let payment = Payment::new(user, "600", 2000);

    deliver_in_order(
        &app,
        [
            (payment.checkout_completed(), "credited"),
            (payment.intent_succeeded(), "already_credited"),
        ],
    )
    .await;

    assert_eq!(app.balance(&token).await, 600);
    assert_eq!(purchases_in(&app.history(&token).await).len(), 1);
    app.db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn a_paid_amount_that_does_not_match_the_package_credits_nothing() {
    let app = spawn().await;
    let (token, user) = app.sign_in_id("cheap@example.com").await;
    // Metadata promises 600 tokens, but only $5 was paid.
    let payment = Payment::new(user, "600", 500);
    let mut in_euros = Payment::new(user, "100", 500).intent_succeeded();
    in_euros["data"]["object"]["currency"] = json!("eur");

    let replies = deliver_in_order(
        &app,
        [
            (payment.checkout_completed(), "mismatch"),
            (payment.intent_succeeded(), "mismatch"),
            (in_euros, "mismatch"),
        ],
    )
    .await;
    assert!(
        replies[0].body["reason"]
            .as_str()
            .unwrap()
            .contains("costs 2000"),
        "{}",
        replies[0].body
    );
    assert_eq!(app.balance(&token).await, 0);
    assert!(app.history(&token).await.is_empty());
    app.db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn a_payment_for_a_user_who_no_longer_exists_is_answered_200_once_and_counted() {
    const METRICS_TOKEN: &str = "payments-metrics-token-0123456789";
    let stripe = MockServer::start().await;
    let api_base = stripe.uri();
    // Counted: no other test may orphan a payment between the two readings.
    let db = TestDatabase::with_max_connections(8).await;
    let app = TestApp::counting_on(
        db,
        &shop_settings(&[
            ("STRIPE_SECRET_KEY", STRIPE_KEY),
            ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
            ("STRIPE_API_BASE", &api_base),
            ("METRICS_TOKEN", METRICS_TOKEN),
        ]),
    )
    .await
    .with_peer(stripe);
    let orphaned = async || {
        let text = app
            .client
            .get(app.url("/metrics"))
            .bearer_auth(METRICS_TOKEN)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("askgate_payments_orphaned_total "))
            .map_or(0.0, |v| v.trim().parse::<f64>().unwrap())
    };
    let before = orphaned().await;
    // The buyer was deleted after starting the checkout.
    let payment = Payment::new(UserId::generate(), "100", 500);
    let completed = payment.checkout_completed();

    // Final answers: Stripe stops retrying, and a second event for the same
    // payment neither credits nor fails.
    deliver_in_order(
        &app,
        [
            (completed.clone(), "orphaned"),
            (completed, "duplicate_event"),
            (payment.intent_succeeded(), "orphaned"),
        ],
    )
    .await;
    assert_eq!(orphaned().await - before, 1.0);
    app.db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn a_refund_after_partial_spending_takes_back_only_the_unspent_tokens() {
    let app = spawn().await;
    let (token, user) = app.sign_in_id("refund@example.com").await;
    let payment = Payment::new(user, "100", 500);
    app.deliver_signed(&payment.checkout_completed()).await;
    app.spend(user, 30).await;
    let refund = payment.refunded();

    let replies = deliver_in_order(
        &app,
        [
            (refund.clone(), "reversed"),
            // Stripe redelivers; a dispute of the refunded charge follows.
            (refund, "duplicate_event"),
            (payment.disputed(), "nothing_to_reverse"),
        ],
    )
    .await;
    assert_eq!(replies[0].body["tokens"], 70);
    assert_eq!(app.balance(&token).await, 0);
    let history = app.history(&token).await;
    let reversal = history.iter().find(|t| t["type"] == "reversal").unwrap();
    assert_eq!(reversal["amount"], -70);
    assert_eq!(reversal["balance_after"], 0);
    assert_eq!(reversal["stripe_payment_intent_id"], payment.intent);
    assert_eq!(reversal["metadata"]["reason"], "refund");
    assert_eq!(reversal["metadata"]["shortfall"], 30);
    app.db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn partial_refunds_take_back_their_share_and_the_full_refund_the_rest() {
    let app = spawn().await;
    let (token, user) = app.sign_in_id("partial@example.com").await;
    let payment = Payment::new(user, "600", 2000);
    app.deliver_signed(&payment.checkout_completed()).await;
    let quarter = payment.partly_refunded(500);

    let replies = deliver_in_order(
        &app,
        [
            (quarter.clone(), "reversed"),
            (quarter, "duplicate_event"),
            (payment.partly_refunded(1000), "reversed"),
            (payment.partly_refunded(2000), "reversed"),
        ],
    )
    .await;
    let taken: Vec<_> = replies
        .iter()
        .map(|reply| reply.body["tokens"].clone())
        .collect();
    assert_eq!(taken, [json!(150), Value::Null, json!(150), json!(300)]);
    assert_eq!(app.balance(&token).await, 0);
    let history = app.history(&token).await;
    let first = history
        .iter()
        .rev()
        .find(|t| t["type"] == "reversal")
        .unwrap();
    assert_eq!(first["metadata"]["refunded_cents"], 500);
    assert_eq!(first["metadata"]["paid_cents"], 2000);
    app.db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn a_dispute_takes_back_the_unspent_tokens_once() {
    let app = spawn().await;
    let (token, user) = app.sign_in_id("dispute@example.com").await;
    let payment = Payment::new(user, "250", 1000);
    app.deliver_signed(&payment.intent_succeeded()).await;
    app.spend(user, 50).await;

    let replies = deliver_in_order(
        &app,
        [
            (payment.disputed(), "reversed"),
            (payment.refunded(), "nothing_to_reverse"),
        ],
    )
    .await;
    assert_eq!(replies[0].body["tokens"], 200);
    assert_eq!(app.balance(&token).await, 0);
    let history = app.history(&token).await;
    let reversal = history.iter().find(|t| t["type"] == "reversal").unwrap();
    assert_eq!(reversal["metadata"]["reason"], "dispute");
    assert_eq!(reversal["metadata"]["shortfall"], 50);
    app.db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn a_refund_delivered_before_the_payment_takes_the_later_credit_back_at_once() {
    let app = spawn().await;
    let (token, user) = app.sign_in_id("early-refund@example.com").await;
    let payment = Payment::new(user, "600", 2000);

    let replies = deliver_in_order(
        &app,
        [
            (payment.refunded(), "nothing_to_reverse"),
            (payment.checkout_completed(), "credited_then_reversed"),
            // Another refund event and the payment's other events.
            (payment.refunded(), "nothing_to_reverse"),
            (payment.checkout_completed(), "already_credited"),
            (payment.intent_succeeded(), "already_credited"),
        ],
    )
    .await;
    assert!(replies.iter().all(|reply| reply.status == StatusCode::OK));
    assert_eq!(replies[1].body["tokens"], 600);
    assert_eq!(app.balance(&token).await, 0);
    let history = app.history(&token).await;
    let reversal = history.iter().find(|t| t["type"] == "reversal").unwrap();
    assert_eq!(reversal["amount"], -600);
    assert_eq!(reversal["metadata"]["reason"], "refund");
    app.db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn a_dispute_delivered_before_the_payment_takes_the_later_credit_back_at_once() {
    let app = spawn().await;
    let (token, user) = app.sign_in_id("early-dispute@example.com").await;
    let payment = Payment::new(user, "100", 500);

    deliver_in_order(
        &app,
        [
            (payment.disputed(), "nothing_to_reverse"),
            (payment.intent_succeeded(), "credited_then_reversed"),
        ],
    )
    .await;
    assert_eq!(app.balance(&token).await, 0);
    let history = app.history(&token).await;
    let reversal = history.iter().find(|t| t["type"] == "reversal").unwrap();
    assert_eq!(reversal["metadata"]["reason"], "dispute");
    app.db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn a_dispute_won_by_the_merchant_gives_back_what_it_took_once() {
    let app = spawn().await;
    let (token, user) = app.sign_in_id("dispute-won@example.com").await;
    let payment = Payment::new(user, "250", 1000);
    app.deliver_signed(&payment.intent_succeeded()).await;
    app.spend(user, 50).await;
    let won = payment.dispute_closed("won");

    let replies = deliver_in_order(
        &app,
        [
            (payment.disputed(), "reversed"),
            (won.clone(), "restored"),
            // Stripe redelivers, and says the funds came back.
            (won, "duplicate_event"),
            (payment.funds_reinstated(), "nothing_to_restore"),
            // A late copy of the dispute itself.
            (payment.disputed(), "nothing_to_reverse"),
        ],
    )
    .await;
    assert_eq!(replies[0].body["tokens"], 200);
    assert_eq!(replies[1].body["tokens"], 200);
    assert_eq!(app.balance(&token).await, 200);
    let history = app.history(&token).await;
    let restored: Vec<_> = history
        .iter()
        .filter(|t| t["type"] == "adjustment")
        .collect();
    assert_eq!(restored.len(), 1);
    assert_eq!(restored[0]["amount"], 200);
    assert_eq!(restored[0]["stripe_payment_intent_id"], payment.intent);
    assert_eq!(restored[0]["metadata"]["reason"], "dispute_won");
    app.db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn a_dispute_won_before_the_dispute_and_the_credit_arrive_leaves_the_tokens() {
    let app = spawn().await;
    let (token, user) = app.sign_in_id("won-first@example.com").await;
    let payment = Payment::new(user, "100", 500);

    deliver_in_order(
        &app,
        [
            (payment.dispute_closed("won"), "nothing_to_restore"),
            (payment.disputed(), "nothing_to_reverse"),
            (payment.checkout_completed(), "credited"),
        ],
    )
    .await;
    assert_eq!(app.balance(&token).await, 100);
    app.db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn a_dispute_won_after_it_came_before_the_credit_gives_the_tokens_back() {
    let app = spawn().await;
    let (token, user) = app.sign_in_id("won-late@example.com").await;
    let payment = Payment::new(user, "600", 2000);

    let replies = deliver_in_order(
        &app,
        [
            (payment.disputed(), "nothing_to_reverse"),
            (payment.intent_succeeded(), "credited_then_reversed"),
            (payment.dispute_closed("won"), "restored"),
        ],
    )
    .await;
    assert_eq!(replies[2].body["tokens"], 600);
    assert_eq!(app.balance(&token).await, 600);
    app.db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn a_lost_dispute_changes_nothing_further() {
    let app = spawn().await;
    let (token, user) = app.sign_in_id("dispute-lost@example.com").await;
    let payment = Payment::new(user, "100", 500);
    app.deliver_signed(&payment.checkout_completed()).await;

    deliver_in_order(
        &app,
        [
            (payment.disputed(), "reversed"),
            (payment.dispute_closed("lost"), "nothing_to_reverse"),
        ],
    )
    .await;
    assert_eq!(app.balance(&token).await, 0);
    app.db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn bad_stale_or_missing_signatures_are_refused_with_400_and_change_nothing() {
    let app = spawn().await;
    let (token, user) = app.sign_in_id("forger@example.com").await;
    let payment = Payment::new(user, "600", 2000);
    let body = serde_json::to_string_pretty(&payment.intent_succeeded()).unwrap();
    let good = stripe_signature(&body, WEBHOOK_SECRET, now());
    let tampered = body.replace("\"amount\": 2000", "\"amount\": 2001");
    let not_json = "this is not an event";

    for (body, signature, what) in [
        (
            body.as_str(),
            Some(stripe_signature(&body, "whsec_someone_else", now())),
            "wrong secret",
        ),
        (
            body.as_str(),
            Some(stripe_signature(&body, WEBHOOK_SECRET, now() - 600)),
            "ten minutes old",
        ),
        (
            body.as_str(),
            Some(stripe_signature(&body, WEBHOOK_SECRET, now() + 600)),
            "ten minutes ahead",
        ),
        (body.as_str(), None, "missing header"),
        (
            body.as_str(),
            Some("v1=deadbeef".to_owned()),
            "no timestamp",
        ),
        (body.as_str(), Some("garbage".to_owned()), "garbage header"),
        (
            tampered.as_str(),
            Some(good.clone()),
            "body changed after signing",
        ),
        (
            not_json,
            Some(stripe_signature(not_json, WEBHOOK_SECRET, now())),
            "signed but not an event",
        ),
    ] {
        let res = app.client.post(format!("{}/api/webhook/stripe", app.base));
        let res = match &signature {
            Some(s) => res.header("Stripe-Signature", s),
            None => res,
        };
        let res = res.body(body.to_owned()).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{what}");
        assert_eq!(
            res.headers()["content-type"],
            "application/problem+json",
            "{what}"
        );
        let problem: Value = res.json().await.unwrap();
        assert_eq!(problem["code"], "validation_failed", "{what}");
    }

    assert_eq!(app.balance(&token).await, 0);
    assert!(app.history(&token).await.is_empty());
    // The genuine delivery still credits: nothing above consumed the event.
    assert_eq!(
        outcomes(&[app.deliver(&body, Some(&good)).await]),
        ["credited"]
    );
    app.db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn an_event_signed_with_the_previous_secret_is_accepted_during_rotation() {
    let app = spawn().await;
    let (token, user) = app.sign_in_id("rotation@example.com").await;
    let body =
        serde_json::to_string_pretty(&Payment::new(user, "100", 500).intent_succeeded()).unwrap();

    let reply = app
        .deliver(
            &body,
            Some(&stripe_signature(&body, PREVIOUS_WEBHOOK_SECRET, now())),
        )
        .await;

    assert_eq!(outcomes(&[reply]), ["credited"]);
    assert_eq!(app.balance(&token).await, 100);
}

#[tokio::test]
async fn unknown_event_types_are_acknowledged_and_change_nothing() {
    let app = spawn().await;
    let (token, _) = app.sign_in_id("other@example.com").await;

    let reply = app.deliver_signed(&fixture(EVENT_CUSTOMER_CREATED)).await;

    assert_eq!(outcomes(&[reply]), ["ignored"]);
    assert_eq!(app.balance(&token).await, 0);
    app.db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn an_oversized_webhook_body_is_refused() {
    let app = spawn().await;
    let body = format!("{{\"pad\": \"{}\"}}", "x".repeat(300 * 1024));
    let signature = stripe_signature(&body, WEBHOOK_SECRET, now());

    let (status, problem) = app.deliver(&body, Some(&signature)).await.into_parts();

    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{problem}");
}

#[tokio::test]
async fn without_a_stripe_key_purchases_answer_503_and_the_rest_works() {
    let app = spawn_without_payments().await;
    let (token, user) = app.sign_in_id("nopay@example.com").await;

    for path in ["/api/create-payment-intent", "/api/checkout-session"] {
        let (status, problem) = app
            .post_with_key(path, Some(&token), &json!({ "package": "100" }), None)
            .await
            .into_parts();
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert_eq!(problem["code"], "unavailable", "{path}");
        assert_eq!(problem["detail"], "payments are not configured", "{path}");
    }
    let body = serde_json::to_string(&Payment::new(user, "100", 500).intent_succeeded()).unwrap();
    let (status, problem) = app
        .deliver(&body, Some(&stripe_signature(&body, WEBHOOK_SECRET, now())))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(problem["detail"], "payments are not configured");

    // Everything else works: packages, balance, history, and chat.
    app.grant("nopay@example.com", 2, "nopay-grant").await;
    let (status, answer) = app
        .post_with_key(
            "/api/askatt/chat",
            Some(&token),
            &json!({ "message": "hello" }),
            None,
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["tokens_remaining"], 1);
    let (status, packages) = app.get("/api/token-packages", None).await.into_parts();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(packages["packages"].as_array().unwrap().len(), 3);
    let (status, config) = app.get("/api/ui-config", None).await.into_parts();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(config["payments"], false);
    assert_eq!(config["stripe_publishable_key"], Value::Null);
    assert_eq!(app.balance(&token).await, 1);
    assert_eq!(app.history(&token).await.len(), 2);
    let (status, _) = app.get("/health/ready", None).await.into_parts();
    assert_eq!(status, StatusCode::OK);
    assert!(app.stripe().received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn with_payments_on_an_empty_balance_points_at_the_purchase_page_only() {
    let app = spawn().await;
    let (token, _) = app.sign_in_id("empty@example.com").await;

    let (status, problem) = app
        .post_with_key(
            "/api/askatt/chat",
            Some(&token),
            &json!({ "message": "hello" }),
            None,
        )
        .await
        .into_parts();

    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{problem}");
    assert_eq!(problem["purchase_url"], "/buy");
    assert_eq!(
        problem["detail"],
        "You have no tokens left. Buy more to continue."
    );
}

#[tokio::test]
async fn token_packages_are_public_and_priced() {
    let app = spawn().await;

    let (status, body) = app.get("/api/token-packages", None).await.into_parts();

    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({ "packages": [
            { "id": "100", "tokens": 100, "amount_cents": 500, "currency": "usd", "display_price": "$5.00" },
            { "id": "250", "tokens": 250, "amount_cents": 1000, "currency": "usd", "display_price": "$10.00" },
            { "id": "600", "tokens": 600, "amount_cents": 2000, "currency": "usd", "display_price": "$20.00" },
        ]})
    );
}

#[tokio::test]
async fn ui_config_serves_the_publishable_key_and_never_the_secret_key() {
    let app = spawn().await;

    let res = app
        .client
        .get(format!("{}/api/ui-config", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();

    let config: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        config,
        json!({
            "dev_login": true,
            "microsoft_login": false,
            "payments": true,
            "grant_locally": false,
            "low_balance_tokens": 5,
            "grant_command": null,
            "stripe_publishable_key": PUBLISHABLE_KEY,
        })
    );
    assert!(!text.contains(STRIPE_KEY) && !text.contains("whsec_"));
}

#[tokio::test]
async fn checkout_session_asks_stripe_for_the_package_and_the_success_page_sees_the_credit() {
    let app = spawn().await;
    let (token, user) = app.sign_in_id("buyer@example.com").await;
    let checkout_id = unique("cs_test");
    let mut session = fixture(CHECKOUT_FIXTURE);
    session["id"] = json!(checkout_id);
    session["url"] = json!(format!("https://checkout.stripe.com/c/pay/{checkout_id}"));
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&session))
        .expect(1)
        .mount(app.stripe())
        .await;

    let (status, created) = app
        .post_with_key(
            "/api/checkout-session",
            Some(&token),
            &json!({ "package": "250" }),
            Some("buy-250-once"),
        )
        .await
        .into_parts();

    assert_eq!(status, StatusCode::OK, "{created}");
    assert_eq!(
        created,
        json!({ "id": checkout_id, "url": format!("https://checkout.stripe.com/c/pay/{checkout_id}") })
    );
    let sent = app.stripe_requests("/v1/checkout/sessions").await;
    let (form, request) = &sent[0];
    let user_id = user.to_string();
    for (field, value) in [
        ("mode", "payment"),
        ("line_items[0][quantity]", "1"),
        ("line_items[0][price_data][currency]", "usd"),
        ("line_items[0][price_data][unit_amount]", "1000"),
        ("client_reference_id", user_id.as_str()),
        ("customer_email", "buyer@example.com"),
        ("metadata[user_id]", user_id.as_str()),
        ("metadata[package]", "250"),
        ("metadata[tokens]", "250"),
        ("payment_intent_data[metadata][user_id]", user_id.as_str()),
        ("payment_intent_data[metadata][package]", "250"),
        (
            "success_url",
            "http://localhost:8080/purchase/success?session_id={CHECKOUT_SESSION_ID}",
        ),
        ("cancel_url", "http://localhost:8080/purchase/cancel"),
    ] {
        assert_eq!(form.get(field).map(String::as_str), Some(value), "{field}");
    }
    let key = request.headers["idempotency-key"].to_str().unwrap();
    assert!(
        key.ends_with(":buy-250-once") && key.contains(&user_id),
        "{key}"
    );
    assert_eq!(
        request.headers["authorization"].to_str().unwrap(),
        format!("Bearer {STRIPE_KEY}")
    );

    // The success page polls: pending until Stripe's webhook arrives.
    let poll = format!("/api/purchases/{checkout_id}");
    assert_eq!(
        app.get(&poll, Some(&token)).await,
        (
            StatusCode::OK,
            json!({ "status": "pending", "tokens": 250, "balance": 0 })
        )
    );
    let payment = Payment {
        checkout: checkout_id.clone(),
        ..Payment::new(user, "250", 1000)
    };
    let reply = app.deliver_signed(&payment.checkout_completed()).await;
    assert_eq!(outcomes(&[reply]), ["credited"]);
    assert_eq!(
        app.get(&poll, Some(&token)).await,
        (
            StatusCode::OK,
            json!({ "status": "credited", "tokens": 250, "balance": 250 })
        )
    );

    // Someone else cannot see it; an unknown checkout looks the same.
    let (other, _) = app.sign_in_id("nosy@example.com").await;
    let (status, problem) = app.get(&poll, Some(&other)).await.into_parts();
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(problem["code"], "not_found");
    let (status, _) = app
        .get("/api/purchases/cs_test_unknown", Some(&token))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.get(&poll, None).await.into_parts();
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // And the purchase is in the buyer's history.
    let history = app.history(&token).await;
    let purchases = purchases_in(&history);
    assert_eq!(purchases.len(), 1);
    assert_eq!(purchases[0]["amount"], 250);
    assert_eq!(purchases[0]["balance_after"], 250);
    assert_eq!(purchases[0]["stripe_payment_intent_id"], payment.intent);
    assert_eq!(purchases[0]["metadata"]["checkout_session_id"], checkout_id);
    app.db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn an_async_payment_failure_shows_the_checkout_as_failed() {
    let app = spawn().await;
    let (token, user) = app.sign_in_id("slowbank@example.com").await;
    let checkout_id = unique("cs_test");
    let mut session = fixture(CHECKOUT_FIXTURE);
    session["id"] = json!(checkout_id);
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&session))
        .mount(app.stripe())
        .await;
    app.post_with_key(
        "/api/checkout-session",
        Some(&token),
        &json!({ "package": "100" }),
        None,
    )
    .await;
    let mut failed = Payment {
        checkout: checkout_id.clone(),
        ..Payment::new(user, "100", 500)
    }
    .checkout_completed();
    failed["type"] = json!("checkout.session.async_payment_failed");
    failed["data"]["object"]["payment_status"] = json!("unpaid");

    let reply = app.deliver_signed(&failed).await;

    assert_eq!(outcomes(&[reply]), ["checkout_failed"]);
    let (_, view) = app
        .get(&format!("/api/purchases/{checkout_id}"), Some(&token))
        .await
        .into_parts();
    assert_eq!(
        view,
        json!({ "status": "failed", "tokens": 100, "balance": 0 })
    );
    app.db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn create_payment_intent_returns_the_client_secret_under_the_clients_idempotency_key() {
    let app = spawn().await;
    let (token, user) = app.sign_in_id("elements@example.com").await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture(INTENT_FIXTURE)))
        .mount(app.stripe())
        .await;

    let (status, created) = app
        .post_with_key(
            "/api/create-payment-intent",
            Some(&token),
            &json!({ "package": "100" }),
            Some("retry-me"),
        )
        .await
        .into_parts();
    app.post_with_key(
        "/api/create-payment-intent",
        Some(&token),
        &json!({ "package": "100" }),
        Some("retry-me"),
    )
    .await;
    app.post_with_key(
        "/api/create-payment-intent",
        Some(&token),
        &json!({ "package": "100" }),
        None,
    )
    .await;
    app.post_with_key(
        "/api/create-payment-intent",
        Some(&token),
        &json!({ "package": "100" }),
        None,
    )
    .await;

    assert_eq!(status, StatusCode::OK, "{created}");
    assert_eq!(
        created,
        json!({
            "payment_intent_id": "pi_3QaskgateCreated0001",
            "client_secret": "pi_3QaskgateCreated0001_secret_Xyz0123456789abcdef",
        })
    );
    let sent = app.stripe_requests("/v1/payment_intents").await;
    assert_eq!(sent.len(), 4);
    let (form, _) = &sent[0];
    assert_eq!(form["amount"], "500");
    assert_eq!(form["currency"], "usd");
    assert_eq!(form["metadata[user_id]"], user.to_string());
    assert_eq!(form["metadata[package]"], "100");
    assert_eq!(form["metadata[tokens]"], "100");
    let keys: Vec<&str> = sent
        .iter()
        .map(|(_, r)| r.headers["idempotency-key"].to_str().unwrap())
        .collect();
    // A retry with the client's key reuses it; without one, each request is new.
    assert_eq!(keys[0], keys[1]);
    assert!(keys[0].ends_with(":retry-me"), "{}", keys[0]);
    assert_ne!(keys[2], keys[3]);
    assert_ne!(keys[2], keys[0]);
}

#[tokio::test]
async fn a_purchase_idempotency_key_too_long_to_pass_on_to_stripe_is_422_before_stripe_is_called() {
    let app = spawn().await;
    let (token, _) = app.sign_in_id("long-key@example.com").await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture(INTENT_FIXTURE)))
        .mount(app.stripe())
        .await;
    // 191 characters still fit in Stripe's 255 with askgate's prefix; 192 do
    // not, although a chat would take them.
    let (status, _) = app
        .post_with_key(
            "/api/create-payment-intent",
            Some(&token),
            &json!({ "package": "600" }),
            Some(&"k".repeat(191)),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK);
    for path in ["/api/create-payment-intent", "/api/checkout-session"] {
        let (status, problem) = app
            .post_with_key(
                path,
                Some(&token),
                &json!({ "package": "600" }),
                Some(&"k".repeat(192)),
            )
            .await
            .into_parts();
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path}: {problem}"
        );
        assert_eq!(problem["code"], "validation_failed");
        assert_eq!(problem["field"], "Idempotency-Key");
        assert_eq!(
            problem["detail"],
            "Idempotency-Key must be 1 to 191 visible ASCII characters."
        );
    }
    assert_eq!(app.stripe_requests("/v1/payment_intents").await.len(), 1);
    assert!(
        app.stripe_requests("/v1/checkout/sessions")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn purchase_requests_are_checked_before_stripe_is_called() {
    let app = spawn().await;
    let (token, _) = app.sign_in_id("typo@example.com").await;

    let (status, problem) = app
        .post_with_key(
            "/api/checkout-session",
            Some(&token),
            &json!({ "package": "99" }),
            None,
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["code"], "validation_failed");
    assert_eq!(problem["field"], "package");

    let (status, problem) = app
        .post_with_key(
            "/api/create-payment-intent",
            Some(&token),
            &json!({ "package": "100" }),
            Some("key with spaces"),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["field"], "Idempotency-Key");

    let res = app
        .client
        .post(format!("{}/api/create-payment-intent", app.base))
        .json(&json!({ "package": "100" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(app.stripe().received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_request_stripe_refuses_is_a_generic_502() {
    let app = spawn().await;
    let (token, _) = app.sign_in_id("declined@example.com").await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .respond_with(ResponseTemplate::new(402).set_body_string(CARD_ERROR_FIXTURE))
        .mount(app.stripe())
        .await;

    let (status, problem) = app
        .post_with_key(
            "/api/create-payment-intent",
            Some(&token),
            &json!({ "package": "600" }),
            None,
        )
        .await
        .into_parts();

    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(problem["code"], "upstream_failed");
    assert!(
        !problem.to_string().contains("declined"),
        "Stripe's message leaked: {problem}"
    );
}

#[tokio::test]
async fn reconcile_credits_a_missed_payment_once_however_often_it_runs() {
    let app = spawn().await;
    let (token, user) = app.sign_in_id("missed@example.com").await;
    let missed = Payment::new(user, "100", 500);
    let webhooked = Payment::new(user, "250", 1000);
    app.deliver_signed(&webhooked.intent_succeeded()).await;
    let mut unpaid = Payment::new(user, "600", 2000).succeeded_intent();
    unpaid["status"] = json!("requires_payment_method");
    unpaid["amount_received"] = json!(0);
    Mock::given(method("GET"))
        .and(path("/v1/payment_intents"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list",
            "url": "/v1/payment_intents",
            "has_more": false,
            "data": [missed.succeeded_intent(), webhooked.succeeded_intent(), unpaid],
        })))
        .mount(app.stripe())
        .await;
    let args = ReconcileArgs {
        since: Duration::from_secs(72 * 3600),
    };

    let first = commands::reconcile(&app.settings, args.clone())
        .await
        .unwrap();
    let second = commands::reconcile(&app.settings, args).await.unwrap();

    assert!(
        first.contains(&format!("{}: credited 100 tokens", missed.intent)),
        "{first}"
    );
    assert!(
        first.contains(&format!("{}: already credited", webhooked.intent)),
        "{first}"
    );
    assert!(
        second.contains(&format!("{}: already credited", missed.intent)),
        "{second}"
    );
    assert!(!second.contains("credited 100 tokens"), "{second}");
    assert_eq!(app.balance(&token).await, 350);
    assert_eq!(purchases_in(&app.history(&token).await).len(), 2);
    // The late webhook of the reconciled payment changes nothing either.
    assert_eq!(
        outcomes(&[app.deliver_signed(&missed.checkout_completed()).await]),
        ["already_credited"]
    );
    assert_eq!(app.balance(&token).await, 350);
    let listed = app.stripe_requests("/v1/payment_intents").await;
    let query: HashMap<String, String> = listed[0].1.url.query_pairs().into_owned().collect();
    let gte: i64 = query["created[gte]"].parse().unwrap();
    assert!((now() - 72 * 3600 - gte).abs() < 60, "{query:?}");
    app.db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn reconcile_after_a_refund_that_came_before_the_credit_leaves_nothing_spendable() {
    let app = spawn().await;
    let (token, user) = app.sign_in_id("reconcile-refunded@example.com").await;
    let refunded = Payment::new(user, "250", 1000);
    // The refund reached askgate; the payment's own events never did.
    assert_eq!(
        outcomes(&[app.deliver_signed(&refunded.refunded()).await]),
        ["nothing_to_reverse"]
    );
    Mock::given(method("GET"))
        .and(path("/v1/payment_intents"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list",
            "url": "/v1/payment_intents",
            "has_more": false,
            "data": [refunded.succeeded_intent()],
        })))
        .mount(app.stripe())
        .await;
    let args = ReconcileArgs {
        since: Duration::from_secs(72 * 3600),
    };

    let first = commands::reconcile(&app.settings, args.clone())
        .await
        .unwrap();
    let second = commands::reconcile(&app.settings, args).await.unwrap();

    assert!(
        first.contains(&format!(
            "{}: refunded or disputed before its credit",
            refunded.intent
        )),
        "{first}"
    );
    assert!(first.contains("0 credited now"), "{first}");
    assert!(
        second.contains(&format!("{}: already credited", refunded.intent)),
        "{second}"
    );
    assert_eq!(app.balance(&token).await, 0);
    app.db.assert_ledger_invariant().await;
}

/// Stripe's list endpoints for reconciliation: the payments (charges
/// expanded) and, per disputed payment, its disputes.
async fn stripe_lists(app: &Shop, intents: Vec<Value>, disputes: Vec<(&str, Value)>) {
    Mock::given(method("GET"))
        .and(path("/v1/payment_intents"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list",
            "url": "/v1/payment_intents",
            "has_more": false,
            "data": intents,
        })))
        .mount(app.stripe())
        .await;
    for (intent, dispute) in disputes {
        Mock::given(method("GET"))
            .and(path("/v1/disputes"))
            .and(wiremock::matchers::query_param("payment_intent", intent))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "object": "list",
                "url": "/v1/disputes",
                "has_more": false,
                "data": [dispute],
            })))
            .mount(app.stripe())
            .await;
    }
}

#[tokio::test]
async fn reconcile_never_credits_a_payment_stripe_shows_refunded_or_disputed() {
    let app = spawn().await;
    let (token, user) = app.sign_in_id("reconcile-reversed@example.com").await;
    // No webhook of any of these ever arrived.
    let refunded = Payment::new(user, "250", 1000);
    let quarter = Payment::new(user, "600", 2000);
    let disputed = Payment::new(user, "100", 500);
    let lost = Payment::new(user, "100", 500);
    let won = Payment::new(user, "100", 500);
    stripe_lists(
        &app,
        vec![
            refunded.listed_with_charge(1000, false),
            quarter.listed_with_charge(500, false),
            disputed.listed_with_charge(0, true),
            lost.listed_with_charge(0, true),
            won.listed_with_charge(0, true),
        ],
        vec![
            (disputed.intent.as_str(), disputed.dispute("needs_response")),
            (lost.intent.as_str(), lost.dispute("lost")),
            (won.intent.as_str(), won.dispute("won")),
        ],
    )
    .await;
    let args = ReconcileArgs {
        since: Duration::from_secs(72 * 3600),
    };

    let first = commands::reconcile(&app.settings, args.clone())
        .await
        .unwrap();
    let second = commands::reconcile(&app.settings, args).await.unwrap();

    for payment in [&refunded, &quarter, &disputed, &lost] {
        assert!(
            first.contains(&format!(
                "{}: refunded or disputed before its credit",
                payment.intent
            )),
            "{first}"
        );
    }
    assert!(
        first.contains(&format!("{}: credited 100 tokens", won.intent)),
        "{first}"
    );
    // The refunded quarter of 600 tokens is taken; the rest stays, as does
    // the payment whose dispute the merchant won.
    assert_eq!(app.balance(&token).await, 450 + 100);
    assert!(!second.contains("credited 100 tokens"), "{second}");
    assert!(!second.contains("taken back"), "{second}");
    assert_eq!(app.balance(&token).await, 550);
    // The webhooks arriving late change nothing.
    let late = [
        app.deliver_signed(&refunded.refunded()).await,
        app.deliver_signed(&refunded.intent_succeeded()).await,
        app.deliver_signed(&disputed.disputed()).await,
        app.deliver_signed(&won.disputed()).await,
    ];
    assert_eq!(
        outcomes(&late),
        [
            "nothing_to_reverse",
            "already_credited",
            "nothing_to_reverse",
            "nothing_to_reverse"
        ]
    );
    assert_eq!(app.balance(&token).await, 550);
    app.db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn reconcile_takes_back_a_credited_payment_whose_refund_webhook_never_came() {
    let app = spawn().await;
    let (token, user) = app.sign_in_id("reconcile-missed-refund@example.com").await;
    let payment = Payment::new(user, "600", 2000);
    let won = Payment::new(user, "250", 1000);
    app.deliver_signed(&payment.checkout_completed()).await;
    app.deliver_signed(&won.checkout_completed()).await;
    // The dispute of `won` reached askgate, its happy ending did not.
    app.deliver_signed(&won.disputed()).await;
    assert_eq!(app.balance(&token).await, 600);
    stripe_lists(
        &app,
        vec![
            payment.listed_with_charge(1000, false),
            won.listed_with_charge(0, true),
        ],
        vec![(won.intent.as_str(), won.dispute("won"))],
    )
    .await;
    let args = ReconcileArgs {
        since: Duration::from_secs(72 * 3600),
    };

    let first = commands::reconcile(&app.settings, args.clone())
        .await
        .unwrap();
    let second = commands::reconcile(&app.settings, args).await.unwrap();

    assert!(
        first.contains(&format!(
            "{}: refunded or disputed at Stripe: 300 tokens taken back",
            payment.intent
        )),
        "{first}"
    );
    assert!(
        first.contains(&format!(
            "{}: dispute won at Stripe: 250 tokens given back",
            won.intent
        )),
        "{first}"
    );
    assert!(
        second.contains(&format!("{}: already credited", payment.intent)),
        "{second}"
    );
    assert_eq!(app.balance(&token).await, 300 + 250);
    app.db.assert_ledger_invariant().await;
}

#[test]
fn reconcile_without_payments_configured_exits_non_zero_with_one_line() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_askgate-server"))
        .args(["reconcile", "--since", "72h"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DATABASE_URL", "postgres://postgres@127.0.0.1:1/askgate")
        .env("LOG_FORMAT", "json")
        .output()
        .unwrap();

    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines,
        ["askgate: payments are not configured: set STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET"]
    );
}

#[tokio::test]
async fn an_app_sells_tokens_through_a_checkout_that_returns_to_it_and_is_credited_once() {
    let app = spawn().await;
    let (boss, _) = app.sign_in_admin("boss@example.com").await;
    let registered = app
        .post(
            "/api/admin/apps",
            Some(&boss),
            &json!({
                "name": "Shop",
                "allowed_return_urls": ["https://shop.example.com/bought?from=askgate"],
                "scopes": ["checkout:create"],
            }),
        )
        .await;
    assert_eq!(
        registered.status,
        StatusCode::CREATED,
        "{}",
        registered.body
    );
    let client_id = registered.body["client_id"].as_str().unwrap().to_owned();
    let secret = registered.body["client_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let (token, user) = app.sign_in_id("app-buyer@example.com").await;
    let checkout = |return_url: &str| {
        app.client
            .post(app.url("/api/v1/checkout"))
            .basic_auth(&client_id, Some(&secret))
            .header("X-Askgate-User-Token", &token)
            .json(&json!({ "package": "100", "return_url": return_url }))
    };

    // A return URL the app did not register: refused before Stripe is asked.
    for url in [
        "https://evil.example.com/bought",
        "https://shop.example.com/bought",
        "not a url",
    ] {
        let refused = app.send(checkout(url)).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            refused.body
        );
        assert_eq!(refused.body["field"], "return_url");
    }
    assert!(
        app.stripe_requests("/v1/checkout/sessions")
            .await
            .is_empty()
    );

    let checkout_id = unique("cs_test");
    let mut session = fixture(CHECKOUT_FIXTURE);
    session["id"] = json!(checkout_id);
    session["url"] = json!(format!("https://checkout.stripe.com/c/pay/{checkout_id}"));
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&session))
        .expect(1)
        .mount(app.stripe())
        .await;
    let created = app
        .send(checkout("https://shop.example.com/bought?from=askgate"))
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    assert_eq!(created.body["id"], checkout_id.as_str());
    let sent = app.stripe_requests("/v1/checkout/sessions").await;
    let (form, _) = &sent[0];
    assert_eq!(
        form.get("success_url").map(String::as_str),
        Some(
            "https://shop.example.com/bought?from=askgate&askgate_checkout=success&session_id={CHECKOUT_SESSION_ID}"
        )
    );
    assert_eq!(
        form.get("cancel_url").map(String::as_str),
        Some("https://shop.example.com/bought?from=askgate&askgate_checkout=cancel")
    );
    assert_eq!(
        form.get("client_reference_id").map(String::as_str),
        Some(user.to_string().as_str())
    );

    // The same webhook path credits it, once however often Stripe delivers it.
    let payment = Payment {
        checkout: checkout_id.clone(),
        ..Payment::new(user, "100", 500)
    };
    let event = payment.checkout_completed();
    let first = app.deliver_signed(&event).await;
    let again = app.deliver_signed(&event).await;
    assert_eq!(outcomes(&[first]), ["credited"]);
    assert_ne!(outcomes(&[again]), ["credited"]);
    assert_eq!(app.balance(&token).await, 100);
    app.db.assert_ledger_invariant().await;
}
