use std::sync::Arc;
use std::time::Duration;

use askgate_domain::UserId;
use askgate_domain::ports::RateLimiter;
use askgate_domain::user::Role;
use askgate_ratelimit::{RateLimitConfig, RateLimitTiers, RedisFailureMode, RedisLimiter};
use redis::AsyncCommands;

fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A prefix no other test (or run) uses.
fn unique_prefix(test: &str) -> String {
    format!("askgate-test:{test}:{}", UserId::generate())
}

/// A connection to the test Redis; when there is none, the test fails with a
/// message saying where it looked and how to start it, rather than with the
/// limiter's `RateLimiterUnavailable` at its first check.
async fn redis() -> redis::aio::MultiplexedConnection {
    let url = redis_url();
    let connected = match redis::Client::open(url.as_str()) {
        Ok(client) => client.get_multiplexed_async_connection().await,
        Err(e) => Err(e),
    };
    connected.unwrap_or_else(|e| {
        panic!(
            "these tests need Redis at {url} (TEST_REDIS_URL): start it with \
             `redis-server --daemonize yes`: {e}"
        )
    })
}

async fn limiter(prefix: &str, config: impl Into<RateLimitTiers>) -> RedisLimiter {
    drop(redis().await);
    RedisLimiter::connect(&redis_url(), config, RedisFailureMode::Closed, prefix)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_sharing_redis_together_admit_no_more_than_the_limit() {
    let prefix = unique_prefix("shared");
    let config = RateLimitConfig::per_minute(10);
    let first = Arc::new(limiter(&prefix, config).await);
    let second = Arc::new(limiter(&prefix, config).await);
    let user = UserId::generate();

    let mut checks = tokio::task::JoinSet::new();
    for i in 0..40 {
        let instance = if i % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        checks.spawn(async move { instance.check(user, Role::User).await.unwrap() });
    }
    let decisions = checks.join_all().await;

    let allowed = decisions.iter().filter(|d| d.allowed).count();
    assert_eq!(allowed, 10);
    for denied in decisions.iter().filter(|d| !d.allowed) {
        assert_eq!(denied.remaining, 0);
        assert_eq!(denied.limit, 10);
        // One of ten slots a minute comes back every 6 s.
        assert!(denied.reset_after > Duration::from_secs(5), "{denied:?}");
        assert!(denied.reset_after <= Duration::from_secs(6), "{denied:?}");
    }
}

#[tokio::test]
async fn remaining_counts_down_through_the_burst() {
    let limiter = limiter(&unique_prefix("countdown"), RateLimitConfig::per_minute(3)).await;
    let user = UserId::generate();

    let mut remaining = Vec::new();
    for _ in 0..4 {
        let decision = limiter.check(user, Role::User).await.unwrap();
        remaining.push((decision.allowed, decision.remaining));
    }

    assert_eq!(remaining, [(true, 2), (true, 1), (true, 0), (false, 0)]);
}

#[tokio::test]
async fn users_are_limited_independently_in_redis() {
    let limiter = limiter(
        &unique_prefix("users"),
        RateLimitConfig {
            per_minute: 30,
            burst: 2,
        },
    )
    .await;
    let (alice, bob) = (UserId::generate(), UserId::generate());

    assert!(limiter.check(alice, Role::User).await.unwrap().allowed);
    assert!(limiter.check(alice, Role::User).await.unwrap().allowed);
    assert!(!limiter.check(alice, Role::User).await.unwrap().allowed);

    let bobs = limiter.check(bob, Role::User).await.unwrap();
    assert!(bobs.allowed);
    assert_eq!(bobs.remaining, 1);
}

#[tokio::test]
async fn a_denied_user_is_admitted_again_after_reset_after_in_redis() {
    // 600 a minute: one slot every 100 ms.
    let limiter = limiter(
        &unique_prefix("recovery"),
        RateLimitConfig {
            per_minute: 600,
            burst: 2,
        },
    )
    .await;
    let user = UserId::generate();

    assert!(limiter.check(user, Role::User).await.unwrap().allowed);
    assert!(limiter.check(user, Role::User).await.unwrap().allowed);
    let denied = limiter.check(user, Role::User).await.unwrap();
    assert!(!denied.allowed);
    assert!(denied.reset_after > Duration::ZERO);
    assert!(
        denied.reset_after <= Duration::from_millis(100),
        "{denied:?}"
    );

    tokio::time::sleep(denied.reset_after + Duration::from_millis(10)).await;

    let again = limiter.check(user, Role::User).await.unwrap();
    assert!(again.allowed);
    assert!(!limiter.check(user, Role::User).await.unwrap().allowed);
}

#[tokio::test]
async fn a_bucket_key_expires_once_the_bucket_is_full_again() {
    let prefix = unique_prefix("ttl");
    let limiter = limiter(&prefix, RateLimitConfig::per_minute(60)).await;
    let user = UserId::generate();
    limiter.check(user, Role::User).await.unwrap();
    limiter.check(user, Role::User).await.unwrap();

    let mut redis = redis().await;
    let keys: Vec<String> = redis.keys(format!("{prefix}:*")).await.unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let ttl_ms: i64 = redis.pttl(&keys[0]).await.unwrap();

    // Two of sixty slots a minute used: full again in 2 s.
    assert!(ttl_ms > 1_000 && ttl_ms <= 2_000, "{ttl_ms}");
}

#[tokio::test]
async fn unreachable_redis_failing_open_admits_and_counts_the_failure() {
    let limiter = RedisLimiter::connect(
        "redis://127.0.0.1:1",
        RateLimitConfig::per_minute(10),
        RedisFailureMode::Open,
        &unique_prefix("open"),
    )
    .await
    .unwrap();

    let first = limiter.check(UserId::generate(), Role::User).await.unwrap();
    let second = limiter.check(UserId::generate(), Role::User).await.unwrap();

    assert!(first.allowed && second.allowed);
    assert_eq!(first.limit, 10);
    assert_eq!(limiter.redis_failures(), 2);
}

#[tokio::test]
async fn unreachable_redis_failing_closed_refuses() {
    let limiter = RedisLimiter::connect(
        "redis://127.0.0.1:1",
        RateLimitConfig::per_minute(10),
        RedisFailureMode::Closed,
        &unique_prefix("closed"),
    )
    .await
    .unwrap();

    assert!(limiter.check(UserId::generate(), Role::User).await.is_err());
    assert_eq!(limiter.redis_failures(), 1);
}

#[tokio::test]
async fn an_invalid_url_is_refused_at_connect() {
    let result = RedisLimiter::connect(
        "http://not-redis",
        RateLimitConfig::default(),
        RedisFailureMode::Open,
        "askgate",
    )
    .await;

    assert!(result.is_err());
}

#[test]
fn failure_mode_parses_from_the_environment_value() {
    assert_eq!("open".parse(), Ok(RedisFailureMode::Open));
    assert_eq!("Closed".parse(), Ok(RedisFailureMode::Closed));
    assert!("sometimes".parse::<RedisFailureMode>().is_err());
    assert_eq!(RedisFailureMode::default(), RedisFailureMode::Open);
}

#[tokio::test]
async fn each_role_is_limited_at_its_tiers_number_in_redis() {
    let tiers = RateLimitTiers::uniform(RateLimitConfig::per_minute(2))
        .with(Role::User, RateLimitConfig::per_minute(3))
        .with(Role::Admin, RateLimitConfig::per_minute(5));
    let prefix = unique_prefix("tiers");
    let limiter = limiter(&prefix, tiers).await;
    let (user, admin) = (UserId::generate(), UserId::generate());

    let admitted = |role, id| {
        let limiter = &limiter;
        async move {
            let mut n = 0;
            loop {
                let decision = limiter.check(id, role).await.unwrap();
                if !decision.allowed {
                    return (n, decision.limit);
                }
                n += 1;
            }
        }
    };
    assert_eq!(admitted(Role::User, user).await, (3, 3));
    assert_eq!(admitted(Role::Admin, admin).await, (5, 5));

    // Each tier counts apart, under a key of its own.
    let mut redis = redis().await;
    let mut keys: Vec<String> = redis.keys(format!("{prefix}:*")).await.unwrap();
    keys.sort();
    assert_eq!(
        keys,
        [
            format!("{prefix}:ratelimit:admin:{admin}"),
            format!("{prefix}:ratelimit:user:{user}"),
        ]
    );
}
