//! Answering a chat request for one token.
//!
//! The order is fixed (DESIGN §3): validate → idempotency → rate limit → debit
//! one token → ask the upstream → on failure refund the token → record the
//! exchange → answer. No storage transaction spans the upstream call: the debit
//! commits first, the refund (if any) is a second short transaction.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tracing::{instrument, warn};

use crate::conversation::{ChatMessage, Turn};
use crate::domain::Domain;
use crate::ledger::{DebitRequest, IdempotencyKey, ServiceType};
use crate::ports::{
    AiUpstream, ConversationRepository, ConversationTarget, DomainRepository, IdempotencyBegin,
    IdempotencyStore, Ledger, LedgerError, RateDecision, RateLimiter, StoredResponse,
    UpstreamAnswer, UpstreamError, UpstreamRequest,
};
use crate::user::Actor;
use crate::{BoxError, ConversationId, DomainId, StoreError, Tokens};

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
}

impl ChatRequest {
    /// The canonical text an `Idempotency-Key` is bound to.
    #[must_use]
    pub fn fingerprint(&self) -> String {
        serde_json::json!({
            "service": self.service.as_str(),
            "domain": self.domain,
            "message": self.message.as_str(),
            "conversation": self.conversation,
        })
        .to_string()
    }
}

/// The answer, as the chat endpoints return it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatReply {
    pub response: String,
    pub tokens_remaining: Tokens,
    pub conversation_id: Option<ConversationId>,
    /// AskDocs: the domain's name (slug).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain_name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<serde_json::Value>,
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

impl From<LedgerError> for ChatError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::InsufficientTokens { balance } => Self::InsufficientTokens { balance },
            LedgerError::Unavailable(src) => Self::Unavailable(src),
            other @ (LedgerError::UserNotFound
            | LedgerError::ConsumptionNotFound
            | LedgerError::EmptyCredit
            | LedgerError::Overflow
            | LedgerError::Unexpected(_)) => Self::Unexpected(Box::new(other)),
        }
    }
}

/// The ports a [`ChatService`] needs.
pub struct ChatPorts {
    pub ledger: Arc<dyn Ledger>,
    pub upstream: Arc<dyn AiUpstream>,
    pub domains: Arc<dyn DomainRepository>,
    pub conversations: Arc<dyn ConversationRepository>,
    pub idempotency: Arc<dyn IdempotencyStore>,
    pub rate_limiter: Arc<dyn RateLimiter>,
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
    /// spawned task) so a disconnecting client cannot stop it between the debit
    /// and the refund.
    #[instrument(skip_all, fields(user_id = %request.actor.user, service = %request.service))]
    pub async fn chat(&self, request: ChatRequest) -> Result<ChatReply, ChatError> {
        let domain = self.resolve_domain(&request).await?;
        let history = self.history(&request).await?;

        let Some(key) = request.idempotency_key.clone() else {
            return self.charge_and_answer(&request, domain, history).await;
        };
        let user = request.actor.user;
        let begun = self
            .ports
            .idempotency
            .begin(user, &key, &request.fingerprint(), self.duplicate_wait)
            .await?;
        match begun {
            IdempotencyBegin::Replay(stored) => {
                return serde_json::from_value(stored.body)
                    .map_err(|e| ChatError::Unexpected(Box::new(e)));
            }
            IdempotencyBegin::Mismatch => return Err(ChatError::IdempotencyMismatch),
            IdempotencyBegin::InProgress => return Err(ChatError::IdempotencyInProgress),
            IdempotencyBegin::Claimed => {}
        }
        let outcome = self.charge_and_answer(&request, domain, history).await;
        let recorded = match &outcome {
            Ok(reply) => match serde_json::to_value(reply) {
                Ok(body) => {
                    self.ports
                        .idempotency
                        .complete(user, &key, &StoredResponse { status: 200, body })
                        .await
                }
                Err(e) => Err(StoreError::unexpected(e)),
            },
            // Nothing was charged (or it was refunded): a retry may run again.
            Err(_) => self.ports.idempotency.abandon(user, &key).await,
        };
        if let Err(e) = recorded {
            warn!(error = %e, "could not record the idempotency outcome");
        }
        outcome
    }

    async fn resolve_domain(&self, request: &ChatRequest) -> Result<Option<Domain>, ChatError> {
        match (request.service, request.domain) {
            (ServiceType::AskAtt, _) => Ok(None),
            (ServiceType::AskDocs, None) => Err(ChatError::DomainRequired),
            (ServiceType::AskDocs, Some(id)) => match self.ports.domains.get(id).await? {
                Some(d) if d.is_active => Ok(Some(d)),
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

    async fn charge_and_answer(
        &self,
        request: &ChatRequest,
        domain: Option<Domain>,
        history: Vec<Turn>,
    ) -> Result<ChatReply, ChatError> {
        let user = request.actor.user;
        let decision = self
            .ports
            .rate_limiter
            .check(user)
            .await
            .map_err(|e| ChatError::Unavailable(Box::new(e)))?;
        if !decision.allowed {
            return Err(ChatError::RateLimited(decision));
        }

        let debit = self
            .ports
            .ledger
            .debit(&DebitRequest {
                user,
                service: request.service,
                domain: domain.as_ref().map(|d| d.id),
                metadata: serde_json::json!({ "conversation_id": request.conversation }),
            })
            .await?;

        let upstream_request = UpstreamRequest {
            service: request.service,
            domain: domain.clone(),
            message: request.message.as_str().to_owned(),
            history,
        };
        let answer = match self.ports.upstream.ask(&upstream_request).await {
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
            Err(err) => {
                let refunded = self
                    .ports
                    .ledger
                    .refund(debit.id, refund_reason(&err))
                    .await;
                if let Err(e) = refunded {
                    // The consumption stays without its refund: visible in the
                    // ledger and logged loudly for an operator to settle.
                    tracing::error!(error = %e, consumption = %debit.id, "refund after upstream failure failed");
                    return Err(e.into());
                }
                return Err(match err {
                    UpstreamError::Timeout => ChatError::UpstreamTimeout,
                    other => ChatError::UpstreamFailed(other),
                });
            }
        };

        let target = match request.conversation {
            Some(id) => ConversationTarget::Existing(id),
            None => ConversationTarget::New {
                service: request.service,
                domain: domain.as_ref().map(|d| d.id),
            },
        };
        let conversation_id = match self
            .ports
            .conversations
            .append_exchange(user, &target, &request.message, &answer.text)
            .await
        {
            Ok(id) => id,
            Err(e) => {
                // The user paid for this answer: give it even if history could not be kept.
                warn!(error = %e, "could not record the conversation");
                None
            }
        };

        Ok(ChatReply {
            response: answer.text,
            tokens_remaining: debit.balance_after,
            conversation_id,
            domain_name: domain.map(|d| d.name.as_str().to_owned()),
            sources: answer.sources,
        })
    }
}

fn refund_reason(err: &UpstreamError) -> &'static str {
    match err {
        UpstreamError::Timeout => "upstream_timeout",
        UpstreamError::Failed(_) => "upstream_failed",
        UpstreamError::Credentials(_) => "upstream_credentials",
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use serde_json::json;

    use super::*;
    use crate::domain::{DisplayName, DomainConfiguration, DomainSlug};
    use crate::ledger::{EntryKind, LedgerEntry, Recorded};
    use crate::ports::{
        MockAiUpstream, MockConversationRepository, MockDomainRepository, MockIdempotencyStore,
        MockLedger, MockRateLimiter,
    };
    use crate::user::Role;
    use crate::{TransactionId, UserId};

    struct Mocks {
        ledger: MockLedger,
        upstream: MockAiUpstream,
        domains: MockDomainRepository,
        conversations: MockConversationRepository,
        idempotency: MockIdempotencyStore,
        rate_limiter: MockRateLimiter,
    }

    impl Mocks {
        fn new() -> Self {
            let mut rate_limiter = MockRateLimiter::new();
            rate_limiter
                .expect_check()
                .returning(|_| Ok(decision(true)));
            let mut conversations = MockConversationRepository::new();
            conversations
                .expect_append_exchange()
                .returning(|_, _, _, _| Ok(Some(ConversationId::generate())));
            Self {
                ledger: MockLedger::new(),
                upstream: MockAiUpstream::new(),
                domains: MockDomainRepository::new(),
                conversations,
                idempotency: MockIdempotencyStore::new(),
                rate_limiter,
            }
        }

        fn service(self) -> ChatService {
            ChatService::new(
                ChatPorts {
                    ledger: Arc::new(self.ledger),
                    upstream: Arc::new(self.upstream),
                    domains: Arc::new(self.domains),
                    conversations: Arc::new(self.conversations),
                    idempotency: Arc::new(self.idempotency),
                    rate_limiter: Arc::new(self.rate_limiter),
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

    fn entry(kind: EntryKind, amount: i32, balance_after: i32) -> LedgerEntry {
        LedgerEntry {
            id: TransactionId::generate(),
            user_id: UserId::generate(),
            kind,
            amount,
            balance_after: Tokens::new(balance_after.into()).unwrap(),
            stripe_payment_intent_id: None,
            idempotency_key: None,
            service_type: Some(ServiceType::AskAtt),
            domain_id: None,
            metadata: json!({}),
            created_at: Utc::now(),
        }
    }

    fn request(service: ServiceType, domain: Option<DomainId>) -> ChatRequest {
        ChatRequest {
            actor: Actor {
                user: UserId::generate(),
                role: Role::User,
            },
            service,
            domain,
            message: ChatMessage::parse("What is askgate?").unwrap(),
            conversation: None,
            idempotency_key: None,
        }
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
        let mut m = Mocks::new();
        m.ledger
            .expect_debit()
            .times(1)
            .returning(|_| Ok(entry(EntryKind::Consumption, -1, 4)));
        m.ledger.expect_refund().never();
        m.upstream
            .expect_ask()
            .times(1)
            .returning(|_| Ok(answer("42")));
        let reply = m
            .service()
            .chat(request(ServiceType::AskAtt, None))
            .await
            .unwrap();
        assert_eq!(reply.response, "42");
        assert_eq!(reply.tokens_remaining.get(), 4);
        assert!(reply.conversation_id.is_some());
    }

    #[tokio::test]
    async fn a_nul_in_the_answer_is_replaced_before_it_is_kept_or_given() {
        let mut m = Mocks::new();
        m.ledger
            .expect_debit()
            .returning(|_| Ok(entry(EntryKind::Consumption, -1, 4)));
        m.upstream.expect_ask().returning(|_| {
            Ok(UpstreamAnswer {
                text: "a\0b".into(),
                sources: vec![json!({"title": "c\0"})],
            })
        });
        m.conversations = MockConversationRepository::new();
        m.conversations
            .expect_append_exchange()
            .withf(|_, _, _, answer| answer == "a\u{FFFD}b")
            .times(1)
            .returning(|_, _, _, _| Ok(Some(ConversationId::generate())));
        let reply = m
            .service()
            .chat(request(ServiceType::AskAtt, None))
            .await
            .unwrap();
        assert_eq!(reply.response, "a\u{FFFD}b");
        assert_eq!(reply.sources, [json!({"title": "c\u{FFFD}"})]);
    }

    #[tokio::test]
    async fn no_tokens_means_no_upstream_call() {
        let mut m = Mocks::new();
        m.ledger.expect_debit().returning(|_| {
            Err(LedgerError::InsufficientTokens {
                balance: Tokens::ZERO,
            })
        });
        m.upstream.expect_ask().never();
        let err = m
            .service()
            .chat(request(ServiceType::AskAtt, None))
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
            .returning(|_| Ok(decision(false)));
        m.ledger.expect_debit().never();
        m.upstream.expect_ask().never();
        let err = m
            .service()
            .chat(request(ServiceType::AskAtt, None))
            .await
            .unwrap_err();
        assert!(matches!(err, ChatError::RateLimited(d) if !d.allowed));
    }

    #[tokio::test]
    async fn upstream_failure_refunds_the_token() {
        let mut m = Mocks::new();
        let consumption = entry(EntryKind::Consumption, -1, 0);
        let consumption_id = consumption.id;
        m.ledger
            .expect_debit()
            .returning(move |_| Ok(consumption.clone()));
        m.ledger
            .expect_refund()
            .withf(move |id, reason| *id == consumption_id && reason == "upstream_failed")
            .times(1)
            .returning(|_, _| Ok(Recorded::Applied(entry(EntryKind::Refund, 1, 1))));
        m.upstream
            .expect_ask()
            .returning(|_| Err(UpstreamError::Failed("502".into())));
        let err = m
            .service()
            .chat(request(ServiceType::AskAtt, None))
            .await
            .unwrap_err();
        assert!(matches!(err, ChatError::UpstreamFailed(_)));
    }

    #[tokio::test]
    async fn upstream_timeout_refunds_the_token() {
        let mut m = Mocks::new();
        m.ledger
            .expect_debit()
            .returning(|_| Ok(entry(EntryKind::Consumption, -1, 0)));
        m.ledger
            .expect_refund()
            .withf(|_, reason| reason == "upstream_timeout")
            .times(1)
            .returning(|_, _| Ok(Recorded::Applied(entry(EntryKind::Refund, 1, 1))));
        m.upstream
            .expect_ask()
            .returning(|_| Err(UpstreamError::Timeout));
        let err = m
            .service()
            .chat(request(ServiceType::AskAtt, None))
            .await
            .unwrap_err();
        assert!(matches!(err, ChatError::UpstreamTimeout));
    }

    #[tokio::test]
    async fn askdocs_on_an_inactive_or_missing_domain_is_not_found_before_any_charge() {
        for active in [Some(false), None] {
            let mut m = Mocks::new();
            m.domains
                .expect_get()
                .returning(move |id| Ok(active.map(|a| domain(id, a))));
            m.ledger.expect_debit().never();
            let err = m
                .service()
                .chat(request(ServiceType::AskDocs, Some(DomainId::generate())))
                .await
                .unwrap_err();
            assert!(matches!(err, ChatError::DomainNotFound));
        }
    }

    #[tokio::test]
    async fn askdocs_sends_the_domain_and_names_it_in_the_reply() {
        let mut m = Mocks::new();
        let id = DomainId::generate();
        m.domains
            .expect_get()
            .returning(|id| Ok(Some(domain(id, true))));
        m.ledger
            .expect_debit()
            .withf(move |d| d.domain == Some(id) && d.service == ServiceType::AskDocs)
            .returning(|_| Ok(entry(EntryKind::Consumption, -1, 9)));
        m.upstream
            .expect_ask()
            .withf(move |r| r.domain.as_ref().map(|d| d.id) == Some(id))
            .returning(|_| Ok(answer("from the docs")));
        let reply = m
            .service()
            .chat(request(ServiceType::AskDocs, Some(id)))
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
        m.ledger.expect_debit().never();
        let mut req = request(ServiceType::AskAtt, None);
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
        };
        let body = serde_json::to_value(&stored).unwrap();
        m.idempotency.expect_begin().returning(move |_, _, _, _| {
            Ok(IdempotencyBegin::Replay(StoredResponse {
                status: 200,
                body: body.clone(),
            }))
        });
        m.ledger.expect_debit().never();
        m.upstream.expect_ask().never();
        let mut req = request(ServiceType::AskAtt, None);
        req.idempotency_key = Some(IdempotencyKey::parse("k1").unwrap());
        assert_eq!(m.service().chat(req).await.unwrap(), stored);
    }

    #[tokio::test]
    async fn a_reused_key_with_another_body_is_refused_without_charging() {
        let mut m = Mocks::new();
        m.idempotency
            .expect_begin()
            .returning(|_, _, _, _| Ok(IdempotencyBegin::Mismatch));
        m.ledger.expect_debit().never();
        let mut req = request(ServiceType::AskAtt, None);
        req.idempotency_key = Some(IdempotencyKey::parse("k1").unwrap());
        assert!(matches!(
            m.service().chat(req).await,
            Err(ChatError::IdempotencyMismatch)
        ));
    }

    #[tokio::test]
    async fn a_claimed_key_stores_the_answer_and_a_failure_releases_it() {
        let mut m = Mocks::new();
        m.idempotency
            .expect_begin()
            .returning(|_, _, _, _| Ok(IdempotencyBegin::Claimed));
        m.idempotency
            .expect_complete()
            .times(1)
            .returning(|_, _, r| {
                assert_eq!(r.body["response"], "ok");
                Ok(())
            });
        m.ledger
            .expect_debit()
            .returning(|_| Ok(entry(EntryKind::Consumption, -1, 1)));
        m.upstream.expect_ask().returning(|_| Ok(answer("ok")));
        let mut req = request(ServiceType::AskAtt, None);
        req.idempotency_key = Some(IdempotencyKey::parse("k2").unwrap());
        m.service().chat(req.clone()).await.unwrap();

        let mut m = Mocks::new();
        m.idempotency
            .expect_begin()
            .returning(|_, _, _, _| Ok(IdempotencyBegin::Claimed));
        m.idempotency
            .expect_abandon()
            .times(1)
            .returning(|_, _| Ok(()));
        m.ledger.expect_debit().returning(|_| {
            Err(LedgerError::InsufficientTokens {
                balance: Tokens::ZERO,
            })
        });
        assert!(m.service().chat(req).await.is_err());
    }
}
