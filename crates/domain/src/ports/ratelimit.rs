use std::time::Duration;

use async_trait::async_trait;

use crate::user::Role;
use crate::{BoxError, UserId};

/// The outcome of one rate-limit check, with what the `RateLimit-*` headers need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Time until the window resets (or the next request is admitted).
    pub reset_after: Duration,
}

#[derive(Debug, thiserror::Error)]
#[error("rate limiter unavailable")]
pub struct RateLimiterUnavailable(#[source] pub BoxError);

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Counts one request by `user` against the limit of their role's tier
    /// (`tier`) and says whether it may proceed. Each tier counts apart.
    /// MUST return `Err` only when the backing store cannot be reached and the
    /// limiter is configured to fail closed.
    async fn check(&self, user: UserId, tier: Role)
    -> Result<RateDecision, RateLimiterUnavailable>;
}
