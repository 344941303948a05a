//! A streamed answer (`Accept: text/event-stream`) as a [`Stream`] of
//! [`ChatEvent`]s.

use std::pin::Pin;

use futures::stream;
use futures_core::Stream;
use serde::Deserialize;

use crate::error::{Error, Problem};

/// What a streamed answer sends, in order: `Start`, `Delta`s (and AskDocs'
/// `Sources`), then `Done` or `Error`, after which the stream ends.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatEvent {
    /// The token is held; the balance with it held.
    Start {
        conversation_id: Option<String>,
        tokens_remaining: i64,
        domain_name: Option<String>,
    },
    /// The next piece of the answer.
    Delta { text: String },
    /// AskDocs: the documents the answer drew on.
    Sources { sources: Vec<serde_json::Value> },
    Done {
        tokens_remaining: i64,
        finish_reason: Option<String>,
    },
    /// The answer failed after it started; `refunded` says whether the token
    /// came back, `partial_kept` whether the part shown was kept.
    Error {
        problem: Problem,
        refunded: bool,
        partial_kept: bool,
        tokens_remaining: Option<i64>,
    },
}

/// The events of one streamed answer.
pub type ChatStream = Pin<Box<dyn Stream<Item = Result<ChatEvent, Error>> + Send>>;

#[derive(Deserialize)]
struct StartData {
    #[serde(default)]
    conversation_id: Option<String>,
    tokens_remaining: i64,
    #[serde(default)]
    domain_name: Option<String>,
}

#[derive(Deserialize)]
struct DeltaData {
    text: String,
}

#[derive(Deserialize)]
struct SourcesData {
    #[serde(default)]
    sources: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct DoneData {
    tokens_remaining: i64,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct ErrorData {
    #[serde(flatten)]
    problem: Problem,
    #[serde(default)]
    refunded: bool,
    #[serde(default)]
    partial_kept: bool,
    #[serde(default)]
    tokens_remaining: Option<i64>,
}

/// Splits Server-Sent Events out of the bytes received so far.
#[derive(Debug, Default)]
pub(crate) struct EventParser {
    buffer: String,
}

impl EventParser {
    /// Feeds bytes; returns the events completed by them.
    pub(crate) fn feed(&mut self, bytes: &[u8]) -> Result<Vec<ChatEvent>, Error> {
        self.buffer.push_str(&String::from_utf8_lossy(bytes));
        if self.buffer.contains('\r') {
            self.buffer = self.buffer.replace("\r\n", "\n");
        }
        let mut events = Vec::new();
        while let Some(end) = self.buffer.find("\n\n") {
            let block: String = self.buffer.drain(..end + 2).collect();
            if let Some(event) = parse_block(&block)? {
                events.push(event);
            }
        }
        Ok(events)
    }
}

fn parse_block(block: &str) -> Result<Option<ChatEvent>, Error> {
    let mut name = "message";
    let mut data = String::new();
    for line in block.lines() {
        if line.starts_with(':') {
            continue; // a heartbeat
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => name = value,
            "data" => {
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(value);
            }
            _ => {}
        }
    }
    if data.is_empty() {
        return Ok(None);
    }
    let bad = |err: serde_json::Error| Error::Unexpected(format!("a `{name}` event: {err}"));
    Ok(Some(match name {
        "start" => {
            let d: StartData = serde_json::from_str(&data).map_err(bad)?;
            ChatEvent::Start {
                conversation_id: d.conversation_id,
                tokens_remaining: d.tokens_remaining,
                domain_name: d.domain_name,
            }
        }
        "delta" => {
            let d: DeltaData = serde_json::from_str(&data).map_err(bad)?;
            ChatEvent::Delta { text: d.text }
        }
        "sources" => {
            let d: SourcesData = serde_json::from_str(&data).map_err(bad)?;
            ChatEvent::Sources { sources: d.sources }
        }
        "done" => {
            let d: DoneData = serde_json::from_str(&data).map_err(bad)?;
            ChatEvent::Done {
                tokens_remaining: d.tokens_remaining,
                finish_reason: d.finish_reason,
            }
        }
        "error" => {
            let d: ErrorData = serde_json::from_str(&data).map_err(bad)?;
            ChatEvent::Error {
                problem: d.problem,
                refunded: d.refunded,
                partial_kept: d.partial_kept,
                tokens_remaining: d.tokens_remaining,
            }
        }
        // Events a newer server may add.
        _ => return Ok(None),
    }))
}

/// The events of `response`, read as they arrive.
pub(crate) fn events(response: reqwest::Response) -> ChatStream {
    struct State {
        response: reqwest::Response,
        parser: EventParser,
        ready: std::collections::VecDeque<ChatEvent>,
        finished: bool,
    }
    let state = State {
        response,
        parser: EventParser::default(),
        ready: std::collections::VecDeque::new(),
        finished: false,
    };
    Box::pin(stream::unfold(state, |mut state| async move {
        loop {
            if let Some(event) = state.ready.pop_front() {
                if matches!(event, ChatEvent::Done { .. } | ChatEvent::Error { .. }) {
                    state.finished = true;
                    state.ready.clear();
                }
                return Some((Ok(event), state));
            }
            if state.finished {
                return None;
            }
            match state.response.chunk().await {
                Ok(Some(bytes)) => match state.parser.feed(&bytes) {
                    Ok(events) => state.ready.extend(events),
                    Err(err) => {
                        state.finished = true;
                        return Some((Err(err), state));
                    }
                },
                Ok(None) => {
                    state.finished = true;
                    return Some((
                        Err(Error::Unexpected(
                            "the stream ended without `done` or `error`".to_owned(),
                        )),
                        state,
                    ));
                }
                Err(err) => {
                    state.finished = true;
                    return Some((Err(Error::Http(err)), state));
                }
            }
        }
    }))
}

/// A whole JSON answer (a server that does not stream) as the events a stream gives.
pub(crate) fn whole(answer: crate::types::ChatAnswer) -> ChatStream {
    let mut events = vec![Ok(ChatEvent::Start {
        conversation_id: answer.conversation_id,
        tokens_remaining: answer.tokens_remaining,
        domain_name: answer.domain_name,
    })];
    events.push(Ok(ChatEvent::Delta {
        text: answer.response,
    }));
    if !answer.sources.is_empty() {
        events.push(Ok(ChatEvent::Sources {
            sources: answer.sources,
        }));
    }
    events.push(Ok(ChatEvent::Done {
        tokens_remaining: answer.tokens_remaining,
        finish_reason: Some(
            if answer.interrupted {
                "interrupted"
            } else {
                "stop"
            }
            .to_owned(),
        ),
    }));
    Box::pin(stream::iter(events))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn events_split_across_chunks_heartbeats_and_crlf_are_read() {
        let mut parser = EventParser::default();
        let mut events = parser
            .feed(b": heartbeat\n\nevent: start\ndata: {\"conversation_id\":\"c1\",\"tokens_remaining\":9}\n\nevent: del")
            .unwrap();
        events.extend(
            parser
                .feed(b"ta\r\ndata: {\"text\":\"hi \"}\r\n\r\n")
                .unwrap(),
        );
        events.extend(
            parser
                .feed(b"event: later\ndata: {}\n\nevent: done\ndata: {\"length\":3,\"tokens_remaining\":9,\"finish_reason\":\"stop\"}\n\n")
                .unwrap(),
        );
        assert_eq!(
            events,
            vec![
                ChatEvent::Start {
                    conversation_id: Some("c1".into()),
                    tokens_remaining: 9,
                    domain_name: None
                },
                ChatEvent::Delta { text: "hi ".into() },
                ChatEvent::Done {
                    tokens_remaining: 9,
                    finish_reason: Some("stop".into())
                },
            ]
        );
    }

    #[test]
    fn an_error_event_carries_the_problem_and_the_refund() {
        let mut parser = EventParser::default();
        let events = parser
            .feed(b"event: error\ndata: {\"type\":\"t\",\"title\":\"Upstream service failed\",\"status\":502,\"detail\":\"d\",\"code\":\"upstream_failed\",\"refunded\":true,\"partial_kept\":false,\"tokens_remaining\":10}\n\n")
            .unwrap();
        let [
            ChatEvent::Error {
                problem, refunded, ..
            },
        ] = events.as_slice()
        else {
            panic!("{events:?}");
        };
        assert_eq!(problem.code, "upstream_failed");
        assert!(*refunded);
    }
}
