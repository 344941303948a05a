//! Any OpenAI-compatible chat API (OpenAI, Azure OpenAI's v1 API, vLLM, Ollama).
//!
//! ```text
//! POST {base}/v1/chat/completions       ({base}/chat/completions when base ends in /v1)
//! Authorization: Bearer <api key>       (when one is configured)
//! {"model": "...", "messages": [{"role": "system", ...}?, <history>..., {"role": "user", ...}]}
//! ```
//! The answer is `choices[0].message.content`.
//!
//! For AskAT&T this is configured with `ServiceRoute::OpenAi`; a domain picks it with
//! its configuration:
//! `{"kind": "openai", "model": "...", "base_url"?: "...", "system_prompt"?: "..."}`
//! (`base_url` falls back to the domain's `api_endpoint`, and must name an allowed
//! host). Such a domain's requests carry no `Authorization`: a domain cannot pick a
//! token scope.

use askgate_domain::domain::DomainConfiguration;
use askgate_domain::ports::{UpstreamAnswer, UpstreamRequest};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::wire::{WireError, join_path};

/// What a domain's configuration says about its OpenAI-compatible upstream.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct DomainSettings<'a> {
    pub(crate) model: &'a str,
    pub(crate) base_url: Option<&'a str>,
    pub(crate) system_prompt: Option<&'a str>,
}

impl<'a> DomainSettings<'a> {
    pub(crate) fn from_configuration(
        configuration: &'a DomainConfiguration,
    ) -> Result<Self, WireError> {
        let map = configuration.as_map();
        let text = |key: &str| map.get(key).and_then(serde_json::Value::as_str);
        let model = text("model")
            .filter(|m| !m.trim().is_empty())
            .ok_or(WireError::Configuration("openai kind needs a model"))?;
        Ok(Self {
            model,
            base_url: text("base_url"),
            system_prompt: text("system_prompt"),
        })
    }
}

#[derive(Serialize)]
struct Request<'a> {
    model: &'a str,
    messages: Vec<Message<'a>>,
    /// Asks for the answer as chunks (Server-Sent Events) as it is written.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
}

#[derive(Serialize)]
struct Message<'a> {
    role: &'static str,
    content: &'a str,
}

#[derive(Deserialize)]
struct Answer {
    choices: Vec<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    message: AnswerMessage,
}

#[derive(Deserialize)]
struct AnswerMessage {
    content: Option<String>,
}

pub(crate) fn url(base: &Url) -> Url {
    if base.path().trim_end_matches('/').ends_with("/v1") {
        join_path(base, "chat/completions")
    } else {
        join_path(base, "v1/chat/completions")
    }
}

pub(crate) fn body(
    request: &UpstreamRequest,
    model: &str,
    system_prompt: Option<&str>,
    stream: bool,
) -> Result<Vec<u8>, WireError> {
    let system = system_prompt.map(|content| Message {
        role: "system",
        content,
    });
    let history = request.history.iter().map(|turn| Message {
        role: turn.author.as_str(),
        content: &turn.content,
    });
    let user = Message {
        role: "user",
        content: request.message.as_str(),
    };
    let messages = system
        .into_iter()
        .chain(history)
        .chain(std::iter::once(user))
        .collect();
    Ok(serde_json::to_vec(&Request {
        model,
        messages,
        stream,
    })?)
}

pub(crate) fn parse(raw: &[u8]) -> Result<UpstreamAnswer, WireError> {
    let answer: Answer = serde_json::from_slice(raw)?;
    let text = answer
        .choices
        .into_iter()
        .next()
        .and_then(|choice| choice.message.content)
        .ok_or(WireError::Missing("choices[0].message.content"))?;
    Ok(UpstreamAnswer {
        text,
        sources: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_is_appended_once() {
        let url_of = |base: &str| url(&Url::parse(base).unwrap()).to_string();
        assert_eq!(
            url_of("http://localhost:11434"),
            "http://localhost:11434/v1/chat/completions"
        );
        assert_eq!(
            url_of("https://x.openai.azure.com/openai/v1/"),
            "https://x.openai.azure.com/openai/v1/chat/completions"
        );
    }

    #[test]
    fn a_domain_without_a_model_is_refused() {
        let configuration =
            DomainConfiguration::parse(serde_json::json!({"kind": "openai"})).unwrap();
        assert!(DomainSettings::from_configuration(&configuration).is_err());
    }
}
