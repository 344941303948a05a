//! AskDocs domains: everyone signed in lists the active ones; admins manage them.

pub mod create;
pub mod delete;
pub mod list;
pub mod update;

use askgate_domain::domain::Domain;
use askgate_domain::{DomainId, UserId};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// A domain as the API shows it. Where a domain's questions go (endpoint and
/// configuration) is shown to admins only.
#[derive(Debug, Serialize)]
pub(crate) struct DomainView {
    id: DomainId,
    name: String,
    display_name: String,
    description: Option<String>,
    is_active: bool,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    admin: Option<AdminFields>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
struct AdminFields {
    api_endpoint: Option<String>,
    configuration: serde_json::Value,
    created_by: Option<UserId>,
}

impl DomainView {
    pub(crate) fn new(domain: Domain, admin: bool) -> Self {
        Self {
            id: domain.id,
            name: domain.name.as_str().to_owned(),
            display_name: domain.display_name.as_str().to_owned(),
            description: domain.description,
            is_active: domain.is_active,
            admin: admin.then(|| AdminFields {
                api_endpoint: domain.api_endpoint.map(|e| e.as_str().to_owned()),
                configuration: domain.configuration.to_value(),
                created_by: domain.created_by,
            }),
            created_at: domain.created_at,
            updated_at: domain.updated_at,
        }
    }
}
