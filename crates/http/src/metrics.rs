//! Request metrics (recorded through the `metrics` facade; the server installs
//! the Prometheus recorder and serves `/metrics`).
//!
//! - `askgate_http_requests_total{method, route, status}` and
//!   `askgate_http_request_duration_seconds{…}`, by route *pattern*
//!   (`/api/domains/{id}`), never the raw path;
//! - `askgate_rate_limited_total{route}`: 429 answers;
//! - `askgate_gateway_overhead_seconds{route}`: for the chat routes, the
//!   request's total time minus the time spent waiting on the AI upstream;
//! - for streamed chats, where the total time is the upstream's writing:
//!   `askgate_stream_first_delta_seconds{route}`, from the request to its
//!   first piece of answer (time to first byte of the answer), and
//!   `askgate_stream_gateway_overhead_seconds{route}`, that time minus the
//!   upstream's own time to its first event.
//!
//! The upstream wait is added up by whoever times the upstream call (the
//! server's metered upstream) through [`record_upstream_wait`]; the chat
//! handler carries the request's accumulator into the task it spawns.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;

/// Routes whose gateway overhead is measured.
const CHAT_ROUTES: &[&str] = &["/api/askatt/chat", "/api/askdocs/chat"];

/// Label of requests that matched no route (bounded, unlike raw paths).
const UNMATCHED: &str = "unmatched";

tokio::task_local! {
    /// Nanoseconds this request spent waiting on upstreams.
    static UPSTREAM_WAIT: Arc<AtomicU64>;
}

/// Adds `waited` to the current request's upstream time. Outside a request
/// (CLI commands, tests of adapters) it does nothing.
pub fn record_upstream_wait(waited: Duration) {
    let nanos = u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX);
    let _ = UPSTREAM_WAIT.try_with(|w| w.fetch_add(nanos, Ordering::Relaxed));
}

/// The current request's upstream-time accumulator, to carry into a spawned
/// task with [`with_upstream_wait`].
pub(crate) fn current_upstream_wait() -> Option<Arc<AtomicU64>> {
    UPSTREAM_WAIT.try_with(Arc::clone).ok()
}

/// Runs `fut` adding its upstream time to `wait` (when there is one).
pub(crate) async fn with_upstream_wait<F: Future>(
    wait: Option<Arc<AtomicU64>>,
    fut: F,
) -> F::Output {
    match wait {
        Some(wait) => UPSTREAM_WAIT.scope(wait, fut).await,
        None => fut.await,
    }
}

/// A streamed chat's time to its first piece of answer, and the part of it
/// that was askgate's own.
pub(crate) struct FirstDelta {
    route: &'static str,
    started: Instant,
    waited: Option<Arc<AtomicU64>>,
}

impl FirstDelta {
    /// Times a streamed chat on `route` from now; `waited` is the request's
    /// upstream time, added up while the chat runs.
    pub(crate) fn start(route: &'static str, waited: Option<Arc<AtomicU64>>) -> Self {
        Self {
            route,
            started: Instant::now(),
            waited,
        }
    }

    /// Records the first piece of answer reaching the client now.
    pub(crate) fn record(&self) {
        let elapsed = self.started.elapsed();
        metrics::histogram!("askgate_stream_first_delta_seconds", "route" => self.route)
            .record(elapsed.as_secs_f64());
        let upstream = self.waited.as_ref().map_or(Duration::ZERO, |w| {
            Duration::from_nanos(w.load(Ordering::Relaxed))
        });
        metrics::histogram!("askgate_stream_gateway_overhead_seconds", "route" => self.route)
            .record(elapsed.saturating_sub(upstream).as_secs_f64());
    }
}

fn is_event_stream<B>(response: &actix_web::HttpResponse<B>) -> bool {
    response
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"))
}

/// Middleware: counts and times every request by route pattern and status.
pub(crate) async fn record_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().as_str().to_owned();
    let waited = Arc::new(AtomicU64::new(0));
    let result = UPSTREAM_WAIT
        .scope(Arc::clone(&waited), next.call(req))
        .await;
    let elapsed = started.elapsed();
    let (route, status) = match &result {
        Ok(res) => (
            res.request()
                .match_pattern()
                .unwrap_or_else(|| UNMATCHED.to_owned()),
            res.status(),
        ),
        Err(e) => (UNMATCHED.to_owned(), e.as_response_error().status_code()),
    };
    let labels = [
        ("method", method),
        ("route", route.clone()),
        ("status", status.as_str().to_owned()),
    ];
    metrics::counter!("askgate_http_requests_total", &labels).increment(1);
    metrics::histogram!("askgate_http_request_duration_seconds", &labels)
        .record(elapsed.as_secs_f64());
    if status == StatusCode::TOO_MANY_REQUESTS {
        metrics::counter!("askgate_rate_limited_total", "route" => route.clone()).increment(1);
    }
    let streamed = result
        .as_ref()
        .is_ok_and(|res| is_event_stream(res.response()));
    if CHAT_ROUTES.contains(&route.as_str()) && !streamed {
        let upstream = Duration::from_nanos(waited.load(Ordering::Relaxed));
        metrics::histogram!("askgate_gateway_overhead_seconds", "route" => route)
            .record(elapsed.saturating_sub(upstream).as_secs_f64());
    }
    result
}
