//! Answering a chat request for one token.
//!
//! A chat is a *charge*: validate → rate limit → **reserve** one token (the
//! debit, its consumption row, the pending charge and the `Idempotency-Key`
//! claim in one round trip) → ask the upstream → **settle** (the exchange, the
//! charge settled and the stored reply in one round trip), or **refund** when
//! the upstream failed or timed out. No storage transaction spans the upstream
//! call. When the process dies in between, the charge stays pending and
//! [`ChargeRecovery`] refunds it once the recovery window has passed.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tracing::{instrument, warn};

use crate::api_key::KeyRef;
use crate::conversation::{ChatMessage, Turn};
use crate::domain::Domain;
use crate::ledger::{IdempotencyKey, ServiceType};
use crate::ports::{
    AiUpstream, AnswerEnd, Charges, ConversationRepository, DomainRepository, ExchangeTarget,
    RateDecision, RateLimiter, RecoveredCharge, ReplyFormat, Reservation, ReserveError, Reserved,
    SettleOutcome, Settled, Settlement, UpstreamAnswer, UpstreamError, UpstreamRequest,
    UserRepository,
};
use crate::user::Actor;
use crate::{BoxError, ChargeId, ConversationId, DomainId, StoreError, Tokens, UserId};

mod stream;

pub use stream::{ChatEvent, ChatEvents, StreamFailure};

/// How many earlier turns are sent to the upstream for context.
pub const HISTORY_TURNS: u16 = 20;

/// A validated chat request.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    pub actor: Actor,
    pub service: ServiceType,
    /// Required for AskDocs, absent for AskAT&T.
    pub domain: Option<DomainId>,
    pub message: ChatMessage,
    pub conversation: Option<ConversationId>,
    pub idempotency_key: Option<IdempotencyKey>,
    /// The personal API key the request came with, named in the consumption
    /// row; `None` for a session.
    pub api_key: Option<KeyRef>,
}

impl ChatRequest {
    /// The canonical text an `Idempotency-Key` is bound to.
    #[must_use]
    pub fn fingerprint(&self) -> String {
        // Fields in alphabetical order: the text is the one a JSON object of
        // these fields always gave, so keys stored before still match.
        #[derive(Serialize)]
        struct Fingerprint<'a> {
            conversation: Option<ConversationId>,
            domain: Option<DomainId>,
            message: &'a str,
            service: &'static str,
        }
        let fingerprint = Fingerprint {
            conversation: self.conversation,
            domain: self.domain,
            message: self.message.as_str(),
            service: self.service.as_str(),
        };
        // Serialising plain strings and UUIDs cannot fail.
        serde_json::to_string(&fingerprint).unwrap_or_default()
    }
}

/// The answer to a chat request.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatReply {
    pub response: String,
    pub tokens_remaining: Tokens,
    /// Where the exchange was recorded; `None` when it could not be.
    pub conversation_id: Option<ConversationId>,
    /// AskDocs: the domain's name (slug).
    pub domain_name: Option<String>,
    /// AskDocs: the documents the answer came from, as the upstream sent them.
    pub sources: Vec<serde_json::Value>,
    /// A streamed answer the client stopped reading: `response` is the part
    /// written until then (the token was spent).
    pub interrupted: bool,
}

/// What [`ChatService::begin`] got to.
enum Begun {
    Held(Held),
    /// A finished request with the same `Idempotency-Key`: its reply, free.
    Replay(ChatReply),
}

/// A chat whose token is held: what asking, settling or refunding it needs.
struct Held {
    charge: ChargeId,
    user: UserId,
    target: ExchangeTarget,
    /// The conversation `target` names.
    conversation: ConversationId,
    balance_after: Tokens,
    idempotency_key: Option<IdempotencyKey>,
    upstream: UpstreamRequest,
}

impl Held {
    /// The reply giving `text` (and `sources`) as this chat's answer.
    fn reply(&self, text: String, sources: Vec<serde_json::Value>, interrupted: bool) -> ChatReply {
        ChatReply {
            response: text,
            tokens_remaining: self.balance_after,
            conversation_id: Some(self.conversation),
            domain_name: self.domain_name(),
            sources,
            interrupted,
        }
    }

    fn domain_name(&self) -> Option<String> {
        self.upstream
            .domain
            .as_ref()
            .map(|d| d.name.as_str().to_owned())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("AskDocs needs a domain_id")]
    DomainRequired,
    #[error("domain not found")]
    DomainNotFound,
    #[error("conversation not found")]
    ConversationNotFound,
    #[error("rate limited")]
    RateLimited(RateDecision),
    #[error("insufficient tokens (balance {balance})")]
    InsufficientTokens { balance: Tokens },
    #[error("the AI service failed; the token was refunded")]
    UpstreamFailed(#[source] UpstreamError),
    #[error("the AI service timed out; the token was refunded")]
    UpstreamTimeout,
    #[error("the idempotency key was used with a different request")]
    IdempotencyMismatch,
    #[error("a request with this idempotency key is still being processed")]
    IdempotencyInProgress,
    #[error("service unavailable")]
    Unavailable(#[source] BoxError),
    #[error("unexpected error")]
    Unexpected(#[source] BoxError),
}

impl From<StoreError> for ChatError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(src) => Self::Unavailable(src),
            other @ (StoreError::Conflict(_) | StoreError::Unexpected(_)) => {
                Self::Unexpected(Box::new(other))
            }
        }
    }
}

/// An upstream that timed out is told apart from one that failed otherwise.
impl From<UpstreamError> for ChatError {
    fn from(e: UpstreamError) -> Self {
        match e {
            UpstreamError::Timeout => Self::UpstreamTimeout,
            other => Self::UpstreamFailed(other),
        }
    }
}

impl From<ReserveError> for ChatError {
    fn from(e: ReserveError) -> Self {
        match e {
            ReserveError::InsufficientTokens { balance } => Self::InsufficientTokens { balance },
            ReserveError::Unavailable(src) => Self::Unavailable(src),
            other @ (ReserveError::UserNotFound | ReserveError::Unexpected(_)) => {
                Self::Unexpected(Box::new(other))
            }
        }
    }
}

/// The ports a [`ChatService`] needs.
pub struct ChatPorts {
    pub charges: Arc<dyn Charges>,
    pub upstream: Arc<dyn AiUpstream>,
    pub domains: Arc<dyn DomainRepository>,
    pub conversations: Arc<dyn ConversationRepository>,
    pub rate_limiter: Arc<dyn RateLimiter>,
    /// How replies are kept under their `Idempotency-Key` for replay.
    pub replies: Arc<dyn ReplyFormat>,
    /// The memberships a restricted domain is matched against.
    pub users: Arc<dyn UserRepository>,
}

pub struct ChatService {
    ports: ChatPorts,
    /// How long a duplicate request waits for the first one to finish.
    duplicate_wait: Duration,
}

impl ChatService {
    #[must_use]
    pub fn new(ports: ChatPorts, duplicate_wait: Duration) -> Self {
        Self {
            ports,
            duplicate_wait,
        }
    }

    /// Answers one chat request, charging exactly one token for an answer and
    /// nothing for a refusal or an upstream failure.
    ///
    /// Not cancellation-safe by itself: callers run it to completion (e.g. in a
    /// spawned task) so a disconnecting client cannot stop it between the
    /// reservation and the settlement. Should the process die there anyway,
    /// the charge is recovered (refunded) later.
    #[instrument(skip_all, fields(user_id = %request.actor.user, service = %request.service))]
    pub async fn chat(&self, request: ChatRequest) -> Result<ChatReply, ChatError> {
        let held = match self.begin(request, self.duplicate_wait).await? {
            Begun::Held(held) => held,
            Begun::Replay(reply) => return Ok(reply),
        };
        let answer = match self.ports.upstream.ask(&held.upstream).await {
            // Kept in the conversation and the idempotency record: nothing
            // that cannot be stored may reach them.
            Ok(answer) => UpstreamAnswer {
                text: crate::text::make_storable(answer.text),
                sources: answer
                    .sources
                    .into_iter()
                    .map(crate::text::make_storable_json)
                    .collect(),
            },
            Err(err) => return Err(self.refund(held.charge, err).await),
        };
        let mut reply = held.reply(answer.text, answer.sources, false);
        self.record(&held, &mut reply, AnswerEnd::Complete).await?;
        Ok(reply)
    }

    /// Everything before the upstream is asked: the domain and the history
    /// (proving the user may ask them), the rate limit, then the held token —
    /// or the stored reply of a finished request with the same key, waiting up
    /// to `duplicate_wait` for one still running.
    async fn begin(
        &self,
        request: ChatRequest,
        duplicate_wait: Duration,
    ) -> Result<Begun, ChatError> {
        let domain = self.resolve_domain(&request).await?;
        let history = self.history(&request).await?;

        let user = request.actor.user;
        let decision = self
            .ports
            .rate_limiter
            .check(user, request.actor.role)
            .await
            .map_err(|e| ChatError::Unavailable(Box::new(e)))?;
        if !decision.allowed {
            return Err(ChatError::RateLimited(decision));
        }

        let charge = ChargeId::generate();
        let target = match request.conversation {
            Some(id) => ExchangeTarget::Existing(id),
            None => ExchangeTarget::New(ConversationId::generate()),
        };
        let conversation = match target {
            ExchangeTarget::New(id) | ExchangeTarget::Existing(id) => id,
        };
        let fingerprint = request
            .idempotency_key
            .as_ref()
            .map(|key| (key, request.fingerprint()));
        let reserved = self
            .ports
            .charges
            .reserve(
                &Reservation {
                    charge,
                    user,
                    service: request.service,
                    domain: domain.as_ref().map(|d| d.id),
                    conversation,
                    idempotency: fingerprint.as_ref().map(|(k, f)| (*k, f.as_str())),
                    api_key: request.api_key.as_ref(),
                },
                duplicate_wait,
            )
            .await?;
        let balance_after = match reserved {
            Reserved::Held { balance_after } => balance_after,
            Reserved::Replay(stored) => {
                return self
                    .ports
                    .replies
                    .open(&stored)
                    .map(Begun::Replay)
                    .map_err(ChatError::Unexpected);
            }
            Reserved::Mismatch => return Err(ChatError::IdempotencyMismatch),
            Reserved::InProgress => return Err(ChatError::IdempotencyInProgress),
        };

        let ChatRequest {
            service,
            message,
            idempotency_key,
            ..
        } = request;
        Ok(Begun::Held(Held {
            charge,
            user,
            target,
            conversation,
            balance_after,
            idempotency_key,
            upstream: UpstreamRequest {
                service,
                domain,
                message,
                history,
            },
        }))
    }

    /// Records `reply` as the answer of `held`, ending as `end`: the token is
    /// spent, or given back for an answer the upstream broke off. Sets where
    /// the exchange went (`None` when it could not be recorded); answers the
    /// balance after a refund.
    async fn record(
        &self,
        held: &Held,
        reply: &mut ChatReply,
        end: AnswerEnd<'_>,
    ) -> Result<Option<Tokens>, ChatError> {
        let charge = held.charge;
        // A broken-off answer releases its key, so a retry runs afresh.
        let stored = match (&held.idempotency_key, end) {
            (_, AnswerEnd::BrokenOff { .. }) | (None, _) => None,
            (Some(key), _) => Some((
                key,
                self.ports
                    .replies
                    .seal(reply)
                    .map_err(ChatError::Unexpected)?,
            )),
        };
        let settlement = Settlement {
            charge,
            user: held.user,
            service: held.upstream.service,
            domain: held.upstream.domain.as_ref().map(|d| d.id),
            target: held.target,
            question: &held.upstream.message,
            answer: &reply.response,
            idempotency: stored.as_ref().map(|(k, v)| (*k, v)),
            end,
        };
        match self.ports.charges.settle(&settlement).await {
            Ok(Settled {
                outcome: SettleOutcome::NeverReserved,
                ..
            }) => {
                // The reservation was rolled back after it answered: no token
                // was taken, so no answer is given (a retry runs afresh).
                warn!(%charge, "the reservation never committed; the answer is withheld");
                Err(ChatError::Unavailable(
                    "the chat could not be recorded; no token was charged".into(),
                ))
            }
            Ok(settled) => {
                reply.conversation_id = settled.conversation;
                match settled.outcome {
                    SettleOutcome::AlreadyRefunded => {
                        warn!(%charge, "the charge was recovered before its answer was recorded; the answer is free");
                        Ok(None)
                    }
                    SettleOutcome::Refunded { balance_after } => Ok(Some(balance_after)),
                    SettleOutcome::Charged | SettleOutcome::NeverReserved => Ok(None),
                }
            }
            Err(e) => {
                // The answer exists: give it. The charge stays pending and is
                // refunded by recovery, an error in the user's favour.
                warn!(error = ?e, %charge, "could not settle the charge; it will be recovered");
                reply.conversation_id = None;
                Ok(None)
            }
        }
    }

    /// Refunds a held charge after an upstream failure and says what happened.
    async fn refund(&self, charge: ChargeId, err: UpstreamError) -> ChatError {
        if let Err(e) = self.ports.charges.refund(charge, refund_reason(&err)).await {
            // The charge stays pending: recovery refunds it later.
            tracing::error!(error = %e, %charge, "refund after upstream failure failed; recovery will refund it");
            return e.into();
        }
        err.into()
    }

    async fn resolve_domain(
        &self,
        request: &ChatRequest,
    ) -> Result<Option<Arc<Domain>>, ChatError> {
        match (request.service, request.domain) {
            (ServiceType::AskAtt, _) => Ok(None),
            // Apps spend through the credits API; no chat is ever made for one.
            (ServiceType::App, _) => Err(ChatError::Unexpected(
                "a chat request for the app service type".into(),
            )),
            (ServiceType::AskDocs, None) => Err(ChatError::DomainRequired),
            (ServiceType::AskDocs, Some(id)) => match self.ports.domains.get(id).await? {
                // A domain the user may not ask is not found, like an unknown one.
                Some(d)
                    if d.is_active
                        && crate::services::domains::admitted(
                            &d,
                            &request.actor,
                            self.ports.users.as_ref(),
                        )
                        .await? =>
                {
                    Ok(Some(d))
                }
                _ => Err(ChatError::DomainNotFound),
            },
        }
    }

    /// Earlier turns of the conversation; also proves the user owns it, before any charge.
    async fn history(&self, request: &ChatRequest) -> Result<Vec<Turn>, ChatError> {
        let Some(id) = request.conversation else {
            return Ok(Vec::new());
        };
        self.ports
            .conversations
            .recent_turns(request.actor.user, id, HISTORY_TURNS)
            .await?
            .ok_or(ChatError::ConversationNotFound)
    }
}

fn refund_reason(err: &UpstreamError) -> &'static str {
    match err {
        UpstreamError::Timeout => "upstream_timeout",
        UpstreamError::Failed(_) => "upstream_failed",
        UpstreamError::Credentials(_) => "upstream_credentials",
    }
}

/// Refunds charges whose process stopped before settling them (kill -9, a
/// lost database connection, a panic): every instance runs it now and then.
pub struct ChargeRecovery {
    charges: Arc<dyn Charges>,
    /// A charge pending longer than this cannot belong to a live request: it
    /// is longer than the upstream timeout plus the time to settle.
    after: Duration,
}

/// Charges recovered per sweep statement.
const RECOVERY_BATCH: u32 = 100;

impl ChargeRecovery {
    #[must_use]
    pub fn new(charges: Arc<dyn Charges>, after: Duration) -> Self {
        Self { charges, after }
    }

    /// The recovery window.
    #[must_use]
    pub const fn after(&self) -> Duration {
        self.after
    }

    /// Refunds every charge pending past the window; returns them.
    pub async fn sweep(&self) -> Result<Vec<RecoveredCharge>, StoreError> {
        let mut all = Vec::new();
        loop {
            let batch = self.charges.recover(self.after, RECOVERY_BATCH).await?;
            let full = batch.len() == RECOVERY_BATCH as usize;
            for recovered in &batch {
                warn!(
                    charge = %recovered.charge,
                    user_id = %recovered.user,
                    pending_ms = recovered.pending_for.as_millis(),
                    "refunded a charge left pending (its request never finished)"
                );
            }
            all.extend(batch);
            if !full {
                return Ok(all);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use serde_json::json;

    use super::*;
    use crate::UserId;
    use crate::domain::{AllowedRoles, DisplayName, DomainConfiguration, DomainSlug};
    use crate::ports::{
        MockAiUpstream, MockCharges, MockConversationRepository, MockDomainRepository,
        MockRateLimiter, MockReplyFormat, MockUserRepository, StoredReply,
    };
    use crate::testing::chat_request;
    use crate::user::{Memberships, Role};

    /// Every port mocked; shared with the streaming tests.
    pub(super) struct Mocks {
        pub(super) charges: MockCharges,
        pub(super) upstream: MockAiUpstream,
        pub(super) domains: MockDomainRepository,
        pub(super) conversations: MockConversationRepository,
        pub(super) rate_limiter: MockRateLimiter,
        pub(super) replies: MockReplyFormat,
        pub(super) users: MockUserRepository,
    }

    impl Mocks {
        pub(super) fn new() -> Self {
            let mut rate_limiter = MockRateLimiter::new();
            rate_limiter
                .expect_check()
                .returning(|_, _| Ok(decision(true)));
            let mut replies = MockReplyFormat::new();
            replies
                .expect_seal()
                .returning(|reply| Ok(StoredReply::new(1, json!({ "response": reply.response }))));
            Self {
                charges: MockCharges::new(),
                upstream: MockAiUpstream::new(),
                domains: MockDomainRepository::new(),
                conversations: MockConversationRepository::new(),
                rate_limiter,
                replies,
                users: MockUserRepository::new(),
            }
        }

        /// The charge is held (balance after: `balance_after`) and settles.
        pub(super) fn holding(mut self, balance_after: u32) -> Self {
            self.charges.expect_reserve().returning(move |_, _| {
                Ok(Reserved::Held {
                    balance_after: Tokens::new(balance_after.into()).unwrap(),
                })
            });
            self.charges.expect_settle().returning(|s| {
                Ok(Settled {
                    outcome: SettleOutcome::Charged,
                    conversation: Some(match s.target {
                        ExchangeTarget::New(id) | ExchangeTarget::Existing(id) => id,
                    }),
                })
            });
            self
        }

        pub(super) fn service(self) -> ChatService {
            ChatService::new(
                ChatPorts {
                    charges: Arc::new(self.charges),
                    upstream: Arc::new(self.upstream),
                    domains: Arc::new(self.domains),
                    conversations: Arc::new(self.conversations),
                    rate_limiter: Arc::new(self.rate_limiter),
                    replies: Arc::new(self.replies),
                    users: Arc::new(self.users),
                },
                Duration::from_millis(10),
            )
        }
    }

    fn decision(allowed: bool) -> RateDecision {
        RateDecision {
            allowed,
            limit: 30,
            remaining: if allowed { 29 } else { 0 },
            reset_after: Duration::from_secs(2),
        }
    }

    /// Keys claimed before an upgrade keep matching their requests.
    #[test]
    fn the_fingerprint_is_the_text_of_its_json_object() {
        let mut request = chat_request(ServiceType::AskDocs, Some(DomainId::generate()));
        request.conversation = Some(ConversationId::generate());
        request.message = ChatMessage::parse("quote \" and ünïcode").unwrap();
        let object = json!({
            "service": request.service.as_str(),
            "domain": request.domain,
            "message": request.message.as_str(),
            "conversation": request.conversation,
        });
        assert_eq!(request.fingerprint(), object.to_string());
        let other = ChatRequest {
            message: ChatMessage::parse("another question").unwrap(),
            ..request.clone()
        };
        assert_ne!(other.fingerprint(), request.fingerprint());
    }

    fn domain(id: DomainId, active: bool) -> Domain {
        Domain {
            id,
            name: DomainSlug::parse("hr").unwrap(),
            display_name: DisplayName::parse("HR").unwrap(),
            description: None,
            api_endpoint: None,
            configuration: DomainConfiguration::empty(),
            is_active: active,
            allowed_roles: AllowedRoles::everyone(),
            created_by: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn answer(text: &str) -> UpstreamAnswer {
        UpstreamAnswer {
            text: text.into(),
            sources: vec![],
        }
    }

    #[tokio::test]
    async fn an_answer_costs_one_token_and_reports_the_new_balance() {
        let mut m = Mocks::new().holding(4);
        m.charges.expect_refund().never();
        m.upstream
            .expect_ask()
            .times(1)
            .returning(|_| Ok(answer("42")));
        let reply = m
            .service()
            .chat(chat_request(ServiceType::AskAtt, None))
            .await
            .unwrap();
        assert_eq!(reply.response, "42");
        assert_eq!(reply.tokens_remaining.get(), 4);
        assert!(reply.conversation_id.is_some());
    }

    #[tokio::test]
    async fn a_new_conversation_is_named_in_the_reservation_and_settled_into() {
        let mut m = Mocks::new();
        m.charges.expect_reserve().times(1).returning(|_, _| {
            Ok(Reserved::Held {
                balance_after: Tokens::ZERO,
            })
        });
        m.charges.expect_settle().times(1).returning(|s| {
            Ok(Settled {
                outcome: SettleOutcome::Charged,
                conversation: Some(match s.target {
                    ExchangeTarget::New(id) => id,
                    ExchangeTarget::Existing(_) => panic!("a first message starts a conversation"),
                }),
            })
        });
        m.upstream.expect_ask().returning(|_| Ok(answer("hi")));
        let service = m.service();
        let reply = service
            .chat(chat_request(ServiceType::AskAtt, None))
            .await
            .unwrap();
        assert!(reply.conversation_id.is_some());
    }

    #[tokio::test]
    async fn a_nul_in_the_answer_is_replaced_before_it_is_kept_or_given() {
        let mut m = Mocks::new();
        m.charges.expect_reserve().returning(|_, _| {
            Ok(Reserved::Held {
                balance_after: Tokens::new(4).unwrap(),
            })
        });
        m.charges
            .expect_settle()
            .withf(|s| s.answer == "a\u{FFFD}b")
            .times(1)
            .returning(|_| {
                Ok(Settled {
                    outcome: SettleOutcome::Charged,
                    conversation: None,
                })
            });
        m.upstream.expect_ask().returning(|_| {
            Ok(UpstreamAnswer {
                text: "a\0b".into(),
                sources: vec![json!({"title": "c\0"})],
            })
        });
        let reply = m
            .service()
            .chat(chat_request(ServiceType::AskAtt, None))
            .await
            .unwrap();
        assert_eq!(reply.response, "a\u{FFFD}b");
        assert_eq!(reply.sources, [json!({"title": "c\u{FFFD}"})]);
    }

    #[tokio::test]
    async fn no_tokens_means_no_upstream_call() {
        let mut m = Mocks::new();
        m.charges.expect_reserve().returning(|_, _| {
            Err(ReserveError::InsufficientTokens {
                balance: Tokens::ZERO,
            })
        });
        m.upstream.expect_ask().never();
        let err = m
            .service()
            .chat(chat_request(ServiceType::AskAtt, None))
            .await
            .unwrap_err();
        assert!(matches!(err, ChatError::InsufficientTokens { balance } if balance.is_zero()));
    }

    #[tokio::test]
    async fn a_rate_limited_request_costs_nothing() {
        let mut m = Mocks::new();
        m.rate_limiter = MockRateLimiter::new();
        m.rate_limiter
            .expect_check()
            .returning(|_, _| Ok(decision(false)));
        m.charges.expect_reserve().never();
        m.upstream.expect_ask().never();
        let err = m
            .service()
            .chat(chat_request(ServiceType::AskAtt, None))
            .await
            .unwrap_err();
        assert!(matches!(err, ChatError::RateLimited(d) if !d.allowed));
    }

    #[tokio::test]
    async fn a_chat_is_counted_in_the_tier_of_the_askers_role() {
        for role in [Role::User, Role::Admin] {
            let mut m = Mocks::new().holding(1);
            m.rate_limiter = MockRateLimiter::new();
            m.rate_limiter
                .expect_check()
                .withf(move |_, tier| *tier == role)
                .times(1)
                .returning(|_, _| Ok(decision(true)));
            m.upstream.expect_ask().returning(|_| Ok(answer("ok")));
            let mut request = chat_request(ServiceType::AskAtt, None);
            request.actor.role = role;
            m.service().chat(request).await.unwrap();
        }
    }

    #[tokio::test]
    async fn upstream_failure_refunds_the_charge() {
        let mut m = Mocks::new();
        let held = Arc::new(std::sync::Mutex::new(None));
        let seen = Arc::clone(&held);
        m.charges.expect_reserve().returning(move |r, _| {
            *seen.lock().unwrap() = Some(r.charge);
            Ok(Reserved::Held {
                balance_after: Tokens::ZERO,
            })
        });
        let refunded = Arc::clone(&held);
        m.charges
            .expect_refund()
            .withf(move |id, reason| {
                Some(*id) == *refunded.lock().unwrap() && reason == "upstream_failed"
            })
            .times(1)
            .returning(|_, _| Ok(Some(Tokens::new(1).unwrap())));
        m.charges.expect_settle().never();
        m.upstream
            .expect_ask()
            .returning(|_| Err(UpstreamError::Failed("502".into())));
        let err = m
            .service()
            .chat(chat_request(ServiceType::AskAtt, None))
            .await
            .unwrap_err();
        assert!(matches!(err, ChatError::UpstreamFailed(_)));
    }

    #[tokio::test]
    async fn upstream_timeout_refunds_the_charge() {
        let mut m = Mocks::new();
        m.charges.expect_reserve().returning(|_, _| {
            Ok(Reserved::Held {
                balance_after: Tokens::ZERO,
            })
        });
        m.charges
            .expect_refund()
            .withf(|_, reason| reason == "upstream_timeout")
            .times(1)
            .returning(|_, _| Ok(Some(Tokens::new(1).unwrap())));
        m.upstream
            .expect_ask()
            .returning(|_| Err(UpstreamError::Timeout));
        let err = m
            .service()
            .chat(chat_request(ServiceType::AskAtt, None))
            .await
            .unwrap_err();
        assert!(matches!(err, ChatError::UpstreamTimeout));
    }

    #[tokio::test]
    async fn an_answer_whose_settlement_fails_is_still_given() {
        let mut m = Mocks::new();
        m.charges.expect_reserve().returning(|_, _| {
            Ok(Reserved::Held {
                balance_after: Tokens::new(3).unwrap(),
            })
        });
        m.charges
            .expect_settle()
            .returning(|_| Err(StoreError::Unavailable("connection lost".into())));
        m.upstream.expect_ask().returning(|_| Ok(answer("kept")));
        let reply = m
            .service()
            .chat(chat_request(ServiceType::AskAtt, None))
            .await
            .unwrap();
        assert_eq!(reply.response, "kept");
        assert_eq!(reply.conversation_id, None);
    }

    #[tokio::test]
    async fn an_answer_whose_reservation_never_committed_is_withheld() {
        let mut m = Mocks::new();
        m.charges.expect_reserve().returning(|_, _| {
            Ok(Reserved::Held {
                balance_after: Tokens::new(3).unwrap(),
            })
        });
        m.charges.expect_settle().returning(|_| {
            Ok(Settled {
                outcome: SettleOutcome::NeverReserved,
                conversation: None,
            })
        });
        m.upstream.expect_ask().returning(|_| Ok(answer("free?")));
        let err = m
            .service()
            .chat(chat_request(ServiceType::AskAtt, None))
            .await
            .unwrap_err();
        assert!(matches!(err, ChatError::Unavailable(_)));
    }

    #[tokio::test]
    async fn askdocs_on_an_inactive_or_missing_domain_is_not_found_before_any_charge() {
        for active in [Some(false), None] {
            let mut m = Mocks::new();
            m.domains
                .expect_get()
                .returning(move |id| Ok(active.map(|a| Arc::new(domain(id, a)))));
            m.charges.expect_reserve().never();
            let err = m
                .service()
                .chat(chat_request(
                    ServiceType::AskDocs,
                    Some(DomainId::generate()),
                ))
                .await
                .unwrap_err();
            assert!(matches!(err, ChatError::DomainNotFound));
        }
    }

    #[tokio::test]
    async fn askdocs_on_a_domain_restricted_to_roles_the_user_lacks_is_not_found_before_any_charge()
    {
        let mut m = Mocks::new();
        m.domains.expect_get().returning(|id| {
            let mut d = domain(id, true);
            d.allowed_roles = AllowedRoles::parse(&["Finance"]).unwrap();
            Ok(Some(Arc::new(d)))
        });
        m.users
            .expect_memberships()
            .times(1)
            .returning(|_| Ok(Memberships::new(vec!["Reader".into()], vec![])));
        m.rate_limiter = MockRateLimiter::new();
        m.rate_limiter.expect_check().never();
        m.charges.expect_reserve().never();
        m.upstream.expect_ask().never();
        let err = m
            .service()
            .chat(chat_request(
                ServiceType::AskDocs,
                Some(DomainId::generate()),
            ))
            .await
            .unwrap_err();
        assert!(matches!(err, ChatError::DomainNotFound));
    }

    #[tokio::test]
    async fn askdocs_sends_the_domain_and_names_it_in_the_reply() {
        let mut m = Mocks::new();
        let id = DomainId::generate();
        m.domains
            .expect_get()
            .returning(|id| Ok(Some(Arc::new(domain(id, true)))));
        m.charges
            .expect_reserve()
            .withf(move |r, _| r.domain == Some(id) && r.service == ServiceType::AskDocs)
            .returning(|_, _| {
                Ok(Reserved::Held {
                    balance_after: Tokens::new(9).unwrap(),
                })
            });
        m.charges
            .expect_settle()
            .withf(move |s| s.domain == Some(id))
            .returning(|_| {
                Ok(Settled {
                    outcome: SettleOutcome::Charged,
                    conversation: None,
                })
            });
        m.upstream
            .expect_ask()
            .withf(move |r| r.domain.as_ref().map(|d| d.id) == Some(id))
            .returning(|_| Ok(answer("from the docs")));
        let reply = m
            .service()
            .chat(chat_request(ServiceType::AskDocs, Some(id)))
            .await
            .unwrap();
        assert_eq!(reply.domain_name.as_deref(), Some("hr"));
    }

    #[tokio::test]
    async fn someone_elses_conversation_is_not_found_before_any_charge() {
        let mut m = Mocks::new();
        m.conversations
            .expect_recent_turns()
            .returning(|_, _, _| Ok(None));
        m.charges.expect_reserve().never();
        let mut req = chat_request(ServiceType::AskAtt, None);
        req.conversation = Some(ConversationId::generate());
        assert!(matches!(
            m.service().chat(req).await,
            Err(ChatError::ConversationNotFound)
        ));
    }

    #[tokio::test]
    async fn an_idempotent_retry_replays_without_charging() {
        let mut m = Mocks::new();
        let stored = ChatReply {
            response: "first answer".into(),
            tokens_remaining: Tokens::new(7).unwrap(),
            conversation_id: None,
            domain_name: None,
            sources: vec![],
            interrupted: false,
        };
        let kept = StoredReply::new(1, json!("as it was stored"));
        let opened = stored.clone();
        m.replies
            .expect_open()
            .withf(|s| *s == StoredReply::new(1, json!("as it was stored")))
            .times(1)
            .returning(move |_| Ok(opened.clone()));
        m.charges
            .expect_reserve()
            .withf(|r, _| r.idempotency.is_some())
            .returning(move |_, _| Ok(Reserved::Replay(kept.clone())));
        m.charges.expect_settle().never();
        m.upstream.expect_ask().never();
        let mut req = chat_request(ServiceType::AskAtt, None);
        req.idempotency_key = Some(IdempotencyKey::parse("k1").unwrap());
        assert_eq!(m.service().chat(req).await.unwrap(), stored);
    }

    #[tokio::test]
    async fn a_reused_key_with_another_body_is_refused_without_charging() {
        let mut m = Mocks::new();
        m.charges
            .expect_reserve()
            .returning(|_, _| Ok(Reserved::Mismatch));
        m.upstream.expect_ask().never();
        let mut req = chat_request(ServiceType::AskAtt, None);
        req.idempotency_key = Some(IdempotencyKey::parse("k1").unwrap());
        assert!(matches!(
            m.service().chat(req).await,
            Err(ChatError::IdempotencyMismatch)
        ));
    }

    #[tokio::test]
    async fn a_keyed_answer_is_stored_with_its_settlement() {
        let mut m = Mocks::new();
        m.charges.expect_reserve().returning(|_, _| {
            Ok(Reserved::Held {
                balance_after: Tokens::new(1).unwrap(),
            })
        });
        m.charges.expect_settle().times(1).returning(|s| {
            let (key, reply) = s.idempotency.unwrap();
            assert_eq!(key.as_str(), "k2");
            assert_eq!(reply.body()["response"], "ok");
            Ok(Settled {
                outcome: SettleOutcome::Charged,
                conversation: None,
            })
        });
        m.upstream.expect_ask().returning(|_| Ok(answer("ok")));
        let mut req = chat_request(ServiceType::AskAtt, None);
        req.idempotency_key = Some(IdempotencyKey::parse("k2").unwrap());
        m.service().chat(req).await.unwrap();
    }

    #[tokio::test]
    async fn recovery_sweeps_until_a_batch_is_not_full() {
        let mut charges = MockCharges::new();
        let mut seq = mockall::Sequence::new();
        let recovered = |n: usize| {
            (0..n)
                .map(|_| RecoveredCharge {
                    charge: ChargeId::generate(),
                    user: UserId::generate(),
                    pending_for: Duration::from_secs(90),
                })
                .collect::<Vec<_>>()
        };
        let full = recovered(RECOVERY_BATCH as usize);
        charges
            .expect_recover()
            .times(1)
            .in_sequence(&mut seq)
            .withf(|after, _| *after == Duration::from_secs(60))
            .returning(move |_, _| Ok(full.clone()));
        let rest = recovered(3);
        charges
            .expect_recover()
            .times(1)
            .in_sequence(&mut seq)
            .returning(move |_, _| Ok(rest.clone()));
        let recovery = ChargeRecovery::new(Arc::new(charges), Duration::from_secs(60));
        assert_eq!(
            recovery.sweep().await.unwrap().len(),
            RECOVERY_BATCH as usize + 3
        );
    }
}
