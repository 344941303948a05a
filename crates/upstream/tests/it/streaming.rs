//! Streamed answers over real HTTP: wiremock for whole bodies, and a raw TCP
//! upstream for what wiremock cannot do (send part of an answer, then stall,
//! break off, or notice that askgate went away).

use std::time::Duration;

use askgate_domain::conversation::ChatMessage;
use askgate_domain::ledger::ServiceType;
use askgate_domain::ports::{AiUpstream, UpstreamError, UpstreamEvent, UpstreamRequest};
use askgate_upstream::{AllowedHosts, HostPattern, ServiceRoute, UpstreamConfig, Upstreams};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use url::Url;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn upstreams(askatt: ServiceRoute, timeout: Duration) -> Upstreams {
    let config = UpstreamConfig {
        askatt,
        askdocs_base: None,
        askatt_scope: None,
        askdocs_scope: None,
        timeout,
        allowed_hosts: AllowedHosts::new(vec![HostPattern::parse("127.0.0.1").unwrap()], false),
    };
    Upstreams::new(config, None).unwrap()
}

fn openai_at(base: &str) -> ServiceRoute {
    ServiceRoute::OpenAi {
        base: Url::parse(base).unwrap(),
        model: "gpt-test".to_owned(),
        api_key: None,
    }
}

fn question(text: &str) -> UpstreamRequest {
    UpstreamRequest {
        service: ServiceType::AskAtt,
        domain: None,
        message: ChatMessage::parse(text).unwrap(),
        history: Vec::new(),
    }
}

fn chunk(content: &str) -> String {
    let chunk =
        json!({"choices": [{"index": 0, "delta": {"content": content}, "finish_reason": null}]});
    format!("data: {chunk}\n\n")
}

/// Everything the stream gives: the text pieces, and the error it ended with.
async fn collect(
    upstreams: &Upstreams,
    request: &UpstreamRequest,
) -> (Vec<String>, Option<UpstreamError>) {
    let mut stream = upstreams
        .stream(request)
        .await
        .expect("the upstream accepted the question");
    let mut pieces = Vec::new();
    while let Some(event) = stream.next().await {
        match event {
            Ok(UpstreamEvent::Delta(piece)) => pieces.push(piece),
            Ok(UpstreamEvent::Sources(_)) => {}
            Err(error) => {
                assert!(stream.next().await.is_none(), "nothing follows an error");
                return (pieces, Some(error));
            }
        }
    }
    (pieces, None)
}

#[tokio::test]
async fn an_openai_upstream_is_asked_to_stream_and_its_chunks_become_deltas() {
    let server = MockServer::start().await;
    let role =
        json!({"choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": null}]});
    let body = format!(
        "data: {role}\n\n: keep-alive\n\n{}{}data: {}\n\ndata: [DONE]\n\n",
        chunk("Hello"),
        chunk(", world"),
        json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
    );
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "text/event-stream"))
        .expect(1)
        .mount(&server)
        .await;
    let upstreams = upstreams(openai_at(&server.uri()), Duration::from_secs(5));

    let (pieces, error) = collect(&upstreams, &question("Say hello")).await;

    assert_eq!(pieces, ["Hello", ", world"]);
    assert!(error.is_none());
    let sent: Value =
        serde_json::from_slice(&server.received_requests().await.unwrap()[0].body).unwrap();
    assert_eq!(sent["stream"], json!(true));
    assert_eq!(sent["model"], json!("gpt-test"));
}

#[tokio::test]
async fn an_upstream_that_answers_json_arrives_as_one_delta() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/askatt/chat"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"response": "All at once."})))
        .mount(&server)
        .await;
    let route = ServiceRoute::AskAtt {
        endpoint: Url::parse(&format!("{}/askatt/", server.uri())).unwrap(),
    };
    let upstreams = upstreams(route, Duration::from_secs(5));

    let (pieces, error) = collect(&upstreams, &question("Anything")).await;

    assert_eq!(pieces, ["All at once."]);
    assert!(error.is_none());
}

#[tokio::test]
async fn askatt_events_are_pieces_of_its_json_answer() {
    let server = MockServer::start().await;
    let body = "data: {\"response\":\"Part one, \"}\n\ndata: {\"response\":\"part two.\"}\n\n";
    Mock::given(method("POST"))
        .and(path("/askatt/chat"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(body, "text/event-stream; charset=utf-8"),
        )
        .mount(&server)
        .await;
    let route = ServiceRoute::AskAtt {
        endpoint: Url::parse(&format!("{}/askatt/", server.uri())).unwrap(),
    };
    let upstreams = upstreams(route, Duration::from_secs(5));

    let (pieces, error) = collect(&upstreams, &question("Anything")).await;

    assert_eq!(pieces, ["Part one, ", "part two."]);
    assert!(error.is_none());
}

#[tokio::test]
async fn an_error_status_fails_before_any_delta() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let upstreams = upstreams(openai_at(&server.uri()), Duration::from_secs(5));

    let error = upstreams.stream(&question("Anything")).await.unwrap_err();

    assert!(
        matches!(error, UpstreamError::Failed(ref reason) if reason.contains("503")),
        "{error:?}"
    );
}

#[tokio::test]
async fn the_demo_upstream_streams_its_answer_word_by_word() {
    let upstreams = upstreams(ServiceRoute::Builtin, Duration::from_secs(5));
    let request = question("What is streaming?");

    let (pieces, error) = collect(&upstreams, &request).await;

    assert!(error.is_none());
    assert!(pieces.len() > 5, "{pieces:?}");
    let whole = upstreams.ask(&request).await.unwrap().text;
    assert_eq!(pieces.concat(), whole);
}

/// What the raw upstream does after its first chunk.
enum Then {
    BreakOff,
    Stall,
    /// Keep sending a chunk every 50 ms until the peer goes away, then report it.
    KeepSending(oneshot::Sender<()>),
}

/// A one-connection OpenAI-compatible upstream speaking chunked HTTP/1.1 by hand.
async fn raw_upstream(then: Then) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = vec![0_u8; 64 * 1024];
        let _ = socket.read(&mut request).await.unwrap();
        let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
        socket.write_all(head.as_bytes()).await.unwrap();
        let first = chunk("Partial ");
        socket
            .write_all(format!("{:x}\r\n{first}\r\n", first.len()).as_bytes())
            .await
            .unwrap();
        match then {
            Then::BreakOff => drop(socket),
            Then::Stall => tokio::time::sleep(Duration::from_secs(30)).await,
            Then::KeepSending(gone) => {
                let next = chunk("more ");
                let framed = format!("{:x}\r\n{next}\r\n", next.len());
                while socket.write_all(framed.as_bytes()).await.is_ok() {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                let _ = gone.send(());
            }
        }
    });
    base
}

#[tokio::test]
async fn an_upstream_that_breaks_off_mid_answer_ends_the_stream_with_a_failure() {
    let base = raw_upstream(Then::BreakOff).await;
    let upstreams = upstreams(openai_at(&base), Duration::from_secs(5));

    let (pieces, error) = collect(&upstreams, &question("Anything")).await;

    assert_eq!(pieces, ["Partial "]);
    assert!(matches!(error, Some(UpstreamError::Failed(_))), "{error:?}");
}

#[tokio::test]
async fn an_upstream_that_stalls_mid_answer_times_out_at_the_deadline() {
    let base = raw_upstream(Then::Stall).await;
    let upstreams = upstreams(openai_at(&base), Duration::from_millis(700));

    let (pieces, error) = collect(&upstreams, &question("Anything")).await;

    assert_eq!(pieces, ["Partial "]);
    assert!(matches!(error, Some(UpstreamError::Timeout)), "{error:?}");
}

#[tokio::test]
async fn dropping_the_stream_closes_the_upstream_connection() {
    let (gone_tx, gone_rx) = oneshot::channel();
    let base = raw_upstream(Then::KeepSending(gone_tx)).await;
    let upstreams = upstreams(openai_at(&base), Duration::from_secs(10));

    let mut stream = upstreams.stream(&question("Anything")).await.unwrap();
    assert_eq!(
        stream.next().await.unwrap().unwrap(),
        UpstreamEvent::Delta("Partial ".to_owned())
    );
    drop(stream);

    tokio::time::timeout(Duration::from_secs(5), gone_rx)
        .await
        .expect("the upstream saw the connection close")
        .unwrap();
}
