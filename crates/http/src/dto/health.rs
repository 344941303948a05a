//! The probes' answer.

use serde::Serialize;

/// `{"status": "ok"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = HealthStatus)]
pub struct HealthView {
    #[schema(example = "ok")]
    pub status: &'static str,
}

impl HealthView {
    pub const OK: Self = Self { status: "ok" };
}
