//! AskDocs domains.

use askgate_domain::domain::Domain;
use askgate_domain::services::DomainInput;
use askgate_domain::{DomainId, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A domain as an admin submits it (create and update replace every field;
/// an update without `allowed_roles` keeps who may ask).
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[schema(as = DomainInput)]
#[serde(deny_unknown_fields)]
pub struct DomainBody {
    /// Slug: lowercase letters, digits and dashes.
    #[schema(pattern = "^[a-z0-9][a-z0-9-]{0,62}$", min_length = 1, max_length = 63)]
    pub name: String,
    /// 1 to 100 characters after trimming, no control characters.
    #[schema(min_length = 1, max_length = 100)]
    pub display_name: String,
    /// At most 2000 characters.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    /// Where this domain's questions go: an http or https URL (https in
    /// production) whose host the operator allows (`UPSTREAM_ALLOWED_HOSTS`).
    #[serde(default)]
    pub api_endpoint: Option<String>,
    /// JSON object of at most 16 KiB: `kind` (`askdocs`, `openai`, `builtin`),
    /// and for `openai` `model`, `base_url` (an allowed host, like
    /// `api_endpoint`) and `system_prompt`. `scope` is refused: token scopes
    /// are server settings.
    #[serde(default)]
    pub configuration: Option<serde_json::Value>,
    #[serde(default)]
    pub is_active: Option<bool>,
    /// Who may see and ask this domain: Entra app role names (`roles` claim)
    /// or group object ids (`groups` claim), matched exactly; at most 50
    /// entries of 1 to 256 characters without spaces. Empty: everyone signed
    /// in. Admins always may. Absent: everyone on create, unchanged on update.
    #[serde(default)]
    #[schema(max_items = 50, example = json!(["Finance.Reader"]))]
    pub allowed_roles: Option<Vec<String>>,
}

impl From<DomainBody> for DomainInput {
    fn from(body: DomainBody) -> Self {
        let DomainBody {
            name,
            display_name,
            description,
            api_endpoint,
            configuration,
            is_active,
            allowed_roles,
        } = body;
        Self {
            name,
            display_name,
            description,
            api_endpoint,
            configuration,
            is_active,
            allowed_roles,
        }
    }
}

/// An AskDocs domain. `api_endpoint`, `configuration`, `allowed_roles` and
/// `created_by` are shown to admins only.
// To admins the three are always there (`null` when unset); to everyone else
// they are left out, hence the two layers of `Option`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = Domain)]
pub struct DomainView {
    #[schema(value_type = uuid::Uuid)]
    pub id: DomainId,
    pub name: String,
    pub display_name: String,
    pub description: Option<String>,
    pub is_active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub api_endpoint: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configuration: Option<serde_json::Value>,
    /// The app roles or groups that may see and ask it; empty: everyone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_roles: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<uuid::Uuid>)]
    pub created_by: Option<Option<UserId>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl DomainView {
    /// `admin`: whether the caller may see where the domain's questions go.
    #[must_use]
    pub fn new(domain: &Domain, admin: bool) -> Self {
        Self {
            id: domain.id,
            name: domain.name.as_str().to_owned(),
            display_name: domain.display_name.as_str().to_owned(),
            description: domain.description.clone(),
            is_active: domain.is_active,
            api_endpoint: admin
                .then(|| domain.api_endpoint.as_ref().map(|e| e.as_str().to_owned())),
            configuration: admin.then(|| domain.configuration.to_value()),
            allowed_roles: admin.then(|| domain.allowed_roles.as_slice().to_vec()),
            created_by: admin.then_some(domain.created_by),
            created_at: domain.created_at,
            updated_at: domain.updated_at,
        }
    }
}
