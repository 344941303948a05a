#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The per-request rate-limit check of the in-process limiter (`cargo bench -p askgate-ratelimit`).
//!
//! - `allowed/one_user`: one user, a limit never reached (the hot-user path).
//! - `allowed/10k_users`: 10 000 users in turn (the uniform path: a map of buckets).
//! - `refused/one_user`: a user over the limit (the 429 path).

use std::hint::black_box;
use std::time::Duration;

use askgate_domain::UserId;
use askgate_domain::user::Role;
use askgate_ratelimit::{InProcessLimiter, RateLimitConfig};
use criterion::{Criterion, criterion_group, criterion_main};

fn check_now(c: &mut Criterion) {
    let mut group = c.benchmark_group("ratelimit/in_process/check_now");

    let unlimited = InProcessLimiter::new(RateLimitConfig::per_minute(u32::MAX));
    let user = UserId::generate();
    group.bench_function("allowed/one_user", |b| {
        b.iter(|| unlimited.check_now(black_box(user), Role::User));
    });

    let users: Vec<UserId> = (0..10_000).map(|_| UserId::generate()).collect();
    let mut next = users.iter().cycle();
    group.bench_function("allowed/10k_users", |b| {
        b.iter(|| unlimited.check_now(black_box(*next.next().unwrap()), Role::User));
    });

    let strict = InProcessLimiter::new(RateLimitConfig::per_minute(1));
    let over = UserId::generate();
    assert!(strict.check_now(over, Role::User).allowed);
    assert!(!strict.check_now(over, Role::User).allowed);
    group.bench_function("refused/one_user", |b| {
        b.iter(|| strict.check_now(black_box(over), Role::User));
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50);
    targets = check_now
}
criterion_main!(benches);
