//! Prometheus metrics: the recorder, the `/metrics` endpoint, and decorators
//! that meter the ports the HTTP layer cannot see into.
//!
//! Besides the request metrics of `askgate_http::metrics`:
//! - `askgate_upstream_duration_seconds{service, domain, outcome}`: each AI
//!   upstream call ([`MeteredUpstream`]);
//! - `askgate_upstream_first_event_seconds{service, domain}`: for streamed
//!   answers, the upstream's time to its first event (or its end);
//! - `askgate_tokens_debited_total`, `askgate_tokens_refunded_total`,
//!   `askgate_charges_recovered_total`: tokens chats held and gave back
//!   ([`MeteredCharges`]);
//! - `askgate_tokens_credited_total{kind}`: tokens credited by the ledger
//!   ([`MeteredLedger`]; repeats that changed nothing are not counted);
//! - `askgate_payments_orphaned_total`: paid purchases whose user no longer
//!   exists, each counted once (the operator refunds them at Stripe);
//! - read at scrape time: `askgate_db_pool_connections{state="in_use"|"idle"}`
//!   and `askgate_ratelimit_redis_failures` (Redis limiter calls that failed
//!   since start).

use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Instant;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askgate_domain::ledger::{
    CreditRequest, DisputeWon, LedgerEntry, PaymentOutcome, PurchaseCredit, PurchaseReversal,
    Recorded,
};
use askgate_domain::page::{Page, PageRequest};
use askgate_domain::ports::{
    AiUpstream, BalanceError, Charges, CreditError, HistoryError, Ledger, PurchaseCreditError,
    RecoveredCharge, Reservation, ReserveError, Reserved, RestoreError, ReversalError, Settled,
    Settlement, UpstreamAnswer, UpstreamError, UpstreamEvent, UpstreamRequest, UpstreamStream,
};
use askgate_domain::usage::{DailySpend, LedgerFilter};
use askgate_domain::{ChargeId, StoreError, Tokens, UserId};
use askgate_http::ApiError;
use askgate_postgres::Database;
use askgate_ratelimit::RedisLimiter;
use async_trait::async_trait;
use chrono::NaiveDate;
use futures_core::Stream;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use secrecy::{ExposeSecret, SecretString};

/// Histogram buckets in seconds: sub-millisecond gateway overhead up to slow
/// upstream answers.
const BUCKETS: &[f64] = &[
    0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
    10.0, 30.0, 60.0,
];

/// The Prometheus recorder, installed once per process (the `metrics` facade
/// has one global recorder; every `Application` in the process shares it).
fn prometheus() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new();
            let recorder = match builder.set_buckets(BUCKETS) {
                Ok(builder) => builder.build_recorder(),
                Err(e) => {
                    tracing::warn!(error = %e, "histogram buckets refused; using summaries");
                    PrometheusBuilder::new().build_recorder()
                }
            };
            let handle = recorder.handle();
            if let Err(e) = metrics::set_global_recorder(recorder) {
                tracing::warn!(error = %e, "another metrics recorder is installed");
            }
            handle
        })
        .clone()
}

/// What `/metrics` renders.
#[derive(Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
    db: Database,
    redis: Option<Arc<RedisLimiter>>,
}

impl Metrics {
    /// Installs the recorder (once) and reads the pool and the Redis limiter
    /// (when there is one) at each scrape.
    #[must_use]
    pub fn new(db: Database, redis: Option<Arc<RedisLimiter>>) -> Self {
        Self {
            handle: prometheus(),
            db,
            redis,
        }
    }

    /// The text exposition format.
    #[must_use]
    pub fn render(&self) -> String {
        let (in_use, idle) = self.db.pool_status();
        metrics::gauge!("askgate_db_pool_connections", "state" => "in_use").set(as_f64(in_use));
        metrics::gauge!("askgate_db_pool_connections", "state" => "idle").set(as_f64(idle));
        if let Some(redis) = &self.redis {
            metrics::gauge!("askgate_ratelimit_redis_failures").set(as_f64(
                usize::try_from(redis.redis_failures()).unwrap_or(usize::MAX),
            ));
        }
        self.handle.run_upkeep();
        self.handle.render()
    }
}

#[expect(
    clippy::cast_precision_loss,
    reason = "gauge values; counts far below 2^52"
)]
const fn as_f64(n: usize) -> f64 {
    n as f64
}

/// Registers `GET /metrics` (the caller registers `web::Data<Metrics>`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/metrics", web::get().to(serve));
}

/// The bearer token `/metrics` wants on the main listener (`METRICS_TOKEN`).
/// Registered as app data there; the private `METRICS_ADDR` listener has none.
pub struct MetricsToken(pub SecretString);

async fn serve(
    req: HttpRequest,
    metrics: web::Data<Metrics>,
    token: Option<web::Data<MetricsToken>>,
) -> Result<HttpResponse, ApiError> {
    if let Some(token) = token {
        let presented = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        match presented {
            None => return Err(ApiError::unauthenticated()),
            Some(p) if !same_secret(p.as_bytes(), token.0.expose_secret().as_bytes()) => {
                return Err(ApiError::invalid_token());
            }
            Some(_) => {}
        }
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics.render()))
}

/// Equal, in time that does not depend on where the first difference is.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Times every upstream call and adds the wait to the request's upstream
/// time (for the gateway-overhead histogram).
pub struct MeteredUpstream {
    inner: Arc<dyn AiUpstream>,
}

impl MeteredUpstream {
    #[must_use]
    pub fn new(inner: Arc<dyn AiUpstream>) -> Self {
        Self { inner }
    }
}

#[async_trait]
impl AiUpstream for MeteredUpstream {
    async fn ask(&self, request: &UpstreamRequest) -> Result<UpstreamAnswer, UpstreamError> {
        let started = Instant::now();
        let result = self.inner.ask(request).await;
        let waited = started.elapsed();
        askgate_http::metrics::record_upstream_wait(waited);
        let outcome = match &result {
            Ok(_) => "ok",
            Err(UpstreamError::Timeout) => "timeout",
            Err(UpstreamError::Failed(_)) => "failed",
            Err(UpstreamError::Credentials(_)) => "credentials",
        };
        let domain = domain_label(request);
        metrics::histogram!(
            "askgate_upstream_duration_seconds",
            "service" => request.service.as_str(),
            "domain" => domain,
            "outcome" => outcome,
        )
        .record(waited.as_secs_f64());
        result
    }

    /// Forwarded as a stream, so that wrapping an upstream never turns its
    /// streamed answers into whole ones; the wait counted as the upstream's is
    /// the time to its first event.
    async fn stream(&self, request: &UpstreamRequest) -> Result<UpstreamStream, UpstreamError> {
        let started = Instant::now();
        match self.inner.stream(request).await {
            Ok(stream) => Ok(UpstreamStream::new(FirstEvent {
                inner: stream,
                started: Some(started),
                service: request.service.as_str(),
                domain: domain_label(request),
            })),
            Err(error) => {
                askgate_http::metrics::record_upstream_wait(started.elapsed());
                Err(error)
            }
        }
    }
}

fn domain_label(request: &UpstreamRequest) -> String {
    request
        .domain
        .as_ref()
        .map_or_else(String::new, |d| d.name.as_str().to_owned())
}

/// A streamed answer that records the upstream's time to its first event.
struct FirstEvent {
    inner: UpstreamStream,
    /// Until the first event.
    started: Option<Instant>,
    service: &'static str,
    domain: String,
}

impl Stream for FirstEvent {
    type Item = Result<UpstreamEvent, UpstreamError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = Pin::new(&mut self.inner).poll_next(cx);
        if polled.is_ready()
            && let Some(started) = self.started.take()
        {
            let waited = started.elapsed();
            askgate_http::metrics::record_upstream_wait(waited);
            metrics::histogram!(
                "askgate_upstream_first_event_seconds",
                "service" => self.service,
                "domain" => std::mem::take(&mut self.domain),
            )
            .record(waited.as_secs_f64());
        }
        polled
    }
}

/// Counts the tokens the ledger actually credited, and orphaned payments.
pub struct MeteredLedger {
    inner: Arc<dyn Ledger>,
}

impl MeteredLedger {
    #[must_use]
    pub fn new(inner: Arc<dyn Ledger>) -> Self {
        Self { inner }
    }
}

fn count_credit(kind: &'static str, entry: &LedgerEntry) {
    metrics::counter!("askgate_tokens_credited_total", "kind" => kind)
        .increment(u64::try_from(entry.amount).unwrap_or(0));
}

#[async_trait]
impl Ledger for MeteredLedger {
    async fn credit(&self, request: &CreditRequest) -> Result<Recorded, CreditError> {
        let recorded = self.inner.credit(request).await?;
        if let Recorded::Applied(entry) = &recorded {
            count_credit(entry.kind.as_str(), entry);
        }
        Ok(recorded)
    }

    async fn credit_purchase(
        &self,
        credit: &PurchaseCredit,
    ) -> Result<PaymentOutcome, PurchaseCreditError> {
        let outcome = self.inner.credit_purchase(credit).await?;
        match &outcome {
            PaymentOutcome::Applied(entry)
            | PaymentOutcome::AppliedThenReversed { credit: entry, .. } => {
                count_credit("purchase", entry);
            }
            PaymentOutcome::Orphaned { first: true } => {
                metrics::counter!("askgate_payments_orphaned_total").increment(1);
            }
            PaymentOutcome::AlreadyApplied
            | PaymentOutcome::DuplicateEvent
            | PaymentOutcome::NothingToDo
            | PaymentOutcome::Orphaned { first: false } => {}
        }
        Ok(outcome)
    }

    async fn reverse_purchase(
        &self,
        reversal: &PurchaseReversal,
    ) -> Result<PaymentOutcome, ReversalError> {
        self.inner.reverse_purchase(reversal).await
    }

    async fn restore_disputed(&self, won: &DisputeWon) -> Result<PaymentOutcome, RestoreError> {
        let outcome = self.inner.restore_disputed(won).await?;
        if let PaymentOutcome::Applied(entry) = &outcome {
            count_credit("dispute_won", entry);
        }
        Ok(outcome)
    }

    async fn balance(&self, user: UserId) -> Result<Tokens, BalanceError> {
        self.inner.balance(user).await
    }

    async fn history(
        &self,
        user: UserId,
        page: PageRequest,
    ) -> Result<Page<LedgerEntry>, HistoryError> {
        self.inner.history(user, page).await
    }

    async fn entries(
        &self,
        filter: &LedgerFilter,
        page: PageRequest,
    ) -> Result<Page<LedgerEntry>, HistoryError> {
        self.inner.entries(filter, page).await
    }

    async fn daily_spend(
        &self,
        user: UserId,
        since: NaiveDate,
    ) -> Result<Vec<DailySpend>, HistoryError> {
        self.inner.daily_spend(user, since).await
    }
}

/// [`Charges`] that counts the tokens it held, refunded and recovered
/// (`askgate_tokens_debited_total`, `askgate_tokens_refunded_total`,
/// `askgate_charges_recovered_total`).
pub struct MeteredCharges {
    inner: Arc<dyn Charges>,
}

impl MeteredCharges {
    #[must_use]
    pub fn new(inner: Arc<dyn Charges>) -> Self {
        Self { inner }
    }
}

#[async_trait]
impl Charges for MeteredCharges {
    async fn reserve<'a>(
        &self,
        reservation: &Reservation<'a>,
        wait: std::time::Duration,
    ) -> Result<Reserved, ReserveError> {
        let reserved = self.inner.reserve(reservation, wait).await?;
        if matches!(reserved, Reserved::Held { .. }) {
            metrics::counter!("askgate_tokens_debited_total").increment(1);
        }
        Ok(reserved)
    }

    async fn settle<'a>(&self, settlement: &Settlement<'a>) -> Result<Settled, StoreError> {
        self.inner.settle(settlement).await
    }

    async fn refund(&self, charge: ChargeId, reason: &str) -> Result<Option<Tokens>, StoreError> {
        let refunded = self.inner.refund(charge, reason).await?;
        if refunded.is_some() {
            metrics::counter!("askgate_tokens_refunded_total").increment(1);
        }
        Ok(refunded)
    }

    async fn recover(
        &self,
        older_than: std::time::Duration,
        limit: u32,
    ) -> Result<Vec<RecoveredCharge>, StoreError> {
        let recovered = self.inner.recover(older_than, limit).await?;
        let n = u64::try_from(recovered.len()).unwrap_or(u64::MAX);
        if n > 0 {
            metrics::counter!("askgate_charges_recovered_total").increment(n);
            metrics::counter!("askgate_tokens_refunded_total").increment(n);
        }
        Ok(recovered)
    }
}
