#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Per-request costs of the HTTP layer (`cargo bench -p askgate-http`):
//!
//! - `session/verify`: checking a session JWT (HS256 signature, `exp`, `aud`,
//!   claims), done on every signed-in request.
//! - `problem_json/*`: turning an `ApiError` into its `application/problem+json`
//!   response (status, headers, serialised body).

use std::hint::black_box;
use std::time::Duration;

use actix_web::ResponseError;
use askgate_domain::SessionId;
use askgate_domain::testing;
use askgate_domain::user::{Role, User};
use askgate_http::{ApiError, SessionKeys};
use criterion::{Criterion, criterion_group, criterion_main};
use secrecy::SecretString;

fn session(c: &mut Criterion) {
    let keys = SessionKeys::new(
        &SecretString::from("benchmark-secret-benchmark-secret-0123".to_owned()),
        Duration::from_secs(900),
        "authenticated".to_owned(),
    );
    let user = User {
        display_name: Some("Bench".to_owned()),
        ..testing::user("bench@example.com", Role::User)
    };
    let token = keys.issue(&user, SessionId::generate()).unwrap().token;
    assert!(keys.verify_session(&token).is_ok());
    let mut tampered = token.clone();
    tampered.pop();
    tampered.push('A');

    let mut group = c.benchmark_group("http/session");
    group.bench_function("verify", |b| {
        b.iter(|| keys.verify_session(black_box(&token)));
    });
    group.bench_function("verify/bad_signature", |b| {
        b.iter(|| keys.verify_session(black_box(&tampered)));
    });
    group.bench_function("issue", |b| {
        b.iter(|| keys.issue(black_box(&user), SessionId::generate()));
    });
    group.finish();
}

fn problem_json(c: &mut Criterion) {
    let mut group = c.benchmark_group("http/problem_json");
    group.bench_function("insufficient_tokens", |b| {
        b.iter(|| {
            ApiError::insufficient_tokens(black_box(0), "http://127.0.0.1:8080/buy")
                .error_response()
        });
    });
    group.bench_function("rate_limited", |b| {
        b.iter(|| ApiError::rate_limited(black_box(Duration::from_millis(1500))).error_response());
    });
    group.bench_function("invalid_token", |b| {
        b.iter(|| ApiError::invalid_token().error_response());
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50);
    targets = session, problem_json
}
criterion_main!(benches);
