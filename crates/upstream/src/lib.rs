//! askgate's AI upstreams, behind the domain's [`AiUpstream`] port.
//!
//! [`Upstreams`] picks, per question, one of four kinds and speaks its wire format:
//!
//! | kind | used for | module |
//! |---|---|---|
//! | `askatt` | AskAT&T when `ServiceRoute::AskAtt` is configured | `askatt.rs` |
//! | `askdocs` | a domain with an `api_endpoint`, or any domain when `ASKDOCS_API_BASE_ENDPOINT` is set | `askdocs.rs` |
//! | `openai` | `ServiceRoute::OpenAi`, or a domain whose configuration says `"kind": "openai"` | `openai.rs` |
//! | `builtin` | nothing configured, or `"kind": "builtin"`: a local, deterministic demo | `builtin.rs` |
//!
//! Each wire format lives in its own module, so adapting one is a one-file change.
//! All HTTP goes through one pooled client (`transport.rs`) with one deadline per
//! question; see there for what is retried.
//!
//! A domain chooses where its questions go (`api_endpoint`, `base_url`) only
//! within the operator's allow-list (`hosts.rs`), checked again before every
//! question and when each connection is opened. It never chooses a token scope:
//! scopes are server settings, and a stored domain whose configuration still
//! names one is refused.

mod askatt;
mod askdocs;
mod builtin;
mod hosts;
mod openai;
mod sse;
mod streaming;
mod transport;
mod wire;

pub use hosts::{
    AllowedHosts, HostLookup, HostPattern, HostPatternError, SystemLookup, is_internal,
};

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use askgate_domain::domain::{Domain, DomainConfiguration, UpstreamKind};
use askgate_domain::ledger::ServiceType;
use askgate_domain::ports::{
    AiUpstream, ServiceToken, ServiceTokenProvider, UpstreamAnswer, UpstreamError, UpstreamRequest,
    UpstreamStream,
};
use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::transport::Transport;
use crate::wire::WireError;

/// `UPSTREAM_TIMEOUT_MS` when it is not set.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Where and how questions are answered.
#[derive(Debug, Clone)]
pub struct UpstreamConfig {
    /// How AskAT&T questions are answered.
    pub askatt: ServiceRoute,
    /// `ASKDOCS_API_BASE_ENDPOINT`: a domain without an `api_endpoint` is asked at
    /// `{askdocs_base}/{domain.name}/chat`.
    pub askdocs_base: Option<Url>,
    /// `AZURE_AD_SCOPE`: the token scope sent to AskAT&T.
    pub askatt_scope: Option<String>,
    /// `AZURE_AD_DOMAIN_QNA_SCOPE`: the token scope sent to AskDocs.
    pub askdocs_scope: Option<String>,
    /// `UPSTREAM_TIMEOUT_MS`: the longest a question may take, retries included.
    pub timeout: Duration,
    /// `UPSTREAM_ALLOWED_HOSTS`, and whether domain endpoints need `https`. The
    /// hosts of the endpoints above are added by [`Self::effective_hosts`].
    pub allowed_hosts: AllowedHosts,
}

impl UpstreamConfig {
    /// The allowed hosts: [`Self::allowed_hosts`] plus, listed exactly, the
    /// hosts of the operator's own endpoints (AskAT&T or the OpenAI-compatible
    /// base, and the AskDocs base).
    #[must_use]
    pub fn effective_hosts(&self) -> AllowedHosts {
        let own = match &self.askatt {
            ServiceRoute::Builtin => None,
            ServiceRoute::AskAtt { endpoint } => Some(endpoint),
            ServiceRoute::OpenAi { base, .. } => Some(base),
        };
        let mut patterns = self.allowed_hosts.patterns().to_vec();
        patterns.extend(
            own.into_iter()
                .chain(self.askdocs_base.as_ref())
                .filter_map(HostPattern::of_url),
        );
        AllowedHosts::new(patterns, self.allowed_hosts.requires_https())
    }
}

impl Default for UpstreamConfig {
    /// Everything answered by the built-in demo upstream.
    fn default() -> Self {
        Self {
            askatt: ServiceRoute::Builtin,
            askdocs_base: None,
            askatt_scope: None,
            askdocs_scope: None,
            timeout: DEFAULT_TIMEOUT,
            allowed_hosts: AllowedHosts::default(),
        }
    }
}

/// How AskAT&T questions are answered.
#[derive(Debug, Clone)]
pub enum ServiceRoute {
    /// The built-in demo upstream (no network).
    Builtin,
    /// The AskAT&T API at `endpoint` (`ASKATT_API_ENDPOINT`); `/chat` is appended.
    AskAtt { endpoint: Url },
    /// An OpenAI-compatible API; `/v1/chat/completions` is appended to `base`.
    OpenAi {
        base: Url,
        model: String,
        api_key: Option<SecretString>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum UpstreamBuildError {
    #[error("the upstream timeout must be more than zero")]
    ZeroTimeout,
    #[error("the OpenAI-compatible upstream needs a model")]
    MissingModel,
    #[error("could not build the upstream HTTP client")]
    Client(#[source] reqwest::Error),
}

/// The [`AiUpstream`] adapter: routes each question to its kind of upstream.
pub struct Upstreams {
    config: UpstreamConfig,
    hosts: Arc<AllowedHosts>,
    tokens: Option<Arc<dyn ServiceTokenProvider>>,
    transport: Transport,
}

impl fmt::Debug for Upstreams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upstreams")
            .field("config", &self.config)
            .field("tokens", &self.tokens.is_some())
            .finish_non_exhaustive()
    }
}

impl Upstreams {
    /// `tokens` gives the client-credentials tokens sent to AskAT&T and AskDocs;
    /// without it (or without a scope) those requests carry no `Authorization`.
    /// Host names are resolved by the system resolver.
    pub fn new(
        config: UpstreamConfig,
        tokens: Option<Arc<dyn ServiceTokenProvider>>,
    ) -> Result<Self, UpstreamBuildError> {
        Self::with_lookup(config, tokens, Arc::new(SystemLookup))
    }

    /// [`Self::new`] resolving host names with `lookup`.
    pub fn with_lookup(
        config: UpstreamConfig,
        tokens: Option<Arc<dyn ServiceTokenProvider>>,
        lookup: Arc<dyn HostLookup>,
    ) -> Result<Self, UpstreamBuildError> {
        if config.timeout.is_zero() {
            return Err(UpstreamBuildError::ZeroTimeout);
        }
        if let ServiceRoute::OpenAi { model, .. } = &config.askatt
            && model.trim().is_empty()
        {
            return Err(UpstreamBuildError::MissingModel);
        }
        if matches!(config.askatt, ServiceRoute::AskAtt { .. })
            && (config.askatt_scope.is_none() || tokens.is_none())
        {
            tracing::warn!("AskAT&T requests will be sent without a service token");
        }
        let hosts = Arc::new(config.effective_hosts());
        let resolver = Arc::new(hosts::FilteringResolver::new(Arc::clone(&hosts), lookup));
        let transport =
            Transport::new(config.timeout, resolver).map_err(UpstreamBuildError::Client)?;
        Ok(Self {
            config,
            hosts,
            tokens,
            transport,
        })
    }

    fn route<'a>(&'a self, request: &'a UpstreamRequest) -> Result<Route<'a>, UpstreamError> {
        match request.service {
            ServiceType::AskAtt => Ok(match &self.config.askatt {
                ServiceRoute::Builtin => Route::Builtin,
                ServiceRoute::AskAtt { endpoint } => Route::AskAtt { endpoint },
                ServiceRoute::OpenAi {
                    base,
                    model,
                    api_key,
                } => Route::OpenAi {
                    base: base.clone(),
                    model,
                    system_prompt: None,
                    auth: api_key.as_ref().map_or(Auth::None, Auth::ApiKey),
                },
            }),
            ServiceType::AskDocs => {
                let domain = request.domain.as_ref().ok_or_else(|| {
                    UpstreamError::Failed("AskDocs question without a domain".to_owned())
                })?;
                self.domain_route(domain)
            }
            ServiceType::App => Err(UpstreamError::Failed(
                "apps spend tokens through the credits API, not the AI services".to_owned(),
            )),
        }
    }

    /// Where a domain's question goes. A domain stored before the current rules
    /// (or edited in the database) is re-checked here, before any token is
    /// fetched: a `scope` in its configuration, or a URL outside the allowed
    /// hosts, fails the question (and the caller refunds it).
    fn domain_route<'a>(&'a self, domain: &'a Domain) -> Result<Route<'a>, UpstreamError> {
        let configuration = &domain.configuration;
        if configuration.names_a_scope() {
            return Err(failed(WireError::Configuration(
                "scope is not accepted (token scopes are server settings)",
            )));
        }
        let endpoint = domain.api_endpoint.as_ref().map(|e| e.url().clone());
        let kind = configuration
            .kind()
            .map_err(|_| failed(WireError::Configuration("unknown kind")))?;
        match kind {
            UpstreamKind::Builtin => Ok(Route::Builtin),
            UpstreamKind::OpenAi => {
                let settings =
                    openai::DomainSettings::from_configuration(configuration).map_err(failed)?;
                let base = match settings.base_url {
                    Some(raw) => self.allowed(parse_http_url(raw, "base_url")?, "base_url")?,
                    None => self.allowed(
                        endpoint.ok_or_else(|| {
                            failed(WireError::Configuration(
                                "openai kind needs base_url or api_endpoint",
                            ))
                        })?,
                        "api_endpoint",
                    )?,
                };
                Ok(Route::OpenAi {
                    base,
                    model: settings.model,
                    system_prompt: settings.system_prompt,
                    auth: Auth::None,
                })
            }
            UpstreamKind::AskDocs => {
                let endpoint = endpoint
                    .map(|url| self.allowed(url, "api_endpoint"))
                    .transpose()?;
                let url = endpoint.or_else(|| {
                    self.config
                        .askdocs_base
                        .as_ref()
                        .map(|base| wire::join_path(base, &format!("{}/chat", domain.name)))
                });
                Ok(match url {
                    Some(url) => Route::AskDocs { url, configuration },
                    None => Route::Builtin,
                })
            }
        }
    }

    /// `url` when a domain may send questions there.
    fn allowed(&self, url: Url, field: &'static str) -> Result<Url, UpstreamError> {
        match self.hosts.check(&url) {
            Ok(()) => Ok(url),
            Err(reason) => {
                tracing::warn!(field, %reason, "domain upstream refused");
                Err(UpstreamError::Failed(format!(
                    "domain {field} is not allowed: {reason}"
                )))
            }
        }
    }

    async fn bearer(&self, scope: Option<&str>) -> Result<Option<ServiceToken>, UpstreamError> {
        match (scope, &self.tokens) {
            (Some(scope), Some(tokens)) => tokens
                .token(scope)
                .await
                .map(Some)
                .map_err(|e| UpstreamError::Credentials(Box::new(e))),
            _ => Ok(None),
        }
    }

    async fn post(
        &self,
        url: &Url,
        bearer: Option<&str>,
        body: &[u8],
    ) -> Result<Vec<u8>, UpstreamError> {
        let started = Instant::now();
        let result = self.transport.post_json(url, bearer, body).await;
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match &result {
            Ok(_) => tracing::info!(latency_ms, "upstream answered"),
            Err(error) => tracing::warn!(latency_ms, %error, "upstream failed"),
        }
        result
    }
}

/// Which kind answers one question, with what it needs.
enum Route<'a> {
    Builtin,
    AskAtt {
        endpoint: &'a Url,
    },
    AskDocs {
        url: Url,
        configuration: &'a DomainConfiguration,
    },
    OpenAi {
        base: Url,
        model: &'a str,
        system_prompt: Option<&'a str>,
        auth: Auth<'a>,
    },
}

impl Route<'_> {
    const fn kind(&self) -> &'static str {
        match self {
            Self::Builtin => "builtin",
            Self::AskAtt { .. } => "askatt",
            Self::AskDocs { .. } => "askdocs",
            Self::OpenAi { .. } => "openai",
        }
    }
}

enum Auth<'a> {
    None,
    ApiKey(&'a SecretString),
}

/// One question ready to send to a remote kind: where, with what, and how its
/// answer reads. Built once for both a whole and a streamed answer.
struct Call<'a> {
    url: Url,
    bearer: Option<Bearer<'a>>,
    body: Vec<u8>,
    format: streaming::Format,
    whole: fn(&[u8]) -> Result<UpstreamAnswer, WireError>,
}

/// What a call authenticates with; never printed.
enum Bearer<'a> {
    Service(ServiceToken),
    ApiKey(&'a SecretString),
}

impl Bearer<'_> {
    fn expose(&self) -> &str {
        match self {
            Self::Service(token) => token.expose(),
            Self::ApiKey(key) => key.expose_secret(),
        }
    }
}

impl Upstreams {
    /// The call `route` makes for `request`; `None` for the built-in demo,
    /// which answers locally.
    async fn call<'a>(
        &self,
        route: Route<'a>,
        request: &UpstreamRequest,
        stream: bool,
    ) -> Result<Option<Call<'a>>, UpstreamError> {
        let call = match route {
            Route::Builtin => return Ok(None),
            Route::AskAtt { endpoint } => Call {
                url: askatt::url(endpoint),
                bearer: self
                    .bearer(self.config.askatt_scope.as_deref())
                    .await?
                    .map(Bearer::Service),
                body: askatt::body(request).map_err(failed)?,
                format: streaming::Format::Pieces,
                whole: askatt::parse,
            },
            Route::AskDocs { url, configuration } => Call {
                bearer: self
                    .bearer(self.config.askdocs_scope.as_deref())
                    .await?
                    .map(Bearer::Service),
                body: askdocs::body(request, configuration).map_err(failed)?,
                url,
                format: streaming::Format::Pieces,
                whole: askdocs::parse,
            },
            Route::OpenAi {
                base,
                model,
                system_prompt,
                auth,
            } => Call {
                url: openai::url(&base),
                bearer: match auth {
                    Auth::ApiKey(key) => Some(Bearer::ApiKey(key)),
                    Auth::None => None,
                },
                body: openai::body(request, model, system_prompt, stream).map_err(failed)?,
                format: streaming::Format::OpenAi,
                whole: openai::parse,
            },
        };
        Ok(Some(call))
    }
}

#[async_trait]
impl AiUpstream for Upstreams {
    #[tracing::instrument(
        skip_all,
        fields(service = %request.service, kind, status = tracing::field::Empty)
    )]
    async fn ask(&self, request: &UpstreamRequest) -> Result<UpstreamAnswer, UpstreamError> {
        let route = self.route(request)?;
        tracing::Span::current().record("kind", route.kind());
        let Some(call) = self.call(route, request, false).await? else {
            return Ok(builtin::answer(request));
        };
        let raw = self
            .post(
                &call.url,
                call.bearer.as_ref().map(Bearer::expose),
                &call.body,
            )
            .await?;
        (call.whole)(&raw).map_err(failed)
    }

    #[tracing::instrument(
        skip_all,
        fields(service = %request.service, kind, status = tracing::field::Empty, stream = true)
    )]
    async fn stream(&self, request: &UpstreamRequest) -> Result<UpstreamStream, UpstreamError> {
        let route = self.route(request)?;
        tracing::Span::current().record("kind", route.kind());
        match self.call(route, request, true).await? {
            None => Ok(streaming::words(builtin::answer(request), DEMO_WORD_PAUSE)),
            Some(call) => self.open_stream(call).await,
        }
    }
}

/// How long the built-in demo waits between two words of its streamed answer.
const DEMO_WORD_PAUSE: Duration = Duration::from_millis(25);

impl Upstreams {
    async fn open_stream(&self, call: Call<'_>) -> Result<UpstreamStream, UpstreamError> {
        let started = Instant::now();
        let result = match self
            .transport
            .post_for_stream(
                &call.url,
                call.bearer.as_ref().map(Bearer::expose),
                &call.body,
                streaming::ACCEPT,
            )
            .await
        {
            Ok(response) => streaming::answer(response, call.format, call.whole).await,
            Err(error) => Err(error),
        };
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match &result {
            Ok(_) => tracing::info!(latency_ms, "upstream started its answer"),
            Err(error) => tracing::warn!(latency_ms, %error, "upstream failed"),
        }
        result
    }
}

fn failed(error: WireError) -> UpstreamError {
    UpstreamError::Failed(error.to_string())
}

fn parse_http_url(raw: &str, field: &'static str) -> Result<Url, UpstreamError> {
    Url::parse(raw)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https"))
        .ok_or_else(|| UpstreamError::Failed(format!("domain {field} is not an http(s) URL")))
}
