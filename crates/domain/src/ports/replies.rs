//! How a chat's reply is kept under its `Idempotency-Key`, so that a retry is
//! answered with what the first request got.

use crate::BoxError;
use crate::services::ChatReply;

/// A reply as the store keeps it: made by [`ReplyFormat::seal`], handed back
/// to [`ReplyFormat::open`] as it was stored. The domain never looks inside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReply {
    version: u16,
    body: serde_json::Value,
}

impl StoredReply {
    /// `body` written in format `version` of the [`ReplyFormat`] that made it.
    #[must_use]
    pub const fn new(version: u16, body: serde_json::Value) -> Self {
        Self { version, body }
    }

    /// Which format `body` is in.
    #[must_use]
    pub const fn version(&self) -> u16 {
        self.version
    }

    #[must_use]
    pub const fn body(&self) -> &serde_json::Value {
        &self.body
    }
}

/// The format replies are kept in for replay. It belongs to the edge that
/// answers clients: what it stores is what it will send again.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait ReplyFormat: Send + Sync {
    /// The reply in the current format.
    fn seal(&self, reply: &ChatReply) -> Result<StoredReply, BoxError>;

    /// A stored reply read back. MUST read every version an earlier release
    /// sealed, so a reply stored before an upgrade still replays after it;
    /// an error for a version it does not know.
    fn open(&self, stored: &StoredReply) -> Result<ChatReply, BoxError>;
}
