//! Personal API keys: what a key may do (its scopes), its name, and what the
//! owner sees of it. The secret itself is never kept: only its hash.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use crate::newtype::string_newtype;
use crate::user::{Actor, Role};
use crate::{ApiKeyId, Email, UserId};

/// What every key secret starts with, so a bearer token is known for a key
/// before any lookup (and secret scanners can spot a leaked one).
pub const API_KEY_PREFIX: &str = "agk_";

/// How many characters of the secret are kept in the clear to tell keys apart
/// (`agk_` and 8 more).
pub const SHOWN_PREFIX_LEN: usize = 12;

/// What a key may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ApiKeyScope {
    /// Both chat endpoints (and the domain list they need); spends tokens.
    Chat,
    /// The balance (`GET /api/user/tokens`).
    BalanceRead,
    /// The ledger history, usage and conversations, read only.
    HistoryRead,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scope must be one of 'chat', 'balance:read', 'history:read'")]
pub struct ApiKeyScopeError;

impl ApiKeyScope {
    pub const ALL: [Self; 3] = [Self::Chat, Self::BalanceRead, Self::HistoryRead];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Chat => "chat",
            Self::BalanceRead => "balance:read",
            Self::HistoryRead => "history:read",
        }
    }
}

impl FromStr for ApiKeyScope {
    type Err = ApiKeyScopeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or(ApiKeyScopeError)
    }
}

impl fmt::Display for ApiKeyScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

string_newtype! {
    /// What the owner calls a key: 1–100 characters, trimmed, no control characters.
    pub struct ApiKeyName(String), parse = ApiKeyNameError;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("name must be 1 to 100 characters without control characters")]
pub struct ApiKeyNameError;

impl ApiKeyName {
    pub fn parse(raw: &str) -> Result<Self, ApiKeyNameError> {
        let name = raw.trim();
        let ok = (1..=100).contains(&name.chars().count()) && !name.chars().any(char::is_control);
        if ok {
            Ok(Self(name.to_owned()))
        } else {
            Err(ApiKeyNameError)
        }
    }
}

/// A key as its owner sees it (never the secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub name: ApiKeyName,
    /// The start of the secret (`agk_` and 8 characters).
    pub prefix: String,
    pub scopes: Vec<ApiKeyScope>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A key being made, as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    pub id: ApiKeyId,
    pub user: UserId,
    pub name: ApiKeyName,
    pub prefix: String,
    /// The hash of the secret ([`SecretMinter::hash`](crate::ports::SecretMinter::hash)).
    pub secret_hash: String,
    pub scopes: Vec<ApiKeyScope>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A key found by its secret's hash, with what is known of its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredApiKey {
    pub id: ApiKeyId,
    pub prefix: String,
    pub scopes: Vec<ApiKeyScope>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub user: UserId,
    pub email: Email,
    pub user_disabled: bool,
}

/// Which key a request came with, as the ledger names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRef {
    pub id: ApiKeyId,
    pub prefix: String,
}

/// A caller who authenticated with a valid key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyCaller {
    pub key: KeyRef,
    pub scopes: Vec<ApiKeyScope>,
    pub user: UserId,
    pub role: Role,
    pub email: Email,
}

impl KeyCaller {
    #[must_use]
    pub const fn actor(&self) -> Actor {
        Actor {
            user: self.user,
            role: self.role,
        }
    }

    #[must_use]
    pub fn allows(&self, scope: ApiKeyScope) -> bool {
        self.scopes.contains(&scope)
    }
}

/// The scopes asked for, sorted and without repeats; at least one.
///
/// # Errors
/// `EmptyScopes` when none is given.
pub fn normalise_scopes(mut scopes: Vec<ApiKeyScope>) -> Result<Vec<ApiKeyScope>, EmptyScopes> {
    scopes.sort_unstable();
    scopes.dedup();
    if scopes.is_empty() {
        Err(EmptyScopes)
    } else {
        Ok(scopes)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at least one scope is needed")]
pub struct EmptyScopes;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_round_trip_through_text() {
        for scope in ApiKeyScope::ALL {
            assert_eq!(scope.as_str().parse::<ApiKeyScope>(), Ok(scope));
        }
        assert_eq!("admin".parse::<ApiKeyScope>(), Err(ApiKeyScopeError));
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(ApiKeyName::parse("  ci  ").unwrap().as_str(), "ci");
        assert_eq!(ApiKeyName::parse("   "), Err(ApiKeyNameError));
        assert_eq!(ApiKeyName::parse(&"x".repeat(101)), Err(ApiKeyNameError));
        assert_eq!(ApiKeyName::parse("a\nb"), Err(ApiKeyNameError));
    }

    #[test]
    fn scopes_are_sorted_deduplicated_and_not_empty() {
        assert_eq!(
            normalise_scopes(vec![
                ApiKeyScope::HistoryRead,
                ApiKeyScope::Chat,
                ApiKeyScope::Chat
            ]),
            Ok(vec![ApiKeyScope::Chat, ApiKeyScope::HistoryRead])
        );
        assert_eq!(normalise_scopes(vec![]), Err(EmptyScopes));
    }
}
