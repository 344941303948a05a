//! Managing AskDocs domains (admins) and reading them (everyone signed in).

use std::sync::Arc;

use tracing::instrument;

use crate::audit::{AuditAction, AuditStamp, NewAuditRecord};
use crate::domain::{
    AllowedRoles, ApiEndpoint, DisplayName, Domain, DomainConfiguration, DomainDeletion,
    DomainSlug, DomainValidationError, NewDomain, parse_description,
};
use crate::ports::{AdminStore, DomainRepository, UpstreamTargets, UserRepository};
use crate::user::{Actor, Memberships};
use crate::{BoxError, DomainId, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error("only admins may do this")]
    Forbidden,
    #[error("domain not found")]
    NotFound,
    #[error(transparent)]
    Invalid(#[from] DomainValidationError),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("service unavailable")]
    Unavailable(#[source] BoxError),
    #[error("unexpected error")]
    Unexpected(#[source] BoxError),
}

impl From<StoreError> for DomainError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => Self::Conflict(what),
            StoreError::Unavailable(src) => Self::Unavailable(src),
            StoreError::Unexpected(src) => Self::Unexpected(src),
        }
    }
}

/// A domain as an admin submits it, before validation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DomainInput {
    pub name: String,
    pub display_name: String,
    pub description: Option<String>,
    pub api_endpoint: Option<String>,
    pub configuration: Option<serde_json::Value>,
    /// Absent: active.
    pub is_active: Option<bool>,
    /// App role names or group ids that may see and ask the domain; empty:
    /// everyone. Absent: everyone for a new domain, unchanged on an update.
    pub allowed_roles: Option<Vec<String>>,
}

impl DomainInput {
    /// Validates every field; the first failure names its field. Where the
    /// domain's questions go is checked by [`DomainService`] against the
    /// operator's rules.
    pub fn validate(self) -> Result<NewDomain, DomainValidationError> {
        let api_endpoint = match self.api_endpoint.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(raw) => Some(ApiEndpoint::parse(raw)?),
        };
        let configuration = self
            .configuration
            .map(DomainConfiguration::parse)
            .transpose()?
            .unwrap_or_default();
        if configuration.names_a_scope() {
            return Err(DomainValidationError::ScopeNotAllowed);
        }
        configuration.kind()?;
        configuration.base_url().transpose()?;
        Ok(NewDomain {
            name: DomainSlug::parse(&self.name)?,
            display_name: DisplayName::parse(&self.display_name)?,
            description: parse_description(self.description.as_deref())?,
            api_endpoint,
            configuration,
            is_active: self.is_active.unwrap_or(true),
            allowed_roles: match &self.allowed_roles {
                Some(entries) => AllowedRoles::parse(entries)?,
                None => AllowedRoles::everyone(),
            },
        })
    }
}

pub struct DomainService {
    repo: Arc<dyn DomainRepository>,
    targets: Arc<dyn UpstreamTargets>,
    audit: Arc<dyn AdminStore>,
    users: Arc<dyn UserRepository>,
}

/// Whether `actor` may see and ask `domain` ([`Domain::admits`]), looking up
/// their memberships only when the domain is restricted and they are no admin.
pub(crate) async fn admitted(
    domain: &Domain,
    actor: &Actor,
    users: &dyn UserRepository,
) -> Result<bool, crate::StoreError> {
    if domain.admits(actor.role, &Memberships::none()) {
        return Ok(true);
    }
    let memberships = users.memberships(actor.user).await?;
    Ok(domain.admits(actor.role, &memberships))
}

/// What the audit log keeps of a domain: what identifies it and where its
/// questions go (its configuration may hold settings not meant for the log).
fn audited(domain: &Domain) -> serde_json::Value {
    serde_json::json!({
        "name": domain.name.as_str(),
        "display_name": domain.display_name.as_str(),
        "description": domain.description,
        "api_endpoint": domain.api_endpoint.as_ref().map(ApiEndpoint::as_str),
        "is_active": domain.is_active,
        "allowed_roles": domain.allowed_roles.as_slice(),
    })
}

impl DomainService {
    /// `targets` decides which upstream URLs a domain may name; `audit`
    /// records every change an admin makes; `users` knows the memberships a
    /// restricted domain is matched against.
    pub fn new(
        repo: Arc<dyn DomainRepository>,
        targets: Arc<dyn UpstreamTargets>,
        audit: Arc<dyn AdminStore>,
        users: Arc<dyn UserRepository>,
    ) -> Self {
        Self {
            repo,
            targets,
            audit,
            users,
        }
    }

    /// Records the change just made. The change is committed already, so a
    /// failure here is logged loudly and reported as an error.
    async fn record(
        &self,
        stamp: &AuditStamp,
        action: AuditAction,
        id: DomainId,
        before: Option<serde_json::Value>,
        after: Option<serde_json::Value>,
    ) -> Result<(), DomainError> {
        let record = NewAuditRecord {
            action,
            target: id.as_uuid(),
            before,
            after,
            reason: None,
        };
        self.audit.record(&record, stamp).await.map_err(|e| {
            tracing::error!(error = %e, %action, domain = %id, "a domain change was not audited");
            DomainError::from(e)
        })
    }

    /// Validates `input`, then checks the URLs its questions would go to
    /// (`api_endpoint`, `configuration.base_url`) against the operator's rules.
    fn validate(&self, input: DomainInput) -> Result<NewDomain, DomainValidationError> {
        let domain = input.validate()?;
        let refused = |field: &'static str| {
            move |reason: String| DomainValidationError::TargetRefused { field, reason }
        };
        if let Some(url) = domain.api_endpoint.as_ref().map(ApiEndpoint::url) {
            self.targets.check(url).map_err(refused("api_endpoint"))?;
        }
        if let Some(url) = domain.configuration.base_url().transpose()? {
            self.targets
                .check(&url)
                .map_err(refused("configuration.base_url"))?;
        }
        Ok(domain)
    }

    /// The active domains `actor` may see ([`Domain::admits`]); admins see
    /// every domain, and may also see inactive ones.
    pub async fn list(
        &self,
        actor: &Actor,
        include_inactive: bool,
    ) -> Result<Vec<Domain>, DomainError> {
        if include_inactive && !actor.is_admin() {
            return Err(DomainError::Forbidden);
        }
        let mut domains = self.repo.list(include_inactive).await?;
        let none = Memberships::none();
        if domains.iter().all(|d| d.admits(actor.role, &none)) {
            return Ok(domains);
        }
        let memberships = self.users.memberships(actor.user).await?;
        domains.retain(|d| d.admits(actor.role, &memberships));
        Ok(domains)
    }

    #[instrument(skip_all, fields(admin = %stamp.actor))]
    pub async fn create(
        &self,
        actor: &Actor,
        stamp: &AuditStamp,
        input: DomainInput,
    ) -> Result<Domain, DomainError> {
        Self::require_admin(actor)?;
        let domain = self.validate(input)?;
        let created = self.repo.create(&domain, actor.user).await?;
        let after = Some(audited(&created));
        self.record(stamp, AuditAction::DomainCreate, created.id, None, after)
            .await?;
        Ok(created)
    }

    #[instrument(skip_all, fields(admin = %stamp.actor, domain = %id))]
    pub async fn update(
        &self,
        actor: &Actor,
        stamp: &AuditStamp,
        id: DomainId,
        input: DomainInput,
    ) -> Result<Domain, DomainError> {
        Self::require_admin(actor)?;
        let keeps_access = input.allowed_roles.is_none();
        let mut update = self.validate(input)?;
        let before = self.repo.get(id).await?.ok_or(DomainError::NotFound)?;
        if keeps_access {
            update.allowed_roles = before.allowed_roles.clone();
        }
        let updated = self
            .repo
            .update(id, &update)
            .await?
            .ok_or(DomainError::NotFound)?;
        let (before, after) = (Some(audited(&before)), Some(audited(&updated)));
        self.record(stamp, AuditAction::DomainUpdate, id, before, after)
            .await?;
        Ok(updated)
    }

    /// Deletes, or deactivates a domain that ledger rows refer to.
    #[instrument(skip_all, fields(admin = %stamp.actor, domain = %id))]
    pub async fn delete(
        &self,
        actor: &Actor,
        stamp: &AuditStamp,
        id: DomainId,
    ) -> Result<DomainDeletion, DomainError> {
        Self::require_admin(actor)?;
        let before = self.repo.get(id).await?.ok_or(DomainError::NotFound)?;
        let done = self.repo.delete(id).await?;
        let after = match done {
            DomainDeletion::NotFound => return Err(DomainError::NotFound),
            DomainDeletion::Deleted => None,
            DomainDeletion::Deactivated => Some(serde_json::json!({ "is_active": false })),
        };
        self.record(
            stamp,
            AuditAction::DomainDelete,
            id,
            Some(audited(&before)),
            after,
        )
        .await?;
        Ok(done)
    }

    fn require_admin(actor: &Actor) -> Result<(), DomainError> {
        if actor.is_admin() {
            Ok(())
        } else {
            Err(DomainError::Forbidden)
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::UserId;
    use crate::ports::MockDomainRepository;
    use crate::user::Role;

    fn actor(role: Role) -> Actor {
        Actor {
            user: UserId::generate(),
            role,
        }
    }

    /// Upstream rules that allow `docs.example.com` only.
    struct OnlyDocsExample;

    impl UpstreamTargets for OnlyDocsExample {
        fn check(&self, url: &url::Url) -> Result<(), String> {
            if url.host_str() == Some("docs.example.com") {
                Ok(())
            } else {
                Err(format!(
                    "host {} is not allowed",
                    url.host_str().unwrap_or("")
                ))
            }
        }
    }

    fn service(repo: MockDomainRepository) -> DomainService {
        service_with(repo, crate::ports::MockUserRepository::new())
    }

    fn service_with(
        repo: MockDomainRepository,
        users: crate::ports::MockUserRepository,
    ) -> DomainService {
        let mut audit = crate::ports::MockAdminStore::new();
        audit.expect_record().never();
        DomainService::new(
            Arc::new(repo),
            Arc::new(OnlyDocsExample),
            Arc::new(audit),
            Arc::new(users),
        )
    }

    fn stored(name: &str, allowed: &[&str]) -> Domain {
        let now = chrono::Utc::now();
        Domain {
            id: DomainId::generate(),
            name: DomainSlug::parse(name).unwrap(),
            display_name: DisplayName::parse(name).unwrap(),
            description: None,
            api_endpoint: None,
            configuration: DomainConfiguration::empty(),
            is_active: true,
            allowed_roles: AllowedRoles::parse(allowed).unwrap(),
            created_by: None,
            created_at: now,
            updated_at: now,
        }
    }

    #[tokio::test]
    async fn a_list_shows_restricted_domains_only_to_their_roles_and_admins() {
        let mut repo = MockDomainRepository::new();
        repo.expect_list()
            .returning(|_| Ok(vec![stored("open", &[]), stored("finance", &["Finance"])]));
        let mut users = crate::ports::MockUserRepository::new();
        let ann = actor(Role::User);
        let bob = actor(Role::User);
        users.expect_memberships().returning(move |id| {
            Ok(if id == ann.user {
                Memberships::new(vec!["Finance".into()], vec![])
            } else {
                Memberships::new(vec!["Reader".into()], vec!["g-1".into()])
            })
        });
        let svc = service_with(repo, users);
        let names = |list: Vec<Domain>| {
            list.into_iter()
                .map(|d| d.name.as_str().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(svc.list(&ann, false).await.unwrap()),
            ["open", "finance"]
        );
        assert_eq!(names(svc.list(&bob, false).await.unwrap()), ["open"]);
        assert_eq!(
            names(svc.list(&actor(Role::Admin), false).await.unwrap()),
            ["open", "finance"]
        );
    }

    #[tokio::test]
    async fn an_open_list_never_looks_memberships_up() {
        let mut repo = MockDomainRepository::new();
        repo.expect_list()
            .returning(|_| Ok(vec![stored("open", &[])]));
        let mut users = crate::ports::MockUserRepository::new();
        users.expect_memberships().never();
        let svc = service_with(repo, users);
        assert_eq!(svc.list(&actor(Role::User), false).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn too_many_or_malformed_allowed_roles_are_refused_naming_the_field() {
        let mut repo = MockDomainRepository::new();
        repo.expect_create().never();
        repo.expect_update().never();
        let svc = service(repo);
        let admin = actor(Role::Admin);
        let too_many = (0..51).map(|i| format!("r{i}")).collect();
        for roles in [too_many, vec!["has space".to_owned()], vec![String::new()]] {
            let bad = DomainInput {
                allowed_roles: Some(roles),
                ..input()
            };
            match svc.create(&admin, &stamp(&admin), bad).await {
                Err(DomainError::Invalid(e)) => assert_eq!(e.field(), "allowed_roles"),
                other => panic!("expected a validation error, got {other:?}"),
            }
        }
    }

    fn stamp(actor: &Actor) -> AuditStamp {
        AuditStamp {
            actor: actor.user,
            request_id: None,
        }
    }

    fn input() -> DomainInput {
        DomainInput {
            name: "hr-policies".into(),
            display_name: "HR policies".into(),
            api_endpoint: Some("https://docs.example.com/hr".into()),
            configuration: Some(json!({"kind": "askdocs"})),
            ..DomainInput::default()
        }
    }

    #[tokio::test]
    async fn non_admins_cannot_write_domains_and_nothing_is_stored() {
        let mut repo = MockDomainRepository::new();
        repo.expect_create().never();
        repo.expect_delete().never();
        let svc = service(repo);
        let user = actor(Role::User);
        assert!(matches!(
            svc.create(&user, &stamp(&user), input()).await,
            Err(DomainError::Forbidden)
        ));
        assert!(matches!(
            svc.delete(&user, &stamp(&user), DomainId::generate()).await,
            Err(DomainError::Forbidden)
        ));
        assert!(matches!(
            svc.list(&user, true).await,
            Err(DomainError::Forbidden)
        ));
    }

    #[tokio::test]
    async fn invalid_input_names_the_field_and_stores_nothing() {
        let mut repo = MockDomainRepository::new();
        repo.expect_create().never();
        let svc = service(repo);
        let bad = DomainInput {
            api_endpoint: Some("ftp://x".into()),
            ..input()
        };
        match svc
            .create(&actor(Role::Admin), &stamp(&actor(Role::Admin)), bad)
            .await
        {
            Err(DomainError::Invalid(e)) => assert_eq!(e.field(), "api_endpoint"),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_scope_or_a_refused_upstream_url_names_its_field_and_stores_nothing() {
        let mut repo = MockDomainRepository::new();
        repo.expect_create().never();
        repo.expect_update().never();
        let svc = service(repo);
        let admin = actor(Role::Admin);
        let cases = [
            (
                DomainInput {
                    configuration: Some(
                        json!({"kind": "openai", "model": "m", "scope": "https://graph.microsoft.com/.default"}),
                    ),
                    ..input()
                },
                "configuration.scope",
            ),
            (
                DomainInput {
                    configuration: Some(
                        json!({"kind": "openai", "model": "m", "base_url": "http://169.254.169.254/"}),
                    ),
                    ..input()
                },
                "configuration.base_url",
            ),
            (
                DomainInput {
                    configuration: Some(json!({"kind": "openai", "model": "m", "base_url": 7})),
                    ..input()
                },
                "configuration.base_url",
            ),
            (
                DomainInput {
                    api_endpoint: Some("http://127.0.0.1:6379/".into()),
                    ..input()
                },
                "api_endpoint",
            ),
        ];
        for (bad, field) in cases {
            match svc.create(&admin, &stamp(&admin), bad.clone()).await {
                Err(DomainError::Invalid(e)) => assert_eq!(e.field(), field, "{e}"),
                other => panic!("expected a validation error on {field}, got {other:?}"),
            }
            match svc
                .update(&admin, &stamp(&admin), DomainId::generate(), bad)
                .await
            {
                Err(DomainError::Invalid(e)) => assert_eq!(e.field(), field, "{e}"),
                other => panic!("expected a validation error on {field}, got {other:?}"),
            }
        }
    }
}
