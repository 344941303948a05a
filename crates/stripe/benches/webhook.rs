#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Verifying a Stripe webhook delivery (`cargo bench -p askgate-stripe`): the
//! `Stripe-Signature` HMAC check plus parsing the event into a `PaymentEvent`,
//! on the fixture signed by Stripe's own library (fixtures/sign.mjs).
//!
//! - `one_secret`: the usual case.
//! - `rotation/signed_with_previous`: two secrets configured during a rotation,
//!   the delivery signed with the older one (both are tried).
//! - `bad_signature`: a forged delivery, refused.

use std::hint::black_box;
use std::time::Duration;

use askgate_domain::ports::WebhookVerifier;
use askgate_stripe::{DEFAULT_TOLERANCE, StripeWebhooks};
use chrono::DateTime;
use criterion::{Criterion, criterion_group, criterion_main};
use secrecy::SecretString;

const SIGNATURES: &str = include_str!("../fixtures/signatures.json");
const CHECKOUT_COMPLETED: &str = include_str!("../fixtures/events/checkout_session_completed.json");

fn field(json: &serde_json::Value, pointer: &str) -> String {
    json.pointer(pointer).unwrap().as_str().unwrap().to_owned()
}

fn verify(c: &mut Criterion) {
    let fixture: serde_json::Value = serde_json::from_str(SIGNATURES).unwrap();
    let signed_at = DateTime::from_timestamp(fixture["timestamp"].as_i64().unwrap(), 0).unwrap();
    let current = SecretString::from(field(&fixture, "/secret"));
    let previous = SecretString::from(field(&fixture, "/previous_secret"));
    let header = field(&fixture, "/headers/checkout_session_completed");
    let header_previous = field(
        &fixture,
        "/checkout_session_completed_signed_with_previous_secret",
    );
    let forged = header.replace("v1=7", "v1=8");
    let payload = CHECKOUT_COMPLETED.as_bytes();

    let one = StripeWebhooks::new(vec![current.clone()], DEFAULT_TOLERANCE);
    let rotating = StripeWebhooks::new(vec![current, previous], DEFAULT_TOLERANCE);
    assert!(one.verify(payload, &header, signed_at).is_ok());
    assert!(
        rotating
            .verify(payload, &header_previous, signed_at)
            .is_ok()
    );
    assert!(one.verify(payload, &forged, signed_at).is_err());

    let mut group = c.benchmark_group("stripe/webhook/verify");
    group.bench_function("one_secret", |b| {
        b.iter(|| one.verify(black_box(payload), black_box(&header), signed_at));
    });
    group.bench_function("rotation/signed_with_previous", |b| {
        b.iter(|| rotating.verify(black_box(payload), black_box(&header_previous), signed_at));
    });
    group.bench_function("bad_signature", |b| {
        b.iter(|| one.verify(black_box(payload), black_box(&forged), signed_at));
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50);
    targets = verify
}
criterion_main!(benches);
