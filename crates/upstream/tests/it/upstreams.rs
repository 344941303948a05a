use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use askgate_domain::DomainId;
use askgate_domain::conversation::{Author, ChatMessage, Turn};
use askgate_domain::domain::{ApiEndpoint, DisplayName, Domain, DomainConfiguration, DomainSlug};
use askgate_domain::ledger::ServiceType;
use askgate_domain::ports::{
    AiUpstream, ServiceToken, ServiceTokenError, ServiceTokenProvider, UpstreamError,
    UpstreamRequest,
};
use askgate_upstream::{
    AllowedHosts, HostLookup, HostPattern, ServiceRoute, UpstreamConfig, Upstreams,
};
use async_trait::async_trait;
use serde_json::{Value, json};
use url::Url;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ASKATT_SCOPE: &str = "api://askatt/.default";
const ASKDOCS_SCOPE: &str = "api://askdocs/.default";

/// Hands out `token-for-<scope>` and remembers which scopes were asked for.
#[derive(Default)]
struct FakeTokens {
    asked: Mutex<Vec<String>>,
    refuse: bool,
}

#[async_trait]
impl ServiceTokenProvider for FakeTokens {
    async fn token(&self, scope: &str) -> Result<ServiceToken, ServiceTokenError> {
        self.asked.lock().unwrap().push(scope.to_owned());
        if self.refuse {
            return Err(ServiceTokenError::Rejected("invalid_client".to_owned()));
        }
        Ok(ServiceToken::new(format!("token-for-{scope}")))
    }
}

fn config(askatt: ServiceRoute) -> UpstreamConfig {
    UpstreamConfig {
        askatt,
        askdocs_base: None,
        askatt_scope: Some(ASKATT_SCOPE.to_owned()),
        askdocs_scope: Some(ASKDOCS_SCOPE.to_owned()),
        timeout: Duration::from_secs(5),
        allowed_hosts: allowing(&["127.0.0.1"]),
    }
}

/// Domains may send questions to these hosts (http allowed).
fn allowing(entries: &[&str]) -> AllowedHosts {
    AllowedHosts::new(
        entries
            .iter()
            .map(|e| HostPattern::parse(e).unwrap())
            .collect(),
        false,
    )
}

fn askatt_at(server: &MockServer) -> ServiceRoute {
    ServiceRoute::AskAtt {
        endpoint: Url::parse(&format!("{}/askatt/", server.uri())).unwrap(),
    }
}

fn upstreams(config: UpstreamConfig) -> (Upstreams, Arc<FakeTokens>) {
    let tokens = Arc::new(FakeTokens::default());
    let upstreams = Upstreams::new(config, Some(tokens.clone())).unwrap();
    (upstreams, tokens)
}

fn domain(name: &str, endpoint: Option<&str>, configuration: Value) -> Domain {
    Domain {
        id: DomainId::generate(),
        name: DomainSlug::parse(name).unwrap(),
        display_name: DisplayName::parse("Some documents").unwrap(),
        description: None,
        api_endpoint: endpoint.map(|e| ApiEndpoint::parse(e).unwrap()),
        configuration: DomainConfiguration::parse(configuration).unwrap(),
        is_active: true,
        allowed_roles: askgate_domain::domain::AllowedRoles::everyone(),
        created_by: None,
        created_at: chrono::Utc::now(),
        updated_at: chrono::Utc::now(),
    }
}

fn askatt_question(message: &str, history: Vec<Turn>) -> UpstreamRequest {
    UpstreamRequest {
        service: ServiceType::AskAtt,
        domain: None,
        message: ChatMessage::parse(message).unwrap(),
        history,
    }
}

fn askdocs_question(domain: Domain, message: &str) -> UpstreamRequest {
    UpstreamRequest {
        service: ServiceType::AskDocs,
        domain: Some(std::sync::Arc::new(domain)),
        message: ChatMessage::parse(message).unwrap(),
        history: Vec::new(),
    }
}

fn earlier_turns() -> Vec<Turn> {
    vec![
        Turn {
            author: Author::User,
            content: "What is 5G?".to_owned(),
        },
        Turn {
            author: Author::Assistant,
            content: "A mobile network standard.".to_owned(),
        },
    ]
}

async fn requests_seen(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

#[tokio::test]
async fn askatt_sends_the_service_token_the_question_and_the_history() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/askatt/chat"))
        .and(header(
            "authorization",
            format!("Bearer token-for-{ASKATT_SCOPE}"),
        ))
        .and(body_json(json!({
            "message": "And 6G?",
            "history": [
                {"role": "user", "content": "What is 5G?"},
                {"role": "assistant", "content": "A mobile network standard."}
            ]
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"response": "Not yet."})))
        .expect(1)
        .mount(&server)
        .await;
    let (upstreams, tokens) = upstreams(config(askatt_at(&server)));

    let answer = upstreams
        .ask(&askatt_question("And 6G?", earlier_turns()))
        .await
        .unwrap();

    assert_eq!(answer.text, "Not yet.");
    assert!(answer.sources.is_empty());
    assert_eq!(*tokens.asked.lock().unwrap(), vec![ASKATT_SCOPE.to_owned()]);
}

#[tokio::test]
async fn askatt_leaves_history_out_of_a_new_conversation() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/askatt/chat"))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({"message": "Hello"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"response": "Hi"})))
        .expect(1)
        .mount(&server)
        .await;
    let (upstreams, _) = upstreams(config(askatt_at(&server)));

    let answer = upstreams
        .ask(&askatt_question("Hello", vec![]))
        .await
        .unwrap();

    assert_eq!(answer.text, "Hi");
}

#[tokio::test]
async fn askatt_without_a_scope_sends_no_authorization() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/askatt/chat"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"response": "Hi"})))
        .mount(&server)
        .await;
    let mut config = config(askatt_at(&server));
    config.askatt_scope = None;
    let (upstreams, tokens) = upstreams(config);

    upstreams
        .ask(&askatt_question("Hello", vec![]))
        .await
        .unwrap();

    let seen = server.received_requests().await.unwrap();
    assert!(!seen[0].headers.contains_key("authorization"));
    assert!(tokens.asked.lock().unwrap().is_empty());
}

#[tokio::test]
async fn askdocs_posts_the_domain_configuration_with_its_token_and_reads_sources() {
    let server = MockServer::start().await;
    let sources = json!([{"title": "Leave policy", "url": "https://docs.example/leave"}]);
    Mock::given(method("POST"))
        .and(path("/hr/ask"))
        .and(header(
            "authorization",
            format!("Bearer token-for-{ASKDOCS_SCOPE}"),
        ))
        .and(body_json(json!({
            "message": "How many days of leave?",
            "configuration": {"index": "hr-2026", "top_k": 4},
            "history": [
                {"role": "user", "content": "What is 5G?"},
                {"role": "assistant", "content": "A mobile network standard."}
            ]
        })))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"response": "25 days.", "sources": sources})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let (upstreams, tokens) = upstreams(config(ServiceRoute::Builtin));
    let hr = domain(
        "hr-policies",
        Some(&format!("{}/hr/ask", server.uri())),
        json!({"index": "hr-2026", "top_k": 4}),
    );
    let mut question = askdocs_question(hr, "How many days of leave?");
    question.history = earlier_turns();

    let answer = upstreams.ask(&question).await.unwrap();

    assert_eq!(answer.text, "25 days.");
    assert_eq!(Value::Array(answer.sources), sources);
    assert_eq!(
        *tokens.asked.lock().unwrap(),
        vec![ASKDOCS_SCOPE.to_owned()]
    );
}

#[tokio::test]
async fn askdocs_without_an_endpoint_is_asked_at_the_base_by_domain_name() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/askdocs/hr-policies/chat"))
        .and(body_json(json!({"message": "Q", "configuration": {}})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"response": "A"})))
        .expect(1)
        .mount(&server)
        .await;
    let mut config = config(ServiceRoute::Builtin);
    config.askdocs_base = Some(Url::parse(&format!("{}/askdocs", server.uri())).unwrap());
    let (upstreams, _) = upstreams(config);

    let answer = upstreams
        .ask(&askdocs_question(
            domain("hr-policies", None, json!({})),
            "Q",
        ))
        .await
        .unwrap();

    assert_eq!(answer.text, "A");
    assert!(answer.sources.is_empty());
}

#[tokio::test]
async fn an_upstream_error_status_is_a_failure_without_the_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_string("stack trace with secrets"))
        .mount(&server)
        .await;
    let (upstreams, _) = upstreams(config(askatt_at(&server)));

    let error = upstreams
        .ask(&askatt_question("Hello", vec![]))
        .await
        .unwrap_err();

    let UpstreamError::Failed(reason) = error else {
        panic!("expected Failed, got {error:?}");
    };
    assert!(reason.contains("500"), "{reason}");
    assert!(!reason.contains("secrets"), "{reason}");
}

#[tokio::test]
async fn an_unreadable_answer_is_a_failure() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"answer": "wrong key"})))
        .mount(&server)
        .await;
    let (upstreams, _) = upstreams(config(askatt_at(&server)));

    let error = upstreams
        .ask(&askatt_question("Hello", vec![]))
        .await
        .unwrap_err();

    assert!(matches!(error, UpstreamError::Failed(_)), "{error:?}");
}

#[tokio::test]
async fn a_slow_upstream_times_out_without_a_retry() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"response": "too late"}))
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&server)
        .await;
    let mut config = config(askatt_at(&server));
    config.timeout = Duration::from_millis(300);
    let (upstreams, _) = upstreams(config);

    let started = Instant::now();
    let error = upstreams
        .ask(&askatt_question("Hello", vec![]))
        .await
        .unwrap_err();

    assert!(matches!(error, UpstreamError::Timeout), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(requests_seen(&server).await, 1);
}

#[tokio::test]
async fn a_request_that_reached_the_upstream_is_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(502))
        .mount(&server)
        .await;
    let (upstreams, _) = upstreams(config(askatt_at(&server)));

    let error = upstreams
        .ask(&askatt_question("Hello", vec![]))
        .await
        .unwrap_err();

    assert!(matches!(error, UpstreamError::Failed(_)), "{error:?}");
    assert_eq!(requests_seen(&server).await, 1);
}

#[tokio::test]
async fn a_refused_connection_is_retried_once_then_fails() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = Url::parse(&format!("http://127.0.0.1:{port}")).unwrap();
    let (upstreams, _) = upstreams(config(ServiceRoute::AskAtt { endpoint }));

    let started = Instant::now();
    let error = upstreams
        .ask(&askatt_question("Hello", vec![]))
        .await
        .unwrap_err();

    let UpstreamError::Failed(reason) = error else {
        panic!("expected Failed, got {error:?}");
    };
    assert_eq!(reason, "upstream unreachable");
    // The retry waits 100 ms before its second connection attempt.
    assert!(started.elapsed() >= Duration::from_millis(100));
}

#[tokio::test]
async fn a_refused_service_token_is_a_credentials_error_and_nothing_is_sent() {
    let server = MockServer::start().await;
    let tokens = Arc::new(FakeTokens {
        refuse: true,
        ..FakeTokens::default()
    });
    let upstreams = Upstreams::new(config(askatt_at(&server)), Some(tokens)).unwrap();

    let error = upstreams
        .ask(&askatt_question("Hello", vec![]))
        .await
        .unwrap_err();

    assert!(matches!(error, UpstreamError::Credentials(_)), "{error:?}");
    assert_eq!(requests_seen(&server).await, 0);
}

#[tokio::test]
async fn openai_route_sends_model_history_and_question_and_reads_the_first_choice() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(header("authorization", "Bearer sk-local"))
        .and(body_json(json!({
            "model": "llama3",
            "messages": [
                {"role": "user", "content": "What is 5G?"},
                {"role": "assistant", "content": "A mobile network standard."},
                {"role": "user", "content": "And 6G?"}
            ]
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Research."}, "finish_reason": "stop"}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let (upstreams, tokens) = upstreams(config(ServiceRoute::OpenAi {
        base: Url::parse(&server.uri()).unwrap(),
        model: "llama3".to_owned(),
        api_key: Some("sk-local".to_owned().into()),
    }));

    let answer = upstreams
        .ask(&askatt_question("And 6G?", earlier_turns()))
        .await
        .unwrap();

    assert_eq!(answer.text, "Research.");
    assert!(tokens.asked.lock().unwrap().is_empty());
}

#[tokio::test]
async fn an_openai_domain_uses_its_base_url_model_and_system_prompt() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/openai/v1/chat/completions"))
        .and(body_json(json!({
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "system", "content": "Answer from the HR handbook."},
                {"role": "user", "content": "Leave?"}
            ]
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "choices": [{"message": {"role": "assistant", "content": "25 days."}}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let (upstreams, _) = upstreams(config(ServiceRoute::Builtin));
    let hr = domain(
        "hr-policies",
        Some("http://unused.invalid/"),
        json!({
            "kind": "openai",
            "model": "gpt-4o-mini",
            "base_url": format!("{}/openai/v1", server.uri()),
            "system_prompt": "Answer from the HR handbook."
        }),
    );

    let answer = upstreams
        .ask(&askdocs_question(hr, "Leave?"))
        .await
        .unwrap();

    assert_eq!(answer.text, "25 days.");
    let seen = server.received_requests().await.unwrap();
    assert!(!seen[0].headers.contains_key("authorization"));
}

#[tokio::test]
async fn an_openai_answer_without_choices_is_a_failure() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"choices": []})))
        .mount(&server)
        .await;
    let (upstreams, _) = upstreams(config(ServiceRoute::Builtin));
    let d = domain(
        "d",
        Some(&server.uri()),
        json!({"kind": "openai", "model": "m"}),
    );

    let error = upstreams.ask(&askdocs_question(d, "Q")).await.unwrap_err();

    assert!(matches!(error, UpstreamError::Failed(_)), "{error:?}");
}

#[tokio::test]
async fn builtin_answers_deterministically_and_says_what_it_is() {
    let (upstreams, tokens) = upstreams(UpstreamConfig::default());
    let question = askatt_question("Where is my order?", vec![]);

    let first = upstreams.ask(&question).await.unwrap();
    let second = upstreams.ask(&question).await.unwrap();

    assert_eq!(first, second);
    assert!(first.text.starts_with("[askgate demo upstream]"));
    assert!(
        first
            .text
            .contains("(AskAT&T): \u{201c}Where is my order?\u{201d}")
    );
    assert!(first.text.contains("ASKATT_API_ENDPOINT"));
    assert!(tokens.asked.lock().unwrap().is_empty());
}

#[tokio::test]
async fn builtin_askdocs_answer_names_the_askdocs_setting() {
    let (upstreams, _) = upstreams(UpstreamConfig::default());
    let hr = domain("hr", None, json!({}));

    let answer = upstreams
        .ask(&askdocs_question(hr, "How many days of leave?"))
        .await
        .unwrap();

    assert!(answer.text.contains("(AskDocs · hr)"), "{}", answer.text);
    assert!(
        answer.text.contains("ASKDOCS_API_BASE_ENDPOINT"),
        "{}",
        answer.text
    );
    assert!(
        !answer.text.contains("ASKATT_API_ENDPOINT"),
        "{}",
        answer.text
    );
}

#[tokio::test]
async fn builtin_echoes_at_most_200_characters_of_the_question() {
    let (upstreams, _) = upstreams(UpstreamConfig::default());
    let long = format!("{}{}", "a".repeat(200), "b".repeat(300));

    let answer = upstreams
        .ask(&askatt_question(&long, vec![]))
        .await
        .unwrap();

    assert!(
        answer
            .text
            .contains(&format!(": \u{201c}{}…\u{201d} ", "a".repeat(200)))
    );
    assert!(!answer.text.contains("ab"));
}

#[tokio::test]
async fn a_domain_without_any_endpoint_or_marked_builtin_gets_the_demo_answer() {
    // Unreachable: a builtin domain must not touch the network.
    let config = UpstreamConfig {
        askdocs_base: Some(Url::parse("http://127.0.0.1:1/askdocs").unwrap()),
        ..UpstreamConfig::default()
    };
    let (with_base, _) = upstreams(config);
    let (without_base, _) = upstreams(UpstreamConfig::default());

    let marked = domain(
        "hr-policies",
        Some("http://127.0.0.1:1/"),
        json!({"kind": "builtin"}),
    );
    let answer = with_base
        .ask(&askdocs_question(marked, "Leave?"))
        .await
        .unwrap();
    assert!(
        answer
            .text
            .contains("(AskDocs · hr-policies): \u{201c}Leave?\u{201d}")
    );

    let unconfigured = domain("legal", None, json!({}));
    let answer = without_base
        .ask(&askdocs_question(unconfigured, "Contracts?"))
        .await
        .unwrap();
    assert!(
        answer
            .text
            .contains("(AskDocs · legal): \u{201c}Contracts?\u{201d}")
    );
}

#[tokio::test]
async fn a_domain_with_an_unknown_kind_is_a_failure() {
    let (upstreams, _) = upstreams(UpstreamConfig::default());
    let odd = domain("odd", None, json!({"kind": "carrier-pigeon"}));

    let error = upstreams
        .ask(&askdocs_question(odd, "Q"))
        .await
        .unwrap_err();

    assert!(matches!(error, UpstreamError::Failed(_)), "{error:?}");
}

// --- Where domains may send questions -----------------------------------------

/// Resolves every name to 127.0.0.1, as a DNS answer pointing inside would.
struct EverythingIsLoopback;

#[async_trait]
impl HostLookup for EverythingIsLoopback {
    async fn lookup(&self, _host: &str) -> std::io::Result<Vec<std::net::IpAddr>> {
        Ok(vec![std::net::Ipv4Addr::LOCALHOST.into()])
    }
}

async fn answering_askdocs() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"response": "ok"})))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn a_domain_naming_a_scope_is_refused_before_any_token_is_fetched() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "choices": [{"message": {"content": "leaked"}}]
        })))
        .mount(&server)
        .await;
    let (upstreams, tokens) = upstreams(config(ServiceRoute::Builtin));
    // As stored before scopes became server settings (or edited in SQL).
    let graph = domain(
        "graph",
        None,
        json!({
            "kind": "openai",
            "model": "m",
            "base_url": server.uri(),
            "scope": "https://graph.microsoft.com/.default"
        }),
    );

    let error = upstreams
        .ask(&askdocs_question(graph, "Q"))
        .await
        .unwrap_err();

    assert!(
        matches!(&error, UpstreamError::Failed(m) if m.contains("scope")),
        "{error:?}"
    );
    assert!(tokens.asked.lock().unwrap().is_empty());
    assert_eq!(requests_seen(&server).await, 0);
}

#[tokio::test]
async fn a_stored_endpoint_outside_the_allowed_hosts_is_refused_and_nothing_is_sent() {
    let server = answering_askdocs().await;
    let (upstreams, tokens) = upstreams(config(ServiceRoute::Builtin));
    let port = server.address().port();
    for (endpoint, configuration) in [
        // `localhost` is 127.0.0.1 too, but only 127.0.0.1 is listed.
        (format!("http://localhost:{port}/hr"), json!({})),
        (
            "https://docs.example.com/".to_owned(),
            json!({"kind": "openai", "model": "m", "base_url": format!("http://localhost:{port}/")}),
        ),
    ] {
        let hr = domain("hr", Some(&endpoint), configuration);
        let error = upstreams.ask(&askdocs_question(hr, "Q")).await.unwrap_err();
        assert!(
            matches!(&error, UpstreamError::Failed(m) if m.contains("not allowed")),
            "{error:?}"
        );
    }
    assert!(tokens.asked.lock().unwrap().is_empty());
    assert_eq!(requests_seen(&server).await, 0);
}

#[tokio::test]
async fn a_wildcard_host_whose_address_is_internal_is_refused_when_connecting() {
    let server = answering_askdocs().await;
    let endpoint = format!(
        "http://hr.askdocs.example.com:{}/chat",
        server.address().port()
    );
    let wildcard = UpstreamConfig {
        allowed_hosts: allowing(&["*.askdocs.example.com"]),
        ..config(ServiceRoute::Builtin)
    };
    let tokens = Arc::new(FakeTokens::default());
    let upstreams =
        Upstreams::with_lookup(wildcard, Some(tokens), Arc::new(EverythingIsLoopback)).unwrap();

    let error = upstreams
        .ask(&askdocs_question(
            domain("hr", Some(&endpoint), json!({})),
            "Q",
        ))
        .await
        .unwrap_err();

    assert!(
        matches!(&error, UpstreamError::Failed(m) if m.contains("address not allowed")),
        "{error:?}"
    );
    assert_eq!(requests_seen(&server).await, 0);

    // Listing the host exactly is the operator saying that it is internal on purpose.
    let exact = UpstreamConfig {
        allowed_hosts: allowing(&["hr.askdocs.example.com"]),
        ..config(ServiceRoute::Builtin)
    };
    let upstreams = Upstreams::with_lookup(exact, None, Arc::new(EverythingIsLoopback)).unwrap();
    let answer = upstreams
        .ask(&askdocs_question(
            domain("hr", Some(&endpoint), json!({})),
            "Q",
        ))
        .await
        .unwrap();
    assert_eq!(answer.text, "ok");
    assert_eq!(requests_seen(&server).await, 1);
}

#[tokio::test]
async fn a_redirect_from_an_allowed_upstream_is_not_followed() {
    let elsewhere = answering_askdocs().await;
    let allowed = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(307).insert_header(
            "location",
            format!("http://localhost:{}/steal", elsewhere.address().port()).as_str(),
        ))
        .mount(&allowed)
        .await;
    let (upstreams, _) = upstreams(config(ServiceRoute::Builtin));
    let hr = domain("hr", Some(&format!("{}/hr", allowed.uri())), json!({}));

    let error = upstreams.ask(&askdocs_question(hr, "Q")).await.unwrap_err();

    assert!(
        matches!(&error, UpstreamError::Failed(m) if m.contains("307")),
        "{error:?}"
    );
    assert_eq!(requests_seen(&allowed).await, 1);
    assert_eq!(requests_seen(&elsewhere).await, 0);
}
