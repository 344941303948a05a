//! Schemas for the problem body and for the shapes the API takes and returns
//! straight from the domain crate.
//!
//! The domain crate knows no HTTP or OpenAPI, so its request and response types
//! are described here, field for field as they serialise. The schemathesis run
//! (`e2e/schemathesis/run.sh`) checks every live response against these.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// An error answer (RFC 9457 `application/problem+json`).
#[derive(Serialize, ToSchema)]
pub struct Problem {
    /// `https://askgate.dev/problems/{code}`.
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub code: crate::error::ProblemCode,
    /// The request field at fault (validation failures).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// 402: the caller's balance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balance: Option<i64>,
    /// 402: where to buy tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purchase_url: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Admin,
}

#[derive(Serialize, ToSchema)]
pub enum ServiceType {
    #[serde(rename = "askatt")]
    AskAtt,
    #[serde(rename = "askdocs")]
    AskDocs,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    Purchase,
    Consumption,
    Refund,
    Grant,
    Adjustment,
    Reversal,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Author {
    User,
    Assistant,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PurchaseStatus {
    Pending,
    Credited,
    Failed,
}

/// `{"status": "ok"}`.
#[derive(Serialize, ToSchema)]
pub struct HealthStatus {
    #[schema(example = "ok")]
    pub status: String,
}

/// The caller's balance.
#[derive(Serialize, ToSchema)]
pub struct TokenBalance {
    #[schema(minimum = 0)]
    pub tokens: i32,
}

/// A chat answer. One token was charged for it (none for an idempotent replay).
#[derive(Serialize, ToSchema)]
pub struct ChatReply {
    pub response: String,
    #[schema(minimum = 0)]
    pub tokens_remaining: i32,
    pub conversation_id: Option<Uuid>,
    /// AskDocs: the domain's name (slug).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain_name: Option<String>,
    /// AskDocs: the documents the answer came from, as the upstream sent them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<serde_json::Value>,
}

/// A domain as an admin submits it (create and update replace every field).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DomainInput {
    /// Slug: lowercase letters, digits and dashes.
    #[schema(pattern = "^[a-z0-9][a-z0-9-]{0,62}$", min_length = 1, max_length = 63)]
    pub name: String,
    /// 1 to 100 characters after trimming, no control characters.
    #[schema(min_length = 1, max_length = 100)]
    pub display_name: String,
    /// At most 2000 characters.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    /// Where this domain's questions go: an http or https URL (https in
    /// production) whose host the operator allows (`UPSTREAM_ALLOWED_HOSTS`).
    #[serde(default)]
    pub api_endpoint: Option<String>,
    /// JSON object of at most 16 KiB: `kind` (`askdocs`, `openai`, `builtin`),
    /// and for `openai` `model`, `base_url` (an allowed host, like
    /// `api_endpoint`) and `system_prompt`. `scope` is refused: token scopes
    /// are server settings.
    #[serde(default)]
    pub configuration: Option<serde_json::Value>,
    #[serde(default)]
    pub is_active: Option<bool>,
}

/// An AskDocs domain. `api_endpoint`, `configuration` and `created_by` are
/// shown to admins only.
#[derive(Serialize, ToSchema)]
pub struct Domain {
    pub id: Uuid,
    pub name: String,
    pub display_name: String,
    pub description: Option<String>,
    pub is_active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configuration: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct Conversation {
    pub id: Uuid,
    pub user_id: Uuid,
    pub service_type: ServiceType,
    pub domain_id: Option<Uuid>,
    pub title: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct Message {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub author: Author,
    pub content: String,
    pub created_at: DateTime<Utc>,
}

/// One page of conversations, most recently updated first.
#[derive(Serialize, ToSchema)]
pub struct ConversationPage {
    pub items: Vec<Conversation>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// A conversation and its messages, oldest first.
#[derive(Serialize, ToSchema)]
pub struct ConversationDetail {
    pub conversation: Conversation,
    pub messages: Vec<Message>,
}

/// A token package.
#[derive(Serialize, ToSchema)]
pub struct TokenPackage {
    /// What to send as `package`: `"100"`, `"250"` or `"600"`.
    pub id: String,
    pub tokens: i32,
    pub amount_cents: i64,
    pub currency: String,
    pub display_price: String,
}

#[derive(Serialize, ToSchema)]
pub struct TokenPackages {
    pub packages: Vec<TokenPackage>,
}

/// A Stripe PaymentIntent for the browser to confirm.
#[derive(Serialize, ToSchema)]
pub struct PaymentIntentCreated {
    pub payment_intent_id: String,
    pub client_secret: String,
}

/// A Stripe-hosted checkout page to send the browser to.
#[derive(Serialize, ToSchema)]
pub struct CheckoutCreated {
    pub id: String,
    pub url: String,
}

/// A purchase the caller started.
#[derive(Serialize, ToSchema)]
pub struct Purchase {
    pub status: PurchaseStatus,
    pub tokens: i32,
    pub balance: i32,
}
