//! What a user sends and reads about their personal API keys.

use askgate_domain::ApiKeyId;
use askgate_domain::api_key::{ApiKey, ApiKeyScope};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A scope of a personal API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = ApiKeyScope)]
pub enum ApiKeyScopeView {
    /// Both chat endpoints and the domain list; spends tokens.
    #[serde(rename = "chat")]
    Chat,
    /// `GET /api/user/tokens`.
    #[serde(rename = "balance:read")]
    BalanceRead,
    /// The ledger history, usage and conversations, read only.
    #[serde(rename = "history:read")]
    HistoryRead,
}

impl From<ApiKeyScopeView> for ApiKeyScope {
    fn from(v: ApiKeyScopeView) -> Self {
        match v {
            ApiKeyScopeView::Chat => Self::Chat,
            ApiKeyScopeView::BalanceRead => Self::BalanceRead,
            ApiKeyScopeView::HistoryRead => Self::HistoryRead,
        }
    }
}

impl From<ApiKeyScope> for ApiKeyScopeView {
    fn from(s: ApiKeyScope) -> Self {
        match s {
            ApiKeyScope::Chat => Self::Chat,
            ApiKeyScope::BalanceRead => Self::BalanceRead,
            ApiKeyScope::HistoryRead => Self::HistoryRead,
        }
    }
}

/// A key to make.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = ApiKeyCreate)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyBody {
    /// What the key is for: 1 to 100 characters.
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// What the key may do: at least one.
    #[schema(min_items = 1)]
    pub scopes: Vec<ApiKeyScopeView>,
    /// When the key stops working (in the future); never, without it.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// A key as listed: never its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = ApiKey)]
pub struct ApiKeyView {
    #[schema(value_type = uuid::Uuid)]
    pub id: ApiKeyId,
    pub name: String,
    /// The start of the secret (`agk_` and 8 characters), to recognise it.
    pub prefix: String,
    pub scopes: Vec<ApiKeyScopeView>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    /// To the minute.
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<&ApiKey> for ApiKeyView {
    fn from(k: &ApiKey) -> Self {
        Self {
            id: k.id,
            name: k.name.as_str().to_owned(),
            prefix: k.prefix.clone(),
            scopes: k.scopes.iter().copied().map(Into::into).collect(),
            created_at: k.created_at,
            expires_at: k.expires_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
        }
    }
}

/// A key just made, with its secret: shown this once, never again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = ApiKeyCreated)]
pub struct ApiKeyCreatedView {
    #[serde(flatten)]
    pub key: ApiKeyView,
    /// `agk_…`: send it as `Authorization: Bearer <secret>`. Store it now.
    pub secret: String,
}

/// The caller's keys, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = ApiKeyList)]
pub struct ApiKeyListView {
    pub items: Vec<ApiKeyView>,
}
