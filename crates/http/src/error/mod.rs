//! The one place where errors become HTTP responses.
//!
//! Every error leaves as an RFC 9457 `application/problem+json` body with a
//! stable snake_case `code`: [`problem`] renders it, [`mapping`] turns each
//! domain and port error into one, and [`extractors`] does the same for
//! request parsing that fails before a handler runs.

mod extractors;
mod mapping;
mod problem;

pub(crate) use extractors::{json_error, path_error, query_error};
pub use problem::{ApiError, GRANT_COMMAND, PROBLEM_JSON, PURCHASE_URL, ProblemCode};
