//! Streamed chats over real HTTP (`Accept: text/event-stream`): askgate on a
//! random port with a real database, and an OpenAI-compatible upstream spoken
//! by hand over TCP, so that a test decides when each piece of the answer is
//! written, breaks the answer off, or sees askgate close the connection.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::support::{LedgerRow, TestApp};

/// What the upstream does, in order.
enum Step {
    /// Writes a chunk carrying this text.
    Send(&'static str),
    /// Waits until the test says go on.
    Wait(oneshot::Receiver<()>),
    /// Writes `[DONE]` and ends the body.
    Finish,
    /// Closes the connection mid-body.
    BreakOff,
    /// Writes a chunk every 50 ms until askgate goes away, then says so.
    KeepSendingUntilGone(oneshot::Sender<()>),
}

/// An upstream answering one question with `status` and, for 200, `steps`;
/// returns its base URL.
async fn upstream(status: u16, steps: Vec<Step>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        read_request(&mut socket).await;
        if status != 200 {
            let head = format!(
                "HTTP/1.1 {status} Failed\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{{}}"
            );
            socket.write_all(head.as_bytes()).await.unwrap();
            return;
        }
        let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
        socket.write_all(head.as_bytes()).await.unwrap();
        for step in steps {
            match step {
                Step::Send(text) => write_chunk(&mut socket, &piece(text)).await.unwrap(),
                Step::Wait(go) => {
                    let _ = go.await;
                }
                Step::Finish => {
                    write_chunk(&mut socket, "data: [DONE]\n\n").await.unwrap();
                    socket.write_all(b"0\r\n\r\n").await.unwrap();
                }
                Step::BreakOff => return,
                Step::KeepSendingUntilGone(gone) => {
                    while write_chunk(&mut socket, &piece("more ")).await.is_ok() {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    let _ = gone.send(());
                    return;
                }
            }
        }
        // Keep the connection until askgate closes it.
        let mut rest = [0_u8; 64];
        let _ = socket.read(&mut rest).await;
    });
    base
}

/// Reads the request's head and its body (by `content-length`).
async fn read_request(socket: &mut TcpStream) {
    let mut seen = Vec::new();
    let mut buf = [0_u8; 8192];
    loop {
        let n = socket.read(&mut buf).await.unwrap();
        assert!(n > 0, "askgate closed before sending its request");
        seen.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&seen);
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if seen.len() >= end + 4 + length {
                assert!(
                    text.contains("\"stream\":true"),
                    "not asked to stream: {text}"
                );
                return;
            }
        }
    }
}

fn piece(text: &str) -> String {
    let chunk =
        json!({"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]});
    format!("data: {chunk}\n\n")
}

async fn write_chunk(socket: &mut TcpStream, data: &str) -> std::io::Result<()> {
    socket
        .write_all(format!("{:x}\r\n{data}\r\n", data.len()).as_bytes())
        .await?;
    socket.flush().await
}

async fn spawn(upstream: &str) -> TestApp {
    TestApp::spawn(&[
        ("ASKATT_KIND", "openai"),
        ("ASKATT_API_ENDPOINT", upstream),
        ("OPENAI_MODEL", "gpt-test"),
        ("UPSTREAM_ALLOWED_HOSTS", "127.0.0.1"),
        ("UPSTREAM_TIMEOUT_MS", "10000"),
        ("RATE_LIMIT_PER_MINUTE", "1000"),
    ])
    .await
}

/// A streamed chat's events as they arrive.
struct Events {
    response: reqwest::Response,
    buffered: String,
}

impl Events {
    async fn open(app: &TestApp, token: &str, body: &Value, key: Option<&str>) -> Self {
        let mut request = app
            .request(reqwest::Method::POST, "/api/askatt/chat", Some(token))
            .header("accept", "text/event-stream")
            .json(body);
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let headers = response.headers();
        assert_eq!(headers["content-type"], "text/event-stream");
        assert_eq!(headers["x-accel-buffering"], "no");
        assert_eq!(headers["cache-control"], "no-cache");
        Self {
            response,
            buffered: String::new(),
        }
    }

    /// The next event's name and data; `None` once the stream ended.
    async fn next(&mut self) -> Option<(String, Value)> {
        loop {
            if let Some(end) = self.buffered.find("\n\n") {
                let block: String = self.buffered.drain(..end + 2).collect();
                let mut name = None;
                let mut data = None;
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event: ") {
                        name = Some(v.to_owned());
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data = Some(serde_json::from_str(v).unwrap());
                    }
                }
                match (name, data) {
                    (Some(name), Some(data)) => return Some((name, data)),
                    // A heartbeat comment.
                    _ => continue,
                }
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.response.chunk())
                .await
                .expect("the stream went silent")
                .unwrap()?;
            self.buffered.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// Every remaining event.
    async fn rest(mut self) -> Vec<(String, Value)> {
        let mut all = Vec::new();
        while let Some(event) = self.next().await {
            all.push(event);
        }
        all
    }
}

fn names(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(name, _)| name.as_str()).collect()
}

fn kinds(rows: &[LedgerRow]) -> Vec<&str> {
    rows.iter().map(|r| r.kind.as_str()).collect()
}

/// The conversation's messages as (author, content, interrupted).
async fn messages(app: &TestApp, token: &str, conversation: &str) -> Vec<(String, String, bool)> {
    let reply = app
        .get(&format!("/api/conversations/{conversation}"), Some(token))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["author"].as_str().unwrap().to_owned(),
                m["content"].as_str().unwrap().to_owned(),
                m["interrupted"].as_bool().unwrap(),
            )
        })
        .collect()
}

async fn eventually<F, Fut>(mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    for _ in 0..100 {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn pieces_arrive_as_the_upstream_writes_them_and_the_whole_answer_costs_one_token() {
    let (go, wait) = oneshot::channel();
    let base = upstream(
        200,
        vec![
            Step::Send("Hello"),
            Step::Wait(wait),
            Step::Send(" world"),
            Step::Finish,
        ],
    )
    .await;
    let app = spawn(&base).await;
    let (token, user) = app.user_with("stream@example.com", 3).await;

    let mut events = Events::open(&app, &token, &json!({"message": "Say hello"}), None).await;
    let (name, start) = events.next().await.unwrap();
    assert_eq!(name, "start");
    assert_eq!(start["tokens_remaining"], 2);
    // The first piece arrives while the upstream is still writing.
    assert_eq!(
        events.next().await.unwrap(),
        ("delta".to_owned(), json!({"text": "Hello"}))
    );
    go.send(()).unwrap();
    let rest = events.rest().await;
    assert_eq!(names(&rest), ["delta", "done"]);
    assert_eq!(rest[0].1["text"], " world");
    assert_eq!(
        rest[1].1,
        json!({"length": 11, "tokens_remaining": 2, "finish_reason": "stop"})
    );

    assert_eq!(app.balance(&token).await, 2);
    assert_eq!(kinds(&app.ledger(&user).await), ["grant", "consumption"]);
    let conversation = start["conversation_id"].as_str().unwrap();
    assert_eq!(
        messages(&app, &token, conversation).await[1],
        ("assistant".into(), "Hello world".into(), false)
    );
    app.db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn an_upstream_failing_before_its_first_piece_is_an_error_event_and_a_refund() {
    let base = upstream(500, vec![]).await;
    let app = spawn(&base).await;
    let (token, user) = app.user_with("fails@example.com", 1).await;

    let events = Events::open(&app, &token, &json!({"message": "Anything"}), None)
        .await
        .rest()
        .await;
    assert_eq!(names(&events), ["start", "error"]);
    let error = &events[1].1;
    assert_eq!(error["code"], "upstream_failed");
    assert_eq!(error["status"], 502);
    assert_eq!(error["refunded"], true);
    assert_eq!(error["partial_kept"], false);
    assert_eq!(error["tokens_remaining"], 1);

    assert_eq!(app.balance(&token).await, 1);
    assert_eq!(
        kinds(&app.ledger(&user).await),
        ["grant", "consumption", "refund"]
    );
    app.db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn an_upstream_breaking_off_keeps_the_part_as_interrupted_and_refunds_the_token() {
    let base = upstream(200, vec![Step::Send("Partial "), Step::BreakOff]).await;
    let app = spawn(&base).await;
    let (token, user) = app.user_with("broken@example.com", 1).await;

    let events = Events::open(&app, &token, &json!({"message": "Anything"}), None)
        .await
        .rest()
        .await;
    assert_eq!(names(&events), ["start", "delta", "error"]);
    let error = &events[2].1;
    assert_eq!(error["code"], "upstream_failed");
    assert_eq!(error["refunded"], true);
    assert_eq!(error["partial_kept"], true);
    assert_eq!(error["tokens_remaining"], 1);

    assert_eq!(app.balance(&token).await, 1);
    assert_eq!(
        kinds(&app.ledger(&user).await),
        ["grant", "consumption", "refund"]
    );
    let conversation = events[0].1["conversation_id"].as_str().unwrap();
    assert_eq!(
        messages(&app, &token, conversation).await[1],
        ("assistant".into(), "Partial ".into(), true)
    );
    let list = app.get("/api/conversations", Some(&token)).await;
    assert_eq!(list.body["items"][0]["interrupted"], true);
    app.db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn a_client_leaving_mid_answer_cancels_the_upstream_and_keeps_the_part_and_the_charge() {
    let (gone_tx, gone) = oneshot::channel();
    let base = upstream(
        200,
        vec![Step::Send("Partial "), Step::KeepSendingUntilGone(gone_tx)],
    )
    .await;
    let app = spawn(&base).await;
    let (token, user) = app.user_with("leaves@example.com", 2).await;

    let mut events = Events::open(&app, &token, &json!({"message": "Anything"}), None).await;
    let (_, start) = events.next().await.unwrap();
    assert_eq!(events.next().await.unwrap().0, "delta");
    drop(events);

    tokio::time::timeout(Duration::from_secs(5), gone)
        .await
        .expect("the upstream request was not cancelled")
        .unwrap();
    let conversation = start["conversation_id"].as_str().unwrap().to_owned();
    assert!(
        eventually(|| async {
            let reply = app
                .get(&format!("/api/conversations/{conversation}"), Some(&token))
                .await;
            reply.status == StatusCode::OK
        })
        .await,
        "the interrupted answer was not recorded"
    );
    let kept = messages(&app, &token, &conversation).await;
    assert_eq!(kept[1].0, "assistant");
    assert!(kept[1].1.starts_with("Partial "), "{kept:?}");
    assert!(kept[1].2, "not marked interrupted");
    assert_eq!(app.balance(&token).await, 1);
    assert_eq!(kinds(&app.ledger(&user).await), ["grant", "consumption"]);
    app.db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn a_retry_while_streaming_is_409_and_a_retry_after_replays_the_answer_free() {
    let (go, wait) = oneshot::channel();
    let base = upstream(
        200,
        vec![
            Step::Send("The whole"),
            Step::Wait(wait),
            Step::Send(" answer"),
            Step::Finish,
        ],
    )
    .await;
    let app = spawn(&base).await;
    let (token, user) = app.user_with("retry@example.com", 2).await;
    let key = format!("stream-{}", Uuid::new_v4());
    let body = json!({"message": "Once"});

    let mut first = Events::open(&app, &token, &body, Some(&key)).await;
    assert_eq!(first.next().await.unwrap().0, "start");
    assert_eq!(first.next().await.unwrap().0, "delta");
    let during = app
        .send(
            app.request(reqwest::Method::POST, "/api/askatt/chat", Some(&token))
                .header("accept", "text/event-stream")
                .header("idempotency-key", &key)
                .json(&body),
        )
        .await;
    crate::support::assert_problem(&during, StatusCode::CONFLICT, "conflict");
    go.send(()).unwrap();
    assert_eq!(names(&first.rest().await), ["delta", "done"]);

    let replayed = Events::open(&app, &token, &body, Some(&key))
        .await
        .rest()
        .await;
    assert_eq!(names(&replayed), ["start", "delta", "done"]);
    assert_eq!(replayed[1].1["text"], "The whole answer");
    assert_eq!(replayed[2].1["length"], 16);
    assert_eq!(app.balance(&token).await, 1);
    assert_eq!(kinds(&app.ledger(&user).await), ["grant", "consumption"]);
    app.db.assert_ledger_invariant().await;
}
