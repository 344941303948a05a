//! A chat request whose handler is dropped halfway (what actix does when a
//! client goes away) still runs its debit → upstream → refund to the end.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::http::header;
use actix_web::test;
use askgate_domain::ports::{
    AiUpstream, MockCharges, MockClock, MockConversationRepository, MockDomainRepository,
    MockHealthCheck, MockLedger, MockPurchaseRepository, MockRateLimiter, MockSessionStore,
    MockUserRepository, RateDecision, Reserved, UpstreamAnswer, UpstreamError, UpstreamRequest,
};
use askgate_domain::services::account::AdminPolicy;
use askgate_domain::services::{
    AccountService, BillingService, ChatPorts, ChatService, ConversationService, DomainService,
    ReturnUrls, SessionPolicy, SessionService,
};
use askgate_domain::testing;
use askgate_domain::user::{Role, User};
use askgate_domain::{SessionId, Tokens};
use askgate_http::dto::ChatReplyFormat;
use askgate_http::{AppState, HttpOptions, Services, SessionKeys, app};
use async_trait::async_trait;
use chrono::Utc;
use secrecy::SecretString;
use serde_json::json;
use tokio::sync::Notify;

/// An upstream that says when it was asked and fails once it is released.
#[derive(Default)]
struct Gate {
    asked: Notify,
    release: Notify,
}

#[async_trait]
impl AiUpstream for Gate {
    async fn ask(&self, _: &UpstreamRequest) -> Result<UpstreamAnswer, UpstreamError> {
        self.asked.notify_one();
        self.release.notified().await;
        Err(UpstreamError::Timeout)
    }
}

#[actix_web::test]
async fn a_dropped_chat_request_still_refunds_its_token() {
    let gate = Arc::new(Gate::default());
    let refunds = Arc::new(AtomicUsize::new(0));

    let mut charges = MockCharges::new();
    charges.expect_reserve().times(1).returning(|_, _| {
        Ok(Reserved::Held {
            balance_after: Tokens::ZERO,
        })
    });
    let counted = Arc::clone(&refunds);
    charges.expect_refund().times(1).returning(move |_, _| {
        counted.fetch_add(1, Ordering::SeqCst);
        Ok(Some(Tokens::ONE))
    });
    let mut limiter = MockRateLimiter::new();
    limiter.expect_check().returning(|_, _| {
        Ok(RateDecision {
            allowed: true,
            limit: 30,
            remaining: 29,
            reset_after: Duration::from_secs(2),
        })
    });
    let chat = ChatService::new(
        ChatPorts {
            charges: Arc::new(charges),
            upstream: Arc::clone(&gate) as Arc<dyn AiUpstream>,
            domains: Arc::new(MockDomainRepository::new()),
            conversations: Arc::new(MockConversationRepository::new()),
            rate_limiter: Arc::new(limiter),
            replies: Arc::new(ChatReplyFormat),
            users: Arc::new(MockUserRepository::new()),
        },
        Duration::from_secs(1),
    );

    let keys = SessionKeys::new(
        &SecretString::from("cancel-test-secret-cancel-test-secret".to_owned()),
        Duration::from_secs(900),
        "authenticated".into(),
    );
    let user = User {
        tokens: Tokens::ONE,
        ..testing::user("gone@example.com", Role::User)
    };
    let token = keys.issue(&user, SessionId::generate()).unwrap().token;
    let mut clock = MockClock::new();
    clock.expect_now().returning(Utc::now);
    let clock = Arc::new(clock);
    let accounts = Arc::new(AccountService::new(
        Arc::new(MockUserRepository::new()),
        Arc::new(MockLedger::new()),
        clock.clone(),
        AdminPolicy::default(),
    ));
    let services = Services {
        sessions: Arc::new(SessionService::new(
            Arc::new(MockSessionStore::new()),
            Arc::new(keys.clone()),
            Arc::clone(&accounts),
            clock,
            SessionPolicy {
                refresh_ttl: Duration::from_secs(14 * 86_400),
                max_age: SessionPolicy::DEFAULT_MAX_AGE,
                revocation_check_ttl: SessionPolicy::DEFAULT_REVOCATION_CHECK_TTL,
            },
        )),
        accounts,
        conversations: Arc::new(ConversationService::new(Arc::new(
            MockConversationRepository::new(),
        ))),
        chat: Arc::new(chat),
        domains: Arc::new(DomainService::new(
            Arc::new(MockDomainRepository::new()),
            Arc::new(askgate_domain::ports::MockUpstreamTargets::new()),
            Arc::new(MockUserRepository::new()),
        )),
        app_credits: Arc::new(askgate_domain::services::AppCreditService::new(Arc::new(
            askgate_domain::ports::MockAppLedger::new(),
        ))),
        apps: Arc::new(askgate_domain::services::AppService::new(
            Arc::new(askgate_domain::ports::MockAppStore::new()),
            Arc::new(askgate_domain::ports::MockSecretMinter::new()),
        )),
        api_keys: Arc::new(askgate_domain::services::ApiKeyService::new(
            Arc::new(askgate_domain::ports::MockApiKeyStore::new()),
            Arc::new(askgate_domain::ports::MockSecretMinter::new()),
            Arc::new(askgate_domain::ports::SystemClock),
        )),
        reports: Arc::new(askgate_domain::services::ReportService::new(
            Arc::new(askgate_domain::ports::MockReports::new()),
            Arc::new(askgate_domain::ports::SystemClock),
        )),
        admin: Arc::new(askgate_domain::services::AdminService::new(
            Arc::new(askgate_domain::ports::MockAdminStore::new()),
            Arc::new(MockLedger::new()),
            askgate_domain::services::account::AdminPolicy::default(),
        )),
        billing: Arc::new(BillingService::new(
            None,
            Arc::new(MockLedger::new()),
            Arc::new(MockPurchaseRepository::new()),
            ReturnUrls::under("http://localhost:8080"),
        )),
        health: Arc::new(MockHealthCheck::new()),
        bearer: Arc::new(keys),
        microsoft: None,
        device: None,
        dev_device: None,
        webhooks: None,
    };
    let state = AppState::new(services, HttpOptions::default());
    let service = test::init_service(app(state)).await;

    let request = test::TestRequest::post()
        .uri("/api/askatt/chat")
        .insert_header((header::AUTHORIZATION, format!("Bearer {token}")))
        .set_json(json!({"message": "will you wait for me?"}))
        .to_request();
    // The handler's future is dropped once the upstream has been asked,
    // after the debit and before the refund.
    tokio::select! {
        _ = test::call_service(&service, request) => panic!("answered before the upstream returned"),
        () = gate.asked.notified() => {}
    }
    gate.release.notify_one();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while refunds.load(Ordering::SeqCst) == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the token was never refunded"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
