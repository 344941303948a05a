//! What the server's test binaries share: askgate on a random port against a
//! fresh real database, dev login, grants, and JSON requests.

// Every test binary compiles this module and uses a different part of it.
#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::OnceLock;

use askgate_domain::ledger::IdempotencyKey;
use askgate_domain::{Email, Tokens};
use askgate_postgres::testing::TestDatabase;
use askgate_server::settings::Settings;
use askgate_server::{Application, startup, telemetry};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

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

/// An instance serving in the background.
pub struct Served {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The port of the separate `/metrics` listener (`METRICS_ADDR`), if any.
    pub metrics_port: Option<u16>,
    pub server: JoinHandle<std::io::Result<()>>,
}

/// Builds askgate from `settings` and serves it in the background.
pub async fn serve(settings: Settings) -> Served {
    init_test_logs();
    let app = Application::build(settings).await.unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let metrics_port = app.metrics_port();
    Served {
        base,
        metrics_port,
        server: tokio::spawn(app.run_until_stopped()),
    }
}

/// askgate serving on its own database.
pub struct Running {
    pub base: String,
    pub metrics_port: Option<u16>,
    pub settings: Settings,
    pub db: TestDatabase,
    pub client: reqwest::Client,
}

/// One HTTP answer: status, headers, JSON body (`null` when there is none).
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Running {
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
        Self {
            base: served.base,
            metrics_port: served.metrics_port,
            settings,
            db,
            client: reqwest::Client::new(),
        }
    }

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

    /// `POST /api/auth/dev-login`, whatever it answers.
    pub async fn dev_login(&self, email: &str) -> Reply {
        self.send(
            self.client
                .post(self.url("/api/auth/dev-login"))
                .json(&json!({ "email": email })),
        )
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
