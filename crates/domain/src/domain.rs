//! AskDocs domains: admin-managed document collections, each with its own upstream.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::newtype::string_newtype;
use crate::{DomainId, UserId};

/// Largest accepted `configuration`, serialized.
pub const MAX_CONFIGURATION_BYTES: usize = 16 * 1024;

string_newtype! {
    /// A domain's unique name (`domains.name`): `^[a-z0-9][a-z0-9-]{0,62}$`.
    pub struct DomainSlug(String), check = DomainValidationError;
}

/// Why a domain was refused. Each variant names the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainValidationError {
    #[error("name must be 1 to 63 characters of a-z, 0-9 and '-', starting with a letter or digit")]
    InvalidSlug,
    #[error("display_name must be 1 to 100 characters without control characters")]
    InvalidDisplayName,
    #[error("description must be at most 2000 characters")]
    DescriptionTooLong,
    #[error("description must not contain NUL characters")]
    DescriptionNotStorable,
    #[error("api_endpoint must be an absolute http or https URL")]
    InvalidEndpoint,
    #[error("configuration must be a JSON object")]
    ConfigurationNotAnObject,
    #[error("configuration must be at most 16 KiB")]
    ConfigurationTooLarge,
    #[error("configuration must not contain NUL characters")]
    ConfigurationNotStorable,
    #[error(
        "configuration.scope cannot be set: the token scopes askgate sends are server settings (AZURE_AD_SCOPE, AZURE_AD_DOMAIN_QNA_SCOPE)"
    )]
    ScopeNotAllowed,
    #[error("configuration.base_url must be an absolute http or https URL")]
    InvalidBaseUrl,
    #[error("configuration.kind must be one of \"askdocs\", \"openai\" or \"builtin\"")]
    UnknownKind,
    /// The URL is well formed but the operator's rules refuse it.
    #[error("{field} is not allowed: {reason}")]
    TargetRefused { field: &'static str, reason: String },
}

impl DomainValidationError {
    /// The request field this error is about.
    #[must_use]
    pub const fn field(&self) -> &'static str {
        match self {
            Self::InvalidSlug => "name",
            Self::InvalidDisplayName => "display_name",
            Self::DescriptionTooLong | Self::DescriptionNotStorable => "description",
            Self::InvalidEndpoint => "api_endpoint",
            Self::ConfigurationNotAnObject
            | Self::ConfigurationTooLarge
            | Self::ConfigurationNotStorable => "configuration",
            Self::ScopeNotAllowed => "configuration.scope",
            Self::InvalidBaseUrl => "configuration.base_url",
            Self::UnknownKind => "configuration.kind",
            Self::TargetRefused { field, .. } => field,
        }
    }
}

impl DomainSlug {
    fn check(raw: &str) -> Result<(), DomainValidationError> {
        let bytes = raw.as_bytes();
        let valid_char = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-';
        let ok = (1..=63).contains(&bytes.len())
            && bytes.first().is_some_and(|b| *b != b'-')
            && bytes.iter().all(valid_char);
        if ok {
            Ok(())
        } else {
            Err(DomainValidationError::InvalidSlug)
        }
    }
}

string_newtype! {
    /// 1–100 characters after trimming, none of them control characters.
    pub struct DisplayName(String), parse = DomainValidationError;
}

impl DisplayName {
    pub fn parse(raw: &str) -> Result<Self, DomainValidationError> {
        let trimmed = raw.trim();
        let len = trimmed.chars().count();
        if (1..=100).contains(&len) && !trimmed.chars().any(char::is_control) {
            Ok(Self(trimmed.to_owned()))
        } else {
            Err(DomainValidationError::InvalidDisplayName)
        }
    }
}

/// An absolute `http`/`https` URL with a host, kept parsed. Not a
/// [`string_newtype!`]: its text is the URL's own serialisation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ApiEndpoint(url::Url);

impl ApiEndpoint {
    pub fn parse(raw: &str) -> Result<Self, DomainValidationError> {
        let url =
            url::Url::parse(raw.trim()).map_err(|_| DomainValidationError::InvalidEndpoint)?;
        let ok = matches!(url.scheme(), "http" | "https")
            && url.host_str().is_some_and(|h| !h.is_empty());
        if ok {
            Ok(Self(url))
        } else {
            Err(DomainValidationError::InvalidEndpoint)
        }
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The endpoint as a URL.
    #[must_use]
    pub const fn url(&self) -> &url::Url {
        &self.0
    }
}

impl TryFrom<String> for ApiEndpoint {
    type Error = DomainValidationError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ApiEndpoint> for String {
    fn from(s: ApiEndpoint) -> Self {
        s.0.into()
    }
}

/// Which upstream adapter answers a domain's questions: its configuration's
/// `kind` (`askdocs` when absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UpstreamKind {
    /// An AskDocs service: the domain's `api_endpoint`, or the configured base.
    AskDocs,
    /// An OpenAI-compatible chat completions API.
    OpenAi,
    /// The local, deterministic demo.
    Builtin,
}

impl UpstreamKind {
    pub const ALL: [Self; 3] = [Self::AskDocs, Self::OpenAi, Self::Builtin];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AskDocs => "askdocs",
            Self::OpenAi => "openai",
            Self::Builtin => "builtin",
        }
    }
}

impl FromStr for UpstreamKind {
    type Err = DomainValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or(DomainValidationError::UnknownKind)
    }
}

impl fmt::Display for UpstreamKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A domain's upstream settings: a JSON object of at most 16 KiB. Its `kind` key,
/// when present, picks the upstream adapter ([`UpstreamKind`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "serde_json::Value", into = "serde_json::Value")]
pub struct DomainConfiguration(serde_json::Map<String, serde_json::Value>);

impl DomainConfiguration {
    pub fn parse(value: serde_json::Value) -> Result<Self, DomainValidationError> {
        let serde_json::Value::Object(map) = value else {
            return Err(DomainValidationError::ConfigurationNotAnObject);
        };
        let size = serde_json::to_vec(&map)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
        if size > MAX_CONFIGURATION_BYTES {
            return Err(DomainValidationError::ConfigurationTooLarge);
        }
        if !map
            .iter()
            .all(|(k, v)| crate::text::is_storable(k) && crate::text::is_storable_json(v))
        {
            return Err(DomainValidationError::ConfigurationNotStorable);
        }
        Ok(Self(map))
    }

    #[must_use]
    pub fn empty() -> Self {
        Self(serde_json::Map::new())
    }

    #[must_use]
    pub fn as_map(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.0
    }

    #[must_use]
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::Value::Object(self.0.clone())
    }

    /// The `kind` key: [`UpstreamKind::AskDocs`] when absent or null, `UnknownKind`
    /// when it is not one of the kinds' names. Checked when a domain is saved;
    /// a row stored before that check may still hold an unknown one.
    pub fn kind(&self) -> Result<UpstreamKind, DomainValidationError> {
        match self.0.get("kind") {
            None | Some(serde_json::Value::Null) => Ok(UpstreamKind::AskDocs),
            Some(serde_json::Value::String(kind)) => kind.parse(),
            Some(_) => Err(DomainValidationError::UnknownKind),
        }
    }

    /// True when the configuration has a `scope` key. Token scopes are server
    /// settings only: a domain with one is refused when saved and when asked.
    #[must_use]
    pub fn names_a_scope(&self) -> bool {
        self.0.contains_key("scope")
    }

    /// `base_url`, an OpenAI-compatible domain's API base: `None` when absent,
    /// `Some(Err)` when it is not an absolute http(s) URL with a host.
    #[must_use]
    pub fn base_url(&self) -> Option<Result<url::Url, DomainValidationError>> {
        self.0.get("base_url").map(|value| {
            value
                .as_str()
                .and_then(|raw| url::Url::parse(raw.trim()).ok())
                .filter(|url| {
                    matches!(url.scheme(), "http" | "https")
                        && url.host_str().is_some_and(|h| !h.is_empty())
                })
                .ok_or(DomainValidationError::InvalidBaseUrl)
        })
    }
}

impl Default for DomainConfiguration {
    fn default() -> Self {
        Self::empty()
    }
}

impl TryFrom<serde_json::Value> for DomainConfiguration {
    type Error = DomainValidationError;

    fn try_from(value: serde_json::Value) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl From<DomainConfiguration> for serde_json::Value {
    fn from(c: DomainConfiguration) -> Self {
        Self::Object(c.0)
    }
}

/// An optional description of at most 2000 characters, without NUL.
pub fn parse_description(raw: Option<&str>) -> Result<Option<String>, DomainValidationError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(d) if !crate::text::is_storable(d) => {
            Err(DomainValidationError::DescriptionNotStorable)
        }
        Some(d) if d.chars().count() <= 2000 => Ok(Some(d.to_owned())),
        Some(_) => Err(DomainValidationError::DescriptionTooLong),
    }
}

/// A domain as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Domain {
    pub id: DomainId,
    pub name: DomainSlug,
    pub display_name: DisplayName,
    pub description: Option<String>,
    pub api_endpoint: Option<ApiEndpoint>,
    pub configuration: DomainConfiguration,
    pub is_active: bool,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A validated domain to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDomain {
    pub name: DomainSlug,
    pub display_name: DisplayName,
    pub description: Option<String>,
    pub api_endpoint: Option<ApiEndpoint>,
    pub configuration: DomainConfiguration,
    pub is_active: bool,
}

/// A validated full replacement of a domain's editable fields (`PUT`).
pub type DomainUpdate = NewDomain;

/// What deleting a domain did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainDeletion {
    /// Removed: nothing referred to it.
    Deleted,
    /// Ledger rows refer to it, so it was deactivated to keep history intact.
    Deactivated,
    NotFound,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn slugs_follow_the_pattern() {
        for good in ["a", "hr-policies", "0day", &"x".repeat(63)] {
            assert!(DomainSlug::parse(good).is_ok(), "{good:?}");
        }
        for bad in [
            "",
            "-lead",
            "Upper",
            "has space",
            "under_score",
            &"x".repeat(64),
            "ü",
        ] {
            assert_eq!(
                DomainSlug::parse(bad),
                Err(DomainValidationError::InvalidSlug),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn display_names_are_trimmed_and_bounded() {
        assert_eq!(DisplayName::parse("  HR  ").unwrap().as_str(), "HR");
        assert!(DisplayName::parse("   ").is_err());
        assert!(DisplayName::parse(&"é".repeat(100)).is_ok());
        assert!(DisplayName::parse(&"é".repeat(101)).is_err());
        for bad in ["a\0b", "line\nbreak", "bell\u{7}"] {
            assert_eq!(
                DisplayName::parse(bad),
                Err(DomainValidationError::InvalidDisplayName),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn text_that_cannot_be_stored_is_refused_with_its_field() {
        let err = parse_description(Some("a\0b")).unwrap_err();
        assert_eq!(err, DomainValidationError::DescriptionNotStorable);
        assert_eq!(err.field(), "description");
        let err = DomainConfiguration::parse(json!({"top_k": ["x\u{0}"]})).unwrap_err();
        assert_eq!(err, DomainValidationError::ConfigurationNotStorable);
        assert_eq!(err.field(), "configuration");
        assert!(DomainConfiguration::parse(json!({"k\u{0}": 1})).is_err());
    }

    #[test]
    fn endpoints_must_be_absolute_http_urls() {
        assert!(ApiEndpoint::parse("https://docs.example.com/chat").is_ok());
        assert!(ApiEndpoint::parse("http://127.0.0.1:9000").is_ok());
        for bad in [
            "/relative",
            "ftp://x.example",
            "not a url",
            "file:///etc/passwd",
        ] {
            assert_eq!(
                ApiEndpoint::parse(bad),
                Err(DomainValidationError::InvalidEndpoint),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_upstream_kind_is_askdocs_unless_named_and_must_be_known() {
        let kind = |value| DomainConfiguration::parse(value).unwrap().kind();
        assert_eq!(kind(json!({})), Ok(UpstreamKind::AskDocs));
        assert_eq!(kind(json!({"kind": null})), Ok(UpstreamKind::AskDocs));
        for known in UpstreamKind::ALL {
            assert_eq!(kind(json!({"kind": known.as_str()})), Ok(known));
        }
        for unknown in [json!("gpt"), json!("OpenAI"), json!(7), json!(["openai"])] {
            let err = kind(json!({ "kind": unknown })).unwrap_err();
            assert_eq!(err, DomainValidationError::UnknownKind, "{unknown}");
            assert_eq!(err.field(), "configuration.kind");
        }
    }

    #[test]
    fn configuration_must_be_a_small_object() {
        assert!(DomainConfiguration::parse(json!({"kind": "openai", "model": "m"})).is_ok());
        assert_eq!(
            DomainConfiguration::parse(json!([1, 2])),
            Err(DomainValidationError::ConfigurationNotAnObject)
        );
        let big = json!({ "blob": "x".repeat(MAX_CONFIGURATION_BYTES) });
        assert_eq!(
            DomainConfiguration::parse(big),
            Err(DomainValidationError::ConfigurationTooLarge)
        );
    }
}
