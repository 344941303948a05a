//! A chat's answer as Server-Sent Events, for a client that sends
//! `Accept: text/event-stream`.
//!
//! The use case runs in a task of its own and sends its events down a
//! channel; the response body reads them. When the client goes away, actix
//! drops the body, which drops the channel's receiver: that is how the use
//! case learns the client left (and cancels the upstream request) — never by
//! being dropped itself halfway through a charge.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::http::header::{self, HeaderValue};
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpRequest, HttpResponse};
use askgate_domain::services::{ChatEvent, ChatRequest};
use futures::Stream;
use tokio::sync::mpsc;

use super::ChatTaskFailed;
use crate::dto::StreamEvent;
use crate::error::ApiError;
use crate::metrics::FirstDelta;
use crate::state::AppState;

/// A comment line now and then, so that idle proxies keep the stream open
/// while the upstream thinks.
const HEARTBEAT: Duration = Duration::from_secs(15);
const HEARTBEAT_LINE: &[u8] = b": keep-alive\n\n";

/// Events waiting for a slow client; beyond this the use case waits too,
/// which stops it reading the upstream (backpressure, not buffering).
const EVENTS_IN_FLIGHT: usize = 32;

/// How the client wants the answer: as a stream when its `Accept` names
/// `text/event-stream` (with a non-zero quality), otherwise whole, as JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerAs {
    Json,
    EventStream,
}

impl AnswerAs {
    fn of(req: &HttpRequest) -> Self {
        let wants_stream = req
            .headers()
            .get_all(header::ACCEPT)
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(names_event_stream);
        if wants_stream {
            Self::EventStream
        } else {
            Self::Json
        }
    }
}

/// `text/event-stream` in one media range of an `Accept` header, unless its
/// quality is zero.
fn names_event_stream(range: &str) -> bool {
    let mut parts = range.split(';').map(str::trim);
    let media = parts.next().unwrap_or_default();
    if !media.eq_ignore_ascii_case("text/event-stream") {
        return false;
    }
    !parts.any(|p| {
        p.split_once('=').is_some_and(|(name, value)| {
            name.trim().eq_ignore_ascii_case("q")
                && value.trim().parse::<f32>().is_ok_and(|q| q <= 0.0)
        })
    })
}

impl FromRequest for AnswerAs {
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self, Infallible>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(Ok(Self::of(req)))
    }
}

/// Starts the chat and answers with its event stream, or with an ordinary
/// error when it is refused before its token is held.
pub(super) async fn answer(
    state: &AppState,
    route: &'static str,
    request: ChatRequest,
) -> Result<HttpResponse, ApiError> {
    let chat = Arc::clone(&state.services.chat);
    let upstream_wait = crate::metrics::current_upstream_wait();
    let first_delta = FirstDelta::start(route, upstream_wait.clone());
    let (events, mut received) = mpsc::channel(EVENTS_IN_FLIGHT);
    let task = tokio::spawn(crate::metrics::with_upstream_wait(
        upstream_wait,
        async move { chat.chat_streaming(request, events).await },
    ));
    // The first event is `start`; no event at all means a refusal.
    let Some(start) = received.recv().await else {
        return Err(match task.await {
            Ok(Err(refused)) => super::problem(state, refused),
            Ok(Ok(())) => ApiError::internal(&EndedSilently),
            Err(e) => ApiError::internal(&ChatTaskFailed(e)),
        });
    };
    let body = EventStream {
        first: Some(start),
        received,
        heartbeat: tokio::time::interval_at(tokio::time::Instant::now() + HEARTBEAT, HEARTBEAT),
        first_delta: Some(first_delta),
    };
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        ))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-cache")))
        // nginx and the like: pass each event on as it comes.
        .insert_header(("X-Accel-Buffering", HeaderValue::from_static("no")))
        .streaming(body))
}

#[derive(Debug, thiserror::Error)]
#[error("the chat ended without answering")]
struct EndedSilently;

/// The response body: each event as it comes, a heartbeat while none does.
struct EventStream {
    first: Option<ChatEvent>,
    received: mpsc::Receiver<ChatEvent>,
    heartbeat: tokio::time::Interval,
    /// Until the first piece of answer has gone out.
    first_delta: Option<FirstDelta>,
}

impl EventStream {
    fn encode(&mut self, event: ChatEvent) -> Bytes {
        if matches!(event, ChatEvent::Delta(_))
            && let Some(timer) = self.first_delta.take()
        {
            timer.record();
        }
        self.heartbeat.reset();
        Bytes::from(StreamEvent::from(event).to_sse())
    }
}

impl Stream for EventStream {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(first) = self.first.take() {
            return Poll::Ready(Some(Ok(self.encode(first))));
        }
        match self.received.poll_recv(cx) {
            Poll::Ready(Some(event)) => Poll::Ready(Some(Ok(self.encode(event)))),
            // The use case is done: `done` or `error` was its last event.
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match self.heartbeat.poll_tick(cx) {
                Poll::Ready(_) => Poll::Ready(Some(Ok(Bytes::from_static(HEARTBEAT_LINE)))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_is_asked_for_by_media_range_not_by_substring() {
        assert!(names_event_stream("text/event-stream"));
        assert!(names_event_stream(" Text/Event-Stream ; charset=utf-8"));
        assert!(names_event_stream("text/event-stream;q=0.5"));
        assert!(!names_event_stream("text/event-stream;q=0"));
        assert!(!names_event_stream("application/json"));
        assert!(!names_event_stream("text/event-streamer"));
        assert!(!names_event_stream("*/*"));
    }
}
