//! The API's request and answer bodies, as the client reads them. Fields the
//! server adds later are ignored, so an older client keeps working.

use serde::{Deserialize, Serialize};

/// `user` of a sign-in answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct User {
    pub id: String,
    pub email: String,
    #[serde(default)]
    pub display_name: Option<String>,
    pub tokens: i64,
    /// `user` or `admin`.
    pub role: String,
}

/// `GET /api/user/me`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Profile {
    #[serde(flatten)]
    pub user: User,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub last_login: Option<String>,
}

/// A session: what every sign-in and refresh answers.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SignedIn {
    pub session_token: String,
    pub expires_in: u64,
    pub user: User,
    /// Present for clients that asked for it in the body (all of this crate's calls).
    #[serde(default)]
    pub refresh_token: Option<String>,
}

/// `POST /api/auth/device`: what to show the person.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DeviceAuthorization {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    #[serde(default)]
    pub verification_uri_complete: Option<String>,
    pub expires_in: u64,
    pub interval: u64,
}

/// Which service a chat asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    Askatt,
    Askdocs,
}

/// A question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChatRequest {
    #[serde(skip)]
    pub service: Service,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    /// AskDocs: the domain's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain_id: Option<String>,
    /// Makes a retry charge nothing: the same key answers the first answer.
    #[serde(skip)]
    pub idempotency_key: Option<String>,
}

impl ChatRequest {
    #[must_use]
    pub fn askatt(message: impl Into<String>) -> Self {
        Self {
            service: Service::Askatt,
            message: message.into(),
            conversation_id: None,
            domain_id: None,
            idempotency_key: None,
        }
    }

    #[must_use]
    pub fn askdocs(domain_id: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            service: Service::Askdocs,
            domain_id: Some(domain_id.into()),
            ..Self::askatt(message)
        }
    }

    #[must_use]
    pub fn in_conversation(mut self, conversation_id: impl Into<String>) -> Self {
        self.conversation_id = Some(conversation_id.into());
        self
    }

    #[must_use]
    pub fn with_idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }
}

/// A whole answer.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ChatAnswer {
    pub response: String,
    pub tokens_remaining: i64,
    #[serde(default)]
    pub conversation_id: Option<String>,
    #[serde(default)]
    pub domain_name: Option<String>,
    #[serde(default)]
    pub sources: Vec<serde_json::Value>,
    #[serde(default)]
    pub interrupted: bool,
}

/// One ledger row.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Transaction {
    pub id: String,
    /// `purchase`, `consumption`, `refund`, `grant`, `adjustment`, `reversal`.
    #[serde(rename = "type")]
    pub kind: String,
    pub amount: i64,
    pub balance_after: i64,
    #[serde(default)]
    pub service_type: Option<String>,
    #[serde(default)]
    pub domain_id: Option<String>,
    #[serde(default)]
    pub metadata: serde_json::Value,
    pub created_at: String,
}

/// A page of a list, newest first; pass `next_cursor` back for the next.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// An AskDocs domain.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Domain {
    pub id: String,
    pub name: String,
    pub display_name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub is_active: bool,
}

/// A token package on sale.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Package {
    pub id: String,
    pub tokens: i64,
    pub amount_cents: i64,
    pub currency: String,
    pub display_price: String,
}

/// A Stripe Checkout page to send the person to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Checkout {
    pub id: String,
    pub url: String,
}
