//! `UserRepository` on PostgreSQL.

use askgate_domain::ports::UserRepository;
use askgate_domain::user::{SignIn, User};
use askgate_domain::{Email, StoreError, UserId};
use async_trait::async_trait;
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::Database;
use crate::errors::{DbError, unique_violation};
use crate::models::{NewUserRow, UserRow};
use crate::schema::users;

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

#[async_trait]
impl UserRepository for PgUsers {
    #[tracing::instrument(skip_all, fields(external_id = sign_in.external_id.as_str()))]
    async fn upsert_sign_in(&self, sign_in: &SignIn) -> Result<User, StoreError> {
        let mut conn = self.db.conn().await.map_err(DbError::from)?;
        let row = NewUserRow {
            id: Uuid::now_v7(),
            azure_ad_id: sign_in.external_id.as_str(),
            email: sign_in.email.as_str(),
            display_name: sign_in.display_name.as_deref(),
            role: sign_in.role.as_str(),
            last_login: Some(sign_in.at),
        };
        // The balance is never part of the update: only the profile and last_login.
        let result = diesel::insert_into(users::table)
            .values(&row)
            .on_conflict(users::azure_ad_id)
            .do_update()
            .set((
                users::email.eq(excluded(users::email)),
                users::display_name.eq(excluded(users::display_name)),
                users::role.eq(excluded(users::role)),
                users::last_login.eq(excluded(users::last_login)),
                users::updated_at.eq(diesel::dsl::now),
            ))
            .returning(UserRow::as_returning())
            .get_result(&mut conn)
            .await;
        match result {
            Ok(row) => Ok(User::try_from(row).map_err(DbError::from)?),
            Err(e) if unique_violation(&e) == Some("users_email_key") => Err(StoreError::Conflict(
                "this e-mail address belongs to another account".to_owned(),
            )),
            Err(e) => Err(DbError::from(e).into()),
        }
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
