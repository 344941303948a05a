//! `AdminStore` on PostgreSQL: every change of an account is written with its
//! `admin_audit` record in one transaction, so no admin action goes unrecorded
//! and no record describes a change that did not happen.

use askgate_domain::audit::{
    AuditAction, AuditFilter, AuditReason, AuditRecord, AuditStamp, NewAuditRecord,
};
use askgate_domain::ledger::{EntryKind, Recorded};
use askgate_domain::page::{Cursor, Page, PageRequest};
use askgate_domain::ports::{
    AccountChange, AdminCredit, AdminCreditError, AdminStore, UserOverview,
};
use askgate_domain::user::{Role, User};
use askgate_domain::{StoreError, UserId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel::sql_types::{Bool, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::Database;
use crate::errors::DbError;
use crate::errors::store;
use crate::models::{NewTransactionRow, TransactionRow, UserRow};
use crate::schema::{admin_audit, conversations, sessions, transactions, users};

/// `sessions.revoked_reason` of the sessions an admin action ended.
const REASON_DISABLED: &str = "account_disabled";
const REASON_DEMOTED: &str = "role_changed";

/// Admin reads and changes of accounts.
#[derive(Debug, Clone)]
pub struct PgAdmin {
    db: Database,
}

impl PgAdmin {
    #[must_use]
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

fn user_of(row: UserRow) -> Result<User, DbError> {
    User::try_from(row).map_err(DbError::from)
}

/// The user's sort key in the admin list: last sign-in, or creation.
fn last_seen(user: &User) -> DateTime<Utc> {
    user.last_login.unwrap_or(user.created_at)
}

/// Writes one audit record inside the caller's transaction.
pub(crate) async fn insert_record(
    conn: &mut AsyncPgConnection,
    record: &NewAuditRecord,
    stamp: &AuditStamp,
) -> Result<(), DieselError> {
    diesel::insert_into(admin_audit::table)
        .values((
            admin_audit::id.eq(Uuid::now_v7()),
            admin_audit::actor_id.eq(stamp.actor.as_uuid()),
            admin_audit::action.eq(record.action.as_str()),
            admin_audit::target_type.eq(record.action.target_kind().as_str()),
            admin_audit::target_id.eq(record.target),
            admin_audit::before.eq(record.before.as_ref()),
            admin_audit::after.eq(record.after.as_ref()),
            admin_audit::reason.eq(record.reason.as_ref().map(AuditReason::as_str)),
            admin_audit::request_id.eq(stamp.request_id.as_deref()),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Ends every open session of `user`; how many were open.
async fn revoke_sessions(
    conn: &mut AsyncPgConnection,
    user: Uuid,
    reason: &str,
) -> Result<usize, DieselError> {
    diesel::update(
        sessions::table
            .filter(sessions::user_id.eq(user))
            .filter(sessions::revoked_at.is_null()),
    )
    .set((
        sessions::revoked_at.eq(diesel::dsl::now),
        sessions::revoked_reason.eq(reason),
    ))
    .execute(conn)
    .await
}

async fn lock_user(
    conn: &mut AsyncPgConnection,
    user: Uuid,
) -> Result<Option<UserRow>, DieselError> {
    users::table
        .find(user)
        .select(UserRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

async fn find_by_key(
    conn: &mut AsyncPgConnection,
    key: &str,
) -> Result<Option<TransactionRow>, DieselError> {
    transactions::table
        .filter(transactions::idempotency_key.eq(key))
        .select(TransactionRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// Why the credit's transaction stopped.
enum Stop {
    Db(DbError),
    UserNotFound,
    BelowZero(i32),
    Overflow,
    /// Another call with the same key committed first.
    Duplicate,
}

impl From<DieselError> for Stop {
    fn from(e: DieselError) -> Self {
        Self::Db(e.into())
    }
}

/// The account change and its audit record, once the user row is locked.
type Change = Result<AccountChange, DbError>;

#[async_trait]
impl AdminStore for PgAdmin {
    async fn users(
        &self,
        search: Option<String>,
        page: PageRequest,
    ) -> Result<Page<User>, StoreError> {
        let mut conn = self.db.conn().await.map_err(store)?;
        let limit = usize::from(page.limit.get());
        let mut query = users::table
            .select(UserRow::as_select())
            .order((
                sql::<Timestamptz>("COALESCE(users.last_login, users.created_at) DESC"),
                users::id.desc(),
            ))
            .limit(i64::from(page.limit.get()) + 1)
            .into_boxed();
        if let Some(search) = search {
            let pattern = format!(
                "%{}%",
                search
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
            );
            query = query.filter(
                users::email
                    .ilike(pattern.clone())
                    .or(users::display_name.ilike(pattern)),
            );
        }
        if let Some(after) = page.after {
            query = query.filter(
                sql::<Bool>("(COALESCE(users.last_login, users.created_at), users.id) < (")
                    .bind::<Timestamptz, _>(after.created_at)
                    .sql(", ")
                    .bind::<SqlUuid, _>(after.id)
                    .sql(")"),
            );
        }
        let mut rows = query.load(&mut conn).await.map_err(store)?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let items = rows
            .into_iter()
            .map(user_of)
            .collect::<Result<Vec<_>, _>>()
            .map_err(store)?;
        let next_cursor = match items.last() {
            Some(last) if more => Some(
                Cursor {
                    created_at: last_seen(last),
                    id: last.id.as_uuid(),
                }
                .encode(),
            ),
            _ => None,
        };
        Ok(Page { items, next_cursor })
    }

    async fn user(&self, id: UserId) -> Result<Option<UserOverview>, StoreError> {
        let mut conn = self.db.conn().await.map_err(store)?;
        let row = users::table
            .find(id.as_uuid())
            .select(UserRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map_err(store)?;
        let Some(row) = row else { return Ok(None) };
        let conversations = conversations::table
            .filter(conversations::user_id.eq(id.as_uuid()))
            .count()
            .get_result::<i64>(&mut conn)
            .await
            .map_err(store)?;
        Ok(Some(UserOverview {
            user: user_of(row).map_err(store)?,
            conversations,
        }))
    }

    #[tracing::instrument(skip_all, fields(user_id = %credit.user, admin = %credit.stamp.actor))]
    async fn credit(&self, credit: &AdminCredit) -> Result<Recorded, AdminCreditError> {
        let mut conn = self.db.conn().await.map_err(DbError::from)?;
        let key = credit.idempotency_key.as_str();
        let entry = |row: TransactionRow| {
            askgate_domain::ledger::LedgerEntry::try_from(row).map_err(DbError::from)
        };
        if let Some(row) = find_by_key(&mut conn, key).await.map_err(DbError::from)? {
            return Ok(Recorded::Duplicate(entry(row)?));
        }
        let user = credit.user.as_uuid();
        let amount = credit.amount;
        let kind = EntryKind::from(credit.kind);
        let written = conn
            .transaction::<_, Stop, _>(async |tx| {
                // One conditional statement: never below zero, never past the maximum.
                let target = users::table.find(user);
                let changed = if amount < 0 {
                    diesel::update(target.filter(users::tokens.ge(-amount)))
                        .set(users::tokens.eq(users::tokens + amount))
                        .returning(users::tokens)
                        .get_result::<i32>(tx)
                        .await
                } else {
                    diesel::update(target.filter(users::tokens.le(i32::MAX - amount)))
                        .set(users::tokens.eq(users::tokens + amount))
                        .returning(users::tokens)
                        .get_result::<i32>(tx)
                        .await
                }
                .optional()?;
                let Some(after) = changed else {
                    let balance = users::table
                        .find(user)
                        .select(users::tokens)
                        .first::<i32>(tx)
                        .await
                        .optional()?;
                    return Err(match balance {
                        None => Stop::UserNotFound,
                        Some(balance) if amount < 0 => Stop::BelowZero(balance),
                        Some(_) => Stop::Overflow,
                    });
                };
                let metadata = json!({
                    "reason": credit.reason.as_str(),
                    "admin_id": credit.stamp.actor,
                });
                let row = diesel::insert_into(transactions::table)
                    .values(&NewTransactionRow {
                        id: Uuid::now_v7(),
                        user_id: user,
                        transaction_type: kind.as_str(),
                        amount,
                        balance_after: after,
                        stripe_payment_intent_id: None,
                        idempotency_key: Some(key),
                        service_type: None,
                        domain_id: None,
                        refunds_transaction_id: None,
                        metadata: &metadata,
                    })
                    .on_conflict_do_nothing()
                    .returning(TransactionRow::as_returning())
                    .get_result(tx)
                    .await
                    .optional()?
                    .ok_or(Stop::Duplicate)?;
                let action = match credit.kind {
                    askgate_domain::ledger::CreditKind::Grant => AuditAction::Grant,
                    askgate_domain::ledger::CreditKind::Adjustment => AuditAction::Adjustment,
                };
                insert_record(
                    tx,
                    &NewAuditRecord {
                        action,
                        target: user,
                        before: Some(json!({ "tokens": after - amount })),
                        after: Some(json!({ "tokens": after, "transaction_id": row.id })),
                        reason: Some(credit.reason.clone()),
                    },
                    &credit.stamp,
                )
                .await?;
                Ok(row)
            })
            .await;
        match written {
            Ok(row) => Ok(Recorded::Applied(entry(row)?)),
            Err(Stop::Duplicate) => {
                let row = find_by_key(&mut conn, key)
                    .await
                    .map_err(DbError::from)?
                    .ok_or_else(|| {
                        AdminCreditError::Unexpected(
                            "the duplicate ledger row was not found".into(),
                        )
                    })?;
                Ok(Recorded::Duplicate(entry(row)?))
            }
            Err(Stop::UserNotFound) => Err(AdminCreditError::UserNotFound),
            Err(Stop::BelowZero(balance)) => Err(AdminCreditError::BelowZero { balance }),
            Err(Stop::Overflow) => Err(AdminCreditError::Overflow),
            Err(Stop::Db(e)) => Err(e.into()),
        }
    }

    #[tracing::instrument(skip_all, fields(user_id = %user, disabled))]
    async fn set_disabled(
        &self,
        user: UserId,
        disabled: bool,
        reason: Option<AuditReason>,
        stamp: &AuditStamp,
    ) -> Result<AccountChange, StoreError> {
        let mut conn = self.db.conn().await.map_err(store)?;
        let id = user.as_uuid();
        let change: Change = conn
            .transaction::<_, DbError, _>(async |tx| {
                let Some(before) = lock_user(tx, id).await? else {
                    return Ok(AccountChange::NotFound);
                };
                if before.disabled_at.is_some() == disabled {
                    return Ok(AccountChange::Unchanged(user_of(before)?));
                }
                let at = disabled.then(Utc::now);
                let row = diesel::update(users::table.find(id))
                    .set((
                        users::disabled_at.eq(at),
                        users::updated_at.eq(diesel::dsl::now),
                    ))
                    .returning(UserRow::as_returning())
                    .get_result(tx)
                    .await?;
                let mut after = json!({ "disabled": disabled });
                if disabled {
                    let revoked = revoke_sessions(tx, id, REASON_DISABLED).await?;
                    after["sessions_revoked"] = json!(revoked);
                }
                let action = if disabled {
                    AuditAction::Disable
                } else {
                    AuditAction::Enable
                };
                insert_record(
                    tx,
                    &NewAuditRecord {
                        action,
                        target: id,
                        before: Some(json!({ "disabled": !disabled })),
                        after: Some(after),
                        reason,
                    },
                    stamp,
                )
                .await?;
                Ok(AccountChange::Changed(user_of(row)?))
            })
            .await;
        change.map_err(StoreError::from)
    }

    #[tracing::instrument(skip_all, fields(user_id = %user, role = %role))]
    async fn set_role(
        &self,
        user: UserId,
        role: Role,
        stamp: &AuditStamp,
    ) -> Result<AccountChange, StoreError> {
        let mut conn = self.db.conn().await.map_err(store)?;
        let id = user.as_uuid();
        let change: Change = conn
            .transaction::<_, DbError, _>(async |tx| {
                let Some(before) = lock_user(tx, id).await? else {
                    return Ok(AccountChange::NotFound);
                };
                if before.role == role.as_str() {
                    return Ok(AccountChange::Unchanged(user_of(before)?));
                }
                let row = diesel::update(users::table.find(id))
                    .set((
                        users::role.eq(role.as_str()),
                        users::role_from_sign_in.eq(false),
                        users::updated_at.eq(diesel::dsl::now),
                    ))
                    .returning(UserRow::as_returning())
                    .get_result(tx)
                    .await?;
                let mut after = json!({ "role": role.as_str() });
                if !role.is_admin() {
                    let revoked = revoke_sessions(tx, id, REASON_DEMOTED).await?;
                    after["sessions_revoked"] = json!(revoked);
                }
                insert_record(
                    tx,
                    &NewAuditRecord {
                        action: AuditAction::RoleChange,
                        target: id,
                        before: Some(json!({ "role": before.role })),
                        after: Some(after),
                        reason: None,
                    },
                    stamp,
                )
                .await?;
                Ok(AccountChange::Changed(user_of(row)?))
            })
            .await;
        change.map_err(StoreError::from)
    }

    async fn record(&self, record: &NewAuditRecord, stamp: &AuditStamp) -> Result<(), StoreError> {
        let mut conn = self.db.conn().await.map_err(store)?;
        insert_record(&mut conn, record, stamp).await.map_err(store)
    }

    async fn audit(
        &self,
        filter: AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditRecord>, StoreError> {
        let mut conn = self.db.conn().await.map_err(store)?;
        let limit = usize::from(page.limit.get());
        let mut query = admin_audit::table
            .inner_join(users::table)
            .select((AuditRow::as_select(), users::email))
            .order((admin_audit::created_at.desc(), admin_audit::id.desc()))
            .limit(i64::from(page.limit.get()) + 1)
            .into_boxed();
        if let Some(action) = filter.action {
            query = query.filter(admin_audit::action.eq(action.as_str()));
        }
        if let Some(actor) = filter.actor {
            query = query.filter(admin_audit::actor_id.eq(actor.as_uuid()));
        }
        if let Some(target) = filter.target {
            query = query.filter(admin_audit::target_id.eq(target));
        }
        if let Some(after) = page.after {
            query = query.filter(
                admin_audit::created_at
                    .lt(after.created_at)
                    .or(admin_audit::created_at
                        .eq(after.created_at)
                        .and(admin_audit::id.lt(after.id))),
            );
        }
        let mut rows: Vec<(AuditRow, String)> = query.load(&mut conn).await.map_err(store)?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let items = rows
            .into_iter()
            .map(|(row, email)| row.into_record(email))
            .collect::<Result<Vec<_>, _>>()?;
        let next_cursor = match items.last() {
            Some(last) if more => Some(
                Cursor {
                    created_at: last.created_at,
                    id: last.id,
                }
                .encode(),
            ),
            _ => None,
        };
        Ok(Page { items, next_cursor })
    }
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = admin_audit, check_for_backend(diesel::pg::Pg))]
struct AuditRow {
    id: Uuid,
    actor_id: Uuid,
    action: String,
    target_id: Uuid,
    before: Option<Value>,
    after: Option<Value>,
    reason: Option<String>,
    request_id: Option<String>,
    created_at: DateTime<Utc>,
}

impl AuditRow {
    fn into_record(self, actor_email: String) -> Result<AuditRecord, StoreError> {
        let action = self
            .action
            .parse::<AuditAction>()
            .map_err(StoreError::unexpected)?;
        Ok(AuditRecord {
            id: self.id,
            actor: UserId::from_uuid(self.actor_id),
            actor_email,
            action,
            target: self.target_id,
            before: self.before,
            after: self.after,
            reason: self.reason,
            request_id: self.request_id,
            created_at: self.created_at,
        })
    }
}
