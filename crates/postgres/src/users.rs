//! `UserRepository` on PostgreSQL.

use askgate_domain::ledger::EntryKind;
use askgate_domain::ports::UserRepository;
use askgate_domain::user::{Memberships, SignIn, User};
use askgate_domain::{Email, StoreError, UserId};
use async_trait::async_trait;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel::sql_types::Bool;
use diesel::upsert::excluded;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::json;
use uuid::Uuid;

use crate::Database;
use crate::errors::{DbError, unique_violation};
use crate::models::{NewTransactionRow, NewUserRow, UserRow};
use crate::schema::{transactions, trial_grants, users};

/// Users, found and created by their identity-provider id.
#[derive(Debug, Clone)]
pub struct PgUsers {
    db: Database,
}

impl PgUsers {
    #[must_use]
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

/// `users.azure_ad_id` of rows that sql/upgrade_2026_11_existing_users.sql
/// carried over from an older schema: `legacy:<id>`, never a real identity.
const LEGACY_PREFIX: &str = "legacy:";

fn email_taken() -> StoreError {
    StoreError::Conflict("this e-mail address belongs to another account".to_owned())
}

diesel::define_sql_function! {
    /// PostgreSQL's `lower(text)`.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// The first sign-in of a person whose row predates askgate links that row to
/// their identity: the row with their address still has a `legacy:` placeholder
/// id. Development sign-ins never claim a row. `Ok(None)` when there is no such
/// row; a conflict when the identity already has another row.
async fn claim_legacy_row(
    conn: &mut AsyncPgConnection,
    sign_in: &SignIn,
) -> Result<Option<UserRow>, StoreError> {
    if sign_in.external_id.as_str().starts_with("dev:") {
        return Ok(None);
    }
    let claimed = diesel::update(
        users::table
            // Rows written before addresses were normalised may differ in case.
            .filter(lower(users::email).eq(sign_in.email.as_str()))
            .filter(users::azure_ad_id.like(format!("{LEGACY_PREFIX}%"))),
    )
    .set((
        users::azure_ad_id.eq(sign_in.external_id.as_str()),
        users::email.eq(sign_in.email.as_str()),
        users::display_name.eq(sign_in.display_name.as_deref()),
        users::role.eq(sign_in.role.as_str()),
        users::last_login.eq(Some(sign_in.at)),
        users::entra_roles.eq(sign_in.memberships.roles()),
        users::entra_groups.eq(sign_in.memberships.groups()),
        users::updated_at.eq(diesel::dsl::now),
    ))
    .returning(UserRow::as_returning())
    .get_result(conn)
    .await
    .optional();
    match claimed {
        Ok(Some(row)) => {
            tracing::info!(user_id = %row.id, "linked a legacy user to its identity");
            Ok(Some(row))
        }
        Ok(None) => Ok(None),
        Err(e) if unique_violation(&e).is_some() => Err(email_taken()),
        Err(e) => Err(DbError::from(e).into()),
    }
}

/// Credits the trial of a user created in this transaction, unless its
/// identity or address had one before (then nothing changes); returns the row
/// with its balance after.
async fn grant_trial(
    tx: &mut AsyncPgConnection,
    created: UserRow,
    sign_in: &SignIn,
) -> Result<UserRow, DieselError> {
    let trial = sign_in.trial.get();
    let granted = tx
        .transaction::<_, DieselError, _>(async |sp| {
            let row = diesel::update(users::table.find(created.id))
                .set(users::tokens.eq(users::tokens + trial))
                .returning(UserRow::as_returning())
                .get_result(sp)
                .await?;
            let transaction = Uuid::now_v7();
            diesel::insert_into(transactions::table)
                .values(&NewTransactionRow {
                    id: transaction,
                    user_id: created.id,
                    transaction_type: EntryKind::Grant.as_str(),
                    amount: trial,
                    balance_after: row.tokens,
                    stripe_payment_intent_id: None,
                    idempotency_key: Some(&format!("trial:{}", created.id)),
                    service_type: None,
                    domain_id: None,
                    refunds_transaction_id: None,
                    metadata: &json!({ "reason": "trial" }),
                })
                .execute(sp)
                .await?;
            // A sign-in racing this one for the same identity or address waits
            // here for this transaction and then writes nothing.
            let first = diesel::insert_into(trial_grants::table)
                .values((
                    trial_grants::azure_ad_id.eq(sign_in.external_id.as_str()),
                    trial_grants::email.eq(sign_in.email.as_str()),
                    trial_grants::user_id.eq(created.id),
                    trial_grants::transaction_id.eq(transaction),
                ))
                .on_conflict_do_nothing()
                .execute(sp)
                .await?;
            if first == 1 {
                Ok(row)
            } else {
                Err(DieselError::RollbackTransaction)
            }
        })
        .await;
    match granted {
        Ok(row) => Ok(row),
        Err(DieselError::RollbackTransaction) => Ok(created),
        Err(e) => Err(e),
    }
}

#[async_trait]
impl UserRepository for PgUsers {
    #[tracing::instrument(skip_all, fields(external_id = sign_in.external_id.as_str()))]
    async fn upsert_sign_in(&self, sign_in: &SignIn) -> Result<User, StoreError> {
        let mut conn = self.db.conn().await.map_err(DbError::from)?;
        // A first sign-in links a legacy row whose address differs only in case
        // (the unique key on email would not see the two as the same).
        let known = diesel::select(diesel::dsl::exists(
            users::table.filter(users::azure_ad_id.eq(sign_in.external_id.as_str())),
        ))
        .get_result::<bool>(&mut conn)
        .await
        .map_err(DbError::from)?;
        if !known && let Some(row) = claim_legacy_row(&mut conn, sign_in).await? {
            return Ok(User::try_from(row).map_err(DbError::from)?);
        }
        let row = NewUserRow {
            id: Uuid::now_v7(),
            azure_ad_id: sign_in.external_id.as_str(),
            email: sign_in.email.as_str(),
            display_name: sign_in.display_name.as_deref(),
            role: sign_in.role.as_str(),
            last_login: Some(sign_in.at),
            entra_roles: sign_in.memberships.roles(),
            entra_groups: sign_in.memberships.groups(),
        };
        // The balance is never part of the update: only the profile and
        // last_login. A new row gets its trial in the same transaction.
        // A first sign-in racing another one of the same person can trip over
        // the other's not yet committed row on the email key (only the
        // identity key is the upsert's arbiter): tried again, it finds that
        // row and updates it.
        let mut attempts = 0;
        let row = loop {
            attempts += 1;
            let result = conn
                .transaction::<_, DieselError, _>(async |tx| {
                    let (row, created) = diesel::insert_into(users::table)
                        .values(&row)
                        .on_conflict(users::azure_ad_id)
                        .do_update()
                        .set((
                            users::email.eq(excluded(users::email)),
                            users::display_name.eq(excluded(users::display_name)),
                            // The sign-in makes an admin; it takes back only a role
                            // it gave. A role an admin set (`role_from_sign_in`
                            // false) stays.
                            users::role.eq(sql::<diesel::sql_types::Text>(
                                "CASE WHEN excluded.role = 'admin' OR users.role_from_sign_in \
                             THEN excluded.role ELSE users.role END",
                            )),
                            users::role_from_sign_in.eq(sql::<Bool>(
                                "excluded.role = 'admin' OR users.role_from_sign_in",
                            )),
                            users::last_login.eq(excluded(users::last_login)),
                            users::entra_roles.eq(excluded(users::entra_roles)),
                            users::entra_groups.eq(excluded(users::entra_groups)),
                            users::updated_at.eq(diesel::dsl::now),
                        ))
                        // `xmax` is 0 on a row this statement inserted, not updated.
                        .returning((UserRow::as_returning(), sql::<Bool>("xmax = 0")))
                        .get_result::<(UserRow, bool)>(tx)
                        .await?;
                    if created && !sign_in.trial.is_zero() {
                        grant_trial(tx, row, sign_in).await
                    } else {
                        Ok(row)
                    }
                })
                .await;
            match result {
                Ok(row) => break row,
                Err(e) if unique_violation(&e) == Some("users_email_key") => {
                    if let Some(row) = claim_legacy_row(&mut conn, sign_in).await? {
                        break row;
                    }
                    if attempts >= 2 {
                        return Err(email_taken());
                    }
                }
                Err(e) => return Err(DbError::from(e).into()),
            }
        };
        Ok(User::try_from(row).map_err(DbError::from)?)
    }

    async fn find(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let mut conn = self.db.conn().await.map_err(DbError::from)?;
        let row = users::table
            .find(id.as_uuid())
            .select(UserRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map_err(DbError::from)?;
        Ok(row.map(User::try_from).transpose().map_err(DbError::from)?)
    }

    async fn memberships(&self, id: UserId) -> Result<Memberships, StoreError> {
        let mut conn = self.db.conn().await.map_err(DbError::from)?;
        let row = users::table
            .find(id.as_uuid())
            .select((users::entra_roles, users::entra_groups))
            .first::<(Vec<String>, Vec<String>)>(&mut conn)
            .await
            .optional()
            .map_err(DbError::from)?;
        Ok(row.map_or_else(Memberships::none, |(roles, groups)| {
            Memberships::new(roles, groups)
        }))
    }

    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        let mut conn = self.db.conn().await.map_err(DbError::from)?;
        let row = users::table
            .filter(users::email.eq(email.as_str()))
            .select(UserRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map_err(DbError::from)?;
        Ok(row.map(User::try_from).transpose().map_err(DbError::from)?)
    }
}
