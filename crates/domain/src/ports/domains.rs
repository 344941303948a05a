use std::sync::Arc;

use async_trait::async_trait;

use crate::audit::AuditStamp;
use crate::domain::{Domain, DomainDeletion, DomainUpdate, NewDomain};
use crate::{DomainId, StoreError, UserId};

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait DomainRepository: Send + Sync {
    /// Active domains by name; all of them when `include_inactive`.
    async fn list(&self, include_inactive: bool) -> Result<Vec<Domain>, StoreError>;

    /// `Ok(None)` when there is no such domain (active or not). Shared, so a
    /// cache hands out the same domain to every question without copying it.
    async fn get(&self, id: DomainId) -> Result<Option<Arc<Domain>>, StoreError>;

    // Every change below is written with its admin audit record (`stamp`,
    // before and after as `Domain::audit_json` gives them) in one database
    // transaction: no change goes unrecorded, no record describes a change
    // that did not happen.

    /// MUST return `StoreError::Conflict` when the name is taken.
    async fn create(
        &self,
        domain: &NewDomain,
        created_by: UserId,
        stamp: &AuditStamp,
    ) -> Result<Domain, StoreError>;

    /// Replaces the editable fields; with `keep_allowed_roles`, all but who
    /// may ask, which stays as it is at that moment. `Ok(None)` when there is
    /// no such domain; MUST return `StoreError::Conflict` when the new name
    /// is taken.
    async fn update(
        &self,
        id: DomainId,
        update: &DomainUpdate,
        keep_allowed_roles: bool,
        stamp: &AuditStamp,
    ) -> Result<Option<Domain>, StoreError>;

    /// Deletes the domain, or deactivates it when ledger rows refer to it.
    async fn delete(&self, id: DomainId, stamp: &AuditStamp) -> Result<DomainDeletion, StoreError>;
}
