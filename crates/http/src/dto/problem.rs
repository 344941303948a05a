//! The body of every error answer.

use serde::Serialize;

use crate::error::ProblemCode;

/// An error answer (RFC 9457 `application/problem+json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// `https://askgate.dev/problems/{code}`.
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub code: ProblemCode,
    /// The request field at fault (validation failures).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// 402: the caller's balance; 422 `amount` of an adjustment: the user's balance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balance: Option<i64>,
    /// 402: where to buy tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purchase_url: Option<String>,
    /// Device-code sign-in errors only: the same code under the name OAuth
    /// clients read (RFC 8628 §3.5).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
