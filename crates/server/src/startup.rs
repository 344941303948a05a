//! Wiring: adapters → ports → use cases → HTTP state, and the listening server.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{HttpServer, web};
use askgate_azure_ad::{AzureAd, AzureAdConfig};
use askgate_domain::ports::{
    AdminStore, ApiKeyStore, AppLedger, AppStore, Charges, Clock, ConversationRepository,
    DomainRepository, HealthCheck,
};
use askgate_domain::ports::{DeviceCodes, DeviceSignIn, WebhookVerifier};
use askgate_domain::ports::{Ledger, PaymentGateway, PurchaseRepository, RateLimiter, Reports};
use askgate_domain::ports::{ServiceTokenProvider, SessionStore, SystemClock, UserRepository};
use askgate_domain::services::account::AdminPolicy;
use askgate_domain::services::{
    AccountService, AdminService, ApiKeyService, AppCreditService, AppService, BillingService,
    DomainService, ReturnUrls,
};
use askgate_domain::services::{ChargeRecovery, ChatPorts, ChatService, ConversationService};
use askgate_domain::services::{DeviceSignInService, ReportService, SessionPolicy, SessionService};
use askgate_http::auth::{
    BearerTokens, DEV_DEVICE_CODE_TTL, DEV_DEVICE_POLL_INTERVAL, DevDeviceCodes, MicrosoftSignIn,
    RandomSecrets, TokenVerifier,
};
use askgate_http::dto::ChatReplyFormat;
use askgate_http::{AppState, HttpOptions, Services, SessionKeys};
use askgate_postgres::{
    Database, PgAdmin, PgDeviceCodes, PgDomains, PgError, PgHealth, PgLedger, PgPurchases, PgUsers,
};
use askgate_postgres::{
    PgApiKeys, PgAppLedger, PgApps, PgCharges, PgConversations, PgReports, PgSessions,
};
use askgate_ratelimit::{InProcessLimiter, RedisLimiter, RedisLimiterError};
use askgate_stripe::{
    DEFAULT_TOLERANCE, PriceIds, StripeConfig, StripeGateway, StripeSetupError, StripeWebhooks,
    split_webhook_secrets,
};
use askgate_upstream::{UpstreamBuildError, Upstreams};
use secrecy::ExposeSecret;

use crate::domain_cache::{self, CachedDomains};
use crate::metrics::{MeteredCharges, MeteredLedger, MeteredUpstream, Metrics};
use crate::settings::{AppEnv, SESSION_AUDIENCE, Settings};

/// Why askgate could not start. Each message is one line naming what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("{0} (check DATABASE_URL)")]
    Database(#[source] PgError),
    #[error("{0} (check ASKATT_API_ENDPOINT, OPENAI_MODEL and UPSTREAM_TIMEOUT_MS)")]
    Upstream(#[source] UpstreamBuildError),
    #[error("{0} (check REDIS_URL)")]
    RateLimiter(#[source] RedisLimiterError),
    /// Discovery of the identity provider failed; the message carries the cause.
    #[error("Microsoft sign-in could not start: {0} (check AZURE_AD_AUTHORITY)")]
    AzureAd(String),
    #[error("{0}")]
    Stripe(#[source] StripeSetupError),
    #[error("cannot listen on {addr} (check BIND_ADDR): {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot listen on {addr} (check METRICS_ADDR): {source}")]
    MetricsBind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}

/// A built, bound, not yet running askgate.
pub struct Application {
    port: u16,
    server: Server,
    /// Refunds charges left pending by a process that stopped.
    recovery: Arc<ChargeRecovery>,
    /// `/metrics` on `METRICS_ADDR`, when set: its port and server.
    metrics: Option<(u16, Server)>,
}

impl Application {
    /// Connects the database, applies migrations, wires the services and binds
    /// the listener (`BIND_ADDR`; port 0 picks a free one).
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let db = connect_and_migrate(&settings).await?;
        let azure = azure_ad(&settings).await?;
        let limiter = rate_limiter_parts(&settings).await?;
        let metrics = web::Data::new(Metrics::new(db.clone(), limiter.redis.clone()));
        let postgres = PgAdapters::new(&db);
        let recovery = Arc::new(ChargeRecovery::new(
            Arc::clone(&postgres.charges),
            settings.upstream.charge_recovery_after,
        ));
        // Charges a previous run left pending (it was killed) are refunded
        // before this one serves.
        sweep(&recovery).await;
        let state = app_state(&settings, &postgres, azure, limiter.limiter)?;

        let addr = settings.http.bind_addr;
        let bind_failed = |source| StartupError::Bind {
            addr: addr.to_string(),
            source,
        };
        let listener = TcpListener::bind(addr).map_err(bind_failed)?;
        let port = listener.local_addr().map_err(bind_failed)?.port();
        // actix stops gracefully on SIGTERM and SIGINT: it stops accepting, lets
        // in-flight requests finish for up to `shutdown_timeout`, then exits.
        // That is long enough for a chat whose upstream call just started, so
        // a clean stop leaves no charge pending.
        let shutdown_timeout = settings
            .http
            .shutdown_timeout
            .max(settings.upstream.drain_time())
            .as_secs();
        // `/metrics` on the main listener only behind METRICS_TOKEN: its
        // counters (revenue, domain names) are not for the public.
        let metrics_here = settings.http.metrics_token.clone().map(|token| {
            (
                metrics.clone(),
                web::Data::new(crate::metrics::MetricsToken(token)),
            )
        });
        let server = HttpServer::new(move || {
            let app = askgate_http::app(state.clone());
            match &metrics_here {
                Some((metrics, token)) => app
                    .app_data(metrics.clone())
                    .app_data(token.clone())
                    .configure(crate::metrics::configure),
                None => app.configure(|_| {}),
            }
        })
        .listen(listener)
        .map_err(bind_failed)?
        .shutdown_timeout(shutdown_timeout)
        .run();
        tracing::info!(
            address = %addr.ip(),
            port,
            env = %settings.app_env,
            dev_login = settings.auth.dev_login,
            "askgate is listening"
        );
        let metrics = match settings.http.metrics_addr {
            Some(addr) => Some(metrics_server(addr, metrics)?),
            None => None,
        };
        Ok(Self {
            port,
            server,
            recovery,
            metrics,
        })
    }

    /// The port of the separate `/metrics` listener (`METRICS_ADDR`), if any.
    #[must_use]
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(port, _)| *port)
    }

    /// The port actually bound.
    #[must_use]
    pub const fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM/SIGINT (or the server is stopped).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let sweeper = tokio::spawn(sweep_forever(self.recovery));
        let result = match self.metrics {
            None => self.server.await,
            Some((_, metrics)) => serve_with_metrics(self.server, metrics).await,
        };
        sweeper.abort();
        result
    }
}

/// How often an instance looks for charges to recover: a few times per
/// recovery window, at most every 30 s.
fn sweep_interval(window: Duration) -> Duration {
    (window / 4).clamp(Duration::from_secs(1), Duration::from_secs(30))
}

async fn sweep(recovery: &ChargeRecovery) {
    if let Err(error) = recovery.sweep().await {
        tracing::warn!(%error, "could not look for charges to recover; trying again later");
    }
}

async fn sweep_forever(recovery: Arc<ChargeRecovery>) {
    let mut ticks = tokio::time::interval(sweep_interval(recovery.after()));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        sweep(&recovery).await;
    }
}

/// Serves until the main server stops, then stops the `/metrics` listener too.
async fn serve_with_metrics(server: Server, metrics: Server) -> std::io::Result<()> {
    let metrics_handle = metrics.handle();
    let main = async {
        let result = server.await;
        metrics_handle.stop(true).await;
        result
    };
    let (result, _) = tokio::join!(main, metrics);
    result
}

/// A listener on `addr` serving only `GET /metrics`.
fn metrics_server(
    addr: std::net::SocketAddr,
    metrics: web::Data<Metrics>,
) -> Result<(u16, Server), StartupError> {
    let bind_failed = |source| StartupError::MetricsBind {
        addr: addr.to_string(),
        source,
    };
    let listener = TcpListener::bind(addr).map_err(bind_failed)?;
    let port = listener.local_addr().map_err(bind_failed)?.port();
    let server = HttpServer::new(move || {
        actix_web::App::new()
            .app_data(metrics.clone())
            .configure(crate::metrics::configure)
    })
    .workers(1)
    .listen(listener)
    .map_err(bind_failed)?
    .disable_signals()
    .run();
    tracing::info!(address = %addr.ip(), port, "metrics are served here");
    Ok((port, server))
}

/// Connects to the database and applies pending migrations (under the
/// adapter's advisory lock, so replicas starting together do not race).
pub async fn connect_and_migrate(settings: &Settings) -> Result<Database, StartupError> {
    let db = connect(settings).await?;
    db.migrate().await.map_err(StartupError::Database)?;
    Ok(db)
}

/// Connects to the database. In development, `cargo run` on a fresh PostgreSQL
/// should just work, so the database `DATABASE_URL` names is created when missing.
pub async fn connect(settings: &Settings) -> Result<Database, StartupError> {
    if settings.app_env == AppEnv::Development {
        askgate_postgres::create_database_if_missing(&settings.database.pg_config())
            .await
            .map_err(StartupError::Database)?;
    }
    Database::connect(&settings.database.pg_config())
        .await
        .map_err(StartupError::Database)
}

/// The PostgreSQL adapters, each built once and shared by every use case
/// that needs it; the ledger and the charges metered, the domains cached.
struct PgAdapters {
    users: Arc<dyn UserRepository>,
    ledger: Arc<dyn Ledger>,
    charges: Arc<dyn Charges>,
    conversations: Arc<dyn ConversationRepository>,
    domains: Arc<dyn DomainRepository>,
    purchases: Arc<dyn PurchaseRepository>,
    sessions: Arc<dyn SessionStore>,
    health: Arc<dyn HealthCheck>,
    admin: Arc<dyn AdminStore>,
    api_keys: Arc<dyn ApiKeyStore>,
    apps: Arc<dyn AppStore>,
    app_ledger: Arc<dyn AppLedger>,
    reports: Arc<dyn Reports>,
    device_codes: Arc<dyn DeviceCodes>,
}

impl PgAdapters {
    fn new(db: &Database) -> Self {
        Self {
            users: Arc::new(PgUsers::new(db.clone())),
            ledger: Arc::new(MeteredLedger::new(Arc::new(PgLedger::new(db.clone())))),
            charges: Arc::new(MeteredCharges::new(Arc::new(PgCharges::new(db.clone())))),
            conversations: Arc::new(PgConversations::new(db.clone())),
            domains: Arc::new(CachedDomains::new(
                Arc::new(PgDomains::new(db.clone())),
                domain_cache::DEFAULT_TTL,
            )),
            purchases: Arc::new(PgPurchases::new(db.clone())),
            sessions: Arc::new(PgSessions::new(db.clone())),
            health: Arc::new(PgHealth::new(db.clone())),
            admin: Arc::new(PgAdmin::new(db.clone())),
            api_keys: Arc::new(PgApiKeys::new(db.clone())),
            apps: Arc::new(PgApps::new(db.clone())),
            app_ledger: Arc::new(PgAppLedger::new(db.clone())),
            reports: Arc::new(PgReports::new(db.clone())),
            device_codes: Arc::new(PgDeviceCodes::new(db.clone())),
        }
    }
}

/// The account use case on the Postgres adapters (also used by CLI commands).
#[must_use]
pub fn account_service(settings: &Settings, db: &Database) -> AccountService {
    accounts(settings, &PgAdapters::new(db), Arc::new(SystemClock))
}

fn admin_policy(settings: &Settings) -> AdminPolicy {
    AdminPolicy {
        role_name: settings.azure_ad.admin_role.clone(),
        emails: settings.auth.admin_emails.clone(),
        object_ids: settings.auth.admin_object_ids.clone(),
    }
}

fn accounts(settings: &Settings, postgres: &PgAdapters, clock: Arc<dyn Clock>) -> AccountService {
    AccountService::new(
        Arc::clone(&postgres.users),
        Arc::clone(&postgres.ledger),
        clock,
        admin_policy(settings),
    )
    .with_trial(settings.auth.trial_tokens)
}

/// Client-credentials tokens for the upstreams (`AZURE_AD_SCOPE`,
/// `AZURE_AD_DOMAIN_QNA_SCOPE`) from the tenant's token endpoint, when Azure AD
/// is configured with a client secret. `None`: AskAT&T and AskDocs are called
/// without an `Authorization` header. Build it once: the token cache lives in it.
#[must_use]
pub fn service_token_provider(azure: Option<&AzureAd>) -> Option<Arc<dyn ServiceTokenProvider>> {
    let credentials = azure?.client_credentials()?;
    Some(Arc::new(credentials))
}

/// Microsoft Entra ID, discovered once at start-up (metadata and signing keys);
/// `None` when `AZURE_AD_TENANT_ID`/`AZURE_AD_CLIENT_ID` are not set. Share the
/// result: it holds the signing-key cache.
pub async fn azure_ad(settings: &Settings) -> Result<Option<Arc<AzureAd>>, StartupError> {
    let Some(app) = &settings.azure_ad.app else {
        return Ok(None);
    };
    let config = AzureAdConfig {
        authority: app.authority.clone(),
        tenant_id: app.tenant_id.clone(),
        client_id: app.client_id.clone(),
        client_secret: app.client_secret.clone(),
        accepted_audiences: app.audiences.clone(),
        admin_role: settings.azure_ad.admin_role.clone(),
        leeway: AZURE_AD_LEEWAY,
    };
    let azure = AzureAd::discover(config)
        .await
        .map_err(|e| StartupError::AzureAd(error_chain(&e)))?;
    Ok(Some(Arc::new(azure)))
}

/// Clock skew tolerated on Azure AD tokens.
const AZURE_AD_LEEWAY: std::time::Duration = std::time::Duration::from_secs(60);

/// `error: cause: root cause`, on one line.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The bearer-token verifier and Microsoft sign-in, wired together.
struct Identity {
    verifier: Arc<dyn TokenVerifier>,
    sign_in: Option<MicrosoftSignIn>,
    /// Device-code sign-in through the provider, when it offers it.
    device: Option<Arc<dyn DeviceSignIn>>,
}

/// Session tokens with revocation and, when Azure AD is configured, its
/// access tokens and sign-in.
fn identity(
    settings: &Settings,
    keys: &SessionKeys,
    sessions: &Arc<SessionService>,
    accounts: &Arc<AccountService>,
    api_keys: &Arc<ApiKeyService>,
    azure: Option<Arc<AzureAd>>,
) -> Identity {
    let mut verifier =
        BearerTokens::new(keys.clone(), Arc::clone(sessions)).with_api_keys(Arc::clone(api_keys));
    let mut sign_in = None;
    let mut device = None;
    if let (Some(azure), Some(app)) = (azure, &settings.azure_ad.app) {
        if azure.offers_device_sign_in() {
            device = Some(Arc::clone(&azure) as Arc<dyn DeviceSignIn>);
        }
        verifier = verifier.with_azure_ad(azure.clone(), Arc::clone(accounts));
        sign_in = Some(MicrosoftSignIn::new(
            azure,
            app.redirect_uri.to_string(),
            redirect_origins(settings),
            &settings.auth.jwt_secret,
            settings.secure_cookies(),
        ));
    }
    Identity {
        verifier: Arc::new(verifier),
        sign_in,
        device,
    }
}

/// Device-code sign-in: the identity provider's when it offers it, else with
/// dev login askgate's own codes, approved on the web UI's `/device` page.
fn device_sign_in(
    settings: &Settings,
    provider: Option<Arc<dyn DeviceSignIn>>,
    postgres: &PgAdapters,
    accounts: &Arc<AccountService>,
) -> (
    Option<Arc<DeviceSignInService>>,
    Option<Arc<DevDeviceCodes>>,
) {
    let mut local = None;
    let codes = provider.or_else(|| {
        settings.auth.dev_login.then(|| {
            let mut page = settings.http.public_base_url.clone();
            page.set_path("/device");
            let codes = Arc::new(DevDeviceCodes::new(
                page.to_string(),
                DEV_DEVICE_CODE_TTL,
                DEV_DEVICE_POLL_INTERVAL,
            ));
            local = Some(Arc::clone(&codes));
            codes as Arc<dyn DeviceSignIn>
        })
    });
    let service = codes.map(|codes| {
        Arc::new(DeviceSignInService::new(
            codes,
            Arc::clone(&postgres.device_codes),
            Arc::clone(accounts),
        ))
    });
    (service, local)
}

/// Where a client-sent `redirect_uri` may point: this service's origin and
/// `ALLOWED_ORIGINS`.
fn redirect_origins(settings: &Settings) -> Vec<String> {
    let mut origins = vec![settings.http.public_base_url.origin().ascii_serialization()];
    origins.extend(settings.http.allowed_origins.iter().cloned());
    origins
}

/// The per-user chat limiter (shared through Redis when `REDIS_URL` is set,
/// counted in this process otherwise), and the Redis one again for its failure
/// count (metrics).
struct Limiter {
    limiter: Arc<dyn RateLimiter>,
    redis: Option<Arc<RedisLimiter>>,
}

async fn rate_limiter_parts(settings: &Settings) -> Result<Limiter, StartupError> {
    let limits = &settings.rate_limit;
    Ok(match &limits.redis_url {
        Some(url) => {
            let redis = Arc::new(
                RedisLimiter::connect(
                    url.expose_secret(),
                    limits.limit_tiers(),
                    limits.redis_failure,
                    "askgate",
                )
                .await
                .map_err(StartupError::RateLimiter)?,
            );
            Limiter {
                limiter: redis.clone(),
                redis: Some(redis),
            }
        }
        None => Limiter {
            limiter: Arc::new(InProcessLimiter::new(limits.limit_tiers())),
            redis: None,
        },
    })
}

/// The chat use case on the Postgres adapters, the upstreams and the limiter;
/// the upstreams metered.
fn chat_service(
    settings: &Settings,
    postgres: &PgAdapters,
    service_tokens: Option<Arc<dyn ServiceTokenProvider>>,
    rate_limiter: Arc<dyn RateLimiter>,
) -> Result<ChatService, StartupError> {
    let upstream = Upstreams::new(settings.upstream.upstream_config(), service_tokens)
        .map_err(StartupError::Upstream)?;
    Ok(ChatService::new(
        ChatPorts {
            charges: Arc::clone(&postgres.charges),
            upstream: Arc::new(MeteredUpstream::new(Arc::new(upstream))),
            domains: Arc::clone(&postgres.domains),
            conversations: Arc::clone(&postgres.conversations),
            rate_limiter,
            replies: Arc::new(ChatReplyFormat),
            users: Arc::clone(&postgres.users),
        },
        settings.upstream.duplicate_wait(),
    ))
}

/// The billing use case: Stripe when `STRIPE_SECRET_KEY` is set, otherwise no
/// payment provider (purchases answer "payments are not configured"). Also
/// used by the `reconcile` command.
pub fn billing_service(settings: &Settings, db: &Database) -> Result<BillingService, StartupError> {
    billing(settings, &PgAdapters::new(db))
}

fn billing(settings: &Settings, postgres: &PgAdapters) -> Result<BillingService, StartupError> {
    let stripe = &settings.stripe;
    let gateway = stripe
        .secret_key
        .clone()
        .map(|secret_key| {
            StripeGateway::new(StripeConfig {
                secret_key,
                api_base: stripe.api_base.clone(),
                prices: PriceIds {
                    price_100: stripe.price_100.clone(),
                    price_250: stripe.price_250.clone(),
                    price_600: stripe.price_600.clone(),
                },
            })
            .map(|g| Arc::new(g) as Arc<dyn PaymentGateway>)
            .map_err(StartupError::Stripe)
        })
        .transpose()?;
    Ok(BillingService::new(
        gateway,
        Arc::clone(&postgres.ledger),
        Arc::clone(&postgres.purchases),
        ReturnUrls::under(settings.http.public_base_url.as_str()),
    ))
}

/// Every use case on the shared adapters, and the HTTP layer's options.
fn app_state(
    settings: &Settings,
    postgres: &PgAdapters,
    azure: Option<Arc<AzureAd>>,
    rate_limiter: Arc<dyn RateLimiter>,
) -> Result<AppState, StartupError> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let api_keys = Arc::new(ApiKeyService::new(
        Arc::clone(&postgres.api_keys),
        Arc::new(RandomSecrets),
        Arc::clone(&clock),
    ));
    let service_tokens = service_token_provider(azure.as_deref());
    let chat = chat_service(settings, postgres, service_tokens, rate_limiter)?;
    let keys = SessionKeys::new(
        &settings.auth.jwt_secret,
        settings.auth.session_ttl,
        SESSION_AUDIENCE.to_owned(),
    );
    let accounts = Arc::new(accounts(settings, postgres, Arc::clone(&clock)));
    let sessions = Arc::new(SessionService::new(
        Arc::clone(&postgres.sessions),
        Arc::new(keys.clone()),
        Arc::clone(&accounts),
        clock,
        SessionPolicy {
            refresh_ttl: settings.auth.refresh_ttl,
            max_age: settings.auth.session_max_age,
            revocation_check_ttl: SessionPolicy::DEFAULT_REVOCATION_CHECK_TTL,
        },
    ));
    let identity = identity(settings, &keys, &sessions, &accounts, &api_keys, azure);
    let (device, dev_device) = device_sign_in(settings, identity.device, postgres, &accounts);
    let services = Services {
        device,
        dev_device,
        conversations: Arc::new(ConversationService::new(Arc::clone(
            &postgres.conversations,
        ))),
        domains: Arc::new(DomainService::new(
            Arc::clone(&postgres.domains),
            Arc::new(settings.upstream.allowed_hosts()),
            Arc::clone(&postgres.users),
        )),
        admin: Arc::new(AdminService::new(
            Arc::clone(&postgres.admin),
            Arc::clone(&postgres.ledger),
            admin_policy(settings),
        )),
        api_keys,
        apps: Arc::new(AppService::new(
            Arc::clone(&postgres.apps),
            Arc::new(RandomSecrets),
        )),
        app_credits: Arc::new(AppCreditService::new(Arc::clone(&postgres.app_ledger))),
        reports: Arc::new(ReportService::new(
            Arc::clone(&postgres.reports),
            Arc::new(SystemClock),
        )),
        billing: Arc::new(billing(settings, postgres)?),
        chat: Arc::new(chat),
        health: Arc::clone(&postgres.health),
        accounts,
        sessions,
        bearer: identity.verifier,
        microsoft: identity.sign_in,
        webhooks: settings.stripe.webhook_secret.as_ref().map(|secrets| {
            Arc::new(StripeWebhooks::new(
                split_webhook_secrets(secrets),
                DEFAULT_TOLERANCE,
            )) as Arc<dyn WebhookVerifier>
        }),
    };
    let options = HttpOptions {
        dev_login: settings.auth.dev_login,
        development: settings.app_env == AppEnv::Development,
        https: settings.http.public_base_url.scheme() == "https",
        secure_cookies: settings.secure_cookies(),
        cors_origins: settings.http.allowed_origins.clone(),
        body_read_timeout: settings.http.body_read_timeout,
        stripe_publishable_key: settings.stripe.publishable_key.clone(),
        low_balance_tokens: settings.auth.low_balance_tokens,
    };
    Ok(AppState::new(services, options))
}
