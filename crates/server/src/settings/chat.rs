//! The chat sections of [`Settings`](super::Settings): where questions are
//! answered (`UpstreamSettings`) and how often a user may ask (`RateLimitSettings`).

use std::time::Duration;

use askgate_domain::user::Role;
use askgate_ratelimit::{RateLimitConfig, RateLimitTiers, RedisFailureMode};
use askgate_upstream::{AllowedHosts, HostPattern, ServiceRoute, UpstreamConfig};
use secrecy::SecretString;
use url::Url;

use super::AppEnv;
use super::env::{ConfigError, Env, parse_url, variables};

variables! {
    ASKATT_API_ENDPOINT,
    ASKATT_KIND,
    OPENAI_MODEL,
    OPENAI_API_KEY,
    ASKDOCS_API_BASE_ENDPOINT,
    AZURE_AD_SCOPE,
    AZURE_AD_DOMAIN_QNA_SCOPE,
    UPSTREAM_ALLOWED_HOSTS,
    UPSTREAM_TIMEOUT_MS,
    CHARGE_RECOVERY_AFTER_SECONDS,
    RATE_LIMIT_PER_MINUTE,
    RATE_LIMIT_BURST,
    RATE_LIMIT_TIERS,
    REDIS_URL,
    REDIS_RATE_LIMIT_FAILURE,
}

/// How an upstream's base URL looks, for messages.
const ENDPOINT_EXAMPLE: &str = "https://api.example.com";

/// How long a duplicate request (same `Idempotency-Key`) waits for the first
/// one beyond the upstream timeout.
const DUPLICATE_GRACE: Duration = Duration::from_secs(5);

/// How long beyond the upstream timeout a charge may stay pending before
/// recovery refunds it, unless `CHARGE_RECOVERY_AFTER_SECONDS` says otherwise.
const RECOVERY_MARGIN: Duration = Duration::from_secs(60);

/// `ASKATT_KIND`: what speaks at `ASKATT_API_ENDPOINT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AskAttKind {
    /// The AskAT&T API (`POST {endpoint}/chat`).
    AskAtt,
    /// Any OpenAI-compatible API (`POST {endpoint}/v1/chat/completions`).
    OpenAi,
}

#[derive(Debug, Clone)]
pub struct UpstreamSettings {
    /// `ASKATT_API_ENDPOINT`; unset: the built-in demo upstream answers AskAT&T.
    pub askatt_endpoint: Option<Url>,
    /// `ASKATT_KIND` (default `askatt`).
    pub askatt_kind: AskAttKind,
    /// `OPENAI_MODEL`: required when `ASKATT_KIND=openai`.
    pub openai_model: Option<String>,
    /// `OPENAI_API_KEY`: sent as the bearer token to an OpenAI-compatible AskAT&T.
    pub openai_api_key: Option<SecretString>,
    /// `ASKDOCS_API_BASE_ENDPOINT`: domains without their own endpoint are
    /// asked at `{base}/{domain name}/chat`.
    pub askdocs_base: Option<Url>,
    /// `AZURE_AD_SCOPE`: the client-credentials scope sent to AskAT&T.
    pub askatt_scope: Option<String>,
    /// `AZURE_AD_DOMAIN_QNA_SCOPE`: the scope sent to AskDocs.
    pub askdocs_scope: Option<String>,
    /// `UPSTREAM_TIMEOUT_MS` (default 30000): the longest a question may take.
    pub timeout: Duration,
    /// `CHARGE_RECOVERY_AFTER_SECONDS` (default: the upstream timeout plus 60 s):
    /// a chat's charge pending longer than this belongs to a process that
    /// stopped, and is refunded.
    pub charge_recovery_after: Duration,
    /// `UPSTREAM_ALLOWED_HOSTS`: the hosts a domain's `api_endpoint` and
    /// `configuration.base_url` may name, besides the hosts of
    /// `ASKATT_API_ENDPOINT` and `ASKDOCS_API_BASE_ENDPOINT` (always allowed).
    pub allowed_hosts: Vec<HostPattern>,
    /// Domain endpoints must use `https` (production).
    pub require_https: bool,
}

impl UpstreamSettings {
    pub(super) fn read(env: &Env<'_>, app_env: AppEnv) -> Result<Self, ConfigError> {
        let askatt_endpoint = env.http_url(ASKATT_API_ENDPOINT, ENDPOINT_EXAMPLE)?;
        let askatt_kind = env
            .one_of(
                ASKATT_KIND,
                &[
                    ("askatt", AskAttKind::AskAtt),
                    ("openai", AskAttKind::OpenAi),
                ],
            )?
            .unwrap_or(AskAttKind::AskAtt);
        let openai_model = env.get(OPENAI_MODEL);
        if askatt_kind == AskAttKind::OpenAi {
            if askatt_endpoint.is_none() {
                return Err(ConfigError::new(
                    ASKATT_API_ENDPOINT,
                    "is required when ASKATT_KIND=openai (the API's base URL, e.g. http://127.0.0.1:11434)",
                ));
            }
            if openai_model.is_none() {
                return Err(ConfigError::new(
                    OPENAI_MODEL,
                    "is required when ASKATT_KIND=openai (e.g. gpt-4o-mini)",
                ));
            }
        }
        let askdocs_base = env.http_url(ASKDOCS_API_BASE_ENDPOINT, ENDPOINT_EXAMPLE)?;
        let timeout_ms = env.integer(UPSTREAM_TIMEOUT_MS, 30_000, 1..=600_000)?;
        let timeout = Duration::from_millis(timeout_ms);
        let default_recovery = (timeout + RECOVERY_MARGIN).as_secs();
        let recovery_secs =
            env.integer(CHARGE_RECOVERY_AFTER_SECONDS, default_recovery, 1..=86_400)?;
        let charge_recovery_after = Duration::from_secs(recovery_secs);
        let allowed_hosts = env
            .list(UPSTREAM_ALLOWED_HOSTS, |entry| {
                HostPattern::parse(entry)
                    .map_err(|e| format!("must be a comma-separated list of hosts; {e}"))
            })?
            .unwrap_or_default();
        // A live request holds its charge for up to the upstream timeout plus
        // the time to settle: a shorter window would refund answered chats.
        if charge_recovery_after <= timeout + DUPLICATE_GRACE {
            return Err(ConfigError::new(
                CHARGE_RECOVERY_AFTER_SECONDS,
                "must be longer than UPSTREAM_TIMEOUT_MS plus 5 seconds",
            ));
        }
        Ok(Self {
            askatt_endpoint,
            askatt_kind,
            openai_model,
            openai_api_key: env.secret(OPENAI_API_KEY),
            askdocs_base,
            askatt_scope: env.get(AZURE_AD_SCOPE),
            askdocs_scope: env.get(AZURE_AD_DOMAIN_QNA_SCOPE),
            timeout,
            charge_recovery_after,
            allowed_hosts,
            require_https: app_env.is_production(),
        })
    }

    /// What the upstream adapter needs.
    #[must_use]
    pub fn upstream_config(&self) -> UpstreamConfig {
        let askatt = match (&self.askatt_endpoint, self.askatt_kind) {
            (None, _) => ServiceRoute::Builtin,
            (Some(endpoint), AskAttKind::AskAtt) => ServiceRoute::AskAtt {
                endpoint: endpoint.clone(),
            },
            (Some(base), AskAttKind::OpenAi) => ServiceRoute::OpenAi {
                base: base.clone(),
                model: self.openai_model.clone().unwrap_or_default(),
                api_key: self.openai_api_key.clone(),
            },
        };
        UpstreamConfig {
            askatt,
            askdocs_base: self.askdocs_base.clone(),
            askatt_scope: self.askatt_scope.clone(),
            askdocs_scope: self.askdocs_scope.clone(),
            timeout: self.timeout,
            allowed_hosts: AllowedHosts::new(self.allowed_hosts.clone(), self.require_https),
        }
    }

    /// Where domains may send questions: `UPSTREAM_ALLOWED_HOSTS` plus the
    /// hosts of the configured endpoints, `https` only in production.
    #[must_use]
    pub fn allowed_hosts(&self) -> AllowedHosts {
        self.upstream_config().effective_hosts()
    }

    /// How long a duplicate chat request waits for the first one: the
    /// upstream timeout plus a grace period for the ledger and storage.
    #[must_use]
    pub fn duplicate_wait(&self) -> Duration {
        self.timeout + DUPLICATE_GRACE
    }

    /// How long in-flight chats may take to finish after SIGTERM: long enough
    /// for an upstream call that just started, and for its settlement.
    #[must_use]
    pub fn drain_time(&self) -> Duration {
        self.timeout + DUPLICATE_GRACE
    }
}

#[derive(Debug, Clone)]
pub struct RateLimitSettings {
    /// `RATE_LIMIT_PER_MINUTE` (default 30): chats a user may make a minute.
    pub per_minute: u32,
    /// `RATE_LIMIT_BURST` (default: the per-minute rate): chats at once.
    pub burst: u32,
    /// `RATE_LIMIT_TIERS` (e.g. `user:30,admin:120`): chats a minute for the
    /// roles listed; the others have `per_minute`.
    pub tiers: Vec<(Role, u32)>,
    /// Whether `RATE_LIMIT_BURST` was set: then it is every tier's burst,
    /// otherwise each tier's burst is its rate.
    burst_set: bool,
    /// `REDIS_URL`: when set, every instance shares one limit through Redis;
    /// otherwise each counts in its own memory. May hold a password.
    pub redis_url: Option<SecretString>,
    /// `REDIS_RATE_LIMIT_FAILURE` (default `open`): when Redis is down, admit
    /// chats (`open`) or refuse them with 503 (`closed`).
    pub redis_failure: RedisFailureMode,
}

impl RateLimitSettings {
    pub(super) fn read(env: &Env<'_>) -> Result<Self, ConfigError> {
        let per_minute = env.integer(RATE_LIMIT_PER_MINUTE, 30, 1..=100_000)?;
        // 0 (never a valid value) stands for unset.
        let explicit_burst = env.integer(RATE_LIMIT_BURST, 0, 1..=100_000)?;
        let burst_set = explicit_burst != 0;
        let burst = if burst_set {
            explicit_burst
        } else {
            per_minute
        };
        let tiers = env.list(RATE_LIMIT_TIERS, parse_tier)?.unwrap_or_default();
        if let Some(role) = tiers
            .iter()
            .enumerate()
            .find_map(|(i, (role, _))| tiers[..i].iter().any(|(r, _)| r == role).then_some(role))
        {
            return Err(ConfigError::new(
                RATE_LIMIT_TIERS,
                format!("names the role '{role}' twice"),
            ));
        }
        // The value may hold a password: never repeat it.
        let redis_url = env.checked_secret(
            REDIS_URL,
            |url| parse_url(url, &["redis", "rediss"]).is_some(),
            "must be a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379",
        )?;
        let redis_failure = env
            .parsed(REDIS_RATE_LIMIT_FAILURE, "must be 'open' or 'closed'")?
            .unwrap_or_default();
        Ok(Self {
            per_minute: u32::try_from(per_minute).unwrap_or(u32::MAX),
            burst: u32::try_from(burst).unwrap_or(u32::MAX),
            tiers,
            burst_set,
            redis_url,
            redis_failure,
        })
    }

    /// The limit of the roles `RATE_LIMIT_TIERS` does not list.
    #[must_use]
    pub const fn limit_config(&self) -> RateLimitConfig {
        RateLimitConfig {
            per_minute: self.per_minute,
            burst: self.burst,
        }
    }

    /// What the limiters need: each role's limit.
    #[must_use]
    pub fn limit_tiers(&self) -> RateLimitTiers {
        self.tiers.iter().fold(
            RateLimitTiers::uniform(self.limit_config()),
            |tiers, &(role, per_minute)| {
                let burst = if self.burst_set {
                    self.burst
                } else {
                    per_minute
                };
                tiers.with(role, RateLimitConfig { per_minute, burst })
            },
        )
    }
}

/// One `role:per-minute` entry of `RATE_LIMIT_TIERS`.
fn parse_tier(entry: &str) -> Result<(Role, u32), String> {
    const SHAPE: &str = "must be role:per-minute pairs, e.g. user:30,admin:120";
    let (role, rate) = entry
        .split_once(':')
        .ok_or_else(|| format!("{SHAPE} (not '{entry}')"))?;
    let role: Role = role.trim().parse().map_err(|_| {
        format!(
            "names an unknown role '{}': the roles are 'user' and 'admin'",
            role.trim()
        )
    })?;
    let rate = rate
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=100_000).contains(n))
        .ok_or_else(|| {
            format!(
                "gives '{role}' {:?}: a rate must be a whole number from 1 to 100000",
                rate.trim()
            )
        })?;
    Ok((role, rate))
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::super::Settings;
    use super::*;

    #[test]
    fn nothing_set_answers_with_the_builtin_demo_and_30_a_minute_in_process() {
        let s = Settings::from_pairs(&[]).unwrap();
        assert!(matches!(
            s.upstream.upstream_config().askatt,
            ServiceRoute::Builtin
        ));
        assert_eq!(s.upstream.timeout, Duration::from_secs(30));
        assert_eq!(s.upstream.duplicate_wait(), Duration::from_secs(35));
        assert_eq!(s.upstream.charge_recovery_after, Duration::from_secs(90));
        assert_eq!((s.rate_limit.per_minute, s.rate_limit.burst), (30, 30));
        assert!(s.rate_limit.redis_url.is_none());
        assert_eq!(s.rate_limit.redis_failure, RedisFailureMode::Open);
    }

    #[test]
    fn an_openai_compatible_askatt_needs_a_model_and_an_endpoint() {
        let err = Settings::from_pairs(&[
            ("ASKATT_KIND", "openai"),
            ("ASKATT_API_ENDPOINT", "http://127.0.0.1:11434"),
        ])
        .unwrap_err();
        assert_eq!(err.variable, "OPENAI_MODEL");
        let err =
            Settings::from_pairs(&[("ASKATT_KIND", "openai"), ("OPENAI_MODEL", "m")]).unwrap_err();
        assert_eq!(err.variable, "ASKATT_API_ENDPOINT");

        let s = Settings::from_pairs(&[
            ("ASKATT_KIND", "openai"),
            ("ASKATT_API_ENDPOINT", "http://127.0.0.1:11434"),
            ("OPENAI_MODEL", "llama3"),
            ("OPENAI_API_KEY", "sk-secret-value"),
        ])
        .unwrap();
        match s.upstream.upstream_config().askatt {
            ServiceRoute::OpenAi { model, api_key, .. } => {
                assert_eq!(model, "llama3");
                assert_eq!(api_key.unwrap().expose_secret(), "sk-secret-value");
            }
            other => panic!("expected the openai route, got {other:?}"),
        }
        assert!(!format!("{s:?}").contains("sk-secret-value"));
    }

    #[test]
    fn allowed_hosts_default_to_the_configured_endpoints_and_extend_with_the_setting() {
        let url = |raw: &str| Url::parse(raw).unwrap();
        let nothing = Settings::from_pairs(&[]).unwrap();
        let hosts = nothing.upstream.allowed_hosts();
        assert!(hosts.patterns().is_empty());
        assert!(hosts.check(&url("http://127.0.0.1:9000/")).is_err());

        let s = Settings::from_pairs(&[
            ("APP_ENV", "development"),
            ("ASKATT_API_ENDPOINT", "https://askatt.example.com/api"),
            ("ASKDOCS_API_BASE_ENDPOINT", "http://10.0.0.7:8000/askdocs"),
        ])
        .unwrap();
        let hosts = s.upstream.allowed_hosts();
        assert!(
            hosts
                .check(&url("https://askatt.example.com/other"))
                .is_ok()
        );
        assert!(hosts.check(&url("http://10.0.0.7:9000/hr")).is_ok());
        assert!(hosts.check(&url("https://docs.example.com/hr")).is_err());

        let s = Settings::from_pairs(&[
            ("APP_ENV", "development"),
            ("ASKATT_API_ENDPOINT", "https://askatt.example.com/api"),
            (
                "UPSTREAM_ALLOWED_HOSTS",
                " *.askdocs.example.com , 127.0.0.1,,",
            ),
        ])
        .unwrap();
        let hosts = s.upstream.allowed_hosts();
        assert!(
            hosts
                .check(&url("https://hr.askdocs.example.com/chat"))
                .is_ok()
        );
        assert!(hosts.check(&url("http://127.0.0.1:9000/")).is_ok());
        assert!(hosts.check(&url("https://askatt.example.com/")).is_ok());
        assert!(hosts.check(&url("http://localhost:9000/")).is_err());
    }

    #[test]
    fn production_domain_endpoints_need_https() {
        let s = Settings::from_pairs(&[
            ("APP_ENV", "production"),
            ("JWT_SECRET", "production-secret-production-secret-0123"),
            ("UPSTREAM_ALLOWED_HOSTS", "docs.example.com"),
        ])
        .unwrap();
        let hosts = s.upstream.allowed_hosts();
        let url = |raw: &str| Url::parse(raw).unwrap();
        assert!(hosts.check(&url("https://docs.example.com/hr")).is_ok());
        assert!(hosts.check(&url("http://docs.example.com/hr")).is_err());
    }

    #[test]
    fn burst_defaults_to_the_rate_and_can_be_set() {
        let s = Settings::from_pairs(&[("RATE_LIMIT_PER_MINUTE", "2")]).unwrap();
        assert_eq!((s.rate_limit.per_minute, s.rate_limit.burst), (2, 2));
        let s = Settings::from_pairs(&[("RATE_LIMIT_PER_MINUTE", "60"), ("RATE_LIMIT_BURST", "5")])
            .unwrap();
        assert_eq!(
            s.rate_limit.limit_config(),
            RateLimitConfig {
                per_minute: 60,
                burst: 5
            }
        );
    }

    #[test]
    fn tiers_give_listed_roles_their_rate_and_the_others_the_default() {
        let s = Settings::from_pairs(&[
            ("RATE_LIMIT_PER_MINUTE", "10"),
            ("RATE_LIMIT_TIERS", " admin : 120 "),
        ])
        .unwrap();
        let tiers = s.rate_limit.limit_tiers();
        assert_eq!(tiers.for_role(Role::User), RateLimitConfig::per_minute(10));
        assert_eq!(
            tiers.for_role(Role::Admin),
            RateLimitConfig::per_minute(120)
        );

        let s = Settings::from_pairs(&[
            ("RATE_LIMIT_TIERS", "user:30,admin:120"),
            ("RATE_LIMIT_BURST", "5"),
        ])
        .unwrap();
        let tiers = s.rate_limit.limit_tiers();
        assert_eq!(
            tiers.for_role(Role::User),
            RateLimitConfig {
                per_minute: 30,
                burst: 5
            }
        );
        assert_eq!(
            tiers.for_role(Role::Admin),
            RateLimitConfig {
                per_minute: 120,
                burst: 5
            }
        );
        let unset = Settings::from_pairs(&[]).unwrap().rate_limit.limit_tiers();
        assert_eq!(
            unset,
            RateLimitTiers::uniform(RateLimitConfig::per_minute(30))
        );
    }

    #[test]
    fn bad_tiers_stop_start_up_with_one_line_naming_the_variable() {
        for (value, says) in [
            ("guest:10", "unknown role 'guest'"),
            ("user:many", "a rate must be a whole number"),
            ("user:0", "a rate must be a whole number"),
            ("user:-3", "a rate must be a whole number"),
            ("admin", "role:per-minute pairs"),
            ("user:30,user:40", "names the role 'user' twice"),
        ] {
            let err = Settings::from_pairs(&[("RATE_LIMIT_TIERS", value)]).unwrap_err();
            assert_eq!(err.variable, "RATE_LIMIT_TIERS", "{err}");
            let line = err.to_string();
            assert!(line.contains(says), "{value}: {line}");
            assert!(!line.contains('\n'), "{line}");
        }
    }

    #[test]
    fn the_recovery_window_follows_the_upstream_timeout_and_cannot_undercut_it() {
        let s = Settings::from_pairs(&[("UPSTREAM_TIMEOUT_MS", "2000")]).unwrap();
        assert_eq!(s.upstream.charge_recovery_after, Duration::from_secs(62));
        let s = Settings::from_pairs(&[
            ("UPSTREAM_TIMEOUT_MS", "2000"),
            ("CHARGE_RECOVERY_AFTER_SECONDS", "8"),
        ])
        .unwrap();
        assert_eq!(s.upstream.charge_recovery_after, Duration::from_secs(8));
        let err = Settings::from_pairs(&[
            ("UPSTREAM_TIMEOUT_MS", "2000"),
            ("CHARGE_RECOVERY_AFTER_SECONDS", "7"),
        ])
        .unwrap_err();
        assert_eq!(err.variable, "CHARGE_RECOVERY_AFTER_SECONDS");
    }

    #[test]
    fn each_bad_chat_value_names_its_variable_without_echoing_secrets() {
        for (name, value) in [
            ("ASKATT_API_ENDPOINT", "ftp://askatt"),
            ("ASKATT_KIND", "claude"),
            ("ASKDOCS_API_BASE_ENDPOINT", "not a url"),
            ("UPSTREAM_TIMEOUT_MS", "0"),
            ("CHARGE_RECOVERY_AFTER_SECONDS", "soon"),
            ("CHARGE_RECOVERY_AFTER_SECONDS", "35"),
            ("RATE_LIMIT_PER_MINUTE", "many"),
            ("RATE_LIMIT_BURST", "0"),
            ("REDIS_URL", "http://u:hunter2@127.0.0.1"),
            ("REDIS_RATE_LIMIT_FAILURE", "maybe"),
            ("UPSTREAM_ALLOWED_HOSTS", "https://docs.example.com"),
            ("UPSTREAM_ALLOWED_HOSTS", "*.com"),
            ("UPSTREAM_ALLOWED_HOSTS", "docs.example.com:443"),
        ] {
            let err = Settings::from_pairs(&[(name, value)]).unwrap_err();
            assert_eq!(err.variable, name, "{err}");
            assert!(!err.to_string().contains("hunter2"));
        }
    }
}
