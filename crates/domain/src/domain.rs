//! AskDocs domains: admin-managed document collections, each with its own upstream.

use std::fmt;

use crate::{DomainId, UserId};
use chrono::{DateTime, Utc};

/// Largest accepted `configuration`, serialized.
pub const MAX_CONFIGURATION_BYTES: usize = 16 * 1024;

/// A domain's unique name (`domains.name`): `^[a-z0-9][a-z0-9-]{0,62}$`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DomainSlug(String);

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
            Self::TargetRefused { field, .. } => field,
        }
    }
}

impl DomainSlug {
    pub fn parse(raw: &str) -> Result<Self, DomainValidationError> {
        let bytes = raw.as_bytes();
        let valid_char = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-';
        let ok = (1..=63).contains(&bytes.len())
            && bytes.first().is_some_and(|b| *b != b'-')
            && bytes.iter().all(valid_char);
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(DomainValidationError::InvalidSlug)
        }
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for DomainSlug {
    type Error = DomainValidationError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<DomainSlug> for String {
    fn from(s: DomainSlug) -> Self {
        s.0
    }
}

impl fmt::Display for DomainSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// 1–100 characters after trimming, none of them control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

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

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for DisplayName {
    type Error = DomainValidationError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<DisplayName> for String {
    fn from(s: DisplayName) -> Self {
        s.0
    }
}

/// An absolute `http`/`https` URL with a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiEndpoint(String);

impl ApiEndpoint {
    pub fn parse(raw: &str) -> Result<Self, DomainValidationError> {
        let url =
            url::Url::parse(raw.trim()).map_err(|_| DomainValidationError::InvalidEndpoint)?;
        let ok = matches!(url.scheme(), "http" | "https")
            && url.host_str().is_some_and(|h| !h.is_empty());
        if ok {
            Ok(Self(url.to_string()))
        } else {
            Err(DomainValidationError::InvalidEndpoint)
        }
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The endpoint as a URL.
    #[must_use]
    pub fn url(&self) -> Option<url::Url> {
        url::Url::parse(&self.0).ok()
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
        s.0
    }
}

/// A domain's upstream settings: a JSON object of at most 16 KiB. Its `kind` key,
/// when present, picks the upstream adapter (`askdocs`, `openai`, `builtin`).
#[derive(Debug, Clone, PartialEq)]
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

    /// The `kind` key, if any.
    #[must_use]
    pub fn kind(&self) -> Option<&str> {
        self.0.get("kind").and_then(serde_json::Value::as_str)
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
#[derive(Debug, Clone, PartialEq)]
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
