//! The signed-in user's conversations. Someone else's is 404, like one that
//! does not exist.

pub mod delete;
pub mod get;
pub mod list;
