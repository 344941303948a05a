//! Administration (admins only): users, their ledger, grants and adjustments,
//! disabling accounts, roles, the audit log, the overview of a period, and
//! exports of the whole ledger.

pub mod apps;
pub mod audit;
pub mod credit;
pub mod disable;
pub mod enable;
pub mod overview;
pub mod role;
pub mod transactions;
pub mod transactions_csv;
pub mod user;
pub mod users;

use actix_web::HttpResponse;
use askgate_domain::ports::AccountChange;
use askgate_domain::user::User;

use crate::dto::AdminUserView;
use crate::error::ApiError;
use crate::state::AppState;

/// The user as the admin pages show them.
fn view(state: &AppState, user: &User) -> AdminUserView {
    AdminUserView::new(user, state.services.admin.role_from_sign_in(user))
}

/// The answer to a change of an account (disable, enable, role): the user as
/// they are now, whether or not it changed anything.
fn changed(state: &AppState, change: AccountChange) -> Result<HttpResponse, ApiError> {
    match change {
        AccountChange::Changed(user) | AccountChange::Unchanged(user) => {
            Ok(HttpResponse::Ok().json(view(state, &user)))
        }
        AccountChange::NotFound => Err(ApiError::not_found("No such user.")),
    }
}
