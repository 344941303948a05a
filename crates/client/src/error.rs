//! What can go wrong: askgate refused (its problem+json body), or the request
//! never got an answer that could be read.

/// askgate's problem+json error body (RFC 9457).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Problem {
    pub status: u16,
    /// The stable machine-readable code, e.g. `insufficient_tokens`.
    pub code: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub detail: String,
    /// The request field at fault (validation failures).
    #[serde(default)]
    pub field: Option<String>,
    /// 402: the balance.
    #[serde(default)]
    pub balance: Option<i64>,
    /// 402: where to buy tokens (a path on askgate, or a URL).
    #[serde(default)]
    pub purchase_url: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// askgate answered with an error.
    #[error("{} ({}): {}", .0.title, .0.code, .0.detail)]
    Api(Box<Problem>),
    /// askgate could not be reached, or the connection broke.
    #[error("askgate could not be reached: {0}")]
    Http(#[from] reqwest::Error),
    /// The base URL is not an absolute http(s) URL.
    #[error("not an askgate URL: {0}")]
    BadUrl(String),
    /// An answer that is not what the API documents.
    #[error("unexpected answer from askgate: {0}")]
    Unexpected(String),
    /// Signed-in calls need credentials.
    #[error("not signed in")]
    NotSignedIn,
}

impl Error {
    /// The problem's code, when askgate refused.
    #[must_use]
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api(problem) => Some(&problem.code),
            _ => None,
        }
    }

    /// The HTTP status, when askgate answered.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api(problem) => Some(problem.status),
            _ => None,
        }
    }
}
