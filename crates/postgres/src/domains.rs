//! `DomainRepository` on PostgreSQL.

use std::sync::Arc;

use askgate_domain::audit::{AuditAction, AuditStamp, NewAuditRecord};
use askgate_domain::domain::{Domain, DomainDeletion, DomainUpdate, NewDomain};
use askgate_domain::ports::DomainRepository;
use askgate_domain::{DomainId, StoreError, UserId};
use async_trait::async_trait;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::Database;
use crate::admin::insert_record;
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
    Ok(domain_of(row)?)
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
    async fn create(
        &self,
        domain: &NewDomain,
        created_by: UserId,
        stamp: &AuditStamp,
    ) -> Result<Domain, StoreError> {
        let mut conn = self.db.conn().await.map_err(DbError::from)?;
        conn.transaction::<_, Failed, _>(async |tx| {
            let row = diesel::insert_into(domains::table)
                .values((
                    domains::id.eq(Uuid::now_v7()),
                    fields(domain),
                    domains::created_by.eq(created_by.as_uuid()),
                ))
                .returning(DomainRow::as_returning())
                .get_result(tx)
                .await?;
            let created = domain_of(row)?;
            audit(
                tx,
                AuditAction::DomainCreate,
                &created,
                None,
                Some(created.audit_json()),
                stamp,
            )
            .await?;
            Ok(created)
        })
        .await
        .map_err(|e| e.into_store(domain.name.as_str()))
    }

    #[tracing::instrument(skip_all, fields(domain_id = %id))]
    async fn update(
        &self,
        id: DomainId,
        update: &DomainUpdate,
        keep_allowed_roles: bool,
        stamp: &AuditStamp,
    ) -> Result<Option<Domain>, StoreError> {
        let mut conn = self.db.conn().await.map_err(DbError::from)?;
        conn.transaction::<_, Failed, _>(async |tx| {
            let Some(before) = lock(tx, id).await? else {
                return Ok(None);
            };
            let mut update = update.clone();
            if keep_allowed_roles {
                update.allowed_roles = before.allowed_roles.clone();
            }
            let row = diesel::update(domains::table.find(id.as_uuid()))
                .set((fields(&update), domains::updated_at.eq(diesel::dsl::now)))
                .returning(DomainRow::as_returning())
                .get_result(tx)
                .await?;
            let updated = domain_of(row)?;
            let (was, is) = (before.audit_json(), updated.audit_json());
            audit(
                tx,
                AuditAction::DomainUpdate,
                &updated,
                Some(was),
                Some(is),
                stamp,
            )
            .await?;
            Ok(Some(updated))
        })
        .await
        .map_err(|e| e.into_store(update.name.as_str()))
    }

    /// Tries the DELETE; when anything (ledger rows, conversations) still refers
    /// to the domain, the foreign key refuses it and the domain is deactivated
    /// instead. Deciding by the database's own check leaves no window for a
    /// debit that lands between a "still referenced?" query and the DELETE.
    /// The DELETE runs in a savepoint, so its refusal leaves the transaction
    /// (the lock, the audit record) usable.
    #[tracing::instrument(skip_all, fields(domain_id = %id))]
    async fn delete(&self, id: DomainId, stamp: &AuditStamp) -> Result<DomainDeletion, StoreError> {
        let mut conn = self.db.conn().await.map_err(DbError::from)?;
        conn.transaction::<_, Failed, _>(async |tx| {
            let Some(before) = lock(tx, id).await? else {
                return Ok(DomainDeletion::NotFound);
            };
            let deleted = tx
                .transaction::<_, DieselError, _>(async |savepoint| {
                    diesel::delete(domains::table.find(id.as_uuid()))
                        .execute(savepoint)
                        .await
                })
                .await;
            let (done, after) = match deleted {
                Ok(_) => (DomainDeletion::Deleted, None),
                Err(DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _)) => {
                    diesel::update(domains::table.find(id.as_uuid()))
                        .set((
                            domains::is_active.eq(false),
                            domains::updated_at.eq(diesel::dsl::now),
                        ))
                        .execute(tx)
                        .await?;
                    (
                        DomainDeletion::Deactivated,
                        Some(serde_json::json!({ "is_active": false })),
                    )
                }
                Err(e) => return Err(e.into()),
            };
            audit(
                tx,
                AuditAction::DomainDelete,
                &before,
                Some(before.audit_json()),
                after,
                stamp,
            )
            .await?;
            Ok(done)
        })
        .await
        .map_err(|e| e.into_store(""))
    }
}

/// Why a domain change's transaction stopped.
enum Failed {
    Write(DieselError),
    Db(DbError),
}

impl From<DieselError> for Failed {
    fn from(e: DieselError) -> Self {
        Self::Write(e)
    }
}

impl From<DbError> for Failed {
    fn from(e: DbError) -> Self {
        Self::Db(e)
    }
}

impl Failed {
    /// `name`: the domain's name, for the conflict's message.
    fn into_store(self, name: &str) -> StoreError {
        match self {
            Self::Write(e) => write_error(e, name),
            Self::Db(e) => e.into(),
        }
    }
}

fn domain_of(row: DomainRow) -> Result<Domain, DbError> {
    Domain::try_from(row).map_err(DbError::from)
}

/// The domain, locked until the transaction ends.
async fn lock(tx: &mut AsyncPgConnection, id: DomainId) -> Result<Option<Domain>, Failed> {
    let row = domains::table
        .find(id.as_uuid())
        .select(DomainRow::as_select())
        .for_update()
        .first(tx)
        .await
        .optional()?;
    Ok(row.map(domain_of).transpose()?)
}

async fn audit(
    tx: &mut AsyncPgConnection,
    action: AuditAction,
    domain: &Domain,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
    stamp: &AuditStamp,
) -> Result<(), DieselError> {
    let record = NewAuditRecord {
        action,
        target: domain.id.as_uuid(),
        before,
        after,
        reason: None,
    };
    insert_record(tx, &record, stamp).await
}
