//! AskAT&T's wire format. Adapting to the real API is a change to this file only.
//!
//! ```text
//! POST {ASKATT_API_ENDPOINT}/chat
//! Authorization: Bearer <client-credentials token for AZURE_AD_SCOPE>
//! {"message": "...", "history": [{"role": "user"|"assistant", "content": "..."}]}
//! ```
//! `history` (oldest first) is left out when the conversation has none.
//! The answer is `{"response": "..."}`.

use askgate_domain::ports::{UpstreamAnswer, UpstreamRequest};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::wire::{HistoryEntry, WireError, history, join_path};

#[derive(Serialize)]
struct Request<'a> {
    message: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    history: Vec<HistoryEntry<'a>>,
}

#[derive(Deserialize)]
struct Answer {
    response: String,
}

pub(crate) fn url(endpoint: &Url) -> Url {
    join_path(endpoint, "chat")
}

pub(crate) fn body(request: &UpstreamRequest) -> Result<Vec<u8>, WireError> {
    Ok(serde_json::to_vec(&Request {
        message: request.message.as_str(),
        history: history(&request.history),
    })?)
}

pub(crate) fn parse(raw: &[u8]) -> Result<UpstreamAnswer, WireError> {
    let answer: Answer = serde_json::from_slice(raw)?;
    Ok(UpstreamAnswer {
        text: answer.response,
        sources: Vec::new(),
    })
}
