//! The Redis limiter: one GCRA bucket per user in Redis, updated by an atomic Lua
//! script (`gcra.lua`) on Redis' clock, so several askgate instances share one limit.
//!
//! Keys are `{key_prefix}:ratelimit:{tier}:{user_id}` (the tier is the user's
//! role, each with its own limit) and expire once the bucket is full again. When Redis cannot be reached the limiter fails open (admits and warns) or
//! closed (returns `RateLimiterUnavailable`), as configured; either way the failure
//! is counted in [`RedisLimiter::redis_failures`].

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use askgate_domain::ports::{RateDecision, RateLimiter, RateLimiterUnavailable};
use askgate_domain::user::Role;
use askgate_domain::{BoxError, UserId};
use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, Script};

use crate::RateLimitTiers;

/// Longest wait for a connection to Redis.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// Longest wait for Redis to answer one command.
const RESPONSE_TIMEOUT: Duration = Duration::from_millis(500);
/// Longest a whole check may take before Redis is considered unavailable.
const CHECK_TIMEOUT: Duration = Duration::from_secs(1);

/// What a check does when Redis cannot be reached (`REDIS_RATE_LIMIT_FAILURE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RedisFailureMode {
    /// Admit the request (`open`, the default): an outage of Redis does not stop chats.
    #[default]
    Open,
    /// Refuse the request (`closed`): no request goes unlimited.
    Closed,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("REDIS_RATE_LIMIT_FAILURE must be 'open' or 'closed'")]
pub struct RedisFailureModeParseError;

impl FromStr for RedisFailureMode {
    type Err = RedisFailureModeParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "open" => Ok(Self::Open),
            "closed" => Ok(Self::Closed),
            _ => Err(RedisFailureModeParseError),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RedisLimiterError {
    #[error("REDIS_URL is not a valid Redis URL")]
    InvalidUrl(#[source] redis::RedisError),
    #[error("could not set up the Redis connection")]
    Setup(#[source] redis::RedisError),
}

/// Per-user limits shared by every askgate instance that uses the same Redis and prefix.
pub struct RedisLimiter {
    connection: ConnectionManager,
    script: Script,
    tiers: RateLimitTiers,
    failure: RedisFailureMode,
    key_prefix: String,
    failures: AtomicU64,
    degraded: AtomicBool,
}

impl std::fmt::Debug for RedisLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLimiter")
            .field("tiers", &self.tiers)
            .field("failure", &self.failure)
            .field("key_prefix", &self.key_prefix)
            .field("redis_failures", &self.redis_failures())
            .finish_non_exhaustive()
    }
}

impl RedisLimiter {
    /// Sets up the connection and loads the script. Fails only on an invalid URL:
    /// when Redis is unreachable it warns and connects later, behaving as `failure`
    /// says until then.
    pub async fn connect(
        url: &str,
        tiers: impl Into<RateLimitTiers>,
        failure: RedisFailureMode,
        key_prefix: &str,
    ) -> Result<Self, RedisLimiterError> {
        let client = Client::open(url).map_err(RedisLimiterError::InvalidUrl)?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200));
        let connection = ConnectionManager::new_lazy_with_config(client, manager_config)
            .map_err(RedisLimiterError::Setup)?;
        let limiter = Self {
            connection,
            script: Script::new(include_str!("gcra.lua")),
            tiers: tiers.into(),
            failure,
            key_prefix: key_prefix.to_owned(),
            failures: AtomicU64::new(0),
            degraded: AtomicBool::new(false),
        };
        let mut connection = limiter.connection.clone();
        match tokio::time::timeout(CHECK_TIMEOUT, limiter.script.load_async(&mut connection)).await
        {
            Ok(Ok(_)) => tracing::info!("rate limits are shared through Redis"),
            Ok(Err(error)) => limiter.warn_unreachable_at_start(&error),
            Err(error) => limiter.warn_unreachable_at_start(&error),
        }
        Ok(limiter)
    }

    /// How many checks found Redis unavailable since start.
    #[must_use]
    pub fn redis_failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    fn key(&self, user: UserId, tier: Role) -> String {
        format!("{}:ratelimit:{tier}:{user}", self.key_prefix)
    }

    fn warn_unreachable_at_start(&self, error: &dyn std::error::Error) {
        tracing::warn!(
            %error,
            failure_mode = ?self.failure,
            "Redis is unreachable; rate limiting follows the failure mode until it is back"
        );
    }

    async fn run_script(&self, user: UserId, tier: Role) -> Result<(i64, i64, i64), BoxError> {
        let config = self.tiers.for_role(tier);
        let interval_us = u64::try_from(config.interval().as_micros()).unwrap_or(u64::MAX);
        let mut connection = self.connection.clone();
        let mut invocation = self.script.prepare_invoke();
        invocation
            .key(self.key(user, tier))
            .arg(interval_us.max(1))
            .arg(config.burst_size());
        let reply =
            tokio::time::timeout(CHECK_TIMEOUT, invocation.invoke_async(&mut connection)).await??;
        Ok(reply)
    }

    fn unavailable(
        &self,
        error: BoxError,
        tier: Role,
    ) -> Result<RateDecision, RateLimiterUnavailable> {
        let config = self.tiers.for_role(tier);
        self.failures.fetch_add(1, Ordering::Relaxed);
        if !self.degraded.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                %error,
                failure_mode = ?self.failure,
                "Redis rate limiter unavailable"
            );
        } else {
            tracing::debug!(%error, "Redis rate limiter still unavailable");
        }
        match self.failure {
            RedisFailureMode::Open => Ok(RateDecision {
                allowed: true,
                limit: config.limit(),
                remaining: config.burst_size().saturating_sub(1),
                reset_after: Duration::ZERO,
            }),
            RedisFailureMode::Closed => Err(RateLimiterUnavailable(error)),
        }
    }
}

#[async_trait]
impl RateLimiter for RedisLimiter {
    async fn check(
        &self,
        user: UserId,
        tier: Role,
    ) -> Result<RateDecision, RateLimiterUnavailable> {
        match self.run_script(user, tier).await {
            Ok((allowed, remaining, reset_after_us)) => {
                if self.degraded.swap(false, Ordering::Relaxed) {
                    tracing::info!("Redis rate limiter available again");
                }
                Ok(RateDecision {
                    allowed: allowed == 1,
                    limit: self.tiers.for_role(tier).limit(),
                    remaining: u32::try_from(remaining).unwrap_or(0),
                    reset_after: Duration::from_micros(u64::try_from(reset_after_us).unwrap_or(0)),
                })
            }
            Err(error) => self.unavailable(error, tier),
        }
    }
}
