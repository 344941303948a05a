//! The real binary under faults: killed with SIGKILL during a chat, stopped
//! with SIGTERM during a chat, its database connections terminated during a
//! burst, and two instances sharing one database. Whatever happens, no token
//! is kept for an answer nobody got, and the ledger audits clean.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use askgate_domain::ledger::{CreditKind, CreditRequest, IdempotencyKey};
use askgate_domain::ports::Ledger;
use askgate_domain::{Tokens, UserId};
use askgate_postgres::PgLedger;
use askgate_postgres::audit::audit;
use askgate_postgres::testing::TestDatabase;
use reqwest::StatusCode;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &str = "faults-test-secret-faults-test-secret";
/// The upstream timeout of these instances, and a recovery window just past it.
const UPSTREAM_TIMEOUT_MS: &str = "2000";
const RECOVERY_AFTER_SECONDS: &str = "8";

/// A running `askgate-server`, killed when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Server {
    /// Starts the binary on `db` with the AskAT&T upstream at `upstream` and
    /// waits until it is ready.
    async fn start(db: &TestDatabase, upstream: &str) -> Self {
        let port = free_port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_askgate-server"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("APP_ENV", "development")
            .env("DATABASE_URL", db.url())
            .env("BIND_ADDR", format!("127.0.0.1:{port}"))
            .env("JWT_SECRET", SECRET)
            .env("AUTH_DEV_LOGIN", "true")
            .env("ASKATT_API_ENDPOINT", format!("{upstream}/askatt/"))
            .env("UPSTREAM_TIMEOUT_MS", UPSTREAM_TIMEOUT_MS)
            .env("CHARGE_RECOVERY_AFTER_SECONDS", RECOVERY_AFTER_SECONDS)
            .env("RATE_LIMIT_PER_MINUTE", "100000")
            .env("DATABASE_MAX_CONNECTIONS", "20")
            .stdin(Stdio::null());
        // The server's logs (on stdout) only with TEST_LOG.
        if std::env::var_os("TEST_LOG").is_some() {
            cmd.stdout(Stdio::inherit()).stderr(Stdio::inherit());
        } else {
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
        }
        let child = cmd.spawn().unwrap();
        let server = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let started = Instant::now();
        while reqwest::get(format!("{}/health/ready", server.base))
            .await
            .map(|r| r.status() != StatusCode::OK)
            .unwrap_or(true)
        {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the server did not become ready"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(started.elapsed() < within, "the server did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    async fn sign_in(&self, email: &str) -> (String, UserId) {
        let body: Value = reqwest::Client::new()
            .post(format!("{}/api/auth/dev-login", self.base))
            .json(&json!({ "email": email }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (
            body["session_token"].as_str().unwrap().to_owned(),
            body["user"]["id"].as_str().unwrap().parse().unwrap(),
        )
    }
}

async fn chat(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    key: Option<&str>,
) -> Result<(StatusCode, Value), reqwest::Error> {
    let mut request = client
        .post(format!("{base}/api/askatt/chat"))
        .bearer_auth(token)
        .json(&json!({ "message": "Is it safe?" }));
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    let response = request.send().await?;
    let status = response.status();
    Ok((status, response.json().await.unwrap_or(Value::Null)))
}

async fn grant(db: &TestDatabase, user: UserId, tokens: i64) {
    PgLedger::new(db.database())
        .credit(&CreditRequest {
            user,
            kind: CreditKind::Grant,
            amount: Tokens::new(tokens).unwrap(),
            idempotency_key: IdempotencyKey::parse(&format!("seed-{user}")).unwrap(),
            metadata: json!({}),
        })
        .await
        .unwrap();
}

async fn balance(db: &TestDatabase, user: UserId) -> i64 {
    i64::from(
        PgLedger::new(db.database())
            .balance(user)
            .await
            .unwrap()
            .get(),
    )
}

async fn pending_charges(db: &TestDatabase) -> i64 {
    let (client, conn) = tokio_postgres::connect(db.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .query_one("SELECT count(*) FROM charges WHERE state = 'pending'", &[])
        .await
        .unwrap()
        .get(0)
}

async fn assert_audit_clean(db: &TestDatabase) {
    db.assert_ledger_invariant().await;
    let report = audit(&db.database(), Duration::from_secs(8)).await.unwrap();
    assert!(report.is_clean(), "{report}");
}

async fn upstream_answering_after(delay: Duration) -> MockServer {
    let upstream = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/askatt/chat"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "response": "Yes." }))
                .set_delay(delay),
        )
        .mount(&upstream)
        .await;
    upstream
}

async fn until_upstream_asked(upstream: &MockServer, times: usize) {
    let started = Instant::now();
    while upstream.received_requests().await.unwrap_or_default().len() < times {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the upstream was never asked"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_token_held_when_the_server_is_killed_comes_back_and_the_retry_is_charged_once() {
    let db = TestDatabase::new().await;
    // The first question hangs (past the kill); later ones are answered at once.
    let upstream = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/askatt/chat"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "response": "too late" }))
                .set_delay(Duration::from_secs(60)),
        )
        .up_to_n_times(1)
        .mount(&upstream)
        .await;
    Mock::given(method("POST"))
        .and(path("/askatt/chat"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "response": "Yes." })))
        .mount(&upstream)
        .await;

    let mut first = Server::start(&db, &upstream.uri()).await;
    let (token, user) = first.sign_in("killed@example.com").await;
    grant(&db, user, 3).await;
    let client = reqwest::Client::new();
    let asking = tokio::spawn({
        let (client, base, token) = (client.clone(), first.base.clone(), token.clone());
        async move { chat(&client, &base, &token, Some("retry-me")).await }
    });
    until_upstream_asked(&upstream, 1).await;
    assert_eq!(
        balance(&db, user).await,
        2,
        "the token is held during the call"
    );
    first.signal("KILL");
    first.wait_exit(Duration::from_secs(5));
    assert!(
        asking.await.unwrap().is_err(),
        "the client lost its connection"
    );
    assert_eq!(pending_charges(&db).await, 1);

    // A new instance (the same session works: same JWT secret) gives the token
    // back within the recovery window.
    let second = Server::start(&db, &upstream.uri()).await;
    let started = Instant::now();
    while balance(&db, user).await != 3 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the held token was not given back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(pending_charges(&db).await, 0);
    assert_audit_clean(&db).await;

    // The client's retry with the same key is answered, and charged once in all.
    let (status, body) = chat(&client, &second.base, &token, Some("retry-me"))
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["response"], "Yes.");
    assert_eq!(body["tokens_remaining"], 2);
    let (status, replay) = chat(&client, &second.base, &token, Some("retry-me"))
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(replay, body);
    assert_eq!(balance(&db, user).await, 2);
    assert_audit_clean(&db).await;
}

#[tokio::test]
async fn sigterm_during_a_chat_lets_it_finish_and_leaves_nothing_pending() {
    let db = TestDatabase::new().await;
    let upstream = upstream_answering_after(Duration::from_millis(1500)).await;
    let mut server = Server::start(&db, &upstream.uri()).await;
    let (token, user) = server.sign_in("stopped@example.com").await;
    grant(&db, user, 5).await;
    let asking = tokio::spawn({
        let base = server.base.clone();
        async move { chat(&reqwest::Client::new(), &base, &token, None).await }
    });
    until_upstream_asked(&upstream, 1).await;
    server.signal("TERM");
    let (status, body) = asking.await.unwrap().unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["response"], "Yes.");
    assert!(server.wait_exit(Duration::from_secs(15)).success());
    assert_eq!(balance(&db, user).await, 4);
    assert_eq!(pending_charges(&db).await, 0);
    assert_audit_clean(&db).await;
}

#[tokio::test]
async fn terminated_database_connections_during_a_burst_keep_charges_equal_to_answers() {
    let db = TestDatabase::with_max_connections(30).await;
    let upstream = upstream_answering_after(Duration::from_millis(30)).await;
    let server = Server::start(&db, &upstream.uri()).await;
    let (token, user) = server.sign_in("burst@example.com").await;
    grant(&db, user, 1000).await;

    let client = reqwest::Client::new();
    let chats = futures::future::join_all((0..120).map(|i| {
        let (client, base, token) = (client.clone(), server.base.clone(), token.clone());
        async move {
            tokio::time::sleep(Duration::from_millis(i * 5)).await;
            chat(&client, &base, &token, None).await
        }
    }));
    let killer = {
        let url = db.url().to_owned();
        let name = url.rsplit('/').next().unwrap().to_owned();
        tokio::spawn(async move {
            let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(conn);
            let mut terminated = 0i64;
            for _ in 0..8 {
                tokio::time::sleep(Duration::from_millis(70)).await;
                let n: i64 = client
                    .query_one(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                         WHERE datname = $1 AND pid <> pg_backend_pid()",
                        &[&name],
                    )
                    .await
                    .unwrap()
                    .get(0);
                terminated += n;
            }
            terminated
        })
    };
    let outcomes = chats.await;
    let terminated = killer.await.unwrap();
    assert!(terminated > 0, "no connection was terminated");
    let answered = outcomes
        .iter()
        .filter(|o| matches!(o, Ok((StatusCode::OK, _))))
        .count();
    assert!(answered > 0, "nothing was answered: {outcomes:?}");

    // Whatever was left pending is recovered within the window.
    let started = Instant::now();
    while pending_charges(&db).await > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "charges stayed pending past the window"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let charged = 1000 - balance(&db, user).await;
    assert_eq!(
        charged,
        i64::try_from(answered).unwrap(),
        "tokens charged must equal answers given ({terminated} connections terminated)"
    );
    assert_audit_clean(&db).await;
}

#[tokio::test]
async fn two_instances_sharing_a_database_answer_exactly_the_balance() {
    let db = TestDatabase::with_max_connections(30).await;
    let upstream = upstream_answering_after(Duration::from_millis(20)).await;
    let a = Server::start(&db, &upstream.uri()).await;
    let b = Server::start(&db, &upstream.uri()).await;
    let (token, user) = a.sign_in("shared@example.com").await;
    grant(&db, user, 40).await;

    let client = reqwest::Client::new();
    let bases = Arc::new([a.base.clone(), b.base.clone()]);
    let outcomes = futures::future::join_all((0..200).map(|i| {
        let (client, bases, token) = (client.clone(), Arc::clone(&bases), token.clone());
        async move { chat(&client, &bases[i % 2], &token, None).await.unwrap() }
    }))
    .await;
    let answered = outcomes
        .iter()
        .filter(|(s, _)| *s == StatusCode::OK)
        .count();
    let refused = outcomes
        .iter()
        .filter(|(s, b)| *s == StatusCode::PAYMENT_REQUIRED && b["code"] == "insufficient_tokens")
        .count();
    assert_eq!((answered, refused), (40, 160));
    assert_eq!(balance(&db, user).await, 0);
    assert_eq!(pending_charges(&db).await, 0);
    assert_audit_clean(&db).await;
}
