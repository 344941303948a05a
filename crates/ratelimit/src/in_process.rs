//! The in-process limiter: one GCRA bucket per user and tier in this
//! process' memory.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

use askgate_domain::UserId;
use askgate_domain::ports::{RateDecision, RateLimiter, RateLimiterUnavailable};
use askgate_domain::user::Role;
use async_trait::async_trait;
use governor::clock::Clock;
use governor::middleware::StateInformationMiddleware;
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::{RateLimitConfig, RateLimitTiers};

/// Every this many checks, users whose bucket is full again are forgotten, so
/// memory holds only recently active users (plus at most this many more).
const HOUSEKEEPING_EVERY: u64 = 1024;

/// The buckets of one tier.
struct Tier {
    limiter: DefaultKeyedRateLimiter<UserId, StateInformationMiddleware>,
    config: RateLimitConfig,
}

impl Tier {
    fn new(config: RateLimitConfig) -> Self {
        let non_zero = |n: u32| NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        let quota =
            Quota::per_minute(non_zero(config.limit())).allow_burst(non_zero(config.burst_size()));
        Self {
            limiter: governor::RateLimiter::keyed(quota).with_middleware(),
            config,
        }
    }
}

/// Per-user limits counted in this process, each role in its tier. Several
/// askgate instances each count on their own; use [`crate::RedisLimiter`] to
/// share one limit.
pub struct InProcessLimiter {
    user: Tier,
    admin: Tier,
    checks: AtomicU64,
}

impl std::fmt::Debug for InProcessLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcessLimiter")
            .field("user", &self.user.config)
            .field("admin", &self.admin.config)
            .field("tracked_users", &self.tracked_users())
            .finish()
    }
}

impl InProcessLimiter {
    /// One limit for everyone (a [`RateLimitConfig`]) or one per role.
    #[must_use]
    pub fn new(tiers: impl Into<RateLimitTiers>) -> Self {
        let tiers = tiers.into();
        Self {
            user: Tier::new(tiers.for_role(Role::User)),
            admin: Tier::new(tiers.for_role(Role::Admin)),
            checks: AtomicU64::new(0),
        }
    }

    const fn tier(&self, role: Role) -> &Tier {
        match role {
            Role::User => &self.user,
            Role::Admin => &self.admin,
        }
    }

    /// Counts one request by `user` in the tier of `role` and says whether it
    /// may proceed.
    pub fn check_now(&self, user: UserId, role: Role) -> RateDecision {
        if self.checks.fetch_add(1, Ordering::Relaxed) % HOUSEKEEPING_EVERY
            == HOUSEKEEPING_EVERY - 1
        {
            self.retain_recent();
        }
        let Tier { limiter, config } = self.tier(role);
        let limit = config.limit();
        match limiter.check_key(&user) {
            Ok(state) => {
                let remaining = state.remaining_burst_capacity();
                let used = config.burst_size().saturating_sub(remaining);
                RateDecision {
                    allowed: true,
                    limit,
                    remaining,
                    reset_after: config.interval() * used,
                }
            }
            Err(not_until) => RateDecision {
                allowed: false,
                limit,
                remaining: 0,
                reset_after: not_until.wait_time_from(limiter.clock().now()),
            },
        }
    }

    /// Forgets users whose bucket is full again (they are indistinguishable from new ones).
    pub fn retain_recent(&self) {
        self.user.limiter.retain_recent();
        self.admin.limiter.retain_recent();
    }

    /// How many users currently have state in memory (counted once per tier).
    #[must_use]
    pub fn tracked_users(&self) -> usize {
        self.user.limiter.len() + self.admin.limiter.len()
    }
}

#[async_trait]
impl RateLimiter for InProcessLimiter {
    async fn check(
        &self,
        user: UserId,
        tier: Role,
    ) -> Result<RateDecision, RateLimiterUnavailable> {
        Ok(self.check_now(user, tier))
    }
}
