//! Registered apps (admins only): register, list, read, change, revoke, and
//! rotate the secret. Every change is in the admin audit log.

pub mod create;
pub mod get;
pub mod list;
pub mod revoke;
pub mod rotate;
pub mod update;

use askgate_domain::app::{AppName, AppOrigin, AppScope, AppUrlError, ReturnUrl, parse_urls};

use crate::dto::AppScopeView;
use crate::error::ApiError;

fn name(raw: &str) -> Result<AppName, ApiError> {
    AppName::parse(raw).map_err(|e| ApiError::invalid_field("name", e.to_string()))
}

fn origins(raw: &[String]) -> Result<Vec<AppOrigin>, ApiError> {
    parse_urls(raw, AppOrigin::parse).map_err(|e| invalid("allowed_origins", &e))
}

fn return_urls(raw: &[String]) -> Result<Vec<ReturnUrl>, ApiError> {
    parse_urls(raw, ReturnUrl::parse).map_err(|e| invalid("allowed_return_urls", &e))
}

fn scopes(raw: Vec<AppScopeView>) -> Vec<AppScope> {
    raw.into_iter().map(AppScope::from).collect()
}

fn invalid(field: &str, e: &AppUrlError) -> ApiError {
    ApiError::invalid_field(field, e.to_string())
}
