//! Answers read as they are written.
//!
//! Every kind is asked for `text/event-stream`. An upstream that answers with
//! it has its events translated as they arrive ([`Format`]); one that answers
//! with plain JSON is read whole and handed on as one delta, so a caller never
//! needs to know which it was. The body is read within the question's deadline
//! (see `transport.rs`), and dropping the stream drops the connection, which
//! is how a client that went away cancels the upstream's work.

use std::collections::VecDeque;
use std::time::Duration;

use askgate_domain::ports::{UpstreamAnswer, UpstreamError, UpstreamEvent, UpstreamStream};
use serde::Deserialize;

use crate::sse::{self, Decoder};
use crate::transport::{AttemptError, MAX_ANSWER_BYTES, read_capped};
use crate::wire::WireError;

/// What `Accept` asks for: a stream, or the JSON answer from an upstream that has none.
pub(crate) const ACCEPT: &str = "text/event-stream, application/json;q=0.9";

/// How an upstream's events carry its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// OpenAI's chat-completion chunks: `choices[0].delta.content`, then `[DONE]`.
    OpenAi,
    /// AskAT&T and AskDocs: each event is a piece of their JSON answer,
    /// `{"response"?: "next text", "sources"?: [...]}`; the body's end (or a
    /// `[DONE]`) ends the answer.
    Pieces,
}

/// The answer of `response` as a stream. `whole` reads a non-streamed answer.
pub(crate) async fn answer(
    response: reqwest::Response,
    format: Format,
    whole: fn(&[u8]) -> Result<UpstreamAnswer, WireError>,
) -> Result<UpstreamStream, UpstreamError> {
    if !is_event_stream(&response) {
        let raw = read_capped(response).await.map_err(attempt_error)?;
        let answer = whole(&raw).map_err(|e| UpstreamError::Failed(e.to_string()))?;
        return Ok(UpstreamStream::whole(answer));
    }
    Ok(UpstreamStream::new(futures::stream::unfold(
        Reading::new(response, format),
        Reading::next,
    )))
}

fn is_event_stream(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("text/event-stream"))
}

fn attempt_error(error: AttemptError) -> UpstreamError {
    match error {
        AttemptError::TimedOut | AttemptError::NotSent { timed_out: true } => {
            UpstreamError::Timeout
        }
        AttemptError::NotSent { .. } => UpstreamError::Failed("upstream unreachable".to_owned()),
        AttemptError::Failed(reason) => UpstreamError::Failed(reason),
    }
}

/// The state of one streamed answer between two events.
struct Reading {
    response: Option<reqwest::Response>,
    format: Format,
    decoder: Decoder,
    ready: VecDeque<Result<UpstreamEvent, UpstreamError>>,
    bytes: usize,
}

impl Reading {
    fn new(response: reqwest::Response, format: Format) -> Self {
        Self {
            response: Some(response),
            format,
            decoder: Decoder::default(),
            ready: VecDeque::new(),
            bytes: 0,
        }
    }

    async fn next(mut self) -> Option<(Result<UpstreamEvent, UpstreamError>, Self)> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                if event.is_err() {
                    // Nothing follows an error.
                    self.response = None;
                    self.ready.clear();
                }
                return Some((event, self));
            }
            let response = self.response.as_mut()?;
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    self.bytes += chunk.len();
                    if self.bytes > MAX_ANSWER_BYTES {
                        self.fail(UpstreamError::Failed(
                            "upstream answer too large".to_owned(),
                        ));
                        continue;
                    }
                    match self.decoder.feed(&chunk) {
                        Ok(events) => self.translate(events),
                        Err(error) => self.fail(UpstreamError::Failed(format!(
                            "upstream stream unreadable: {error}"
                        ))),
                    }
                }
                Ok(None) => self.response = None,
                Err(error) if error.is_timeout() => self.fail(UpstreamError::Timeout),
                Err(_) => self.fail(UpstreamError::Failed(
                    "upstream stream broke off".to_owned(),
                )),
            }
        }
    }

    fn fail(&mut self, error: UpstreamError) {
        self.ready.push_back(Err(error));
    }

    fn translate(&mut self, events: Vec<sse::Event>) {
        for event in events {
            if event.data.trim() == "[DONE]" {
                self.response = None;
                return;
            }
            match translate(self.format, &event) {
                Ok(found) => self.ready.extend(found.into_iter().map(Ok)),
                Err(error) => {
                    self.fail(UpstreamError::Failed(error.to_string()));
                    return;
                }
            }
        }
    }
}

#[derive(Deserialize)]
struct OpenAiChunk {
    #[serde(default)]
    choices: Vec<OpenAiChoice>,
}

#[derive(Deserialize)]
struct OpenAiChoice {
    #[serde(default)]
    delta: OpenAiDelta,
}

#[derive(Deserialize, Default)]
struct OpenAiDelta {
    content: Option<String>,
}

#[derive(Deserialize)]
struct Piece {
    response: Option<String>,
    sources: Option<Vec<serde_json::Value>>,
}

/// The answer events one upstream event carries (often none: role-only
/// chunks, keep-alives under another event name).
fn translate(format: Format, event: &sse::Event) -> Result<Vec<UpstreamEvent>, WireError> {
    if event.name.as_deref().is_some_and(|name| name != "message") {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    match format {
        Format::OpenAi => {
            let chunk: OpenAiChunk = serde_json::from_str(&event.data)?;
            let text = chunk
                .choices
                .into_iter()
                .next()
                .and_then(|choice| choice.delta.content);
            found.extend(text.filter(|t| !t.is_empty()).map(UpstreamEvent::Delta));
        }
        Format::Pieces => {
            let piece: Piece = serde_json::from_str(&event.data)?;
            found.extend(
                piece
                    .response
                    .filter(|t| !t.is_empty())
                    .map(UpstreamEvent::Delta),
            );
            found.extend(
                piece
                    .sources
                    .filter(|s| !s.is_empty())
                    .map(UpstreamEvent::Sources),
            );
        }
    }
    Ok(found)
}

/// The built-in demo's answer, word by word, so that streaming shows with
/// nothing configured.
pub(crate) fn words(answer: UpstreamAnswer, pause: Duration) -> UpstreamStream {
    let mut pieces: VecDeque<String> = VecDeque::new();
    let mut rest = answer.text.as_str();
    while !rest.is_empty() {
        // Each piece is a word with the spaces after it, so the pieces add up to the text.
        let word_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let end = rest[word_end..]
            .find(|c: char| !c.is_whitespace())
            .map_or(rest.len(), |n| word_end + n);
        pieces.push_back(rest[..end].to_owned());
        rest = &rest[end..];
    }
    let sources = answer.sources;
    UpstreamStream::new(futures::stream::unfold(
        (pieces, Some(sources), true),
        move |(mut pieces, mut sources, first)| async move {
            if let Some(piece) = pieces.pop_front() {
                if !first {
                    tokio::time::sleep(pause).await;
                }
                return Some((Ok(UpstreamEvent::Delta(piece)), (pieces, sources, false)));
            }
            let found = sources.take().filter(|s| !s.is_empty())?;
            Some((Ok(UpstreamEvent::Sources(found)), (pieces, None, false)))
        },
    ))
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;

    use super::*;

    fn event(data: &str) -> sse::Event {
        sse::Event {
            name: None,
            data: data.to_owned(),
        }
    }

    #[test]
    fn openai_chunks_give_their_content_and_skip_role_only_chunks() {
        let role = r#"{"choices":[{"index":0,"delta":{"role":"assistant"},"finish_reason":null}]}"#;
        let text = r#"{"choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}"#;
        let end = r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#;
        assert_eq!(translate(Format::OpenAi, &event(role)).unwrap(), []);
        assert_eq!(
            translate(Format::OpenAi, &event(text)).unwrap(),
            [UpstreamEvent::Delta("Hel".to_owned())]
        );
        assert_eq!(translate(Format::OpenAi, &event(end)).unwrap(), []);
    }

    #[test]
    fn pieces_carry_text_and_sources() {
        let found = translate(
            Format::Pieces,
            &event(r#"{"response":"Leave is ","sources":[{"title":"HR"}]}"#),
        )
        .unwrap();
        assert_eq!(
            found,
            [
                UpstreamEvent::Delta("Leave is ".to_owned()),
                UpstreamEvent::Sources(vec![serde_json::json!({"title": "HR"})]),
            ]
        );
    }

    #[test]
    fn events_of_other_names_are_skipped_and_bad_json_is_an_error() {
        let ping = sse::Event {
            name: Some("ping".to_owned()),
            data: "{}".to_owned(),
        };
        assert_eq!(translate(Format::Pieces, &ping).unwrap(), []);
        assert!(translate(Format::OpenAi, &event("not json")).is_err());
    }

    #[tokio::test]
    async fn the_demo_streams_words_that_add_up_to_its_answer() {
        let text = "One  two\nthree four.";
        let stream = words(
            UpstreamAnswer {
                text: text.to_owned(),
                sources: Vec::new(),
            },
            Duration::ZERO,
        );
        let pieces: Vec<String> = stream
            .map(|event| match event {
                Ok(UpstreamEvent::Delta(piece)) => piece,
                other => panic!("unexpected {other:?}"),
            })
            .collect()
            .await;
        assert_eq!(pieces, ["One  ", "two\n", "three ", "four."]);
        assert_eq!(pieces.concat(), text);
    }
}
