//! Ports: what the use cases need from the outside world.
//!
//! Each is a `Send + Sync` async trait held as `Arc<dyn Port>`; with the `mocks`
//! feature each also has a mockall `Mock*` type for tests. Each method's doc
//! says which outcome an adapter MUST return when.

mod admin;
mod api_keys;
mod apps;
mod charges;
mod clock;
mod conversations;
mod domains;
mod health;
mod identity;
mod ledger;
mod payments;
mod ratelimit;
mod replies;
mod reports;
mod sessions;
mod targets;
mod tokens;
mod upstream;
mod users;

pub use admin::*;
pub use api_keys::*;
pub use apps::*;
pub use charges::*;
pub use clock::*;
pub use conversations::*;
pub use domains::*;
pub use health::*;
pub use identity::*;
pub use ledger::*;
pub use payments::*;
pub use ratelimit::*;
pub use replies::*;
pub use reports::*;
pub use sessions::*;
pub use targets::*;
pub use tokens::*;
pub use upstream::*;
pub use users::*;
