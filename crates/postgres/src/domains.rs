//! `DomainRepository` on PostgreSQL.

use std::sync::Arc;

use askgate_domain::domain::{Domain, DomainDeletion, DomainUpdate, NewDomain};
use askgate_domain::ports::DomainRepository;
use askgate_domain::{DomainId, StoreError, UserId};
use async_trait::async_trait;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::Database;
use crate::errors::{DbError, unique_violation};
use crate::models::{DomainFields, DomainRow};
use crate::schema::domains;

/// AskDocs domains.
#[derive(Debug, Clone)]
pub struct PgDomains {
    db: Database,
}

impl PgDomains {
    #[must_use]
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

fn fields(domain: &NewDomain) -> DomainFields<'_> {
    DomainFields {
        name: domain.name.as_str(),
        display_name: domain.display_name.as_str(),
        description: domain.description.as_deref(),
        api_endpoint: domain.api_endpoint.as_ref().map(|e| e.as_str()),
        configuration: domain.configuration.to_value(),
        is_active: domain.is_active,
        allowed_roles: domain.allowed_roles.as_slice(),
    }
}

/// `Conflict` when the name is taken, the port's error otherwise.
fn write_error(error: DieselError, name: &str) -> StoreError {
    if unique_violation(&error) == Some("domains_name_key") {
        StoreError::Conflict(format!("a domain named '{name}' already exists"))
    } else {
        DbError::from(error).into()
    }
}

fn to_domain(row: DomainRow) -> Result<Domain, StoreError> {
    Ok(Domain::try_from(row).map_err(DbError::from)?)
}

#[async_trait]
impl DomainRepository for PgDomains {
    async fn list(&self, include_inactive: bool) -> Result<Vec<Domain>, StoreError> {
        let mut conn = self.db.conn().await.map_err(DbError::from)?;
        let mut query = domains::table
            .select(DomainRow::as_select())
            .order(domains::name.asc())
            .into_boxed();
        if !include_inactive {
            query = query.filter(domains::is_active.eq(true));
        }
        let rows = query.load(&mut conn).await.map_err(DbError::from)?;
        rows.into_iter().map(to_domain).collect()
    }

    async fn get(&self, id: DomainId) -> Result<Option<Arc<Domain>>, StoreError> {
        let mut conn = self.db.conn().await.map_err(DbError::from)?;
        domains::table
            .find(id.as_uuid())
            .select(DomainRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map_err(DbError::from)?
            .map(|row| to_domain(row).map(Arc::new))
            .transpose()
    }

    #[tracing::instrument(skip_all, fields(name = domain.name.as_str()))]
    async fn create(&self, domain: &NewDomain, created_by: UserId) -> Result<Domain, StoreError> {
        let mut conn = self.db.conn().await.map_err(DbError::from)?;
        let row = diesel::insert_into(domains::table)
            .values((
                domains::id.eq(Uuid::now_v7()),
                fields(domain),
                domains::created_by.eq(created_by.as_uuid()),
            ))
            .returning(DomainRow::as_returning())
            .get_result(&mut conn)
            .await
            .map_err(|e| write_error(e, domain.name.as_str()))?;
        to_domain(row)
    }

    #[tracing::instrument(skip_all, fields(domain_id = %id))]
    async fn update(
        &self,
        id: DomainId,
        update: &DomainUpdate,
    ) -> Result<Option<Domain>, StoreError> {
        let mut conn = self.db.conn().await.map_err(DbError::from)?;
        diesel::update(domains::table.find(id.as_uuid()))
            .set((fields(update), domains::updated_at.eq(diesel::dsl::now)))
            .returning(DomainRow::as_returning())
            .get_result(&mut conn)
            .await
            .optional()
            .map_err(|e| write_error(e, update.name.as_str()))?
            .map(to_domain)
            .transpose()
    }

    /// Tries the DELETE; when anything (ledger rows, conversations) still refers
    /// to the domain, the foreign key refuses it and the domain is deactivated
    /// instead. Deciding by the database's own check leaves no window for a
    /// debit that lands between a "still referenced?" query and the DELETE.
    #[tracing::instrument(skip_all, fields(domain_id = %id))]
    async fn delete(&self, id: DomainId) -> Result<DomainDeletion, StoreError> {
        let mut conn = self.db.conn().await.map_err(DbError::from)?;
        let deleted = diesel::delete(domains::table.find(id.as_uuid()))
            .execute(&mut conn)
            .await;
        match deleted {
            Ok(0) => Ok(DomainDeletion::NotFound),
            Ok(_) => Ok(DomainDeletion::Deleted),
            Err(DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _)) => {
                let updated = diesel::update(domains::table.find(id.as_uuid()))
                    .set((
                        domains::is_active.eq(false),
                        domains::updated_at.eq(diesel::dsl::now),
                    ))
                    .execute(&mut conn)
                    .await
                    .map_err(DbError::from)?;
                Ok(if updated == 0 {
                    DomainDeletion::NotFound
                } else {
                    DomainDeletion::Deactivated
                })
            }
            Err(e) => Err(DbError::from(e).into()),
        }
    }
}
