//! The admin audit log: one immutable record per admin action, written in the
//! same transaction as the change it records.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::UserId;
use crate::newtype::string_newtype;

/// What an admin did (`admin_audit.action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    Grant,
    Adjustment,
    Disable,
    Enable,
    RoleChange,
    DomainCreate,
    DomainUpdate,
    DomainDelete,
    AppCreate,
    AppUpdate,
    AppRevoke,
    AppRotateSecret,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown audit action")]
pub struct AuditActionParseError;

impl AuditAction {
    pub const ALL: [Self; 12] = [
        Self::Grant,
        Self::Adjustment,
        Self::Disable,
        Self::Enable,
        Self::RoleChange,
        Self::DomainCreate,
        Self::DomainUpdate,
        Self::DomainDelete,
        Self::AppCreate,
        Self::AppUpdate,
        Self::AppRevoke,
        Self::AppRotateSecret,
    ];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Grant => "grant",
            Self::Adjustment => "adjustment",
            Self::Disable => "disable",
            Self::Enable => "enable",
            Self::RoleChange => "role_change",
            Self::DomainCreate => "domain_create",
            Self::DomainUpdate => "domain_update",
            Self::DomainDelete => "domain_delete",
            Self::AppCreate => "app_create",
            Self::AppUpdate => "app_update",
            Self::AppRevoke => "app_revoke",
            Self::AppRotateSecret => "app_rotate_secret",
        }
    }

    /// What the action was done to.
    #[must_use]
    pub const fn target_kind(self) -> TargetKind {
        match self {
            Self::Grant | Self::Adjustment | Self::Disable | Self::Enable | Self::RoleChange => {
                TargetKind::User
            }
            Self::DomainCreate | Self::DomainUpdate | Self::DomainDelete => TargetKind::Domain,
            Self::AppCreate | Self::AppUpdate | Self::AppRevoke | Self::AppRotateSecret => {
                TargetKind::App
            }
        }
    }
}

impl FromStr for AuditAction {
    type Err = AuditActionParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or(AuditActionParseError)
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of thing an action was done to (`admin_audit.target_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TargetKind {
    User,
    Domain,
    App,
}

impl TargetKind {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Domain => "domain",
            Self::App => "app",
        }
    }
}

string_newtype! {
    /// Why an admin did something: 1–500 characters after trimming, storable.
    pub struct AuditReason(String), parse = AuditReasonError;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("reason must be 1 to 500 characters")]
pub struct AuditReasonError;

impl AuditReason {
    pub const MAX_CHARS: usize = 500;

    pub fn parse(raw: &str) -> Result<Self, AuditReasonError> {
        let trimmed = raw.trim();
        let length = trimmed.chars().count();
        if (1..=Self::MAX_CHARS).contains(&length) && crate::text::is_storable(trimmed) {
            Ok(Self(trimmed.to_owned()))
        } else {
            Err(AuditReasonError)
        }
    }
}

/// Who acts and under which request: stamped on every record of the action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditStamp {
    pub actor: UserId,
    /// The id the request was logged under (`X-Request-Id`), to find its logs.
    pub request_id: Option<String>,
}

/// One record as written: the target's state before and after, as JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditRecord {
    pub action: AuditAction,
    pub target: Uuid,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub reason: Option<AuditReason>,
}

/// One record as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub id: Uuid,
    pub actor: UserId,
    /// The actor's address now, for people reading the log.
    pub actor_email: String,
    pub action: AuditAction,
    pub target: Uuid,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub reason: Option<String>,
    pub request_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Which records the audit page lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub action: Option<AuditAction>,
    pub actor: Option<UserId>,
    pub target: Option<Uuid>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_is_trimmed_and_between_1_and_500_characters() {
        assert_eq!(
            AuditReason::parse("  goodwill ").unwrap().as_str(),
            "goodwill"
        );
        assert!(AuditReason::parse("   ").is_err());
        assert!(AuditReason::parse(&"é".repeat(500)).is_ok());
        assert!(AuditReason::parse(&"é".repeat(501)).is_err());
        assert!(AuditReason::parse("a\0b").is_err());
    }

    #[test]
    fn actions_round_trip_and_name_their_target() {
        for action in AuditAction::ALL {
            assert_eq!(action.as_str().parse::<AuditAction>(), Ok(action));
        }
        assert_eq!(AuditAction::DomainUpdate.target_kind(), TargetKind::Domain);
        assert_eq!(AuditAction::Grant.target_kind(), TargetKind::User);
    }
}
