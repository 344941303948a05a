//! AskDocs domains: everyone signed in lists the active ones; admins manage them.

pub mod create;
pub mod delete;
pub mod list;
pub mod update;
