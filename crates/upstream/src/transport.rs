//! The one HTTP client every upstream kind shares, and its retry policy.
//!
//! - One pooled reqwest client (rustls), with a connect timeout. It resolves
//!   names through `hosts::FilteringResolver` (allowed hosts only, no internal
//!   addresses unless listed exactly), ignores proxy variables (a proxy would
//!   resolve names itself) and never follows redirects.
//! - One deadline per question (`UpstreamConfig::timeout`) covering both attempts
//!   and the reading of the answer; running out of it is `UpstreamError::Timeout`.
//! - A connection that could not be opened (nothing was sent) is retried once.
//!   A request that was sent is never retried: the upstream may have processed it.
//! - Error messages are short and never carry a token, a URL or a body.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use askgate_domain::ports::UpstreamError;
use reqwest::Client;
use url::Url;

use crate::hosts::{AddressRefused, FilteringResolver};

/// How long to wait before the single retry of a connection that could not be opened.
const RETRY_DELAY: Duration = Duration::from_millis(100);
/// Longest time spent opening one connection.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest answer body read from an upstream.
pub(crate) const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

/// Why one attempt failed, as far as retrying is concerned.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AttemptError {
    /// No connection could be opened, so nothing was sent: safe to retry.
    NotSent { timed_out: bool },
    /// The request was (maybe) sent and no answer came in time.
    TimedOut,
    /// The request was sent and failed; the reason is short and secret-free.
    Failed(String),
}

pub(crate) struct Transport {
    client: Client,
    timeout: Duration,
}

impl Transport {
    pub(crate) fn new(
        timeout: Duration,
        resolver: Arc<FilteringResolver>,
    ) -> Result<Self, reqwest::Error> {
        let client = Client::builder()
            .user_agent(concat!("askgate/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(timeout.min(MAX_CONNECT_TIMEOUT))
            .timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(resolver)
            .build()?;
        Ok(Self { client, timeout })
    }

    /// POSTs `body` (serialised JSON) to `url` and returns the raw answer of a 2xx response.
    pub(crate) async fn post_json(
        &self,
        url: &Url,
        bearer: Option<&str>,
        body: &[u8],
    ) -> Result<Vec<u8>, UpstreamError> {
        let deadline = Instant::now() + self.timeout;
        with_one_retry(deadline, |remaining| async move {
            let response = self
                .send(url, bearer, body, "application/json", remaining)
                .await?;
            read_capped(response).await
        })
        .await
    }

    /// POSTs `body` to `url`, asking for a streamed answer (`accept`), and
    /// returns the 2xx response once its headers arrived; its body is read by
    /// the caller, as it comes, within what is left of the same deadline.
    pub(crate) async fn post_for_stream(
        &self,
        url: &Url,
        bearer: Option<&str>,
        body: &[u8],
        accept: &'static str,
    ) -> Result<reqwest::Response, UpstreamError> {
        let deadline = Instant::now() + self.timeout;
        with_one_retry(deadline, |remaining| {
            self.send(url, bearer, body, accept, remaining)
        })
        .await
    }

    async fn send(
        &self,
        url: &Url,
        bearer: Option<&str>,
        body: &[u8],
        accept: &'static str,
        remaining: Duration,
    ) -> Result<reqwest::Response, AttemptError> {
        // The timeout covers reading the body too, so a stream ends by the deadline.
        let mut request = self
            .client
            .post(url.clone())
            .timeout(remaining)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT, accept)
            .body(body.to_vec());
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(classify)?;
        let status = response.status();
        tracing::Span::current().record("status", status.as_u16());
        if !status.is_success() {
            return Err(AttemptError::Failed(format!(
                "upstream answered HTTP {}",
                status.as_u16()
            )));
        }
        Ok(response)
    }
}

/// Runs `attempt` with what is left of the deadline, retrying once when nothing was sent.
pub(crate) async fn with_one_retry<F, Fut, T>(
    deadline: Instant,
    mut attempt: F,
) -> Result<T, UpstreamError>
where
    F: FnMut(Duration) -> Fut,
    Fut: Future<Output = Result<T, AttemptError>>,
{
    let mut retried = false;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(UpstreamError::Timeout);
        }
        match attempt(remaining).await {
            Ok(value) => return Ok(value),
            Err(AttemptError::NotSent { .. }) if !retried => {
                retried = true;
                tracing::warn!("upstream connection failed; retrying once");
                let pause = RETRY_DELAY.min(deadline.saturating_duration_since(Instant::now()));
                tokio::time::sleep(pause).await;
            }
            Err(AttemptError::NotSent { timed_out }) => {
                return Err(if timed_out && Instant::now() >= deadline {
                    UpstreamError::Timeout
                } else {
                    UpstreamError::Failed("upstream unreachable".to_owned())
                });
            }
            Err(AttemptError::TimedOut) => return Err(UpstreamError::Timeout),
            Err(AttemptError::Failed(reason)) => return Err(UpstreamError::Failed(reason)),
        }
    }
}

fn classify(err: reqwest::Error) -> AttemptError {
    let err = err.without_url();
    if refused_address(&err) {
        // Asking again would be refused again.
        AttemptError::Failed("upstream address not allowed".to_owned())
    } else if err.is_connect() {
        tracing::debug!(error = %err, "upstream connection not opened");
        AttemptError::NotSent {
            timed_out: err.is_timeout(),
        }
    } else if err.is_timeout() {
        AttemptError::TimedOut
    } else {
        tracing::debug!(error = %err, "upstream request failed");
        AttemptError::Failed("upstream request failed".to_owned())
    }
}

/// True when the resolver refused the host (see `hosts.rs`).
fn refused_address(err: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(cause) = source {
        if cause.downcast_ref::<AddressRefused>().is_some() {
            return true;
        }
        source = cause.source();
    }
    false
}

pub(crate) async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, AttemptError> {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                    return Err(AttemptError::Failed("upstream answer too large".to_owned()));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(err) if err.is_timeout() => return Err(AttemptError::TimedOut),
            Err(_) => {
                return Err(AttemptError::Failed(
                    "upstream answer could not be read".to_owned(),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn in_a_second() -> Instant {
        Instant::now() + Duration::from_secs(1)
    }

    #[tokio::test]
    async fn a_connection_never_opened_is_retried_exactly_once() {
        let attempts = AtomicUsize::new(0);
        let result: Result<(), _> = with_one_retry(in_a_second(), |_| {
            attempts.fetch_add(1, Ordering::SeqCst);
            async { Err(AttemptError::NotSent { timed_out: false }) }
        })
        .await;
        assert_eq!(attempts.load(Ordering::SeqCst), 2);
        assert!(matches!(result, Err(UpstreamError::Failed(_))));
    }

    #[tokio::test]
    async fn the_retry_can_succeed() {
        let attempts = AtomicUsize::new(0);
        let result = with_one_retry(in_a_second(), |_| {
            let n = attempts.fetch_add(1, Ordering::SeqCst);
            async move {
                if n == 0 {
                    Err(AttemptError::NotSent { timed_out: false })
                } else {
                    Ok("answer")
                }
            }
        })
        .await;
        assert_eq!(result.ok(), Some("answer"));
    }

    #[tokio::test]
    async fn a_sent_request_that_failed_or_timed_out_is_not_retried() {
        for (error, timeout) in [
            (
                AttemptError::Failed("upstream answered HTTP 502".to_owned()),
                false,
            ),
            (AttemptError::TimedOut, true),
        ] {
            let attempts = AtomicUsize::new(0);
            let error = std::sync::Mutex::new(Some(error));
            let result: Result<(), _> = with_one_retry(in_a_second(), |_| {
                attempts.fetch_add(1, Ordering::SeqCst);
                let e = error.lock().unwrap().take().unwrap();
                async move { Err(e) }
            })
            .await;
            assert_eq!(attempts.load(Ordering::SeqCst), 1);
            assert_eq!(matches!(result, Err(UpstreamError::Timeout)), timeout);
        }
    }

    #[tokio::test]
    async fn a_refused_connection_counts_as_not_sent() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let err = Client::new()
            .post(format!("http://127.0.0.1:{port}/chat"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(classify(err), AttemptError::NotSent { timed_out: false });
    }
}
