//! Rows as diesel reads and writes them, and their conversion to domain types.
//!
//! A row that does not convert (a value the domain refuses) means the database
//! holds something the schema should have prevented: an unexpected error.

use std::str::FromStr;

use askgate_domain::domain::{
    AllowedRoles, ApiEndpoint, DisplayName, Domain, DomainConfiguration, DomainSlug,
};
use askgate_domain::ledger::{EntryKind, LedgerEntry, ServiceType};
use askgate_domain::user::{ExternalId, Role, User};
use askgate_domain::{DomainId, Email, Tokens, TransactionId, UserId};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::schema::{domains, transactions, users};

/// A stored value the domain does not accept.
#[derive(Debug, thiserror::Error)]
#[error("invalid value in {table}.{column}")]
pub(crate) struct CorruptRow {
    table: &'static str,
    column: &'static str,
}

pub(crate) fn corrupt<E>(
    table: &'static str,
    column: &'static str,
) -> impl FnOnce(E) -> CorruptRow {
    move |_| CorruptRow { table, column }
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub(crate) struct UserRow {
    pub id: Uuid,
    pub azure_ad_id: String,
    pub email: String,
    pub display_name: Option<String>,
    pub tokens: i32,
    pub role: String,
    pub created_at: DateTime<Utc>,
    pub last_login: Option<DateTime<Utc>>,
    pub disabled_at: Option<DateTime<Utc>>,
    pub role_from_sign_in: bool,
}

impl TryFrom<UserRow> for User {
    type Error = CorruptRow;

    fn try_from(row: UserRow) -> Result<Self, Self::Error> {
        Ok(Self {
            id: UserId::from_uuid(row.id),
            external_id: ExternalId::parse(&row.azure_ad_id)
                .map_err(corrupt("users", "azure_ad_id"))?,
            email: Email::parse(&row.email).map_err(corrupt("users", "email"))?,
            display_name: row.display_name,
            tokens: Tokens::new(row.tokens.into()).map_err(corrupt("users", "tokens"))?,
            role: Role::from_str(&row.role).map_err(corrupt("users", "role"))?,
            created_at: row.created_at,
            last_login: row.last_login,
            disabled_at: row.disabled_at,
            role_from_sign_in: row.role_from_sign_in,
        })
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub(crate) struct NewUserRow<'a> {
    pub id: Uuid,
    pub azure_ad_id: &'a str,
    pub email: &'a str,
    pub display_name: Option<&'a str>,
    pub role: &'a str,
    pub last_login: Option<DateTime<Utc>>,
    pub entra_roles: &'a [String],
    pub entra_groups: &'a [String],
}

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = transactions, check_for_backend(diesel::pg::Pg))]
pub(crate) struct TransactionRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub transaction_type: String,
    pub amount: i32,
    pub balance_after: i32,
    pub stripe_payment_intent_id: Option<String>,
    pub idempotency_key: Option<String>,
    pub service_type: Option<String>,
    pub domain_id: Option<Uuid>,
    pub metadata: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

impl TryFrom<TransactionRow> for LedgerEntry {
    type Error = CorruptRow;

    fn try_from(row: TransactionRow) -> Result<Self, Self::Error> {
        Ok(Self {
            id: TransactionId::from_uuid(row.id),
            user_id: UserId::from_uuid(row.user_id),
            kind: EntryKind::from_str(&row.transaction_type)
                .map_err(corrupt("transactions", "transaction_type"))?,
            amount: row.amount,
            balance_after: Tokens::new(row.balance_after.into())
                .map_err(corrupt("transactions", "balance_after"))?,
            stripe_payment_intent_id: row.stripe_payment_intent_id,
            idempotency_key: row.idempotency_key,
            service_type: row
                .service_type
                .as_deref()
                .map(ServiceType::from_str)
                .transpose()
                .map_err(corrupt("transactions", "service_type"))?,
            domain_id: row.domain_id.map(DomainId::from_uuid),
            metadata: row.metadata,
            created_at: row.created_at,
        })
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = transactions)]
pub(crate) struct NewTransactionRow<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub transaction_type: &'a str,
    pub amount: i32,
    pub balance_after: i32,
    pub stripe_payment_intent_id: Option<&'a str>,
    pub idempotency_key: Option<&'a str>,
    pub service_type: Option<&'a str>,
    pub domain_id: Option<Uuid>,
    pub refunds_transaction_id: Option<Uuid>,
    pub metadata: &'a serde_json::Value,
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = domains, check_for_backend(diesel::pg::Pg))]
pub(crate) struct DomainRow {
    pub id: Uuid,
    pub name: String,
    pub display_name: String,
    pub description: Option<String>,
    pub api_endpoint: Option<String>,
    pub configuration: serde_json::Value,
    pub is_active: bool,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub allowed_roles: Vec<String>,
}

impl TryFrom<DomainRow> for Domain {
    type Error = CorruptRow;

    fn try_from(row: DomainRow) -> Result<Self, Self::Error> {
        Ok(Self {
            id: DomainId::from_uuid(row.id),
            name: DomainSlug::parse(&row.name).map_err(corrupt("domains", "name"))?,
            display_name: DisplayName::parse(&row.display_name)
                .map_err(corrupt("domains", "display_name"))?,
            description: row.description,
            api_endpoint: row
                .api_endpoint
                .as_deref()
                .map(ApiEndpoint::parse)
                .transpose()
                .map_err(corrupt("domains", "api_endpoint"))?,
            configuration: DomainConfiguration::parse(row.configuration)
                .map_err(corrupt("domains", "configuration"))?,
            is_active: row.is_active,
            allowed_roles: AllowedRoles::parse(&row.allowed_roles)
                .map_err(corrupt("domains", "allowed_roles"))?,
            created_by: row.created_by.map(UserId::from_uuid),
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// The editable fields of a domain, for INSERT and UPDATE.
#[derive(Debug, Insertable, AsChangeset)]
#[diesel(table_name = domains, treat_none_as_null = true)]
pub(crate) struct DomainFields<'a> {
    pub name: &'a str,
    pub display_name: &'a str,
    pub description: Option<&'a str>,
    pub api_endpoint: Option<&'a str>,
    pub configuration: serde_json::Value,
    pub is_active: bool,
    pub allowed_roles: &'a [String],
}
