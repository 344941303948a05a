//! A chat answered as it is written.
//!
//! The charge follows the same reserve → settle / refund lifecycle as a whole
//! answer; what streaming adds is *when* the answer ends, and that decides the
//! token:
//!
//! | how it ends | the token | the part written |
//! |---|---|---|
//! | the upstream finishes | spent | the answer |
//! | the upstream fails before its first piece | refunded | — |
//! | the upstream breaks off after a piece | refunded | kept, marked interrupted |
//! | the client leaves before the first piece | refunded | — |
//! | the client leaves after a piece | spent | kept, marked interrupted |
//!
//! A client that leaves cancels the upstream request: the upstream's stream is
//! dropped at once, which closes its connection.

use std::future::poll_fn;
use std::pin::Pin;
use std::time::Duration;

use futures_core::Stream;
use tracing::{instrument, warn};

use super::{Begun, ChatError, ChatReply, ChatRequest, ChatService, Held, refund_reason};
use crate::ports::{AnswerEnd, UpstreamError, UpstreamEvent, UpstreamStream};
use crate::text::{make_storable, make_storable_json};
use crate::{ChargeId, ConversationId, Tokens};

/// What a streamed chat says, in order: `Start`, any number of `Delta`s and
/// `Sources`, then `Done` or `Failed`.
#[derive(Debug)]
pub enum ChatEvent {
    /// The token is held (or the stored answer of a finished request with the
    /// same key is about to be replayed).
    Start {
        conversation_id: Option<ConversationId>,
        tokens_remaining: Tokens,
        domain_name: Option<String>,
    },
    /// The next piece of the answer.
    Delta(String),
    /// AskDocs: the documents the answer came from.
    Sources(Vec<serde_json::Value>),
    /// The answer is complete; `length` is its length in characters.
    Done {
        length: usize,
        tokens_remaining: Tokens,
        /// A replayed answer that had been cut short when the client left.
        interrupted: bool,
    },
    /// The answer cannot be completed.
    Failed(StreamFailure),
}

/// Why a streamed answer ended early, and what became of its token.
#[derive(Debug)]
pub struct StreamFailure {
    pub error: ChatError,
    /// The held token was given back (or, when the refund itself could not
    /// be written, will be by recovery).
    pub refunded: bool,
    /// The part written before the failure is kept in the conversation.
    pub partial_kept: bool,
    /// The balance after the refund, when it is known.
    pub tokens_remaining: Option<Tokens>,
}

/// Where a streamed chat's events go. The client leaving is this channel
/// closing: its receiver dropped.
pub type ChatEvents = tokio::sync::mpsc::Sender<ChatEvent>;

/// How the upstream part of a streamed chat ended.
enum Ending {
    Complete,
    ClientLeft,
    Broke(UpstreamError),
}

impl ChatService {
    /// Answers one chat request as it is written, sending its events to
    /// `events`, for exactly one token (see the module's table for what an
    /// answer that ends early costs).
    ///
    /// A refusal before the token is held (validation, rate limit, no tokens,
    /// an `Idempotency-Key` in use, at once, by a request still running) is
    /// returned and nothing is sent; once the
    /// token is held every outcome is an event. Like [`Self::chat`], run it to
    /// completion in a task of its own: dropping `events`' receiver is how the
    /// client leaves, not dropping this future.
    #[instrument(skip_all, fields(user_id = %request.actor.user, service = %request.service, stream = true))]
    pub async fn chat_streaming(
        &self,
        request: ChatRequest,
        events: ChatEvents,
    ) -> Result<(), ChatError> {
        // A retry while the first request is still streaming is told so at
        // once: waiting silently for the whole first answer to replay it would
        // defeat streaming.
        let held = match self.begin(request, Duration::ZERO).await? {
            Begun::Held(held) => held,
            Begun::Replay(reply) => {
                replay(reply, &events).await;
                return Ok(());
            }
        };
        let start = ChatEvent::Start {
            conversation_id: Some(held.conversation),
            tokens_remaining: held.balance_after,
            domain_name: held.domain_name(),
        };
        if events.send(start).await.is_err() {
            self.refund_unanswered(held.charge).await;
            return Ok(());
        }

        let opened = tokio::select! {
            biased;
            () = events.closed() => None,
            opened = self.ports.upstream.stream(&held.upstream) => Some(opened),
        };
        let mut upstream = match opened {
            None => {
                self.refund_unanswered(held.charge).await;
                return Ok(());
            }
            Some(Err(err)) => {
                let failure = self.fail_unanswered(held.charge, err).await;
                let _ = events.send(ChatEvent::Failed(failure)).await;
                return Ok(());
            }
            Some(Ok(upstream)) => upstream,
        };

        let mut text = String::new();
        let mut sources = Vec::new();
        let ending = loop {
            let event = tokio::select! {
                biased;
                () = events.closed() => break Ending::ClientLeft,
                event = next(&mut upstream) => event,
            };
            match event {
                None => break Ending::Complete,
                Some(Err(err)) => break Ending::Broke(err),
                Some(Ok(UpstreamEvent::Delta(piece))) => {
                    // Kept in the conversation: nothing that cannot be stored.
                    let piece = make_storable(piece);
                    if piece.is_empty() {
                        continue;
                    }
                    let delivered = text.len();
                    text.push_str(&piece);
                    if events.send(ChatEvent::Delta(piece)).await.is_err() {
                        text.truncate(delivered);
                        break Ending::ClientLeft;
                    }
                }
                Some(Ok(UpstreamEvent::Sources(found))) => {
                    sources = found.into_iter().map(make_storable_json).collect();
                    if events
                        .send(ChatEvent::Sources(sources.clone()))
                        .await
                        .is_err()
                    {
                        break Ending::ClientLeft;
                    }
                }
            }
        };
        // Cancels the upstream request (its connection closes) before the
        // answer is recorded.
        drop(upstream);
        self.end_stream(&held, text, sources, ending, &events).await;
        Ok(())
    }

    /// Settles or refunds, as `ending` says, and tells the client.
    async fn end_stream(
        &self,
        held: &Held,
        text: String,
        sources: Vec<serde_json::Value>,
        ending: Ending,
        events: &ChatEvents,
    ) {
        if text.is_empty() && !matches!(ending, Ending::Complete) {
            // Nothing reached the client: nothing is kept, nothing is paid.
            let failure = match ending {
                Ending::Broke(err) => Some(self.fail_unanswered(held.charge, err).await),
                Ending::ClientLeft | Ending::Complete => {
                    self.refund_unanswered(held.charge).await;
                    None
                }
            };
            if let Some(failure) = failure {
                let _ = events.send(ChatEvent::Failed(failure)).await;
            }
            return;
        }
        let interrupted = !matches!(ending, Ending::Complete);
        let mut reply = held.reply(text, sources, interrupted);
        let event = match ending {
            Ending::Complete => match self.record(held, &mut reply, AnswerEnd::Complete).await {
                Ok(_) => ChatEvent::Done {
                    length: reply.response.chars().count(),
                    tokens_remaining: held.balance_after,
                    interrupted: false,
                },
                Err(error) => ChatEvent::Failed(StreamFailure {
                    error,
                    // Never reserved: no token was taken.
                    refunded: true,
                    partial_kept: false,
                    tokens_remaining: None,
                }),
            },
            Ending::ClientLeft => {
                if let Err(error) = self.record(held, &mut reply, AnswerEnd::ClientLeft).await {
                    warn!(%error, charge = %held.charge, "the interrupted answer could not be recorded");
                }
                // Nobody is listening.
                return;
            }
            Ending::Broke(err) => {
                let end = AnswerEnd::BrokenOff {
                    reason: refund_reason(&err),
                };
                let (partial_kept, tokens_remaining) = match self
                    .record(held, &mut reply, end)
                    .await
                {
                    Ok(balance) => (reply.conversation_id.is_some(), balance),
                    Err(error) => {
                        warn!(%error, charge = %held.charge, "the broken-off answer could not be recorded");
                        (false, None)
                    }
                };
                ChatEvent::Failed(StreamFailure {
                    error: ChatError::from(err),
                    refunded: true,
                    partial_kept,
                    tokens_remaining,
                })
            }
        };
        let _ = events.send(event).await;
    }

    /// Refunds a charge whose upstream failed before any of its answer was
    /// written, and says what the client is told.
    async fn fail_unanswered(&self, charge: ChargeId, err: UpstreamError) -> StreamFailure {
        let (error, tokens_remaining) = match self
            .ports
            .charges
            .refund(charge, refund_reason(&err))
            .await
        {
            Ok(balance) => (ChatError::from(err), balance),
            Err(e) => {
                // The charge stays pending: recovery refunds it later.
                tracing::error!(error = %e, %charge, "refund after upstream failure failed; recovery will refund it");
                (ChatError::from(e), None)
            }
        };
        StreamFailure {
            error,
            refunded: true,
            partial_kept: false,
            tokens_remaining,
        }
    }

    /// Refunds a charge whose client left before any of its answer reached them.
    async fn refund_unanswered(&self, charge: ChargeId) {
        if let Err(e) = self
            .ports
            .charges
            .refund(charge, "client_disconnected")
            .await
        {
            tracing::error!(error = %e, %charge, "refund after the client left failed; recovery will refund it");
        }
    }
}

/// A finished request's stored answer, replayed as a stream: `Start`, the
/// whole text as one `Delta`, its sources, `Done`.
async fn replay(reply: ChatReply, events: &ChatEvents) {
    let length = reply.response.chars().count();
    let mut replayed = vec![ChatEvent::Start {
        conversation_id: reply.conversation_id,
        tokens_remaining: reply.tokens_remaining,
        domain_name: reply.domain_name,
    }];
    if !reply.response.is_empty() {
        replayed.push(ChatEvent::Delta(reply.response));
    }
    if !reply.sources.is_empty() {
        replayed.push(ChatEvent::Sources(reply.sources));
    }
    replayed.push(ChatEvent::Done {
        length,
        tokens_remaining: reply.tokens_remaining,
        interrupted: reply.interrupted,
    });
    for event in replayed {
        if events.send(event).await.is_err() {
            return;
        }
    }
}

async fn next(stream: &mut UpstreamStream) -> Option<Result<UpstreamEvent, UpstreamError>> {
    poll_fn(|cx| Pin::new(&mut *stream).poll_next(cx)).await
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::task::{Context, Poll};

    use serde_json::json;
    use tokio::sync::mpsc;

    use super::super::tests::Mocks;
    use super::*;
    use crate::ledger::{IdempotencyKey, ServiceType};
    use crate::ports::{
        ExchangeTarget, ReserveError, Reserved, SettleOutcome, Settled, StoredReply,
    };
    use crate::testing::chat_request;

    /// An upstream's answer: `events` in order, then the end — or, with
    /// `then_hang`, nothing more ever. Notes when it is dropped (cancelled).
    struct Scripted {
        events: VecDeque<Result<UpstreamEvent, UpstreamError>>,
        then_hang: bool,
        dropped: Arc<AtomicBool>,
    }

    impl Stream for Scripted {
        type Item = Result<UpstreamEvent, UpstreamError>;

        fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            match self.events.pop_front() {
                Some(event) => Poll::Ready(Some(event)),
                None if self.then_hang => Poll::Pending,
                None => Poll::Ready(None),
            }
        }
    }

    impl Drop for Scripted {
        fn drop(&mut self) {
            self.dropped.store(true, Ordering::SeqCst);
        }
    }

    fn delta(text: &str) -> Result<UpstreamEvent, UpstreamError> {
        Ok(UpstreamEvent::Delta(text.into()))
    }

    /// The upstream streams `events` (then hangs, if asked); the flag says
    /// whether its stream was dropped.
    fn streaming(
        m: &mut Mocks,
        events: Vec<Result<UpstreamEvent, UpstreamError>>,
        then_hang: bool,
    ) -> Arc<AtomicBool> {
        let dropped = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&dropped);
        let mut events = Some(events);
        m.upstream.expect_stream().times(1).returning(move |_| {
            Ok(UpstreamStream::new(Scripted {
                events: events.take().unwrap_or_default().into(),
                then_hang,
                dropped: Arc::clone(&flag),
            }))
        });
        dropped
    }

    fn held(m: &mut Mocks, balance_after: i64) {
        m.charges.expect_reserve().returning(move |_, _| {
            Ok(Reserved::Held {
                balance_after: Tokens::new(balance_after).unwrap(),
            })
        });
    }

    /// Settles expecting `answer` ending as `end` (compared by its debug text).
    fn settles(m: &mut Mocks, answer: &'static str, end: &'static str, outcome: SettleOutcome) {
        m.charges
            .expect_settle()
            .withf(move |s| s.answer == answer && format!("{:?}", s.end) == end)
            .times(1)
            .returning(move |s| {
                Ok(Settled {
                    outcome,
                    conversation: Some(match s.target {
                        ExchangeTarget::New(id) | ExchangeTarget::Existing(id) => id,
                    }),
                })
            });
    }

    /// Runs the chat to its end and collects every event.
    async fn run(
        service: ChatService,
        request: ChatRequest,
    ) -> (Result<(), ChatError>, Vec<ChatEvent>) {
        let (events, mut received) = mpsc::channel(64);
        let outcome = service.chat_streaming(request, events).await;
        let mut all = Vec::new();
        while let Some(event) = received.recv().await {
            all.push(event);
        }
        (outcome, all)
    }

    fn names(events: &[ChatEvent]) -> Vec<&'static str> {
        events
            .iter()
            .map(|e| match e {
                ChatEvent::Start { .. } => "start",
                ChatEvent::Delta(_) => "delta",
                ChatEvent::Sources(_) => "sources",
                ChatEvent::Done { .. } => "done",
                ChatEvent::Failed(_) => "failed",
            })
            .collect()
    }

    #[tokio::test]
    async fn a_whole_stream_is_settled_as_one_answer_and_ends_with_done() {
        let mut m = Mocks::new();
        held(&mut m, 4);
        streaming(
            &mut m,
            vec![
                delta("Hel"),
                delta(""),
                delta("lo\0"),
                Ok(UpstreamEvent::Sources(vec![json!({"title": "doc"})])),
            ],
            false,
        );
        settles(&mut m, "Hello\u{FFFD}", "Complete", SettleOutcome::Charged);
        m.charges.expect_refund().never();
        let (outcome, events) = run(m.service(), chat_request(ServiceType::AskAtt, None)).await;
        outcome.unwrap();
        assert_eq!(
            names(&events),
            ["start", "delta", "delta", "sources", "done"]
        );
        assert!(matches!(
            &events[0],
            ChatEvent::Start { tokens_remaining, conversation_id: Some(_), .. } if tokens_remaining.get() == 4
        ));
        assert!(matches!(
            &events[4],
            ChatEvent::Done { length: 6, tokens_remaining, interrupted: false } if tokens_remaining.get() == 4
        ));
    }

    #[tokio::test]
    async fn an_upstream_failing_before_its_first_piece_refunds_the_token() {
        let mut m = Mocks::new();
        held(&mut m, 0);
        m.upstream
            .expect_stream()
            .returning(|_| Err(UpstreamError::Timeout));
        m.charges
            .expect_refund()
            .withf(|_, reason| reason == "upstream_timeout")
            .times(1)
            .returning(|_, _| Ok(Some(Tokens::ONE)));
        m.charges.expect_settle().never();
        let (outcome, events) = run(m.service(), chat_request(ServiceType::AskAtt, None)).await;
        outcome.unwrap();
        assert_eq!(names(&events), ["start", "failed"]);
        let ChatEvent::Failed(failure) = &events[1] else {
            unreachable!()
        };
        assert!(matches!(failure.error, ChatError::UpstreamTimeout));
        assert!(failure.refunded && !failure.partial_kept);
        assert_eq!(failure.tokens_remaining, Some(Tokens::ONE));
    }

    #[tokio::test]
    async fn an_upstream_breaking_off_keeps_the_part_and_refunds_the_token() {
        let mut m = Mocks::new();
        held(&mut m, 2);
        streaming(
            &mut m,
            vec![delta("half"), Err(UpstreamError::Failed("reset".into()))],
            false,
        );
        settles(
            &mut m,
            "half",
            r#"BrokenOff { reason: "upstream_failed" }"#,
            SettleOutcome::Refunded {
                balance_after: Tokens::new(3).unwrap(),
            },
        );
        m.charges.expect_refund().never();
        let (outcome, events) = run(m.service(), chat_request(ServiceType::AskAtt, None)).await;
        outcome.unwrap();
        assert_eq!(names(&events), ["start", "delta", "failed"]);
        let ChatEvent::Failed(failure) = &events[2] else {
            unreachable!()
        };
        assert!(matches!(failure.error, ChatError::UpstreamFailed(_)));
        assert!(failure.refunded && failure.partial_kept);
        assert_eq!(failure.tokens_remaining, Some(Tokens::new(3).unwrap()));
    }

    #[tokio::test]
    async fn a_client_leaving_mid_answer_cancels_the_upstream_and_pays_for_the_part() {
        let mut m = Mocks::new();
        held(&mut m, 5);
        let dropped = streaming(&mut m, vec![delta("first words")], true);
        settles(&mut m, "first words", "ClientLeft", SettleOutcome::Charged);
        m.charges.expect_refund().never();
        let (events, mut received) = mpsc::channel(64);
        let service = m.service();
        let reading = async move {
            assert!(matches!(
                received.recv().await,
                Some(ChatEvent::Start { .. })
            ));
            assert!(matches!(received.recv().await, Some(ChatEvent::Delta(_))));
            // The client goes away; the upstream would never finish.
        };
        let (outcome, ()) = tokio::join!(
            service.chat_streaming(chat_request(ServiceType::AskAtt, None), events),
            reading
        );
        outcome.unwrap();
        assert!(
            dropped.load(Ordering::SeqCst),
            "the upstream request was not cancelled"
        );
    }

    #[tokio::test]
    async fn a_client_leaving_before_any_piece_is_refunded() {
        let mut m = Mocks::new();
        held(&mut m, 5);
        let dropped = streaming(&mut m, vec![], true);
        m.charges
            .expect_refund()
            .withf(|_, reason| reason == "client_disconnected")
            .times(1)
            .returning(|_, _| Ok(Some(Tokens::new(6).unwrap())));
        m.charges.expect_settle().never();
        let (events, mut received) = mpsc::channel(64);
        let service = m.service();
        let reading = async move {
            assert!(matches!(
                received.recv().await,
                Some(ChatEvent::Start { .. })
            ));
        };
        let (outcome, ()) = tokio::join!(
            service.chat_streaming(chat_request(ServiceType::AskAtt, None), events),
            reading
        );
        outcome.unwrap();
        assert!(dropped.load(Ordering::SeqCst));
    }

    #[tokio::test]
    async fn a_finished_request_replays_as_start_one_delta_and_done() {
        let mut m = Mocks::new();
        let stored = ChatReply {
            response: "the stored answer".into(),
            tokens_remaining: Tokens::new(7).unwrap(),
            conversation_id: None,
            domain_name: None,
            sources: vec![json!({"title": "doc"})],
            interrupted: false,
        };
        m.replies
            .expect_open()
            .returning(move |_| Ok(stored.clone()));
        m.charges
            .expect_reserve()
            .returning(|_, _| Ok(Reserved::Replay(StoredReply::new(1, json!({})))));
        m.upstream.expect_stream().never();
        m.charges.expect_settle().never();
        let mut request = chat_request(ServiceType::AskAtt, None);
        request.idempotency_key = Some(IdempotencyKey::parse("k").unwrap());
        let (outcome, events) = run(m.service(), request).await;
        outcome.unwrap();
        assert_eq!(names(&events), ["start", "delta", "sources", "done"]);
        assert!(matches!(&events[1], ChatEvent::Delta(t) if t == "the stored answer"));
        assert!(matches!(&events[3], ChatEvent::Done { length: 17, .. }));
    }

    #[tokio::test]
    async fn a_refusal_before_the_hold_is_returned_and_nothing_is_sent() {
        let mut m = Mocks::new();
        m.charges.expect_reserve().returning(|_, _| {
            Err(ReserveError::InsufficientTokens {
                balance: Tokens::ZERO,
            })
        });
        m.upstream.expect_stream().never();
        let (outcome, events) = run(m.service(), chat_request(ServiceType::AskAtt, None)).await;
        assert!(matches!(outcome, Err(ChatError::InsufficientTokens { .. })));
        assert!(events.is_empty());
    }
}
