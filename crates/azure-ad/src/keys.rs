//! The provider's token-signing keys (JWKS), cached by key id.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use moka::future::Cache;
use openidconnect::core::CoreJsonWebKey;
use serde::Deserialize;
use tokio::sync::Mutex;
use url::Url;

/// Keys not seen in a JWKS for this long are dropped, so a key the provider withdrew
/// stops being trusted and the set is refreshed about daily.
const KEY_TIME_TO_LIVE: Duration = Duration::from_secs(24 * 60 * 60);
/// An unknown `kid` triggers at most one JWKS download per this interval, so tokens
/// with made-up key ids cannot make askgate hammer the provider.
const MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(60);

/// One RSA signing key, in the forms both verifiers need.
pub(crate) struct SigningKey {
    /// For bearer access tokens (jsonwebtoken).
    pub(crate) decoding: DecodingKey,
    /// For ID tokens (openidconnect's verifier).
    pub(crate) jwk: CoreJsonWebKey,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum JwksError {
    #[error("JWKS request failed")]
    Request(#[source] reqwest::Error),
    #[error("JWKS endpoint answered HTTP {0}")]
    Status(reqwest::StatusCode),
    #[error("JWKS document is not valid JSON")]
    Parse(#[source] serde_json::Error),
}

pub(crate) enum KeyLookup {
    Found(Arc<SigningKey>),
    /// Not in the JWKS, even after a (possibly rate-limited) refetch.
    Unknown,
}

pub(crate) struct SigningKeys {
    jwks_uri: Url,
    http: reqwest::Client,
    keys: Cache<String, Arc<SigningKey>>,
    /// When an unknown `kid` last caused a download; the lock also makes concurrent
    /// misses wait for one download instead of starting their own.
    last_refetch: Mutex<Option<Instant>>,
}

#[derive(Deserialize)]
struct JwksDocument {
    keys: Vec<serde_json::Value>,
}

impl SigningKeys {
    /// A cache seeded with the keys fetched during discovery.
    pub(crate) async fn new(
        jwks_uri: Url,
        http: reqwest::Client,
        initial: Vec<serde_json::Value>,
    ) -> Self {
        let keys = Cache::builder()
            .max_capacity(256)
            .time_to_live(KEY_TIME_TO_LIVE)
            .build();
        let this = Self {
            jwks_uri,
            http,
            keys,
            last_refetch: Mutex::new(None),
        };
        this.replace_all(initial).await;
        this
    }

    /// The key with this id, downloading the JWKS again if the id is unknown and no
    /// download happened in the last minute.
    pub(crate) async fn get(&self, kid: &str) -> Result<KeyLookup, JwksError> {
        if let Some(key) = self.keys.get(kid).await {
            return Ok(KeyLookup::Found(key));
        }
        let mut last_refetch = self.last_refetch.lock().await;
        // Someone may have refreshed the set while this caller waited for the lock.
        if let Some(key) = self.keys.get(kid).await {
            return Ok(KeyLookup::Found(key));
        }
        if last_refetch.is_some_and(|at| at.elapsed() < MIN_REFETCH_INTERVAL) {
            tracing::debug!(kid, "unknown signing key id; JWKS refetch rate-limited");
            return Ok(KeyLookup::Unknown);
        }
        // Counted before the download, so a failing provider is not retried per request.
        *last_refetch = Some(Instant::now());
        tracing::info!(kid, "unknown signing key id; fetching the JWKS again");
        let fresh = self.fetch().await?;
        self.replace_all(fresh).await;
        Ok(match self.keys.get(kid).await {
            Some(key) => KeyLookup::Found(key),
            None => KeyLookup::Unknown,
        })
    }

    async fn fetch(&self) -> Result<Vec<serde_json::Value>, JwksError> {
        let response = self
            .http
            .get(self.jwks_uri.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(JwksError::Request)?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(JwksError::Status(response.status()));
        }
        let body = response.bytes().await.map_err(JwksError::Request)?;
        let document: JwksDocument = serde_json::from_slice(&body).map_err(JwksError::Parse)?;
        Ok(document.keys)
    }

    /// Installs the usable keys of a JWKS and forgets the ones it no longer lists.
    /// New keys go in before old ones go out, so a concurrent lookup never sees a gap.
    async fn replace_all(&self, keys: Vec<serde_json::Value>) {
        let mut kept = Vec::new();
        for value in keys {
            if let Some((kid, key)) = usable_key(value) {
                self.keys.insert(kid.clone(), Arc::new(key)).await;
                kept.push(kid);
            }
        }
        let withdrawn: Vec<Arc<String>> = self
            .keys
            .iter()
            .map(|(kid, _)| kid)
            .filter(|kid| !kept.iter().any(|k| k == kid.as_str()))
            .collect();
        for kid in withdrawn {
            self.keys.invalidate(kid.as_str()).await;
        }
        tracing::debug!(keys = kept.len(), "signing keys installed");
    }
}

/// An RSA signature key with a `kid`, usable for RS256; anything else is skipped.
fn usable_key(value: serde_json::Value) -> Option<(String, SigningKey)> {
    let field = |name: &str| value.get(name).and_then(serde_json::Value::as_str);
    let kid = field("kid")?.to_owned();
    if field("kty") != Some("RSA") {
        return None;
    }
    if field("use").is_some_and(|usage| usage != "sig") {
        return None;
    }
    if field("alg").is_some_and(|alg| alg != "RS256") {
        return None;
    }
    let decoding = match DecodingKey::from_rsa_components(field("n")?, field("e")?) {
        Ok(key) => key,
        Err(err) => {
            tracing::warn!(kid, error = %err, "skipping a JWKS key that is not a valid RSA key");
            return None;
        }
    };
    let jwk = match serde_json::from_value::<CoreJsonWebKey>(value) {
        Ok(jwk) => jwk,
        Err(err) => {
            tracing::warn!(kid, error = %err, "skipping a JWKS key that does not parse");
            return None;
        }
    };
    Some((kid, SigningKey { decoding, jwk }))
}
