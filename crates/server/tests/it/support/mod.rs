//! What the server's tests share: askgate on a random port against a fresh
//! real database ([`TestApp`]), its answers ([`Reply`]), dev login, grants,
//! and a look at the ledger behind the API.

// Each area uses a different part of this module.
#![allow(dead_code)]

use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

use askgate_domain::ledger::IdempotencyKey;
use askgate_domain::{Email, Tokens, UserId};
use askgate_postgres::testing::TestDatabase;
use askgate_server::settings::Settings;
use askgate_server::{Application, startup, telemetry};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use uuid::Uuid;

/// The `JWT_SECRET` of every instance started here.
pub const JWT_SECRET: &str = "server-test-secret-server-test-secret";

/// The settings of a test instance on `db`: development, a random port, dev
/// login on. `overrides` win over these defaults.
pub fn settings(db: &TestDatabase, overrides: &[(&str, &str)]) -> Settings {
    let mut pairs: Vec<(&str, &str)> = overrides.to_vec();
    pairs.extend([
        ("APP_ENV", "development"),
        ("DATABASE_URL", db.url()),
        ("BIND_ADDR", "127.0.0.1:0"),
        ("JWT_SECRET", JWT_SECRET),
        ("AUTH_DEV_LOGIN", "true"),
    ]);
    Settings::from_pairs(&pairs).unwrap()
}

// --- turns at the metrics recorder ------------------------------------------

/// The metrics recorder is global to the process, so every instance of this
/// test binary adds to the same counters. Instances serve under a shared
/// turn; a test that asserts what its own requests added takes the exclusive
/// turn, so that no other instance serves between its two readings. Shared
/// turns never wait for an exclusive one that is only asked for: a test that
/// starts a second instance while a counting test waits would otherwise wait
/// for itself.
struct Turns {
    /// Instances serving under a shared turn, or -1 while a test counts.
    holders: Mutex<isize>,
    released: Notify,
}

fn turns() -> &'static Turns {
    static TURNS: OnceLock<Turns> = OnceLock::new();
    TURNS.get_or_init(|| Turns {
        holders: Mutex::new(0),
        released: Notify::new(),
    })
}

/// Waits until `take` accepts the number of holders, which it updates.
async fn take_turn(take: impl Fn(&mut isize) -> bool) {
    let turns = turns();
    loop {
        let released = turns.released.notified();
        if take(&mut turns.holders.lock().unwrap_or_else(PoisonError::into_inner)) {
            return;
        }
        released.await;
    }
}

fn give_back(give: impl FnOnce(&mut isize)) {
    let turns = turns();
    give(&mut turns.holders.lock().unwrap_or_else(PoisonError::into_inner));
    turns.released.notify_waiters();
}

/// Held while instances of one test serve alongside other tests'.
pub struct SharedTurn(());

impl SharedTurn {
    /// The turn the instances of this test thread already hold, or a new one.
    async fn get() -> Arc<Self> {
        thread_local! {
            static HELD: std::cell::RefCell<Weak<SharedTurn>> = const { std::cell::RefCell::new(Weak::new()) };
        }
        if let Some(held) = HELD.with(|held| held.borrow().upgrade()) {
            return held;
        }
        take_turn(|holders| {
            let free = *holders >= 0;
            if free {
                *holders += 1;
            }
            free
        })
        .await;
        let turn = Arc::new(Self(()));
        HELD.with(|held| *held.borrow_mut() = Arc::downgrade(&turn));
        turn
    }
}

impl Drop for SharedTurn {
    fn drop(&mut self) {
        give_back(|holders| *holders -= 1);
    }
}

/// Held by a test that counts: no other test's instance serves meanwhile.
pub struct ExclusiveTurn(());

impl ExclusiveTurn {
    async fn take() -> Self {
        take_turn(|holders| {
            let free = *holders == 0;
            if free {
                *holders = -1;
            }
            free
        })
        .await;
        Self(())
    }
}

impl Drop for ExclusiveTurn {
    fn drop(&mut self) {
        give_back(|holders| *holders = 0);
    }
}

enum Turn {
    Shared(Arc<SharedTurn>),
    Exclusive(ExclusiveTurn),
}

// --- serving ----------------------------------------------------------------

/// An instance serving in the background.
pub struct Served {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The port of the separate `/metrics` listener (`METRICS_ADDR`), if any.
    pub metrics_port: Option<u16>,
    pub server: JoinHandle<std::io::Result<()>>,
    _turn: Turn,
}

/// Builds askgate from `settings` and serves it in the background, alongside
/// the instances of other tests.
pub async fn serve(settings: Settings) -> Served {
    let turn = Turn::Shared(SharedTurn::get().await);
    serve_under(settings, turn).await
}

async fn serve_under(settings: Settings, turn: Turn) -> Served {
    init_test_logs();
    let app = Application::build(settings).await.unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let metrics_port = app.metrics_port();
    Served {
        base,
        metrics_port,
        server: tokio::spawn(app.run_until_stopped()),
        _turn: turn,
    }
}

/// One HTTP answer: status, headers, JSON body (`null` when there is none).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    /// Status and body, for tests that look at nothing else.
    pub fn into_parts(self) -> (StatusCode, Value) {
        (self.status, self.body)
    }
}

/// A reply equals a (status, body) pair whatever its headers.
impl PartialEq<(StatusCode, Value)> for Reply {
    fn eq(&self, (status, body): &(StatusCode, Value)) -> bool {
        self.status == *status && self.body == *body
    }
}

/// Panics unless `reply` is a problem+json answer with `status` and `code`.
pub fn assert_problem(reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(
        reply.headers.get("content-type").unwrap(),
        "application/problem+json"
    );
    assert_eq!(reply.body["code"], code, "{}", reply.body);
}

/// A ledger row as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerRow {
    pub id: String,
    pub kind: String,
    pub amount: i32,
    pub refunds: Option<String>,
}

/// askgate serving on its own database, with `peer` (the outside system a
/// test plays: an identity provider, Stripe's API…) beside it.
pub struct TestApp<P = ()> {
    pub base: String,
    pub metrics_port: Option<u16>,
    pub settings: Settings,
    pub db: TestDatabase,
    pub client: reqwest::Client,
    pub peer: P,
    _served: Served,
}

impl TestApp {
    /// askgate on a fresh database; `overrides` win over the defaults of
    /// [`settings`].
    pub async fn spawn(overrides: &[(&str, &str)]) -> Self {
        Self::spawn_on(TestDatabase::new().await, overrides).await
    }

    /// askgate on `db`; `overrides` win over the defaults of [`settings`].
    pub async fn spawn_on(db: TestDatabase, overrides: &[(&str, &str)]) -> Self {
        let settings = settings(&db, overrides);
        Self::start(db, settings).await
    }

    /// askgate on `db` with exactly `settings`.
    pub async fn start(db: TestDatabase, settings: Settings) -> Self {
        let served = serve(settings.clone()).await;
        Self::new(db, settings, served)
    }

    /// Like [`TestApp::spawn`], for a test that asserts what its requests add
    /// to the metrics: no other test's instance serves while this one lives.
    pub async fn counting(overrides: &[(&str, &str)]) -> Self {
        Self::counting_on(TestDatabase::new().await, overrides).await
    }

    /// Like [`TestApp::counting`], on `db`.
    pub async fn counting_on(db: TestDatabase, overrides: &[(&str, &str)]) -> Self {
        let turn = Turn::Exclusive(ExclusiveTurn::take().await);
        let settings = settings(&db, overrides);
        let served = serve_under(settings.clone(), turn).await;
        Self::new(db, settings, served)
    }

    fn new(db: TestDatabase, settings: Settings, served: Served) -> Self {
        Self {
            base: served.base.clone(),
            metrics_port: served.metrics_port,
            settings,
            db,
            client: reqwest::Client::new(),
            peer: (),
            _served: served,
        }
    }

    /// This instance with `peer` beside it.
    pub fn with_peer<Q>(self, peer: Q) -> TestApp<Q> {
        TestApp {
            base: self.base,
            metrics_port: self.metrics_port,
            settings: self.settings,
            db: self.db,
            client: self.client,
            peer,
            _served: self._served,
        }
    }
}

impl<P> TestApp<P> {
    /// The URL of `path` on this instance.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request for `path` on this instance, with the bearer `token` when given.
    pub fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let request = self.client.request(method, self.url(path));
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let res = request.send().await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let body = res.json().await.unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(self.request(Method::GET, path, token)).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        self.send(self.request(Method::POST, path, token).json(body))
            .await
    }

    /// `POST` with an `Idempotency-Key` when given.
    pub async fn post_with_key(
        &self,
        path: &str,
        token: Option<&str>,
        body: &Value,
        key: Option<&str>,
    ) -> Reply {
        let mut request = self.request(Method::POST, path, token).json(body);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        self.send(request).await
    }

    pub async fn put(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        self.send(self.request(Method::PUT, path, token).json(body))
            .await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(self.request(Method::DELETE, path, token)).await
    }

    /// `POST /api/{service}/chat`, with an `Idempotency-Key` when given.
    pub async fn chat(&self, service: &str, token: &str, body: &Value, key: Option<&str>) -> Reply {
        self.post_with_key(&format!("/api/{service}/chat"), Some(token), body, key)
            .await
    }

    /// `POST /api/auth/dev-login`, whatever it answers.
    pub async fn dev_login(&self, email: &str) -> Reply {
        self.post("/api/auth/dev-login", None, &json!({ "email": email }))
            .await
    }

    /// Signs in with dev login, which must succeed: the session token and the user.
    pub async fn sign_in(&self, email: &str) -> (String, Value) {
        let reply = self.dev_login(email).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        (
            reply.body["session_token"].as_str().unwrap().to_owned(),
            reply.body["user"].clone(),
        )
    }

    /// Signs in as an admin with dev login, which must succeed: the session
    /// token and the user.
    pub async fn sign_in_admin(&self, email: &str) -> (String, Value) {
        let reply = self
            .post(
                "/api/auth/dev-login",
                None,
                &json!({ "email": email, "admin": true }),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        (
            reply.body["session_token"].as_str().unwrap().to_owned(),
            reply.body["user"].clone(),
        )
    }

    /// Signs in with dev login: the session token and the user's id.
    pub async fn sign_in_id(&self, email: &str) -> (String, UserId) {
        let (token, user) = self.sign_in(email).await;
        (token, serde_json::from_value(user["id"].clone()).unwrap())
    }

    /// Grants `tokens` to the user of `email` through the account use case,
    /// under the idempotency key `key`.
    pub async fn grant(&self, email: &str, tokens: i64, key: &str) {
        startup::account_service(&self.settings, &self.db.database())
            .grant(
                &Email::parse(email).unwrap(),
                Tokens::new(tokens).unwrap(),
                IdempotencyKey::parse(key).unwrap(),
                "test",
            )
            .await
            .unwrap();
    }

    /// Signs in and grants `tokens` through the account use case: the session
    /// token and the user id.
    pub async fn user_with(&self, email: &str, tokens: i64) -> (String, String) {
        let (token, user) = self.sign_in(email).await;
        if tokens > 0 {
            self.grant(email, tokens, &format!("grant-{}", Uuid::new_v4()))
                .await;
        }
        (token, user["id"].as_str().unwrap().to_owned())
    }

    /// The balance `GET /api/user/tokens` shows.
    pub async fn balance(&self, token: &str) -> i64 {
        let reply = self.get("/api/user/tokens", Some(token)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body["tokens"].as_i64().unwrap()
    }

    /// The history `GET /api/user/transactions` shows, newest first.
    pub async fn history(&self, token: &str) -> Vec<Value> {
        let reply = self.get("/api/user/transactions", Some(token)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body["items"].as_array().unwrap().clone()
    }

    /// A plain SQL client on this instance's database.
    pub async fn sql(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(self.db.url(), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
    }

    /// The user's ledger rows as stored, oldest first.
    pub async fn ledger(&self, user_id: &str) -> Vec<LedgerRow> {
        self.sql()
            .await
            .query(
                "SELECT id::text, transaction_type, amount, refunds_transaction_id::text \
                 FROM transactions WHERE user_id = $1::text::uuid ORDER BY created_at, id",
                &[&user_id],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| LedgerRow {
                id: r.get(0),
                kind: r.get(1),
                amount: r.get(2),
                refunds: r.get(3),
            })
            .collect()
    }
}

/// Logs of the application under test on stdout when `TEST_LOG` is set.
pub fn init_test_logs() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            let settings = Settings::from_pairs(&[("RUST_LOG", "debug")]).unwrap();
            let _ = telemetry::init(&settings.telemetry);
        }
    });
}
