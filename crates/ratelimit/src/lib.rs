//! askgate's per-user rate limiters, behind the domain's
//! [`RateLimiter`](askgate_domain::ports::RateLimiter) port.
//!
//! - [`InProcessLimiter`]: the default; one GCRA bucket per user in memory (governor).
//!   Each askgate instance counts on its own.
//! - [`RedisLimiter`]: when `REDIS_URL` is set; the same GCRA in an atomic Lua script
//!   on Redis' clock, so all instances share one limit per user.
//!
//! Both admit `burst` requests at once and then one every `60 s / per_minute`,
//! with the limit of the user's role ([`RateLimitTiers`], `RATE_LIMIT_TIERS`):
//! each tier counts apart.

mod in_process;
mod shared;

use std::time::Duration;

use askgate_domain::user::Role;

pub use in_process::InProcessLimiter;
pub use shared::{RedisFailureMode, RedisLimiter, RedisLimiterError};

/// `RATE_LIMIT_PER_MINUTE` when it is not set.
pub const DEFAULT_PER_MINUTE: u32 = 30;

/// How many requests a user may make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// `RATE_LIMIT_PER_MINUTE`: the sustained rate. A value of 0 is treated as 1.
    pub per_minute: u32,
    /// How many requests may come at once after a quiet spell. A value of 0 is treated as 1.
    pub burst: u32,
}

impl RateLimitConfig {
    /// `per_minute` requests a minute, all of which may come at once.
    #[must_use]
    pub const fn per_minute(per_minute: u32) -> Self {
        Self {
            per_minute,
            burst: per_minute,
        }
    }

    const fn limit(self) -> u32 {
        if self.per_minute == 0 {
            1
        } else {
            self.per_minute
        }
    }

    const fn burst_size(self) -> u32 {
        if self.burst == 0 { 1 } else { self.burst }
    }

    /// The time one request's worth of capacity takes to come back.
    fn interval(self) -> Duration {
        Duration::from_secs(60) / self.limit()
    }
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self::per_minute(DEFAULT_PER_MINUTE)
    }
}

/// The limit of each role (`RATE_LIMIT_TIERS`, e.g. `user:30,admin:120`);
/// roles not given one have the default (`RATE_LIMIT_PER_MINUTE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitTiers {
    user: RateLimitConfig,
    admin: RateLimitConfig,
}

impl RateLimitTiers {
    /// `config` for every role.
    #[must_use]
    pub const fn uniform(config: RateLimitConfig) -> Self {
        Self {
            user: config,
            admin: config,
        }
    }

    /// These tiers with `config` for `role`.
    #[must_use]
    pub const fn with(mut self, role: Role, config: RateLimitConfig) -> Self {
        match role {
            Role::User => self.user = config,
            Role::Admin => self.admin = config,
        }
        self
    }

    /// The limit of `role`.
    #[must_use]
    pub const fn for_role(&self, role: Role) -> RateLimitConfig {
        match role {
            Role::User => self.user,
            Role::Admin => self.admin,
        }
    }
}

impl From<RateLimitConfig> for RateLimitTiers {
    fn from(config: RateLimitConfig) -> Self {
        Self::uniform(config)
    }
}

impl Default for RateLimitTiers {
    fn default() -> Self {
        Self::uniform(RateLimitConfig::default())
    }
}
