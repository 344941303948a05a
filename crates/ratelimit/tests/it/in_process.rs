use std::time::Duration;

use askgate_domain::UserId;
use askgate_domain::ports::RateLimiter;
use askgate_domain::user::Role;
use askgate_ratelimit::{InProcessLimiter, RateLimitConfig, RateLimitTiers};

#[tokio::test]
async fn a_burst_is_admitted_and_the_next_request_is_denied_until_a_slot_returns() {
    let limiter = InProcessLimiter::new(RateLimitConfig::per_minute(5));
    let user = UserId::generate();

    for expected_remaining in (0..5).rev() {
        let decision = limiter.check(user, Role::User).await.unwrap();
        assert!(decision.allowed);
        assert_eq!(decision.limit, 5);
        assert_eq!(decision.remaining, expected_remaining);
    }
    let denied = limiter.check(user, Role::User).await.unwrap();

    assert!(!denied.allowed);
    assert_eq!(denied.remaining, 0);
    // One of five slots a minute comes back every 12 s.
    assert!(denied.reset_after > Duration::from_secs(11), "{denied:?}");
    assert!(denied.reset_after <= Duration::from_secs(12), "{denied:?}");
}

#[tokio::test]
async fn an_admitted_request_says_when_the_bucket_is_full_again() {
    let limiter = InProcessLimiter::new(RateLimitConfig::per_minute(60));
    let user = UserId::generate();

    limiter.check(user, Role::User).await.unwrap();
    let second = limiter.check(user, Role::User).await.unwrap();

    assert!(second.allowed);
    assert!(second.reset_after > Duration::from_secs(1), "{second:?}");
    assert!(second.reset_after <= Duration::from_secs(2), "{second:?}");
}

#[tokio::test]
async fn users_are_limited_independently() {
    let limiter = InProcessLimiter::new(RateLimitConfig {
        per_minute: 30,
        burst: 2,
    });
    let (alice, bob) = (UserId::generate(), UserId::generate());

    assert!(limiter.check(alice, Role::User).await.unwrap().allowed);
    assert!(limiter.check(alice, Role::User).await.unwrap().allowed);
    assert!(!limiter.check(alice, Role::User).await.unwrap().allowed);

    let bobs = limiter.check(bob, Role::User).await.unwrap();
    assert!(bobs.allowed);
    assert_eq!(bobs.remaining, 1);
}

#[tokio::test]
async fn a_denied_user_is_admitted_again_after_reset_after() {
    // 600 a minute: one slot every 100 ms.
    let limiter = InProcessLimiter::new(RateLimitConfig {
        per_minute: 600,
        burst: 1,
    });
    let user = UserId::generate();

    assert!(limiter.check(user, Role::User).await.unwrap().allowed);
    let denied = limiter.check(user, Role::User).await.unwrap();
    assert!(!denied.allowed);
    assert!(denied.reset_after <= Duration::from_millis(100));

    tokio::time::sleep(denied.reset_after + Duration::from_millis(5)).await;

    assert!(limiter.check(user, Role::User).await.unwrap().allowed);
}

#[tokio::test]
async fn idle_users_are_forgotten_so_memory_stays_bounded() {
    // 60 000 a minute, burst 1: a bucket is full again 1 ms after its last use.
    let limiter = InProcessLimiter::new(RateLimitConfig {
        per_minute: 60_000,
        burst: 1,
    });
    for _ in 0..3000 {
        limiter.check(UserId::generate(), Role::User).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(20)).await;

    // Housekeeping runs on its own every 1024 checks.
    let regular = UserId::generate();
    for _ in 0..1100 {
        limiter.check(regular, Role::User).await.unwrap();
    }

    assert!(limiter.tracked_users() < 10, "{}", limiter.tracked_users());
}

#[test]
fn zero_settings_still_admit_one_request() {
    let limiter = InProcessLimiter::new(RateLimitConfig {
        per_minute: 0,
        burst: 0,
    });
    let user = UserId::generate();

    let first = limiter.check_now(user, Role::User);
    assert!(first.allowed);
    assert_eq!(first.limit, 1);
    assert!(!limiter.check_now(user, Role::User).allowed);
}

#[tokio::test]
async fn each_role_is_limited_at_its_tiers_number() {
    let tiers = RateLimitTiers::uniform(RateLimitConfig::per_minute(2))
        .with(Role::User, RateLimitConfig::per_minute(3))
        .with(Role::Admin, RateLimitConfig::per_minute(5));
    let limiter = InProcessLimiter::new(tiers);
    let admitted = |role| {
        let id = UserId::generate();
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
    assert_eq!(admitted(Role::User).await, (3, 3));
    assert_eq!(admitted(Role::Admin).await, (5, 5));
}

#[tokio::test]
async fn a_role_without_a_tier_has_the_default_limit() {
    let tiers = RateLimitTiers::uniform(RateLimitConfig::per_minute(2))
        .with(Role::Admin, RateLimitConfig::per_minute(5));
    let limiter = InProcessLimiter::new(tiers);
    let user = UserId::generate();
    assert!(limiter.check(user, Role::User).await.unwrap().allowed);
    assert!(limiter.check(user, Role::User).await.unwrap().allowed);
    let denied = limiter.check(user, Role::User).await.unwrap();
    assert!(!denied.allowed);
    assert_eq!(denied.limit, 2);
    // The same person as an admin counts in the admin tier.
    assert!(limiter.check(user, Role::Admin).await.unwrap().allowed);
}
