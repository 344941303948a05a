//! How database failures become the ports' errors: the store could not be
//! reached → `Unavailable`; anything else → `Unexpected`.

use askgate_domain::StoreError;
use askgate_domain::ports::{
    AdminCreditError, BalanceError, CreditError, HistoryError, PurchaseCreditError, RestoreError,
    ReversalError,
};
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::database::Unreachable;
use crate::models::CorruptRow;

/// A failure talking to the database, before it is given a port's error type.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DbError {
    #[error(transparent)]
    Unreachable(#[from] Unreachable),
    #[error(transparent)]
    Query(#[from] DieselError),
    #[error(transparent)]
    Corrupt(#[from] CorruptRow),
}

impl DbError {
    fn is_unavailable(&self) -> bool {
        match self {
            Self::Unreachable(_) => true,
            Self::Query(e) => is_unavailable(e),
            Self::Corrupt(_) => false,
        }
    }
}

/// The connection broke, or the statement ran out of time.
pub(crate) fn is_unavailable(error: &DieselError) -> bool {
    match error {
        DieselError::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _,
        ) => true,
        DieselError::DatabaseError(_, info) => {
            info.message().contains("statement timeout")
                || info.message().contains("terminating connection")
        }
        _ => false,
    }
}

/// The name of the unique constraint this error broke, if it is one.
pub(crate) fn unique_violation(error: &DieselError) -> Option<&str> {
    match error {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
            Some(info.constraint_name().unwrap_or(""))
        }
        _ => None,
    }
}

/// `From<DbError>` for errors that have `Unavailable` and `Unexpected`
/// variants, as every port error has.
macro_rules! from_db_error {
    ($($error:ty),+ $(,)?) => {$(
        impl From<DbError> for $error {
            fn from(error: DbError) -> Self {
                if error.is_unavailable() {
                    Self::Unavailable(Box::new(error))
                } else {
                    Self::Unexpected(Box::new(error))
                }
            }
        }
    )+};
}

from_db_error!(
    StoreError,
    CreditError,
    PurchaseCreditError,
    ReversalError,
    RestoreError,
    BalanceError,
    HistoryError,
    AdminCreditError,
);

/// A failure of this crate as the ports report it.
pub(crate) fn store(e: impl Into<DbError>) -> StoreError {
    e.into().into()
}
