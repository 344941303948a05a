//! AskDocs domains: admin-managed document collections, each with its own upstream.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::newtype::string_newtype;
use crate::user::{Memberships, Role};
use crate::{DomainId, UserId};

/// Largest accepted `configuration`, serialized.
pub const MAX_CONFIGURATION_BYTES: usize = 16 * 1024;

/// Most entries a domain's `allowed_roles` may hold.
pub const MAX_ALLOWED_ROLES: usize = 50;

/// Longest entry of `allowed_roles`, in characters.
pub const MAX_ROLE_NAME_CHARS: usize = 256;

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
    #[error("allowed_roles must have at most 50 entries")]
    TooManyAllowedRoles,
    #[error(
        "allowed_roles entries must be Entra app role names or group ids: 1 to 256 characters without spaces or control characters"
    )]
    InvalidAllowedRole,
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
            Self::TooManyAllowedRoles | Self::InvalidAllowedRole => "allowed_roles",
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

/// Who may see and ask a domain: Entra app role names (the `roles` claim) and
/// group object ids (the `groups` claim), matched exactly. Empty: everyone.
/// At most [`MAX_ALLOWED_ROLES`] distinct entries of 1 to
/// [`MAX_ROLE_NAME_CHARS`] characters without whitespace or control characters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedRoles(Vec<String>);

impl AllowedRoles {
    /// Trims each entry and drops repeats, keeping the first order.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, DomainValidationError> {
        let mut kept: Vec<String> = Vec::with_capacity(entries.len());
        for entry in entries {
            let entry = entry.as_ref().trim();
            let ok = (1..=MAX_ROLE_NAME_CHARS).contains(&entry.chars().count())
                && !entry.chars().any(|c| c.is_whitespace() || c.is_control());
            if !ok {
                return Err(DomainValidationError::InvalidAllowedRole);
            }
            if !kept.iter().any(|k| k == entry) {
                kept.push(entry.to_owned());
            }
        }
        if kept.len() > MAX_ALLOWED_ROLES {
            return Err(DomainValidationError::TooManyAllowedRoles);
        }
        Ok(Self(kept))
    }

    /// No restriction: everyone signed in.
    #[must_use]
    pub const fn everyone() -> Self {
        Self(Vec::new())
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    #[must_use]
    pub fn as_slice(&self) -> &[String] {
        &self.0
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
    /// Who may see and ask it; empty: everyone.
    pub allowed_roles: AllowedRoles,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Domain {
    /// Whether a user with `role` and `memberships` may see this domain and
    /// ask it: every admin, everyone when it is not restricted, and otherwise
    /// whoever holds one of its allowed app roles or groups. The one place
    /// that decides; whatever lists or asks domains goes through it.
    ///
    /// An answer of `true` with [`Memberships::none`] needs no memberships:
    /// callers ask that first and look the user's up only when it is `false`.
    #[must_use]
    pub fn admits(&self, role: Role, memberships: &Memberships) -> bool {
        role.is_admin()
            || self.allowed_roles.is_empty()
            || self
                .allowed_roles
                .as_slice()
                .iter()
                .any(|allowed| memberships.holds(allowed))
    }
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
    pub allowed_roles: AllowedRoles,
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
    fn allowed_roles_are_trimmed_deduplicated_and_bounded() {
        let roles = AllowedRoles::parse(&[
            " Finance ",
            "Finance",
            "0f6c1c2e-1d0b-4f3e-9a55-4b1d2c3e4f50",
        ])
        .unwrap();
        assert_eq!(
            roles.as_slice(),
            ["Finance", "0f6c1c2e-1d0b-4f3e-9a55-4b1d2c3e4f50"]
        );
        assert!(AllowedRoles::parse::<&str>(&[]).unwrap().is_empty());
        for bad in [
            "",
            "   ",
            "two words",
            "tab\there",
            "nul\0",
            &"r".repeat(257),
        ] {
            let err = AllowedRoles::parse(&[bad]).unwrap_err();
            assert_eq!(err, DomainValidationError::InvalidAllowedRole, "{bad:?}");
            assert_eq!(err.field(), "allowed_roles");
        }
        assert!(AllowedRoles::parse(&["r".repeat(256)]).is_ok());
        let many: Vec<String> = (0..=MAX_ALLOWED_ROLES)
            .map(|i| format!("role-{i}"))
            .collect();
        assert_eq!(
            AllowedRoles::parse(&many),
            Err(DomainValidationError::TooManyAllowedRoles)
        );
        assert!(AllowedRoles::parse(&many[..MAX_ALLOWED_ROLES]).is_ok());
    }

    fn restricted_to(roles: &[&str]) -> Domain {
        Domain {
            id: DomainId::generate(),
            name: DomainSlug::parse("finance").unwrap(),
            display_name: DisplayName::parse("Finance").unwrap(),
            description: None,
            api_endpoint: None,
            configuration: DomainConfiguration::empty(),
            is_active: true,
            allowed_roles: AllowedRoles::parse(roles).unwrap(),
            created_by: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn a_restricted_domain_admits_admins_and_holders_of_an_allowed_role_or_group() {
        let domain = restricted_to(&["Finance", "g-1"]);
        let none = Memberships::none();
        assert!(!domain.admits(Role::User, &none));
        assert!(domain.admits(Role::Admin, &none));
        let by_role = Memberships::new(vec!["Finance".into()], vec![]);
        let by_group = Memberships::new(vec![], vec!["g-1".into()]);
        let other = Memberships::new(vec!["finance".into(), "Reader".into()], vec!["g-2".into()]);
        assert!(domain.admits(Role::User, &by_role));
        assert!(domain.admits(Role::User, &by_group));
        assert!(
            !domain.admits(Role::User, &other),
            "matched exactly, case included"
        );
        assert!(restricted_to(&[]).admits(Role::User, &none));
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
