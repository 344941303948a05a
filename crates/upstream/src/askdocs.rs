//! AskDocs' wire format. Adapting to the real API is a change to this file only.
//!
//! ```text
//! POST {domain.api_endpoint}            (or {ASKDOCS_API_BASE_ENDPOINT}/{domain.name}/chat)
//! Authorization: Bearer <client-credentials token for AZURE_AD_DOMAIN_QNA_SCOPE>
//! {"message": "...", "configuration": {<the domain's configuration>},
//!  "history": [{"role": "user"|"assistant", "content": "..."}]}
//! ```
//! `history` (oldest first) is left out when the conversation has none.
//! The answer is `{"response": "...", "sources": [...]}`; `sources` is optional and
//! each source is passed on as the upstream wrote it.

use askgate_domain::domain::DomainConfiguration;
use askgate_domain::ports::{UpstreamAnswer, UpstreamRequest};
use serde::{Deserialize, Serialize};

use crate::wire::{HistoryEntry, WireError, history};

#[derive(Serialize)]
struct Request<'a> {
    message: &'a str,
    configuration: &'a serde_json::Map<String, serde_json::Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    history: Vec<HistoryEntry<'a>>,
}

#[derive(Deserialize)]
struct Answer {
    response: String,
    #[serde(default)]
    sources: Option<Vec<serde_json::Value>>,
}

pub(crate) fn body(
    request: &UpstreamRequest,
    configuration: &DomainConfiguration,
) -> Result<Vec<u8>, WireError> {
    Ok(serde_json::to_vec(&Request {
        message: request.message.as_str(),
        configuration: configuration.as_map(),
        history: history(&request.history),
    })?)
}

pub(crate) fn parse(raw: &[u8]) -> Result<UpstreamAnswer, WireError> {
    let answer: Answer = serde_json::from_slice(raw)?;
    Ok(UpstreamAnswer {
        text: answer.response,
        sources: answer.sources.unwrap_or_default(),
    })
}
